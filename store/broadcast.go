package store

import (
	"context"
	"errors"
	"fmt"
)

// A webinar's broadcast target is where its live broadcast goes: an RTMP URL and the
// stream key the target (PeerTube, Owncast) gave its organizer. The key has to be sent,
// so it is kept as given, like a password of the platform's own configuration: it is
// read only to start a broadcast, and no API answer holds it.

// ErrNoBroadcastTarget is a webinar without a broadcast target.
var ErrNoBroadcastTarget = errors.New("store: no broadcast target")

// BroadcastTarget is a webinar's broadcast target.
type BroadcastTarget struct {
	URL string
	Key string
}

// SetBroadcastTarget sets (or replaces) the broadcast target of an organizer's webinar.
func (s *Store) SetBroadcastTarget(ctx context.Context, organizerID, id string, t BroadcastTarget) error {
	if t.URL == "" || t.Key == "" {
		return errors.New("set broadcast target: empty url or key")
	}
	return s.updateBroadcastTarget(ctx, "set broadcast target", organizerID, id, map[string]any{"broadcast_url": t.URL, "broadcast_key": t.Key})
}

// ClearBroadcastTarget removes the broadcast target of an organizer's webinar; clearing
// it again changes nothing.
func (s *Store) ClearBroadcastTarget(ctx context.Context, organizerID, id string) error {
	return s.updateBroadcastTarget(ctx, "clear broadcast target", organizerID, id, map[string]any{"broadcast_url": nil, "broadcast_key": nil})
}

func (s *Store) updateBroadcastTarget(ctx context.Context, op, organizerID, id string, values map[string]any) error {
	if !validID(id) {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	res := s.conn(ctx).Model(&Webinar{}).Where("id = ? AND organizer_id = ?", id, organizerID).Updates(values)
	if res.Error != nil {
		return translate(op, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return nil
}

// BroadcastTargetOf returns the broadcast target of an organizer's webinar:
// ErrNotFound for no such webinar of theirs, ErrNoBroadcastTarget when it has none.
func (s *Store) BroadcastTargetOf(ctx context.Context, organizerID, id string) (BroadcastTarget, error) {
	var row struct {
		BroadcastURL *string
		BroadcastKey *string
	}
	if !validID(id) {
		return BroadcastTarget{}, fmt.Errorf("broadcast target: %w", ErrNotFound)
	}
	if err := s.conn(ctx).Table("webinars").Select("broadcast_url", "broadcast_key").
		Where("id = ? AND organizer_id = ?", id, organizerID).Take(&row).Error; err != nil {
		return BroadcastTarget{}, translate("broadcast target", err)
	}
	if row.BroadcastURL == nil || row.BroadcastKey == nil {
		return BroadcastTarget{}, fmt.Errorf("broadcast target: %w", ErrNoBroadcastTarget)
	}
	return BroadcastTarget{URL: *row.BroadcastURL, Key: *row.BroadcastKey}, nil
}
