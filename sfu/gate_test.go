package sfu

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// gateFake answers every entry with what its test set, and records the removals.
type gateFake struct {
	mu      sync.Mutex
	answer  func(Claims) (Claims, error)
	revoked map[string]time.Time
}

func (g *gateFake) Admit(_ context.Context, c Claims) (Claims, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.answer(c)
}

func (g *gateFake) Revoke(_ context.Context, room, participant string, until time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.revoked[room+"/"+participant] = until
	return nil
}

func (g *gateFake) set(answer func(Claims) (Claims, error)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.answer = answer
}

// The Gate decides every entry, the first and each reconnection with the session
// credential: what it refuses does not enter, and its kind, lobby and role are those used.
func TestTheGateDecidesEveryEntry(t *testing.T) {
	gate := &gateFake{answer: func(c Claims) (Claims, error) { return c, nil }, revoked: map[string]time.Time{}}
	srv := newTestServer(t, func(p *Params) { p.Gate, p.SessionLifetime, p.Clock = gate, 30*time.Minute, newFakeClock() })

	mod := join(t, srv, srv.token(t, "r1", "mod", RoleModerator, KindMeeting))
	joined := mod.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined })
	require.NotEmpty(t, joined.SessionToken)
	cl, err := srv.tokens.Verify(joined.SessionToken, srv.clock.Now())
	require.NoError(t, err)
	require.True(t, cl.Session)
	require.Equal(t, "mod", cl.Participant)
	require.Equal(t, srv.clock.Now().Add(30*time.Minute).Unix(), cl.Expiry.Unix(), "the session lifetime")

	for _, tc := range []struct {
		err  error
		code string
		want int
	}{
		{ErrInvitationRevoked, signal.CodeInvitationRevoked, signal.CloseUnauthorized},
		{ErrRoomGone, signal.CodeRoomGone, signal.CloseUnauthorized},
		{ErrTokenRevoked, signal.CodeTokenRevoked, signal.CloseUnauthorized},
		{errors.New("database unreachable"), signal.CodeUnavailable, signal.CloseTryAgainLater},
	} {
		gate.set(func(Claims) (Claims, error) { return Claims{}, tc.err })
		c := connect(t, srv, srv.token(t, "r1", "guest", RoleAttendee, KindMeeting))
		c.waitError(tc.code)
		code, _, _ := c.waitClosed()
		require.Equal(t, tc.want, code, tc.code)
	}

	// The gate says the lobby now: the token said nothing of it.
	gate.set(func(c Claims) (Claims, error) { c.Lobby = true; return c, nil })
	c := connect(t, srv, srv.token(t, "r1", "waiter", RoleAttendee, KindMeeting))
	wait := c.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeLobbyWait })
	require.NotEmpty(t, wait.SessionToken, "the lobby gives a session credential too")

	// A removal goes through the gate (for the other nodes) for as long as a session
	// credential lives; an id the room never had is no removal.
	room, ok := srv.Room("r1")
	require.True(t, ok)
	require.NoError(t, room.Remove("waiter"))
	require.ErrorIs(t, room.Remove("nobody"), ErrParticipantNotFound)
	gate.mu.Lock()
	require.Equal(t, map[string]time.Time{"r1/waiter": srv.clock.Now().Add(30 * time.Minute)}, gate.revoked)
	gate.mu.Unlock()
	require.Equal(t, 1, srv.tokens.Revocations())
}

// heldGate admits every entry, except that, once hold is set, the next Admit waits until
// release is closed, after telling entered. Unlike gateFake it holds no lock while it
// waits, so that a removal goes through meanwhile.
type heldGate struct {
	hold    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (g *heldGate) Admit(_ context.Context, c Claims) (Claims, error) {
	if g.hold.CompareAndSwap(true, false) {
		close(g.entered)
		<-g.release
	}
	return c, nil
}

func (g *heldGate) Revoke(context.Context, string, string, time.Time) error { return nil }

// A participant removed while another connection of its own is between the Gate and the
// room does not come in on that connection: the Gate admitted it before the removal, the
// room refuses it after.
func TestRemovalRefusesAnEntryAlreadyPastTheGate(t *testing.T) {
	gate := &heldGate{entered: make(chan struct{}), release: make(chan struct{})}
	clock := newFakeClock()
	srv := newTestServer(t, func(p *Params) { p.Gate, p.Clock = gate, clock })
	token := srv.token(t, "rr", "x", RoleAttendee, KindMeeting)
	first, joined := startBot(t, srv, token)
	require.Equal(t, signal.TypeJoined, joined.Type)

	gate.hold.Store(true)
	second := sendJoin(t, srv, token)
	<-gate.entered

	room, ok := srv.Room("rr")
	require.True(t, ok)
	require.NoError(t, room.Remove("x"))
	require.Equal(t, signal.CodeRemoved, first.next(t).Code)
	require.ErrorIs(t, <-first.done, ErrRemoved)
	first.done <- nil
	// The room empty, it closes: the entry held at the Gate opens it again.
	clock.Advance(DefaultEmptyRoomGrace)
	<-room.Done()
	close(gate.release)

	got := second.next(t)
	require.Equal(t, signal.TypeError, got.Type, "got %s, want the refusal", got.Type)
	require.Equal(t, signal.CodeTokenRevoked, got.Code)
	require.ErrorIs(t, <-second.done, ErrTokenRevoked)
	second.done <- nil
	reopened, ok := srv.Room("rr")
	require.True(t, ok)
	require.Empty(t, reopened.Participants())
	clock.Advance(DefaultEmptyRoomGrace)
	select {
	case <-reopened.Done():
	case <-time.After(waitFor):
		t.Fatal("the room opened for the refused entry stays open")
	}
}
