package recording

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu"
	"webinaire/sfu/client"
)

// startSFU starts a media server on loopback.
func startSFU(t testing.TB) *sfu.Server {
	t.Helper()
	tokens, err := sfu.NewTokenSigner(bytes.Repeat([]byte("k"), 32))
	require.NoError(t, err)
	srv, err := sfu.New(sfu.Params{Tokens: tokens, Logger: slogDiscard(), WebRTC: sfu.WebRTCConfig{IncludeLoopback: true}})
	require.NoError(t, err)
	require.NoError(t, srv.Start(t.Context()))
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return srv
}

// publishWHIP publishes tracks in room as a WHIP encoder does, from a Pion PeerConnection
// on loopback, and waits until it is connected.
func publishWHIP(t testing.TB, srv *sfu.Server, room string, tracks ...webrtc.TrackLocal) *sfu.HTTPSession {
	t.Helper()
	api, err := client.NewAPI(client.APIParams{LoopbackOnly: true})
	require.NoError(t, err)
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	for _, track := range tracks {
		_, err = pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		require.NoError(t, err)
	}
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered
	now := time.Now()
	claims := sfu.Claims{Room: room, Participant: "whip", Name: "WHIP", Role: sfu.RolePresenter, Kind: sfu.KindMeeting, IssuedAt: now, Expiry: now.Add(time.Hour)}
	session, err := srv.StartWHIP(t.Context(), claims, pc.LocalDescription().SDP, sfu.SessionHooks{})
	require.NoError(t, err)
	t.Cleanup(session.Close)
	require.NoError(t, pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: session.Answer()}))
	select {
	case <-connected:
	case <-time.After(20 * time.Second):
		t.Fatal("the publisher did not connect")
	}
	return session
}

// watchedSink hands the tracks to a Recorder and tells the test what reached it.
type watchedSink struct {
	rec     *Recorder
	mu      sync.Mutex
	changed chan struct{}
	tracks  []*watchedTrack
}

type watchedTrack struct {
	sfu.SinkTrack
	sink    *watchedSink
	payload []byte // the last packet's
	packets int
	closed  bool
}

func newWatchedSink(rec *Recorder) *watchedSink {
	return &watchedSink{rec: rec, changed: make(chan struct{})}
}

func (s *watchedSink) AddTrack(participantID string, info sfu.TrackInfo, codec webrtc.RTPCodecParameters) sfu.SinkTrack {
	st := s.rec.AddTrack(participantID, info, codec)
	if st == nil {
		return nil
	}
	w := &watchedTrack{SinkTrack: st, sink: s}
	s.update(func() { s.tracks = append(s.tracks, w) })
	return w
}

func (w *watchedTrack) WriteRTP(h *rtp.Header, payload []byte) error {
	err := w.SinkTrack.WriteRTP(h, payload)
	w.sink.update(func() { w.packets++; w.payload = bytes.Clone(payload) })
	return err
}

func (w *watchedTrack) Close() {
	w.SinkTrack.Close()
	w.sink.update(func() { w.closed = true })
}

func (s *watchedSink) update(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait waits until ok holds of the tracks, or fails the test.
func (s *watchedSink) wait(t *testing.T, what string, ok func([]*watchedTrack) bool) {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		done, changed := ok(s.tracks), s.changed
		s.mu.Unlock()
		if done {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("waiting for %s", what)
		}
	}
}

// vp8Keyframe is a VP8 key frame in one RTP payload: the payload descriptor (start of
// partition 0), the frame tag, the start code and a 16x16 size. The SFU takes it for a
// key frame; it is not a picture a decoder draws.
var vp8Keyframe = []byte{0x10, 0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x10, 0x00, 0x10, 0x00, 0xde, 0xad}

// A publisher (here a WHIP encoder) of a recorded room sends a VP8 packet that is a payload descriptor and
// nothing else, the last of its track, then leaves: the recorder assembles an empty
// frame from it when the track ends. The empty frame is not written, the frames before
// it are, and the recording goes on.
func TestAnEmptyVP8FrameIsNotRecorded(t *testing.T) {
	srv := startSFU(t)
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "camera", "user")
	require.NoError(t, err)
	pub := publishWHIP(t, srv, "rec", track)
	room, ok := srv.Room("rec")
	require.True(t, ok)
	var mu sync.Mutex
	var failures []error
	rec, err := New(Params{Dir: filepath.Join(t.TempDir(), "rec"), Logger: slogDiscard(), OnError: func(err error) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, err)
	}})
	require.NoError(t, err)
	sink := newWatchedSink(rec)
	h, err := room.AddSink(sink)
	require.NoError(t, err)

	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: 100, Timestamp: 90000}}
	send := func(payload []byte) {
		pkt.Payload = payload
		require.NoError(t, track.WriteRTP(pkt))
		pkt.SequenceNumber++
		pkt.Timestamp += 3000
	}
	// Key frames until the recorder has one (the first ones may come before the server
	// can read them), then the empty frame.
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() { // owned by the test; ends when stop is closed
		defer close(stopped)
		pace := time.NewTicker(20 * time.Millisecond)
		defer pace.Stop()
		for {
			send(vp8Keyframe)
			select {
			case <-stop:
				return
			case <-pace.C:
			}
		}
	}()
	sink.wait(t, "a key frame", func(ts []*watchedTrack) bool { return len(ts) == 1 && ts[0].packets > 0 })
	close(stop)
	<-stopped
	send([]byte{0x10})
	sink.wait(t, "the empty frame", func(ts []*watchedTrack) bool { return bytes.Equal(ts[0].payload, []byte{0x10}) })
	sink.mu.Lock()
	keyframes := sink.tracks[0].packets - 1
	sink.mu.Unlock()

	pub.Close()
	sink.wait(t, "the end of the track", func(ts []*watchedTrack) bool { return ts[0].closed })

	// The room and its recording go on.
	_, ok = srv.Room("rec")
	require.True(t, ok)
	h.Close()
	rec.Close()
	mu.Lock()
	require.Empty(t, failures)
	mu.Unlock()

	m := rec.Manifest()
	require.Len(t, m.Tracks, 1)
	f, err := os.Open(filepath.Join(rec.p.Dir, m.Tracks[0].File))
	require.NoError(t, err)
	defer f.Close()
	blocks := webmBlocks(t, f)
	require.Len(t, blocks, keyframes, "every key frame is in the file, and nothing else")
	for _, b := range blocks {
		require.Len(t, b.Data, 1)
		require.Len(t, b.Data[0], len(vp8Keyframe)-1, "a frame is the payload without its descriptor")
	}
}

// webmBlocks reads the blocks of a WebM file the recorder wrote.
func webmBlocks(t testing.TB, r io.Reader) []ebml.Block {
	t.Helper()
	var file struct {
		Segment struct {
			Cluster []struct {
				SimpleBlock []ebml.Block `ebml:"SimpleBlock"`
			} `ebml:"Cluster"`
		} `ebml:"Segment"`
	}
	require.NoError(t, ebml.Unmarshal(r, &file))
	var blocks []ebml.Block
	for _, c := range file.Segment.Cluster {
		blocks = append(blocks, c.SimpleBlock...)
	}
	return blocks
}

// A panic in the goroutine writing a track stops that track as a full disk does, with
// ErrInternal, and is counted; another track of the recording goes on.
func TestAPanicInATrackWriterStopsThatTrackOnly(t *testing.T) {
	panics := &sfu.Panics{}
	failed := make(chan error, 4)
	report := func(err error) { failed <- err }
	broken, err := newTrackWriter(opus, func() (io.WriteCloser, error) { panic("forced by the test") }, slogDiscard(), panics, report)
	require.NoError(t, err)
	file := &failingFile{n: 1 << 20}
	working, err := newTrackWriter(opus, func() (io.WriteCloser, error) { return file, nil }, slogDiscard(), panics, report)
	require.NoError(t, err)

	h := &rtp.Header{Version: 2, SequenceNumber: 1, Timestamp: 960}
	frame := []byte{0xf8, 0xff, 0xfe}
	require.NoError(t, broken.WriteRTP(h, frame))
	broken.Close()
	require.ErrorIs(t, <-failed, ErrInternal)
	require.Equal(t, uint64(1), panics.Count(sfu.PartRecording))
	require.NoError(t, broken.WriteRTP(h, frame), "a stopped track takes packets and drops them")

	for i := range 3 {
		h.SequenceNumber, h.Timestamp = uint16(2+i), uint32(960*(2+i))
		require.NoError(t, working.WriteRTP(h, frame))
	}
	working.Close()
	require.Empty(t, failed)
	require.True(t, file.closed)
	require.Less(t, file.n, 1<<20, "the other track was written")
}
