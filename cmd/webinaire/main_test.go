package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/api/apitest"
	"webinaire/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// syncBuffer collects a log written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var urlLine = regexp.MustCompile(`Webinaire is running: open (http://[^ ]+)/`)

// started is a serve running in this process.
type started struct {
	base   string
	stderr *syncBuffer
	// done is closed when serve has returned code.
	done chan struct{}
	code int
	stop context.CancelFunc
}

// startServe runs `webinaire serve` in the process and returns once it prints its URL.
func startServe(t *testing.T, args, environ []string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	s := &started{stderr: &syncBuffer{}, done: make(chan struct{}), stop: cancel}
	// Owned by the test; ends when serve returns after ctx is cancelled.
	go func() {
		s.code = run(ctx, append([]string{"serve"}, args...), environ, outW, s.stderr)
		outW.Close()
		close(s.done)
	}()
	s.base = readURL(t, outR, s.done, s.stderr)
	// Drain the rest of stdout so serve never blocks on it.
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

func readURL(t *testing.T, r io.Reader, done <-chan struct{}, stderr *syncBuffer) string {
	t.Helper()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
				lines <- m[1]
				return
			}
		}
		close(lines)
	}()
	select {
	case u, ok := <-lines:
		require.True(t, ok, "serve printed no URL; log:\n%s", stderr)
		return u
	case <-done:
		t.Fatalf("serve exited before printing its URL; log:\n%s", stderr)
	}
	return ""
}

func status(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// waitReady polls /readyz until it answers 200; the bound only stops a hung test.
func waitReady(t *testing.T, base string) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if status(t, base+"/readyz") == http.StatusOK {
			return
		}
	}
	t.Fatalf("%s never became ready", base)
}

// holdDefaultMediaPort keeps the default media port busy during the test, as a development
// server running beside the suite does, so that a test which would bind it fails here
// too. When another process holds it already, that is the same situation.
func holdDefaultMediaPort(t *testing.T) {
	t.Helper()
	defaults, err := LoadConfig("", nil)
	require.NoError(t, err)
	conn, err := net.ListenPacket("udp", ":"+strconv.Itoa(defaults.Media.UDPPort))
	if err != nil {
		return // held by someone else
	}
	t.Cleanup(func() { conn.Close() })
}

func TestServeEmbeddedDefault(t *testing.T) {
	dir := t.TempDir()
	holdDefaultMediaPort(t)
	s := startServe(t, []string{"--listen", "127.0.0.1:0"}, append([]string{
		"WEBINAIRE_DATABASE_URL=" + filepath.Join(dir, "webinaire.db"),
		"WEBINAIRE_RECORDINGS_DIR=" + filepath.Join(dir, "recordings"),
		"WEBINAIRE_MEDIA_UDP_PORT=0",
	}, ledgerEnv(dir)...))
	waitReady(t, s.base)
	require.Equal(t, http.StatusOK, status(t, s.base+"/"))
	require.Equal(t, http.StatusOK, status(t, s.base+"/dev-idp/.well-known/openid-configuration"))
	require.Equal(t, http.StatusOK, status(t, s.base+"/api/v1/privacy/ledger/checkpoint"),
		"once ready, serve has signed the ledger's first checkpoint and publishes it")

	// Remember the source address of every connection the browser opens.
	var (
		mu      sync.Mutex
		sources []string
	)
	dialer := &net.Dialer{}
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err == nil {
			mu.Lock()
			sources = append(sources, c.LocalAddr().String())
			mu.Unlock()
		}
		return c, err
	}}
	b := apitest.NewBrowser(t, s.base, transport)
	b.Login("dev-anne-dupont")
	resp := b.Do("POST", "/api/v1/webinars", map[string]any{
		"title": "Point d'équipe", "kind": "meeting", "starts_at": "2026-12-01T09:00:00Z", "duration_minutes": 30,
	}, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var w struct{ ID string }
	apitest.Decode(t, resp, &w)
	resp = b.Do("POST", "/api/v1/webinars/"+w.ID+"/invitations", map[string]string{"role": "attendee"}, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var inv struct {
		URL    string `json:"url"`
		ICSURL string `json:"ics_url"`
	}
	apitest.Decode(t, resp, &inv)
	require.True(t, strings.HasPrefix(inv.URL, s.base+"/join/"))
	require.Equal(t, http.StatusOK, status(t, inv.URL))
	require.Equal(t, http.StatusOK, status(t, inv.ICSURL))
	resp = b.Do("POST", "/api/v1/webinars/"+w.ID+"/join", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var j struct {
		WSURL string `json:"ws_url"`
	}
	apitest.Decode(t, resp, &j)
	require.Equal(t, strings.Replace(s.base, "http://", "ws://", 1)+"/api/v1/rtc", j.WSURL, "one node, with nothing configured: the joins stay on it")

	_, err := os.Stat(filepath.Join(dir, "webinaire.db"))
	require.NoError(t, err, "the SQLite file is where the configuration says")

	s.stop()
	<-s.done
	require.Equal(t, 0, s.code, "a stop request ends serve cleanly")
	log := s.stderr.String()
	require.Contains(t, log, "DEVELOPMENT MODE")
	require.Contains(t, log, "msg=stopped")
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, sources)
	for _, src := range sources {
		require.NotContains(t, log, src, "no client address in the ordinary log")
	}
}

func TestServeWaitsForTheDatabase(t *testing.T) {
	// The database is behind a link that is down at start.
	dbURL := pgtest.Shared(t).NewDatabase(t)
	proxy := pgtest.NewProxy(t, dbURL)
	proxy.Cut()

	s := startServe(t, []string{"--listen", "127.0.0.1:0"}, append([]string{
		"WEBINAIRE_DATABASE_DRIVER=postgres",
		"WEBINAIRE_DATABASE_URL=" + proxy.URL(dbURL),
		"WEBINAIRE_DATABASE_RETRY_INTERVAL=100ms",
		"WEBINAIRE_MEDIA_UDP_PORT=0",
	}, ledgerEnv(t.TempDir())...))
	require.Equal(t, http.StatusOK, status(t, s.base+"/healthz"), "the process answers")
	require.Equal(t, http.StatusServiceUnavailable, status(t, s.base+"/readyz"), "but is not ready")
	require.Equal(t, http.StatusServiceUnavailable, status(t, s.base+"/api/v1/me"))

	for !strings.Contains(s.stderr.String(), "attempt=2") {
		time.Sleep(20 * time.Millisecond)
	}
	proxy.Restore()
	waitReady(t, s.base)

	b := apitest.NewBrowser(t, s.base, nil)
	b.Login("dev-karim-benali")
	log := s.stderr.String()
	require.Contains(t, log, "database not ready, retrying")
	require.Contains(t, log, "database ready")
	require.Equal(t, 0, strings.Count(log, "panic"))
}

func TestSIGTERMDrainsAndStops(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)

	dir := t.TempDir()
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "WEBINAIRE_MEDIA_UDP_PORT=0")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	base := readURL(t, stdout, make(chan struct{}), stderr)
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	waitReady(t, base)
	_, err = os.Stat(filepath.Join(dir, "data", "webinaire.db"))
	require.NoError(t, err, "the default database is data/webinaire.db under the working directory")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err = cmd.Wait()
	require.NoError(t, err, "exit status 0 after SIGTERM; log:\n%s", stderr)
	require.Contains(t, stderr.String(), "stopping: draining requests")
	require.Contains(t, stderr.String(), "msg=stopped")
}

// ledgerEnv points the ledger's key files and checkpoint log into dir.
func ledgerEnv(dir string) []string {
	return []string{
		"WEBINAIRE_PRIVACY_LEDGER_KEY_FILE=" + filepath.Join(dir, "ledger.key"),
		"WEBINAIRE_PRIVACY_LEDGER_SIGNING_KEY_FILE=" + filepath.Join(dir, "ledger-signing.key"),
		"WEBINAIRE_PRIVACY_LEDGER_CHECKPOINT_FILE=" + filepath.Join(dir, "ledger-checkpoints"),
	}
}

func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	env := append([]string{"WEBINAIRE_DATABASE_URL=" + filepath.Join(dir, "w.db")}, ledgerEnv(dir)...)
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"migrate"}, env, &out, &errOut), errOut.String())
	require.Regexp(t, `applied [1-9]\d* migration\(s\)`, out.String())
	for _, f := range []string{"ledger.key", "ledger-signing.key", "ledger-signing.pub", "ledger-checkpoints"} {
		require.FileExists(t, filepath.Join(dir, f), "migrate makes the ledger's keys and its first checkpoint")
	}
	out.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"migrate"}, env, &out, &errOut))
	require.Contains(t, out.String(), "applied 0 migration(s)")

	env = append([]string{"WEBINAIRE_DATABASE_DRIVER=postgres", "WEBINAIRE_DATABASE_URL=" + pgtest.Shared(t).NewDatabase(t)}, ledgerEnv(t.TempDir())...)
	out.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"migrate"}, env, &out, &errOut), errOut.String())
	require.Regexp(t, `applied [1-9]\d* migration\(s\); the postgres database is up to date`, out.String())
}

func TestCommandLine(t *testing.T) {
	cases := []struct {
		args []string
		env  []string
		code int
		out  string
		err  string
	}{
		{[]string{"version"}, nil, 0, "webinaire ", ""},
		{[]string{"help"}, nil, 0, "webinaire retention plan|run", ""},
		{[]string{"dance"}, nil, 2, "", `unknown command "dance"`},
		{[]string{"retention", "sweep"}, nil, 2, "", ""},
		{[]string{"serve", "--config", "/nonexistent.yaml"}, nil, 1, "", "read configuration"},
		{[]string{"serve", "--bogus"}, nil, 1, "", "flag provided but not defined: -bogus"},
		{[]string{"serve", "extra"}, nil, 1, "", `unexpected argument "extra"`},
		{[]string{"serve"}, []string{"WEBINAIRE_MODE=production"}, 1, "", "key dev_idp.enabled"},
		{[]string{"serve", "--listen", "256.0.0.1:99999"}, nil, 1, "", "key server.listen"},
		{[]string{"migrate"}, []string{"WEBINAIRE_DATABASE_DRIVER=postgres", "WEBINAIRE_DATABASE_URL=postgres://x@127.0.0.1:1/none?connect_timeout=1"}, 1, "", "webinaire migrate:"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, tc.env, &out, &errOut)
			require.Equal(t, tc.code, code, "stderr: %s", errOut.String())
			require.Contains(t, out.String(), tc.out)
			require.Contains(t, errOut.String(), tc.err)
		})
	}
}
