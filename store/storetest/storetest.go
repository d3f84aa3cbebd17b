// Package storetest opens fresh, migrated stores on SQLite and PostgreSQL for tests.
package storetest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"webinaire/store"
	"webinaire/store/pgtest"
)

// Drivers are the databases every storage test runs on.
var Drivers = []string{store.DriverSQLite, store.DriverPostgres}

// Config returns the configuration of a new empty database for driver: a file in t.TempDir()
// for SQLite, a new database on the shared PostgreSQL server (pgtest.Main must run in TestMain).
func Config(t testing.TB, driver string) store.Config {
	t.Helper()
	switch driver {
	case store.DriverSQLite:
		return store.Config{Driver: driver, URL: filepath.Join(t.TempDir(), "webinaire.db"), MaxOpenConns: 4}
	case store.DriverPostgres:
		return store.Config{Driver: driver, URL: pgtest.Shared(t).NewDatabase(t), MaxOpenConns: 4}
	}
	t.Fatalf("unknown driver %q", driver)
	return store.Config{}
}

// Open returns a migrated store on a new empty database, closed by t.Cleanup.
func Open(t testing.TB, driver string) *store.Store {
	t.Helper()
	return OpenConfig(t, Config(t, driver))
}

// OpenConfig returns a migrated store on the database of cfg, closed by t.Cleanup.
func OpenConfig(t testing.TB, cfg store.Config) *store.Store {
	t.Helper()
	driver := cfg.Driver
	s, err := store.Open(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("open %s store: %v", driver, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s store: %v", driver, err)
	}
	return s
}
