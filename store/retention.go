package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// This file holds the queries of the retention sweeps (package privacy): each selects what
// is past its window in a stable order, and deletes it again checking the window, so that a
// row that came back inside it in the meantime stays.

// InactiveOrganizers returns the ids, in order, of up to limit accounts after the id after
// whose last activity is before cutoff and whose processing is not restricted.
func (s *Store) InactiveOrganizers(ctx context.Context, cutoff time.Time, after string, limit int) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Raw(`SELECT id FROM organizers WHERE `+idsAfter(after)+` AND last_activity_at < ? AND restricted_at IS NULL
		ORDER BY id LIMIT ?`, after, cutoff.UTC(), limit).Scan(&ids).Error
	return ids, translate("inactive organizers", err)
}

// CountInactiveOrganizers counts the accounts InactiveOrganizers would return.
func (s *Store) CountInactiveOrganizers(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.conn(ctx).Raw(`SELECT count(*) FROM organizers WHERE last_activity_at < ? AND restricted_at IS NULL`,
		cutoff.UTC()).Scan(&n).Error
	return n, translate("count inactive organizers", err)
}

// MarkInactiveOrganizers sets purge_marked_at to at (or keeps an earlier mark) on the
// accounts with ids in (after, last] that are still inactive since before cutoff and not
// restricted, and returns their ids in order. Activity clears the mark.
func (s *Store) MarkInactiveOrganizers(ctx context.Context, after, last string, cutoff, at time.Time) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Raw(`UPDATE organizers SET purge_marked_at = COALESCE(purge_marked_at, ?)
		WHERE `+idsAfter(after)+` AND id <= ? AND last_activity_at < ? AND restricted_at IS NULL RETURNING id`,
		at.UTC(), after, last, cutoff.UTC()).Scan(&ids).Error
	return sortedIDs(ids), translate("mark inactive organizers", err)
}

// UnmarkOrganizers clears the mark of the accounts ids: the next run finds them again.
func (s *Store) UnmarkOrganizers(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.conn(ctx).Exec(`UPDATE organizers SET purge_marked_at = NULL WHERE id IN ?`, ids).Error
	return translate("unmark organizers", err)
}

// DeleteMarkedOrganizers deletes the marked accounts with ids in (after, last] that are still
// inactive since before cutoff and not restricted, and returns their ids in order. Their
// webinars, invitations and sessions go with them (the database's cascades); their audit
// events lose their actor (PseudonymiseAuditEvents does the rest); their connection-log entries stay, they have their own period.
func (s *Store) DeleteMarkedOrganizers(ctx context.Context, after, last string, cutoff time.Time) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Raw(`DELETE FROM organizers
		WHERE `+idsAfter(after)+` AND id <= ? AND purge_marked_at IS NOT NULL AND last_activity_at < ? AND restricted_at IS NULL
		RETURNING id`, after, last, cutoff.UTC()).Scan(&ids).Error
	return sortedIDs(ids), translate("delete marked organizers", err)
}

// ExpiredSessions returns the ids, in order, of up to limit sessions after the id after that
// expired before now or were last used before idleBefore (a zero idleBefore: expiry only).
func (s *Store) ExpiredSessions(ctx context.Context, now, idleBefore time.Time, after string, limit int) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Raw(`SELECT id FROM sessions WHERE id > ? AND (expires_at < ? OR last_seen_at < ?) ORDER BY id LIMIT ?`,
		after, now.UTC(), idleBefore.UTC(), limit).Scan(&ids).Error
	return ids, translate("expired sessions", err)
}

// CountExpiredSessions counts the sessions ExpiredSessions would return.
func (s *Store) CountExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int64, error) {
	var n int64
	err := s.conn(ctx).Raw(`SELECT count(*) FROM sessions WHERE expires_at < ? OR last_seen_at < ?`,
		now.UTC(), idleBefore.UTC()).Scan(&n).Error
	return n, translate("count expired sessions", err)
}

// DeleteExpiredSessions deletes the sessions with ids in (after, last] that expired before
// now or were last used before idleBefore, and returns their ids in order.
func (s *Store) DeleteExpiredSessions(ctx context.Context, after, last string, now, idleBefore time.Time) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Raw(`DELETE FROM sessions WHERE id > ? AND id <= ? AND (expires_at < ? OR last_seen_at < ?) RETURNING id`,
		after, last, now.UTC(), idleBefore.UTC()).Scan(&ids).Error
	return sortedIDs(ids), translate("delete expired sessions", err)
}

// ExpiredLoginFlows returns the ids, in order, of up to limit pending logins after the id
// after that expired before now.
func (s *Store) ExpiredLoginFlows(ctx context.Context, now time.Time, after string, limit int) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Raw(`SELECT id FROM login_flows WHERE id > ? AND expires_at < ? ORDER BY id LIMIT ?`,
		after, now.UTC(), limit).Scan(&ids).Error
	return ids, translate("expired login flows", err)
}

// CountExpiredLoginFlows counts the pending logins that expired before now.
func (s *Store) CountExpiredLoginFlows(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.conn(ctx).Raw(`SELECT count(*) FROM login_flows WHERE expires_at < ?`, now.UTC()).Scan(&n).Error
	return n, translate("count expired login flows", err)
}

// DeleteExpiredLoginFlows deletes the pending logins with ids in (after, last] that expired
// before now, and returns their ids in order.
func (s *Store) DeleteExpiredLoginFlows(ctx context.Context, after, last string, now time.Time) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Raw(`DELETE FROM login_flows WHERE id > ? AND id <= ? AND expires_at < ? RETURNING id`,
		after, last, now.UTC()).Scan(&ids).Error
	return sortedIDs(ids), translate("delete expired login flows", err)
}

// LogPartition is a partition of the connection log (PostgreSQL) and its range [From, To);
// a nil bound is open (MINVALUE, MAXVALUE or the default partition).
type LogPartition struct {
	Name     string
	From, To *time.Time
}

// LogPartitions lists the partitions attached to the connection log, by their upper bound.
// On SQLite the log is one table and the list is empty.
func (s *Store) LogPartitions(ctx context.Context) ([]LogPartition, error) {
	if s.driver != DriverPostgres {
		return nil, nil
	}
	// pg_get_expr writes each bound with its offset, so casting it back is exact whatever
	// the session's time zone; MINVALUE, MAXVALUE and DEFAULT do not match and give NULL.
	var list []LogPartition
	err := s.conn(ctx).Raw(`SELECT name,
			(regexp_match(bound, 'FROM \(''([^'']+)''\)'))[1]::timestamptz AS "from",
			(regexp_match(bound, 'TO \(''([^'']+)''\)'))[1]::timestamptz AS "to"
		FROM (SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
			FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'connection_log'::regclass) p
		ORDER BY "to" NULLS LAST, name`).Scan(&list).Error
	for i := range list {
		list[i].From, list[i].To = utcPtr(list[i].From), utcPtr(list[i].To)
	}
	return list, translate("connection log partitions", err)
}

// CountLogPartition counts the entries of a partition of the connection log.
func (s *Store) CountLogPartition(ctx context.Context, name string) (int64, error) {
	var n int64
	err := s.conn(ctx).Raw(`SELECT count(*) FROM ` + quoteIdent(name)).Scan(&n).Error
	return n, translate("count connection log partition", err)
}

// partitionLockTimeout bounds how long dropping a partition waits for its locks: while it
// waits for the connection log's exclusive lock, new inserts queue behind it, so it gives up
// early and the next run tries again.
const partitionLockTimeout = "2s"

// DropLogPartition drops a partition of the connection log in one transaction: it blocks
// writes to the partition, counts its entries, detaches and drops it, then calls record with
// the transaction's store and the count (to write the ledger entry), so that the drop and its
// record commit together or not at all. It reports false, and calls nothing, when the
// partition is gone or no longer attached (another run dropped it, or a person detached it).
// PostgreSQL only.
func (s *Store) DropLogPartition(ctx context.Context, name string, record func(tx *Store, rows int64) error) (bool, int64, error) {
	if s.driver != DriverPostgres {
		return false, 0, fmt.Errorf("drop connection log partition: not partitioned on %s", s.driver)
	}
	var (
		dropped bool
		rows    int64
	)
	errGone := errors.New("partition gone")
	err := s.InTx(ctx, func(tx *Store) error {
		db := tx.conn(ctx)
		if err := db.Exec(`SET LOCAL lock_timeout = '` + partitionLockTimeout + `'`).Error; err != nil {
			return err
		}
		var exists bool
		if err := db.Raw(`SELECT to_regclass(?) IS NOT NULL`, quoteIdent(name)).Scan(&exists).Error; err != nil {
			return err
		}
		if !exists {
			return errGone
		}
		// Self-exclusive, so that two runs cannot both count it; readers are not blocked.
		if err := db.Exec(`LOCK TABLE ` + quoteIdent(name) + ` IN SHARE ROW EXCLUSIVE MODE`).Error; err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table: dropped while we waited
				return errGone
			}
			return err
		}
		var attached bool
		if err := db.Raw(`SELECT EXISTS (SELECT 1 FROM pg_inherits
			WHERE inhrelid = to_regclass(?) AND inhparent = 'connection_log'::regclass)`, quoteIdent(name)).Scan(&attached).Error; err != nil {
			return err
		}
		if !attached {
			return errGone
		}
		if err := db.Raw(`SELECT count(*) FROM ` + quoteIdent(name)).Scan(&rows).Error; err != nil {
			return err
		}
		if err := db.Exec(`ALTER TABLE connection_log DETACH PARTITION ` + quoteIdent(name)).Error; err != nil {
			return err
		}
		if err := db.Exec(`DROP TABLE ` + quoteIdent(name)).Error; err != nil {
			return err
		}
		dropped = true
		return record(tx, rows)
	})
	if errors.Is(err, errGone) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, translate("drop connection log partition", err)
	}
	return dropped, rows, nil
}

// ConnectionKey orders the connection log's entries: by time, then id.
type ConnectionKey struct {
	ID int64
	At time.Time
}

// OldConnections returns the keys, in order, of up to limit entries of the connection log
// after the key after (nil: from the first) whose time is before cutoff. table is a partition
// of the log (PostgreSQL), or empty for the whole log.
func (s *Store) OldConnections(ctx context.Context, table string, cutoff time.Time, after *ConnectionKey, limit int) ([]ConnectionKey, error) {
	q := `SELECT id, at FROM ` + s.logTable(table) + ` WHERE at < ?`
	args := []any{cutoff.UTC()}
	if after != nil {
		q += ` AND (at, id) > (?, ?)`
		args = append(args, after.At.UTC(), after.ID)
	}
	var keys []ConnectionKey
	err := s.conn(ctx).Raw(q+` ORDER BY at, id LIMIT ?`, append(args, limit)...).Scan(&keys).Error
	for i := range keys {
		keys[i].At = keys[i].At.UTC()
	}
	return keys, translate("old connection log entries", err)
}

// CountOldConnections counts the entries of the whole connection log before cutoff.
func (s *Store) CountOldConnections(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.conn(ctx).Raw(`SELECT count(*) FROM connection_log WHERE at < ?`, cutoff.UTC()).Scan(&n).Error
	return n, translate("count old connection log entries", err)
}

// DeleteOldConnections deletes the first limit entries, in the order of OldConnections, of
// table (as there) whose time is before cutoff, and returns their ids.
func (s *Store) DeleteOldConnections(ctx context.Context, table string, cutoff time.Time, limit int) ([]int64, error) {
	t := s.logTable(table)
	match := `id IN (SELECT id FROM ` + t + ` WHERE at < ? ORDER BY at, id LIMIT ?)`
	if s.driver == DriverPostgres {
		match = `(id, at) IN (SELECT id, at FROM ` + t + ` WHERE at < ? ORDER BY at, id LIMIT ?)`
	}
	var ids []int64
	err := s.conn(ctx).Raw(`DELETE FROM `+t+` WHERE `+match+` RETURNING id`, cutoff.UTC(), limit).Scan(&ids).Error
	return ids, translate("delete old connection log entries", err)
}

func (s *Store) logTable(table string) string {
	if table == "" {
		return "connection_log"
	}
	return quoteIdent(table)
}

// Lease is who holds a job, until when.
type Lease struct {
	Name      string
	Holder    string
	ExpiresAt time.Time
}

// TableName names the leases' table.
func (Lease) TableName() string { return "job_leases" }

// AcquireLease takes the lease on the job name for holder until expires, when nobody holds
// it, when it expired before now, or when holder already holds it (then it is renewed). It
// reports whether holder has it, and the lease as it stands.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now, expires time.Time) (bool, Lease, error) {
	res := s.conn(ctx).Exec(`INSERT INTO job_leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE job_leases.expires_at < ? OR job_leases.holder = ?`,
		name, holder, expires.UTC().Truncate(time.Microsecond), now.UTC(), holder)
	if res.Error != nil {
		return false, Lease{}, translate("acquire lease", res.Error)
	}
	l, err := s.LeaseOf(ctx, name)
	if err != nil {
		return false, Lease{}, fmt.Errorf("acquire lease: %w", err)
	}
	return res.RowsAffected == 1, l, nil
}

// LeaseOf returns the lease on the job name as it stands, or ErrNotFound when nobody holds it.
func (s *Store) LeaseOf(ctx context.Context, name string) (Lease, error) {
	var l Lease
	err := s.conn(ctx).Take(&l, "name = ?", name).Error
	l.ExpiresAt = l.ExpiresAt.UTC()
	return l, translate("lease", err)
}

// ReleaseLease gives up holder's lease on the job name; it does nothing when another holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return translate("release lease", s.conn(ctx).Exec(`DELETE FROM job_leases WHERE name = ? AND holder = ?`, name, holder).Error)
}

// Retention run statuses.
const (
	RunRunning = "running"
	RunOK      = "ok"
	RunFailed  = "failed"
	RunBusy    = "busy"
)

// RetentionRun is one run of the retention sweeps, or of their dry run. Summary is the JSON
// of what it deleted per category; Error never holds personal data.
type RetentionRun struct {
	ID         int64
	StartedAt  time.Time
	FinishedAt *time.Time
	DryRun     bool
	Status     string
	Summary    string
	Error      string
}

// TableName names the runs' table.
func (RetentionRun) TableName() string { return "retention_runs" }

// StartRetentionRun records the start of r and sets its id.
func (s *Store) StartRetentionRun(ctx context.Context, r *RetentionRun) error {
	r.StartedAt = r.StartedAt.UTC().Truncate(time.Microsecond)
	return translate("start retention run", s.conn(ctx).Create(r).Error)
}

// FinishRetentionRun records the end of the run id.
func (s *Store) FinishRetentionRun(ctx context.Context, id int64, at time.Time, status, summary, errText string) error {
	err := s.conn(ctx).Model(&RetentionRun{}).Where("id = ?", id).Updates(map[string]any{
		"finished_at": at.UTC().Truncate(time.Microsecond), "status": status, "summary": summary, "error": errText,
	}).Error
	return translate("finish retention run", err)
}

// FailInterruptedRuns closes, as failed, the runs still recorded as running that cannot be:
// every real run (the caller holds the lease, so their holder died) and the dry runs started
// before dryBefore.
func (s *Store) FailInterruptedRuns(ctx context.Context, at, dryBefore time.Time) error {
	err := s.conn(ctx).Model(&RetentionRun{}).
		Where("status = ? AND (dry_run = ? OR started_at < ?)", RunRunning, false, dryBefore.UTC()).
		Updates(map[string]any{"finished_at": at.UTC().Truncate(time.Microsecond), "status": RunFailed,
			"error": "interrupted: the process stopped before the run finished"}).Error
	return translate("fail interrupted retention runs", err)
}

// RetentionRuns returns the last limit runs, newest first.
func (s *Store) RetentionRuns(ctx context.Context, limit int) ([]RetentionRun, error) {
	var list []RetentionRun
	err := s.conn(ctx).Order("id DESC").Limit(limit).Find(&list).Error
	return list, translate("retention runs", err)
}

// ExecForTest runs a statement as it is. Tests only: it lets them tamper with the ledger,
// expire a lease or load a database as an old dump would have it; nothing else calls it.
func (s *Store) ExecForTest(ctx context.Context, sql string, args ...any) error {
	return s.conn(ctx).Exec(sql, args...).Error
}

// QueryForTest runs a query as it is and scans its rows into dest (a pointer to a slice).
// Tests only, like ExecForTest.
func (s *Store) QueryForTest(ctx context.Context, dest any, sql string, args ...any) error {
	return s.conn(ctx).Raw(sql, args...).Scan(dest).Error
}

// idsAfter is the condition "id > ?" of a keyset, true for every id when the parameter is
// empty (the first batch): PostgreSQL cannot compare a uuid with the empty string.
func idsAfter(after string) string {
	if after == "" {
		return "? = ''"
	}
	return "id > ?"
}

// quoteIdent quotes a table name for PostgreSQL and SQLite.
func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// sortedIDs sorts ids returned by RETURNING, whose order the databases do not promise.
func sortedIDs(ids []string) []string {
	slices.Sort(ids)
	return ids
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// OldAuditEvents returns the ids, in order, of up to limit audit events after the id after
// whose time is before cutoff.
func (s *Store) OldAuditEvents(ctx context.Context, cutoff time.Time, after int64, limit int) ([]int64, error) {
	var ids []int64
	err := s.conn(ctx).Raw(`SELECT id FROM audit_events WHERE id > ? AND at < ? ORDER BY id LIMIT ?`,
		after, cutoff.UTC(), limit).Scan(&ids).Error
	return ids, translate("old audit events", err)
}

// CountOldAuditEvents counts the audit events whose time is before cutoff.
func (s *Store) CountOldAuditEvents(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.conn(ctx).Raw(`SELECT count(*) FROM audit_events WHERE at < ?`, cutoff.UTC()).Scan(&n).Error
	return n, translate("count old audit events", err)
}

// DeleteOldAuditEvents deletes the audit events with ids in (after, last] whose time is
// before cutoff, and returns their ids in order.
func (s *Store) DeleteOldAuditEvents(ctx context.Context, after, last int64, cutoff time.Time) ([]int64, error) {
	var ids []int64
	err := s.conn(ctx).Raw(`DELETE FROM audit_events WHERE id > ? AND id <= ? AND at < ? RETURNING id`,
		after, last, cutoff.UTC()).Scan(&ids).Error
	slices.Sort(ids)
	return ids, translate("delete old audit events", err)
}
