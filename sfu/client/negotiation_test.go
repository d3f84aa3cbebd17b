package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu"
	"webinaire/sfu/client"
	"webinaire/sfu/signal"
)

// wait bounds every wait on the network in these tests.
const wait = 20 * time.Second

// pipeEnd is one end of an in-memory message connection; it is a client.Transport and an
// sfu.Conn. hold, when set, keeps the messages it matches from the reader until release.
type pipeEnd struct {
	in, out chan []byte
	done    chan struct{}
	once    *sync.Once

	mu   sync.Mutex
	hold func([]byte) bool
	held [][]byte
}

func newPipe() (a, b *pipeEnd) {
	x, y, done, once := make(chan []byte, 256), make(chan []byte, 256), make(chan struct{}), &sync.Once{}
	return &pipeEnd{in: x, out: y, done: done, once: once}, &pipeEnd{in: y, out: x, done: done, once: once}
}

func (p *pipeEnd) ReadMessage(ctx context.Context) ([]byte, error) {
	for {
		select {
		case m := <-p.in:
			p.mu.Lock()
			if p.hold != nil && p.hold(m) {
				p.held = append(p.held, m)
				p.mu.Unlock()
				continue
			}
			p.mu.Unlock()
			return m, nil
		case <-p.done:
			return nil, errors.New("connection closed")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (p *pipeEnd) WriteMessage(ctx context.Context, msg []byte) error {
	select {
	case p.out <- bytes.Clone(msg):
		return nil
	case <-p.done:
		return errors.New("connection closed")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pipeEnd) Close(int, string) error {
	p.once.Do(func() { close(p.done) })
	return nil
}

// heldCount is the number of messages held.
func (p *pipeEnd) heldCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.held)
}

// release stops holding and hands the held messages to the reader first.
func (p *pipeEnd) release() {
	p.mu.Lock()
	held := p.held
	p.hold, p.held = nil, nil
	p.mu.Unlock()
	for _, m := range held {
		p.in <- m // re-queued behind what came meanwhile: these are all the server's messages in order
	}
}

// room is a started SFU and a way to join it.
type room struct {
	t      *testing.T
	srv    *sfu.Server
	tokens *sfu.TokenSigner
	api    *webrtc.API
}

func newRoom(t *testing.T) *room {
	tokens, err := sfu.NewTokenSigner(bytes.Repeat([]byte("k"), 32))
	require.NoError(t, err)
	srv, err := sfu.New(sfu.Params{Tokens: tokens, WebRTC: sfu.WebRTCConfig{IncludeLoopback: true}})
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { _ = srv.Close() })
	api, err := client.NewAPI(client.APIParams{LoopbackOnly: true})
	require.NoError(t, err)
	return &room{t: t, srv: srv, tokens: tokens, api: api}
}

// media is what the tests publish: light, with a key frame every second.
var media = client.Media{VideoBitrate: 150_000, KeyframeInterval: time.Second}

// join connects a participant of a meeting through ServeConn and joins; hold is given to
// the client's end of the connection before anything is read. A negotiation error fails
// the test.
func (r *room) join(id string, hold func([]byte) bool) (*client.Client, *pipeEnd) {
	return r.joinWith(id, hold, func(err error) { r.t.Errorf("%s: negotiation: %v", id, err) })
}

// joinWith is join with the client's errors going to onError.
func (r *room) joinWith(id string, hold func([]byte) bool, onError func(error)) (*client.Client, *pipeEnd) {
	serverEnd, clientEnd := newPipe()
	clientEnd.hold = hold
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { // owned by the test; ends with the session
		defer close(served)
		_ = r.srv.ServeConn(ctx, serverEnd)
	}()
	c, err := client.New(client.Params{Conn: clientEnd, API: r.api, OnError: onError})
	require.NoError(r.t, err)
	c.Start(ctx)
	r.t.Cleanup(func() {
		_ = c.Close()
		cancel()
		<-served
	})
	now := time.Now()
	token, err := r.tokens.Sign(sfu.Claims{Room: "room-1", Participant: id, Name: id, Role: sfu.RoleAttendee,
		Kind: sfu.KindMeeting, IssuedAt: now, Expiry: now.Add(time.Hour)})
	require.NoError(r.t, err)
	jctx, jcancel := context.WithTimeout(context.Background(), wait)
	defer jcancel()
	m, err := c.Join(jctx, token)
	require.NoError(r.t, err)
	require.Equal(r.t, signal.TypeJoined, m.Type)
	return c, clientEnd
}

// waitMedia waits until c has received stamped video and audio from participant.
func waitMedia(t *testing.T, c *client.Client, participant string) {
	t.Helper()
	require.Eventually(t, func() bool {
		var video, audio uint64
		for _, s := range c.Received() {
			if s.ParticipantID == participant && s.Kind == webrtc.RTPCodecTypeVideo && s.FirstIsKeyframe {
				video += s.Stamped
			}
			if s.ParticipantID == participant && s.Kind == webrtc.RTPCodecTypeAudio {
				audio += s.Stamped
			}
		}
		return video >= 10 && audio >= 10
	}, wait, 10*time.Millisecond, "media of %s", participant)
}

func isOffer(m []byte) bool {
	var v struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(m, &v) == nil && v.Type == signal.TypeOffer
}

// TestRenegotiation has the client offer again after answering the server's offers:
// Bob receives Alice's tracks, then publishes his own.
func TestRenegotiation(t *testing.T) {
	r := newRoom(t)
	ctx := context.Background()
	a, _ := r.join("alice", nil)
	require.NoError(t, a.Publish(ctx, media))
	b, _ := r.join("bob", nil)
	require.NoError(t, b.Receive(ctx))
	waitMedia(t, b, "alice")
	require.Eventually(t, func() bool { return b.PeerConnection().SignalingState() == webrtc.SignalingStateStable },
		wait, 10*time.Millisecond, "bob's answers applied")

	require.NoError(t, b.Publish(ctx, media))
	waitMedia(t, a, "bob")
	for _, s := range b.Sent() {
		require.Positive(t, s.Packets)
	}
}

// TestCrossingOffersAreReported makes the client's offer cross the server's. The client
// cannot roll back (Pion has no rollback) and says so.
func TestCrossingOffersAreReported(t *testing.T) {
	r := newRoom(t)
	ctx := context.Background()
	a, _ := r.join("alice", nil)
	// Bob holds the server's offers from the start, and his errors go to glare.
	glare := make(chan error, 8)
	b, bConn := r.joinWith("bob", isOffer, func(err error) { glare <- err })
	require.NoError(t, b.Receive(ctx))
	require.Eventually(t, func() bool { return b.PeerConnection().SignalingState() == webrtc.SignalingStateStable },
		wait, 10*time.Millisecond, "bob's first offer answered")

	// Alice publishes: the server offers her tracks to Bob, who does not read it yet.
	require.NoError(t, a.Publish(ctx, media))
	require.Eventually(t, func() bool { return bConn.heldCount() > 0 }, wait, 10*time.Millisecond, "the server's offer to bob")
	// Bob publishes: his offer crosses the server's, which he reads now.
	require.NoError(t, b.Publish(ctx, media))
	require.Equal(t, webrtc.SignalingStateHaveLocalOffer, b.PeerConnection().SignalingState())
	bConn.release()
	select {
	case err := <-glare:
		require.ErrorIs(t, err, client.ErrGlare)
	case <-time.After(wait):
		t.Fatal("no glare reported")
	}
}

// TestScreenShareAndSenderReports publishes a screen share: its tracks come as a stream of
// their own, and the receiver reads the server's sender reports about each of them.
func TestScreenShareAndSenderReports(t *testing.T) {
	r := newRoom(t)
	ctx := context.Background()
	a, _ := r.join("alice", nil)
	screen := media
	screen.Screen = true
	require.NoError(t, a.Publish(ctx, screen))
	b, _ := r.join("bob", nil)
	require.NoError(t, b.Receive(ctx))
	waitMedia(t, b, "alice")
	require.Eventually(t, func() bool {
		for _, s := range b.Received() {
			if s.SenderReports == 0 {
				return false
			}
		}
		return true
	}, wait, 10*time.Millisecond, "a sender report about every track")
	got := b.Received()
	require.Len(t, got, 2)
	for _, s := range got {
		require.Equal(t, "alice~screen", s.StreamID, "the screen share is a stream of its own")
		require.NotEmpty(t, s.Mid)
		require.NotZero(t, s.SSRC)
		require.Equal(t, s.SSRC, s.LastSenderReport.SSRC)
		require.NotZero(t, s.LastSenderReport.PacketCount)
	}
}
