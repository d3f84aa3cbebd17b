// Package api is Webinaire's HTTP side: the JSON API under /api/v1, organizer login and
// sessions, the pages, health; it maps errors to HTTP.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"webinaire/privacy"
	"webinaire/recording"
	"webinaire/sfu"
	"webinaire/store"
)

// OIDCParams is the organisation's OpenID Connect provider.
type OIDCParams struct {
	// Issuer is the provider's issuer URL; discovery happens at the first login.
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       []string
	// AdminEmails are the emails of administrators, believed only when the ID token says
	// the provider verified the address (email_verified).
	AdminEmails []string
	// AdminClaim names an ID token claim (a string or a list of strings); an organizer is an
	// administrator when it holds one of AdminValues.
	AdminClaim  string
	AdminValues []string
	// HTTPClient talks to the provider; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
}

// Params is what the server needs. Everything is required unless said otherwise.
type Params struct {
	Store  *store.Store
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// BaseURL is the public URL (scheme and host, no path). An https URL turns on
	// __Host- cookies and the Secure attribute.
	BaseURL string
	OIDC    OIDCParams
	// DevIDP, when not nil, is mounted at /dev-idp/ (development mode only).
	DevIDP http.Handler
	// SessionIdle and SessionAbsolute end a session after so long unused, or so long after login.
	SessionIdle     time.Duration
	SessionAbsolute time.Duration
	// LoginFlows bound the pending logins, per client address and in all.
	LoginFlows LoginLimits
	// MaxBodyBytes bounds request bodies (413 beyond).
	MaxBodyBytes int64
	// Pages holds the browser app (frontend.Files).
	Pages fs.FS
	// Policy is the retention policy, for the privacy notice and the rights of the person.
	Policy privacy.Policy
	// Ledger records deletions and restrictions made through the API.
	Ledger *privacy.Ledger
	// Retention runs the retention sweeps (for the administrators and /metrics).
	Retention *privacy.Engine
	// TrustedProxies are the reverse proxies whose forwarding headers give the client's
	// address for the connection log; nobody else's are believed.
	TrustedProxies []netip.Prefix
	// SFU is the media server the signalling endpoint hands its WebSockets to. The caller
	// starts and closes it; closing it ends the sessions.
	SFU *sfu.Server
	// Cluster places rooms on the nodes of a cluster and sends each join to its room's
	// node; nil serves every room in this process.
	Cluster *Cluster
	// Tokens signs the join tokens the API hands out; it must be the SFU's signer, which
	// checks them and keeps the removals.
	Tokens *sfu.TokenSigner
	// TokenLifetime is how long a participant may come back with the session credential
	// it got at its entry, and how long its TURN credentials last; 0 means
	// DefaultTokenLifetime, at most sfu.MaxTokenLifetime. It must be the SFU's
	// SessionLifetime.
	TokenLifetime time.Duration
	// EntryTokenLifetime is how long a join token may be used to enter; 0 means
	// DefaultEntryTokenLifetime, at most TokenLifetime.
	EntryTokenLifetime time.Duration
	// TURN, when not nil, hands every join a TURN server with credentials that live as
	// long as the join token (the embedded sfu.TURN or an sfu.ExternalTURN).
	TURN TURNCredentials
	// Recordings keeps the recordings' files: a local folder (recording.Folder, the
	// default) or an S3-compatible bucket (recording.S3).
	Recordings recording.Storage
	// WriteTimeout is the server's write timeout: the handlers of long answers (recording
	// downloads) give each piece of the answer this long; 0 means no deadline.
	WriteTimeout time.Duration
	// MaxRequestsPerClient bounds the requests one client address has in progress at
	// once (429 beyond); 0 means DefaultMaxRequestsPerClient.
	MaxRequestsPerClient int
	// MediaSessionsBurst and MediaSessionsPerHour limit the media sessions (signalling
	// WebSockets, WHEP) one client address opens: so many at once, then so many an hour
	// (429 beyond); 0 means DefaultMediaSessionsBurst, DefaultMediaSessionsPerHour.
	MediaSessionsBurst, MediaSessionsPerHour int
	// MetricsToken, when set, serves /metrics on this handler to the bearer of this
	// token; otherwise /metrics is not here (MetricsHandler serves it elsewhere).
	MetricsToken string
	// MetricsCache is how long the figures read from the database for /metrics are kept,
	// by Now; 0 means DefaultMetricsCache.
	MetricsCache time.Duration
	// FFmpeg and FFprobe are the programs that finalize recordings and check them, and
	// that encode live broadcasts; empty means "ffmpeg" and "ffprobe", found in PATH.
	FFmpeg, FFprobe string
	// STTURL is the WebSocket address of the organisation's speech-to-text service for
	// automatic captions (captions.stt_url); empty turns them off. STTLang is the
	// language it is asked to transcribe, fr or en.
	STTURL, STTLang string
	// MaxBroadcasts bounds the live broadcasts this server encodes at once (409 beyond);
	// 0 means DefaultMaxBroadcasts.
	MaxBroadcasts int
	// JoinsPerAddressPerMinute and JoinsPerInvitationPerMinute limit the joins through
	// invitation links (429 beyond); 0 means the defaults.
	JoinsPerAddressPerMinute, JoinsPerInvitationPerMinute int
}

// Server is the HTTP server's handler and state.
type Server struct {
	p       Params
	log     *slog.Logger
	now     func() time.Time
	secure  bool
	handler http.Handler
	engine  *gin.Engine
	ready   atomic.Bool
	oidc    *oidcClient
	rights  *privacy.Rights
	// files deletes recordings' files where they are kept, here or on their node.
	files *RecordingFiles
	// loginExpiry paces the deletion of expired pending logins.
	loginExpiry loginExpiry

	joins         *joinLimits
	streams       *httpSessions      // the running WHIP and WHEP sessions
	recordings    *recording.Manager // the recordings running now
	captions      transcribers       // the automatic captions running now
	slideChecks   chan struct{}      // one token per PDF being checked
	broadcasts    broadcasts         // the live broadcasts running now
	tokenLifetime time.Duration
	entryLifetime time.Duration
	wsURL         string // the signalling endpoint's absolute ws:// or wss:// URL
	originPattern string // the base URL's scheme and host, for the WebSocket library

	inFlight    *inFlight                  // the requests in progress, by client address
	sessionRate *rateLimiter[netip.Prefix] // the media sessions opened, by client address
	// sessionsRefused counts the media sessions refused by sessionRate, by protocol.
	sessionsRefused *prometheus.CounterVec
	// joinDuration times the successful join calls, by route.
	joinDuration *prometheus.HistogramVec
	// castTrouble counts the times a broadcast's target did not take the stream, by reason.
	castTrouble *prometheus.CounterVec
	metrics     http.Handler // the Prometheus registry's
}

// New builds the server. It does not touch the database: until SetReady is called the API
// answers 503 and /readyz says why.
func New(p Params) (*Server, error) {
	u, err := url.Parse(p.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("new api server: bad base URL %q", p.BaseURL)
	}
	if p.Store == nil || p.Logger == nil || p.Pages == nil || p.Ledger == nil || p.Retention == nil || p.SFU == nil || p.Tokens == nil {
		return nil, errors.New("new api server: store, logger, pages, ledger, retention engine, SFU and token signer are required")
	}
	if p.MaxBroadcasts <= 0 {
		p.MaxBroadcasts = DefaultMaxBroadcasts
	}
	if p.FFmpeg == "" {
		p.FFmpeg = "ffmpeg"
	}
	if p.STTLang == "" {
		p.STTLang = "fr"
	}
	if p.FFprobe == "" {
		p.FFprobe = "ffprobe"
	}
	if p.MaxRequestsPerClient == 0 {
		p.MaxRequestsPerClient = DefaultMaxRequestsPerClient
	}
	if p.MaxRequestsPerClient < 0 || p.MediaSessionsBurst < 0 || p.MediaSessionsPerHour < 0 {
		return nil, errors.New("new api server: negative limit on clients")
	}
	if p.MetricsCache == 0 {
		p.MetricsCache = DefaultMetricsCache
	}
	if p.MediaSessionsBurst == 0 {
		p.MediaSessionsBurst = DefaultMediaSessionsBurst
	}
	if p.MediaSessionsPerHour == 0 {
		p.MediaSessionsPerHour = DefaultMediaSessionsPerHour
	}
	if p.TokenLifetime == 0 {
		p.TokenLifetime = DefaultTokenLifetime
	}
	if p.TokenLifetime < 0 || p.TokenLifetime > sfu.MaxTokenLifetime {
		return nil, fmt.Errorf("new api server: token lifetime %s not between 0 and %s", p.TokenLifetime, sfu.MaxTokenLifetime)
	}
	if p.EntryTokenLifetime == 0 {
		p.EntryTokenLifetime = min(DefaultEntryTokenLifetime, p.TokenLifetime)
	}
	if p.EntryTokenLifetime < 0 || p.EntryTokenLifetime > p.TokenLifetime {
		return nil, fmt.Errorf("new api server: entry token lifetime %s not between 0 and %s", p.EntryTokenLifetime, p.TokenLifetime)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.LoginFlows.PerClient == 0 {
		p.LoginFlows.PerClient = DefaultLoginFlowsPerClient
	}
	if p.LoginFlows.Total == 0 {
		p.LoginFlows.Total = DefaultLoginFlowsTotal
	}
	if p.LoginFlows.PerClient < 0 || p.LoginFlows.Total < p.LoginFlows.PerClient {
		return nil, fmt.Errorf("new api server: login limits %d per client and %d in all: want 0 < per client <= in all", p.LoginFlows.PerClient, p.LoginFlows.Total)
	}
	if p.OIDC.HTTPClient == nil {
		p.OIDC.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	p.BaseURL = strings.TrimSuffix(p.BaseURL, "/")
	s := &Server{p: p, log: p.Logger, now: p.Now, secure: u.Scheme == "https"}
	s.tokenLifetime, s.entryLifetime = p.TokenLifetime, p.EntryTokenLifetime
	s.joins = newJoinLimits(p.Now, p.JoinsPerAddressPerMinute, p.JoinsPerInvitationPerMinute)
	s.streams = newHTTPSessions()
	s.inFlight = newInFlight(p.MaxRequestsPerClient)
	s.sessionRate = newRateLimiter[netip.Prefix](p.Now, p.MediaSessionsBurst, time.Hour/time.Duration(p.MediaSessionsPerHour), maxRateKeys)
	s.sessionsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "webinaire_media_sessions_refused_total",
		Help: "Media sessions refused because their client address opened too many lately, by protocol.",
	}, []string{"protocol"})
	s.joinDuration = newJoinDuration()
	s.castTrouble = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "webinaire_broadcast_target_failures_total",
		Help: "Times a live broadcast's target did not take the stream (it is tried again), by reason.",
	}, []string{"reason"})
	s.recordings, err = recording.NewManager(recording.ManagerParams{
		Logger: p.Logger, Clock: p.Now, Storage: p.Recordings, Rows: recordingRows{p.Store}, NodeID: s.nodeID(),
		FFmpeg: p.FFmpeg, FFprobe: p.FFprobe, Panics: p.SFU.Panics(),
	})
	if err != nil {
		return nil, fmt.Errorf("new api server: %w", err)
	}
	s.captions.active = make(map[string]*activeTranscriber)
	s.slideChecks = make(chan struct{}, slideChecks)
	s.broadcasts.active, s.broadcasts.starting = make(map[string]*activeBroadcast), make(map[string]bool)
	s.wsURL = "ws://" + u.Host + rtcPath
	if s.secure {
		s.wsURL = "wss://" + u.Host + rtcPath
	}
	s.originPattern = u.Scheme + "://" + u.Host
	s.oidc = &oidcClient{params: p.OIDC, redirectURL: p.BaseURL + callbackPath}
	files := RecordingFilesParams{Storage: p.Recordings, Store: p.Store, Tokens: p.Tokens, Node: s.nodeID(), Now: p.Now}
	if p.Cluster != nil {
		files.NodeTimeout = p.Cluster.p.NodeTimeout
	}
	if s.files, err = NewRecordingFiles(files); err != nil {
		return nil, fmt.Errorf("new api server: %w", err)
	}
	s.rights = privacy.NewRights(p.Store, p.Ledger, p.Policy, s.files)
	s.metrics = s.metricsHandler()
	s.handler = s.routes()
	return s, nil
}

// SetReady opens the API once the database is migrated.
func (s *Server) SetReady() { s.ready.Store(true) }

// ServeHTTP serves every route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() http.Handler {
	gin.SetMode(gin.ReleaseMode) // gin's mode is process-wide; release mode only silences its debug output
	r := gin.New()
	s.engine = r
	r.HandleMethodNotAllowed = true
	r.RedirectTrailingSlash = false
	r.Use(s.recoverer, s.securityHeaders, s.limitInFlight, s.limitBody)
	r.NoRoute(func(c *gin.Context) { writeProblem(c, errNotFound) })
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, problem(http.StatusMethodNotAllowed, "method_not_allowed", "this method is not allowed here"))
	})

	healthz := func(c *gin.Context) { c.String(http.StatusOK, "ok\n") }
	r.GET("/healthz", healthz)
	r.HEAD("/healthz", healthz)
	r.GET("/readyz", s.readyz)
	r.HEAD("/readyz", s.readyz)

	s.pageRoutes(r)
	s.privacyRoutes(r)

	auth := r.Group("/auth", s.needReady, s.loadSession)
	auth.GET("/login", s.login)
	auth.GET("/callback", s.callback)
	auth.POST("/logout", s.needCSRF, s.logout)

	// The signalling WebSocket: its join token says who the participant is, not a session.
	r.GET(rtcPath, s.needReady, s.rtc)
	r.GET(relayPath+":room", s.needReady, s.relay)
	r.POST(commandPath+":room/commands", s.needReady, s.roomCommandHandler)
	r.GET(recordingFilesPath+":recording/files/:file", s.needReady, s.recordingFileHandler)
	r.DELETE(recordingFilesPath+":recording/files", s.needReady, s.recordingDeleteHandler)
	// WHIP and WHEP: a bearer token (a stream key, a join token) says who; no session
	// cookie is read, so no CSRF token is asked for.
	r.POST(whipPath+"/:id", s.needReady, s.startWHIP)
	r.DELETE(whipPath+"/:id/sessions/:session", s.needReady, s.stopWHIP)
	r.POST(whepPath, s.needReady, s.startWHEP)
	r.DELETE(whepPath+"/sessions/:session", s.needReady, s.stopWHEP)

	v1 := r.Group("/api/v1", s.needReady, s.loadSession)
	v1.GET("/invitations/:token", s.getPublicInvitation)
	v1.GET("/invitations/:token/invitation.ics", s.getPublicInvitationICS)
	v1.POST("/invitations/:token/join", s.timeJoin("invitation", s.joinWithInvitation))
	v1.POST("/rejoin", s.timeJoin("rejoin", s.rejoin))
	v1.POST(strings.TrimPrefix(slidesPath, "/api/v1"), s.presentSlides)
	v1.POST(strings.TrimPrefix(slidesPath, "/api/v1")+"/attached", s.presentAttachedSlides)
	v1.GET(strings.TrimPrefix(slidesPath, "/api/v1")+"/:slides", s.getSlides)
	// A share link of a recording: the token is the capability, no session.
	v1.GET("/shared/:token", s.getShared)
	v1.GET("/shared/:token/files/:file", s.getSharedFile)

	// A restricted account may still see and export its data; nothing else.
	v1.GET("/me", s.needOrganizer, s.getMe)
	v1.GET("/me/export", s.needOrganizer, s.exportMe)

	org := v1.Group("", s.needOrganizer, s.needCSRF, s.needUnrestricted)
	org.PATCH("/me", s.rectifyMe)
	org.DELETE("/me", s.eraseMe)
	org.GET("/webinars", s.listWebinars)
	org.POST("/webinars", s.createWebinar)
	org.GET("/webinars/:id", s.getWebinar)
	org.PATCH("/webinars/:id", s.updateWebinar)
	org.DELETE("/webinars/:id", s.deleteWebinar)
	org.GET("/webinars/:id/invitations", s.listInvitations)
	org.POST("/webinars/:id/invitations", s.createInvitation)
	org.DELETE("/webinars/:id/invitations/:invitation", s.revokeInvitation)
	org.GET("/webinars/:id/invitation.ics", s.getWebinarICS)
	org.POST("/webinars/:id/join", s.timeJoin("owner", s.joinAsOwner))
	org.POST("/webinars/:id/stream-key", s.createStreamKey)
	org.DELETE("/webinars/:id/stream-key", s.deleteStreamKey)
	org.POST("/webinars/:id/participants/:participant/remove", s.removeParticipant)
	org.POST("/webinars/:id/participants/:participant/role", s.setParticipantRole)
	org.POST("/webinars/:id/recording", s.startRecording)
	org.DELETE("/webinars/:id/recording", s.stopRecording)
	org.PUT(strings.TrimPrefix(webinarSlidesPath, "/api/v1"), s.attachSlides)
	org.GET(strings.TrimPrefix(webinarSlidesPath, "/api/v1"), s.getAttachedSlides)
	org.DELETE(strings.TrimPrefix(webinarSlidesPath, "/api/v1"), s.deleteAttachedSlides)
	org.POST("/webinars/:id/captions", s.startCaptions)
	org.DELETE("/webinars/:id/captions", s.stopCaptions)
	org.GET("/webinars/:id/recordings", s.listRecordings)
	org.GET("/webinars/:id/broadcast", s.getBroadcast)
	org.POST("/webinars/:id/broadcast", s.startBroadcast)
	org.DELETE("/webinars/:id/broadcast", s.stopBroadcast)
	org.PUT("/webinars/:id/broadcast/target", s.setBroadcastTarget)
	org.DELETE("/webinars/:id/broadcast/target", s.deleteBroadcastTarget)
	org.GET("/recordings/:recording/files/:file", s.getRecordingFile)
	org.DELETE("/recordings/:recording", s.deleteRecording)
	org.POST("/recordings/:recording/links", s.createRecordingLink)
	org.GET("/recordings/:recording/links", s.listRecordingLinks)
	org.DELETE("/recordings/:recording/links/:link", s.revokeRecordingLink)

	admin := org.Group("/admin", s.needAdmin)
	admin.GET("/organizers", s.listOrganizers)
	admin.POST("/organizers/:id/restriction", s.restrictOrganizer)
	admin.DELETE("/organizers/:id/restriction", s.liftRestriction)
	admin.POST("/connection-log/search", s.searchConnectionLog)
	admin.GET("/ledger", s.listLedger)
	admin.GET("/ledger/export", s.exportLedger)
	admin.GET("/retention", s.getRetention)
	admin.POST("/retention/run", s.runRetention)
	admin.GET("/nodes", s.listNodes)

	if s.p.MetricsToken != "" {
		metrics := s.MetricsHandler()
		r.GET("/metrics", func(c *gin.Context) { metrics.ServeHTTP(c.Writer, c.Request) })
	}

	var h http.Handler = r
	if s.p.DevIDP != nil {
		mux := http.NewServeMux()
		mux.Handle("/dev-idp/", s.withSecurityHeaders(s.p.DevIDP))
		mux.Handle("/", r)
		h = mux
	}
	// Refuses cross-origin state-changing requests from browsers (Sec-Fetch-Site, Origin);
	// the session's CSRF token covers clients that send neither header.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(errCrossOrigin)
	}))
	return cop.Handler(h)
}

// contentSecurityPolicy keeps every page to its own origin.
const contentSecurityPolicy = "default-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; object-src 'none'"

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self), geolocation=()")
}

func (s *Server) securityHeaders(c *gin.Context) {
	setSecurityHeaders(c.Writer.Header())
	if s.secure {
		c.Header("Strict-Transport-Security", "max-age=31536000")
	}
	c.Next()
}

func (s *Server) withSecurityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		h.ServeHTTP(w, r)
	})
}

func (s *Server) limitBody(c *gin.Context) {
	if c.Request.Body != nil {
		limit := s.p.MaxBodyBytes
		if isPDFUpload(c.FullPath()) {
			limit = sfu.MaxSlidesBytes // a presented PDF, checked by its handler
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	}
	c.Next()
}

func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(c.Request.Context(), "handler panicked", "route", c.FullPath(), "panic", fmt.Sprint(v))
			writeProblem(c, errInternal)
		}
	}()
	c.Next()
}

func (s *Server) needReady(c *gin.Context) {
	if !s.ready.Load() {
		c.Header("Retry-After", "5")
		writeProblem(c, errNotReady)
		return
	}
	c.Next()
}

func (s *Server) readyz(c *gin.Context) {
	if !s.ready.Load() {
		c.String(http.StatusServiceUnavailable, "not ready: database not migrated yet\n")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	if err := s.p.Store.Ready(ctx); err != nil {
		c.String(http.StatusServiceUnavailable, "not ready: database unreachable or migrations pending\n")
		return
	}
	c.String(http.StatusOK, "ready\n")
}

// decodeJSON reads a JSON body into dst, a pointer to a struct: the body must be
// application/json, within the size limit, one JSON object whose keys are exactly the json
// names of dst's fields, each once.
func decodeJSON(c *gin.Context, dst any) *Problem {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/json" {
		return problem(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json")
	}
	data, p := readBody(c, problem(http.StatusBadRequest, "malformed_json", "the body could not be read"))
	if p != nil {
		return p
	}
	if p := checkKeys(data, jsonNames(dst)); p != nil {
		return p
	}
	if err := json.Unmarshal(data, dst); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			p := problem(http.StatusBadRequest, "malformed_json", "a field has the wrong type")
			p.Errors = []FieldError{{Field: typ.Field, Detail: "want " + typ.Type.String()}}
			return p
		}
		return problem(http.StatusBadRequest, "malformed_json", "the body could not be read as JSON")
	}
	return nil
}

// readBody reads the request body: one over the size limit is body_too_large, one that
// cannot be read otherwise is unreadable.
func readBody(c *gin.Context, unreadable *Problem) ([]byte, *Problem) {
	data, err := io.ReadAll(c.Request.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, problem(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is larger than %d bytes", tooLarge.Limit))
	} else if err != nil {
		return nil, unreadable
	}
	return data, nil
}

// checkKeys walks the top level of a JSON document: one object, nothing after it, every key
// one of names (compared exactly, unlike encoding/json) and none twice.
func checkKeys(data []byte, names map[string]bool) *Problem {
	malformed := func(detail string) *Problem { return problem(http.StatusBadRequest, "malformed_json", detail) }
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	switch {
	case errors.Is(err, io.EOF):
		return malformed("the body is empty")
	case err != nil:
		return malformed("the body is not valid JSON")
	case tok != json.Delim('{'):
		return malformed("the body must be a JSON object")
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return malformed("the body is not valid JSON")
		}
		key, _ := tok.(string)
		if !names[key] {
			p := problem(http.StatusBadRequest, "unknown_field", "the body has a field this endpoint does not know")
			p.Errors = []FieldError{{Field: key, Detail: "unknown field"}}
			return p
		}
		if seen[key] {
			p := malformed("a field is given twice")
			p.Errors = []FieldError{{Field: key, Detail: "given twice"}}
			return p
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return malformed("the body is not valid JSON")
		}
	}
	if _, err := dec.Token(); err != nil {
		return malformed("the body is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return malformed("the body holds more than one JSON value")
	}
	return nil
}

// jsonNames lists the json names of the fields of the struct dst points to.
func jsonNames(dst any) map[string]bool {
	names := make(map[string]bool)
	t := reflect.TypeOf(dst).Elem()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			names[name] = true
		}
	}
	return names
}
