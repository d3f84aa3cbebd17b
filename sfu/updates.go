package sfu

import (
	"slices"
	"time"

	"webinaire/sfu/signal"
)

// Room updates: who joined and left, who muted what, the raised hands and the lobby are
// state that everyone (or every moderator) is told of. A burst of changes must not cost
// each of them one message per change, so a room tells them at most once per
// UpdateWindow, one message of each kind: a change when no window runs is told at once
// and opens a window; the changes during a window are told together, as their latest
// state, when it ends.

// UpdateWindow is the shortest time between two updates of the same kind a participant
// gets about the room's state.
const UpdateWindow = 200 * time.Millisecond

// memberChange is a participant who entered the room, or left it.
type memberChange struct {
	p      *member
	joined bool
}

// muteKey is one track label of one participant.
type muteKey struct {
	id    string
	label Label
}

// roomUpdates are the changes not yet told, guarded by Room.mu.
type roomUpdates struct {
	// throttled is set while a window runs; stop cancels its end.
	throttled bool
	stop      func() bool

	members []memberChange // in order
	mutes   map[muteKey]signal.MuteMessage
	order   []muteKey // of mutes, first change first
	hands   bool
	lobby   bool
}

func (u *roomUpdates) pending() bool {
	return len(u.members) > 0 || len(u.order) > 0 || u.hands || u.lobby
}

// memberJoinedLocked records that p entered the room.
func (r *Room) memberJoinedLocked(p *member) {
	r.updates.members = append(r.updates.members, memberChange{p: p, joined: true})
	r.updatedLocked()
}

// memberLeftLocked records that p left the room.
func (r *Room) memberLeftLocked(p *member) {
	r.updates.members = append(r.updates.members, memberChange{p: p})
	r.updatedLocked()
}

// muteChangedLocked records the mute state of one track label of a participant: the
// others are told, and the participant too when a moderator did it.
func (r *Room) muteChangedLocked(m signal.MuteMessage) {
	k := muteKey{m.ParticipantID, m.Label}
	if r.updates.mutes == nil {
		r.updates.mutes = make(map[muteKey]signal.MuteMessage)
	}
	if _, ok := r.updates.mutes[k]; !ok {
		r.updates.order = append(r.updates.order, k)
	}
	r.updates.mutes[k] = m
	r.updatedLocked()
}

// handsChangedLocked records that the queue of raised hands changed.
func (r *Room) handsChangedLocked() {
	r.updates.hands = true
	r.updatedLocked()
}

// lobbyChangedLocked records that the lobby changed.
func (r *Room) lobbyChangedLocked() {
	r.updates.lobby = true
	r.updatedLocked()
}

// updatedLocked tells the changes now if no window runs, and opens one.
func (r *Room) updatedLocked() {
	if r.updates.throttled || r.closed {
		return
	}
	r.flushUpdatesLocked()
	r.updates.throttled = true
	r.updates.stop = r.srv.clock.AfterFunc(UpdateWindow, r.endUpdateWindow)
}

// endUpdateWindow tells the changes made during the window that ends, and opens another
// one if there were any. It runs on a timer's goroutine of its own: a panic there ends the
// window, the next change opens another.
func (r *Room) endUpdateWindow() {
	defer r.srv.panics.Recover(PartRoom, r.log, func() {
		r.mu.Lock()
		r.updates.throttled, r.updates.stop = false, nil
		r.mu.Unlock()
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.updates.stop = nil
	if r.closed || !r.updates.pending() {
		r.updates.throttled = false
		return
	}
	r.flushUpdatesLocked()
	r.updates.stop = r.srv.clock.AfterFunc(UpdateWindow, r.endUpdateWindow)
}

// stopUpdatesLocked forgets the changes of a room that closes.
func (r *Room) stopUpdatesLocked() {
	if r.updates.stop != nil {
		r.updates.stop()
	}
	r.updates = roomUpdates{}
}

// announceLocked tells the others now that p joined, if they have not been told yet:
// before they hear of its tracks.
func (r *Room) announceLocked(p *member) {
	if slices.ContainsFunc(r.updates.members, func(c memberChange) bool { return c.p == p }) {
		r.flushMembersLocked()
	}
}

// flushUpdatesLocked tells every change not yet told: members first, then what they do.
func (r *Room) flushUpdatesLocked() {
	r.flushMembersLocked()
	r.flushMutesLocked()
	if r.updates.hands {
		msg := encode(signal.HandsMessage{Type: signal.TypeHands, Queue: slices.Clone(r.collab.hands)})
		for _, o := range r.participants {
			o.session.sendRaw(msg)
		}
		r.updates.hands = false
	}
	if r.updates.lobby {
		r.sendLobbyLocked()
		r.updates.lobby = false
	}
}

// flushMutesLocked tells the mute changes: to each participant one message, mute or
// mutes, with the changes of the others, and its own when a moderator made them.
func (r *Room) flushMutesLocked() {
	var changes []signal.MuteMessage
	subjects := map[string]bool{}
	for _, k := range r.updates.order {
		if r.participants[k.id] == nil {
			continue // it left: the others were told
		}
		m := r.updates.mutes[k]
		changes = append(changes, m)
		if !m.ByModerator {
			subjects[m.ParticipantID] = true
		}
	}
	r.updates.mutes, r.updates.order = nil, nil
	if len(changes) == 0 {
		return
	}
	all := mutesMessageFor(changes)
	for _, o := range r.participants {
		if !subjects[o.id] {
			o.session.sendRaw(all)
			continue
		}
		var theirs []signal.MuteMessage
		for _, m := range changes {
			if m.ParticipantID != o.id || m.ByModerator {
				theirs = append(theirs, m)
			}
		}
		if len(theirs) > 0 {
			o.session.sendRaw(mutesMessageFor(theirs))
		}
	}
}

// mutesMessageFor encodes changes as one mute message, or a mutes message for several.
func mutesMessageFor(changes []signal.MuteMessage) []byte {
	if len(changes) == 1 {
		return encode(changes[0])
	}
	return encode(signal.MutesMessage{Type: signal.TypeMutes, Changes: changes})
}

// flushMembersLocked tells who joined and left. A participant who entered during the
// window got the list in its joined message and hears only of the changes after it.
func (r *Room) flushMembersLocked() {
	changes := r.updates.members
	r.updates.members = nil
	if len(changes) == 0 {
		return
	}
	byStart := map[int][]byte{}
	for _, o := range r.participants {
		start := 0
		for i, c := range changes {
			if c.p == o && c.joined {
				start = i + 1
			}
		}
		msg, ok := byStart[start]
		if !ok {
			msg = r.membersMessageLocked(changes[start:])
			byStart[start] = msg
		}
		if msg != nil {
			o.session.sendRaw(msg)
		}
	}
}

// membersMessageLocked is the message telling changes as their latest state, nil when
// there is nothing to tell. Those who joined are described as they are now.
func (r *Room) membersMessageLocked(changes []memberChange) []byte {
	latest := map[string]bool{}
	var ids []string
	for _, c := range changes {
		if _, seen := latest[c.p.id]; !seen {
			ids = append(ids, c.p.id)
		}
		latest[c.p.id] = c.joined
	}
	m := signal.ParticipantsMessage{Type: signal.TypeParticipants, Joined: []ParticipantInfo{}, Left: []string{}}
	for _, id := range ids {
		p := r.participants[id]
		switch {
		case latest[id] && p != nil:
			m.Joined = append(m.Joined, p.infoRoomLocked())
		case !latest[id] && p == nil:
			m.Left = append(m.Left, id)
		}
	}
	switch {
	case len(m.Joined) == 1 && len(m.Left) == 0:
		return encode(signal.ParticipantJoinedMessage{Type: signal.TypeParticipantJoined, Participant: m.Joined[0]})
	case len(m.Joined) == 0 && len(m.Left) == 1:
		return encode(signal.ParticipantLeftMessage{Type: signal.TypeParticipantLeft, ParticipantID: m.Left[0]})
	case len(m.Joined) == 0 && len(m.Left) == 0:
		return nil
	}
	return encode(m)
}
