package sfu

import (
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Room is a meeting or a webinar: the participants connected to one room id, who
// receive each other's tracks. Its state is changed under mu and copied out; messages
// and media calls happen after mu is released. Lock order: Server.mu, then Room.mu, then
// participant.mu.
type Room struct {
	id   string
	kind RoomKind
	srv  *Server
	log  *slog.Logger
	done chan struct{}

	mu           sync.Mutex
	closed       bool
	participants map[string]*participant
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
	waiting map[string]*participant
	// sinks receive every published track.
	sinks []*SinkHandle
	// recording is set while the session is recorded.
	recording bool
	// updates are the changes of the room's state not yet told, see UpdateWindow.
	updates roomUpdates
	// capLogged are the caps (participants, lobby) whose refusals were logged.
	capLogged map[string]bool
}

func newRoom(s *Server, id string, kind RoomKind) *Room {
	return &Room{
		id:           id,
		kind:         kind,
		srv:          s,
		log:          s.log.With("room", id),
		done:         make(chan struct{}),
		participants: make(map[string]*participant),
		roles:        make(map[string]Role),
		seen:         make(map[string]bool),
		waiting:      make(map[string]*participant),
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
		out = append(out, p.infoLocked())
	}
	return out
}

// SetRole changes a participant's role. In a webinar, an attendee promoted to presenter
// or moderator starts publishing the tracks it offered (the others get them through a
// renegotiation), and a presenter demoted to attendee stops. Everyone is told with a
// role message.
func (r *Room) SetRole(participantID string, role Role) error {
	if !role.valid() {
		return ErrInvalidRole
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrRoomClosed
	}
	p := r.participants[participantID]
	if p == nil {
		r.mu.Unlock()
		return ErrParticipantNotFound
	}
	could := r.kind.canPublish(p.role)
	p.role = role
	r.roles[participantID] = role
	can := r.kind.canPublish(role)
	var published []*upTrack
	var dropped []*downTrack
	switch {
	case can && !could:
		published = p.unparkLocked()
	case could && !can:
		dropped = p.parkLocked()
	}
	if len(published) > 0 {
		r.announceLocked(p)
	}
	others := r.othersLocked(p)
	everyone := append(others, p)
	sinks := slices.Clone(r.sinks)
	r.mu.Unlock()

	r.log.Info("role changed", "participant", participantID, "role", role)
	msg := encode(roleMessage{Type: typeRole, ParticipantID: participantID, Role: role})
	for _, o := range everyone {
		o.sendRaw(msg)
	}
	for _, up := range published {
		for _, o := range others {
			o.subscribe(up)
		}
		for _, h := range sinks {
			h.subscribe(up)
		}
	}
	for _, d := range dropped {
		d.drop()
	}
	return nil
}

// Remove disconnects a participant, in the room or its lobby, and revokes its id in the
// room (in this process and through the Gate on every node), so that no token issued for
// it before now brings it back. A participant who has left during the session may be
// removed too. Any other id is ErrParticipantNotFound and revokes nothing: the
// revocations are bounded by the participants a room has really had.
func (r *Room) Remove(participantID string) error {
	r.mu.Lock()
	p := r.participants[participantID]
	if p == nil {
		p = r.waiting[participantID]
	}
	known := p != nil || r.seen[participantID]
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
		p.end(endCause{err: ErrRemoved, code: CloseRemoved, reason: "removed from the room", errCode: codeRemoved})
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
	r.close(endCause{err: ErrRoomClosed, code: CloseRoomClosed, reason: "the room was closed", errCode: codeRoomClosed})
	return nil
}

func (r *Room) close(cause endCause) {
	r.srv.mu.Lock()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.srv.mu.Unlock()
		return
	}
	r.closed = true
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
	r.mu.Unlock()
	r.srv.mu.Unlock()

	for _, p := range ps {
		p.end(cause)
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

// expire closes the room if it is still empty when the grace period is over. It runs on
// a timer's goroutine of its own.
func (r *Room) expire() {
	defer r.srv.panics.Recover(PartRoom, r.log, nil)
	r.srv.mu.Lock()
	r.mu.Lock()
	if r.closed || len(r.participants) > 0 || len(r.waiting) > 0 {
		r.mu.Unlock()
		r.srv.mu.Unlock()
		return
	}
	r.closed = true
	r.stopTimer = nil
	r.stopUpdatesLocked()
	r.srv.forgetLocked(r)
	sinks := r.sinks
	r.mu.Unlock()
	r.srv.mu.Unlock()
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
func (r *Room) add(p *participant) (replaced *participant, ups []*upTrack, waiting bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The Gate admitted p before it got here: a removal since then refuses it.
	if r.srv.tokens.isRevoked(r.id, p.id, r.srv.clock.Now()) {
		r.startGraceLocked() // a room just opened for p closes again
		return nil, nil, false, ErrTokenRevoked
	}
	// The role given in the room during the session, if any, is the one that counts.
	role := p.claims.Role
	if given, ok := r.roles[p.id]; ok {
		role = given
	}
	if r.collab.locked && !r.seen[p.id] && role != RoleModerator {
		return nil, nil, false, ErrRoomLocked
	}
	if p.claims.Lobby && !r.seen[p.id] && role != RoleModerator {
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
		p.sendRaw(encode(lobbyWaitMessage{Type: typeLobbyWait, ParticipantID: p.id, Name: p.claims.Name, RoomID: r.id, Recording: r.recording, SessionToken: p.sessionToken}))
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
	n := r.srv.maxParticipants[r.kind] - len(r.participants)
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
func (r *Room) enterLocked(p *participant) (replaced *participant, ups []*upTrack) {
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
		if o == p || o == replaced {
			continue
		}
		others = append(others, o.infoLocked())
		ups = append(ups, o.publishedLocked()...)
	}
	chat, polls, hands := r.collabStateLocked(p)
	p.sendRaw(encode(joinedMessage{
		Type:          typeJoined,
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
		Recording:     r.recording,
		SessionToken:  p.sessionToken,
	}))
	r.memberJoinedLocked(p)
	if p.role == RoleModerator {
		p.sendRaw(encode(lobbyMessage{Type: typeLobby, Waiting: r.waitingLocked()}))
	}
	return replaced, ups
}

// leave takes p out of the room: its tracks stop being forwarded and the others are
// told. When the room becomes empty, the grace period starts.
func (r *Room) leave(p *participant) {
	r.mu.Lock()
	if r.waiting[p.id] == p {
		delete(r.waiting, p.id)
		r.lobbyChangedLocked()
		r.startGraceLocked()
		r.mu.Unlock()
		return
	}
	if r.participants[p.id] != p && r.waiting[p.id] != nil {
		r.mu.Unlock()
		return // a waiting participant replaced by its new connection
	}
	current := r.participants[p.id] == p
	if current {
		delete(r.participants, p.id)
	}
	ups := p.takeAllUpsLocked()
	// A participant replaced by a new session of the same id has not left.
	if current {
		r.setHandLocked(p.id, false)
		r.memberLeftLocked(p)
	}
	r.startGraceLocked()
	r.mu.Unlock()

	for _, up := range ups {
		for _, d := range up.close() {
			d.drop()
		}
	}
}

// publishResult is what became of a new track.
type publishResult int

const (
	published publishResult = iota // sent to the others
	parked                         // kept back: its publisher may not publish
	gone                           // the publisher is leaving
)

// publish offers a new track of p to the others, or parks it when p may not publish.
func (r *Room) publish(p *participant, up *upTrack) publishResult {
	r.mu.Lock()
	if r.closed || r.participants[p.id] != p {
		r.mu.Unlock()
		return gone
	}
	if !r.kind.canPublish(p.role) {
		p.addUpLocked(up, false)
		r.mu.Unlock()
		return parked
	}
	p.addUpLocked(up, true)
	r.announceLocked(p)
	others := r.othersLocked(p)
	sinks := slices.Clone(r.sinks)
	r.mu.Unlock()
	for _, o := range others {
		o.subscribe(up)
	}
	for _, h := range sinks {
		h.subscribe(up)
	}
	return published
}

// unpublish ends a track of p: its subscribers drop it.
func (r *Room) unpublish(p *participant, up *upTrack) {
	r.speakers.forget(up)
	r.mu.Lock()
	p.removeUpLocked(up)
	r.mu.Unlock()
	for _, d := range up.close() {
		d.drop()
	}
}

// broadcast sends msg to everyone but except.
func (r *Room) broadcast(except *participant, msg []byte) {
	r.mu.Lock()
	others := r.othersLocked(except)
	r.mu.Unlock()
	for _, o := range others {
		o.sendRaw(msg)
	}
}

// othersLocked lists the participants but except.
func (r *Room) othersLocked(except *participant) []*participant {
	out := make([]*participant, 0, len(r.participants))
	for _, o := range r.participants {
		if o != except {
			out = append(out, o)
		}
	}
	return out
}

// dropCollab forgets the chat, polls and hands of a closed room and hands their counts
// to Params.OnRoomClosed.
func (r *Room) dropCollab() {
	r.mu.Lock()
	stats := r.collab.stats
	stats.Room = r.id
	r.collab = collab{}
	r.seen = map[string]bool{}
	r.mu.Unlock()
	if r.srv.onRoomClosed != nil {
		r.srv.onRoomClosed(stats)
	}
}

// startGraceLocked starts the empty-room timer when nobody is in the room or its lobby.
func (r *Room) startGraceLocked() {
	if len(r.participants) == 0 && len(r.waiting) == 0 && !r.closed && r.stopTimer == nil {
		r.stopTimer = r.srv.clock.AfterFunc(r.srv.grace, r.expire)
	}
}
