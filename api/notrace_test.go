package api_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/api/apitest"
	"webinaire/sfu/signal"
)

// findInDatabase tells whether text is anywhere in the database: in the SQLite file and
// its journal, byte for byte, or in any row of any table of PostgreSQL.
func findInDatabase(t *testing.T, e *env, text string) bool {
	t.Helper()
	if e.db.Driver == "sqlite" {
		files, err := filepath.Glob(e.db.URL + "*")
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			if bytes.Contains(b, []byte(text)) {
				return true
			}
		}
		return false
	}
	return apitest.FindInPostgres(t, e.db.URL, text)
}

// findInFiles tells whether text is in any file under dir.
var findInFiles = apitest.FindInFiles

// TestChatAndVotesLeaveNoTrace holds a session with public and private chat and a poll,
// ends it, and proves that nothing of them remains: a marker sent in the chat and as a
// poll option is in no database row (SQLite and PostgreSQL), no file of the server's, no
// line of its log; the room is gone; the audit has counts only.
func TestChatAndVotesLeaveNoTrace(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		const marker = "zq7-chat-marker-4f1b"
		const titleMarker = "zq7-title-marker-9c2e"
		e := setup(t, driver, options{})
		owner, anon := e.browser(), e.browser()
		owner.Login(userOwner)
		w := createWebinar(owner, map[string]any{"title": titleMarker, "kind": "webinar", "starts_at": "2026-12-03T14:00:00Z", "duration_minutes": 30})
		inv := createInvitation(owner, w.ID, "attendee")
		require.True(t, findInDatabase(t, e, titleMarker), "the search finds what is stored")

		o := connectRTC(t, e, joinAsOwner(owner, w.ID))
		o.waitJoined()
		g := connectRTC(t, e, joinAsGuest(anon, inv.URL, "Zoé Martin"))
		g.waitJoined()
		ctx := t.Context()
		chatAndVote(t, o, g, marker)

		require.NoError(t, o.Send(ctx, map[string]any{"type": "end_session"}))
		o.waitClosed()
		g.waitClosed()
		require.Eventually(t, func() bool { _, open := e.sfu.Room(w.RoomID); return !open }, rtcWait, 10*time.Millisecond, "the room is gone")

		counts := auditedEnd(t, e, w.ID, false)
		require.Equal(t, map[string]int{"chat_messages": 2, "polls": 1, "votes": 1}, counts, "counts, never content")
		requireNoTrace(t, e, driver, marker)
		require.Contains(t, e.logs.String(), "room closed", "the log was written")
	})
}

// chatAndVote has the guest g send a public and a private chat message and vote in a
// poll of the moderator o, all holding marker.
func chatAndVote(t *testing.T, o, g *rtcClient, marker string) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, o.Send(ctx, map[string]any{"type": "chat", "text": "public " + marker}))
	require.NoError(t, g.Send(ctx, map[string]any{"type": "chat", "text": "private " + marker, "to": "moderators"}))
	require.NoError(t, o.Send(ctx, map[string]any{"type": "poll_create", "question": "Q " + marker, "options": []string{"yes", marker}}))
	o.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "poll" })
	require.NoError(t, o.Send(ctx, map[string]any{"type": "poll_open", "poll_id": "poll-1"}))
	g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "poll" })
	require.NoError(t, g.Send(ctx, map[string]any{"type": "vote", "poll_id": "poll-1", "choices": []int{1}}))
	o.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "poll" && m.Voted == 1 })
	g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "chat" && m.Text == "public "+marker })
	o.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "chat" && m.Text == "private "+marker })
}

// auditedEnd waits for the audit entry of the end of a session of webinarID, of its main
// room or of one of its breakout rooms, and returns its counts.
func auditedEnd(t *testing.T, e *env, webinarID string, breakout bool) map[string]int {
	t.Helper()
	var counts map[string]int
	require.Eventually(t, func() bool {
		events, err := e.store.AuditEvents(t.Context(), 100)
		require.NoError(t, err)
		for _, ev := range events {
			if ev.Action == "session.end" && ev.ObjectID == webinarID && strings.Contains(ev.Detail, "breakout_room") == breakout {
				require.NoError(t, json.Unmarshal([]byte(ev.Detail), &counts))
				return true
			}
		}
		return false
	}, rtcWait, 10*time.Millisecond, "the end of the session is audited")
	return counts
}

// requireNoTrace fails if marker is in a database row, a file of the server's or a line of
// its log.
func requireNoTrace(t *testing.T, e *env, driver, marker string) {
	t.Helper()
	require.False(t, findInDatabase(t, e, marker), "no database row holds it")
	require.False(t, findInFiles(t, e.recordingsRoot, marker), "no file of the server's")
	if driver == "sqlite" {
		require.False(t, findInFiles(t, filepath.Dir(e.db.URL), marker), "nothing beside the database file")
	}
	require.NotContains(t, e.logs.String(), marker, "no log line")
}

// TestBreakoutChatAndVotesLeaveNoTrace holds a breakout room of a session, with public
// and private chat and a poll, ends the session from it, and proves the same of it as of
// the main room: a marker sent in its chat, as a poll option and as the room's name is in
// no database row, no file of the server's, no line of its log; the breakout room is gone;
// the audit of the breakout room has counts only.
func TestBreakoutChatAndVotesLeaveNoTrace(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		const marker = "zq7-breakout-marker-61d0"
		e := setup(t, driver, options{})
		owner, anon := e.browser(), e.browser()
		owner.Login(userOwner)
		w := createWebinar(owner, map[string]any{"title": "Formation", "kind": "meeting", "starts_at": "2026-12-03T14:00:00Z", "duration_minutes": 30})
		inv := createInvitation(owner, w.ID, "attendee")

		ownerJoin := joinAsOwner(owner, w.ID)
		o := connectRTC(t, e, ownerJoin)
		o.waitJoined()
		guestJoin := joinAsGuest(anon, inv.URL, "Zoé Martin")
		g := connectRTC(t, e, guestJoin)
		g.waitJoined()
		ctx := t.Context()
		require.NoError(t, o.Send(ctx, map[string]any{"type": "breakout_start", "rooms": []map[string]any{
			{"name": "Atelier " + marker, "participants": []string{guestJoin.ParticipantID}},
		}}))
		// Each goes to the breakout room with the token handed over the signalling: no
		// new join through the API, no lobby, no name typed again.
		moveOf := func(c *rtcClient, j joinAnswer) (*rtcClient, string) {
			mv := c.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "breakout_move" })
			j.Token = mv.Token
			moved := connectRTC(t, e, j)
			joined := moved.waitJoined()
			require.Equal(t, mv.RoomID, joined.RoomID)
			require.NoError(t, c.Send(ctx, map[string]any{"type": "leave"}))
			return moved, mv.RoomID
		}
		g2, room := moveOf(g, guestJoin)
		require.NoError(t, o.Send(ctx, map[string]any{"type": "breakout_join", "room_id": room}))
		o2, _ := moveOf(o, ownerJoin)

		chatAndVote(t, o2, g2, marker)

		require.NoError(t, o2.Send(ctx, map[string]any{"type": "end_session"}))
		o2.waitClosed()
		g2.waitClosed()
		require.Eventually(t, func() bool {
			_, mainOpen := e.sfu.Room(w.RoomID)
			_, breakoutOpen := e.sfu.Room(room)
			return !mainOpen && !breakoutOpen
		}, rtcWait, 10*time.Millisecond, "the rooms are gone")

		counts := auditedEnd(t, e, w.ID, true)
		require.Equal(t, map[string]int{"chat_messages": 2, "polls": 1, "votes": 1, "breakout_room": 1}, counts, "counts, never content")
		requireNoTrace(t, e, driver, marker)
		require.Contains(t, e.logs.String(), "breakout rooms opened", "the log was written")
	})
}
