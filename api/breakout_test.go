package api_test

import (
	"net/http"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"webinaire/sfu"
	"webinaire/sfu/signal"
)

// A breakout room is entered with the token the SFU hands over, checked by the gate as its
// main room: the webinar's lobby does not hold a participant sent there, who may talk there
// (a meeting), a rejoin places it with its main room, and a removal from the session bars
// it, on any node.
func TestBreakoutRoomsAreEnteredAsTheirMainRoom(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		other := setup(t, driver, options{node: e}) // same database and key, its own memory
		owner, anon := e.browser(), e.browser()
		owner.Login(userOwner)
		w := createWebinar(owner, map[string]any{"title": "Atelier", "kind": "webinar", "lobby_enabled": true, "starts_at": "2026-12-03T14:00:00Z", "duration_minutes": 30})
		inv := createInvitation(owner, w.ID, "attendee")

		o := connectRTC(t, e, joinAsOwner(owner, w.ID))
		o.waitJoined()
		guest := joinAsGuest(anon, inv.URL, "Zoé Martin")
		g := connectRTC(t, e, guest)
		g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "lobby_wait" })
		ctx := t.Context()
		require.NoError(t, o.Send(ctx, map[string]any{"type": "lobby_admit", "participant_id": guest.ParticipantID}))
		g.waitJoined()

		require.NoError(t, o.Send(ctx, map[string]any{"type": "breakout_start", "rooms": []map[string]any{
			{"name": "Atelier 1", "participants": []string{guest.ParticipantID}},
		}}))
		mv := g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "breakout_move" })
		require.True(t, sfu.IsBreakoutRoom(mv.RoomID))
		require.Equal(t, w.RoomID, sfu.MainRoom(mv.RoomID))

		// Straight in: no lobby in a breakout room, though the webinar has one.
		inRoom := connectRTC(t, e, joinAnswer{WSURL: wsURLOf(e), Token: mv.Token})
		joined := inRoom.waitJoined()
		require.Equal(t, mv.RoomID, joined.RoomID)
		require.Equal(t, signal.KindMeeting, joined.RoomKind, "a breakout room of a webinar is a meeting: its attendees talk")

		// A rejoin answers for the breakout room, where its main room runs.
		resp := anon.Do("POST", "/api/v1/rejoin", map[string]string{"token": mv.Token}, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var again joinAnswer
		decode(t, resp, &again)
		require.Equal(t, mv.RoomID, again.RoomID)
		require.Equal(t, guest.ParticipantID, again.ParticipantID)

		// Removed through the API, from the main room: out of the breakout room too, and
		// its token refused here and on another node.
		resp = owner.Do("POST", "/api/v1/webinars/"+w.ID+"/participants/"+guest.ParticipantID+"/remove", nil, nil)
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		resp.Body.Close()
		require.Equal(t, websocket.StatusCode(signal.CloseRemoved), inRoom.waitClosed())
		require.Equal(t, "token_revoked", refused(t, e, mv.Token))
		require.Equal(t, "token_revoked", refused(t, other, mv.Token))
	})
}
