package sfu

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"webinaire/sfu/signal"
)

// Room is a meeting or a webinar: the members connected to one room id (participants on
// a signalling connection, WHIP and WHEP sessions; see member), who receive each other's
// tracks. Its state is changed under mu and copied out; messages and media calls happen
// after mu is released. Lock order: Server.mu, then Room.mu, then a member's publisher or
// subscriber lock (member.pub.mu, member.sub.mu).
type Room struct {
	id   string
	kind RoomKind
	srv  *Server
	log  *slog.Logger
	done chan struct{}

	mu           sync.Mutex
	closed       bool
	participants map[string]*member
	// roles are the roles SetRole gave, kept while the room is open so that joining
	// again with the original token neither loses a promotion nor undoes a demotion.
	roles     map[string]Role
	stopTimer func() bool // cancels the empty-room timer, nil when none runs

	speakers speakerDetector
	// collab is the chat, polls, hands and lock of the session, guarded by mu.
	collab collab
	// seen are the participants who joined during the session: they may come back
	// into a locked room.
	seen map[string]bool
	// waiting are the participants in the lobby.
	waiting map[string]*member
	// sinks receive every published track.
	sinks []*SinkHandle
	// slides are the PDF presented now, or nil.
	slides *slideDeck
	// recording is set while the session is recorded.
	recording bool
	// broadcasting is set while the session is broadcast live.
	broadcasting bool
	// updates are the changes of the room's state not yet told, see UpdateWindow.
	updates roomUpdates
	// capLogged are the caps (participants, lobby) whose refusals were logged.
	capLogged map[string]bool
	// origin is the node the room is an edge of (edge.go), empty for a room of this
	// node's own; fixed when the room opens.
	origin string
	// originEpoch is the epoch of the origin's placement the edge room opened for.
	originEpoch int64
	// link is an edge room's link to its origin, once it is up; guarded by mu.
	link *edgeLink
	// edgePolls are an edge room's polls, the origin's as they last came, for the
	// viewers entering here; guarded by mu.
	edgePolls []signal.PollMessage
	// parent is the main room of a breakout room, nil for a main room; set at creation.
	parent *Room
	// brk are the breakout rooms of a main room while they are open, nil otherwise.
	brk *breakouts
}

func newRoom(s *Server, id string, kind RoomKind) *Room {
	return &Room{
		id:           id,
		kind:         kind,
		srv:          s,
		log:          s.log.With("room", id),
		done:         make(chan struct{}),
		participants: make(map[string]*member),
		roles:        make(map[string]Role),
		seen:         make(map[string]bool),
		waiting:      make(map[string]*member),
	}
}

// ID is the room id.
func (r *Room) ID() string { return r.id }

// Kind is meeting or webinar, fixed when the room opened.
func (r *Room) Kind() RoomKind { return r.kind }

// Done is closed when the room has closed.
func (r *Room) Done() <-chan struct{} { return r.done }

// Participants describes the participants present now.
func (r *Room) Participants() []ParticipantInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ParticipantInfo, 0, len(r.participants))
	for _, p := range r.participants {
		if !p.hidden() {
			out = append(out, p.infoRoomLocked())
		}
	}
	return out
}

// SetRole changes a participant's role. In a webinar, an attendee promoted to presenter
// or moderator starts publishing the tracks it offered (the others get them through a
// renegotiation), and a presenter demoted to attendee stops. Everyone is told with a
// role message. The role is recorded through the Gate (RoleRecorder), so that it holds
// when the participant comes back, on whichever node runs the room. A viewer of an edge
// node given a role that speaks is sent to this node: its edge ends its session with
// room_moved, and it comes back here through rejoin, in its new role.
func (r *Room) SetRole(participantID string, role Role) error {
	if !role.Valid() {
		return ErrInvalidRole
	}
	r.mu.Lock()
	p := r.memberLocked(participantID)
	r.mu.Unlock()
	if p != nil && p.via != nil && role != RoleAttendee {
		return r.moveToOrigin(p, role)
	}
	c, err := r.changeRole(participantID, role)
	if err != nil {
		return err
	}
	r.srv.recordRole(r.id, participantID, role)
	everyone := append(slices.Clone(c.others), c.p)

	r.log.Info("role changed", "participant", participantID, "role", role)
	msg := encode(signal.RoleMessage{Type: signal.TypeRole, ParticipantID: participantID, Role: role})
	for _, o := range everyone {
		o.session.sendRaw(msg)
	}
	for _, up := range c.published {
		for _, o := range c.others {
			o.session.subscribe(up)
		}
		for _, h := range c.sinks {
			h.subscribe(up)
		}
	}
	for _, d := range c.dropped {
		d.drop()
	}
	return nil
}

// roleChange is what changing a participant's role under the room's lock leaves to do
// outside it.
type roleChange struct {
	p         *member
	published []*upTrack   // tracks it may publish now, for the others and the sinks
	dropped   []*downTrack // what the others received of it and may no longer
	others    []*member
	sinks     []*SinkHandle
}

// changeRole gives a participant its role under the room's lock: its tracks are parked or
// published as the role allows.
func (r *Room) changeRole(participantID string, role Role) (roleChange, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return roleChange{}, ErrRoomClosed
	}
	p := r.memberLocked(participantID)
	if p == nil {
		return roleChange{}, ErrParticipantNotFound
	}
	c := roleChange{p: p}
	could := r.kind.CanPublish(p.role)
	p.role = role
	r.roles[participantID] = role
	can := r.kind.CanPublish(role)
	switch {
	case can && !could:
		c.published = p.pub.unparkRoomLocked()
	case could && !can:
		c.dropped = p.pub.parkRoomLocked()
	}
	if len(c.published) > 0 {
		r.announceLocked(p)
	}
	c.others = r.othersLocked(p)
	c.sinks = slices.Clone(r.sinks)
	return c, nil
}

// Remove disconnects a participant, in the room or its lobby, and revokes its id in the
// room (in this process and through the Gate on every node), so that no token issued for
// it before now brings it back. A participant who has left during the session may be
// removed too. Any other id is ErrParticipantNotFound and revokes nothing: the
// revocations are bounded by the participants a room has really had.
func (r *Room) Remove(participantID string) error {
	r.mu.Lock()
	p := r.memberLocked(participantID)
	if p == nil {
		p = r.waiting[participantID]
	}
	known := p != nil || r.seen[participantID] && !isRelayID(participantID)
	var until time.Time
	if known {
		// Under the lock: a connection of the participant past the Gate but not yet in
		// the room is refused by add, or found here and ended below.
		until = r.srv.revokeHere(r.id, participantID)
	}
	r.mu.Unlock()
	if !known {
		return ErrParticipantNotFound
	}
	r.srv.revokeEverywhere(r.id, participantID, until)
	r.log.Info("participant removed", "participant", participantID)
	if p != nil {
		p.session.end(endCause{err: ErrRemoved, code: signal.CloseRemoved, reason: "removed from the room", errCode: signal.CodeRemoved})
	}
	// Out of the breakout rooms too: their entries check the main room's removals.
	for _, o := range r.everyone() {
		if o.id == participantID && o.room != r {
			o.session.end(endCause{err: ErrRemoved, code: signal.CloseRemoved, reason: "removed from the room", errCode: signal.CodeRemoved})
		}
	}
	return nil
}

// RemoveInvitees removes, as Remove does, every participant in the room or its lobby who
// entered with a token minted from the invitation, and returns how many.
func (r *Room) RemoveInvitees(invitationID string) int {
	if invitationID == "" {
		return 0
	}
	r.mu.Lock()
	var ids []string
	for id, p := range r.participants {
		if p.claims.Invitation == invitationID {
			ids = append(ids, id)
		}
	}
	for id, p := range r.waiting {
		if p.claims.Invitation == invitationID {
			ids = append(ids, id)
		}
	}
	r.mu.Unlock()
	n := 0
	for _, id := range ids {
		if r.Remove(id) == nil {
			n++
		}
	}
	return n
}

// Close disconnects everyone and closes the room now.
func (r *Room) Close() error {
	r.close(endCause{err: ErrRoomClosed, code: signal.CloseRoomClosed, reason: "the room was closed", errCode: signal.CodeRoomClosed})
	return nil
}

func (r *Room) close(cause endCause) {
	ps, closing := r.markClosed(false)
	if !closing {
		return
	}
	r.mu.Lock()
	b := r.brk
	r.brk = nil
	r.mu.Unlock()
	r.srv.closeBreakouts(b, cause)
	for _, p := range ps {
		switch {
		case p.via != nil:
			// A viewer of an edge node: its edge ends it with the room, below.
		case p.hidden():
			// The edge ends its whole room, once, with this cause.
			p.session.sendRaw(encode(signal.RelayMessage{Type: signal.TypeRelay, Action: signal.RelayEnd, Code: cause.errCode}))
			p.session.end(cause)
		default:
			p.session.end(cause)
		}
	}
	r.mu.Lock()
	sinks := r.sinks
	r.mu.Unlock()
	for _, h := range sinks {
		h.Close()
	}
	r.dropCollab()
	close(r.done)
	r.log.Info("room closed")
}

// markClosed marks the room closed and forgets it (under the server's and the room's
// locks), and returns who is in it and in its lobby; false when it was closed already, or,
// with onlyEmpty, when someone is in it or waits.
func (r *Room) markClosed(onlyEmpty bool) ([]*member, bool) {
	r.srv.mu.Lock()
	defer r.srv.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || onlyEmpty && (r.occupiedLocked() > 0 || len(r.waiting) > 0) {
		return nil, false
	}
	r.closed = true
	r.setSlidesLocked(nil) // the session's file goes with it
	r.stopUpdatesLocked()
	if r.stopTimer != nil {
		r.stopTimer()
		r.stopTimer = nil
	}
	r.srv.forgetLocked(r)
	ps := r.othersLocked(nil)
	for _, w := range r.waiting {
		ps = append(ps, w)
	}
	return ps, true
}

// expire closes the room if it is still empty when the grace period is over. It runs on
// a timer's goroutine of its own.
func (r *Room) expire() {
	defer r.srv.panics.Recover(PartRoom, r.log, nil)
	if r.breakoutsInUse() {
		// Its participants are in its breakout rooms: it waits for them.
		r.mu.Lock()
		r.stopTimer = nil
		r.startGraceLocked()
		r.mu.Unlock()
		return
	}
	if _, closing := r.markClosed(true); !closing {
		return
	}
	r.mu.Lock()
	sinks := r.sinks
	b := r.brk
	r.brk = nil
	r.mu.Unlock()
	// None of its breakout rooms is open: this stops their timer.
	r.srv.closeBreakouts(b, breakoutEnded)
	defer close(r.done) // after a panic too: whoever waits for the room learns it closed
	for _, h := range sinks {
		h.Close()
	}
	r.dropCollab()
	r.log.Info("room closed", "reason", "empty")
}

// add puts p in the room (Server.mu held), or in its lobby when its token says so and it
// was not admitted before; see enterLocked. A locked room refuses the participants new
// to it.
func (r *Room) add(p *member) (replaced *member, ups []*upTrack, waiting bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The Gate admitted p before it got here: a removal since then refuses it.
	if r.srv.tokens.isRevoked(MainRoom(r.id), p.id, r.srv.clock.Now()) || r.srv.tokens.isRevoked(r.id, p.id, r.srv.clock.Now()) {
		r.startGraceLocked() // a room just opened for p closes again
		return nil, nil, false, ErrTokenRevoked
	}
	// The role given in the room during the session, if any, is the one that counts.
	role := p.claims.Role
	if given, ok := r.roles[p.id]; ok {
		role = given
	}
	if p.hidden() {
		// A relay is no one: the lock, the lobby and the seats are for participants.
		p.room = r
		replaced, ups = r.enterLocked(p)
		return replaced, ups, false, nil
	}
	if r.collab.locked && !r.seen[p.id] && role != RoleModerator {
		return nil, nil, false, ErrRoomLocked
	}
	if p.claims.Lobby && !r.seen[p.id] && role != RoleModerator && r.parent == nil {
		replaced = r.waiting[p.id]
		if replaced == nil && len(r.waiting) >= r.srv.maxLobby {
			r.capReachedLocked("lobby")
			return nil, nil, false, ErrLobbyFull
		}
		p.room = r
		r.waiting[p.id] = p
		p.waiting.Store(true)
		if r.stopTimer != nil {
			r.stopTimer()
			r.stopTimer = nil
		}
		p.session.sendRaw(encode(signal.LobbyWaitMessage{Type: signal.TypeLobbyWait, ParticipantID: p.id, Name: p.claims.Name, RoomID: r.id, Recording: r.recording, Broadcasting: r.broadcasting, SessionToken: p.sessionToken}))
		r.lobbyChangedLocked()
		return replaced, nil, true, nil
	}
	if role != RoleModerator && r.freeSeatsLocked(p.id) < 1 {
		r.capReachedLocked("participants")
		return nil, nil, false, ErrRoomFull
	}
	p.room = r
	// The same participant waiting in the lobby on another connection (its lobby was
	// lifted since) is replaced: it is in the room now.
	waiter := r.waiting[p.id]
	if waiter != nil {
		delete(r.waiting, p.id)
		r.lobbyChangedLocked()
	}
	replaced, ups = r.enterLocked(p)
	if replaced == nil {
		replaced = waiter // a participant is never both waiting and in the room
	}
	return replaced, ups, false, nil
}

// freeSeatsLocked is how many more participants the room takes, counting the seat of
// the participant with id, if any, as free: it comes back in its own place.
func (r *Room) freeSeatsLocked(id string) int {
	n := r.srv.maxParticipants[r.kind] - r.localLocked()
	if r.participants[id] != nil {
		n++
	}
	return n
}

// capReachedLocked logs, once per room and cap, that the room refuses participants.
func (r *Room) capReachedLocked(what string) {
	if r.capLogged[what] {
		return
	}
	if r.capLogged == nil {
		r.capLogged = map[string]bool{}
	}
	r.capLogged[what] = true
	r.log.Warn("room cap reached: participants refused", "cap", what, "participants", len(r.participants), "waiting", len(r.waiting))
}

// enterLocked puts p among the participants, in place of one with the same id. Under
// the lock, so that nothing reaches p before it, it queues the joined message to p; the
// others are told with the room's updates (see UpdateWindow). It returns the
// participant p replaces and the tracks p should receive.
func (r *Room) enterLocked(p *member) (replaced *member, ups []*upTrack) {
	r.seen[p.id] = true
	if r.stopTimer != nil {
		r.stopTimer()
		r.stopTimer = nil
	}
	replaced = r.participants[p.id]
	p.role = p.claims.Role
	if role, ok := r.roles[p.id]; ok {
		p.role = role
	}
	r.participants[p.id] = p
	others := []ParticipantInfo{}
	for _, o := range r.participants {
		if o == p || o == replaced || o.hidden() {
			continue
		}
		others = append(others, o.infoRoomLocked())
		ups = append(ups, o.pub.published()...)
	}
	chat, polls, hands := r.collabStateLocked(p)
	if p.hidden() {
		// An edge keeps the chat from its link's start: the history, up to 500 messages
		// of 2000 bytes, would make its first message too large.
		chat = []signal.ChatMessage{}
	}
	p.session.sendRaw(encode(signal.JoinedMessage{
		Type:          signal.TypeJoined,
		ParticipantID: p.id,
		Name:          p.claims.Name,
		RoomID:        r.id,
		RoomKind:      r.kind,
		Role:          p.role,
		Participants:  others,
		ICEServers:    p.ice,
		ActiveSpeaker: r.speakers.activeSpeaker(),
		Chat:          chat,
		Polls:         polls,
		Hands:         hands,
		Locked:        r.collab.locked,
		Spotlight:     r.collab.spotlight,
		Recording:     r.recording,
		Captions:      append([]signal.CaptionMessage{}, r.collab.captions...),
		Slides:        r.slides.message(),
		Broadcasting:  r.broadcasting,
		SessionToken:  p.sessionToken,
	}))
	if !p.hidden() {
		r.memberJoinedLocked(p)
		r.edgeEnteredLocked(p)
	}
	if p.role == RoleModerator {
		p.session.sendRaw(encode(signal.LobbyMessage{Type: signal.TypeLobby, Waiting: r.waitingLocked()}))
	}
	return replaced, ups
}

// leave takes p out of the room: its tracks stop being forwarded and the others are
// told. When the room becomes empty, the grace period starts.
func (r *Room) leave(p *member) {
	for _, up := range r.takeOut(p) {
		for _, d := range up.close() {
			d.drop()
		}
	}
}

// takeOut takes p out of the room, or out of its lobby, under the room's lock, and returns
// the tracks it published, to be closed outside it.
func (r *Room) takeOut(p *member) []*upTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waiting[p.id] == p {
		delete(r.waiting, p.id)
		r.lobbyChangedLocked()
		r.startGraceLocked()
		return nil
	}
	if r.participants[p.id] != p && r.waiting[p.id] != nil {
		return nil // a waiting participant replaced by its new connection
	}
	current := r.participants[p.id] == p
	if current {
		delete(r.participants, p.id)
	}
	ups := p.pub.takeAllRoomLocked()
	// A participant replaced by a new session of the same id has not left.
	if current && !p.hidden() {
		r.setHandLocked(p.id, false)
		if r.collab.spotlight == p.id {
			r.setSpotlightLocked("")
		}
		r.memberLeftLocked(p)
		r.edgeLeftLocked(p)
	}
	r.startGraceLocked()
	return ups
}

// publishResult is what became of a new track.
type publishResult int

const (
	published publishResult = iota // sent to the others
	parked                         // kept back: its publisher may not publish
	gone                           // the publisher is leaving
)

// publish offers a new track of p to the others, or parks it when p may not publish.
func (r *Room) publish(p *member, up *upTrack) publishResult {
	result, others, sinks := r.addTrack(p, up)
	for _, o := range others {
		o.session.subscribe(up)
	}
	for _, h := range sinks {
		h.subscribe(up)
	}
	return result
}

// addTrack adds up to p's tracks under the room's lock: published, and p announced, when
// p's role may publish, parked otherwise. It returns who must subscribe to it.
func (r *Room) addTrack(p *member, up *upTrack) (publishResult, []*member, []*SinkHandle) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.participants[p.id] != p {
		return gone, nil, nil
	}
	if !r.kind.CanPublish(p.role) {
		p.pub.addRoomLocked(up, false)
		return parked, nil, nil
	}
	p.pub.addRoomLocked(up, true)
	r.announceLocked(p)
	return published, r.othersLocked(p), slices.Clone(r.sinks)
}

// unpublish ends a track of p: its subscribers drop it.
func (r *Room) unpublish(p *member, up *upTrack) {
	r.speakers.forget(up)
	r.mu.Lock()
	p.pub.removeRoomLocked(up)
	r.mu.Unlock()
	for _, d := range up.close() {
		d.drop()
	}
}

// broadcast sends msg to everyone but except.
func (r *Room) broadcast(except *member, msg []byte) {
	r.mu.Lock()
	others := r.othersLocked(except)
	r.mu.Unlock()
	for _, o := range others {
		o.session.sendRaw(msg)
	}
}

// othersLocked lists the participants but except.
func (r *Room) othersLocked(except *member) []*member {
	out := make([]*member, 0, len(r.participants))
	for _, o := range r.participants {
		if o != except {
			out = append(out, o)
		}
	}
	return out
}

// dropCollab forgets the chat, polls and hands of a closed room and hands their counts
// to Params.OnRoomClosed. An edge room's are the copies of its origin's, whose own end
// counts them: an edge room does not.
func (r *Room) dropCollab() {
	r.mu.Lock()
	stats := r.collab.stats
	stats.Room = r.id
	r.collab = collab{}
	r.seen = map[string]bool{}
	r.mu.Unlock()
	if r.srv.onRoomClosed != nil && r.origin == "" {
		r.srv.onRoomClosed(stats)
	}
}

// startGraceLocked starts the empty-room timer when nobody is in the room or its lobby.
func (r *Room) startGraceLocked() {
	if r.occupiedLocked() == 0 && len(r.waiting) == 0 && !r.closed && r.stopTimer == nil {
		r.stopTimer = r.srv.clock.AfterFunc(r.srv.grace, r.expire)
	}
}

// memberLocked is the participant in the room with id, nil when there is none or it is
// a relay, which nobody may name.
func (r *Room) memberLocked(id string) *member {
	if p := r.participants[id]; p != nil && !p.hidden() {
		return p
	}
	return nil
}

// occupiedLocked counts who keeps the room open: everyone in it but, on an edge node,
// the origin's participants (the edge room closes when its own viewers have gone). On
// the origin, the relays and the viewers of edge nodes keep it open.
func (r *Room) occupiedLocked() int {
	n := 0
	for _, p := range r.participants {
		if p.mode != modeRemote || p.via != nil {
			n++
		}
	}
	return n
}

// localLocked counts the participants connected to this node: not the relays, nor, on an
// edge node, the origin's participants.
func (r *Room) localLocked() int {
	n := 0
	for _, p := range r.participants {
		if p.mode != modeRelay && p.mode != modeRemote {
			n++
		}
	}
	return n
}
