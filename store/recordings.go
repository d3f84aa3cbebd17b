package store

import (
	"context"
	"fmt"
	"time"
)

// Recording states.
const (
	RecordingActive     = "recording"
	RecordingFinalizing = "finalizing"
	RecordingReady      = "ready"
	RecordingFailed     = "failed"
)

// Recording is a recording of a webinar: its files are in the recording storage under
// its id.
type Recording struct {
	ID        string
	WebinarID string
	// NodeID is the node that records it: its files are written and finalized in that
	// node's local folder, and kept there unless the storage is S3. Empty for the
	// recordings made before nodes were named.
	NodeID     string
	State      string
	StartedAt  time.Time
	EndedAt    *time.Time
	DurationMS int64
	SizeBytes  int64
	SHA256     string `gorm:"column:sha256"`
	// ExpiresAt is when the retention sweep deletes it: the webinar's date plus the
	// policy's period.
	ExpiresAt time.Time
	// Error says why a recording failed or stopped early; empty otherwise.
	Error string
	// FilesMissingAt is when the orphans sweep found the recording's files gone from the
	// storage; nil while they are there (or have not been looked for yet).
	FilesMissingAt *time.Time
}

// CreateRecording records the start of a recording of a webinar on node nodeID, with a
// new id.
func (s *Store) CreateRecording(ctx context.Context, webinarID, nodeID string, startedAt, expiresAt time.Time) (Recording, error) {
	r := Recording{ID: NewSecret(), WebinarID: webinarID, NodeID: nodeID, State: RecordingActive, StartedAt: startedAt.UTC(), ExpiresAt: expiresAt.UTC()}
	err := s.conn(ctx).Create(&r).Error
	return r, translate("create recording", err)
}

// FinishRecording saves the end of a recording: its state, size, checksum, duration and
// error, if any.
func (s *Store) FinishRecording(ctx context.Context, r Recording) error {
	res := s.conn(ctx).Model(&Recording{}).Where("id = ?", r.ID).Updates(map[string]any{
		"state": r.State, "ended_at": r.EndedAt, "duration_ms": r.DurationMS,
		"size_bytes": r.SizeBytes, "sha256": r.SHA256, "error": r.Error,
	})
	if res.Error == nil && res.RowsAffected == 0 {
		return fmt.Errorf("finish recording: %w", ErrNotFound)
	}
	return translate("finish recording", res.Error)
}

// RecordingsOfWebinar lists a webinar's recordings, the latest first.
func (s *Store) RecordingsOfWebinar(ctx context.Context, webinarID string) ([]Recording, error) {
	var list []Recording
	err := s.conn(ctx).Where("webinar_id = ?", webinarID).Order("started_at DESC, id").Find(&list).Error
	return list, translate("recordings of webinar", err)
}

// RecordingOf returns a recording of one of the organizer's webinars; another
// organizer's is not found.
func (s *Store) RecordingOf(ctx context.Context, organizerID, id string) (Recording, error) {
	var r Recording
	err := s.conn(ctx).Raw(`SELECT recordings.* FROM recordings JOIN webinars ON webinars.id = recordings.webinar_id
		WHERE recordings.id = ? AND webinars.organizer_id = ?`, id, organizerID).Scan(&r).Error
	if err == nil && r.ID == "" {
		return r, fmt.Errorf("recording: %w", ErrNotFound)
	}
	return r, translate("recording", err)
}

// RecordingByID returns a recording, whoever owns it.
func (s *Store) RecordingByID(ctx context.Context, id string) (Recording, error) {
	var r Recording
	err := s.conn(ctx).Take(&r, "id = ?", id).Error
	return r, translate("recording", err)
}

// RecordingsInState lists the recordings in a state of node nodeID and those of no node,
// oldest first: at a node's start, those still "recording" were cut short by its crash.
// An empty nodeID lists every node's.
func (s *Store) RecordingsInState(ctx context.Context, nodeID, state string) ([]Recording, error) {
	var list []Recording
	q := s.conn(ctx).Where("state = ?", state)
	if nodeID != "" {
		q = q.Where("node_id IN ?", []string{nodeID, ""})
	}
	err := q.Order("started_at, id").Find(&list).Error
	return list, translate("recordings in state", err)
}

// DeleteRecording deletes a recording's row; its files must be gone first.
func (s *Store) DeleteRecording(ctx context.Context, id string) error {
	err := s.conn(ctx).Where("id = ?", id).Delete(&Recording{}).Error
	return translate("delete recording", err)
}

// ExpiredRecordings returns, in order, up to limit ids after the id after of the
// recordings whose expiry is at or before now.
func (s *Store) ExpiredRecordings(ctx context.Context, now time.Time, after string, limit int) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Raw(`SELECT id FROM recordings WHERE `+idsAfter(after)+` AND expires_at <= ?
		ORDER BY id LIMIT ?`, after, now.UTC(), limit).Scan(&ids).Error
	return ids, translate("expired recordings", err)
}

// CountExpiredRecordings counts what ExpiredRecordings would return.
func (s *Store) CountExpiredRecordings(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.conn(ctx).Raw(`SELECT count(*) FROM recordings WHERE expires_at <= ?`, now.UTC()).Scan(&n).Error
	return n, translate("count expired recordings", err)
}

// DeleteExpiredRecording deletes a recording's row if it is still expired at now, and
// tells whether it did.
func (s *Store) DeleteExpiredRecording(ctx context.Context, id string, now time.Time) (bool, error) {
	res := s.conn(ctx).Exec(`DELETE FROM recordings WHERE id = ? AND expires_at <= ?`, id, now.UTC())
	return res.RowsAffected == 1, translate("delete expired recording", res.Error)
}

// OwnedRecording is a recording and the organizer whose webinar it records.
type OwnedRecording struct {
	ID          string
	OrganizerID string
}

// RecordingsOfOrganizers lists the recordings of the organizers' webinars, by id.
func (s *Store) RecordingsOfOrganizers(ctx context.Context, organizerIDs []string) ([]OwnedRecording, error) {
	if len(organizerIDs) == 0 {
		return nil, nil
	}
	var list []OwnedRecording
	err := s.conn(ctx).Raw(`SELECT recordings.id AS id, webinars.organizer_id AS organizer_id
		FROM recordings JOIN webinars ON webinars.id = recordings.webinar_id
		WHERE webinars.organizer_id IN ? ORDER BY recordings.id`, organizerIDs).Scan(&list).Error
	return list, translate("recordings of organizers", err)
}

// RecordingIDsOfWebinar lists the ids of a webinar's recordings.
func (s *Store) RecordingIDsOfWebinar(ctx context.Context, webinarID string) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Raw(`SELECT id FROM recordings WHERE webinar_id = ? ORDER BY id`, webinarID).Scan(&ids).Error
	return ids, translate("recording ids of webinar", err)
}

// Audiences of a recording's share link.
const (
	AudiencePublic   = "public"
	AudienceInvitees = "invitees"
)

// RecordingLink is a share link of a recording; its id is the token of its URL.
type RecordingLink struct {
	ID          string
	RecordingID string
	Audience    string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	RevokedAt   *time.Time
}

// CreateRecordingLink makes a share link of a recording, with a new token.
func (s *Store) CreateRecordingLink(ctx context.Context, recordingID, audience string, now, expires time.Time) (RecordingLink, error) {
	l := RecordingLink{ID: NewSecret(), RecordingID: recordingID, Audience: audience, CreatedAt: now.UTC(), ExpiresAt: expires.UTC()}
	err := s.conn(ctx).Create(&l).Error
	return l, translate("create recording link", err)
}

// RecordingLinks lists a recording's links, the oldest first, revoked ones included.
func (s *Store) RecordingLinks(ctx context.Context, recordingID string) ([]RecordingLink, error) {
	var list []RecordingLink
	err := s.conn(ctx).Where("recording_id = ?", recordingID).Order("created_at, id").Find(&list).Error
	return list, translate("recording links", err)
}

// RevokeRecordingLink revokes a link of a recording (again: no change) and returns it.
func (s *Store) RevokeRecordingLink(ctx context.Context, recordingID, id string, now time.Time) (RecordingLink, error) {
	var l RecordingLink
	err := s.InTx(ctx, func(tx *Store) error {
		if err := tx.conn(ctx).Take(&l, "id = ? AND recording_id = ?", id, recordingID).Error; err != nil {
			return err
		}
		if l.RevokedAt != nil {
			return nil
		}
		t := now.UTC()
		l.RevokedAt = &t
		return tx.conn(ctx).Model(&RecordingLink{}).Where("id = ?", id).Update("revoked_at", t).Error
	})
	return l, translate("revoke recording link", err)
}

// LiveRecordingLink returns a link that is neither revoked nor expired at now, with its
// recording and the recording's webinar; any other token is not found.
func (s *Store) LiveRecordingLink(ctx context.Context, token string, now time.Time) (RecordingLink, Recording, Webinar, error) {
	var (
		l RecordingLink
		r Recording
		w Webinar
	)
	if err := s.conn(ctx).Take(&l, "id = ? AND revoked_at IS NULL AND expires_at > ?", token, now.UTC()).Error; err != nil {
		return l, r, w, translate("recording link", err)
	}
	if err := s.conn(ctx).Take(&r, "id = ?", l.RecordingID).Error; err != nil {
		return l, r, w, translate("recording link", err)
	}
	err := s.conn(ctx).Take(&w, "id = ?", r.WebinarID).Error
	return l, r, w, translate("recording link", err)
}
