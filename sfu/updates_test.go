package sfu

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
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

// startBots joins n attendee bots, bot000 to bot<n-1>, to room.
func startBots(t *testing.T, srv *testServer, room string, n int, kind RoomKind) []*bot {
	t.Helper()
	bots := make([]*bot, n)
	for i := range n {
		var first signal.ServerMessage
		bots[i], first = startBot(t, srv, srv.token(t, room, fmt.Sprintf("bot%03d", i), RoleAttendee, kind))
		require.Equal(t, signal.TypeJoined, first.Type)
	}
	return bots
}

// burst starts a server on a manual clock, a test client with role in room, then n
// bots, and lets the update window of their joins pass.
func burst(t *testing.T, room string, role Role, kind RoomKind, n int) (*fakeClock, *testServer, *testClient, []*bot) {
	t.Helper()
	clock := newFakeClock()
	srv := newTestServer(t, func(p *Params) { p.Clock = clock })
	c := join(t, srv, srv.token(t, room, "observer", role, kind))
	bots := startBots(t, srv, room, n, kind)
	clock.Advance(time.Second)
	return clock, srv, c, bots
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
		require.Equal(t, signal.TypeLobbyWait, first.Type)
	}
	clock.Advance(time.Second)
	last := mod.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeLobby && len(m.Waiting) == n })
	require.Equal(t, "bot000", last.Waiting[0].ID)
	lobbies, bytes := 0, 0
	for _, m := range mod.msgs {
		if m.Type == signal.TypeLobby {
			lobbies++
			bytes += len(encode(signal.LobbyMessage{Type: signal.TypeLobby, Waiting: m.Waiting}))
		}
	}
	t.Logf("%d lobby arrivals: %d lobby messages, %d bytes, to the moderator", n, lobbies, bytes)
	require.LessOrEqual(t, lobbies, 3, "one lobby message when the moderator came in, at most one per window after")
}

// A burst of participants joining a webinar reaches the others as one message per
// update window, each participant once.
func TestJoinBurstIsToldOncePerWindow(t *testing.T) {
	const n = 100
	clock, _, mod, bots := burst(t, "jb", RoleModerator, KindWebinar, n)
	known := map[string]bool{}
	mod.waitUntil(func() bool {
		clear(known)
		for _, m := range mod.msgs {
			switch m.Type {
			case signal.TypeParticipantJoined:
				known[m.Participant.ID] = true
			case "participants":
				for _, p := range m.Joined {
					known[p.ID] = true
				}
			}
		}
		return len(known) == n
	}, "every bot announced")
	told := mod.count(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeParticipantJoined || m.Type == "participants"
	})
	t.Logf("%d joins: %d messages to the moderator", n, told)
	require.LessOrEqual(t, told, 2, "at most one message per window")

	// A leave is told too.
	require.NoError(t, bots[n-1].conn.Close(signal.CloseNormal, "bye"))
	require.NoError(t, <-bots[n-1].done)
	bots[n-1].done <- nil
	clock.Advance(time.Second)
	mod.waitUntil(func() bool {
		for _, m := range mod.msgs {
			if m.Type == signal.TypeParticipantLeft && m.ParticipantID == fmt.Sprintf("bot%03d", n-1) {
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
	watchers := startBots(t, srv, "ht", 20, KindMeeting)
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

	hands := observer.count(ofType(signal.TypeHands))
	t.Logf("%d hand toggles in %d s: %d hands messages to each of %d others", seconds*perSecond, seconds, hands, len(watchers)+1)
	require.LessOrEqual(t, hands, seconds+2, "at most one hands message per window")
	require.Positive(t, hands)
	var lastQueue []string
	for _, m := range observer.msgs {
		if m.Type == signal.TypeHands {
			lastQueue = m.Queue
		}
	}
	room.mu.Lock()
	want := slices.Clone(room.collab.hands)
	room.mu.Unlock()
	require.ElementsMatch(t, want, lastQueue, "the others end with the room's queue")
	toggler.waitError(signal.CodeRateLimited)
	errs := toggler.count(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeError && m.Code == signal.CodeRateLimited
	})
	require.LessOrEqual(t, errs, seconds, "told once per run of dropped messages")
}

// Many participants muting at once cost each of the others one message per window.
func TestMuteBurstIsToldOncePerWindow(t *testing.T) {
	const n = 30
	clock, srv, observer, bots := burst(t, "mb", RoleAttendee, KindMeeting, n)
	for i, b := range bots {
		b.send(t, map[string]any{"type": "mute", "label": "microphone", "muted": true})
		b.send(t, map[string]any{"type": "chat", "text": fmt.Sprintf("done %d", i)})
	}
	for i, b := range bots {
		for m := b.next(t); m.Type != signal.TypeChat || m.Text != fmt.Sprintf("done %d", i); m = b.next(t) {
		}
	}
	clock.Advance(time.Second)
	room, _ := srv.Room("mb")
	room.flushUpdates()
	observer.send(map[string]any{"type": "chat", "text": "end"})
	observer.waitMsg(chatText("end"))

	muted := map[string]bool{}
	told := 0
	for _, m := range observer.msgs {
		switch m.Type {
		case signal.TypeMute:
			told++
			muted[m.ParticipantID] = m.Muted
		case signal.TypeMutes:
			told++
			for _, c := range m.Changes {
				muted[c.ParticipantID] = c.Muted
			}
		}
	}
	t.Logf("%d participants muting: %d messages to another", n, told)
	require.Len(t, muted, n, "every change told")
	require.LessOrEqual(t, told, 2, "one message per window")
}
