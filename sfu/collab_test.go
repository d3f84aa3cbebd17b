package sfu

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// lockedBuffer is a log destination tests read while the server writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// has tells whether c received a message matching ok.
func (c *testClient) has(ok func(signal.ServerMessage) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.msgs {
		if ok(m) {
			return true
		}
	}
	return false
}

func chatText(text string) func(signal.ServerMessage) bool {
	return func(m signal.ServerMessage) bool { return m.Type == signal.TypeChat && m.Text == text }
}

func pollState(id, state string, voted int) func(signal.ServerMessage) bool {
	return func(m signal.ServerMessage) bool {
		return m.Type == signal.TypePoll && m.PollID == id && m.State == state && m.Voted == voted
	}
}

// TestCollaborationSessionLeavesOnlyCounts runs a webinar session through the
// signalling: public and private chat, a named poll with a changed vote, raised hands,
// a reaction; then the moderator ends the session. What remains is counts, handed to
// OnRoomClosed; the marker sent in the chat and as a poll option is in no log line.
func TestCollaborationSessionLeavesOnlyCounts(t *testing.T) {
	const marker = "zq-marker-7f3a"
	var logs lockedBuffer
	stats := make(chan RoomStats, 1)
	srv := newTestServer(t, func(p *Params) {
		p.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		p.OnRoomClosed = func(s RoomStats) { stats <- s }
	})
	mod := join(t, srv, srv.token(t, "w", "mod", RoleModerator, KindWebinar))
	alice := join(t, srv, srv.token(t, "w", "alice", RoleAttendee, KindWebinar))
	bob := join(t, srv, srv.token(t, "w", "bob", RoleAttendee, KindWebinar))

	// The sender is the connection's participant, whatever the message says.
	alice.send(map[string]any{"type": "chat", "text": "hello " + marker, "from": "mod", "from_name": "Someone else"})
	got := bob.waitMsg(chatText("hello " + marker))
	require.Equal(t, "alice", got.From)
	require.Equal(t, "Name of alice", got.FromName)
	alice.send(map[string]any{"type": "chat", "text": "for the moderators " + marker, "to": "moderators"})
	mod.waitMsg(chatText("for the moderators " + marker))
	alice.waitMsg(chatText("for the moderators " + marker))
	alice.send(map[string]any{"type": "chat", "text": "after"})
	bob.waitMsg(chatText("after"))
	require.False(t, bob.has(chatText("for the moderators "+marker)), "a private message reaches the moderators only")

	// Someone joining later reads the session's chat it may read.
	carol := join(t, srv, srv.token(t, "w", "carol", RoleAttendee, KindWebinar))
	joined := carol.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined })
	var history []string
	for _, e := range joined.Chat {
		history = append(history, e.Text)
	}
	require.Equal(t, []string{"hello " + marker, "after"}, history)

	// Polls: only a moderator creates them; drafts are the moderators' own.
	alice.send(map[string]any{"type": "poll_create", "question": "Q?", "options": []string{"a", "b"}})
	alice.waitError(signal.CodeForbidden)
	mod.send(map[string]any{"type": "poll_create", "question": "Which one?", "options": []string{"yes", marker, "no"}})
	created := mod.waitMsg(pollState("poll-1", signal.PollDraft, 0))
	require.Equal(t, []int{0, 0, 0}, created.Results)
	alice.send(map[string]any{"type": "vote", "poll_id": "poll-1", "choices": []int{1}})
	alice.waitError(signal.CodeUnknownPoll)
	mod.send(map[string]any{"type": "poll_open", "poll_id": "poll-1"})
	opened := bob.waitMsg(pollState("poll-1", signal.PollOpen, 0))
	require.Nil(t, opened.Results, "no results for attendees before they are published")

	alice.send(map[string]any{"type": "vote", "poll_id": "poll-1", "choices": []int{0, 1}})
	alice.waitError(signal.CodeMalformed)
	alice.send(map[string]any{"type": "vote", "poll_id": "poll-1", "choices": []int{7}})
	alice.send(map[string]any{"type": "vote", "poll_id": "poll-1", "choices": []int{0}})
	mod.waitMsg(func(m signal.ServerMessage) bool {
		return pollState("poll-1", signal.PollOpen, 1)(m) && m.Results[0] == 1
	})
	alice.send(map[string]any{"type": "vote", "poll_id": "poll-1", "choices": []int{1}})
	changed := mod.waitMsg(func(m signal.ServerMessage) bool {
		return pollState("poll-1", signal.PollOpen, 1)(m) && m.Results[1] == 1
	})
	require.Equal(t, []int{0, 1, 0}, changed.Results, "a changed vote replaces the first")
	require.Equal(t, map[string][]string{"1": {"Name of alice"}}, changed.Voters, "a named poll shows the moderators who voted what")
	bob.send(map[string]any{"type": "vote", "poll_id": "poll-1", "choices": []int{2}})
	mod.waitMsg(pollState("poll-1", signal.PollOpen, 2))
	mod.send(map[string]any{"type": "poll_close", "poll_id": "poll-1"})
	bob.waitMsg(pollState("poll-1", signal.PollClosed, 2))
	bob.send(map[string]any{"type": "vote", "poll_id": "poll-1", "choices": []int{0}})
	bob.waitError(signal.CodePollState)
	mod.send(map[string]any{"type": "poll_publish", "poll_id": "poll-1"})
	published := bob.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypePoll && m.Published })
	require.Equal(t, []int{0, 1, 1}, published.Results)
	require.Nil(t, published.Voters, "names are for the moderators")
	require.Equal(t, []int{2}, published.MyVote)

	// Hands, in order; a moderator lowers one, an attendee cannot.
	bob.send(map[string]any{"type": "hand", "raised": true})
	mod.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeHands && len(m.Queue) == 1 })
	alice.send(map[string]any{"type": "hand", "raised": true})
	require.Equal(t, []string{"bob", "alice"}, mod.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeHands && len(m.Queue) == 2 }).Queue)
	carol.send(map[string]any{"type": "lower_hand", "participant_id": "bob"})
	carol.waitError(signal.CodeForbidden)
	mod.send(map[string]any{"type": "lower_hand", "participant_id": "bob"})
	alice.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeHands && len(m.Queue) == 1 && m.Queue[0] == "alice"
	})

	bob.send(map[string]any{"type": "reaction", "emoji": "👏"})
	mod.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeReaction && m.ParticipantID == "bob" && m.Emoji == "👏"
	})

	room, ok := srv.Room("w")
	require.True(t, ok)
	mod.send(map[string]any{"type": "end_session"})
	for _, c := range []*testClient{mod, alice, bob, carol} {
		code, _, err := c.waitClosed()
		require.Equal(t, signal.CloseRoomClosed, code)
		require.ErrorIs(t, err, ErrRoomClosed)
	}
	require.Equal(t, RoomStats{Room: "w", Messages: 3, Polls: 1, Votes: 2}, <-stats)
	<-room.Done()
	room.mu.Lock()
	require.Equal(t, collab{}, room.collab, "the room keeps nothing of the session")
	room.mu.Unlock()
	require.NotContains(t, logs.String(), marker, "neither chat nor polls reach the logs")
	require.Contains(t, logs.String(), "room closed", "the logs were written")
}

func TestChatLimits(t *testing.T) {
	clock := newFakeClock() // the chat's rate limit refills only when the test says
	srv := newTestServer(t, func(p *Params) { p.Clock = clock })
	a := join(t, srv, srv.token(t, "c", "a", RoleAttendee, KindMeeting))
	a.send(map[string]any{"type": "chat", "text": strings.Repeat("x", signal.MaxChatText+1)})
	a.waitError(signal.CodeMalformed)
	a.send(map[string]any{"type": "chat", "text": "   "})
	a.send(map[string]any{"type": "chat", "text": "bell\a"})
	a.send(map[string]any{"type": "chat", "text": "hi", "to": "bob"})
	a.send(map[string]any{"type": "reaction", "emoji": "💩"})
	a.waitUntil(func() bool {
		n := 0
		for _, m := range a.msgs {
			if m.Type == signal.TypeError && m.Code == signal.CodeMalformed {
				n++
			}
		}
		return n == 5
	}, "five refusals")
	// Text is text: the server passes it on as it is, for the app to show escaped.
	b := join(t, srv, srv.token(t, "c", "b", RoleAttendee, KindMeeting))
	a.send(map[string]any{"type": "chat", "text": "<script>alert(1)</script> https://example.org"})
	b.waitMsg(chatText("<script>alert(1)</script> https://example.org"))
	for i := range ChatBurst {
		a.send(map[string]any{"type": "chat", "text": "spam " + strings.Repeat("!", i)})
	}
	a.waitError(signal.CodeRateLimited)
	b.waitMsg(chatText("spam " + strings.Repeat("!", ChatBurst-2)))
	require.False(t, b.has(chatText("spam "+strings.Repeat("!", ChatBurst-1))), "the message over the limit is dropped")
	clock.Advance(2 * time.Second)
	a.send(map[string]any{"type": "chat", "text": "later"})
	b.waitMsg(chatText("later"))
}

func TestModerationThroughTheSignalling(t *testing.T) {
	srv := newTestServer(t)
	mod := join(t, srv, srv.token(t, "m", "mod", RoleModerator, KindWebinar))
	alice := join(t, srv, srv.token(t, "m", "alice", RoleAttendee, KindWebinar))
	bob := join(t, srv, srv.token(t, "m", "bob", RoleAttendee, KindWebinar))

	for _, m := range []map[string]any{
		{"type": "mute_participant", "all": true},
		{"type": "ask_unmute", "participant_id": "bob"},
		{"type": "remove", "participant_id": "bob"},
		{"type": "set_role", "participant_id": "alice", "role": "presenter"},
		{"type": "lock", "locked": true},
		{"type": "end_session"},
	} {
		alice.send(m)
	}
	alice.waitUntil(func() bool {
		n := 0
		for _, m := range alice.msgs {
			if m.Type == signal.TypeError && m.Code == signal.CodeForbidden {
				n++
			}
		}
		return n == 6
	}, "six refusals to an attendee")

	mod.send(map[string]any{"type": "mute_participant", "participant_id": "alice"})
	bob.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeMute && m.ParticipantID == "alice" && m.Muted && m.ByModerator
	})
	alice.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeMute && m.ParticipantID == "alice" && m.ByModerator
	})
	mod.send(map[string]any{"type": "ask_unmute", "participant_id": "alice"})
	require.Equal(t, "mod", alice.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeUnmuteRequested }).By)

	mod.send(map[string]any{"type": "set_role", "participant_id": "alice", "role": "presenter"})
	bob.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeRole && m.ParticipantID == "alice" && m.Role == RolePresenter
	})

	mod.send(map[string]any{"type": "lock", "locked": true})
	bob.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeRoomState && m.Locked })
	late := connect(t, srv, srv.token(t, "m", "late", RoleAttendee, KindWebinar))
	late.waitError(signal.CodeRoomLocked)
	code, _, err := late.waitClosed()
	require.Equal(t, signal.CloseRoomLocked, code)
	require.ErrorIs(t, err, ErrRoomLocked)
	// Someone who was in the room comes back in.
	again := join(t, srv, srv.token(t, "m", "bob", RoleAttendee, KindWebinar))
	require.True(t, again.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined }).Locked)

	earlier := srv.token(t, "m", "bob", RoleAttendee, KindWebinar)
	mod.send(map[string]any{"type": "remove", "participant_id": "bob"})
	again.waitError(signal.CodeRemoved)
	back := connect(t, srv, earlier)
	back.waitError(signal.CodeTokenRevoked)
	mod.send(map[string]any{"type": "remove", "participant_id": "nobody"})
	mod.waitError(signal.CodeNotFound)
}

// lobbyToken signs a token whose participant waits in the lobby.
func (s *testServer) lobbyToken(t testing.TB, room, participant string) string {
	t.Helper()
	now := s.clock.Now()
	tok, err := s.tokens.Sign(Claims{
		Room: room, Participant: participant, Name: "Name of " + participant,
		Role: RoleAttendee, Kind: KindWebinar, IssuedAt: now, Expiry: now.Add(time.Hour), Lobby: true,
	})
	require.NoError(t, err)
	return tok
}

func TestLobbyAdmitDenyAndAdmitAll(t *testing.T) {
	srv := newTestServer(t)
	// An attendee may arrive before the moderator: it waits, and the room stays open.
	early := connect(t, srv, srv.lobbyToken(t, "l", "early"))
	early.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeLobbyWait })
	early.send(map[string]any{"type": "chat", "text": "let me in"})
	early.waitError(signal.CodeInLobby)

	mod := join(t, srv, srv.token(t, "l", "mod", RoleModerator, KindWebinar))
	mod.send(map[string]any{"type": "chat", "text": "hello room"})
	lobby := mod.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeLobby })
	require.Equal(t, []LobbyEntry{{ID: "early", Name: "Name of early"}}, lobby.Waiting)
	presenter := join(t, srv, srv.token(t, "l", "presenter", RolePresenter, KindWebinar))
	presenter.publish(false, 10)
	room, _ := srv.Room("l")
	require.ElementsMatch(t, []string{"mod", "presenter"}, ids(room.Participants()), "the waiting are not in the room")

	// An attendee cannot admit; the moderator does, and the admitted one gets the room.
	waiting := connect(t, srv, srv.lobbyToken(t, "l", "other"))
	waiting.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeLobbyWait })
	mod.send(map[string]any{"type": "lobby_admit", "participant_id": "early"})
	in := early.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined })
	require.Equal(t, []string{"hello room"}, func() []string {
		var out []string
		for _, e := range in.Chat {
			out = append(out, e.Text)
		}
		return out
	}())
	early.receiveOnly()
	early.waitMedia("presenter", 2, 5)
	early.send(map[string]any{"type": "lobby_admit", "participant_id": "other"})
	early.waitError(signal.CodeForbidden)

	mod.send(map[string]any{"type": "lobby_deny", "participant_id": "other"})
	waiting.waitError(signal.CodeLobbyDenied)
	code, _, err := waiting.waitClosed()
	require.Equal(t, signal.CloseRemoved, code)
	require.ErrorIs(t, err, ErrDenied)

	// Admit all; someone admitted comes back without waiting.
	a := connect(t, srv, srv.lobbyToken(t, "l", "a"))
	b := connect(t, srv, srv.lobbyToken(t, "l", "b"))
	a.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeLobbyWait })
	b.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeLobbyWait })
	mod.send(map[string]any{"type": "lobby_admit", "all": true})
	a.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined })
	b.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined })
	require.NoError(t, a.leave())
	again := join(t, srv, srv.lobbyToken(t, "l", "a"))
	require.NotNil(t, again)
	mod.send(map[string]any{"type": "lobby_deny", "participant_id": "a"})
	mod.waitError(signal.CodeNotFound)
}

// TestSpotlightThroughTheSignalling: only a moderator puts a participant in the spotlight;
// everyone is told, one who joins later too, and the spotlight goes out when its participant
// leaves.
func TestSpotlightThroughTheSignalling(t *testing.T) {
	srv := newTestServer(t)
	mod := join(t, srv, srv.token(t, "s", "mod", RoleModerator, KindMeeting))
	alice := join(t, srv, srv.token(t, "s", "alice", RolePresenter, KindMeeting))
	bob := join(t, srv, srv.token(t, "s", "bob", RolePresenter, KindMeeting))

	alice.send(map[string]any{"type": "spotlight", "participant_id": "alice"})
	alice.waitError(signal.CodeForbidden)

	mod.send(map[string]any{"type": "spotlight", "participant_id": "alice"})
	got := bob.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeRoomState && m.Spotlight != "" })
	require.Equal(t, "alice", got.Spotlight)
	require.False(t, got.Locked, "the room's state says it is not locked")
	late := join(t, srv, srv.token(t, "s", "late", RolePresenter, KindMeeting))
	require.Equal(t, "alice", late.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined }).Spotlight)

	// locking keeps the spotlight in the room's state
	mod.send(map[string]any{"type": "lock", "locked": true})
	got = bob.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeRoomState && m.Locked })
	require.Equal(t, "alice", got.Spotlight)

	mod.send(map[string]any{"type": "spotlight", "participant_id": "nobody"})
	mod.waitError(signal.CodeNotFound)

	require.NoError(t, alice.leave())
	got = bob.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeRoomState && m.Locked && m.Spotlight == ""
	})
	require.Equal(t, "", got.Spotlight, "the spotlight goes out with its participant")

	mod.send(map[string]any{"type": "spotlight", "participant_id": "bob"})
	late.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeRoomState && m.Spotlight == "bob" })
	mod.send(map[string]any{"type": "spotlight"})
	late.waitUntil(func() bool {
		n := 0
		for _, m := range late.msgs {
			if m.Type == signal.TypeRoomState && m.Spotlight == "" {
				n++
			}
		}
		return n == 2 // when alice left, then now
	}, "the spotlight put out by the moderator")
}
