package sfu

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

func TestMainRoom(t *testing.T) {
	id := newBreakoutID("main-1")
	for _, tc := range []struct {
		id, main string
		breakout bool
	}{
		{"main-1", "main-1", false},
		{id, "main-1", true},
		{"a.b", "a.b", false},
	} {
		require.Equal(t, tc.main, MainRoom(tc.id), "main room of %q", tc.id)
		require.Equal(t, tc.breakout, IsBreakoutRoom(tc.id), "%q is a breakout room", tc.id)
	}
	require.True(t, signal.ValidID(id), "a breakout room's id is a room id: %q", id)
	require.NotEqual(t, id, newBreakoutID("main-1"), "two breakout rooms of a room have different ids")
}

// breakoutFixture is a main room with a moderator and three attendees, on a server with
// a fake clock.
type breakoutFixture struct {
	srv                    *testServer
	clock                  *fakeClock
	mod, alice, bob, carol *testClient
}

func newBreakoutFixture(t *testing.T) *breakoutFixture {
	clock := newFakeClock()
	srv := newTestServer(t, func(p *Params) { p.Clock = clock })
	f := &breakoutFixture{srv: srv, clock: clock}
	f.mod = join(t, srv, srv.token(t, "main", "mod", RoleModerator, KindMeeting))
	f.alice = join(t, srv, srv.token(t, "main", "alice", RoleAttendee, KindMeeting))
	f.bob = join(t, srv, srv.token(t, "main", "bob", RoleAttendee, KindMeeting))
	f.carol = join(t, srv, srv.token(t, "main", "carol", RoleAttendee, KindMeeting))
	return f
}

func moveMsg(main bool) func(signal.ServerMessage) bool {
	return func(m signal.ServerMessage) bool { return m.Type == signal.TypeBreakoutMove && m.Main == main }
}

// follow joins the room of a breakout_move received by c, with its token, and leaves
// the room c was in.
func (f *breakoutFixture) follow(t *testing.T, c *testClient, mv signal.ServerMessage) *testClient {
	t.Helper()
	require.NotEmpty(t, mv.Token)
	next := join(t, f.srv, mv.Token)
	joined := next.waitMsg(ofType(signal.TypeJoined))
	require.Equal(t, mv.RoomID, joined.RoomID)
	require.NoError(t, c.leave())
	return next
}

// TestBreakoutRoomsRoundTrip opens two breakout rooms, one participant placed by hand
// and the others at random; the participants move with the tokens the server hands
// them, each room has its own chat, a broadcast reaches both, a call for help reaches
// the moderator with the room's name, and the end of the time brings everyone back to
// the main room, which stayed open meanwhile.
func TestBreakoutRoomsRoundTrip(t *testing.T) {
	f := newBreakoutFixture(t)
	f.mod.send(map[string]any{"type": "breakout_start", "duration": 600, "random": true, "rooms": []map[string]any{
		{"name": "Salle A", "participants": []string{"alice"}},
		{"name": "Salle B"},
	}})
	state := f.mod.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeBreakouts && m.Open })
	require.Len(t, state.Rooms, 2)
	require.Equal(t, "main", state.MainRoom)
	require.NotNil(t, state.EndsAt)
	require.Equal(t, f.clock.Now().Add(600*time.Second), *state.EndsAt)
	a, b := state.Rooms[0], state.Rooms[1]
	require.Equal(t, "Salle A", a.Name)
	require.Equal(t, 2, a.Count, "alice, and one spread at random: %+v", state.Rooms)
	require.Equal(t, 1, b.Count)
	require.Contains(t, a.Participants, signal.BreakoutMember{ID: "alice", Name: "Name of alice"}, "the moderator sees who is where")
	require.NotContains(t, b.Participants, signal.BreakoutMember{ID: "mod", Name: "Name of mod"}, "moderators are not spread")

	seen := f.alice.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeBreakouts && m.Open })
	require.Equal(t, a.ID, seen.Assigned)
	require.Empty(t, seen.Rooms[0].Participants, "an attendee sees the rooms, not who is in them")

	// Everyone moves, with the token the server handed over.
	clients := map[string]*testClient{}
	for name, c := range map[string]*testClient{"alice": f.alice, "bob": f.bob, "carol": f.carol} {
		mv := c.waitMsg(moveMsg(false))
		require.Contains(t, []string{a.ID, b.ID}, mv.RoomID)
		clients[name] = f.follow(t, c, mv)
	}
	inA, inB := clients["alice"], (*testClient)(nil)
	for _, name := range []string{"bob", "carol"} {
		if !clients[name].has(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined && m.RoomID == a.ID }) {
			inB = clients[name]
		}
	}
	require.NotNil(t, inB, "one of bob and carol is in room B")

	// The main room is empty past its grace period, and stays open for them.
	f.clock.Advance(DefaultEmptyRoomGrace + time.Second)
	// Each room has its chat.
	inA.send(map[string]any{"type": "chat", "text": "only in A"})
	inB.send(map[string]any{"type": "chat", "text": "only in B"})
	inB.waitMsg(chatText("only in B"))
	inA.waitMsg(chatText("only in A"))
	require.False(t, inB.has(chatText("only in A")), "the chat of room A stays there")

	_, open := f.srv.Room("main")
	require.True(t, open, "the main room stays open while breakout rooms are")

	// A broadcast reaches every room.
	f.mod.send(map[string]any{"type": "breakout_broadcast", "text": "5 minutes left"})
	for _, c := range []*testClient{inA, inB, f.mod} {
		got := c.waitMsg(ofType(signal.TypeBreakoutMessage))
		require.Equal(t, "5 minutes left", got.Text)
		require.Equal(t, "Name of mod", got.FromName)
	}

	// A call for help tells the moderator where.
	inB.send(map[string]any{"type": "breakout_help"})
	help := f.mod.waitMsg(ofType(signal.TypeBreakoutHelpRequested))
	require.Equal(t, b.ID, help.RoomID)
	require.Equal(t, "Salle B", help.RoomName)

	// Time is up: everyone is sent back, and whoever stays is sent out shortly after.
	f.clock.Advance(600 * time.Second)
	back := inA.waitMsg(moveMsg(true))
	require.Equal(t, "main", back.RoomID)
	inA.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeBreakouts && !m.Open })
	inB.waitMsg(moveMsg(true))
	returned := f.follow(t, inA, back)
	returned.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined && m.RoomID == "main" })
	f.mod.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeBreakouts && !m.Open })
	f.clock.Advance(breakoutCloseDelay)
	inB.waitError(signal.CodeBreakoutEnded)
	code, _, _ := inB.waitClosed()
	require.Equal(t, signal.CloseRoomClosed, code)

	// The token of a breakout room that has ended lets nobody in.
	late := connect(t, f.srv, f.srv.token(t, a.ID, "alice", RoleAttendee, KindMeeting))
	late.waitError(signal.CodeBreakoutEnded)
}

// TestBreakoutAuthorisation: only moderators start, assign, broadcast and end; an
// attendee enters only the breakout room it was sent to, unless it may choose; a
// moderator visits any room.
func TestBreakoutAuthorisation(t *testing.T) {
	f := newBreakoutFixture(t)
	for _, msg := range []map[string]any{
		{"type": "breakout_start", "rooms": []map[string]any{{"name": "A"}}},
		{"type": "breakout_assign", "participant_id": "bob", "room_id": "x"},
		{"type": "breakout_broadcast", "text": "hi"},
		{"type": "breakout_end"},
	} {
		f.alice.send(msg)
	}
	f.alice.waitUntil(func() bool { return f.alice.countLocked(errorCode(signal.CodeForbidden)) == 4 }, "four refusals")
	f.alice.send(map[string]any{"type": "breakout_join", "room_id": "main.br.none"})
	f.alice.waitError(signal.CodeBreakoutState)

	f.mod.send(map[string]any{"type": "breakout_start", "rooms": []map[string]any{
		{"name": "A", "participants": []string{"alice"}},
		{"name": "B", "participants": []string{"bob"}},
	}})
	state := f.mod.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeBreakouts && m.Open })
	a, b := state.Rooms[0].ID, state.Rooms[1].ID
	f.mod.send(map[string]any{"type": "breakout_start", "rooms": []map[string]any{{"name": "C"}}})
	f.mod.waitError(signal.CodeBreakoutState)

	// Alice asks for room B, not hers; a token for it, made by hand, is refused too.
	f.alice.send(map[string]any{"type": "breakout_join", "room_id": b})
	f.alice.waitError(signal.CodeForbidden)
	intruder := connect(t, f.srv, f.srv.token(t, b, "alice", RoleAttendee, KindMeeting))
	intruder.waitError(signal.CodeForbidden)
	code, _, _ := intruder.waitClosed()
	require.Equal(t, signal.CloseUnauthorized, code)
	// Carol, not assigned, may not enter either; an unknown room is no room.
	stranger := connect(t, f.srv, f.srv.token(t, a, "carol", RoleAttendee, KindMeeting))
	stranger.waitError(signal.CodeForbidden)
	f.carol.send(map[string]any{"type": "breakout_join", "room_id": "main.br.unknown"})
	f.carol.waitError(signal.CodeUnknownRoom)
	// Help is asked from a breakout room.
	f.carol.send(map[string]any{"type": "breakout_help"})
	f.carol.waitError(signal.CodeBreakoutState)

	// The moderator visits room B, and moves carol there.
	f.mod.send(map[string]any{"type": "breakout_join", "room_id": b})
	visit := f.mod.waitMsg(moveMsg(false))
	require.Equal(t, b, visit.RoomID)
	require.Equal(t, "B", visit.RoomName)
	modInB := join(t, f.srv, visit.Token)
	require.Equal(t, RoleModerator, modInB.waitMsg(ofType(signal.TypeJoined)).Role)
	modInB.send(map[string]any{"type": "breakout_assign", "participant_id": "carol", "room_id": b})
	mv := f.carol.waitMsg(moveMsg(false))
	require.Equal(t, b, mv.RoomID)
	carolInB := join(t, f.srv, mv.Token)
	carolInB.waitMsg(ofType(signal.TypeJoined))

	// With choice on, an attendee picks its room.
	f.mod.send(map[string]any{"type": "breakout_end"})
	carolInB.waitMsg(moveMsg(true))
	f.mod.send(map[string]any{"type": "breakout_start", "choose": true, "rooms": []map[string]any{{"name": "A"}, {"name": "B"}}})
	state = f.mod.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeBreakouts && m.Open && m.Choose })
	f.bob.send(map[string]any{"type": "breakout_join", "room_id": state.Rooms[1].ID})
	chosen := f.bob.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeBreakoutMove && m.RoomID == state.Rooms[1].ID
	})
	bobInB := join(t, f.srv, chosen.Token)
	bobInB.waitMsg(ofType(signal.TypeJoined))
	final := f.mod.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeBreakouts && m.Open && len(m.Rooms) == 2 && m.Rooms[1].Count == 1
	})
	require.Equal(t, []signal.BreakoutMember{{ID: "bob", Name: "Name of bob"}}, final.Rooms[1].Participants)

	// Removing a participant from a breakout room removes it from the session.
	f.mod.send(map[string]any{"type": "remove", "participant_id": "bob"})
	bobInB.waitError(signal.CodeRemoved)
	again := connect(t, f.srv, chosen.Token)
	again.waitError(signal.CodeTokenRevoked)
	now := f.clock.Now()
	_, err := f.srv.tokens.Sign(Claims{Room: "main", Participant: "bob", Role: RoleAttendee, IssuedAt: now, Expiry: now.Add(time.Hour)})
	require.ErrorIs(t, err, ErrTokenRevoked, "nor in the main room")
}

func errorCode(code string) func(signal.ServerMessage) bool {
	return func(m signal.ServerMessage) bool { return m.Type == signal.TypeError && m.Code == code }
}

// TestMainRoomClosesAfterItsBreakoutRooms: breakout rooms without a time limit that
// everyone leaves close once empty, and their main room after them; nothing stays open.
func TestMainRoomClosesAfterItsBreakoutRooms(t *testing.T) {
	f := newBreakoutFixture(t)
	f.mod.send(map[string]any{"type": "breakout_start", "random": true, "rooms": []map[string]any{{"name": "A"}}})
	var moved []*testClient
	for _, c := range []*testClient{f.alice, f.bob, f.carol} {
		moved = append(moved, f.follow(t, c, c.waitMsg(moveMsg(false))))
	}
	require.NoError(t, f.mod.leave())
	room := moved[0].waitMsg(ofType(signal.TypeJoined)).RoomID
	f.clock.Advance(DefaultEmptyRoomGrace) // the main room is empty, its breakout room is not
	for _, c := range moved {
		require.NoError(t, c.leave())
	}
	require.Eventually(t, func() bool {
		f.clock.Advance(DefaultEmptyRoomGrace)
		_, mainOpen := f.srv.Room("main")
		_, breakoutOpen := f.srv.Room(room)
		return !mainOpen && !breakoutOpen
	}, waitFor, 10*time.Millisecond, "the rooms close")
}
