package sfu

import (
	"errors"

	"webinaire/sfu/signal"
)

// Moderation through the signalling connection: what a moderator may do to the others
// in the room. The API's moderation endpoints do the same for the webinar's owner.

// moderate acts on a moderation message of p; it answers errors to p.
func (p *participant) moderate(m signal.ClientMessage) {
	r := p.room
	r.mu.Lock()
	mod := r.isModeratorLocked(p.member)
	r.mu.Unlock()
	if !mod {
		p.sendError(signal.CodeForbidden, "only a moderator may do this")
		return
	}
	var err error
	switch m.Type {
	case signal.TypeMuteParticipant:
		err = r.forceMute(p.member, m.ParticipantID, m.All)
	case signal.TypeAskUnmute:
		err = r.askUnmute(p.member, m.ParticipantID)
	case signal.TypeRemove:
		if m.ParticipantID == p.id {
			p.sendError(signal.CodeForbidden, "a moderator leaves rather than removing itself")
			return
		}
		// Out of the whole session: the main room and its breakout rooms.
		err = r.main().Remove(m.ParticipantID)
	case signal.TypeSetRole:
		err = r.SetRole(m.ParticipantID, m.Role)
	case signal.TypeLowerHand:
		r.mu.Lock()
		r.setHandLocked(m.ParticipantID, false)
		r.mu.Unlock()
	case signal.TypeLock:
		r.SetLocked(*m.Locked)
	case signal.TypeSpotlight:
		err = r.SetSpotlight(m.ParticipantID)
	case signal.TypeLobbyAdmit:
		err = r.Admit(m.All, m.ParticipantID)
	case signal.TypeLobbyDeny:
		err = r.Deny(m.ParticipantID)
	case signal.TypeEndSession:
		r.log.Info("session ended by a moderator", "participant", p.id)
		_ = r.main().Close() // with its breakout rooms
	}
	switch {
	case errors.Is(err, ErrWatchesElsewhere):
		p.sendError(signal.CodeForbidden, "this participant watches from another node of the cluster and cannot speak from there")
	case errors.Is(err, ErrRoomFull):
		p.sendError(signal.CodeRoomFull, "the room is full: those who did not fit keep waiting")
	case err != nil:
		p.sendError(signal.CodeNotFound, "no such participant in the room")
	}
}

// SetLocked locks or unlocks the room: while it is locked, nobody new joins (moderators
// and participants who were in the room this session still may). Everyone is told.
func (r *Room) SetLocked(locked bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.collab.locked == locked {
		return
	}
	r.collab.locked = locked
	r.roomStateChangedLocked()
}

// SetSpotlight has every client show the participant id large, or nobody in particular
// when id is empty. The spotlight goes out when its participant leaves. Everyone is told.
func (r *Room) SetSpotlight(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id != "" && r.memberLocked(id) == nil {
		return ErrParticipantNotFound
	}
	r.setSpotlightLocked(id)
	return nil
}

// setSpotlightLocked changes the spotlight and tells everyone; r.mu held.
func (r *Room) setSpotlightLocked(id string) {
	if r.collab.spotlight == id {
		return
	}
	r.collab.spotlight = id
	r.roomStateChangedLocked()
}

// roomStateChangedLocked sends the room's state, locked and spotlight, to everyone; r.mu
// held.
func (r *Room) roomStateChangedLocked() {
	msg := encode(signal.RoomStateMessage{Type: signal.TypeRoomState, Locked: r.collab.locked, Spotlight: r.collab.spotlight})
	for _, o := range r.participants {
		o.session.sendRaw(msg)
	}
}

// forceMute mutes the microphone of one participant, or of everyone but by: the server
// stops forwarding it until the participant unmutes itself. Everyone is told, the
// participant too, so that its app shows it muted.
func (r *Room) forceMute(by *member, id string, all bool) error {
	r.mu.Lock()
	var targets []*member
	if all {
		for _, o := range r.othersLocked(by) {
			if !o.hidden() {
				targets = append(targets, o)
			}
		}
	} else if t := r.memberLocked(id); t != nil {
		targets = []*member{t}
	}
	r.mu.Unlock()
	if len(targets) == 0 && !all {
		return ErrParticipantNotFound
	}
	for _, t := range targets {
		t.pub.setForceMuted(true)
	}
	r.mu.Lock()
	for _, t := range targets {
		if r.participants[t.id] == t {
			r.muteChangedLocked(signal.MuteMessage{Type: signal.TypeMute, ParticipantID: t.id, Label: LabelMicrophone, Muted: true, ByModerator: true})
		}
	}
	r.mu.Unlock()
	return nil
}

// askUnmute asks a participant to unmute itself: a moderator never unmutes anyone.
func (r *Room) askUnmute(by *member, id string) error {
	r.mu.Lock()
	t := r.memberLocked(id)
	r.mu.Unlock()
	if t == nil {
		return ErrParticipantNotFound
	}
	t.session.sendRaw(encode(signal.UnmuteRequestedMessage{Type: signal.TypeUnmuteRequested, By: by.id}))
	return nil
}
