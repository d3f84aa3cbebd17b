package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// RoomRole is a role a moderator gave a participant in a room: whichever node runs the
// room gives it back when the participant comes back, until Until. Rows name random ids
// only (no personal data) and go once past, when the next role is recorded.
type RoomRole struct {
	RoomID        string `gorm:"primaryKey"`
	ParticipantID string `gorm:"primaryKey"`
	Role          string
	Until         time.Time
}

// RecordRole keeps role for participant in room until until, and forgets the roles that
// are over at now.
func (s *Store) RecordRole(ctx context.Context, room, participant, role string, until, now time.Time) error {
	return s.InTx(ctx, func(tx *Store) error {
		if err := tx.conn(ctx).Where("until <= ?", now.UTC()).Delete(&RoomRole{}).Error; err != nil {
			return translate("forget past roles", err)
		}
		err := tx.conn(ctx).Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "room_id"}, {Name: "participant_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"role", "until"}),
		}).Create(&RoomRole{RoomID: room, ParticipantID: participant, Role: role, Until: until.UTC()}).Error
		return translate("record role", err)
	})
}

// RoleIn is the role given to participant in room that holds at now; empty when none.
func (s *Store) RoleIn(ctx context.Context, room, participant string, now time.Time) (string, error) {
	var r RoomRole
	err := s.conn(ctx).Take(&r, "room_id = ? AND participant_id = ? AND until > ?", room, participant, now.UTC()).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", nil
	}
	return r.Role, translate("role in room", err)
}
