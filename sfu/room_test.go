package sfu

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// requireTracks checks the tracks announced for one publisher: one per label and kind,
// with the stream ids of the protocol, each received with its first video packet a
// keyframe.
func requireTracks(t *testing.T, c *testClient, publisher string, tracks map[string]signal.TrackAdded, video, audio Label) {
	t.Helper()
	kinds := map[string]Label{}
	for id, a := range tracks {
		kinds[a.Kind] = a.Label
		rt := c.track(id)
		require.Equal(t, a.StreamID, rt.StreamID, "msid stream id of %s", id)
		require.Equal(t, a.Mid, rt.Mid, "mid of %s", id)
		if rt.Kind == webrtc.RTPCodecTypeVideo {
			require.True(t, rt.FirstIsKeyframe, "first video packet of %s is not a keyframe", id)
		}
	}
	require.Equal(t, map[string]Label{"video": video, "audio": audio}, kinds)
}

func TestMeetingPublishSubscribe(t *testing.T) {
	srv := newTestServer(t)
	alice := join(t, srv, srv.token(t, "r1", "alice", RoleAttendee, KindMeeting))
	alice.publish(false, 25)
	bob := join(t, srv, srv.token(t, "r1", "bob", RoleAttendee, KindMeeting))
	bob.publish(true, 25)

	// Each receives the other's audio and video.
	fromBob := alice.waitMedia("bob", 2, 20)
	fromAlice := bob.waitMedia("alice", 2, 20)
	requireTracks(t, alice, "bob", fromBob, LabelScreen, LabelScreen)
	requireTracks(t, bob, "alice", fromAlice, LabelCamera, LabelMicrophone)
	for _, a := range fromBob {
		require.Equal(t, "bob~screen", a.StreamID)
	}
	for _, a := range fromAlice {
		require.Equal(t, "alice~user", a.StreamID)
	}

	// Alice was told of Bob's arrival; Bob found Alice in his joined message.
	joined := alice.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeParticipantJoined })
	require.Equal(t, "bob", joined.Participant.ID)
	require.Equal(t, "Name of bob", joined.Participant.Name)
	hello := bob.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined })
	require.Equal(t, "bob", hello.ParticipantID)
	require.Equal(t, KindMeeting, hello.RoomKind)
	require.Len(t, hello.Participants, 1)
	require.Equal(t, "alice", hello.Participants[0].ID)
	require.Empty(t, hello.ICEServers, "no STUN server is handed out by default")

	room, ok := srv.Room("r1")
	require.True(t, ok)
	require.Len(t, room.Participants(), 2)
}

func TestWebinarAttendeePublishesOnlyOncePromoted(t *testing.T) {
	srv := newTestServer(t)
	host := join(t, srv, srv.token(t, "w1", "host", RolePresenter, KindWebinar))
	host.publish(false, 25)
	guest := join(t, srv, srv.token(t, "w1", "guest", RoleAttendee, KindWebinar))
	guest.publish(false, 25)

	// The attendee receives the presenter but its own tracks are refused, one error each.
	guest.waitMedia("host", 2, 10)
	guest.waitUntil(func() bool {
		n := 0
		for _, m := range guest.msgs {
			if m.Type == signal.TypeError && m.Code == signal.CodePublishForbidden {
				n++
			}
		}
		return n == 2
	}, "two publish_forbidden errors")
	// The room parks a refused track before telling its publisher: nothing reached the host.
	require.Empty(t, host.tracksOf("guest"))
	room, ok := srv.Room("w1")
	require.True(t, ok)
	require.Equal(t, KindWebinar, room.Kind())
	for _, p := range room.Participants() {
		if p.ID == "guest" {
			require.Empty(t, p.Tracks)
		}
	}

	// Promoted, the attendee's tracks reach the presenter through a renegotiation.
	require.NoError(t, room.SetRole("guest", RolePresenter))
	role := host.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeRole })
	require.Equal(t, "guest", role.ParticipantID)
	require.Equal(t, RolePresenter, role.Role)
	guest.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeRole && m.Role == RolePresenter })
	fromGuest := host.waitMedia("guest", 2, 10)
	requireTracks(t, host, "guest", fromGuest, LabelCamera, LabelMicrophone)

	// Demoted again, they are taken away.
	require.NoError(t, room.SetRole("guest", RoleAttendee))
	host.waitUntil(func() bool { return len(host.tracksOfLocked("guest")) == 0 }, "guest's tracks removed")

	require.ErrorIs(t, room.SetRole("nobody", RolePresenter), ErrParticipantNotFound)
	require.ErrorIs(t, room.SetRole("guest", Role("king")), ErrInvalidRole)
}

func TestLateJoinerStartsWithKeyframe(t *testing.T) {
	srv := newTestServer(t)
	pub := join(t, srv, srv.token(t, "r2", "pub", RolePresenter, KindMeeting))
	pub.publish(false, 0) // keyframes only at start and on request
	early := join(t, srv, srv.token(t, "r2", "early", RoleAttendee, KindMeeting))
	early.receiveOnly()
	early.waitMedia("pub", 2, 30)
	plis := pub.keyframeRequests()
	require.Positive(t, plis, "the early subscriber's keyframe request reached the publisher")

	late := join(t, srv, srv.token(t, "r2", "late", RoleAttendee, KindMeeting))
	late.receiveOnly()
	tracks := late.waitMedia("pub", 2, 10)
	for id, a := range tracks {
		if a.Kind == "video" {
			rt := late.track(id)
			require.True(t, rt.FirstIsKeyframe, "the late joiner's first video packet is a keyframe")
			require.Positive(t, rt.Keyframes)
		}
	}
	require.Greater(t, pub.keyframeRequests(), plis, "the late joiner's arrival sent a PLI to the publisher")
}

func TestParticipantLeaves(t *testing.T) {
	srv := newTestServer(t)
	alice := join(t, srv, srv.token(t, "r3", "alice", RoleModerator, KindMeeting))
	alice.publish(false, 25)
	bob := join(t, srv, srv.token(t, "r3", "bob", RoleAttendee, KindMeeting))
	bob.publish(false, 25)
	alice.waitMedia("bob", 2, 5)
	bob.waitMedia("alice", 2, 5)

	require.NoError(t, bob.leave())
	code, _, _ := bob.waitClosed()
	require.Equal(t, signal.CloseNormal, code)

	left := alice.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeParticipantLeft })
	require.Equal(t, "bob", left.ParticipantID)
	alice.waitUntil(func() bool { return len(alice.tracksOfLocked("bob")) == 0 }, "bob's tracks removed")
	removed := 0
	for _, m := range alice.msgs {
		for _, r := range m.Removed {
			require.Equal(t, "bob", r.ParticipantID)
			require.NotEmpty(t, r.Mid)
			removed++
		}
	}
	require.Equal(t, 2, removed)

	room, ok := srv.Room("r3")
	require.True(t, ok)
	ps := room.Participants()
	require.Len(t, ps, 1)
	require.Equal(t, "alice", ps[0].ID)
	require.Len(t, ps[0].Tracks, 2)
}

func TestRemovedParticipantCannotComeBack(t *testing.T) {
	srv := newTestServer(t)
	token := srv.token(t, "r4", "troll", RoleAttendee, KindMeeting)
	mod := join(t, srv, srv.token(t, "r4", "mod", RoleModerator, KindMeeting))
	troll := join(t, srv, token)
	mod.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeParticipantJoined })

	room, ok := srv.Room("r4")
	require.True(t, ok)
	require.NoError(t, room.Remove("troll"))
	troll.waitError(signal.CodeRemoved)
	code, reason, err := troll.waitClosed()
	require.Equal(t, signal.CloseRemoved, code)
	require.Equal(t, "removed from the room", reason)
	require.ErrorIs(t, err, ErrRemoved)
	mod.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeParticipantLeft && m.ParticipantID == "troll"
	})

	again := connect(t, srv, token)
	again.waitError(signal.CodeTokenRevoked)
	code, _, err = again.waitClosed()
	require.Equal(t, signal.CloseUnauthorized, code)
	require.ErrorIs(t, err, ErrTokenRevoked)

	// Nor can a new token be made for the removed id.
	_, err = srv.tokens.Sign(Claims{Room: "r4", Participant: "troll", Role: RoleAttendee, Expiry: srv.clock.Now().Add(time.Minute)})
	require.ErrorIs(t, err, ErrTokenRevoked)
	require.ErrorIs(t, room.Remove("nobody"), ErrParticipantNotFound)
}

func TestJoinAgainReplacesTheSession(t *testing.T) {
	srv := newTestServer(t)
	token := srv.token(t, "r5", "alice", RoleAttendee, KindMeeting)
	bob := join(t, srv, srv.token(t, "r5", "bob", RoleAttendee, KindMeeting))
	first := join(t, srv, token)
	second := join(t, srv, token)
	first.waitError(signal.CodeReplaced)
	code, _, err := first.waitClosed()
	require.Equal(t, signal.CloseReplaced, code)
	require.ErrorIs(t, err, ErrReplaced)

	room, _ := srv.Room("r5")
	require.Len(t, room.Participants(), 2)
	// Bob heard alice join (twice, or once when both came in one update window) and
	// never leave.
	room.flushUpdates()
	second.send(map[string]any{"type": "chat", "text": "marker"})
	bob.waitMsg(chatText("marker"))
	require.True(t, bob.has(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeParticipantJoined && m.Participant.ID == "alice"
	}))
	for _, m := range bob.msgs {
		require.NotEqual(t, signal.TypeParticipantLeft, m.Type)
	}
	_ = second
}

func TestICERestartOnRequest(t *testing.T) {
	srv := newTestServer(t)
	pub := join(t, srv, srv.token(t, "r6", "pub", RolePresenter, KindMeeting))
	pub.publish(false, 25)
	sub := join(t, srv, srv.token(t, "r6", "sub", RoleAttendee, KindMeeting))
	sub.receiveOnly()
	tracks := sub.waitMedia("pub", 2, 5)
	ufrag := func() string {
		d := sub.PeerConnection().RemoteDescription()
		require.NotNil(t, d)
		for _, line := range strings.Split(d.SDP, "\r\n") {
			if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok {
				return v
			}
		}
		return ""
	}
	before := ufrag()
	offers := func() int {
		n := 0
		for _, m := range sub.msgs {
			if m.Type == signal.TypeOffer {
				n++
			}
		}
		return n
	}
	sub.mu.Lock()
	n := offers()
	sub.mu.Unlock()

	sub.send(map[string]any{"type": "restart_ice"})
	sub.waitUntil(func() bool { return offers() > n }, "a restart offer")
	require.NotEqual(t, before, ufrag())
	// Media goes on over the new ICE session.
	for id := range tracks {
		got := sub.track(id).Packets
		sub.waitUntil(func() bool { s, _ := sub.receivedTrack(id); return s.Packets > got+10 }, "media after the restart")
	}
}

func TestRoomClosesAfterGraceAndFreesItsGoroutines(t *testing.T) {
	clock := newFakeClock()
	const grace = time.Minute
	srv := newTestServer(t, func(p *Params) { p.Clock = clock; p.EmptyRoomGrace = grace })
	baseline := runtime.NumGoroutine()

	a := join(t, srv, srv.token(t, "g1", "a", RolePresenter, KindMeeting))
	a.publish(false, 10)
	b := join(t, srv, srv.token(t, "g1", "b", RolePresenter, KindMeeting))
	b.publish(false, 10)
	a.waitMedia("b", 2, 5)
	b.waitMedia("a", 2, 5)
	room, ok := srv.Room("g1")
	require.True(t, ok)
	require.Greater(t, runtime.NumGoroutine(), baseline)

	require.NoError(t, a.leave())
	a.close()
	require.False(t, room.graceRunning(), "a room with someone in it has no grace timer")
	require.NoError(t, b.leave())
	b.close()
	require.True(t, room.graceRunning(), "the grace period started")

	clock.Advance(grace - time.Second)
	select {
	case <-room.Done():
		t.Fatal("room closed before its grace period")
	default:
	}
	// Someone coming back in time keeps the room; leaving again restarts the period.
	c := join(t, srv, srv.token(t, "g1", "c", RoleAttendee, KindMeeting))
	require.False(t, room.graceRunning())
	require.NoError(t, c.leave())
	c.close()
	clock.Advance(grace - time.Second)
	select {
	case <-room.Done():
		t.Fatal("room closed before its new grace period")
	default:
	}
	clock.Advance(time.Second)
	select {
	case <-room.Done():
	case <-time.After(waitFor):
		t.Fatal("room not closed after its grace period")
	}
	_, ok = srv.Room("g1")
	require.False(t, ok)

	// Everything the room and its sessions started has ended (Pion's goroutines end
	// shortly after its connections close: poll with a bound).
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= baseline+2 }, waitFor, 20*time.Millisecond,
		"goroutines: %d, baseline %d", runtime.NumGoroutine(), baseline)

	// A new join opens a new room with the same id.
	d := join(t, srv, srv.token(t, "g1", "d", RoleAttendee, KindWebinar))
	again, ok := srv.Room("g1")
	require.True(t, ok)
	require.NotSame(t, room, again)
	require.Equal(t, KindWebinar, again.Kind())
	d.close()
}

func TestServerCloseEndsSessions(t *testing.T) {
	srv := newTestServer(t)
	a := join(t, srv, srv.token(t, "x1", "a", RoleAttendee, KindMeeting))
	b := join(t, srv, srv.token(t, "x2", "b", RoleAttendee, KindMeeting))
	room, ok := srv.Room("x1")
	require.True(t, ok)
	require.NoError(t, srv.Close())
	for _, c := range []*testClient{a, b} {
		c.waitError(signal.CodeServerClosing)
		code, _, err := c.waitClosed()
		require.Equal(t, signal.CloseGoingAway, code)
		require.ErrorIs(t, err, ErrServerClosed)
	}
	<-room.Done()
	late := connect(t, srv, srv.token(t, "x1", "c", RoleAttendee, KindMeeting))
	_, _, err := late.waitClosed()
	require.ErrorIs(t, err, ErrServerClosed)
}

func TestRoomCloseEndsSessions(t *testing.T) {
	srv := newTestServer(t)
	a := join(t, srv, srv.token(t, "y1", "a", RoleAttendee, KindMeeting))
	room, _ := srv.Room("y1")
	require.NoError(t, room.Close())
	a.waitError(signal.CodeRoomClosed)
	code, _, err := a.waitClosed()
	require.Equal(t, signal.CloseRoomClosed, code)
	require.ErrorIs(t, err, ErrRoomClosed)
	require.ErrorIs(t, room.SetRole("a", RolePresenter), ErrRoomClosed)
}

// TestGlareServerWins makes the client's offer cross the server's: the server, the
// impolite peer, ignores the client's; the client answers the server's and offers again.
func TestGlareServerWins(t *testing.T) {
	srv := newTestServer(t)
	a := join(t, srv, srv.token(t, "gl", "a", RoleAttendee, KindMeeting))
	a.receiveOnly()
	a.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeAnswer })

	a.conn.holdOffers()
	b := join(t, srv, srv.token(t, "gl", "b", RoleAttendee, KindMeeting))
	b.publish(false, 25)
	a.waitUntil(func() bool { return a.conn.heldOffers() == 1 }, "a server offer")

	// An offer crosses the server's, then is rolled back: what the server sees of it is
	// an offer never applied.
	crossing, err := a.PeerConnection().CreateOffer(nil)
	require.NoError(t, err)
	a.send(signal.ClientMessage{Type: signal.TypeOffer, SDP: crossing.SDP})
	a.conn.releaseOffers()
	// Once the server has nothing left to offer (b's media flows to a), a offers again.
	a.waitMedia("b", 2, 10)
	a.publish(false, 25)
	b.waitMedia("a", 2, 10)
	a.mu.Lock()
	defer a.mu.Unlock()
	answers := 0
	for _, m := range a.msgs {
		if m.Type == signal.TypeAnswer {
			answers++
		}
	}
	require.Equal(t, 2, answers, "the first offer and the one after the glare were answered, not the crossing one")
}

func TestRoleSurvivesRejoin(t *testing.T) {
	srv := newTestServer(t)
	token := srv.token(t, "rj", "guest", RoleAttendee, KindWebinar)
	join(t, srv, srv.token(t, "rj", "host", RoleModerator, KindWebinar))
	first := join(t, srv, token)
	room, _ := srv.Room("rj")
	require.NoError(t, room.SetRole("guest", RolePresenter))
	first.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeRole })
	first.close()

	again := join(t, srv, token)
	joined := again.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined })
	require.Equal(t, RolePresenter, joined.Role, "the promotion outlives the connection")
}

func TestNAT1To1AddressInCandidates(t *testing.T) {
	srv := newTestServer(t, func(p *Params) {
		p.WebRTC.NAT1To1IPs = []string{"203.0.113.7"}
		p.WebRTC.ICEServers = []ICEServer{{URLs: []string{"turn:turn.example.org:3478"}, Username: "u", Credential: "c"}}
	})
	c := join(t, srv, srv.token(t, "nat", "a", RoleAttendee, KindMeeting))
	joined := c.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined })
	require.Equal(t, []ICEServer{{URLs: []string{"turn:turn.example.org:3478"}, Username: "u", Credential: "c"}}, joined.ICEServers)
	c.receiveOnly()
	cand := c.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeCandidate })
	require.Contains(t, cand.Candidate.Candidate, " 203.0.113.7 ")
}

func TestServerCloseCutsConnectionsWaitingToJoin(t *testing.T) {
	srv := newTestServer(t, func(p *Params) { p.JoinTimeout = time.Hour })
	c := connect(t, srv, "")
	require.NoError(t, srv.Close())
	code, _, err := c.waitClosed()
	require.Equal(t, signal.CloseGoingAway, code)
	require.ErrorIs(t, err, ErrServerClosed)
}

// TestTrackIDsAreNewAfterAReconnect: a participant who leaves and comes back publishes
// under new track ids, never under those of the tracks he had, which a subscriber or an
// edge may still hold for a moment.
func TestTrackIDsAreNewAfterAReconnect(t *testing.T) {
	srv := newTestServer(t)
	bob, first := receivedAndGone(t, srv)

	again := join(t, srv, srv.token(t, "r1", "alice", RoleAttendee, KindMeeting))
	again.publish(false, 25)
	var second map[string]signal.TrackAdded
	bob.waitUntil(func() bool {
		second = bob.tracksOfLocked("alice")
		return len(second) == 2
	}, "alice's new tracks announced")
	for id := range second {
		_, reused := first[id]
		require.False(t, reused, "track id %s published again", id)
	}
}

// TestSubscriberReceivesAPublisherWhoComesBack: a publisher leaves and comes back, three
// times; its subscriber, a Pion client, receives the new tracks each time. The server
// sends them on the m-lines the old ones freed, so that the subscriber's description
// keeps its size however often that happens. In between, the m-lines are inactive for
// one offer or more: the new tracks are often offered one by one, and an ICE restart
// while the publisher is away makes one more offer. Pion stops a transceiver at each
// offer that marks it inactive, and the second stop used to leave its m-line deaf to
// any later track (signal.KeepReceivers).
func TestSubscriberReceivesAPublisherWhoComesBack(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := "back"
		if restart {
			name = "back after an ICE restart"
		}
		t.Run(name, func(t *testing.T) {
			srv := newTestServer(t)
			bob, first := receivedAndGone(t, srv)
			mids, sections := midsOf(first), mediaSections(t, bob)
			for round := 1; round <= 3; round++ {
				if restart {
					bob.mu.Lock()
					n := countOf(bob.msgs, signal.TypeOffer)
					bob.mu.Unlock()
					bob.send(signal.ClientMessage{Type: signal.TypeRestartICE})
					bob.waitUntil(func() bool { return countOf(bob.msgs, signal.TypeOffer) > n }, "offer while alice is away")
				}
				alice := join(t, srv, srv.token(t, "r1", "alice", RoleAttendee, KindMeeting))
				alice.publish(false, 25)
				tracks := bob.waitMedia("alice", 2, 10)
				require.Equal(t, mids, midsOf(tracks), "round %d: the m-lines of alice's new tracks", round)
				require.Equal(t, sections, mediaSections(t, bob), "round %d: the m-lines of bob's description", round)

				require.NoError(t, alice.leave())
				bob.waitUntil(func() bool { return len(bob.tracksOfLocked("alice")) == 0 }, "alice's tracks removed")
				bob.waitOffered()
			}
		})
	}
}

// TestSubscriberPublishesAfterWhatItReceivedIsGone: a Pion client receives a publisher
// who leaves, offers once (an ICE restart) while the m-lines it received on are idle,
// then publishes; another participant receives it. The client's offer marked those
// m-lines inactive, which makes the server's Pion stop receiving on them: the client
// publishes on m-lines of its own.
func TestSubscriberPublishesAfterWhatItReceivedIsGone(t *testing.T) {
	srv := newTestServer(t)
	bob, _ := receivedAndGone(t, srv)
	bob.mu.Lock()
	n := countOf(bob.msgs, signal.TypeAnswer)
	bob.mu.Unlock()
	bob.RestartICE(context.Background())
	bob.waitUntil(func() bool { return countOf(bob.msgs, signal.TypeAnswer) > n }, "answer to bob's restart")

	carol := join(t, srv, srv.token(t, "r1", "carol", RoleAttendee, KindMeeting))
	carol.receiveOnly()
	bob.publish(false, 25)
	carol.waitMedia("bob", 2, 10)
}

// receivedAndGone has bob, a receive-only client, receive alice's camera and microphone
// until she leaves and the server's offer removing them is applied; it returns bob and
// the tracks he received.
func receivedAndGone(t *testing.T, srv *testServer) (*testClient, map[string]signal.TrackAdded) {
	t.Helper()
	bob := join(t, srv, srv.token(t, "r1", "bob", RoleAttendee, KindMeeting))
	bob.receiveOnly()
	alice := join(t, srv, srv.token(t, "r1", "alice", RoleAttendee, KindMeeting))
	alice.publish(false, 25)
	tracks := bob.waitMedia("alice", 2, 10)
	require.NoError(t, alice.leave())
	bob.waitUntil(func() bool { return len(bob.tracksOfLocked("alice")) == 0 }, "alice's tracks removed")
	bob.waitOffered()
	return bob, tracks
}

// waitOffered waits until c has applied the offer that follows the last tracks message
// it got: the server has no change of c's tracks left to offer.
func (c *testClient) waitOffered() {
	c.t.Helper()
	c.waitUntil(func() bool {
		for i := len(c.msgs) - 1; i >= 0; i-- {
			switch c.msgs[i].Type {
			case signal.TypeOffer:
				return true
			case signal.TypeTracks:
				return false
			}
		}
		return false
	}, "offer after the last tracks message")
}

// midsOf is the set of the mids of tracks.
func midsOf(tracks map[string]signal.TrackAdded) map[string]bool {
	mids := map[string]bool{}
	for _, a := range tracks {
		mids[a.Mid] = true
	}
	return mids
}

// countOf counts the messages of type typ among msgs.
func countOf(msgs []signal.ServerMessage, typ string) int {
	n := 0
	for _, m := range msgs {
		if m.Type == typ {
			n++
		}
	}
	return n
}

// mediaSections counts the m-lines of the server's description that c applied last.
func mediaSections(t *testing.T, c *testClient) int {
	t.Helper()
	d := c.PeerConnection().RemoteDescription()
	require.NotNil(t, d)
	return strings.Count(d.SDP, "\nm=")
}
