package sfu

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// httpPeer is a WHIP or WHEP client as an encoder or a player is one: it makes its whole
// offer (ICE candidates included), gets the whole answer, and never renegotiates.
type httpPeer struct {
	pc       *webrtc.PeerConnection
	session  *HTTPSession
	received map[webrtc.RTPCodecType]*atomic.Int64
	left     chan error // why the session ended, once it has
}

// hooks record in h.left why the session ended.
func (h *httpPeer) hooks() SessionHooks {
	h.left = make(chan error, 1)
	return SessionHooks{Left: func(_ Claims, err error) { h.left <- err }}
}

// waitEnded waits for the session to end and returns why it did.
func (h *httpPeer) waitEnded(t testing.TB) error {
	t.Helper()
	select {
	case <-h.session.Done():
	case <-time.After(waitFor):
		t.Fatal("the session did not end")
	}
	return <-h.left
}

// offerAll makes pc's offer with every candidate gathered.
func offerAll(t testing.TB, pc *webrtc.PeerConnection) string {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered
	return pc.LocalDescription().SDP
}

func (h *httpPeer) accept(t testing.TB, session *HTTPSession) {
	t.Helper()
	h.session = session
	require.NoError(t, h.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: session.Answer()}))
}

func claimsFor(srv *testServer, room, participant string, role Role) Claims {
	now := srv.clock.Now()
	return Claims{Room: room, Participant: participant, Name: "Name of " + participant, Role: role, Kind: KindWebinar, IssuedAt: now, Expiry: now.Add(time.Hour)}
}

// whipPublish starts a WHIP session publishing VP8 and Opus until the test ends.
func whipPublish(t testing.TB, srv *testServer, room, participant string) *httpPeer {
	t.Helper()
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "obs-video", "obs")
	require.NoError(t, err)
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "obs-audio", "obs")
	require.NoError(t, err)
	for _, tr := range []webrtc.TrackLocal{video, audio} {
		_, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		require.NoError(t, err)
	}
	h := &httpPeer{pc: pc}
	session, err := srv.StartWHIP(context.Background(), claimsFor(srv, room, participant, RolePresenter), offerAll(t, pc), h.hooks())
	require.NoError(t, err)
	h.accept(t, session)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // owned by the test; ends at its cleanup
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for frame := 0; ; frame++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			_ = video.WriteSample(media.Sample{Data: vp8Frame(frame%25 == 0), Duration: 20 * time.Millisecond})
			_ = audio.WriteSample(media.Sample{Data: []byte{0xf8, 0xff, 0xfe}, Duration: 20 * time.Millisecond})
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		_ = pc.Close()
	})
	return h
}

// whepView starts a WHEP session that counts the packets it receives per kind.
func whepView(t *testing.T, srv *testServer, room, participant string) (*httpPeer, error) {
	t.Helper()
	return whepViewOffering(t, srv, room, participant, func(sdp string) string { return sdp })
}

// whepViewOffering is whepView with the offer edited by edit before it is sent.
func whepViewOffering(t *testing.T, srv *testServer, room, participant string, edit func(string) string) (*httpPeer, error) {
	t.Helper()
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		_, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
		require.NoError(t, err)
	}
	h := &httpPeer{pc: pc, received: map[webrtc.RTPCodecType]*atomic.Int64{
		webrtc.RTPCodecTypeVideo: {}, webrtc.RTPCodecTypeAudio: {},
	}}
	pc.OnTrack(func(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		n := h.received[remote.Kind()]
		buf := make([]byte, 1500)
		for {
			if _, _, err := remote.Read(buf); err != nil {
				return
			}
			n.Add(1)
		}
	})
	session, err := srv.StartWHEP(context.Background(), claimsFor(srv, room, participant, RoleAttendee), edit(offerAll(t, pc)), h.hooks())
	if err != nil {
		return nil, err
	}
	h.accept(t, session)
	t.Cleanup(session.Close)
	return h, nil
}

// whepViewPublished starts a WHEP session as whepView, once video is published in the
// room.
func whepViewPublished(t *testing.T, srv *testServer, room, participant string) *httpPeer {
	t.Helper()
	var viewer *httpPeer
	eventually(t, func() bool {
		var err error
		viewer, err = whepView(t, srv, room, participant)
		return err == nil
	}, "a viewer of room "+room)
	return viewer
}

// eventually polls cond; media over the network gives nothing to wait on.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	require.Eventually(t, cond, waitFor, 10*time.Millisecond, what)
}

func TestWHIPPublishWatchedThroughWHEPAndTheRoom(t *testing.T) {
	srv := newTestServer(t)
	_, err := whepView(t, srv, "live", "early-viewer")
	require.ErrorIs(t, err, ErrNothingToView, "nobody publishes yet")

	// Someone sharing a screen in the room: the WHIP stream is still what viewers get.
	presenter := join(t, srv, srv.token(t, "live", "presenter", RolePresenter, KindWebinar))
	presenter.publish(true, 10)
	obs := whipPublish(t, srv, "live", "obs")

	attendee := join(t, srv, srv.token(t, "live", "attendee", RoleAttendee, KindWebinar))
	attendee.receiveOnly()
	attendee.waitMedia("obs", 2, 20)

	viewer, err := whepView(t, srv, "live", "viewer")
	require.NoError(t, err)
	eventually(t, func() bool {
		return viewer.received[webrtc.RTPCodecTypeVideo].Load() > 20 && viewer.received[webrtc.RTPCodecTypeAudio].Load() > 20
	}, "the WHEP viewer receives the WHIP stream's video and audio")

	room, ok := srv.Room("live")
	require.True(t, ok)
	var names []string
	for _, p := range room.Participants() {
		names = append(names, p.ID)
	}
	require.ElementsMatch(t, []string{"presenter", "obs", "attendee", "viewer"}, names)

	// The WHIP DELETE: the stream's tracks go from the room.
	obs.session.Close()
	attendee.waitUntil(func() bool {
		for _, m := range attendee.msgs {
			if m.Type == signal.TypeParticipantLeft && m.ParticipantID == "obs" {
				return true
			}
		}
		return false
	}, "obs leaving")
	require.NotContains(t, ids(room.Participants()), "obs")
}

func TestWHEPWithoutWHIPGetsTheScreenShare(t *testing.T) {
	srv := newTestServer(t)
	camera := join(t, srv, srv.token(t, "talk", "camera", RolePresenter, KindWebinar))
	camera.publish(false, 10)
	screen := join(t, srv, srv.token(t, "talk", "screen", RolePresenter, KindWebinar))
	screen.publish(true, 10)
	watcher := join(t, srv, srv.token(t, "talk", "watcher", RoleAttendee, KindWebinar))
	watcher.receiveOnly()
	watcher.waitMedia("camera", 2, 5)
	watcher.waitMedia("screen", 2, 5)

	viewer, err := whepView(t, srv, "talk", "viewer")
	require.NoError(t, err)
	eventually(t, func() bool { return viewer.received[webrtc.RTPCodecTypeVideo].Load() > 20 }, "video")
	room, _ := srv.Room("talk")
	var got []string
	for _, d := range viewerDowns(room, "viewer") {
		got = append(got, d.up.owner+"/"+string(d.up.label))
	}
	require.ElementsMatch(t, []string{"screen/screen", "screen/screen"}, got, "the screen share and its audio")
}

func TestWHIPRefusesWhatItCannotAnswer(t *testing.T) {
	srv := newTestServer(t)
	_, err := srv.StartWHIP(context.Background(), claimsFor(srv, "r", "obs", RolePresenter), "v=0 not an offer", SessionHooks{})
	require.ErrorIs(t, err, ErrOfferRefused)
	_, err = srv.StartWHIP(context.Background(), Claims{Room: "r"}, "v=0", SessionHooks{})
	require.Error(t, err, "claims without a participant")
	_, ok := srv.Room("r")
	if ok {
		room, _ := srv.Room("r")
		require.Empty(t, room.Participants(), "a refused session leaves nobody behind")
	}
}

func ids(ps []ParticipantInfo) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

// viewerDowns are the tracks a participant receives.
func viewerDowns(r *Room, id string) []*downTrack {
	r.mu.Lock()
	p := r.participants[id]
	r.mu.Unlock()
	p.sub.mu.Lock()
	defer p.sub.mu.Unlock()
	var out []*downTrack
	for _, d := range p.sub.downs {
		out = append(out, d)
	}
	return out
}

func TestHTTPSessionsDoNotWaitInTheLobby(t *testing.T) {
	srv := newTestServer(t)
	c := claimsFor(srv, "lobby", "viewer", RoleAttendee)
	c.Lobby = true
	_, err := srv.StartWHEP(context.Background(), c, "v=0", SessionHooks{})
	require.ErrorIs(t, err, ErrLobby)
}

// A moderator removes a WHEP viewer as any participant: its session ends, the others
// are told it left, and it cannot come back.
func TestModeratorRemovesAWHEPViewer(t *testing.T) {
	srv := newTestServer(t)
	presenter := join(t, srv, srv.token(t, "talk", "presenter", RolePresenter, KindWebinar))
	presenter.publish(false, 10)
	mod := join(t, srv, srv.token(t, "talk", "mod", RoleModerator, KindWebinar))
	mod.receiveOnly()
	mod.waitMedia("presenter", 2, 5)

	viewer, err := whepView(t, srv, "talk", "viewer")
	require.NoError(t, err)
	mod.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeParticipantJoined && m.Participant.ID == "viewer"
	})
	mod.send(map[string]string{"type": signal.TypeRemove, "participant_id": "viewer"})
	require.ErrorIs(t, viewer.waitEnded(t), ErrRemoved)
	mod.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeParticipantLeft && m.ParticipantID == "viewer"
	})
	room, ok := srv.Room("talk")
	require.True(t, ok)
	require.NotContains(t, ids(room.Participants()), "viewer")

	_, err = whepView(t, srv, "talk", "viewer")
	require.ErrorIs(t, err, ErrTokenRevoked, "a removed viewer does not come back")
}

// WHIP and WHEP sessions end with their room.
func TestHTTPSessionsEndWithTheirRoom(t *testing.T) {
	srv := newTestServer(t)
	obs := whipPublish(t, srv, "live", "obs")
	viewer := whepViewPublished(t, srv, "live", "viewer")

	room, ok := srv.Room("live")
	require.True(t, ok)
	require.ElementsMatch(t, []string{"obs", "viewer"}, ids(room.Participants()))
	require.NoError(t, room.Close())
	require.ErrorIs(t, obs.waitEnded(t), ErrRoomClosed)
	require.ErrorIs(t, viewer.waitEnded(t), ErrRoomClosed)
}

// WHEP viewers take seats of the room as participants do.
func TestWHEPViewersCountAgainstTheRoomsCap(t *testing.T) {
	srv := newTestServer(t, func(p *Params) { p.MaxWebinarParticipants = 2 })
	presenter := join(t, srv, srv.token(t, "full", "presenter", RolePresenter, KindWebinar))
	presenter.publish(false, 10)
	first := whepViewPublished(t, srv, "full", "first")

	_, err := whepView(t, srv, "full", "second")
	require.ErrorIs(t, err, ErrOfferRefused)
	require.ErrorIs(t, err, ErrRoomFull)

	first.session.Close()
	require.NoError(t, first.waitEnded(t))
	_, err = whepView(t, srv, "full", "second")
	require.NoError(t, err, "the seat the first viewer left")
}

// An offer of a=setup:passive (FFmpeg's WHIP muxer sends one) is answered active: the
// client is the DTLS server it asked to be, and the viewer receives, the server sending
// through Pion since it does not know the keys.
func TestWHEPOfferOfPassiveSetup(t *testing.T) {
	srv := newTestServer(t)
	whipPublish(t, srv, "live", "encoder")
	var viewer *httpPeer
	eventually(t, func() bool {
		var err error
		viewer, err = whepViewOffering(t, srv, "live", "viewer", func(sdp string) string {
			return strings.ReplaceAll(sdp, "a=setup:actpass", "a=setup:passive")
		})
		return err == nil
	}, "a viewer of the encoder")
	require.Contains(t, viewer.session.Answer(), "a=setup:active")
	require.NotContains(t, viewer.session.Answer(), "a=setup:passive")
	eventually(t, func() bool {
		return viewer.received[webrtc.RTPCodecTypeVideo].Load() > 10 && viewer.received[webrtc.RTPCodecTypeAudio].Load() > 10
	}, "the viewer receives video and audio")
	require.EqualValues(t, 1, srv.SendStats().PionConnections, "the server is the DTLS client: through Pion")
}
