package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"webinaire/sfu"
	"webinaire/store"
)

// MediaGate is the SFU's sfu.Gate: every entry into a room, the first one and each
// reconnection, is checked against the database that every node shares. The webinar must
// still exist and its owner be allowed to hold it, the invitation the token was minted
// from must not be revoked, the participant must not have been removed; the room's kind,
// the lobby and the role are those of now, not of the time the token was made. On a node
// of a cluster, the room must be placed on this node at the token's epoch.
type MediaGate struct {
	store *store.Store
	node  string
	now   func() time.Time
	// SeatCounted is how long after an entry the node's heartbeat has counted its
	// participant for sure: the seat its join reserved stays reserved until then, so that
	// placements see it all along (twice the default heartbeat interval by default).
	SeatCounted time.Duration
}

// NewMediaGate returns the gate reading st for the node with id node (empty: no
// placement check, one process outside a cluster); now tells the time (nil: the system
// clock).
func NewMediaGate(st *store.Store, node string, now func() time.Time) *MediaGate {
	if now == nil {
		now = time.Now
	}
	return &MediaGate{store: st, node: node, now: now, SeatCounted: 2 * DefaultHeartbeatInterval}
}

// Admit implements sfu.Gate. A breakout room is admitted to as its main room (webinar,
// placement, removals), without the lobby; the SFU checks that the participant was sent
// there.
func (g *MediaGate) Admit(ctx context.Context, c sfu.Claims) (sfu.Claims, error) {
	main := sfu.MainRoom(c.Room)
	w, err := g.store.WebinarByRoom(ctx, main)
	if errors.Is(err, store.ErrNotFound) {
		return sfu.Claims{}, sfu.ErrRoomGone
	} else if err != nil {
		return sfu.Claims{}, err
	}
	o, err := g.store.Organizer(ctx, w.OrganizerID)
	if errors.Is(err, store.ErrNotFound) {
		return sfu.Claims{}, sfu.ErrRoomGone
	} else if err != nil {
		return sfu.Claims{}, err
	}
	if o.RestrictedAt != nil {
		return sfu.Claims{}, fmt.Errorf("owner's processing restricted: %w", sfu.ErrRoomGone)
	}
	if err := g.placedHere(ctx, c); err != nil {
		return sfu.Claims{}, err
	}
	if c.Invitation != "" {
		inv, err := g.store.Invitation(ctx, w.ID, c.Invitation)
		if errors.Is(err, store.ErrNotFound) {
			return sfu.Claims{}, sfu.ErrInvitationRevoked
		} else if err != nil {
			return sfu.Claims{}, err
		}
		if inv.RevokedAt != nil {
			return sfu.Claims{}, sfu.ErrInvitationRevoked
		}
		c.Role = sfu.Role(inv.Role)
	}
	// A role a moderator gave during the session holds over the invitation's.
	if role, err := g.store.RoleIn(ctx, c.Room, c.Participant, g.now()); err != nil {
		return sfu.Claims{}, err
	} else if role != "" {
		c.Role = sfu.Role(role)
	}
	rooms := []string{main}
	if c.Room != main {
		rooms = append(rooms, c.Room) // removed from the main room or from this one
	}
	for _, room := range rooms {
		removed, err := g.store.Removed(ctx, room, c.Participant, g.now())
		if err != nil {
			return sfu.Claims{}, err
		}
		if removed {
			return sfu.Claims{}, sfu.ErrTokenRevoked
		}
	}
	c.Kind, c.Lobby = roomKind(w), entersLobby(w, c.Role) && main == c.Room
	if c.Origin != "" && (c.Lobby || c.Role != sfu.RoleAttendee) {
		// The lobby and the right to speak are the origin's: a viewer whose invitation no
		// longer only watches goes there.
		return sfu.Claims{}, fmt.Errorf("edge token of a participant who no longer only watches: %w", sfu.ErrRoomMoved)
	}
	if g.node != "" {
		// The seat the join reserved is taken now: the node's participants count it at its
		// next heartbeat, and the reservation lasts until then. A reservation left behind
		// by a failure here ends by itself.
		_ = g.store.TakeSeat(ctx, main, c.Participant, g.now().Add(g.SeatCounted))
	}
	return c, nil
}

// placedHere checks that the room of c is placed on this node at the epoch of c: a token
// for another node, or of an epoch before the room moved, is refused (sfu.ErrRoomMoved),
// so that two nodes never serve one room.
func (g *MediaGate) placedHere(ctx context.Context, c sfu.Claims) error {
	if g.node == "" {
		return nil
	}
	if c.Node != g.node {
		return fmt.Errorf("token for node %q: %w", c.Node, sfu.ErrRoomMoved)
	}
	// A viewer sent to an edge of the room: the room must still run on its origin. A
	// breakout room runs where its main room is placed.
	owner := cmp.Or(c.Origin, g.node)
	p, err := g.store.RoomPlacementOf(ctx, sfu.MainRoom(c.Room))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("room not placed: %w", sfu.ErrRoomMoved)
	case err != nil:
		return err
	case p.NodeID == nil || *p.NodeID != owner:
		return fmt.Errorf("room placed elsewhere: %w", sfu.ErrRoomMoved)
	case p.Epoch != c.Epoch:
		return fmt.Errorf("token of epoch %d, room at %d: %w", c.Epoch, p.Epoch, sfu.ErrRoomMoved)
	}
	return nil
}

// RecordRole implements sfu.RoleRecorder.
func (g *MediaGate) RecordRole(ctx context.Context, room, participant string, role sfu.Role, until time.Time) error {
	return g.store.RecordRole(ctx, room, participant, string(role), until, g.now())
}

// Revoke implements sfu.Gate.
func (g *MediaGate) Revoke(ctx context.Context, room, participant string, until time.Time) error {
	return g.store.RecordRemoval(ctx, room, participant, until, g.now())
}

// roomKind is the kind of w's room.
func roomKind(w store.Webinar) sfu.RoomKind {
	if w.Kind == store.KindWebinar {
		return sfu.KindWebinar
	}
	return sfu.KindMeeting
}

// entersLobby tells whether a participant with role waits in the lobby of w's room:
// attendees of a webinar whose lobby is on.
func entersLobby(w store.Webinar, role sfu.Role) bool {
	return w.LobbyEnabled && role == sfu.RoleAttendee
}
