package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/api"
	"webinaire/store/storetest"
)

// eachDriver runs fn against a server on each database.
func eachDriver(t *testing.T, fn func(t *testing.T, driver string)) {
	for _, d := range storetest.Drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

type me struct {
	ID         string    `json:"id"`
	GivenName  string    `json:"given_name"`
	FamilyName string    `json:"family_name"`
	Email      string    `json:"email"`
	IsAdmin    bool      `json:"is_admin"`
	LastActive time.Time `json:"last_activity_at"`
}

func getMe(b *browser) (me, int) {
	b.T.Helper()
	resp := b.Do("GET", "/api/v1/me", nil, nil)
	var m me
	if resp.StatusCode == http.StatusOK {
		decode(b.T, resp, &m)
	} else {
		resp.Body.Close()
	}
	return m, resp.StatusCode
}

func TestLoginThroughTheDevelopmentProvider(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		b := e.browser()
		b.Login(userOwner)

		m, status := getMe(b)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "Camille", m.GivenName)
		require.Equal(t, "Martin", m.FamilyName)
		require.Equal(t, "camille.martin@example.org", m.Email)
		require.False(t, m.IsAdmin)

		o, err := e.store.Organizer(context.Background(), m.ID)
		require.NoError(t, err)
		require.Equal(t, e.base+"/dev-idp", o.Issuer)
		require.Equal(t, userOwner, o.Subject)

		require.Empty(t, b.Cookie("webinaire_login"), "the login cookie is gone after the callback")
		require.NotEmpty(t, b.Cookie("webinaire_session"))

		admin := e.browser()
		admin.Login(userAdmin)
		am, _ := getMe(admin)
		require.True(t, am.IsAdmin, "the provider's group makes an administrator")

		events, err := e.store.AuditEvents(context.Background(), 10)
		require.NoError(t, err)
		require.Equal(t, "organizer.login", events[0].Action)
	})
}

func TestSessionCookieAttributes(t *testing.T) {
	for _, tc := range []struct {
		tls  bool
		name string
	}{{false, "webinaire_session"}, {true, "__Host-webinaire_session"}} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, "sqlite", options{tls: tc.tls})
			b := e.browser()
			// Stop at the callback to read the Set-Cookie header itself.
			var setCookie []string
			b.Client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
				if req.Response != nil && req.Response.Request.URL.Path == "/auth/callback" {
					setCookie = req.Response.Header.Values("Set-Cookie")
				}
				return nil
			}
			b.Login(userOwner)
			var session string
			for _, c := range setCookie {
				if strings.HasPrefix(c, tc.name+"=") {
					session = c
				}
			}
			require.NotEmpty(t, session, "the callback sets %s; got %q", tc.name, setCookie)
			require.Contains(t, session, "HttpOnly")
			require.Contains(t, session, "SameSite=Lax")
			require.Contains(t, session, "Path=/")
			require.NotContains(t, session, "Domain=")
			if tc.tls {
				require.Contains(t, session, "Secure")
			} else {
				require.NotContains(t, session, "Secure")
			}
		})
	}
}

func TestNoCookieBeforeLoginAndCSPEverywhere(t *testing.T) {
	e := setup(t, "sqlite", options{})
	for _, path := range []string{"/", "/login", "/dashboard", "/join/nothing", "/room/3f1c6a52-0d7e-4c1a-9a55-0e4f2b8f1c2d", "/static/app.css", "/api/v1/me", "/api/v1/invitations/nothing", "/healthz", "/nope"} {
		resp, err := http.Get(e.base + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Empty(t, resp.Header.Values("Set-Cookie"), "%s sets no cookie", path)
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'", path)
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), path)
	}
}

func TestPagesAreServed(t *testing.T) {
	e := setup(t, "sqlite", options{})
	for _, path := range []string{"/", "/login", "/dashboard", "/join/abc", "/room/abc"} {
		resp, err := http.Get(e.base + path)
		require.NoError(t, err)
		body := readBody(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Contains(t, resp.Header.Get("Content-Type"), "text/html", path)
		require.Contains(t, body, "<html", path)
		require.NotContains(t, body, "http://", "%s loads nothing from another origin", path)
		require.NotContains(t, body, "https://", "%s loads nothing from another origin", path)
	}
	resp, err := http.Get(e.base + "/static/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "no directory listing")

	resp, err = http.Head(e.base + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "HEAD works on pages")

	resp, err = http.Get(e.base + "/favicon.ico")
	require.NoError(t, err)
	icon := readBody(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "image/svg+xml", resp.Header.Get("Content-Type"))
	require.Contains(t, icon, "<svg")
}

func TestLoginRenewsTheSession(t *testing.T) {
	e := setup(t, "sqlite", options{})
	b := e.browser()
	b.Login(userOwner)
	first := b.Cookie("webinaire_session")
	b.Login(userOwner)
	second := b.Cookie("webinaire_session")
	require.NotEqual(t, first, second, "a login gives a new session id")

	stale := e.browser()
	u, _ := url.Parse(e.base)
	stale.Client.Jar.SetCookies(u, []*http.Cookie{{Name: "webinaire_session", Value: first, Path: "/"}})
	_, status := getMe(stale)
	require.Equal(t, http.StatusUnauthorized, status, "the session before the new login is over")
}

func TestSessionExpiry(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		e := setup(t, "sqlite", options{idle: 30 * time.Minute, abs: 8 * time.Hour})
		b := e.browser()
		b.Login(userOwner)
		e.clock.Advance(29 * time.Minute)
		_, status := getMe(b)
		require.Equal(t, http.StatusOK, status, "used within the idle timeout")
		e.clock.Advance(29 * time.Minute)
		_, status = getMe(b)
		require.Equal(t, http.StatusOK, status, "each use restarts the idle timeout")
		e.clock.Advance(31 * time.Minute)
		_, status = getMe(b)
		require.Equal(t, http.StatusUnauthorized, status, "idle too long")
	})
	t.Run("absolute", func(t *testing.T) {
		e := setup(t, "sqlite", options{idle: time.Hour, abs: 3 * time.Hour})
		b := e.browser()
		b.Login(userOwner)
		for range 5 {
			e.clock.Advance(50 * time.Minute)
			_, status := getMe(b)
			if status != http.StatusOK {
				break
			}
		}
		_, status := getMe(b)
		require.Equal(t, http.StatusUnauthorized, status, "past the absolute timeout even while in use")
	})
}

func TestLastActivityIsUpdatedAtMostHourly(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{idle: 4 * time.Hour})
		b := e.browser()
		b.Login(userOwner)
		m, _ := getMe(b)
		ctx := context.Background()
		before, err := e.store.Organizer(ctx, m.ID)
		require.NoError(t, err)

		e.clock.Advance(30 * time.Minute)
		getMe(b)
		o, err := e.store.Organizer(ctx, m.ID)
		require.NoError(t, err)
		require.WithinDuration(t, before.LastActivityAt, o.LastActivityAt, time.Second, "not within the hour")

		e.clock.Advance(40 * time.Minute)
		getMe(b)
		o, err = e.store.Organizer(ctx, m.ID)
		require.NoError(t, err)
		require.WithinDuration(t, e.clock.Now(), o.LastActivityAt, 5*time.Second, "after an hour it moves")
	})
}

func TestLogout(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		b := e.browser()
		b.Login(userOwner)

		resp := b.Do("POST", "/auth/logout", nil, map[string]string{"X-CSRF-Token": "wrong"})
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "logout needs the CSRF token")
		resp.Body.Close()
		_, status := getMe(b)
		require.Equal(t, http.StatusOK, status, "a refused logout changes nothing")

		resp = b.Do("POST", "/auth/logout", nil, map[string]string{"Accept": "application/json"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var out struct{ Redirect string }
		decode(t, resp, &out)
		require.True(t, strings.HasPrefix(out.Redirect, e.base+"/dev-idp/"), "the provider's end-session endpoint, got %s", out.Redirect)
		u, err := url.Parse(out.Redirect)
		require.NoError(t, err)
		require.Equal(t, devClientID, u.Query().Get("client_id"))
		require.Equal(t, e.base+"/", u.Query().Get("post_logout_redirect_uri"))

		resp = b.Do("GET", strings.TrimPrefix(out.Redirect, e.base), nil, nil)
		readBody(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "/", resp.Request.URL.Path, "the provider sends the browser back to the landing page")

		_, status = getMe(b)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Empty(t, b.Cookie("webinaire_session"))

		events, err := e.store.AuditEvents(context.Background(), 1)
		require.NoError(t, err)
		require.Equal(t, "organizer.logout", events[0].Action)
	})
}

func TestCallbackRefusesBadState(t *testing.T) {
	e := setup(t, "sqlite", options{})

	// A browser that stops at the callback, to replay or alter it.
	stopAtCallback := func(b *browser) *url.URL {
		var callback *url.URL
		b.Client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if req.URL.Path == "/auth/callback" {
				callback = req.URL
				return http.ErrUseLastResponse
			}
			return nil
		}
		resp := b.ChooseUser(b.Do("GET", "/auth/login", nil, nil), userOwner)
		resp.Body.Close()
		require.NotNil(t, callback)
		b.Client.CheckRedirect = nil
		return callback
	}
	noSession := func(b *browser, resp *http.Response) {
		t.Helper()
		for _, c := range resp.Cookies() {
			if c.Name == "webinaire_session" {
				require.Empty(t, c.Value, "no session is set")
			}
		}
		require.Empty(t, b.Cookie("webinaire_session"))
	}

	t.Run("missing state", func(t *testing.T) {
		b := e.browser()
		cb := stopAtCallback(b)
		q := cb.Query()
		q.Del("state")
		resp := b.Do("GET", "/auth/callback?"+q.Encode(), nil, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, "invalid_state", problemOf(t, resp).Code)
		noSession(b, resp)
	})
	t.Run("wrong state", func(t *testing.T) {
		b := e.browser()
		cb := stopAtCallback(b)
		q := cb.Query()
		q.Set("state", "forged")
		resp := b.Do("GET", "/auth/callback?"+q.Encode(), nil, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		noSession(b, resp)
	})
	t.Run("another browser's callback", func(t *testing.T) {
		victim, attacker := e.browser(), e.browser()
		cb := stopAtCallback(attacker)
		resp := victim.Do("GET", cb.RequestURI(), nil, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "login CSRF: the state is bound to the browser that started")
		noSession(victim, resp)
	})
	t.Run("replayed state", func(t *testing.T) {
		b := e.browser()
		cb := stopAtCallback(b)
		state := b.Cookie("webinaire_login")
		resp := b.Do("GET", cb.RequestURI(), nil, nil)
		readBody(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode, "the first use logs in")
		// Replay with the same login cookie.
		replay := e.browser()
		u, _ := url.Parse(e.base)
		replay.Client.Jar.SetCookies(u, []*http.Cookie{{Name: "webinaire_login", Value: state, Path: "/"}})
		resp = replay.Do("GET", cb.RequestURI(), nil, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, "invalid_state", problemOf(t, resp).Code)
		noSession(replay, resp)
	})
	t.Run("provider error", func(t *testing.T) {
		b := e.browser()
		cb := stopAtCallback(b)
		q := url.Values{"state": {cb.Query().Get("state")}, "error": {"access_denied"}}
		resp := b.Do("GET", "/auth/callback?"+q.Encode(), nil, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Equal(t, "login_failed", problemOf(t, resp).Code)
		noSession(b, resp)
	})
	t.Run("wrong code", func(t *testing.T) {
		b := e.browser()
		cb := stopAtCallback(b)
		q := cb.Query()
		q.Set("code", "made-up")
		resp := b.Do("GET", "/auth/callback?"+q.Encode(), nil, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		noSession(b, resp)
	})
}

// returnToCases are pages to come back to after the login, and whether they are paths on
// this site. Browsers drop tabs and line breaks and read "\\" as "/", so "/\t/evil.example"
// would take them to //evil.example.
var returnToCases = []struct {
	path  string
	local bool
}{
	{"/dashboard", true},
	{"/room/abc?x=1&y=%2F#top", true},
	{"/%09/evil.example", true}, // an escape stays a byte of the path
	{"/a/b;c=d", true},
	{"/join/~_-.!$&'()*+,;=:@", true},
	{"", false},
	{"dashboard", false},
	{" /dashboard", false},
	{"https://evil.example/", false},
	{"javascript:alert(1)", false},
	{"//evil.example/", false},
	{"///evil.example", false},
	{"/\\evil.example", false},
	{"/a\\b", false},
	{"/\t/evil.example", false},
	{"/\n/evil.example", false},
	{"/\r/evil.example", false},
	{"/ /evil.example", false},
	{"/\x00", false},
	{"/\x7f", false},
	{"/\u00a0/evil.example", false},
	{"/\u3000/evil.example", false},
	{"/\u202e", false},
	{"/é", false},
	{"/%zz", false},
	{"/a%", false},
	{"/?q=%g1", false},
	{"/" + strings.Repeat("a", 511), true},
	{"/" + strings.Repeat("a", 512), false}, // longer than 512 bytes
}

func TestLocalPathRule(t *testing.T) {
	for _, tc := range returnToCases {
		want := ""
		if tc.local {
			want = tc.path
		}
		require.Equal(t, want, api.LocalPath(tc.path), "localPath(%q)", tc.path)
	}
}

// The login page applies the server's rule before it sends the browser to the login: the
// same cases through frontend/static/localpath.js.
func TestLocalPathRuleOfThePage(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	module, err := filepath.Abs("../frontend/static/localpath.js")
	require.NoError(t, err)
	paths := make([]string, len(returnToCases))
	for i, tc := range returnToCases {
		paths[i] = tc.path
	}
	in, err := json.Marshal(paths)
	require.NoError(t, err)
	script := `import { isLocalPath } from ` + strconv.Quote("file://"+module) + `;
let s = ""; for await (const chunk of process.stdin) s += chunk;
console.log(JSON.stringify(JSON.parse(s).map(isLocalPath)));`
	cmd := exec.CommandContext(t.Context(), node, "--input-type=module", "-e", script)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	require.NoError(t, err)
	var got []bool
	require.NoError(t, json.Unmarshal(out, &got))
	require.Len(t, got, len(returnToCases))
	for i, tc := range returnToCases {
		require.Equal(t, tc.local, got[i], "isLocalPath(%q)", tc.path)
	}
}

// The whole login with each return_to: the callback sends the browser to it when it is a
// path on this site, to the dashboard otherwise. (A longer one is refused at the start:
// see TestPendingLoginsAreBounded.)
func TestLoginReturnToStaysOnSite(t *testing.T) {
	e := setup(t, "sqlite", options{})
	for _, tc := range returnToCases {
		if len(tc.path) > 512 {
			continue
		}
		b := e.browser()
		var callback *url.URL
		b.Client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if req.URL.Path == "/auth/callback" {
				callback = req.URL
				return http.ErrUseLastResponse
			}
			return nil
		}
		resp := b.ChooseUser(b.Do("GET", "/auth/login?return_to="+url.QueryEscape(tc.path), nil, nil), userOwner)
		resp.Body.Close()
		require.NotNil(t, callback, "return_to %q", tc.path)
		// Read the Location header itself: a client that follows it may refuse to parse it.
		b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp = b.Do("GET", callback.RequestURI(), nil, nil)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		want := "/dashboard"
		if tc.local {
			want = tc.path
		}
		require.Equal(t, want, resp.Header.Get("Location"), "return_to %q", tc.path)
	}
}

func TestProviderDownAtLogin(t *testing.T) {
	e := setup(t, "sqlite", options{oidc: &apiOIDC{Issuer: "http://" + freePort(t), ClientID: "x", Scopes: []string{"openid"}}})
	b := e.browser()
	resp := b.Do("GET", "/auth/login", nil, nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "idp_unavailable", problemOf(t, resp).Code)
	resp, err := http.Get(e.base + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the server itself is fine")
}

func TestReadiness(t *testing.T) {
	e := setup(t, "sqlite", options{noReady: true})
	get := func(path string) int {
		resp, err := http.Get(e.base + path)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, get("/healthz"))
	require.Equal(t, http.StatusServiceUnavailable, get("/readyz"))
	require.Equal(t, http.StatusServiceUnavailable, get("/api/v1/me"), "the API waits for the database")
	e.api.SetReady()
	require.Equal(t, http.StatusOK, get("/readyz"))
	require.Equal(t, http.StatusUnauthorized, get("/api/v1/me"))
}

// An anonymous client cannot fill the disk with pending logins: return_to is bounded, the
// pending logins are bounded per client address (per /64 for IPv6) and in all, and those
// that expire are deleted as logins start, each deletion in the ledger.
func TestPendingLoginsAreBounded(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		// The test's requests come from 127.0.0.1, a trusted proxy here: X-Forwarded-For
		// names each client.
		e := setup(t, driver, options{
			trustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			loginFlows:     api.LoginLimits{PerClient: 2, Total: 5},
		})
		ctx := context.Background()
		pending := func() int64 {
			n, err := e.store.CountExpiredLoginFlows(ctx, e.clock.Now().Add(24*time.Hour))
			require.NoError(t, err)
			return n
		}
		start := func(client, returnTo string) *http.Response {
			b := e.browser()
			b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			resp := b.Do("GET", "/auth/login?return_to="+url.QueryEscape(returnTo), nil, map[string]string{"X-Forwarded-For": client})
			if resp.StatusCode == http.StatusFound {
				resp.Body.Close()
			}
			return resp
		}
		refused := func(resp *http.Response, status int, code string) {
			t.Helper()
			require.Equal(t, status, resp.StatusCode)
			require.Equal(t, code, problemOf(t, resp).Code)
		}

		refused(start("192.0.2.1", "/"+strings.Repeat("a", 512)), http.StatusBadRequest, "return_to_too_long")
		require.Zero(t, pending(), "a refused login stores nothing")

		require.Equal(t, http.StatusFound, start("192.0.2.1", "/"+strings.Repeat("a", 511)).StatusCode, "512 bytes is the most")
		require.Equal(t, http.StatusFound, start("192.0.2.1", "/dashboard").StatusCode)
		resp := start("192.0.2.1", "/dashboard")
		refused(resp, http.StatusTooManyRequests, "too_many_logins")
		require.Equal(t, "60", resp.Header.Get("Retry-After"))

		require.Equal(t, http.StatusFound, start("2001:db8:1:2::1", "/").StatusCode)
		require.Equal(t, http.StatusFound, start("2001:db8:1:2::2", "/").StatusCode)
		refused(start("2001:db8:1:2:ffff::3", "/"), http.StatusTooManyRequests, "too_many_logins")
		require.Equal(t, http.StatusFound, start("198.51.100.7", "/").StatusCode)
		refused(start("198.51.100.8", "/"), http.StatusTooManyRequests, "too_many_logins")
		require.EqualValues(t, 5, pending())
		require.NotContains(t, e.logs.String(), "192.0.2.1", "no address in the log")
		require.NotContains(t, e.logs.String(), "2001:db8", "no address in the log")

		// Ten minutes later they have expired: they no longer count, and the next login
		// deletes them, with an entry in the deletion ledger.
		e.clock.Advance(10*time.Minute + time.Second)
		require.Equal(t, http.StatusFound, start("198.51.100.8", "/").StatusCode)
		require.EqualValues(t, 1, pending(), "the expired logins are gone")
		entries, err := api.LedgerOf(e.api).Entries(ctx, 0, 10)
		require.NoError(t, err)
		require.NotEmpty(t, entries)
		last := entries[len(entries)-1]
		require.Equal(t, "login flow expired", last.Rule)
		require.EqualValues(t, 5, last.Count)

		// A whole login still goes through, and leaves no pending login behind.
		b := e.browser()
		b.Login(userOwner)
		require.EqualValues(t, 1, pending())
	})
}
