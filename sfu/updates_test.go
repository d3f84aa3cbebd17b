package sfu

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// flushUpdates tells the room's pending updates now, as the end of the update window
// would: the messages queued to a participant after this come after them.
func (r *Room) flushUpdates() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushUpdatesLocked()
}

// graceRunning tells whether the empty-room timer runs.
func (r *Room) graceRunning() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopTimer != nil
}

// A burst of lobby arrivals costs the moderator one lobby message per update window,
// not one per arrival, each with the whole lobby.
func TestLobbyBurstIsToldOncePerWindow(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServer(t, func(p *Params) { p.Clock = clock })
	mod := join(t, srv, srv.token(t, "lb", "mod", RoleModerator, KindWebinar))
	const n = 150
	for i := range n {
		_, first := startBot(t, srv, srv.lobbyToken(t, "lb", fmt.Sprintf("bot%03d", i)))
		require.Equal(t, typeLobbyWait, first.Type)
	}
	clock.Advance(time.Second)
	last := mod.waitMsg(func(m serverMsg) bool { return m.Type == typeLobby && len(m.Waiting) == n })
	require.Equal(t, "bot000", last.Waiting[0].ID)
	lobbies, bytes := 0, 0
	for _, m := range mod.msgs {
		if m.Type == typeLobby {
			lobbies++
			bytes += len(encode(lobbyMessage{Type: typeLobby, Waiting: m.Waiting}))
		}
	}
	t.Logf("%d lobby arrivals: %d lobby messages, %d bytes, to the moderator", n, lobbies, bytes)
	require.LessOrEqual(t, lobbies, 3, "one lobby message when the moderator came in, at most one per window after")
}

// A burst of participants joining a webinar reaches the others as one message per
// update window, each participant once.
func TestJoinBurstIsToldOncePerWindow(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServer(t, func(p *Params) { p.Clock = clock })
	mod := join(t, srv, srv.token(t, "jb", "mod", RoleModerator, KindWebinar))
	const n = 100
	bots := make([]*bot, n)
	for i := range n {
		var first serverMsg
		bots[i], first = startBot(t, srv, srv.token(t, "jb", fmt.Sprintf("bot%03d", i), RoleAttendee, KindWebinar))
		require.Equal(t, typeJoined, first.Type)
	}
	clock.Advance(time.Second)
	known := map[string]bool{}
	mod.waitUntil(func() bool {
		clear(known)
		for _, m := range mod.msgs {
			switch m.Type {
			case typeParticipantJoined:
				known[m.Participant.ID] = true
			case "participants":
				for _, p := range m.Joined {
					known[p.ID] = true
				}
			}
		}
		return len(known) == n
	}, "every bot announced")
	told := mod.count(func(m serverMsg) bool { return m.Type == typeParticipantJoined || m.Type == "participants" })
	t.Logf("%d joins: %d messages to the moderator", n, told)
	require.LessOrEqual(t, told, 2, "at most one message per window")

	// A leave is told too.
	require.NoError(t, bots[n-1].conn.Close(CloseNormal, "bye"))
	require.NoError(t, <-bots[n-1].done)
	bots[n-1].done <- nil
	clock.Advance(time.Second)
	mod.waitUntil(func() bool {
		for _, m := range mod.msgs {
			if m.Type == typeParticipantLeft && m.ParticipantID == fmt.Sprintf("bot%03d", n-1) {
				return true
			}
		}
		return false
	}, "the leave")
}

// 900 hand toggles in 20 seconds: the toggler is limited and told so; the others get the
// hands queue at most once per window, and the last one they get is the room's.
func TestHandTogglesAreLimitedAndCoalesced(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServer(t, func(p *Params) { p.Clock = clock })
	toggler := join(t, srv, srv.token(t, "ht", "toggler", RoleAttendee, KindMeeting))
	watchers := make([]*bot, 20)
	for i := range watchers {
		var first serverMsg
		watchers[i], first = startBot(t, srv, srv.token(t, "ht", fmt.Sprintf("w%02d", i), RoleAttendee, KindMeeting))
		require.Equal(t, typeJoined, first.Type)
	}
	observer := join(t, srv, srv.token(t, "ht", "observer", RoleAttendee, KindMeeting))
	const seconds, perSecond = 20, 45
	for s := range seconds {
		for i := range perSecond {
			toggler.send(map[string]any{"type": "hand", "raised": (s*perSecond+i)%2 == 0})
		}
		// The session goroutine handles messages in order: once the chat is back, the
		// toggles before it are done.
		toggler.send(map[string]any{"type": "chat", "text": fmt.Sprintf("tick %d", s)})
		toggler.waitMsg(chatText(fmt.Sprintf("tick %d", s)))
		clock.Advance(time.Second)
	}
	room, _ := srv.Room("ht")
	room.flushUpdates()
	observer.send(map[string]any{"type": "chat", "text": "end"})
	observer.waitMsg(chatText("end"))

	hands := observer.count(ofType(typeHands))
	t.Logf("%d hand toggles in %d s: %d hands messages to each of %d others", seconds*perSecond, seconds, hands, len(watchers)+1)
	require.LessOrEqual(t, hands, seconds+2, "at most one hands message per window")
	require.Positive(t, hands)
	var lastQueue []string
	for _, m := range observer.msgs {
		if m.Type == typeHands {
			lastQueue = m.Queue
		}
	}
	room.mu.Lock()
	want := slices.Clone(room.collab.hands)
	room.mu.Unlock()
	require.ElementsMatch(t, want, lastQueue, "the others end with the room's queue")
	toggler.waitError(codeRateLimited)
	errs := toggler.count(func(m serverMsg) bool { return m.Type == typeError && m.Code == codeRateLimited })
	require.LessOrEqual(t, errs, seconds, "told once per run of dropped messages")
}
