package sfu

import (
	"cmp"
	"slices"

	"webinaire/sfu/signal"
)

// The lobby: a participant whose token says so waits, connected but outside the room
// (no media, no list, no chat), until a moderator admits or denies it. Once admitted it
// comes back in freely for the rest of the session.

// waitingLocked lists the lobby, by name.
func (r *Room) waitingLocked() []LobbyEntry {
	out := make([]LobbyEntry, 0, len(r.waiting))
	for _, w := range r.waiting {
		out = append(out, LobbyEntry{ID: w.id, Name: w.claims.Name})
	}
	slices.SortFunc(out, func(a, b LobbyEntry) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	return out
}

// sendLobbyLocked tells the moderators who waits.
func (r *Room) sendLobbyLocked() {
	msg := encode(signal.LobbyMessage{Type: signal.TypeLobby, Waiting: r.waitingLocked()})
	for _, o := range r.participants {
		if o.role == RoleModerator {
			o.session.sendRaw(msg)
		}
	}
}

// Admit lets participants waiting in the lobby in: those named, or everyone when all is
// set. It returns ErrParticipantNotFound when a named one is not waiting, and
// ErrRoomFull when the room has no seat left for some: those who fit come in, in the
// order of the lobby, the others keep waiting.
func (r *Room) Admit(all bool, ids ...string) error {
	r.mu.Lock()
	var admitted []*member
	if all {
		for _, e := range r.waitingLocked() {
			admitted = append(admitted, r.waiting[e.ID])
		}
	} else {
		for _, id := range ids {
			w := r.waiting[id]
			if w == nil {
				r.mu.Unlock()
				return ErrParticipantNotFound
			}
			admitted = append(admitted, w)
		}
	}
	type entered struct {
		p, replaced *member
		ups         []*upTrack
	}
	var in []entered
	var full error
	if free := r.freeSeatsLocked(""); len(admitted) > free {
		admitted, full = admitted[:max(free, 0)], ErrRoomFull
		r.capReachedLocked("participants")
	}
	for _, w := range admitted {
		delete(r.waiting, w.id)
		w.waiting.Store(false)
		replaced, ups := r.enterLocked(w)
		in = append(in, entered{w, replaced, ups})
	}
	if len(admitted) > 0 {
		r.lobbyChangedLocked()
	}
	r.mu.Unlock()
	for _, e := range in {
		r.log.Info("participant admitted", "participant", e.p.id)
		if e.replaced != nil {
			e.replaced.session.end(endCause{err: ErrReplaced, code: signal.CloseReplaced, reason: "joined again on another connection", errCode: signal.CodeReplaced})
		}
		for _, up := range e.ups {
			e.p.session.subscribe(up)
		}
	}
	return full
}

// Deny sends a participant waiting in the lobby away.
func (r *Room) Deny(id string) error {
	r.mu.Lock()
	w := r.waiting[id]
	if w != nil {
		delete(r.waiting, id)
		r.lobbyChangedLocked()
	}
	r.mu.Unlock()
	if w == nil {
		return ErrParticipantNotFound
	}
	r.log.Info("participant denied", "participant", id)
	w.session.end(endCause{err: ErrDenied, code: signal.CloseRemoved, reason: "not admitted", errCode: signal.CodeLobbyDenied})
	return nil
}
