package api_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"webinaire/api"
	"webinaire/sfu/signal"
	"webinaire/store"
)

// refused connects with token to the signalling endpoint of the server of e and returns
// the code of the error message it answers before closing.
func refused(t *testing.T, e *env, token string) string {
	t.Helper()
	c := connectRTC(t, e, joinAnswer{WSURL: wsURLOf(e), Token: token})
	m := c.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == "error" || m.Type == "joined" || m.Type == "lobby_wait"
	})
	require.Equal(t, "error", m.Type, "entered with a token that should be refused")
	c.waitClosed()
	return m.Code
}

// wsURLOf is the signalling endpoint of the server of e.
func wsURLOf(e *env) string { return "ws://" + strings.TrimPrefix(e.base, "http://") + "/api/v1/rtc" }

// Every entry into a room, the first and each reconnection, on whichever node, is checked
// against what the token was minted from as it is now in the database.
func TestEveryEntryIsCheckedAgainstTheDatabase(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		other := setup(t, driver, options{node: e}) // another node: same database and key, its own memory
		owner, anon := e.browser(), e.browser()
		owner.Login(userOwner)
		w := createWebinar(owner, map[string]any{"title": "Point", "kind": "meeting", "starts_at": "2026-12-03T14:00:00Z", "duration_minutes": 30})
		wid := "/api/v1/webinars/" + w.ID
		inv := createInvitation(owner, w.ID, "attendee")
		first := joinAsGuest(anon, inv.URL, "Zoé Martin")
		second := joinAsGuest(anon, inv.URL, "Zoé Martin") // made in advance, kept for later

		oj := joinAsOwner(owner, w.ID)
		o := connectRTC(t, e, oj)
		ojoined := o.waitJoined()
		require.NotEmpty(t, ojoined.SessionToken, "joined carries the session credential")
		g := connectRTC(t, e, first)
		gjoined := g.waitJoined()
		require.NotEqual(t, first.Token, gjoined.SessionToken)

		// The meeting becomes a webinar with a lobby: a token made before, for a meeting
		// without one, now waits in the lobby.
		resp := owner.Do("PATCH", wid, map[string]any{"kind": "webinar", "lobby_enabled": true}, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()
		s := connectRTC(t, e, second)
		wait := s.waitMsg(func(m signal.ServerMessage) bool {
			return m.Type == "lobby_wait" || m.Type == "joined" || m.Type == "error"
		})
		require.Equal(t, "lobby_wait", wait.Type, "the lobby of now, not of the token's time")
		require.NotEmpty(t, wait.SessionToken)

		// Removed: neither the session credential nor the join token brings the guest
		// back, on this node or on another, whose memory never heard of the removal.
		resp = owner.Do("POST", wid+"/participants/"+first.ParticipantID+"/remove", nil, nil)
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		resp.Body.Close()
		require.Equal(t, websocket.StatusCode(signal.CloseRemoved), g.waitClosed())
		require.Equal(t, "token_revoked", refused(t, e, gjoined.SessionToken))
		require.Equal(t, "token_revoked", refused(t, e, first.Token))
		require.Equal(t, "token_revoked", refused(t, other, gjoined.SessionToken))
		require.Zero(t, other.tokens.Revocations(), "the other node knows it from the database only")

		// A made-up participant id is no removal, and revokes nothing.
		before := e.tokens.Revocations()
		resp = owner.Do("POST", wid+"/participants/madeupparticipant/remove", nil, nil)
		require.Equal(t, "not_found", problemOf(t, resp).Code)
		require.Equal(t, before, e.tokens.Revocations())
		removed, err := e.store.Removed(context.Background(), w.RoomID, "madeupparticipant", e.clock.Now())
		require.NoError(t, err)
		require.False(t, removed)

		// The invitation revoked, those who entered with it removed on request: the one
		// waiting in the lobby goes, and nothing made from the invitation enters again.
		resp = owner.Do("DELETE", wid+"/invitations/"+inv.ID+"?remove_participants=maybe", nil, nil)
		require.Equal(t, "validation", problemOf(t, resp).Code)
		resp = owner.Do("DELETE", wid+"/invitations/"+inv.ID+"?remove_participants=true", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var revoked struct {
			RevokedAt           *time.Time `json:"revoked_at"`
			ParticipantsRemoved *int       `json:"participants_removed"`
		}
		decode(t, resp, &revoked)
		require.NotNil(t, revoked.RevokedAt)
		require.NotNil(t, revoked.ParticipantsRemoved)
		require.Equal(t, 1, *revoked.ParticipantsRemoved, "the one in the lobby")
		require.Equal(t, websocket.StatusCode(signal.CloseRemoved), s.waitClosed())
		require.Equal(t, "token_revoked", refused(t, e, wait.SessionToken), "removed with the invitation")
		require.Equal(t, "token_revoked", refused(t, e, second.Token))
		// The other node has no memory of the removal: the database says the invitation went.
		require.Equal(t, "invitation_revoked", refused(t, other, second.Token))
		third := joinAsGuest(e.browser(), createInvitation(owner, w.ID, "attendee").URL, "Léa")

		// Deleting the webinar ends its room: everyone is told, and no credential of it
		// enters any more.
		resp = owner.Do("DELETE", wid, nil, nil)
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		resp.Body.Close()
		require.Equal(t, websocket.StatusCode(signal.CloseRoomClosed), o.waitClosed())
		require.Equal(t, "room_closed", o.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "error" }).Code)
		_, open := e.sfu.Room(w.RoomID)
		require.False(t, open)
		require.Equal(t, "room_gone", refused(t, e, ojoined.SessionToken))
		require.Equal(t, "room_gone", refused(t, other, third.Token))
	})
}

// guestInRoom is a server where an organizer's webinar without lobby has a guest in its
// room, entered with an attendee invitation.
func guestInRoom(t *testing.T) (e *env, owner *browser, w webinar, inv invitation, j joinAnswer, g *rtcClient, joined signal.ServerMessage) {
	t.Helper()
	e = setup(t, "sqlite", options{})
	owner = e.browser()
	owner.Login(userOwner)
	w = createWebinar(owner, withoutLobby)
	inv = createInvitation(owner, w.ID, "attendee")
	j = joinAsGuest(e.browser(), inv.URL, "Zoé Martin")
	g = connectRTC(t, e, j)
	return e, owner, w, inv, j, g, g.waitJoined()
}

// A token of an invitation that was revoked, with nobody removed, enters nowhere.
func TestARevokedInvitationEntersNowhere(t *testing.T) {
	e, owner, w, inv, j, g, joined := guestInRoom(t)
	resp := owner.Do("DELETE", "/api/v1/webinars/"+w.ID+"/invitations/"+inv.ID, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	// Who is in stays, unless the owner asked otherwise; coming back is refused.
	room, open := e.sfu.Room(w.RoomID)
	require.True(t, open)
	require.Len(t, room.Participants(), 1)
	require.Equal(t, websocket.StatusCode(signal.CloseNormal), g.leave())
	require.Equal(t, "invitation_revoked", refused(t, e, joined.SessionToken))
	require.Equal(t, "invitation_revoked", refused(t, e, j.Token))
	// Nor as a player: the bearer is no longer good, as a revoked token.
	_, _, _, offer := offerWHIP(t)
	for _, token := range []string{joined.SessionToken, j.Token} {
		p := problemOf(t, newSDPClient(t).do("POST", e.base+"/api/v1/whep", token, "application/sdp", offer))
		require.Equal(t, http.StatusUnauthorized, p.Status, "got %d %s, want 401", p.Status, p.Code)
		require.Equal(t, "invalid_token", p.Code)
	}
	require.NotContains(t, e.logs.String(), "request failed")
}

// A join token is good to enter for minutes; the session credential brings the same
// participant back after that.
func TestJoinTokensAreGoodToEnterForMinutes(t *testing.T) {
	e, _, _, _, j, g, joined := guestInRoom(t)
	require.WithinDuration(t, e.clock.Now().Add(5*time.Minute), j.ExpiresAt, 5*time.Second)
	require.Equal(t, websocket.StatusCode(signal.CloseNormal), g.leave())

	e.clock.Advance(6 * time.Minute)
	require.Equal(t, "token_expired", refused(t, e, j.Token))
	back := connectRTC(t, e, joinAnswer{WSURL: j.WSURL, Token: joined.SessionToken})
	require.Equal(t, j.ParticipantID, back.waitJoined().ParticipantID, "the same participant comes back")

	e.clock.Advance(api.DefaultTokenLifetime + time.Minute)
	require.Equal(t, websocket.StatusCode(signal.CloseNormal), back.leave())
	require.Equal(t, "token_expired", refused(t, e, joined.SessionToken), "the session credential lasts media.token_lifetime")
}

// Deleting a webinar being recorded stops the recording cleanly, then deletes it with the
// rest; restricting its owner stops the recording (kept) and ends the room.
func TestDeletingOrRestrictingEndsTheRoomAndItsRecording(t *testing.T) {
	e := setup(t, "sqlite", options{})
	owner, admin := e.browser(), e.browser()
	owner.Login(userOwner)
	admin.Login(userAdmin)
	start := func(w webinar) (*rtcClient, signal.ServerMessage) {
		t.Helper()
		o := connectRTC(t, e, joinAsOwner(owner, w.ID))
		joined := o.waitJoined()
		o.publish()
		resp := owner.Do("POST", "/api/v1/webinars/"+w.ID+"/recording", nil, nil)
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		resp.Body.Close()
		o.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "recording" && m.Active })
		return o, joined
	}

	deleted := createWebinar(owner, withoutLobby)
	o, _ := start(deleted)
	require.Len(t, listRecordings(owner, deleted.ID), 1)
	rec := listRecordings(owner, deleted.ID)[0]
	resp := owner.Do("DELETE", "/api/v1/webinars/"+deleted.ID, nil, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "no longer refused while recording")
	resp.Body.Close()
	require.Equal(t, websocket.StatusCode(signal.CloseRoomClosed), o.waitClosed())
	_, err := os.Stat(filepath.Join(e.recordingsRoot, rec.ID))
	require.ErrorIs(t, err, os.ErrNotExist, "the recording's files went with the webinar")
	rows, err := e.store.RecordingsOfWebinar(context.Background(), deleted.ID)
	require.NoError(t, err)
	require.Empty(t, rows, "and its row")

	restricted := createWebinar(owner, withoutLobby)
	o, joined := start(restricted)
	// Some media recorded, as a guest sees it go by.
	g := connectRTC(t, e, joinAsGuest(e.browser(), createInvitation(owner, restricted.ID, "attendee").URL, "Zoé"))
	g.waitJoined()
	require.NoError(t, g.Receive(t.Context()))
	g.waitMedia(joined.ParticipantID, 30)
	me, _ := getMe(owner)
	resp = admin.Do("POST", "/api/v1/admin/organizers/"+me.ID+"/restriction", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	require.Equal(t, websocket.StatusCode(signal.CloseRoomClosed), o.waitClosed())
	require.Equal(t, "room_gone", refused(t, e, joined.SessionToken))
	list, err := e.store.RecordingsOfWebinar(context.Background(), restricted.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "ready", list[0].State, "stopped cleanly and kept: a restriction is no erasure")

	// Erasing one's account ends the rooms of all one's webinars.
	other := e.browser()
	other.Login(userOther)
	erased := createWebinar(other, withoutLobby)
	resp = other.Do("POST", "/api/v1/webinars/"+erased.ID+"/join", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var oj joinAnswer
	decode(t, resp, &oj)
	o = connectRTC(t, e, oj)
	joined = o.waitJoined()
	resp = other.Do("DELETE", "/api/v1/me", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	require.Equal(t, websocket.StatusCode(signal.CloseRoomClosed), o.waitClosed())
	require.Equal(t, "room_gone", refused(t, e, joined.SessionToken))
}

// An organizer who keeps coming back with its session credentials, longer than the join
// token it entered with is remembered, is still logged as the organizer, in its webinar.
func TestAnOwnerComingBackLateIsLoggedAsTheOwner(t *testing.T) {
	e := setup(t, "sqlite", options{})
	start := e.clock.Now().Add(-time.Second)
	owner := e.browser()
	owner.Login(userOwner)
	me, _ := getMe(owner)
	w := createWebinar(owner, withoutLobby)
	oj := joinAsOwner(owner, w.ID)
	o := connectRTC(t, e, oj)
	cred := o.waitJoined().SessionToken
	for range 2 { // 90 minutes each: within a session credential, past the join token's entry
		e.clock.Advance(90 * time.Minute)
		require.Equal(t, websocket.StatusNormalClosure, o.leave())
		joinAsOwner(owner, createWebinar(owner, withoutLobby).ID) // the server hands out other tokens meanwhile
		o = connectRTC(t, e, joinAnswer{WSURL: oj.WSURL, Token: cred})
		cred = o.waitJoined().SessionToken
	}
	require.Equal(t, websocket.StatusNormalClosure, o.leave())

	var joins, leaves int
	require.Eventually(t, func() bool {
		list, err := e.store.ConnectionLog(context.Background(), store.ConnectionFilter{From: start, To: e.clock.Now().Add(time.Minute), Limit: 50})
		require.NoError(t, err)
		joins, leaves = 0, 0
		for _, c := range list {
			if c.Action != "join" && c.Action != "leave" || c.WebinarID != w.ID {
				continue
			}
			require.Equal(t, store.ActorOrganizer, c.ActorKind, "%s at %s", c.Action, c.At)
			require.Equal(t, me.ID, c.ActorID)
			if c.Action == "join" {
				joins++
			} else {
				leaves++
			}
		}
		return leaves == 3
	}, rtcWait, 10*time.Millisecond, "three leaves logged")
	require.Equal(t, 3, joins, "got %d joins in the webinar, want 3", joins)
}
