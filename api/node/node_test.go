package node_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/api"
	"webinaire/api/node"
	"webinaire/frontend"
	"webinaire/privacy"
	"webinaire/recording"
	"webinaire/sfu"
	"webinaire/store"
	"webinaire/store/storetest"
)

// signalHandler is a log handler that closes ready when the message "database ready"
// is written: the node's sign that it answers joins.
type signalHandler struct{ ready chan struct{} }

func (h signalHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "database ready" {
		close(h.ready)
	}
	return nil
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h signalHandler) WithGroup(string) slog.Handler            { return h }

// closer counts its calls to Close.
type closer struct{ closed int }

func (c *closer) Close() error {
	c.closed++
	return nil
}

// params are those of a node on a fresh SQLite database, its API at base.
func params(t *testing.T, base string, log *slog.Logger) node.Params {
	t.Helper()
	st := storetest.Open(t, store.DriverSQLite)
	skey, _, err := privacy.GenerateSigningKey("webinaire-ledger")
	require.NoError(t, err)
	ledger, err := privacy.NewLedger(privacy.LedgerParams{Store: st, Key: []byte("0123456789abcdef0123456789abcdef"),
		SigningKey: skey, Checkpoints: privacy.CheckpointFile{Path: filepath.Join(t.TempDir(), "checkpoints")}, Logger: log})
	require.NoError(t, err)
	recordings := recording.Folder{Root: filepath.Join(t.TempDir(), "recordings")}
	engine, err := privacy.NewEngine(privacy.EngineParams{
		Store: st, Ledger: ledger, Policy: privacy.DefaultPolicy(), SessionIdle: time.Hour,
		BatchSize: 100, Interval: time.Hour, Holder: "node-test", Logger: log, Recordings: recordings,
	})
	require.NoError(t, err)
	tokens, err := sfu.NewTokenSigner([]byte(store.NewSecret()))
	require.NoError(t, err)
	return node.Params{
		Logger: log, Store: st,
		SFU: sfu.Params{Logger: log, Tokens: tokens, WebRTC: sfu.WebRTCConfig{UDPPort: 0, IncludeLoopback: true}},
		API: api.Params{
			Logger: log, BaseURL: base, Ledger: ledger, Retention: engine, Policy: privacy.DefaultPolicy(),
			SessionIdle: time.Hour, SessionAbsolute: 12 * time.Hour, MaxBodyBytes: 64 << 10,
			Pages: frontend.Files, Recordings: recordings,
		},
		Ledger: ledger, Retention: engine, CheckpointInterval: time.Hour,
		RetryInterval: time.Second, ShutdownTimeout: time.Minute,
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

func TestRunServesUntilContextEnds(t *testing.T) {
	ln := listen(t)
	base := "http://" + ln.Addr().String()
	ready := make(chan struct{})
	p := params(t, base, slog.New(signalHandler{ready: ready}))
	turn := &closer{}
	p.Closers = []io.Closer{turn}
	n, err := node.Build(t.Context(), p)
	require.NoError(t, err)

	ctx, stop := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- n.Run(ctx, ln, nil) }()
	<-ready
	resp, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	stop()
	require.NoError(t, <-ran)
	require.Equal(t, 1, turn.closed)
	_, err = http.Get(base + "/readyz")
	require.Error(t, err, "the listener is closed")
}

func TestRunFailsWhenTheServerStops(t *testing.T) {
	ln := listen(t)
	p := params(t, "http://"+ln.Addr().String(), slog.New(slog.DiscardHandler))
	turn := &closer{}
	p.Closers = []io.Closer{turn}
	n, err := node.Build(t.Context(), p)
	require.NoError(t, err)
	require.NoError(t, ln.Close())

	err = n.Run(t.Context(), ln, nil)
	require.ErrorContains(t, err, "http server: ")
	require.True(t, errors.Is(err, net.ErrClosed), "%v", err)
	require.Equal(t, 1, turn.closed)
}

func TestBuildClosesWhatItMadeWhenItFails(t *testing.T) {
	p := params(t, "http://127.0.0.1:1", slog.New(slog.DiscardHandler))
	p.API.BaseURL = "not a URL"
	turn := &closer{}
	p.Closers = []io.Closer{turn}
	_, err := node.Build(t.Context(), p)
	require.ErrorContains(t, err, "api: new api server: bad base URL")
	require.Equal(t, 1, turn.closed)
}
