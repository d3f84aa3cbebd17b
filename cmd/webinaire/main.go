// Command webinaire is the Webinaire server: one binary that serves the platform, applies the
// database migrations, runs the retention sweeps and checks the deletion ledger.
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"webinaire/api"
	"webinaire/api/devidp"
	"webinaire/api/node"
	"webinaire/frontend"
	"webinaire/sfu"
	"webinaire/store"
)

const usage = `Webinaire: webinars and meetings in the browser, with the privacy notice enforced.

Usage:
  webinaire [serve] [--config FILE] [--listen ADDR]   serve the platform (the default)
  webinaire migrate [--config FILE]                   apply the database migrations and exit
  webinaire version                                   print the version
  webinaire help                                      print this text

Privacy and retention (each takes --config FILE; serve runs the sweeps on a schedule):
  webinaire retention plan|run                        show what the sweeps would delete now, with the
                                                      ids (plan --json for JSON), or run them now
  webinaire ledger verify|prove|export                check the deletion ledger against its signed
                                                      checkpoints (verify --checkpoint FILE against
                                                      one saved earlier), prove an entry is in it
                                                      (prove SEQ), or write it (export --format json|csv)

With no configuration Webinaire runs in development mode: SQLite under ./data, a built-in
identity provider, http://127.0.0.1:8080. Every configuration key can be set in the file or
by an environment variable WEBINAIRE_<SECTION>_<KEY>; see docs/configuration.md.
`

// version is set at build time with -ldflags "-X main.version=..."; otherwise the module's.
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, environ, stdout, stderr)
	case "migrate":
		return migrate(ctx, args, environ, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "webinaire", buildVersion())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "retention":
		return retentionCmd(ctx, args, environ, stdout, stderr)
	case "ledger":
		return ledgerCmd(ctx, args, environ, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "webinaire: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// loadFromFlags parses the flags shared by the commands and loads the configuration.
func loadFromFlags(name string, args, environ []string, stderr io.Writer) (Config, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration `file` (YAML)")
	listen := ""
	if name == "serve" {
		fs.StringVar(&listen, "listen", "", "listen `address`, e.g. 127.0.0.1:8080 (overrides server.listen)")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "webinaire %s: unexpected argument %q\n", name, fs.Arg(0))
		return Config{}, false
	}
	if listen != "" {
		environ = append(environ, "WEBINAIRE_SERVER_LISTEN="+listen)
	}
	cfg, err := LoadConfig(*configPath, environ)
	if err != nil {
		fmt.Fprintf(stderr, "webinaire: configuration error:\n  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return cfg, false
	}
	return cfg, true
}

func newLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated with the configuration
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func openStore(cfg Config, log *slog.Logger) (*store.Store, error) {
	return store.Open(store.Config{Driver: cfg.Database.Driver, URL: cfg.Database.URL, MaxOpenConns: cfg.Database.MaxOpenConns}, log)
}

func migrate(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, ok := loadFromFlags("migrate", args, environ, stderr)
	if !ok {
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	st, err := openStore(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "webinaire migrate:", err)
		return 1
	}
	defer st.Close()
	n, err := st.Migrate(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "webinaire migrate:", err)
		return 1
	}
	fmt.Fprintf(stdout, "applied %d migration(s); the %s database is up to date\n", n, cfg.Database.Driver)
	ledger, err := newLedger(cfg, st, log)
	if err != nil {
		fmt.Fprintln(stderr, "webinaire migrate:", err)
		return 1
	}
	added, err := ledger.Upgrade(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "webinaire migrate:", err)
		return 1
	}
	if added > 0 {
		fmt.Fprintf(stdout, "deletion ledger: the hash chain of its %d entries is intact; they are now leaves of its Merkle tree\n", added)
	}
	return 0
}

func serve(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cfg, ok := loadFromFlags("serve", args, environ, stderr)
	if !ok {
		return 1
	}
	log := newLogger(cfg.Log, stderr)

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "webinaire: cannot listen on %s (key server.listen): %v\n", cfg.Server.Listen, err)
		return 1
	}
	if cfg.Server.PublicURL == "" {
		cfg.Server.Listen = ln.Addr().String() // the real port when 0 was asked for
	}
	baseURL := cfg.BaseURL()

	st, err := openStore(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "webinaire:", err)
		return 1
	}
	defer st.Close()

	ledger, err := newLedger(cfg, st, log.With("part", "ledger"))
	if err != nil {
		fmt.Fprintln(stderr, "webinaire:", err)
		return 1
	}
	tokens, err := newTokenSigner(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "webinaire:", err)
		return 1
	}
	retention, err := newRetentionEngine(cfg, st, ledger, tokens, log.With("part", "retention"))
	if err != nil {
		fmt.Fprintln(stderr, "webinaire:", err)
		return 1
	}
	turnCreds, turnServer, err := newTURN(ctx, cfg.Media, log.With("part", "turn"))
	if err != nil {
		fmt.Fprintln(stderr, "webinaire:", err)
		return 1
	}
	var closers []io.Closer
	if turnServer != nil {
		closers = append(closers, turnServer) // owned by the node from here, closed with it
	}
	nodeID := nodeName(cfg.Cluster.NodeID)
	recordings, err := newRecordingStorage(cfg.Recordings)
	if err != nil {
		closeAll(closers)
		fmt.Fprintln(stderr, "webinaire:", err)
		return 1
	}

	var proxies []netip.Prefix
	for _, p := range cfg.Server.TrustedProxies {
		prefix, _ := parsePrefix(p) // validated with the configuration
		proxies = append(proxies, prefix)
	}
	params := api.Params{
		Policy:             cfg.Policy(),
		Ledger:             ledger,
		Retention:          retention,
		TrustedProxies:     proxies,
		Logger:             log,
		BaseURL:            baseURL,
		SessionIdle:        time.Duration(cfg.Session.IdleTimeout),
		SessionAbsolute:    time.Duration(cfg.Session.AbsoluteTimeout),
		LoginFlows:         api.LoginLimits{PerClient: cfg.Session.LoginFlowsPerClient, Total: cfg.Session.LoginFlowsTotal},
		MaxBodyBytes:       cfg.Server.MaxBodyBytes,
		Pages:              frontend.Files,
		TokenLifetime:      time.Duration(cfg.Media.TokenLifetime),
		EntryTokenLifetime: time.Duration(cfg.Media.EntryTokenLifetime),
		TURN:               turnCreds,
		Recordings:         recordings,
		STTURL:             cfg.Captions.STTURL,
		STTLang:            cfg.Captions.STTLanguage,
		MaxBroadcasts:      cfg.Media.MaxBroadcasts,

		JoinsPerAddressPerMinute:    cfg.Media.JoinsPerAddressPerMinute,
		JoinsPerInvitationPerMinute: cfg.Media.JoinsPerInvitationPerMinute,
		OIDC: api.OIDCParams{
			Issuer:       cfg.OIDC.Issuer,
			ClientID:     cfg.OIDC.ClientID,
			ClientSecret: cfg.OIDC.ClientSecret,
			Scopes:       cfg.OIDC.Scopes,
			AdminEmails:  cfg.OIDC.AdminEmails,
			AdminClaim:   cfg.OIDC.AdminClaim,
			AdminValues:  cfg.OIDC.AdminValues,
		},
	}
	params.WriteTimeout, params.MaxRequestsPerClient = time.Duration(cfg.Server.WriteTimeout), cfg.Server.MaxRequestsPerClient
	params.MediaSessionsBurst, params.MediaSessionsPerHour = cfg.Server.MediaSessionsBurst, cfg.Server.MediaSessionsPerHour
	params.MetricsToken, params.MetricsCache = cfg.Metrics.Token, time.Duration(cfg.Metrics.Cache)
	if cfg.DevIDP.Enabled {
		// The development provider's client is made for this process: its secret lives in memory only.
		params.OIDC.Issuer, params.OIDC.ClientID, params.OIDC.ClientSecret = baseURL+"/dev-idp", "webinaire-dev", store.NewSecret()
		idp, err := devidp.New(devidp.Config{
			Issuer:                 params.OIDC.Issuer,
			ClientID:               params.OIDC.ClientID,
			ClientSecret:           params.OIDC.ClientSecret,
			RedirectURIs:           []string{baseURL + "/auth/callback"},
			PostLogoutRedirectURIs: []string{baseURL + "/"},
			Logger:                 log.With("part", "dev-idp"),
		})
		if err != nil {
			closeAll(closers)
			fmt.Fprintln(stderr, "webinaire: development identity provider:", err)
			return 1
		}
		params.DevIDP = idp.Handler()
	}
	// The node owns the SFU, the API, the cluster and the closers from here: Build
	// closes them when it fails, Run when it returns.
	n, err := node.Build(ctx, node.Params{
		Logger: log,
		Store:  st,
		// Every entry into a room is checked against the database, whichever node runs
		// it, and must be for a room placed on this node at the token's epoch.
		NodeID: nodeID,
		// A heartbeat has counted an entered participant two intervals later at most.
		SeatCounted: 2 * time.Duration(cfg.Cluster.HeartbeatInterval),
		SFU: sfu.Params{
			Logger:                 log.With("part", "sfu"),
			Tokens:                 tokens,
			SessionLifetime:        time.Duration(cfg.Media.TokenLifetime),
			WebRTC:                 webRTCConfig(cfg.Media, turnCreds),
			EmptyRoomGrace:         time.Duration(cfg.Media.EmptyRoomGrace),
			MaxMeetingParticipants: cfg.Media.MaxMeetingParticipants,
			MaxWebinarParticipants: cfg.Media.MaxWebinarParticipants,
			MaxLobby:               cfg.Media.MaxLobby,
			SpreadAbove:            cfg.Media.WritersAbove,
			MaxWritersPerTrack:     cfg.Media.MaxWritersPerTrack,
		},
		API: params,
		Cluster: func(media *sfu.Server) (*api.Cluster, error) {
			return newCluster(cfg, nodeID, baseURL, st, media, log.With("part", "cluster"))
		},
		Closers:            closers,
		NewHTTPServer:      func(h http.Handler) *http.Server { return newHTTPServer(cfg.Server, h, log) },
		Ledger:             ledger,
		Retention:          retention,
		CheckpointInterval: checkpointInterval,
		RetryInterval:      time.Duration(cfg.Database.RetryInterval),
		ShutdownTimeout:    time.Duration(cfg.Server.ShutdownTimeout),
		DrainTimeout:       time.Duration(cfg.Cluster.DrainTimeout),
		DatabaseDriver:     cfg.Database.Driver,
		RetentionSchedule:  cfg.Retention.Schedule.String(),
	})
	if err != nil {
		_ = ln.Close()
		fmt.Fprintln(stderr, "webinaire:", err)
		return 1
	}

	if cfg.Mode == modeDevelopment {
		log.Warn("DEVELOPMENT MODE: not for production use", "dev_idp", cfg.DevIDP.Enabled, "database", cfg.Database.Driver)
	}
	var metricsLn net.Listener
	if cfg.Metrics.Listen != "" {
		metricsLn, err = net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			_ = n.Close()
			_ = ln.Close()
			fmt.Fprintf(stderr, "webinaire: cannot listen on %s (key metrics.listen): %v\n", cfg.Metrics.Listen, err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "Webinaire is running: open %s/\n", baseURL)
	if cfg.DevIDP.Enabled {
		fmt.Fprintf(stdout, "Development login: %s/login (demo organizers and one administrator, no password)\n", baseURL)
	}
	if err := n.Run(ctx, ln, metricsLn); err != nil {
		return 1 // logged by Run
	}
	return 0
}

// closeAll closes cs, on a way out where their errors change nothing.
func closeAll(cs []io.Closer) {
	for _, c := range cs {
		_ = c.Close()
	}
}

// nodeName is the id of this node: configured, else the host name.
func nodeName(configured string) string {
	if configured != "" {
		return configured
	}
	host, err := os.Hostname()
	if err != nil || !nodeID.MatchString(host) {
		return "node"
	}
	return host
}

// newCluster is this node's part in the cluster, as cfg describes it: its URL is
// cluster.url or the public one, its media address the URL's host and the media port.
func newCluster(cfg Config, node, baseURL string, st *store.Store, media *sfu.Server, log *slog.Logger) (*api.Cluster, error) {
	self := store.Node{ID: node, URL: cmp.Or(cfg.Cluster.URL, baseURL), MediaAddress: cfg.Cluster.MediaAddress, Roles: cfg.Cluster.Roles, Capacity: cfg.Cluster.Capacity}
	self.URL = strings.TrimSuffix(self.URL, "/")
	if self.MediaAddress == "" {
		u, _ := url.Parse(self.URL) // validated with the configuration
		port := strconv.Itoa(cfg.Media.UDPPort)
		if addrs := media.UDPAddrs(); len(addrs) > 0 {
			if a, ok := addrs[0].(*net.UDPAddr); ok {
				port = strconv.Itoa(a.Port)
			}
		}
		self.MediaAddress = net.JoinHostPort(u.Hostname(), port)
	}
	return api.NewCluster(api.ClusterParams{
		Store:             st,
		Media:             media,
		Self:              self,
		HeartbeatInterval: time.Duration(cfg.Cluster.HeartbeatInterval),
		NodeTimeout:       time.Duration(cfg.Cluster.NodeTimeout),
		SeatHold:          time.Duration(cfg.Cluster.SeatHold),
		Logger:            log,
	})
}

// newHTTPServer is the HTTP server of h: every request is read within the read timeout,
// headers within 10 s at most, and answered within the write timeout; the handlers of
// long answers (downloads, WebSockets) move their own deadlines.
func newHTTPServer(cfg ServerConfig, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, time.Duration(cfg.ReadTimeout)),
		ReadTimeout:       time.Duration(cfg.ReadTimeout),
		WriteTimeout:      time.Duration(cfg.WriteTimeout),
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// loadTokenKey reads the key of the join tokens from path, or creates it there (32 random
// bytes in hexadecimal, mode 0600) when the file does not exist. An empty path gives a
// random key that lives as long as the process.
func loadTokenKey(path string) ([]byte, error) {
	if path == "" {
		key := make([]byte, 32)
		_, _ = rand.Read(key) // never fails (crypto/rand)
		return key, nil
	}
	return loadOrCreateKey(path, "join token key")
}

// loadOrCreateKey reads a secret key, what, from path, or creates it there (32 random
// bytes in hexadecimal, mode 0600) when the file does not exist.
func loadOrCreateKey(path, what string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := parseKey(data)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, path, err)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create %s: %w", what, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return loadOrCreateKey(path, what) // another process made it first
	} else if err != nil {
		return nil, fmt.Errorf("create %s: %w", what, err)
	}
	if _, err := fmt.Fprintln(f, hex.EncodeToString(key)); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", what, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", what, err)
	}
	return key, nil
}

// parseKey reads a secret key file's text: at least 32 bytes in hexadecimal.
func parseKey(data []byte) ([]byte, error) {
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) < 32 {
		return nil, errors.New("want at least 64 hexadecimal characters")
	}
	return key, nil
}

// newTURN gives the API the TURN server the configuration names: the embedded one, which
// it starts (the caller closes it), or an external one; nil when TURN is off.
func newTURN(ctx context.Context, m MediaConfig, log *slog.Logger) (api.TURNCredentials, io.Closer, error) {
	t := m.TURN
	switch t.Mode {
	case turnEmbedded:
		secret, err := loadOrCreateKey(t.SecretFile, "TURN secret")
		if err != nil {
			return nil, nil, fmt.Errorf("%w (key media.turn.secret_file)", err)
		}
		p := sfu.TURNParams{
			Listen:            t.Listen,
			TCPListen:         t.TCPListen,
			TLSListen:         t.TLSListen,
			Host:              t.Host,
			Secret:            secret,
			PublicIP:          t.PublicIP,
			AllowPrivatePeers: t.AllowPrivatePeers,
			MediaPort:         m.UDPPort,
			Logger:            log,
		}
		if t.TLSListen != "" {
			certs, err := loadCertificateFiles(t.TLSCertFile, t.TLSKeyFile, log)
			if err != nil {
				return nil, nil, err
			}
			host := t.Host
			if host == "" {
				host = t.PublicIP
			}
			if err := certs.verifyHost(host); err != nil {
				return nil, nil, err
			}
			p.TLSConfig = &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12}
		}
		server, err := sfu.NewTURN(p)
		if err != nil {
			return nil, nil, err
		}
		if err := server.Start(ctx); err != nil {
			return nil, nil, fmt.Errorf("%w (keys media.turn.listen, media.turn.tcp_listen, media.turn.tls_listen)", err)
		}
		return server, server, nil
	case turnExternal:
		return sfu.ExternalTURN{URLs: t.URLs, Secret: []byte(t.Secret)}, nil, nil
	}
	return nil, nil, nil
}

// webRTCConfig is the SFU's media transport of m; turn is the TURN server newTURN gave,
// whose relays, when it is the embedded one, the SFU may send to on its own addresses.
func webRTCConfig(m MediaConfig, turn api.TURNCredentials) sfu.WebRTCConfig {
	w := sfu.WebRTCConfig{
		UDPPort:                m.UDPPort,
		NAT1To1IPs:             m.PublicIPs,
		IncludeLoopback:        m.IncludeLoopback,
		AllowPrivateCandidates: m.AllowPrivateCandidates,
		ICEServersFor:          iceServersFor(turn),
		ThroughPion:            !m.DirectSend,
	}
	if t, ok := turn.(*sfu.TURN); ok {
		w.Relays = t.IsRelay
	}
	return w
}

// iceServersFor gives the SFU's joined messages the TURN credentials of creds, which
// expire with the participant's token as those of the join answer; nil without TURN.
func iceServersFor(creds api.TURNCredentials) func(participantID string, expiry time.Time) []sfu.ICEServer {
	if creds == nil {
		return nil
	}
	return func(participantID string, expiry time.Time) []sfu.ICEServer {
		now := time.Now()
		return []sfu.ICEServer{creds.Credentials(participantID, now, expiry.Sub(now))}
	}
}
