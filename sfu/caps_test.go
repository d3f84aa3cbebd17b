package sfu

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// A room takes participants up to the cap of its kind, moderators beyond; the one over
// the cap is refused with room_full and closed with signal.CloseRoomFull. A seat freed is
// taken again, and coming back on another connection takes one's own seat.
func TestRoomCapRefusesTheOneOver(t *testing.T) {
	srv := newTestServer(t, func(p *Params) { p.MaxMeetingParticipants = 3 })
	var bots []*bot
	for i := range 3 {
		b, first := startBot(t, srv, srv.token(t, "cap", fmt.Sprintf("p%d", i), RoleAttendee, KindMeeting))
		require.Equal(t, signal.TypeJoined, first.Type)
		bots = append(bots, b)
	}
	requireRefused(t, srv, srv.token(t, "cap", "over", RoleAttendee, KindMeeting), signal.CodeRoomFull, ErrRoomFull)

	_, again := startBot(t, srv, srv.token(t, "cap", "p1", RoleAttendee, KindMeeting))
	require.Equal(t, signal.TypeJoined, again.Type, "one's own seat is free to come back to")
	_, mod := startBot(t, srv, srv.token(t, "cap", "mod", RoleModerator, KindMeeting))
	require.Equal(t, signal.TypeJoined, mod.Type, "a moderator comes in beyond the cap")
	room, _ := srv.Room("cap")
	require.Len(t, room.Participants(), 4)

	require.NoError(t, bots[0].conn.Close(signal.CloseNormal, "bye"))
	require.NoError(t, <-bots[0].done)
	bots[0].done <- nil
	_, still := startBot(t, srv, srv.token(t, "cap", "late", RoleAttendee, KindMeeting))
	require.Equal(t, signal.CodeRoomFull, still.Code, "the moderator's seat counts")
}

// The cap counts the role given in the room, not the token's: a participant promoted to
// moderator comes back beyond it, a moderator demoted does not.
func TestRoomCapCountsTheRoleGivenInTheRoom(t *testing.T) {
	srv := newTestServer(t, func(p *Params) { p.MaxMeetingParticipants = 2 })
	a, first := startBot(t, srv, srv.token(t, "role-cap", "a", RoleAttendee, KindMeeting))
	require.Equal(t, signal.TypeJoined, first.Type)
	_, first = startBot(t, srv, srv.token(t, "role-cap", "b", RoleAttendee, KindMeeting))
	require.Equal(t, signal.TypeJoined, first.Type)
	m, first := startBot(t, srv, srv.token(t, "role-cap", "m", RoleModerator, KindMeeting))
	require.Equal(t, signal.TypeJoined, first.Type, "a moderator beyond the cap")
	room, _ := srv.Room("role-cap")
	require.NoError(t, room.SetRole("a", RoleModerator))
	require.NoError(t, room.SetRole("m", RoleAttendee))

	for _, b := range []*bot{a, m} {
		require.NoError(t, b.conn.Close(signal.CloseNormal, "bye"))
		require.NoError(t, <-b.done)
		b.done <- nil
	}
	_, first = startBot(t, srv, srv.token(t, "role-cap", "c", RoleAttendee, KindMeeting))
	require.Equal(t, signal.TypeJoined, first.Type, "a's seat, free again")
	_, first = startBot(t, srv, srv.token(t, "role-cap", "a", RoleAttendee, KindMeeting))
	require.Equal(t, signal.TypeJoined, first.Type, "promoted to moderator in the room: beyond the cap")
	_, first = startBot(t, srv, srv.token(t, "role-cap", "m", RoleModerator, KindMeeting))
	require.Equal(t, signal.CodeRoomFull, first.Code, "demoted in the room: counted like everyone")
}

// The lobby takes participants up to its cap; admitting more than the room has seats
// for lets in those who fit and tells the moderator room_full.
func TestLobbyCapAndAdmitBeyondTheRoomCap(t *testing.T) {
	srv := newTestServer(t, func(p *Params) {
		p.MaxLobby = 2
		p.MaxWebinarParticipants = 2
	})
	mod := join(t, srv, srv.token(t, "lc", "mod", RoleModerator, KindWebinar))
	var waiting []*bot
	for _, id := range []string{"a", "b"} {
		b, first := startBot(t, srv, srv.lobbyToken(t, "lc", id))
		require.Equal(t, signal.TypeLobbyWait, first.Type)
		waiting = append(waiting, b)
	}
	requireRefused(t, srv, srv.lobbyToken(t, "lc", "c"), signal.CodeLobbyFull, ErrLobbyFull)
	// Waiting again on another connection takes one's own place.
	_, again := startBot(t, srv, srv.lobbyToken(t, "lc", "b"))
	require.Equal(t, signal.TypeLobbyWait, again.Type)

	mod.send(map[string]any{"type": "lobby_admit", "all": true})
	mod.waitError(signal.CodeRoomFull)
	require.Equal(t, signal.TypeJoined, waiting[0].next(t).Type, "the first of the lobby came in")
	room, _ := srv.Room("lc")
	require.Len(t, room.Participants(), 2)
	room.mu.Lock()
	left := len(room.waiting)
	room.mu.Unlock()
	require.Equal(t, 1, left, "the other keeps waiting")
}

// requireRefused joins with token and requires the refusal of a full room or lobby:
// the error code, then the close with signal.CloseRoomFull, ServeConn returning err.
func requireRefused(t *testing.T, srv *testServer, token, code string, err error) {
	t.Helper()
	b, first := startBot(t, srv, token)
	require.Equal(t, signal.TypeError, first.Type)
	require.Equal(t, code, first.Code)
	require.ErrorIs(t, <-b.done, err)
	b.done <- nil
	closeCode, _, _ := b.conn.closed()
	require.Equal(t, signal.CloseRoomFull, closeCode)
}

// A participant waiting in the lobby who comes back on another connection that enters
// the room directly (its lobby was lifted meanwhile) leaves the lobby: its waiting
// connection is replaced, not left behind to be admitted over the new one, nor counted.
func TestEnteringFromAnotherConnectionEmptiesOnesLobbyPlace(t *testing.T) {
	srv := newTestServer(t, func(p *Params) { p.MaxWebinarParticipants = 1 })
	waiter, first := startBot(t, srv, srv.lobbyToken(t, "lr", "x"))
	require.Equal(t, signal.TypeLobbyWait, first.Type)

	_, entered := startBot(t, srv, srv.token(t, "lr", "x", RoleAttendee, KindWebinar))
	require.Equal(t, signal.TypeJoined, entered.Type)
	got := waiter.next(t)
	require.Equal(t, signal.CodeReplaced, got.Code, "got %s %s, want the waiting connection replaced", got.Type, got.Code)
	require.ErrorIs(t, <-waiter.done, ErrReplaced)
	waiter.done <- nil

	room, _ := srv.Room("lr")
	room.mu.Lock()
	waiting := len(room.waiting)
	room.mu.Unlock()
	require.Zero(t, waiting)
	require.ErrorIs(t, room.Admit(false, "x"), ErrParticipantNotFound)
	require.Len(t, room.Participants(), 1)
}
