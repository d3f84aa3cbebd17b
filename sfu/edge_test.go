package sfu

import (
	"bytes"
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// pipeOrigins links the edge rooms of a server to the origin server of the test over
// in-memory connections, as the API's internal endpoint does between two nodes.
type pipeOrigins struct {
	origin *testServer
	edge   string

	mu    sync.Mutex
	dials []string // the origins dialled, in order
	done  []chan error
}

func (o *pipeOrigins) DialOrigin(_ context.Context, origin, room string, kind RoomKind) (Conn, netip.Addr, error) {
	serverEnd, clientEnd := newMemPipe()
	done := make(chan error, 1)
	o.mu.Lock()
	o.dials = append(o.dials, origin)
	o.done = append(o.done, done)
	o.mu.Unlock()
	go func() { // owned by the link: ends when the edge closes its end
		done <- o.origin.ServeRelay(context.Background(), serverEnd, RelayParams{Room: room, Kind: kind, Edge: o.edge})
	}()
	return clientEnd, netip.Addr{}, nil
}

// edgeToken signs a viewer's token for an edge node of origin.
func (s *testServer) edgeToken(t testing.TB, room, participant, origin string, invitation ...string) string {
	t.Helper()
	now := s.clock.Now()
	tok, err := s.tokens.Sign(Claims{
		Room: room, Participant: participant, Name: "Name of " + participant,
		Role: RoleAttendee, Kind: KindWebinar, IssuedAt: now, Expiry: now.Add(time.Hour), Origin: origin,
		Invitation: strings.Join(invitation, ""),
	})
	require.NoError(t, err)
	return tok
}

// relayOf is the relay participant of the room on srv, nil when there is none.
func relayOf(srv *testServer, room string) *member {
	r, ok := srv.Room(room)
	if !ok {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.participants {
		if p.hidden() {
			return p
		}
	}
	return nil
}

// TestEdgeRoomRelaysEveryLayerFromTheOrigin publishes a simulcast camera on an origin
// server and watches it from a viewer of an edge server: the edge receives each of the
// three layers once, as a track of its own, and forwards to its viewer; the viewer sees
// the publisher and not the relay, the publisher does not see the relay either; the
// origin's chat reaches the viewer; the viewer's NACKs are answered by the edge, not the
// origin; and the relay leaves the origin once the edge room has closed.
func TestEdgeRoomRelaysEveryLayerFromTheOrigin(t *testing.T) {
	origin := newTestServer(t)
	dialer := &pipeOrigins{origin: origin, edge: "edge-1"}
	edge := newTestServer(t, func(p *Params) {
		p.Origins = dialer
		p.Tokens = origin.tokens
		p.EmptyRoomGrace = 50 * time.Millisecond
	})

	pub := join(t, origin, origin.token(t, "web", "pub", RolePresenter, KindWebinar))
	pub.publishSimulcast()

	viewer := connect(t, edge, edge.edgeToken(t, "web", "viewer", "origin-1"))
	var lastSeq atomic.Uint32
	viewer.mu.Lock()
	viewer.observe = func(pkt *rtp.Packet) { lastSeq.Store(uint32(pkt.SequenceNumber)) }
	viewer.mu.Unlock()
	viewer.waitMsg(ofType(signal.TypeJoined))
	viewer.receiveOnly()
	tracks := viewer.waitMedia("pub", 1, 60)
	dialer.mu.Lock()
	require.Equal(t, []string{"origin-1"}, dialer.dials, "one link per edge room")
	dialer.mu.Unlock()
	require.Equal(t, 1, viewer.count(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeParticipantJoined && m.Participant.ID == "pub" ||
			m.Type == signal.TypeJoined && len(m.Participants) == 1 && m.Participants[0].ID == "pub"
	}), "the publisher announced once on the edge")

	// Every layer crossed once, on a track of its own.
	relay := relayOf(origin, "web")
	require.NotNil(t, relay)
	relay.sub.mu.Lock()
	rids := map[string]bool{}
	for l, d := range relay.sub.relayed {
		require.Equal(t, l, d.pinned)
		rids[l.rid] = true
	}
	relay.sub.mu.Unlock()
	require.Equal(t, map[string]bool{"q": true, "h": true, "f": true}, rids)
	r, ok := edge.Room("web")
	require.True(t, ok)
	require.Equal(t, "origin-1", r.Origin())
	var up *upTrack
	for id := range tracks {
		r.mu.Lock()
		ups := r.participants["pub"].pub.published()
		r.mu.Unlock()
		for _, u := range ups {
			if u.id == id {
				up = u
			}
		}
	}
	require.NotNil(t, up, "the publisher's camera is a track of the edge room")
	viewer.waitUntil(func() bool { return len(up.layerList()) == 3 }, "three layers on the edge")
	oc, ec := origin.Census(), edge.Census()
	require.Equal(t, [3]int{0, 1, 3}, [3]int{oc.EdgeRooms, oc.Relays, oc.RelayedLayers}, "the origin's census")
	require.Equal(t, [3]int{1, 0, 0}, [3]int{ec.EdgeRooms, ec.Relays, ec.RelayedLayers}, "the edge's census")
	require.Equal(t, 1, oc.Participants[RolePresenter]+oc.Participants[RoleAttendee], "the relay is nobody on the origin")

	// Nobody sees the relay.
	originRoom, ok := origin.Room("web")
	require.True(t, ok)
	for _, p := range originRoom.Participants() {
		require.False(t, isRelayID(p.ID), "relay listed on the origin")
	}
	require.Zero(t, pub.count(func(m signal.ServerMessage) bool {
		if m.Type == signal.TypeParticipantJoined && isRelayID(m.Participant.ID) {
			return true
		}
		for _, p := range m.Joined {
			if isRelayID(p.ID) {
				return true
			}
		}
		return false
	}), "relay announced to the publisher")
	for _, p := range r.Participants() {
		require.False(t, isRelayID(p.ID))
	}

	// The origin's chat reaches the viewer on the edge.
	pub.send(map[string]any{"type": "chat", "text": "bonjour"})
	chat := viewer.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeChat })
	require.Equal(t, "bonjour", chat.Text)
	require.Equal(t, "pub", chat.From)

	// A NACK of the viewer is answered at the edge.
	var ssrc uint32
	for id := range tracks {
		ssrc = viewer.track(id).SSRC
	}
	originSent := origin.ForwardStats().Retransmitted
	last := lastSeq.Load()
	require.NoError(t, viewer.PeerConnection().WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{uint16(last - 2)})}}))
	viewer.waitUntil(func() bool { return edge.ForwardStats().Retransmitted > 0 }, "a retransmission by the edge")
	require.Equal(t, originSent, origin.ForwardStats().Retransmitted, "the origin sent nothing again")

	// The viewer leaves: the edge room closes, and its link leaves the origin.
	require.NoError(t, viewer.leave())
	<-r.Done()
	require.Eventually(t, func() bool { return relayOf(origin, "web") == nil }, waitFor, 10*time.Millisecond, "the relay gone from the origin")
	require.Eventually(t, func() bool { return len(originRoom.Participants()) == 1 }, waitFor, 10*time.Millisecond, "the viewer gone from the origin")
}

// TestEdgeTokenWithoutOriginsIsRefused: a server that links to no origin does not open
// an edge room.
func TestEdgeTokenWithoutOriginsIsRefused(t *testing.T) {
	srv := newTestServer(t)
	c := connect(t, srv, srv.edgeToken(t, "web", "viewer", "origin-1"))
	code, _, err := c.waitClosed()
	require.ErrorIs(t, err, ErrNoOrigin)
	require.NotEqual(t, signal.CloseNormal, code)
}

// TestRelayMayOnlyNegotiate: a relay's other messages are refused.
func TestRelayMayOnlyNegotiate(t *testing.T) {
	origin := newTestServer(t)
	serverEnd, clientEnd := newMemPipe()
	done := make(chan error, 1)
	go func() {
		done <- origin.ServeRelay(context.Background(), serverEnd, RelayParams{Room: "web", Kind: KindWebinar, Edge: "edge-1"})
	}()
	b := &bot{conn: clientEnd, done: done}
	t.Cleanup(func() { _ = clientEnd.Close(signal.CloseNormal, ""); <-done })
	require.Equal(t, signal.TypeJoined, b.next(t).Type)
	b.send(t, map[string]any{"type": "chat", "text": "from a relay"})
	m := b.next(t)
	require.Equal(t, signal.TypeError, m.Type)
	require.Equal(t, signal.CodeUnknownType, m.Code)
	r, ok := origin.Room("web")
	require.True(t, ok)
	require.Empty(t, r.Participants(), "a relay is nobody")

	// A locked room takes no new viewer from an edge, even one the edge let in.
	r.SetLocked(true)
	require.Equal(t, signal.TypeRoomState, b.next(t).Type)
	b.send(t, map[string]any{"type": "relay", "action": "enter", "participant_id": "late", "name": "Late"})
	m = b.next(t)
	require.Equal(t, signal.TypeRelay, m.Type)
	require.Equal(t, "late", m.ParticipantID)
	require.Equal(t, signal.CodeRoomLocked, m.Code)
	require.Empty(t, r.Participants())
}

// TestRelayTokens: a relay token verifies as one and only as one, once; a join token is
// not a relay token; an expired, tampered or too long-lived one is refused.
func TestRelayTokens(t *testing.T) {
	s := newTestSigner(t)
	now := time.Now()
	c := RelayClaims{Room: "web", Kind: KindWebinar, Origin: "node-a", Edge: "node-b", Epoch: 3, Expiry: now.Add(time.Minute).Unix()}
	tok, err := s.SignRelay(c)
	require.NoError(t, err)
	got, err := s.VerifyRelay(tok, now)
	require.NoError(t, err)
	require.NotEmpty(t, got.Nonce, "each token made unique")
	c.Nonce = got.Nonce
	require.Equal(t, c, got)
	_, err = s.VerifyRelay(tok, now.Add(time.Second))
	require.ErrorIs(t, err, ErrTokenUsed, "presented again: refused")
	again, err := s.SignRelay(RelayClaims{Room: "web", Kind: KindWebinar, Origin: "node-a", Edge: "node-b", Epoch: 3, Expiry: c.Expiry})
	require.NoError(t, err)
	require.NotEqual(t, tok, again, "the same claims signed again make another token")
	_, err = s.VerifyRelay(again, now)
	require.NoError(t, err, "the next dial's token is good")
	tok, err = s.SignRelay(c) // the same nonce: the same token
	require.NoError(t, err)
	_, err = s.VerifyRelay(tok, now)
	require.ErrorIs(t, err, ErrTokenUsed)

	_, err = s.Verify(tok, now)
	require.ErrorIs(t, err, ErrTokenInvalid, "a relay token is no join token")
	join, err := s.Sign(Claims{Room: "web", Participant: "node-b", Role: RoleAttendee, Kind: KindWebinar, IssuedAt: now, Expiry: now.Add(time.Minute)})
	require.NoError(t, err)
	_, err = s.VerifyRelay(join, now)
	require.ErrorIs(t, err, ErrTokenInvalid, "a join token is no relay token")

	_, err = s.VerifyRelay(tok, now.Add(2*time.Minute))
	require.ErrorIs(t, err, ErrTokenExpired)
	tampered := []byte(tok)
	tampered[3] ^= 1
	_, err = s.VerifyRelay(string(tampered), now)
	require.ErrorIs(t, err, ErrTokenInvalid)
	long := c
	long.Expiry = now.Add(time.Hour).Unix()
	tok, err = s.SignRelay(long)
	require.NoError(t, err)
	_, err = s.VerifyRelay(tok, now)
	require.ErrorIs(t, err, ErrTokenInvalid)
	other, err := NewTokenSigner(bytes.Repeat([]byte("o"), 32))
	require.NoError(t, err)
	_, err = other.VerifyRelay(tok, now)
	require.ErrorIs(t, err, ErrTokenInvalid)
}

// TestEdgeViewersTakePartAtTheOrigin: a viewer of an edge room is a participant of the
// origin's room: listed there, its chat and raised hand reach the origin's participants
// and come back to it, it cannot be given a role that speaks, and a removal at the origin
// ends its session on the edge.
func TestEdgeViewersTakePartAtTheOrigin(t *testing.T) {
	origin := newTestServer(t)
	edge := newTestServer(t, func(p *Params) {
		p.Origins = &pipeOrigins{origin: origin, edge: "edge-1"}
		p.Tokens = origin.tokens
	})
	pub := join(t, origin, origin.token(t, "web", "pub", RolePresenter, KindWebinar))
	viewer := join(t, edge, edge.edgeToken(t, "web", "viewer", "origin-1"))

	joined := pub.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeParticipantJoined && m.Participant.ID == "viewer"
	})
	require.Equal(t, "Name of viewer", joined.Participant.Name)
	require.Equal(t, RoleAttendee, joined.Participant.Role)

	viewer.send(map[string]any{"type": "chat", "text": "une question"})
	for _, c := range []*testClient{pub, viewer} {
		m := c.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeChat })
		require.Equal(t, "viewer", m.From)
		require.Equal(t, "une question", m.Text)
	}
	viewer.send(map[string]any{"type": "hand", "raised": true})
	pub.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeHands && len(m.Queue) == 1 && m.Queue[0] == "viewer"
	})
	viewer.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeHands && len(m.Queue) == 1 })

	// A private message to the moderators: they get it, and so does its author, on the edge.
	mod := join(t, origin, origin.token(t, "web", "mod", RoleModerator, KindWebinar))
	viewer.send(map[string]any{"type": "chat", "text": "pour les modérateurs", "to": "moderators"})
	for _, c := range []*testClient{mod, viewer} {
		m := c.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeChat && m.To == "moderators" })
		require.Equal(t, "viewer", m.From)
	}
	require.Zero(t, pub.count(func(m signal.ServerMessage) bool { return m.Type == signal.TypeChat && m.To == "moderators" }))

	// A poll: the viewer's vote counts at the origin, and its copy says what it voted.
	mod.send(map[string]any{"type": "poll_create", "question": "Oui ?", "options": []string{"oui", "non"}})
	mod.send(map[string]any{"type": "poll_open", "poll_id": "poll-1"})
	viewer.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypePoll && m.State == "open" })
	viewer.send(map[string]any{"type": "vote", "poll_id": "poll-1", "choices": []int{1}})
	mod.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypePoll && m.Voted == 1 && len(m.Results) == 2 && m.Results[1] == 1
	})
	mine := viewer.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypePoll && m.Voted == 1 })
	require.Equal(t, []int{1}, mine.MyVote)
	late := join(t, edge, edge.edgeToken(t, "web", "late", "origin-1"))
	lateJoined := late.waitMsg(ofType(signal.TypeJoined))
	require.Len(t, lateJoined.Polls, 1, "a viewer entering the edge later gets the open poll")
	require.Equal(t, "open", lateJoined.Polls[0].State)
	require.Empty(t, lateJoined.Polls[0].MyVote)
	// The poll's later states, which the relay sees as an attendee, show the viewer its
	// vote as the origin took it.
	mod.send(map[string]any{"type": "poll_close", "poll_id": "poll-1"})
	closed := viewer.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypePoll && m.State == "closed" })
	require.Equal(t, []int{1}, closed.MyVote)
	lateClosed := late.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypePoll && m.State == "closed" })
	require.Empty(t, lateClosed.MyVote, "nobody else's vote")

	r, ok := origin.Room("web")
	require.True(t, ok)
	require.ErrorIs(t, r.SetRole("viewer", RolePresenter), ErrWatchesElsewhere)
	require.NoError(t, r.Remove("viewer"))
	code, _, err := viewer.waitClosed()
	require.Equal(t, signal.CloseRemoved, code)
	require.ErrorIs(t, err, ErrRemoved)
	pub.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeParticipantLeft && m.ParticipantID == "viewer" ||
			m.Type == signal.TypeParticipants && slices.Contains(m.Left, "viewer")
	})
}

// TestRelayTakesLargerDescriptions: a relay's descriptions carry an m-line per relayed
// layer: its connection takes messages up to MaxRelayMessageSize, a client's up to
// signal.MaxMessageSize.
func TestRelayTakesLargerDescriptions(t *testing.T) {
	sdp := "v=0\r\n" + strings.Repeat("a=x-filler:"+strings.Repeat("0", 1000)+"\r\n", 200) // ~200 KB
	msg := encode(signal.SDPMessage{Type: signal.TypeAnswer, SDP: sdp})
	require.Greater(t, len(msg), signal.MaxMessageSize)
	_, err := signal.DecodeClientUpTo(msg, (&participant{member: &member{mode: modeDirect}}).messageLimit())
	require.ErrorIs(t, err, ErrMessageTooLarge)
	m, err := signal.DecodeClientUpTo(msg, (&participant{member: &member{mode: modeRelay}}).messageLimit())
	require.NoError(t, err)
	require.Equal(t, sdp, m.SDP)
}

// newEdgePair is an origin server and an edge server linked to it in memory, their empty
// rooms closing after grace.
func newEdgePair(t *testing.T, grace time.Duration) (origin, edge *testServer) {
	origin = newTestServer(t, func(p *Params) { p.EmptyRoomGrace = grace })
	edge = newTestServer(t, func(p *Params) {
		p.Origins = &pipeOrigins{origin: origin, edge: "edge-1"}
		p.Tokens = origin.tokens
		p.EmptyRoomGrace = grace
	})
	return origin, edge
}

// TestOriginRoomOfEdgeViewersOnly: a room the edges' viewers alone hold open on the origin
// stays open past the grace period; when it closes there, its edge viewers are told it is
// closed, not moved.
func TestOriginRoomOfEdgeViewersOnly(t *testing.T) {
	origin, edge := newEdgePair(t, 50*time.Millisecond)
	viewer := join(t, edge, edge.edgeToken(t, "web", "viewer", "origin-1"))
	require.Eventually(t, func() bool {
		r, ok := origin.Room("web")
		return ok && len(r.Participants()) == 1
	}, waitFor, 10*time.Millisecond, "the viewer listed on the origin")
	r, _ := origin.Room("web")
	select {
	case <-r.Done():
		t.Fatal("the origin's room closed with an edge viewer in it")
	case <-time.After(300 * time.Millisecond): // six grace periods
	}
	require.NoError(t, r.Close())
	code, _, err := viewer.waitClosed()
	require.Equal(t, signal.CloseRoomClosed, code)
	require.ErrorIs(t, err, ErrRoomClosed)
}

// TestEdgeViewersFollowTheOriginsRights: a locked room takes no new viewer through an
// edge; revoking an invitation removes its edge viewers; a viewer entering an edge room
// during a recording is told at once.
func TestEdgeViewersFollowTheOriginsRights(t *testing.T) {
	origin, edge := newEdgePair(t, time.Minute)
	mod := join(t, origin, origin.token(t, "web", "mod", RoleModerator, KindWebinar))
	invited := join(t, edge, edge.edgeToken(t, "web", "invited", "origin-1", "inv-1"))
	mod.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeParticipantJoined && m.Participant.ID == "invited"
	})
	r, _ := origin.Room("web")

	require.NoError(t, r.SetRecording(true))
	invited.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeRecording && m.Active })
	late := join(t, edge, edge.edgeToken(t, "web", "late", "origin-1"))
	joined := late.waitMsg(ofType(signal.TypeJoined))
	require.True(t, joined.Recording, "a viewer entering the edge during a recording is told in its joined message")

	require.Equal(t, 1, r.RemoveInvitees("inv-1"))
	code, _, err := invited.waitClosed()
	require.Equal(t, signal.CloseRemoved, code)
	require.ErrorIs(t, err, ErrRemoved)

	r.SetLocked(true)
	late.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeRoomState && m.Locked })
	// Refused at the edge, which knows the lock; were it not, the origin would refuse.
	newcomer := connect(t, edge, edge.edgeToken(t, "web", "newcomer", "origin-1"))
	code, _, err = newcomer.waitClosed()
	require.Equal(t, signal.CloseRoomLocked, code)
	require.ErrorIs(t, err, ErrRoomLocked)
	require.NotContains(t, participantIDs(r), "newcomer")
}

// participantIDs are the ids of the participants r lists.
func participantIDs(r *Room) []string {
	var ids []string
	for _, p := range r.Participants() {
		ids = append(ids, p.ID)
	}
	return ids
}

// roleGate admits every entry as it is and records the roles given, as the API's gate
// does in the database.
type roleGate struct {
	mu    sync.Mutex
	roles map[string]Role
}

func (g *roleGate) Admit(_ context.Context, c Claims) (Claims, error) { return c, nil }

func (g *roleGate) Revoke(context.Context, string, string, time.Time) error { return nil }

func (g *roleGate) RecordRole(_ context.Context, room, participant string, role Role, _ time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.roles[room+"/"+participant] = role
	return nil
}

// TestEdgeViewerGivenARoleThatSpeaks: a viewer of an edge node made a presenter is sent to
// the origin (room_moved), its role recorded for its return; a role given to a participant
// of the origin is recorded too.
func TestEdgeViewerGivenARoleThatSpeaks(t *testing.T) {
	gate := &roleGate{roles: map[string]Role{}}
	origin := newTestServer(t, func(p *Params) { p.Gate = gate })
	edge := newTestServer(t, func(p *Params) {
		p.Origins = &pipeOrigins{origin: origin, edge: "edge-1"}
		p.Tokens = origin.tokens
	})
	mod := join(t, origin, origin.token(t, "web", "mod", RoleModerator, KindWebinar))
	att := join(t, origin, origin.token(t, "web", "att", RoleAttendee, KindWebinar))
	viewer := join(t, edge, edge.edgeToken(t, "web", "viewer", "origin-1"))
	mod.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeParticipantJoined && m.Participant.ID == "viewer" ||
			m.Type == signal.TypeParticipants && slices.ContainsFunc(m.Joined, func(p ParticipantInfo) bool { return p.ID == "viewer" })
	})
	r, _ := origin.Room("web")

	require.NoError(t, r.SetRole("viewer", RolePresenter))
	code, _, err := viewer.waitClosed()
	require.Equal(t, signal.CloseRoomMoved, code)
	require.ErrorIs(t, err, ErrRoomMoved)
	require.NoError(t, r.SetRole("att", RolePresenter))
	att.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeRole && m.Role == RolePresenter })
	gate.mu.Lock()
	defer gate.mu.Unlock()
	require.Equal(t, map[string]Role{"web/viewer": RolePresenter, "web/att": RolePresenter}, gate.roles)
}

// TestEdgeViewerReceivesAPublisherWhoComesBack: a publisher of the origin leaves and comes
// back, three times; the viewer of an edge receives the new tracks each time. The edge's
// link, a Pion PeerConnection, gets them on the m-lines the old ones freed, inactive in
// between (signal.KeepReceivers), and keeps its number of m-lines.
func TestEdgeViewerReceivesAPublisherWhoComesBack(t *testing.T) {
	origin, edge := newEdgePair(t, time.Minute)
	viewer := join(t, edge, edge.edgeToken(t, "web", "viewer", "origin-1"))
	viewer.receiveOnly()
	transceivers := func() int {
		r, ok := edge.Room("web")
		require.True(t, ok)
		r.mu.Lock()
		l := r.link
		r.mu.Unlock()
		require.NotNil(t, l, "the edge room's link")
		return len(l.pc.GetTransceivers())
	}
	first := 0
	for round := range 3 {
		pub := join(t, origin, origin.token(t, "web", "pub", RolePresenter, KindWebinar))
		pub.publish(false, 25)
		viewer.waitMedia("pub", 2, 10)
		if round == 0 {
			first = transceivers()
		} else {
			require.Equal(t, first, transceivers(), "round %d: the m-lines of the edge's link", round)
		}
		require.NoError(t, pub.leave())
		viewer.waitUntil(func() bool { return len(viewer.tracksOfLocked("pub")) == 0 }, "pub's tracks removed")
	}
}
