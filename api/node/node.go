// Package node builds one Webinaire node from its parts (the store, the media server, the
// API, the node's place in the cluster, the background loops) and runs it: it serves until
// its context ends, then shuts the parts down in order. The serve command and the API's
// tests build their nodes with it, so the wiring between the parts is written once.
package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"webinaire/api"
	"webinaire/privacy"
	"webinaire/sfu"
	"webinaire/store"
)

// Params are the parts a node is built from and how it runs them.
type Params struct {
	// Logger receives the node's messages; the parts get their own, through SFU and API.
	Logger *slog.Logger
	// Store is the node's database; the node does not close it.
	Store *store.Store
	// NodeID is this node's id in the cluster: the media gate admits only rooms placed on
	// it. Empty admits rooms placed on any node.
	NodeID string
	// Now is the media gate's clock; nil means time.Now.
	Now func() time.Time
	// SeatCounted is how long after an entry the node's heartbeat has counted its
	// participant (twice the heartbeat interval); 0 means the gate's default.
	SeatCounted time.Duration
	// SFU is the media server's configuration; Build sets its Gate (entries checked
	// against the database) and OnRoomClosed (the API audits the end of each session).
	SFU sfu.Params
	// API is the API server's configuration; Build sets its Store, SFU, Tokens (the
	// SFU's) and Cluster.
	API api.Params
	// Cluster, when not nil, makes this node's part in the cluster once the media server
	// listens (its media address may name the port the system chose).
	Cluster func(media *sfu.Server) (*api.Cluster, error)
	// Closers are closed when the node is, last (an embedded TURN server, for instance).
	Closers []io.Closer

	// The fields below are used by Run only.

	// NewHTTPServer makes the HTTP servers Run serves h with (timeouts, error log); nil
	// makes plain ones.
	NewHTTPServer func(h http.Handler) *http.Server
	// Ledger and Retention are the deletion ledger and the retention engine: Run upgrades
	// the ledger once the database is ready, then starts its checkpointer, every
	// CheckpointInterval, and the retention sweeps. Nil Retention: no sweeps.
	Ledger             *privacy.Ledger
	Retention          *privacy.Engine
	CheckpointInterval time.Duration
	// RetryInterval is the first wait before the database, or the cluster, is tried again.
	RetryInterval time.Duration
	// ShutdownTimeout bounds the shutdown: requests drained, sessions ended, recordings
	// finalized.
	ShutdownTimeout time.Duration
	// DrainTimeout is how long, at the start of the shutdown, a node of a cluster keeps
	// the rooms it runs while it takes no new one (api.Cluster.Drain); then the rooms
	// left move to other nodes. 0 moves them at once. Part of ShutdownTimeout.
	DrainTimeout time.Duration
	// DatabaseDriver and RetentionSchedule are written in the log lines that say the
	// database is ready and the sweeps are scheduled.
	DatabaseDriver, RetentionSchedule string
}

// Node is one built node: its media server runs, its API answers once Run (or the
// caller) says it is ready.
type Node struct {
	p Params
	// Store is the node's database, as given.
	Store *store.Store
	// SFU is the media server, started by Build.
	SFU *sfu.Server
	// API is the API server, the HTTP handler of the node.
	API *api.Server
	// Cluster is the node's part in the cluster; nil without one.
	Cluster *api.Cluster
	log     *slog.Logger
}

// Build makes the node's parts and starts its media server; ctx bounds the media
// server's start. When Build fails, what it made is closed.
func Build(ctx context.Context, p Params) (_ *Node, err error) {
	if p.Logger == nil {
		return nil, errors.New("node: no logger")
	}
	if p.Store == nil {
		return nil, errors.New("node: no store")
	}
	n := &Node{p: p, Store: p.Store, log: p.Logger}
	defer func() {
		if err != nil {
			_ = n.Close()
		}
	}()
	// The API, which audits the end of each session, is made after the SFU it serves:
	// the SFU calls it through n, set before the SFU runs a room.
	gate := api.NewMediaGate(p.Store, p.NodeID, p.Now)
	if p.SeatCounted > 0 {
		gate.SeatCounted = p.SeatCounted
	}
	p.SFU.Gate = gate
	p.SFU.OnRoomClosed = func(st sfu.RoomStats) {
		if n.API != nil {
			n.API.SessionEnded(st)
		}
	}
	// Edge rooms link to their origins through the API, made after the SFU: through n too.
	p.SFU.Origins = originsOf{n}
	media, err := sfu.New(p.SFU)
	if err != nil {
		return nil, fmt.Errorf("media server: %w", err)
	}
	if err := media.Start(ctx); err != nil {
		return nil, fmt.Errorf("media server: %w (key media.udp_port)", err)
	}
	n.SFU = media
	if p.Cluster != nil {
		if n.Cluster, err = p.Cluster(media); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	p.API.Store, p.API.SFU, p.API.Tokens, p.API.Cluster = p.Store, media, p.SFU.Tokens, n.Cluster
	srv, err := api.New(p.API)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	n.API = srv
	return n, nil
}

// Run serves the API on ln, and the metrics on metricsLn when it is not nil, until ctx
// ends, then shuts the node down in order (Shutdown) and closes it. In the
// background it applies the migrations, repairs the unfinished recordings, joins the
// cluster, says the node is ready and starts the ledger's checkpoints and the retention
// sweeps. It returns an error when the HTTP server stops on its own or the shutdown is
// incomplete.
func (n *Node) Run(ctx context.Context, ln, metricsLn net.Listener) error {
	defer n.Close()
	newServer := n.p.NewHTTPServer
	if newServer == nil {
		newServer = func(h http.Handler) *http.Server { return &http.Server{Handler: h} }
	}
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", n.API.MetricsHandler())
		metricsSrv := newServer(mux)
		// Owned by Run: it ends when Run returns and closes the server.
		go func() { _ = metricsSrv.Serve(metricsLn) }()
		defer metricsSrv.Close()
		n.log.Info("metrics served on their own address", "listen", metricsLn.Addr().String())
	}
	httpSrv := newServer(n.API)

	// The background loops are owned by Run: they end when background is done, and Run
	// waits for them before it returns.
	background, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	started := make(chan struct{})
	go func() {
		defer close(started)
		n.start(background)
	}()

	// The HTTP server goroutine is owned by Run and ends at Shutdown.
	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()

	select {
	case err := <-served:
		n.log.Error("http server stopped", "err", err)
		stopBackground()
		<-started
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	n.log.Info("stopping: draining requests", "timeout", n.p.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.p.ShutdownTimeout)
	defer cancel()
	if err := n.shutdown(sctx, httpSrv.Shutdown); err != nil {
		n.log.Error("shutdown incomplete", "err", err)
		return fmt.Errorf("shutdown: %w", err)
	}
	<-started
	n.log.Info("stopped")
	return nil
}

// start brings the node up once the database is ready: migrations, repairs, the ledger's
// upgrade, the cluster, readiness, then the ledger's checkpoints and the sweeps, which end
// with ctx.
func (n *Node) start(ctx context.Context) {
	if !migrateWithRetry(ctx, n.Store, n.p.RetryInterval, n.log) {
		return
	}
	if err := n.API.RepairRecordings(ctx); err != nil {
		n.log.Error("unfinished recordings not all repaired", "err", err)
	}
	// The ledger's entries go into its tree before anything is deleted; a ledger that
	// does not pass stops the sweeps and the deletions, not the rest.
	var ledgerErr error
	if n.p.Ledger != nil {
		_, ledgerErr = n.p.Ledger.Upgrade(ctx)
	}
	// The node joins the cluster before it answers joins: they place rooms on the nodes
	// that have written a heartbeat.
	if n.Cluster != nil && !joinCluster(ctx, n.Cluster, n.p.RetryInterval, n.log) {
		return
	}
	n.API.SetReady()
	n.log.Info("database ready", "driver", n.p.DatabaseDriver)
	if ledgerErr != nil {
		n.log.Error("deletion ledger not upgraded: retention sweeps not started", "err", ledgerErr)
		return
	}
	if n.p.Ledger != nil {
		// The checkpointer is owned by the node's background work and ends with ctx.
		go n.p.Ledger.Start(ctx, n.p.CheckpointInterval)
	}
	if n.p.Retention != nil {
		n.log.Info("retention sweeps scheduled", "every", n.p.RetentionSchedule)
		n.p.Retention.Start(ctx)
	}
}

// Shutdown stops the node within ctx, in order: it leaves the cluster, ends the media
// sessions, then stops the recordings and waits for their files to be finalized. It does
// not close the store. Run shuts down the same way; Shutdown is for a caller that serves
// the API itself.
func (n *Node) Shutdown(ctx context.Context) error {
	err := n.shutdown(ctx, nil)
	return errors.Join(err, n.Close())
}

// shutdown is Shutdown with, when not nil, the HTTP server's drain run while the media
// sessions end.
func (n *Node) shutdown(ctx context.Context, drain func(context.Context) error) error {
	// This node leaves the cluster first: its rooms are placed again at their next join,
	// where the clients told to go come back.
	if n.Cluster != nil {
		if n.p.DrainTimeout > 0 {
			n.Cluster.Drain(ctx, n.p.DrainTimeout)
		}
		if err := n.Cluster.Close(); err != nil {
			n.log.Warn("node not removed from the cluster: its rooms move after the node timeout", "err", err)
		}
	}
	// The media sessions, whose WebSockets the HTTP server does not track, end at the same
	// time as the requests drain: their clients are told the server is going away (1001),
	// and their last connection-log entries are written while the database is still open.
	mediaClosed := make(chan error, 1)
	go func() { mediaClosed <- n.SFU.Close() }() // owned by shutdown; ends when every session has ended
	var httpErr error
	if drain != nil {
		if err := drain(ctx); err != nil {
			httpErr = fmt.Errorf("http server: %w", err)
		}
	}
	var mediaErr error
	select {
	case err := <-mediaClosed:
		if err != nil {
			mediaErr = fmt.Errorf("media server: %w", err)
		}
	case <-ctx.Done():
		mediaErr = fmt.Errorf("media sessions still open: %w", ctx.Err())
	}
	// The rooms have closed: the recordings stop; their files are finalized now, or at
	// the next start.
	recErr := n.API.FinishRecordings(ctx)
	capErr := n.API.StopCaptions(ctx)
	castErr := n.API.StopBroadcasts(ctx)
	return errors.Join(httpErr, mediaErr, recErr, capErr, castErr)
}

// Close closes what the node holds, without the orderly shutdown: the media server (a
// no-op once closed) and the Closers. It is for a node that never served.
func (n *Node) Close() error {
	var errs []error
	if n.SFU != nil {
		if err := n.SFU.Close(); err != nil {
			errs = append(errs, fmt.Errorf("media server: %w", err))
		}
	}
	for _, c := range n.p.Closers {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	n.p.Closers = nil
	return errors.Join(errs...)
}

// joinCluster starts the node's heartbeats, trying again every interval until the first
// one is written or ctx ends; it tells whether the node is in the cluster.
func joinCluster(ctx context.Context, c *api.Cluster, interval time.Duration, log *slog.Logger) bool {
	for {
		err := c.Start(ctx)
		if err == nil {
			log.Info("node in the cluster", "node", c.Node())
			return true
		}
		log.Error("node not in the cluster yet", "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(interval):
		}
	}
}

// migrateWithRetry applies the migrations, retrying with backoff (from every up to 30 s) while
// the database cannot be reached, one log line per attempt. It returns false when ctx ends first.
func migrateWithRetry(ctx context.Context, st *store.Store, every time.Duration, log *slog.Logger) bool {
	wait := every
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := st.Migrate(actx)
		cancel()
		if err == nil {
			return true
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			return false
		}
		log.Warn("database not ready, retrying", "attempt", attempt, "retry_in", wait.String(), "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// originsOf links the edge rooms of a node's SFU to their origins, through the node's API
// (sfu.OriginDialer); a node without a cluster has no origin to link to.
type originsOf struct{ n *Node }

func (o originsOf) DialOrigin(ctx context.Context, origin, room string, kind sfu.RoomKind) (sfu.Conn, netip.Addr, error) {
	if o.n.API == nil || o.n.Cluster == nil {
		return nil, netip.Addr{}, sfu.ErrNoOrigin
	}
	return o.n.API.DialOrigin(ctx, origin, room, kind)
}
