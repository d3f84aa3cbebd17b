package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/api"
	"webinaire/api/apitest"
	"webinaire/api/devidp"
	"webinaire/api/node"
	"webinaire/frontend"
	"webinaire/privacy"
	"webinaire/recording"
	"webinaire/sfu"
	"webinaire/store"
	"webinaire/store/pgtest"
	"webinaire/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// clock is the server's clock: real time plus an offset the test moves.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// AfterFunc runs f after d of real time (sfu.Clock): the SFU reads the test's clock.
func (c *clock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// env is one running server on a fresh database.
type env struct {
	t     *testing.T
	base  string
	store *store.Store
	api   *api.Server
	clock *clock
	http  *httptest.Server
	logs  *lockedBuffer
	// sfu is the media server, on ephemeral UDP ports with loopback candidates, and
	// tokens its join token signer.
	sfu      *sfu.Server
	tokens   *sfu.TokenSigner
	tokenKey []byte
	// recordings is where the server keeps recordings; recordingsRoot the local folder
	// they are written in; bucket, with options.s3, the S3 server that keeps them.
	recordings     recording.Storage
	recordingsRoot string
	bucket         *s3Bucket
	// db is the database's configuration: its file for SQLite, its URL for PostgreSQL.
	db store.Config
}

type options struct {
	tls            bool
	oidc           *api.OIDCParams // nil: the development provider
	idle           time.Duration
	abs            time.Duration
	noReady        bool
	trustedProxies []netip.Prefix
	// proxy, when not nil, is set to the proxy between the server and its PostgreSQL database.
	proxy **pgtest.Proxy
	// policy is the retention policy; nil means privacy.DefaultPolicy().
	policy *privacy.Policy
	// turn, when not nil, hands out TURN credentials with every join.
	turn api.TURNCredentials
	// s3 keeps finished recordings in an S3 bucket (an in-process S3 server).
	s3 bool
	// node, when not nil, makes this server another node of the same platform: the
	// same database and join token key, its own SFU and memory.
	node *env
	// joinsPerAddress and joinsPerInvitation are the join limits per minute; 0 means
	// the defaults.
	joinsPerAddress, joinsPerInvitation int
	// loginFlows bounds the pending logins; zero means the defaults.
	loginFlows api.LoginLimits
	// readTimeout and writeTimeout are the HTTP server's, as serve sets them; 0: none.
	readTimeout, writeTimeout time.Duration
	// maxRequests is Params.MaxRequestsPerClient.
	maxRequests int
	// sessionBurst and sessionsPerHour are Params.MediaSessionsBurst and MediaSessionsPerHour.
	sessionBurst, sessionsPerHour int
	// metricsToken is Params.MetricsToken.
	metricsToken string
	// sttURL is Params.STTURL, the speech-to-text service of automatic captions.
	sttURL string
	// maxBroadcasts is Params.MaxBroadcasts.
	maxBroadcasts int
}

const (
	devClientID     = "webinaire-test"
	devClientSecret = "test-secret-0123456789"
)

// lockedBuffer is a log sink the server writes from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

// String is what was written so far.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.String()
}

func setup(t *testing.T, driver string, o options) *env {
	t.Helper()
	var st *store.Store
	var dbConfig store.Config
	if o.node != nil {
		dbConfig = o.node.db
		st = storetest.OpenConfig(t, dbConfig)
	} else if o.proxy != nil {
		cfg := storetest.Config(t, "postgres")
		*o.proxy = pgtest.NewProxy(t, cfg.URL)
		cfg.URL = (*o.proxy).URL(cfg.URL)
		st = storetest.OpenConfig(t, cfg)
	} else {
		dbConfig = storetest.Config(t, driver)
		st = storetest.OpenConfig(t, dbConfig)
	}
	hs := httptest.NewUnstartedServer(nil)
	scheme := "http"
	if o.tls {
		scheme = "https"
	}
	base := scheme + "://" + hs.Listener.Addr().String()
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.idle == 0 {
		o.idle = 4 * time.Hour
	}
	if o.abs == 0 {
		o.abs = 12 * time.Hour
	}
	clk := &clock{}
	skey, _, err := privacy.GenerateSigningKey("webinaire-ledger")
	require.NoError(t, err)
	ledger, err := privacy.NewLedger(privacy.LedgerParams{Store: st, Key: []byte("0123456789abcdef0123456789abcdef"),
		SigningKey: skey, Checkpoints: privacy.CheckpointFile{Path: filepath.Join(t.TempDir(), "ledger-checkpoints")}, Logger: log})
	require.NoError(t, err)
	// As serve does: the engine sweeps the recording storage the API writes in.
	local := recording.Folder{Root: filepath.Join(t.TempDir(), "recordings")}
	var recordings recording.Storage = local
	var bucket *s3Bucket
	if o.s3 {
		bucket = newS3Bucket(t)
		recordings = bucket.storage(t, local)
	}
	engine, err := privacy.NewEngine(privacy.EngineParams{
		Store: st, Ledger: ledger, Policy: privacy.DefaultPolicy(), SessionIdle: o.idle,
		BatchSize: 100, Interval: time.Hour, Holder: "api-test", Logger: log, Recordings: recordings,
	})
	require.NoError(t, err)
	tokenKey := []byte(store.NewSecret())
	if o.node != nil {
		tokenKey = o.node.tokenKey
	}
	tokens, err := sfu.NewTokenSigner(tokenKey)
	require.NoError(t, err)
	p := api.Params{
		Logger: log, Now: clk.Now, BaseURL: base, Ledger: ledger, Retention: engine, Policy: privacy.DefaultPolicy(),
		TrustedProxies: o.trustedProxies,
		SessionIdle:    o.idle, SessionAbsolute: o.abs, MaxBodyBytes: 64 << 10,
		Pages: frontend.Files,
		TURN:  o.turn, LoginFlows: o.loginFlows,
		JoinsPerAddressPerMinute: o.joinsPerAddress, JoinsPerInvitationPerMinute: o.joinsPerInvitation,
		WriteTimeout: o.writeTimeout, MaxRequestsPerClient: o.maxRequests, MaxBroadcasts: o.maxBroadcasts,
		MediaSessionsBurst: o.sessionBurst, MediaSessionsPerHour: o.sessionsPerHour,
		MetricsToken: o.metricsToken, STTURL: o.sttURL,
	}
	hs.Config.ReadTimeout, hs.Config.WriteTimeout = o.readTimeout, o.writeTimeout
	p.Recordings = recordings
	if o.policy != nil {
		p.Policy = *o.policy
	}
	if o.oidc != nil {
		p.OIDC = *o.oidc
	} else {
		idp, err := devidp.New(devidp.Config{
			Issuer: base + "/dev-idp", ClientID: devClientID, ClientSecret: devClientSecret,
			RedirectURIs: []string{base + "/auth/callback"}, PostLogoutRedirectURIs: []string{base + "/"},
		})
		require.NoError(t, err)
		p.DevIDP = idp.Handler()
		p.OIDC = api.OIDCParams{
			Issuer: base + "/dev-idp", ClientID: devClientID, ClientSecret: devClientSecret,
			Scopes: []string{"openid", "profile", "email"}, AdminClaim: "groups", AdminValues: []string{"webinaire-admins"},
		}
	}
	if o.tls {
		hs.StartTLS()
		p.OIDC.HTTPClient = hs.Client()
	}
	// The node is built as serve builds it, the media server on ephemeral UDP ports with
	// loopback candidates; the test serves its API itself.
	n, err := node.Build(t.Context(), node.Params{
		Logger: log, Store: st, Now: clk.Now,
		// At debug level, as an operator may run it: the SFU drops Pion's own debug messages.
		SFU: sfu.Params{
			Logger: log.With("part", "sfu"), Tokens: tokens, Clock: clk,
			WebRTC: sfu.WebRTCConfig{UDPPort: 0, IncludeLoopback: true},
		},
		API: p,
	})
	require.NoError(t, err)
	// Before the store closes (cleanups run last first), as serve stops: the media
	// sessions end, their last connection-log entries written, then the recordings stop
	// and their files are finalized.
	t.Cleanup(func() { require.NoError(t, n.Shutdown(context.Background())) })
	media, srv := n.SFU, n.API
	hs.Config.Handler = srv
	if !o.tls {
		hs.Start()
	}
	t.Cleanup(hs.Close)
	if !o.noReady {
		srv.SetReady()
	}
	return &env{t: t, base: base, store: st, api: srv, clock: clk, http: hs, logs: logs, sfu: media, tokens: tokens, tokenKey: tokenKey, recordings: p.Recordings, recordingsRoot: local.Root, bucket: bucket, db: dbConfig}
}

type browser = apitest.Browser

func (e *env) browser() *browser {
	var transport http.RoundTripper
	if strings.HasPrefix(e.base, "https") {
		transport = e.http.Client().Transport
	}
	return apitest.NewBrowser(e.t, e.base, transport)
}

var (
	readBody = apitest.ReadBody
	decode   = apitest.Decode
)

// problemOf reads a problem document and checks its media type.
func problemOf(t *testing.T, resp *http.Response) api.Problem {
	t.Helper()
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p api.Problem
	decode(t, resp, &p)
	require.Equal(t, resp.StatusCode, p.Status)
	require.NotEmpty(t, p.Code)
	return p
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// Demo users of the development provider.
const (
	userOwner = "dev-camille-martin"
	userOther = "dev-karim-benali"
	userAdmin = "dev-alex-admin"
)
