package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long Main waits for the server to start.
const startTimeout = 2 * time.Minute

// shared is the server started by Main, for Shared. It is the package's only
// state, forced on it by testing.M.
var shared struct {
	mu  sync.Mutex
	srv *Server
}

// Main is for TestMain: it starts a server, stores it for Shared, runs the
// tests, stops the server, and exits with m.Run's code.
//
// If the server cannot start, Main prints the error and exits 1: tests that
// need PostgreSQL fail loudly, in CI (CI=true) and elsewhere, and are never
// skipped.
func Main(m *testing.M) {
	os.Exit(runMain(m))
}

// runMain is Main without the exit, so that deferred calls run.
func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	srv, err := Start(ctx)
	cancel()
	if err != nil {
		where := "outside CI"
		if os.Getenv("CI") == "true" {
			where = "in CI"
		}
		fmt.Fprintf(os.Stderr, "pgtest: no PostgreSQL server for the tests (%s, failing rather than skipping): %v\n", where, err)
		return 1
	}

	shared.mu.Lock()
	shared.srv = srv
	shared.mu.Unlock()

	// The cluster runs detached from this process (pg_ctl puts it in its
	// own session), so an interrupt would leave it behind: stop it first.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	defer func() {
		signal.Stop(sigs)
		close(done)
	}()
	go func() {
		select {
		case sig := <-sigs:
			if err := srv.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			}
			fmt.Fprintf(os.Stderr, "pgtest: stopped server on %v\n", sig)
			os.Exit(1)
		case <-done:
		}
	}()

	code := m.Run()
	if err := srv.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Shared returns the server started by Main. It calls t.Fatal if Main was
// not used.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	srv := shared.srv
	shared.mu.Unlock()
	if srv == nil {
		t.Fatal("pgtest: no shared server: call pgtest.Main from TestMain")
	}
	return srv
}
