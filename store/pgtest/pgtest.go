// Package pgtest gives Go tests a real PostgreSQL server.
//
// A test package uses it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		dbURL := pgtest.Shared(t).NewDatabase(t)
//		...
//	}
//
// By default Main starts a throw-away cluster (initdb + pg_ctl) in a temporary
// directory, listening only on 127.0.0.1 on a free port. When
// WEBINAIRE_TEST_DATABASE_URL is set, the server it names is used instead.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// EnvURL is the environment variable naming an existing PostgreSQL server to
// use instead of starting a throw-away cluster. Its value is a URL to an
// existing database whose user may CREATE DATABASE.
const EnvURL = "WEBINAIRE_TEST_DATABASE_URL"

const (
	installHint = "install PostgreSQL server binaries: apt-get install postgresql (or set " + EnvURL + ")"

	// dirPrefix names the temporary cluster directories; ownerFile inside one
	// holds the pid of the process that created it (see reapStale).
	dirPrefix = "pgtest-"
	ownerFile = "pgtest.owner"

	startAttempts  = 3
	pgCtlTimeout   = 60 // seconds, for pg_ctl start -w -t
	readyTimeout   = 30 * time.Second
	stmtTimeout    = 30 * time.Second // for CREATE and DROP DATABASE
	logTailBytes   = 4096
	superuser      = "postgres"
	maintenanceDB  = "postgres"
	dbNameRandSize = 8
)

// Server is a PostgreSQL server that tests can create databases on.
type Server struct {
	url string

	// The fields below are set only for a cluster this package started.
	dir  string       // temporary directory holding data, socket and logs
	bin  string       // directory holding initdb and pg_ctl
	cred *credentials // user to run PostgreSQL programs as; nil for the current user

	mu      sync.Mutex
	stopped bool
}

// credentials is the system user the PostgreSQL programs run as.
type credentials struct {
	uid, gid uint32
}

// Start returns the server named by WEBINAIRE_TEST_DATABASE_URL when that
// variable is set (a URL to an existing database with the right to CREATE
// DATABASE), and otherwise starts a throw-away cluster: initdb and pg_ctl
// (found in PATH, else in the newest /usr/lib/postgresql/*/bin) in a fresh
// temporary directory, listening only on 127.0.0.1 on a free port, with trust
// authentication and durability turned off for speed. When the process runs
// as root, the PostgreSQL programs run as the "postgres" system user.
//
// If the binaries are missing, the error says what to install.
func Start(ctx context.Context) (*Server, error) {
	if raw := os.Getenv(EnvURL); raw != "" {
		return external(ctx, raw)
	}
	s, err := startCluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("start cluster: %w", err)
	}
	return s, nil
}

// external returns the server named by raw after checking that it answers.
func external(ctx context.Context, raw string) (*Server, error) {
	if _, err := url.Parse(raw); err != nil {
		return nil, fmt.Errorf("parse %s: %w", EnvURL, err)
	}
	s := &Server{url: raw}
	if err := ping(ctx, raw); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", EnvURL, err)
	}
	return s, nil
}

// URL is a connection URL for the server's maintenance database
// (postgres://...?sslmode=disable).
func (s *Server) URL() string {
	return s.url
}

// NewDatabase creates a new empty database with a unique name
// (test_<random hex>) and returns its URL. The database is dropped
// (WITH (FORCE)) by t.Cleanup.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name, err := randomName()
	if err != nil {
		t.Fatalf("new database: %v", err)
	}
	dbURL, err := s.databaseURL(name)
	if err != nil {
		t.Fatalf("new database: %v", err)
	}
	quoted := pgx.Identifier{name}.Sanitize()
	if err := s.exec(context.Background(), "CREATE DATABASE "+quoted); err != nil {
		t.Fatalf("new database: create %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := s.exec(context.Background(), "DROP DATABASE IF EXISTS "+quoted+" WITH (FORCE)"); err != nil {
			t.Errorf("new database: drop %s: %v", name, err)
		}
	})
	return dbURL
}

// Stop stops a cluster this package started (pg_ctl stop -m immediate) and
// removes its directory. For a server named by WEBINAIRE_TEST_DATABASE_URL it
// does nothing. It is safe to call twice.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.dir == "" {
		return nil
	}
	s.stopped = true
	return destroyCluster(s.bin, s.dir, s.cred)
}

// databaseURL is the server URL with its database replaced by name.
func (s *Server) databaseURL(name string) (string, error) {
	u, err := url.Parse(s.url)
	if err != nil {
		return "", fmt.Errorf("parse server url: %w", err)
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// exec runs one statement on the maintenance database.
func (s *Server) exec(ctx context.Context, stmt string) error {
	ctx, cancel := context.WithTimeout(ctx, stmtTimeout)
	defer cancel()
	db, err := sql.Open("pgx", s.url)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	return nil
}

// randomName returns a fresh database name, test_<16 hex digits>.
func randomName() (string, error) {
	b := make([]byte, dbNameRandSize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random name: %w", err)
	}
	return "test_" + hex.EncodeToString(b), nil
}

// startCluster creates, configures and starts a throw-away cluster.
func startCluster(ctx context.Context) (_ *Server, err error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}

	reapStale(bin, cred)

	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	s := &Server{dir: dir, bin: bin, cred: cred}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Errorf("write owner file: %w", err)
	}
	if cred != nil {
		// The directory itself must be the postgres user's; so must everything
		// initdb creates under it, which it does as that user.
		if err := os.Chown(dir, int(cred.uid), int(cred.gid)); err != nil {
			return nil, fmt.Errorf("chown temp dir: %w", err)
		}
	}

	data := filepath.Join(dir, "data")
	out, err := run(ctx, cred, dir, filepath.Join(bin, "initdb"),
		"-D", data, "-U", superuser, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
	if err != nil {
		return nil, fmt.Errorf("initdb: %w: %s", err, tail(out))
	}
	if err := appendConfig(filepath.Join(data, "postgresql.conf"), dir); err != nil {
		return nil, err
	}

	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		logFile := filepath.Join(dir, fmt.Sprintf("postgres-%d.log", attempt))
		out, err := run(ctx, cred, dir, filepath.Join(bin, "pg_ctl"),
			"start", "-w", "-t", strconv.Itoa(pgCtlTimeout), "-D", data, "-l", logFile,
			"-o", "-p "+strconv.Itoa(port))
		if err == nil {
			s.url = fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, port, maintenanceDB)
			break
		}
		logTail := readTail(logFile)
		if attempt < startAttempts && ctx.Err() == nil && portTaken(logTail) {
			continue
		}
		return nil, fmt.Errorf("pg_ctl start on port %d: %w: %s\nserver log:\n%s",
			port, err, tail(out), logTail)
	}

	readyCtx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := waitReady(readyCtx, s.url); err != nil {
		return nil, fmt.Errorf("wait for server: %w", err)
	}
	return s, nil
}

// appendConfig adds the test settings to the cluster's postgresql.conf.
func appendConfig(path, socketDir string) error {
	conf := strings.Join([]string{
		"",
		"# added by webinaire/store/pgtest",
		"listen_addresses = '127.0.0.1'",
		"unix_socket_directories = '" + strings.ReplaceAll(socketDir, "'", "''") + "'",
		"fsync = off",
		"synchronous_commit = off",
		"full_page_writes = off",
		"",
	}, "\n")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open config: %w", err)
	}
	if _, err := f.WriteString(conf); err != nil {
		_ = f.Close()
		return fmt.Errorf("write config: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close config: %w", err)
	}
	return nil
}

// destroyCluster stops the cluster in dir, if running, and removes dir.
func destroyCluster(bin, dir string, cred *credentials) error {
	var errs []error
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
		out, err := run(context.Background(), cred, dir, filepath.Join(bin, "pg_ctl"),
			"stop", "-m", "immediate", "-w", "-D", data)
		if err != nil {
			errs = append(errs, fmt.Errorf("pg_ctl stop: %w: %s", err, tail(out)))
		}
	}
	// Files are owned by the postgres user when we run as root; root may
	// remove them regardless.
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("remove cluster dir: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop cluster: %w", err)
	}
	return nil
}

// reapStale removes clusters left behind in the temp directory by test
// processes that died without calling Stop (killed, timed out). Only
// directories holding an owner file whose process no longer exists are
// touched. Errors are ignored: this is best effort.
func reapStale(bin string, cred *credentials) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		raw, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		_ = destroyCluster(bin, dir, cred)
	}
}

// processAlive reports whether a process with that pid exists and is not a
// zombie waiting to be reaped.
func processAlive(pid int) bool {
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		// "pid (comm) state ...": comm may itself contain ')'.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return false
		}
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// findBinaries returns the directory holding initdb and pg_ctl: the one
// found in PATH if both resolve to real programs in the same directory,
// else the newest /usr/lib/postgresql/*/bin. Debian's pg_wrapper links in
// PATH are skipped.
func findBinaries() (string, error) {
	if dir, ok := pathBinaries(); ok {
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(a)), filepath.Base(filepath.Dir(b)))
	})
	for _, dir := range slices.Backward(dirs) {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	return "", errors.New("initdb and pg_ctl not found in PATH or /usr/lib/postgresql/*/bin: " + installHint)
}

// pathBinaries returns the directory of initdb and pg_ctl found in PATH
// after resolving symbolic links, if they are real programs side by side.
func pathBinaries() (string, bool) {
	var dir string
	for _, name := range []string{"initdb", "pg_ctl"} {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", false
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil || filepath.Base(real) != name {
			return "", false // e.g. /usr/share/postgresql-common/pg_wrapper
		}
		d := filepath.Dir(real)
		if dir != "" && d != dir {
			return "", false
		}
		dir = d
	}
	return dir, true
}

// compareVersions orders PostgreSQL major version directory names such as
// "9.6", "15" and "16" numerically.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var na, nb int
		if i < len(pa) {
			na, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			nb, _ = strconv.Atoi(pb[i])
		}
		if na != nb {
			return na - nb
		}
	}
	return strings.Compare(a, b)
}

// isExecutable reports whether path is a regular file with an execute bit.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// runAs returns the credentials of the postgres system user when this
// process runs as root (PostgreSQL refuses to run as root), else nil.
func runAs() (*credentials, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres system user: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse postgres uid: %w", err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("parse postgres gid: %w", err)
	}
	return &credentials{uid: uint32(uid), gid: uint32(gid)}, nil
}

// run runs a PostgreSQL program in dir as cred (nil: the current user) and
// returns its combined output.
func run(ctx context.Context, cred *credentials, dir, prog string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.Env = childEnv()
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: cred.uid, Gid: cred.gid},
		}
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// pg_ctl leaves the server running with its output redirected to the log
	// file; do not wait for inherited descriptors beyond the program itself.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	return out.Bytes(), err
}

// childEnv is this process's environment without libpq variables (which
// could point the programs elsewhere), with messages in English so that
// errors can be recognised.
func childEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG")
	})
	return append(env, "LC_ALL=C")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	return port, nil
}

// portTaken reports whether a server log says the port was in use.
func portTaken(log string) bool {
	return strings.Contains(log, "Address already in use") || strings.Contains(log, "could not bind")
}

// readTail returns the end of a log file, or a note why it cannot.
func readTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	return tail(b)
}

// tail returns the last few kilobytes of b as text.
func tail(b []byte) string {
	if len(b) > logTailBytes {
		b = b[len(b)-logTailBytes:]
	}
	return strings.TrimSpace(string(b))
}

// ping opens a connection to dbURL once and checks it.
func ping(ctx context.Context, dbURL string) error {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// waitReady pings dbURL until it answers or ctx ends.
func waitReady(ctx context.Context, dbURL string) error {
	const interval = 50 * time.Millisecond
	for {
		err := ping(ctx, dbURL)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server not ready: %w (last error: %w)", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}
