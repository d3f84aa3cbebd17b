// Package store keeps Webinaire's data in PostgreSQL or SQLite; it is the only package that uses GORM.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Errors returned by the store; callers compare them with errors.Is.
var (
	// ErrNotFound: no row matches.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a row with the same unique key exists.
	ErrConflict = errors.New("conflict")
	// ErrNotReady: the database is not reachable or its migrations are not applied.
	ErrNotReady = errors.New("database not ready")
	// ErrUnavailable: the connection to the database failed during the call; nothing was
	// committed unless the call says otherwise, and a retry may succeed.
	ErrUnavailable = errors.New("database unavailable")
	// ErrTooMany: a bound on how many rows of a kind may exist is reached; nothing was written.
	ErrTooMany = errors.New("too many")
)

// Drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

//go:embed migrations
var migrations embed.FS

// Config says which database to open.
type Config struct {
	// Driver is DriverSQLite or DriverPostgres.
	Driver string
	// URL is a file path for SQLite, a postgres:// URL for PostgreSQL.
	URL string
	// MaxOpenConns bounds the connection pool.
	MaxOpenConns int
}

// Store is the database. Its methods take a context and are safe for concurrent use.
type Store struct {
	db     *gorm.DB
	driver string
	log    *slog.Logger
}

// Open prepares the connection pool without connecting: the database may come up later,
// Migrate and Ready tell when it is there.
func Open(cfg Config, log *slog.Logger) (*Store, error) {
	var dialector gorm.Dialector
	switch cfg.Driver {
	case DriverSQLite:
		if dir := filepath.Dir(cfg.URL); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("create database folder: %w", err)
			}
		}
		// The file holds personal data: readable by this user only. SQLite gives its -wal
		// and -shm files the same mode.
		f, err := os.OpenFile(cfg.URL, os.O_CREATE|os.O_RDONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create database file: %w", err)
		}
		_ = f.Close()
		// secure_delete: what a deletion frees is overwritten with zeros, so that deleted
		// personal data does not stay in the file's free pages (see Scrub for the log).
		dsn := cfg.URL + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=secure_delete(1)&_txlock=immediate"
		dialector = sqlite.Open(dsn)
	case DriverPostgres:
		dialector = postgres.Open(cfg.URL)
	default:
		return nil, fmt.Errorf("open database: unknown driver %q", cfg.Driver)
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		DisableAutomaticPing: true,
		TranslateError:       true,
		Logger:               logger.Discard,
		NowFunc:              func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	maxConns := max(cfg.MaxOpenConns, 1)
	if cfg.Driver == DriverSQLite {
		// One writer at a time is what SQLite allows; readers share the pool.
		maxConns = min(maxConns, 4)
	}
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(maxConns)
	return &Store{db: db, driver: cfg.Driver, log: log}, nil
}

// Driver names the database in use.
func (s *Store) Driver() string { return s.driver }

// Close closes the connection pool.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

func (s *Store) provider() (*goose.Provider, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	dialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if s.driver == DriverPostgres {
		dialect = goose.DialectPostgres
		// Several replicas may start at once: one applies the migrations, the others wait.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	sub, err := fs.Sub(migrations, "migrations/"+s.driver)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, sqlDB, sub, opts...)
}

// Migrate applies the migrations that are not applied yet and returns how many it applied.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	p, err := s.provider()
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return len(results), fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		s.log.Info("migration applied", "version", r.Source.Version, "file", filepath.Base(r.Source.Path))
	}
	// The connection log's partitions for this month and the next two.
	now, err := s.Now(ctx)
	if err != nil {
		return len(results), fmt.Errorf("migrate: %w", err)
	}
	if err := s.EnsureLogPartitions(ctx, now, 3); err != nil {
		return len(results), fmt.Errorf("migrate: %w", err)
	}
	return len(results), nil
}

// Scrub empties SQLite's write-ahead log into the database file and truncates it, after a
// deletion of personal data: with secure_delete, the bytes deleted are then in neither
// file. PostgreSQL keeps deleted rows' bytes in its files until their space is reused
// (VACUUM makes it reusable, it does not overwrite it): Scrub does nothing there.
func (s *Store) Scrub(ctx context.Context) error {
	if s.driver != DriverSQLite {
		return nil
	}
	return translate("scrub", s.conn(ctx).Exec("PRAGMA wal_checkpoint(TRUNCATE)").Error)
}

// Ready returns nil when the database answers and every migration is applied.
func (s *Store) Ready(ctx context.Context) error {
	p, err := s.provider()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	if pending {
		return fmt.Errorf("%w: migrations pending", ErrNotReady)
	}
	return nil
}

// InTx runs fn in one transaction: committed when fn returns nil, rolled back otherwise.
func (s *Store) InTx(ctx context.Context, fn func(tx *Store) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(&Store{db: tx, driver: s.driver, log: s.log})
	}, &sql.TxOptions{})
}

// conn is the handle for one call: the store's database bound to ctx.
func (s *Store) conn(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// translate maps GORM's errors to the store's sentinels, keeping the context.
func translate(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%s: %w", op, ErrConflict)
	case connectionLost(err):
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// connectionLost tells a failure of the link to the database from an error of the query.
func connectionLost(err error) bool {
	var (
		netErr     net.Error
		connectErr *pgconn.ConnectError
	)
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.As(err, &netErr) || errors.As(err, &connectErr) || pgconn.Timeout(err) ||
		strings.Contains(err.Error(), "conn closed")
}

var secretEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns an unguessable identifier of 160 random bits, 32 lower-case base32 characters,
// for room ids, invitation tokens and session tokens.
func NewSecret() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return strings.ToLower(secretEncoding.EncodeToString(b))
}
