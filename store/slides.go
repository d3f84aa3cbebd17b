package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// WebinarSlides is a PDF an organizer attached to a webinar beforehand, for a presenter
// to show in its room; one per webinar.
type WebinarSlides struct {
	WebinarID string `gorm:"primaryKey"`
	PDF       []byte `gorm:"column:pdf"`
	Pages     int
	SizeBytes int64
	// AttachedAt is when it was attached; ExpiresAt when the slides sweep deletes it:
	// the webinar's date plus the policy's period.
	AttachedAt time.Time
	ExpiresAt  time.Time
}

// TableName names the table of attached slides.
func (WebinarSlides) TableName() string { return "webinar_slides" }

// slidesAfter is the condition of a page of webinar ids after after, as idsAfter.
func slidesAfter(after string) string {
	if after == "" {
		return "? = ''"
	}
	return "webinar_id > ?"
}

// AttachSlides attaches the slides to their webinar, in place of any others.
func (s *Store) AttachSlides(ctx context.Context, ws WebinarSlides) error {
	ws.AttachedAt, ws.ExpiresAt = ws.AttachedAt.UTC(), ws.ExpiresAt.UTC()
	err := s.conn(ctx).Save(&ws).Error
	return translate("attach slides", err)
}

// SlidesOf is the slides attached to a webinar, with or without the file; ErrNotFound
// when there are none.
func (s *Store) SlidesOf(ctx context.Context, webinarID string, withFile bool) (WebinarSlides, error) {
	var ws WebinarSlides
	q := s.conn(ctx).Where("webinar_id = ?", webinarID)
	if !withFile {
		q = q.Omit("pdf")
	}
	err := q.Take(&ws).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ws, ErrNotFound
	}
	return ws, translate("slides of webinar", err)
}

// DeleteSlides deletes the slides attached to a webinar, and tells whether there were.
func (s *Store) DeleteSlides(ctx context.Context, webinarID string) (bool, error) {
	res := s.conn(ctx).Exec(`DELETE FROM webinar_slides WHERE webinar_id = ?`, webinarID)
	return res.RowsAffected == 1, translate("delete slides", res.Error)
}

// ExpiredSlides lists, in order, up to limit webinar ids after after whose slides are
// past their expiry at now.
func (s *Store) ExpiredSlides(ctx context.Context, now time.Time, after string, limit int) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Raw(`SELECT webinar_id FROM webinar_slides WHERE `+slidesAfter(after)+` AND expires_at <= ?
		ORDER BY webinar_id LIMIT ?`, after, now.UTC(), limit).Scan(&ids).Error
	return ids, translate("expired slides", err)
}

// CountExpiredSlides counts what ExpiredSlides would return.
func (s *Store) CountExpiredSlides(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.conn(ctx).Raw(`SELECT count(*) FROM webinar_slides WHERE expires_at <= ?`, now.UTC()).Scan(&n).Error
	return n, translate("count expired slides", err)
}

// DeleteExpiredSlides deletes a webinar's slides if they are still expired at now, and
// tells whether it did.
func (s *Store) DeleteExpiredSlides(ctx context.Context, webinarID string, now time.Time) (bool, error) {
	res := s.conn(ctx).Exec(`DELETE FROM webinar_slides WHERE webinar_id = ? AND expires_at <= ?`, webinarID, now.UTC())
	return res.RowsAffected == 1, translate("delete expired slides", res.Error)
}
