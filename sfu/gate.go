package sfu

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultSessionLifetime is how long a session credential lets its participant come back
// on a new connection when Params.SessionLifetime is 0.
const DefaultSessionLifetime = 2 * time.Hour

// gateTimeout bounds the Gate's answer at an entry.
const gateTimeout = 5 * time.Second

// Errors of a Gate.
var (
	// ErrInvitationRevoked is a token minted from an invitation that was revoked since.
	ErrInvitationRevoked = errors.New("sfu: invitation revoked")
	// ErrRoomGone is a token for a room whose webinar was deleted, or whose owner may not
	// hold it any more.
	ErrRoomGone = errors.New("sfu: room no longer exists")
	// ErrRoomMoved is a token for a room this node does not run at the token's epoch:
	// the room was placed on another node, or placed again since the token was made.
	ErrRoomMoved = errors.New("sfu: room runs on another node")
)

// Gate decides, at every entry into a room (the first and every reconnection), whether
// what a valid token was minted from still holds. It reads the state that every node
// shares (the database), not one process's memory, so that a right revoked through the
// API is gone on whichever node runs the room.
type Gate interface {
	// Admit returns the claims to enter with as things stand now: the room's current
	// kind, whether the participant waits in the lobby, the role its invitation gives.
	// It fails with ErrTokenRevoked (the participant was removed), ErrInvitationRevoked,
	// ErrRoomGone or ErrRoomMoved (the token's node and epoch are not the room's
	// placement now), or with another error when it cannot tell (the entry is refused for
	// now and the client may try again).
	Admit(ctx context.Context, c Claims) (Claims, error)
	// Revoke records that participant was removed from room: Admit refuses it until until.
	Revoke(ctx context.Context, room, participant string, until time.Time) error
}

// RoleRecorder is a Gate that keeps the roles moderators give, for every node: it gives
// them back at the participant's next entry (Admit).
type RoleRecorder interface {
	// RecordRole records that participant has role in room until until.
	RecordRole(ctx context.Context, room, participant string, role Role, until time.Time) error
}

// recordRole records role for participant in room through the Gate, for as long as a
// session credential lets the participant come back; false when it could not.
func (s *Server) recordRole(room, participant string, role Role) bool {
	rr, ok := s.gate.(RoleRecorder)
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), gateTimeout)
	defer cancel()
	if err := rr.RecordRole(ctx, room, participant, role, s.clock.Now().Add(s.revocationSpan())); err != nil {
		s.log.Error("role not recorded for other nodes", "room", room, "participant", participant, "err", err)
		return false
	}
	return true
}

// admit checks claims, verified by the signer, against the Gate if there is one.
func (s *Server) admit(ctx context.Context, c Claims) (Claims, error) {
	if s.gate == nil {
		return c, nil
	}
	ctx, cancel := context.WithTimeout(ctx, gateTimeout)
	defer cancel()
	admitted, err := s.gate.Admit(ctx, c)
	if err != nil {
		return Claims{}, fmt.Errorf("admit participant %s to room %s: %w", c.Participant, c.Room, err)
	}
	// The gate says what holds now; who, where and until when stay the token's.
	c.Kind, c.Lobby, c.Role = admitted.Kind, admitted.Lobby, admitted.Role
	if !c.Role.Valid() || !c.Kind.Valid() {
		return Claims{}, fmt.Errorf("admit participant %s to room %s: gate answered role %q, kind %q: %w", c.Participant, c.Room, c.Role, c.Kind, ErrTokenInvalid)
	}
	return c, nil
}

// revocationSpan is how long a removal must refuse a participant: as long as the
// longest-lived token that can name it, a session credential made just before.
func (s *Server) revocationSpan() time.Duration {
	return min(s.sessionLifetime, MaxTokenLifetime)
}

// revokeHere refuses participant in room from now on in this process, and returns until
// when. Room.Remove calls it under Room.mu, so that an entry the room has not taken yet
// is refused by Room.add (TokenSigner.mu comes after Room.mu).
func (s *Server) revokeHere(room, participant string) time.Time {
	until := s.clock.Now().Add(s.revocationSpan())
	s.tokens.Revoke(room, participant, until)
	return until
}

// revokeEverywhere records the removal of participant from room through the Gate, for
// every node, until until. It is called with no lock held. A failure of the Gate is
// logged: the local revocation holds anyway.
func (s *Server) revokeEverywhere(room, participant string, until time.Time) {
	if s.gate == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), gateTimeout)
	defer cancel()
	if err := s.gate.Revoke(ctx, room, participant, until); err != nil {
		s.log.Error("removal not recorded for other nodes", "room", room, "participant", participant, "err", err)
	}
}

// sessionCredential is the token that lets the participant of c, who has just entered,
// come back on a new connection: the same claims, marked as a session credential, from
// now for the session lifetime. Every use of it passes the Gate again.
func (s *Server) sessionCredential(c Claims) string {
	now := s.clock.Now()
	c.Session, c.IssuedAt, c.Expiry = true, now, now.Add(s.revocationSpan())
	tok, err := s.tokens.Sign(c)
	if err != nil {
		s.log.Warn("session credential not made", "room", c.Room, "participant", c.Participant, "err", err)
		return ""
	}
	return tok
}
