package sfu

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/client"
	"webinaire/sfu/signal"
)

// waitFor is the bound of every wait on the network in these tests.
const waitFor = 20 * time.Second

// testConn is the client's end of a memPipe, with what the tests do to the wire: hold the
// server's offers back from the client, and change the next offer the client sends.
type testConn struct {
	*memConn
	onHold func() // called once an offer is held

	mu        sync.Mutex
	holding   bool
	held      [][]byte
	editOffer func(sdp string) string // changes the next offer sent, then is dropped
}

// ReadMessage returns the next message of the server that is not held.
func (c *testConn) ReadMessage(ctx context.Context) ([]byte, error) {
	for {
		msg, err := c.memConn.ReadMessage(ctx)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		hold := c.holding && messageType(msg) == signal.TypeOffer
		if hold {
			c.held = append(c.held, msg)
		}
		c.mu.Unlock()
		if !hold {
			return msg, nil
		}
		c.onHold()
	}
}

// WriteMessage sends msg, the next offer changed by editOffer when it is set.
func (c *testConn) WriteMessage(ctx context.Context, msg []byte) error {
	c.mu.Lock()
	edit := c.editOffer
	var m signal.ClientMessage
	if edit != nil && json.Unmarshal(msg, &m) == nil && m.Type == signal.TypeOffer {
		c.editOffer = nil
		m.SDP = edit(m.SDP)
		msg = encode(m)
	}
	c.mu.Unlock()
	return c.memConn.WriteMessage(ctx, msg)
}

// editNextOffer has edit change the next offer the client sends.
func (c *testConn) editNextOffer(edit func(sdp string) string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.editOffer = edit
}

// holdOffers keeps the server's offers from the client from now on, until releaseOffers.
func (c *testConn) holdOffers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = true
}

// heldOffers is the number of offers held.
func (c *testConn) heldOffers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.held)
}

// releaseOffers stops holding offers and hands those held to the client, after what came
// meanwhile.
func (c *testConn) releaseOffers() {
	c.mu.Lock()
	held := c.held
	c.holding, c.held = false, nil
	c.mu.Unlock()
	for _, msg := range held {
		c.in <- msg
	}
}

// messageType is the type of a message, empty when it has none.
func messageType(msg []byte) string {
	var m struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(msg, &m)
	return m.Type
}

// testClient is a participant of the tests: an sfu/client joined through ServeConn over an
// in-memory connection. It keeps every message of the server for the tests to wait on,
// and runs the tests' own publishers (simulcast, audio levels).
type testClient struct {
	*client.Client
	t        testing.TB
	conn     *testConn
	serveErr chan error
	cancel   context.CancelFunc
	stop     chan struct{} // closed by close: the tests' own publishers stop
	wg       sync.WaitGroup

	mu      sync.Mutex
	msgs    []signal.ServerMessage
	changed chan struct{} // closed and replaced at every new message or packet
	// observe, when set, sees every video packet received.
	observe func(*rtp.Packet)
}

// clientAPI is the Pion API of the tests' clients: loopback only, on networks (UDP over
// IPv4 when none is given), and a packet received twice reaches the track, so that a
// test can ask for one again (NACK) and see it come.
func clientAPI(t testing.TB, networks ...webrtc.NetworkType) *webrtc.API {
	api, err := client.NewAPI(client.APIParams{LoopbackOnly: true, Networks: networks, KeepDuplicates: true})
	require.NoError(t, err)
	return api
}

// connect opens a connection to srv and sends a join with token, without waiting.
func connect(t testing.TB, srv *testServer, token string) *testClient {
	t.Helper()
	return connectWith(t, srv, token, nil)
}

// connectWith is connect with the client's Params changed by tweak.
func connectWith(t testing.TB, srv *testServer, token string, tweak func(*client.Params)) *testClient {
	t.Helper()
	serverEnd, clientEnd := newMemPipe()
	ctx, cancel := context.WithCancel(context.Background())
	c := &testClient{
		t:        t,
		conn:     &testConn{memConn: clientEnd},
		serveErr: make(chan error, 1),
		cancel:   cancel,
		stop:     make(chan struct{}),
		changed:  make(chan struct{}),
	}
	c.conn.onHold = c.notify
	go func() { c.serveErr <- srv.ServeConn(ctx, serverEnd) }() // owned by the client; ends with the session
	p := client.Params{
		Conn:      c.conn,
		API:       clientAPI(t),
		OnMessage: c.record,
		OnError:   c.failed,
		OnRTP:     c.received,
	}
	if tweak != nil {
		tweak(&p)
	}
	cl, err := client.New(p)
	require.NoError(t, err)
	c.Client = cl
	c.Start(ctx)
	if token != "" {
		c.send(signal.ClientMessage{Type: signal.TypeJoin, Token: token})
	}
	t.Cleanup(c.close)
	return c
}

// join connects and joins, failing the test unless it is joined.
func join(t testing.TB, srv *testServer, token string) *testClient {
	t.Helper()
	c := connect(t, srv, "")
	c.join(token)
	return c
}

// join joins with token, failing the test unless it is joined.
func (c *testClient) join(token string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := c.Join(ctx, token)
	require.NoError(c.t, err, "join refused")
}

// record keeps a message of the server.
func (c *testClient) record(m signal.ServerMessage) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
	c.notify()
}

// failed reports a negotiation step that failed, unless the session is over.
func (c *testClient) failed(err error) {
	if _, _, closed := c.conn.closed(); !closed {
		c.t.Errorf("negotiation: %v", err)
	}
}

// received shows a packet received to observe, and wakes the waits.
func (c *testClient) received(track *webrtc.TrackRemote, packet []byte) {
	c.mu.Lock()
	observe := c.observe
	c.mu.Unlock()
	if observe != nil && track.Kind() == webrtc.RTPCodecTypeVideo {
		var pkt rtp.Packet
		if pkt.Unmarshal(packet) == nil {
			observe(&pkt)
		}
	}
	c.notify()
}

func (c *testClient) notify() {
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// send sends v, as JSON.
func (c *testClient) send(v any) {
	_ = c.Send(context.Background(), v) // a closed connection shows in waitClosed
}

// sendRaw sends b as it is.
func (c *testClient) sendRaw(b []byte) {
	_ = c.conn.WriteMessage(context.Background(), b)
}

// publish publishes a camera and a microphone, or a screen share, as light synthetic
// media at 50 frames a second; keyEvery is the period of keyframes in frames, 0 for
// keyframes only first and when asked for.
func (c *testClient) publish(screen bool, keyEvery int) {
	c.t.Helper()
	interval := time.Duration(keyEvery) * 20 * time.Millisecond
	if keyEvery == 0 {
		interval = -1
	}
	m := client.Media{VideoBitrate: 100_000, FrameRate: 50, KeyframeInterval: interval, Screen: screen}
	require.NoError(c.t, c.Publish(context.Background(), m))
}

// receiveOnly makes the client's first offer without tracks to send.
func (c *testClient) receiveOnly() {
	c.t.Helper()
	require.NoError(c.t, c.Receive(context.Background()))
}

// keyframeRequests counts the PLIs and FIRs the client's publishers received.
func (c *testClient) keyframeRequests() uint64 {
	var n uint64
	for _, s := range c.Sent() {
		n += s.KeyframeRequests
	}
	return n
}

// waitMsg waits for a message matching ok, among all received, and returns it.
func (c *testClient) waitMsg(ok func(signal.ServerMessage) bool) signal.ServerMessage {
	c.t.Helper()
	var found signal.ServerMessage
	c.waitUntil(func() bool {
		for _, m := range c.msgs {
			if ok(m) {
				found = m
				return true
			}
		}
		return false
	}, "message")
	return found
}

// waitError waits for an error message with code.
func (c *testClient) waitError(code string) signal.ServerMessage {
	c.t.Helper()
	return c.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeError && m.Code == code })
}

// waitUntil waits until cond, called under c.mu, holds.
func (c *testClient) waitUntil(cond func() bool, what string) {
	c.t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		done := cond()
		changed := c.changed
		c.mu.Unlock()
		if done {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			c.t.Fatalf("no %s in %s", what, waitFor)
		}
	}
}

// receivedTrack returns the counters of the received track with that server id.
func (c *testClient) receivedTrack(id string) (client.TrackStats, bool) {
	var found client.TrackStats
	ok := false
	for _, s := range c.Received() {
		if s.TrackID == id {
			found, ok = s, true
		}
	}
	return found, ok
}

// track returns the counters of the received track with that server id, waiting for it.
func (c *testClient) track(id string) client.TrackStats {
	c.t.Helper()
	var s client.TrackStats
	c.waitUntil(func() bool {
		var ok bool
		s, ok = c.receivedTrack(id)
		return ok
	}, "track "+id)
	return s
}

// tracksOf returns the tracks announced as added for participant and not removed since,
// from the tracks messages, by id.
func (c *testClient) tracksOf(participant string) map[string]signal.TrackAdded {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tracksOfLocked(participant)
}

func (c *testClient) tracksOfLocked(participant string) map[string]signal.TrackAdded {
	out := map[string]signal.TrackAdded{}
	for _, m := range c.msgs {
		if m.Type != signal.TypeTracks {
			continue
		}
		for _, a := range m.Added {
			if a.ParticipantID == participant {
				out[a.ID] = a
			}
		}
		for _, r := range m.Removed {
			if r.ParticipantID == participant {
				delete(out, r.TrackID)
			}
		}
	}
	return out
}

// waitMedia waits until want tracks are announced for participant and each has
// received n packets; it returns them.
func (c *testClient) waitMedia(participant string, want int, n uint64) map[string]signal.TrackAdded {
	c.t.Helper()
	var tracks map[string]signal.TrackAdded
	c.waitUntil(func() bool {
		tracks = c.tracksOfLocked(participant)
		if len(tracks) != want {
			return false
		}
		for id := range tracks {
			if s, ok := c.receivedTrack(id); !ok || s.Packets < n {
				return false
			}
		}
		return true
	}, "media of "+participant)
	return tracks
}

// waitClosed waits for the server to close the connection and returns the code,
// reason and what ServeConn returned.
func (c *testClient) waitClosed() (int, string, error) {
	c.t.Helper()
	select {
	case err := <-c.serveErr:
		c.serveErr <- err
		code, reason, ok := c.conn.closed()
		require.True(c.t, ok, "ServeConn returned without closing the connection")
		return code, reason, err
	case <-time.After(waitFor):
		c.t.Fatalf("connection not closed in %s", waitFor)
		return 0, "", nil
	}
}

// leave sends a leave message and waits for the end of the session.
func (c *testClient) leave() error {
	c.send(signal.ClientMessage{Type: signal.TypeLeave})
	_, _, err := c.waitClosed()
	return err
}

// close ends the client: stops the tests' publishers, the client (its media, its
// PeerConnection and its connection) and waits for ServeConn.
func (c *testClient) close() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	_ = c.Close()
	c.cancel()
	c.wg.Wait()
	select {
	case err := <-c.serveErr:
		c.serveErr <- err
	case <-time.After(waitFor):
		c.t.Errorf("ServeConn did not return in %s", waitFor)
	}
}
