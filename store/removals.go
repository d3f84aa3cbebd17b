package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// RemovedParticipant is a participant a moderator removed from a room: no token may bring
// it back until Until, on any node. Rows name random ids only (no personal data) and go
// once past, when the next removal is recorded.
type RemovedParticipant struct {
	RoomID        string `gorm:"primaryKey"`
	ParticipantID string `gorm:"primaryKey"`
	Until         time.Time
}

// RecordRemoval refuses participant in room until until, and forgets the removals that
// are over at now.
func (s *Store) RecordRemoval(ctx context.Context, room, participant string, until, now time.Time) error {
	return s.InTx(ctx, func(tx *Store) error {
		if err := tx.conn(ctx).Where("until <= ?", now.UTC()).Delete(&RemovedParticipant{}).Error; err != nil {
			return translate("forget past removals", err)
		}
		err := tx.conn(ctx).Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "room_id"}, {Name: "participant_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"until"}),
		}).Create(&RemovedParticipant{RoomID: room, ParticipantID: participant, Until: until.UTC()}).Error
		return translate("record removal", err)
	})
}

// Removed tells whether participant is refused in room at now: one lookup by primary key.
func (s *Store) Removed(ctx context.Context, room, participant string, now time.Time) (bool, error) {
	var n int64
	err := s.conn(ctx).Model(&RemovedParticipant{}).
		Where("room_id = ? AND participant_id = ? AND until > ?", room, participant, now.UTC()).
		Limit(1).Count(&n).Error
	return n > 0, translate("removal", err)
}

// Invitation returns an invitation of a webinar, revoked or not.
func (s *Store) Invitation(ctx context.Context, webinarID, id string) (Invitation, error) {
	var inv Invitation
	if !validID(id) {
		return inv, fmt.Errorf("invitation: %w", ErrNotFound)
	}
	err := s.conn(ctx).Take(&inv, "id = ? AND webinar_id = ?", id, webinarID).Error
	return inv, translate("invitation", err)
}
