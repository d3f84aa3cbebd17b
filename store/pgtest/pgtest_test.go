package pgtest_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"webinaire/store/pgtest"
)

func TestMain(m *testing.M) {
	pgtest.Main(m)
}

func open(t *testing.T, dbURL string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

func dbName(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	return strings.TrimPrefix(u.Path, "/")
}

func TestURL(t *testing.T) {
	if os.Getenv("WEBINAIRE_TEST_DATABASE_URL") != "" {
		t.Skip("server named by WEBINAIRE_TEST_DATABASE_URL")
	}
	u, err := url.Parse(pgtest.Shared(t).URL())
	require.NoError(t, err)
	require.Equal(t, "postgres", u.Scheme)
	require.Equal(t, "127.0.0.1", u.Hostname())
	require.Equal(t, "disable", u.Query().Get("sslmode"))
}

func TestNewDatabaseIsolated(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Shared(t)
	urlA, urlB := srv.NewDatabase(t), srv.NewDatabase(t)
	require.NotEqual(t, dbName(t, urlA), dbName(t, urlB))
	require.Regexp(t, `^test_[0-9a-f]{16}$`, dbName(t, urlA))

	a, b := open(t, urlA), open(t, urlB)
	for name, db := range map[string]*sql.DB{"a": a, "b": b} {
		_, err := db.ExecContext(ctx, "CREATE TABLE only_"+name+" (id int PRIMARY KEY, v text NOT NULL)")
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, "INSERT INTO only_"+name+" (id, v) VALUES (1, $1)", "value "+name)
		require.NoError(t, err)
		var v string
		require.NoError(t, db.QueryRowContext(ctx, "SELECT v FROM only_"+name+" WHERE id = 1").Scan(&v))
		require.Equal(t, "value "+name, v)
	}

	var current string
	require.NoError(t, a.QueryRowContext(ctx, "SELECT current_database()").Scan(&current))
	require.Equal(t, dbName(t, urlA), current)

	_, err := a.ExecContext(ctx, "SELECT 1 FROM only_b")
	require.ErrorContains(t, err, "does not exist")
	_, err = b.ExecContext(ctx, "SELECT 1 FROM only_a")
	require.ErrorContains(t, err, "does not exist")
}

func TestNewDatabaseDroppedByCleanup(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Shared(t)
	maint := open(t, srv.URL())

	exists := func(name string) bool {
		var n int
		require.NoError(t, maint.QueryRowContext(ctx,
			"SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n))
		return n == 1
	}

	var name string
	var conn *sql.Conn
	parent := t
	t.Run("create", func(t *testing.T) {
		dbURL := srv.NewDatabase(t)
		name = dbName(t, dbURL)
		require.True(t, exists(name))
		// A connection still open when the cleanup runs must not prevent the drop.
		var err error
		conn, err = open(parent, dbURL).Conn(ctx)
		require.NoError(t, err)
		require.NoError(t, conn.PingContext(ctx))
	})
	require.NotEmpty(t, name)
	require.False(t, exists(name), "database %s still exists after cleanup", name)
	require.Error(t, conn.PingContext(ctx), "connection to dropped database still works")
	_ = conn.Close()
}

func TestStartWithURLDoesNotStopServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shared := pgtest.Shared(t)
	t.Setenv("WEBINAIRE_TEST_DATABASE_URL", shared.URL())

	srv, err := pgtest.Start(ctx)
	require.NoError(t, err)
	require.Equal(t, shared.URL(), srv.URL())

	dbURL := srv.NewDatabase(t)
	require.NoError(t, open(t, dbURL).PingContext(ctx))

	require.NoError(t, srv.Stop())
	require.NoError(t, srv.Stop())

	require.NoError(t, open(t, shared.URL()).PingContext(ctx))
}

func TestStartWithBadURLFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	t.Setenv("WEBINAIRE_TEST_DATABASE_URL", "postgres://nobody@127.0.0.1:1/postgres?sslmode=disable")
	_, err := pgtest.Start(ctx)
	require.ErrorContains(t, err, "WEBINAIRE_TEST_DATABASE_URL")
}

// BenchmarkStart measures starting and stopping a throw-away cluster.
func BenchmarkStart(b *testing.B) {
	if os.Getenv("WEBINAIRE_TEST_DATABASE_URL") != "" {
		b.Skip("server named by WEBINAIRE_TEST_DATABASE_URL")
	}
	ctx := context.Background()
	for b.Loop() {
		srv, err := pgtest.Start(ctx)
		require.NoError(b, err)
		require.NoError(b, srv.Stop())
	}
}
