package sfu

import (
	"testing"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// The load counts the open rooms and their participants; a room moved away tells its
// participants room_moved (4010) and closes.
func TestLoadAndMove(t *testing.T) {
	srv := newTestServer(t)
	require.Equal(t, Load{}, srv.Load())

	a, _ := startBot(t, srv, srv.token(t, "room-1", "alice", RoleModerator, KindMeeting))
	startBot(t, srv, srv.token(t, "room-1", "bob", RoleAttendee, KindMeeting))
	startBot(t, srv, srv.token(t, "room-2", "carol", RoleModerator, KindMeeting))
	require.Equal(t, Load{Rooms: 2, Participants: 3}, srv.Load())
	require.ElementsMatch(t, []string{"room-1", "room-2"}, srv.RoomIDs())

	r, ok := srv.Room("room-1")
	require.True(t, ok)
	r.Move()
	for {
		m := a.next(t)
		if m.Type == "error" {
			require.Equal(t, signal.CodeRoomMoved, m.Code)
			break
		}
	}
	<-r.Done()
	require.ErrorIs(t, <-a.done, ErrRoomMoved)
	a.done <- nil // for the cleanup
	code, _, closed := a.conn.closed()
	require.True(t, closed)
	require.Equal(t, signal.CloseRoomMoved, code)
	require.Equal(t, Load{Rooms: 1, Participants: 1}, srv.Load())
	require.Equal(t, []string{"room-2"}, srv.RoomIDs())
}
