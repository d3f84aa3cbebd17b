package sfu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// fakeClock is a Clock that moves only when Advance is called.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at   time.Time
	f    func()
	done bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if t.done {
			return false
		}
		t.done = true
		return true
	}
}

// Advance moves the clock and starts the functions now due, each in its goroutine.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	kept := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.done:
		case !t.at.After(c.now):
			t.done = true
			due = append(due, t.f)
		default:
			kept = append(kept, t)
		}
	}
	c.timers = kept
	c.mu.Unlock()
	for _, f := range due {
		go f() // owned by the timer's owner, as time.AfterFunc; ends when f returns
	}
}

// pending counts the timers not yet run or stopped.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.done {
			n++
		}
	}
	return n
}

// memPipe is an in-memory message connection between a test client and the server.
type memPipe struct {
	done      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	code      int
	reason    string
}

// memConn is one end of a memPipe; it implements Conn.
type memConn struct {
	p       *memPipe
	in, out chan []byte
}

func newMemPipe() (server, client *memConn) {
	p := &memPipe{done: make(chan struct{})}
	a, b := make(chan []byte, 4096), make(chan []byte, 4096)
	return &memConn{p: p, in: a, out: b}, &memConn{p: p, in: b, out: a}
}

func (c *memConn) ReadMessage(ctx context.Context) ([]byte, error) {
	select {
	case m := <-c.in:
		return m, nil
	default:
	}
	select {
	case m := <-c.in:
		return m, nil
	case <-c.p.done:
		select {
		case m := <-c.in:
			return m, nil
		default:
			return nil, io.EOF
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *memConn) WriteMessage(ctx context.Context, msg []byte) error {
	select {
	case <-c.p.done:
		return errors.New("connection closed")
	default:
	}
	select {
	case c.out <- bytes.Clone(msg):
		return nil
	case <-c.p.done:
		return errors.New("connection closed")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *memConn) Close(code int, reason string) error {
	c.p.closeOnce.Do(func() {
		c.p.mu.Lock()
		c.p.code, c.p.reason = code, reason
		c.p.mu.Unlock()
		close(c.p.done)
	})
	return nil
}

// closed returns the close code and reason, once closed.
func (c *memConn) closed() (int, string, bool) {
	select {
	case <-c.p.done:
	default:
		return 0, "", false
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return c.p.code, c.p.reason, true
}

// testLogger discards logs unless SFU_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("SFU_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testKey is the token key of the tests.
var testKey = bytes.Repeat([]byte("k"), 32)

func newTestSigner(t testing.TB) *TokenSigner {
	s, err := NewTokenSigner(testKey)
	require.NoError(t, err)
	return s
}

// testServer is a started server on loopback with its signer.
type testServer struct {
	*Server
	tokens *TokenSigner
	clock  Clock
}

func newTestServer(t testing.TB, tweak ...func(*Params)) *testServer {
	t.Helper()
	p := Params{
		Logger: testLogger(),
		Tokens: newTestSigner(t),
		WebRTC: WebRTCConfig{IncludeLoopback: true},
	}
	for _, f := range tweak {
		f(&p)
	}
	s, err := New(p)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	clock := p.Clock
	if clock == nil {
		clock = systemClock{}
	}
	return &testServer{Server: s, tokens: p.Tokens, clock: clock}
}

// token signs a token for room and participant valid for an hour of the server's clock.
func (s *testServer) token(t testing.TB, room, participant string, role Role, kind RoomKind) string {
	t.Helper()
	now := s.clock.Now()
	tok, err := s.tokens.Sign(Claims{
		Room: room, Participant: participant, Name: "Name of " + participant,
		Role: role, Kind: kind, IssuedAt: now, Expiry: now.Add(time.Hour),
	})
	require.NoError(t, err)
	return tok
}

// bot is a bare signalling client, without media: it joins and reads what it gets.
type bot struct {
	conn *memConn
	done chan error
}

// startBot connects a bot with token and returns the first message the server sends it.
func startBot(t testing.TB, srv *testServer, token string) (*bot, signal.ServerMessage) {
	t.Helper()
	b := sendJoin(t, srv, token)
	return b, b.next(t)
}

// sendJoin connects a bot and sends its join with token, without waiting for an answer.
func sendJoin(t testing.TB, srv *testServer, token string) *bot {
	t.Helper()
	serverEnd, clientEnd := newMemPipe()
	b := &bot{conn: clientEnd, done: make(chan error, 1)}
	go func() { b.done <- srv.ServeConn(context.Background(), serverEnd) }() // owned by the bot; ends with the session
	t.Cleanup(func() {
		_ = clientEnd.Close(signal.CloseNormal, "bot done")
		<-b.done
	})
	b.send(t, map[string]any{"type": "join", "token": token})
	return b
}

// send sends v, as JSON, to the server.
func (b *bot) send(t testing.TB, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, b.conn.WriteMessage(context.Background(), data))
}

// next is the next message the bot gets.
func (b *bot) next(t testing.TB) signal.ServerMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	data, err := b.conn.ReadMessage(ctx)
	require.NoError(t, err)
	var m signal.ServerMessage
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}

// count is how many messages c received that match ok.
func (c *testClient) count(ok func(signal.ServerMessage) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.msgs {
		if ok(m) {
			n++
		}
	}
	return n
}

func ofType(typ string) func(signal.ServerMessage) bool {
	return func(m signal.ServerMessage) bool { return m.Type == typ }
}

// publishToBob starts a meeting r1 where alice publishes a camera and a microphone and
// bob receives them, and returns both once bob has received n packets of each.
func publishToBob(t *testing.T, srv *testServer, n uint64) (alice, bob *testClient) {
	t.Helper()
	alice = join(t, srv, srv.token(t, "r1", "alice", RoleAttendee, KindMeeting))
	alice.publish(false, 25)
	bob = join(t, srv, srv.token(t, "r1", "bob", RoleAttendee, KindMeeting))
	bob.receiveOnly()
	bob.waitMedia("alice", 2, n)
	return alice, bob
}
