package sfu

import (
	"log/slog"
	"sync"
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
	others := r.othersLocked(p)
	everyone := append(others, p)
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
	}
	for _, d := range dropped {
		d.subscriber.dropDown(d)
	}
	return nil
}

// Remove disconnects a participant and revokes its id in the room, so that its token,
// or any other token issued for it before now, cannot be used to come back. It revokes
// the id even when the participant is not connected, and then returns
// ErrParticipantNotFound.
func (r *Room) Remove(participantID string) error {
	r.srv.tokens.Revoke(r.id, participantID, r.srv.clock.Now().Add(MaxTokenLifetime))
	r.mu.Lock()
	p := r.participants[participantID]
	r.mu.Unlock()
	if p == nil {
		return ErrParticipantNotFound
	}
	r.log.Info("participant removed", "participant", participantID)
	p.end(endCause{err: ErrRemoved, code: CloseRemoved, reason: "removed from the room", errCode: codeRemoved})
	return nil
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
	if r.stopTimer != nil {
		r.stopTimer()
		r.stopTimer = nil
	}
	r.srv.forgetLocked(r)
	ps := r.othersLocked(nil)
	r.mu.Unlock()
	r.srv.mu.Unlock()

	for _, p := range ps {
		p.end(cause)
	}
	close(r.done)
	r.log.Info("room closed")
}

// expire closes the room if it is still empty when the grace period is over.
func (r *Room) expire() {
	r.srv.mu.Lock()
	r.mu.Lock()
	if r.closed || len(r.participants) > 0 {
		r.mu.Unlock()
		r.srv.mu.Unlock()
		return
	}
	r.closed = true
	r.stopTimer = nil
	r.srv.forgetLocked(r)
	r.mu.Unlock()
	r.srv.mu.Unlock()
	close(r.done)
	r.log.Info("room closed", "reason", "empty")
}

// add puts p in the room (Server.mu held), in place of a participant with the same id.
// Under the lock, so that nothing reaches p before it and nobody hears of p before this,
// it queues the joined message to p, with ice, and a participant_joined message to the
// others. It returns the participant p replaces and the tracks p should receive.
func (r *Room) add(p *participant, ice []ICEServer) (replaced *participant, ups []*upTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopTimer != nil {
		r.stopTimer()
		r.stopTimer = nil
	}
	replaced = r.participants[p.id]
	p.room = r
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
	p.sendRaw(encode(joinedMessage{
		Type:          typeJoined,
		ParticipantID: p.id,
		Name:          p.claims.Name,
		RoomID:        r.id,
		RoomKind:      r.kind,
		Role:          p.role,
		Participants:  others,
		ICEServers:    ice,
	}))
	msg := encode(participantJoinedMessage{Type: typeParticipantJoined, Participant: p.infoLocked()})
	for _, o := range r.participants {
		if o != p && o != replaced {
			o.sendRaw(msg)
		}
	}
	return replaced, ups
}

// leave takes p out of the room: its tracks stop being forwarded and the others are
// told. When the room becomes empty, the grace period starts.
func (r *Room) leave(p *participant) {
	r.mu.Lock()
	current := r.participants[p.id] == p
	if current {
		delete(r.participants, p.id)
	}
	ups := p.takeAllUpsLocked()
	others := r.othersLocked(p)
	if len(r.participants) == 0 && !r.closed {
		r.stopTimer = r.srv.clock.AfterFunc(r.srv.grace, r.expire)
	}
	r.mu.Unlock()

	for _, up := range ups {
		for _, d := range up.close() {
			d.subscriber.dropDown(d)
		}
	}
	// A participant replaced by a new session of the same id has not left.
	if current {
		msg := encode(participantLeftMessage{Type: typeParticipantLeft, ParticipantID: p.id})
		for _, o := range others {
			o.sendRaw(msg)
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
	others := r.othersLocked(p)
	r.mu.Unlock()
	for _, o := range others {
		o.subscribe(up)
	}
	return published
}

// unpublish ends a track of p: its subscribers drop it.
func (r *Room) unpublish(p *participant, up *upTrack) {
	r.mu.Lock()
	p.removeUpLocked(up)
	r.mu.Unlock()
	for _, d := range up.close() {
		d.subscriber.dropDown(d)
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
