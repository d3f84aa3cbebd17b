package sfu

import (
	"sync"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/codec"
	"webinaire/sfu/signal"
)

// recordingSink keeps what a sink receives, per track.
type recordingSink struct {
	mu     sync.Mutex
	tracks map[string]*sinkTrack
}

type sinkTrack struct {
	sink      *recordingSink
	owner     string
	info      TrackInfo
	codec     string
	packets   int
	firstKey  bool
	lastSeq   uint16
	seqBreaks int
	closed    bool
}

func (s *recordingSink) AddTrack(owner string, info TrackInfo, codec webrtc.RTPCodecParameters) SinkTrack {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &sinkTrack{sink: s, owner: owner, info: info, codec: codec.MimeType}
	s.tracks[info.ID] = t
	return t
}

func (t *sinkTrack) WriteRTP(h *rtp.Header, payload []byte) error {
	t.sink.mu.Lock()
	defer t.sink.mu.Unlock()
	if t.packets == 0 {
		t.firstKey = t.info.Kind == "audio" || codec.IsVP8Keyframe(payload)
	} else if h.SequenceNumber != t.lastSeq+1 {
		t.seqBreaks++
	}
	t.lastSeq = h.SequenceNumber
	t.packets++
	return nil
}

func (t *sinkTrack) Close() {
	t.sink.mu.Lock()
	defer t.sink.mu.Unlock()
	t.closed = true
}

func (s *recordingSink) snapshot() map[string]sinkTrack {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]sinkTrack{}
	for id, t := range s.tracks {
		out[id] = *t
	}
	return out
}

func TestSinkReceivesEveryTrackOnTheBestLayer(t *testing.T) {
	srv := newTestServer(t)
	cam := join(t, srv, srv.token(t, "rec", "cam", RolePresenter, KindMeeting))
	cam.publish(false, 10)
	watcher := join(t, srv, srv.token(t, "rec", "watcher", RoleAttendee, KindMeeting))
	watcher.receiveOnly()
	watcher.waitMedia("cam", 2, 5)

	room, ok := srv.Room("rec")
	require.True(t, ok)
	sink := &recordingSink{tracks: map[string]*sinkTrack{}}
	h, err := room.AddSink(sink)
	require.NoError(t, err)

	// A track published after the sink is attached, sent as simulcast.
	sim := join(t, srv, srv.token(t, "rec", "sim", RolePresenter, KindMeeting))
	sim.publishSimulcast()

	enough := func() bool {
		got := sink.snapshot()
		if len(got) != 3 {
			return false
		}
		for _, tr := range got {
			if tr.packets < 30 {
				return false
			}
		}
		return true
	}
	require.Eventually(t, enough, waitFor, 10e6, "the sink receives the three tracks")
	for _, tr := range sink.snapshot() {
		require.True(t, tr.firstKey, "%s starts with a keyframe", tr.info.ID)
		require.Zero(t, tr.seqBreaks, "%s has no gap", tr.info.ID)
	}
	up := simTrack(t, room, "sim")
	require.Eventually(t, func() bool {
		h.mu.Lock()
		d := h.downs[up]
		h.mu.Unlock()
		l := d.current.Load()
		return l != nil && l.rid == "f"
	}, waitFor, 10e6, "the sink records the best layer")
	require.Len(t, room.Participants(), 3, "the sink is no participant")

	h.Close()
	for id, tr := range sink.snapshot() {
		require.True(t, tr.closed, "%s closed", id)
	}
}

// simTrack is the simulcast track of participant id.
func simTrack(t *testing.T, r *Room, id string) *upTrack {
	r.mu.Lock()
	p := r.participants[id]
	r.mu.Unlock()
	require.NotNil(t, p)
	p.pub.mu.Lock()
	defer p.pub.mu.Unlock()
	for _, up := range p.pub.ups {
		if len(up.layerList()) > 1 {
			return up
		}
	}
	return nil
}

func TestRecordingStateReachesEveryoneBeforeAndAfterJoining(t *testing.T) {
	srv := newTestServer(t)
	a := join(t, srv, srv.token(t, "recstate", "a", RoleModerator, KindMeeting))
	waiting := connect(t, srv, srv.lobbyToken(t, "recstate", "w"))
	waiting.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeLobbyWait })
	room, _ := srv.Room("recstate")
	require.NoError(t, room.SetRecording(true))
	a.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeRecording && m.Active })
	waiting.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeRecording && m.Active })
	b := join(t, srv, srv.token(t, "recstate", "b", RoleAttendee, KindMeeting))
	require.True(t, b.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined }).Recording, "a newcomer is told")
	late := connect(t, srv, srv.lobbyToken(t, "recstate", "late"))
	require.True(t, late.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeLobbyWait }).Recording, "so is someone waiting in the lobby")
	require.NoError(t, room.SetRecording(false))
	b.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeRecording && !m.Active })
	require.False(t, room.Recording())
}

func TestModeratorsAreToldWhyARecordingStopped(t *testing.T) {
	srv := newTestServer(t)
	mod := join(t, srv, srv.token(t, "fail", "mod", RoleModerator, KindMeeting))
	guest := join(t, srv, srv.token(t, "fail", "guest", RoleAttendee, KindMeeting))
	room, _ := srv.Room("fail")
	require.NoError(t, room.SetRecording(true))
	require.NoError(t, room.RecordingFailed("no space left on device"))
	got := mod.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeRecording && !m.Active })
	require.Equal(t, "no space left on device", got.Error)
	other := guest.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeRecording && !m.Active })
	require.Empty(t, other.Error, "the reason is for moderators")
}

func TestBroadcastStateReachesEveryoneAndTroubleTheModerators(t *testing.T) {
	srv := newTestServer(t)
	mod := join(t, srv, srv.token(t, "cast", "mod", RoleModerator, KindMeeting))
	waiting := connect(t, srv, srv.lobbyToken(t, "cast", "w"))
	waiting.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeLobbyWait })
	room, _ := srv.Room("cast")
	require.NoError(t, room.SetBroadcasting(true))
	mod.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeBroadcast && m.Active })
	waiting.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeBroadcast && m.Active })
	guest := join(t, srv, srv.token(t, "cast", "guest", RoleAttendee, KindMeeting))
	require.True(t, guest.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined }).Broadcasting, "a newcomer is told")
	late := connect(t, srv, srv.lobbyToken(t, "cast", "late"))
	require.True(t, late.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeLobbyWait }).Broadcasting, "so is someone waiting in the lobby")

	require.NoError(t, room.BroadcastTrouble("refused", "the broadcast server refused the connection"))
	got := mod.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeBroadcast && m.Error != "" })
	require.True(t, got.Active, "it goes on trying")
	require.Equal(t, "refused", got.Reason)
	require.NoError(t, room.SetBroadcasting(false))
	last := guest.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeBroadcast })
	require.False(t, last.Active)
	require.Empty(t, last.Error, "the trouble is for moderators")
	require.False(t, room.Broadcasting())
}
