package store

import (
	"context"
	"time"
)

// KnownRecordingIDs returns those of ids that a recording row names, or that are marked as
// orphans already.
func (s *Store) KnownRecordingIDs(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var known []string
	err := s.conn(ctx).Raw(`SELECT id FROM recordings WHERE id IN ?
		UNION SELECT id FROM recording_orphans WHERE id IN ? ORDER BY id`, ids, ids).Scan(&known).Error
	return known, translate("known recording ids", err)
}

// MarkOrphans marks as orphans the ids that no recording row names (a mark already there
// stays as it is).
func (s *Store) MarkOrphans(ctx context.Context, ids []string, now time.Time) error {
	for _, id := range ids {
		err := s.conn(ctx).Exec(`INSERT INTO recording_orphans (id, found_at)
			SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM recordings WHERE id = ?)
			ON CONFLICT (id) DO NOTHING`, id, now.UTC(), id).Error
		if err != nil {
			return translate("mark orphan", err)
		}
	}
	return nil
}

// Orphans returns, in order, up to limit ids after the id after of the recordings marked as
// orphans.
func (s *Store) Orphans(ctx context.Context, after string, limit int) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Raw(`SELECT id FROM recording_orphans WHERE `+idsAfter(after)+` ORDER BY id LIMIT ?`,
		after, limit).Scan(&ids).Error
	return ids, translate("orphans", err)
}

// ForgetOrphan deletes an orphan's mark, once its files are gone, and tells whether it did.
func (s *Store) ForgetOrphan(ctx context.Context, id string) (bool, error) {
	res := s.conn(ctx).Exec(`DELETE FROM recording_orphans WHERE id = ?`, id)
	return res.RowsAffected == 1, translate("forget orphan", res.Error)
}

// RecordingFilesState is what the orphans sweep needs of a recording row.
type RecordingFilesState struct {
	ID        string
	StartedAt time.Time
	EndedAt   *time.Time
	// FilesMissingAt is set when its files were found gone.
	FilesMissingAt *time.Time
}

// RecordingsBetween returns, in order, up to limit recordings whose ids are after the id
// after and up to upTo included (no upper bound when upTo is empty): those of node nodeID
// and of no node, or every node's when nodeID is empty.
func (s *Store) RecordingsBetween(ctx context.Context, nodeID, after, upTo string, limit int) ([]RecordingFilesState, error) {
	var list []RecordingFilesState
	q := `SELECT id, started_at, ended_at, files_missing_at FROM recordings WHERE ` + idsAfter(after)
	args := []any{after}
	if upTo != "" {
		q += ` AND id <= ?`
		args = append(args, upTo)
	}
	if nodeID != "" {
		q += ` AND node_id IN (?, '')`
		args = append(args, nodeID)
	}
	err := s.conn(ctx).Raw(q+` ORDER BY id LIMIT ?`, append(args, limit)...).Scan(&list).Error
	return list, translate("recordings between", err)
}

// MarkFilesMissing marks as missing the files of a recording that is not marked yet and
// ended (or, when it has not, started) at or before cutoff, and tells whether it did.
func (s *Store) MarkFilesMissing(ctx context.Context, id string, now, cutoff time.Time) (bool, error) {
	res := s.conn(ctx).Exec(`UPDATE recordings SET files_missing_at = ?
		WHERE id = ? AND files_missing_at IS NULL AND coalesce(ended_at, started_at) <= ?`, now.UTC(), id, cutoff.UTC())
	return res.RowsAffected == 1, translate("mark files missing", res.Error)
}

// ClearFilesMissing clears the mark of a recording whose files are there again.
func (s *Store) ClearFilesMissing(ctx context.Context, id string) error {
	err := s.conn(ctx).Exec(`UPDATE recordings SET files_missing_at = NULL WHERE id = ? AND files_missing_at IS NOT NULL`, id).Error
	return translate("clear files missing", err)
}

// CountFilesMissing counts the recordings whose files are marked missing.
func (s *Store) CountFilesMissing(ctx context.Context) (int64, error) {
	var n int64
	err := s.conn(ctx).Raw(`SELECT count(*) FROM recordings WHERE files_missing_at IS NOT NULL`).Scan(&n).Error
	return n, translate("count files missing", err)
}
