package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
)

// A webinar's stream key lets a streaming encoder publish in its room over WHIP. Only
// its SHA-256 is stored: the key itself is shown once, when it is made.

// hashStreamKey is what is stored of a stream key.
func hashStreamKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// SetStreamKey sets (or replaces) the stream key of an organizer's webinar.
func (s *Store) SetStreamKey(ctx context.Context, organizerID, id, key string) error {
	if key == "" {
		return fmt.Errorf("set stream key: empty key")
	}
	return s.updateStreamKey(ctx, "set stream key", organizerID, id, hashStreamKey(key))
}

// ClearStreamKey removes the stream key of an organizer's webinar and tells whether it had
// one; clearing it again changes nothing.
func (s *Store) ClearStreamKey(ctx context.Context, organizerID, id string) (bool, error) {
	if !validID(id) {
		return false, fmt.Errorf("clear stream key: %w", ErrNotFound)
	}
	res := s.conn(ctx).Model(&Webinar{}).Where("id = ? AND organizer_id = ? AND stream_key_hash IS NOT NULL", id, organizerID).
		Update("stream_key_hash", nil)
	if res.Error != nil {
		return false, translate("clear stream key", res.Error)
	}
	if res.RowsAffected > 0 {
		return true, nil
	}
	var n int64
	if err := s.conn(ctx).Model(&Webinar{}).Where("id = ? AND organizer_id = ?", id, organizerID).Count(&n).Error; err != nil {
		return false, translate("clear stream key", err)
	}
	if n == 0 {
		return false, fmt.Errorf("clear stream key: %w", ErrNotFound)
	}
	return false, nil
}

func (s *Store) updateStreamKey(ctx context.Context, op, organizerID, id string, hash any) error {
	if !validID(id) {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	res := s.conn(ctx).Model(&Webinar{}).Where("id = ? AND organizer_id = ?", id, organizerID).Update("stream_key_hash", hash)
	if res.Error != nil {
		return translate(op, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return nil
}

// WebinarByStreamKey returns the webinar id when key is its stream key. An unknown
// webinar, one without a key and a wrong key are all ErrNotFound: the caller cannot tell
// them apart. The hashes are compared in constant time.
func (s *Store) WebinarByStreamKey(ctx context.Context, id, key string) (Webinar, error) {
	var row struct {
		Webinar       `gorm:"embedded"`
		StreamKeyHash *string
	}
	if !validID(id) || key == "" {
		return Webinar{}, fmt.Errorf("webinar by stream key: %w", ErrNotFound)
	}
	if err := s.conn(ctx).Table("webinars").Take(&row, "id = ?", id).Error; err != nil {
		return Webinar{}, translate("webinar by stream key", err)
	}
	if row.StreamKeyHash == nil || subtle.ConstantTimeCompare([]byte(hashStreamKey(key)), []byte(*row.StreamKeyHash)) != 1 {
		return Webinar{}, fmt.Errorf("webinar by stream key: %w", ErrNotFound)
	}
	return row.Webinar, nil
}
