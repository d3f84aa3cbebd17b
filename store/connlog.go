package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Connection log actor kinds.
const (
	ActorOrganizer = "organizer"
	ActorGuest     = "guest"
)

// ConnectionEvent is one entry of the connection log (décret n° 2021-1362): who, from which
// address and port, when, doing what. Never the content of a message or a vote.
type ConnectionEvent struct {
	ID          int64 `gorm:"->"`
	At          time.Time
	ActorKind   string
	ActorID     string
	DisplayName string
	IP          string `gorm:"column:ip"`
	Port        int
	Action      string
	WebinarID   string
	Protocol    string
}

// TableName names the connection log's table.
func (ConnectionEvent) TableName() string { return "connection_log" }

// Now is the database's clock, in UTC: retention decisions never trust the application's.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	var t time.Time
	if s.driver == DriverPostgres {
		err := s.conn(ctx).Raw("SELECT now()").Scan(&t).Error
		return t.UTC(), translate("database clock", err)
	}
	var text string
	if err := s.conn(ctx).Raw("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')").Scan(&text).Error; err != nil {
		return t, translate("database clock", err)
	}
	t, err := time.Parse("2006-01-02 15:04:05.000", text)
	return t.UTC(), err
}

// LogConnection appends an event to the connection log. On PostgreSQL the month's partition
// is created when it is missing.
func (s *Store) LogConnection(ctx context.Context, e ConnectionEvent) error {
	e.At = e.At.UTC().Truncate(time.Microsecond)
	// Each try is its own (sub)transaction, so that a failed insert does not spoil the
	// caller's transaction.
	insert := func() error {
		return s.InTx(ctx, func(tx *Store) error { return tx.conn(ctx).Create(&e).Error })
	}
	err := insert()
	var pgErr *pgconn.PgError
	if s.driver == DriverPostgres && errors.As(err, &pgErr) && pgErr.Code == "23514" {
		// check_violation: no partition for this month yet.
		if err := s.EnsureLogPartitions(ctx, e.At, 1); err != nil {
			return err
		}
		err = insert()
	}
	return translate("log connection", err)
}

// monthStart is the first instant of t's month, in UTC.
func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// LogPartitionName names the connection log's partition of the month of t.
func LogPartitionName(t time.Time) string {
	return fmt.Sprintf("connection_log_y%04dm%02d", t.UTC().Year(), int(t.UTC().Month()))
}

// EnsureLogPartitions creates the monthly partitions of the connection log from the month
// of from, for months months, when they are missing (PostgreSQL only; nothing to do on SQLite).
func (s *Store) EnsureLogPartitions(ctx context.Context, from time.Time, months int) error {
	if s.driver != DriverPostgres {
		return nil
	}
	start := monthStart(from)
	for i := range months {
		lo, hi := start.AddDate(0, i, 0), start.AddDate(0, i+1, 0)
		sql := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF connection_log FOR VALUES FROM ('%s') TO ('%s')`,
			LogPartitionName(lo), lo.Format(time.RFC3339), hi.Format(time.RFC3339))
		if err := s.conn(ctx).Exec(sql).Error; err != nil {
			return translate("create connection log partition", err)
		}
	}
	return nil
}

// ConnectionFilter selects connection log entries; empty fields select everything.
type ConnectionFilter struct {
	IP       string
	ActorID  string
	From, To time.Time
	Limit    int
}

// ConnectionLog returns entries by time, oldest first.
func (s *Store) ConnectionLog(ctx context.Context, f ConnectionFilter) ([]ConnectionEvent, error) {
	db := s.conn(ctx).Model(&ConnectionEvent{})
	if f.IP != "" {
		db = db.Where("ip = ?", f.IP)
	}
	if f.ActorID != "" {
		db = db.Where("actor_id = ?", f.ActorID)
	}
	if !f.From.IsZero() {
		db = db.Where("at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		db = db.Where("at < ?", f.To.UTC())
	}
	if f.Limit > 0 {
		db = db.Limit(f.Limit)
	}
	var list []ConnectionEvent
	err := db.Order("at, id").Find(&list).Error
	return list, translate("connection log", err)
}
