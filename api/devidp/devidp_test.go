package devidp_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"webinaire/api/devidp"
)

const (
	clientID      = "webinaire-dev"
	clientSecret  = "dev-secret-not-for-production"
	redirectURI   = "http://127.0.0.1:8080/auth/callback"
	postLogoutURI = "http://127.0.0.1:8080/"
	adminEmail    = "admin@example.org"
)

// env is a running provider mounted under /dev-idp/ on an httptest server.
type env struct {
	server   *httptest.Server
	issuer   string
	cfg      devidp.Config
	provider *oidc.Provider
	oauth    *oauth2.Config

	mu  sync.Mutex
	idp *devidp.Provider
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{}
	mux := http.NewServeMux()
	// The handler is looked up per request so that restart can swap providers.
	mux.Handle("/dev-idp/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		h := e.idp.Handler()
		e.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	e.server = httptest.NewServer(mux)
	t.Cleanup(e.server.Close)
	e.issuer = e.server.URL + "/dev-idp"
	e.cfg = devidp.Config{
		Issuer:                 e.issuer,
		ClientID:               clientID,
		ClientSecret:           clientSecret,
		RedirectURIs:           []string{redirectURI},
		PostLogoutRedirectURIs: []string{postLogoutURI},
		Logger:                 slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
	idp, err := devidp.New(e.cfg)
	require.NoError(t, err)
	e.idp = idp

	e.provider, err = oidc.NewProvider(t.Context(), e.issuer)
	require.NoError(t, err)
	endpoint := e.provider.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInHeader
	e.oauth = &oauth2.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		Endpoint:     endpoint,
		RedirectURL:  redirectURI,
		Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
	}
	return e
}

// restart replaces the provider by a new one with the same configuration, as
// a restart of the development server would: new keys, empty storage.
func (e *env) restart(t *testing.T) {
	t.Helper()
	idp, err := devidp.New(e.cfg)
	require.NoError(t, err)
	e.mu.Lock()
	e.idp = idp
	e.mu.Unlock()
}

func (e *env) current() *devidp.Provider {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.idp
}

// newBrowser returns a client with a cookie jar that follows redirects, except
// to the client's redirect URI and the post-logout URI, which it returns as is.
func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			u := req.URL.String()
			if strings.HasPrefix(u, "http://127.0.0.1:8080/") {
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
}

func randomString(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// loginForm is the login page as parsed by the tests.
type loginForm struct {
	pageURL       *url.URL
	action        string
	authRequestID string
	users         map[string]string // email -> user id (button value)
	body          string
	header        http.Header
}

var (
	formRe   = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="authRequestID" value="([^"]*)">`)
	buttonRe = regexp.MustCompile(`(?s)<button type="submit" name="userID" value="([^"]*)">(.*?)</button>`)
	emailRe  = regexp.MustCompile(`<span class="email">([^<]*)</span>`)
)

// openLoginPage follows authURL to the login page and parses it.
func openLoginPage(t *testing.T, browser *http.Client, authURL string) *loginForm {
	t.Helper()
	resp, err := browser.Get(authURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.True(t, strings.HasSuffix(resp.Request.URL.Path, "/dev-idp/login"), resp.Request.URL.String())

	f := &loginForm{pageURL: resp.Request.URL, users: map[string]string{}, body: string(body), header: resp.Header}
	m := formRe.FindStringSubmatch(f.body)
	require.NotNil(t, m, "login form not found")
	f.action = html.UnescapeString(m[1])
	m = hiddenRe.FindStringSubmatch(f.body)
	require.NotNil(t, m, "auth request id not found")
	f.authRequestID = html.UnescapeString(m[1])
	for _, b := range buttonRe.FindAllStringSubmatch(f.body, -1) {
		em := emailRe.FindStringSubmatch(b[2])
		require.NotNil(t, em, "button without email: %s", b[0])
		f.users[html.UnescapeString(em[1])] = html.UnescapeString(b[1])
	}
	return f
}

// submit posts the form for the user with the given email and returns the
// response that stopped at the client (or the error page).
func (f *loginForm) submit(t *testing.T, browser *http.Client, email string) *http.Response {
	t.Helper()
	userID, ok := f.users[email]
	require.True(t, ok, "no button for %s", email)
	return f.post(t, browser, url.Values{"authRequestID": {f.authRequestID}, "userID": {userID}}, nil)
}

func (f *loginForm) post(t *testing.T, browser *http.Client, form url.Values, header http.Header) *http.Response {
	t.Helper()
	action, err := f.pageURL.Parse(f.action)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := browser.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// flow is one authorization request of the client.
type flow struct {
	state, nonce, verifier string
	authURL                string
}

func (e *env) newFlow(t *testing.T, opts ...oauth2.AuthCodeOption) *flow {
	t.Helper()
	f := &flow{state: randomString(t), nonce: randomString(t), verifier: oauth2.GenerateVerifier()}
	opts = append([]oauth2.AuthCodeOption{oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)}, opts...)
	f.authURL = e.oauth.AuthCodeURL(f.state, opts...)
	return f
}

// callbackParams checks that resp redirects to the client's redirect URI and returns the query.
func callbackParams(t *testing.T, resp *http.Response) url.Values {
	t.Helper()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, redirectURI, loc.Scheme+"://"+loc.Host+loc.Path)
	return loc.Query()
}

// loginCode runs the browser part of the flow for email and returns the code.
func (e *env) loginCode(t *testing.T, f *flow, email string) string {
	t.Helper()
	browser := newBrowser(t)
	page := openLoginPage(t, browser, f.authURL)
	q := callbackParams(t, page.submit(t, browser, email))
	require.Empty(t, q.Get("error"), q.Get("error_description"))
	require.Equal(t, f.state, q.Get("state"))
	require.NotEmpty(t, q.Get("code"))
	return q.Get("code")
}

type idClaims struct {
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	GivenName     string   `json:"given_name"`
	FamilyName    string   `json:"family_name"`
	Name          string   `json:"name"`
	Groups        []string `json:"groups"`
}

func defaultUser(t *testing.T, email string) devidp.User {
	t.Helper()
	for _, u := range devidp.DefaultUsers() {
		if u.Email == email {
			return u
		}
	}
	t.Fatalf("no default user %s", email)
	return devidp.User{}
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.issuer + "/.well-known/openid-configuration")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var d struct {
		Issuer             string   `json:"issuer"`
		Authorization      string   `json:"authorization_endpoint"`
		Token              string   `json:"token_endpoint"`
		JWKS               string   `json:"jwks_uri"`
		Userinfo           string   `json:"userinfo_endpoint"`
		EndSession         string   `json:"end_session_endpoint"`
		CodeChallenge      []string `json:"code_challenge_methods_supported"`
		TokenAuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
		Claims             []string `json:"claims_supported"`
		IDTokenSigningAlgs []string `json:"id_token_signing_alg_values_supported"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&d))
	require.Equal(t, e.issuer, d.Issuer)
	for _, u := range []string{d.Authorization, d.Token, d.JWKS, d.Userinfo, d.EndSession} {
		require.True(t, strings.HasPrefix(u, e.issuer+"/"), u)
	}
	require.Equal(t, e.issuer+"/end_session", d.EndSession)
	require.Contains(t, d.CodeChallenge, "S256")
	require.Contains(t, d.TokenAuthMethods, "client_secret_basic")
	require.Contains(t, d.TokenAuthMethods, "client_secret_post")
	require.Contains(t, d.Claims, "groups")
	require.Contains(t, d.IDTokenSigningAlgs, "RS256")

	// Paths outside the issuer path are not served.
	resp2, err := http.Get(e.server.URL + "/dev-idpx/.well-known/openid-configuration")
	require.NoError(t, err)
	resp2.Body.Close()
	require.Equal(t, http.StatusNotFound, resp2.StatusCode)
}

func TestFullLoginAsAdmin(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	f := e.newFlow(t)
	code := e.loginCode(t, f, adminEmail)

	tok, err := e.oauth.Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
	require.NoError(t, err)
	rawIDToken, ok := tok.Extra("id_token").(string)
	require.True(t, ok, "no id_token in token response")

	idToken, err := e.provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, rawIDToken)
	require.NoError(t, err)
	require.Equal(t, f.nonce, idToken.Nonce)
	require.Equal(t, e.issuer, idToken.Issuer)
	require.Equal(t, []string{clientID}, idToken.Audience)
	admin := defaultUser(t, adminEmail)
	require.Equal(t, admin.ID, idToken.Subject)

	var claims idClaims
	require.NoError(t, idToken.Claims(&claims))
	require.Equal(t, idClaims{
		Email:         adminEmail,
		EmailVerified: true,
		GivenName:     "Alex",
		FamilyName:    "Admin",
		Name:          "Alex Admin",
		Groups:        []string{"webinaire-admins"},
	}, claims)

	// Signed RS256 with a 2048-bit key published on the keys endpoint.
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(rawIDToken, ".")[0])
	require.NoError(t, err)
	var jwtHeader struct{ Alg, Kid string }
	require.NoError(t, json.Unmarshal(header, &jwtHeader))
	require.Equal(t, "RS256", jwtHeader.Alg)
	var jwks struct {
		Keys []struct{ Kid, Kty, Alg, Use, N string }
	}
	resp, err := http.Get(e.issuer + "/keys")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&jwks))
	require.Len(t, jwks.Keys, 1)
	require.Equal(t, jwtHeader.Kid, jwks.Keys[0].Kid)
	require.Equal(t, "RSA", jwks.Keys[0].Kty)
	require.Equal(t, "sig", jwks.Keys[0].Use)
	n, err := base64.RawURLEncoding.DecodeString(jwks.Keys[0].N)
	require.NoError(t, err)
	require.Len(t, n, 256)

	// The userinfo endpoint returns the same claims.
	info, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	require.NoError(t, err)
	require.Equal(t, admin.ID, info.Subject)
	require.Equal(t, adminEmail, info.Email)
	require.True(t, info.EmailVerified)
	var infoClaims idClaims
	require.NoError(t, info.Claims(&infoClaims))
	require.Equal(t, claims, infoClaims)
}

func TestOrganizerHasNoAdminGroup(t *testing.T) {
	e := newEnv(t)
	f := e.newFlow(t)
	code := e.loginCode(t, f, "camille.martin@example.org")
	tok, err := e.oauth.Exchange(t.Context(), code, oauth2.VerifierOption(f.verifier))
	require.NoError(t, err)
	idToken, err := e.provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(t.Context(), tok.Extra("id_token").(string))
	require.NoError(t, err)
	var claims struct {
		Groups     *[]string `json:"groups"`
		GivenName  string    `json:"given_name"`
		FamilyName string    `json:"family_name"`
	}
	require.NoError(t, idToken.Claims(&claims))
	require.NotNil(t, claims.Groups, "groups claim must be present")
	require.Empty(t, *claims.Groups)
	require.Equal(t, "Camille", claims.GivenName)
	require.Equal(t, "Martin", claims.FamilyName)
}

func TestClientSecretPost(t *testing.T) {
	e := newEnv(t)
	cfg := *e.oauth
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	f := e.newFlow(t)
	code := e.loginCode(t, f, adminEmail)
	tok, err := cfg.Exchange(t.Context(), code, oauth2.VerifierOption(f.verifier))
	require.NoError(t, err)
	require.NotEmpty(t, tok.Extra("id_token"))
}

func TestWrongClientSecretFails(t *testing.T) {
	e := newEnv(t)
	cfg := *e.oauth
	cfg.ClientSecret = "wrong"
	f := e.newFlow(t)
	code := e.loginCode(t, f, adminEmail)
	_, err := cfg.Exchange(t.Context(), code, oauth2.VerifierOption(f.verifier))
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	require.Equal(t, http.StatusUnauthorized, re.Response.StatusCode)
	require.Equal(t, "invalid_client", re.ErrorCode)
}

func TestWrongPKCEVerifierFails(t *testing.T) {
	e := newEnv(t)
	f := e.newFlow(t)
	code := e.loginCode(t, f, adminEmail)
	_, err := e.oauth.Exchange(t.Context(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "invalid_grant", re.ErrorCode)

	// The code was spent by the failed attempt.
	_, err = e.oauth.Exchange(t.Context(), code, oauth2.VerifierOption(f.verifier))
	require.ErrorAs(t, err, &re)
	require.Equal(t, "invalid_grant", re.ErrorCode)
}

func TestMissingPKCEVerifierFails(t *testing.T) {
	e := newEnv(t)
	f := e.newFlow(t)
	code := e.loginCode(t, f, adminEmail)
	_, err := e.oauth.Exchange(t.Context(), code)
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "invalid_request", re.ErrorCode)
}

func TestPlainPKCERefused(t *testing.T) {
	e := newEnv(t)
	verifier := oauth2.GenerateVerifier()
	authURL := e.oauth.AuthCodeURL("st", oidc.Nonce("n"),
		oauth2.SetAuthURLParam("code_challenge", verifier),
		oauth2.SetAuthURLParam("code_challenge_method", "plain"))
	resp, err := newBrowser(t).Get(authURL)
	require.NoError(t, err)
	resp.Body.Close()
	q := callbackParams(t, resp)
	require.Equal(t, "invalid_request", q.Get("error"))
	require.Equal(t, "st", q.Get("state"))
	require.Empty(t, q.Get("code"))
}

func TestCodeIsSingleUse(t *testing.T) {
	e := newEnv(t)
	f := e.newFlow(t)
	code := e.loginCode(t, f, adminEmail)
	_, err := e.oauth.Exchange(t.Context(), code, oauth2.VerifierOption(f.verifier))
	require.NoError(t, err)
	_, err = e.oauth.Exchange(t.Context(), code, oauth2.VerifierOption(f.verifier))
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "invalid_grant", re.ErrorCode)
}

func TestCallbackReplayIssuesNoSecondCode(t *testing.T) {
	e := newEnv(t)
	f := e.newFlow(t)
	browser := newBrowser(t)
	page := openLoginPage(t, browser, f.authURL)

	// Stop at the provider's callback to be able to replay it.
	var callbackURL string
	stopAtCallback := *browser
	stopAtCallback.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		callbackURL = req.URL.String()
		return http.ErrUseLastResponse
	}
	resp := page.submit(t, &stopAtCallback, adminEmail)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.True(t, strings.HasPrefix(callbackURL, e.issuer+"/authorize/callback?"), callbackURL)

	first, err := browser.Get(callbackURL)
	require.NoError(t, err)
	first.Body.Close()
	q := callbackParams(t, first)
	require.NotEmpty(t, q.Get("code"))

	second, err := browser.Get(callbackURL)
	require.NoError(t, err)
	second.Body.Close()
	q2 := callbackParams(t, second)
	require.Empty(t, q2.Get("code"))
	require.Equal(t, "invalid_request", q2.Get("error"))

	// The first code is still good, once; afterwards the callback is dead.
	_, err = e.oauth.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(f.verifier))
	require.NoError(t, err)
	third, err := browser.Get(callbackURL)
	require.NoError(t, err)
	third.Body.Close()
	require.Equal(t, http.StatusBadRequest, third.StatusCode)
	require.Empty(t, third.Header.Get("Location"))
}

func TestUnknownRedirectURIRefused(t *testing.T) {
	e := newEnv(t)
	for _, uri := range []string{
		"http://127.0.0.1:8080/evil",
		redirectURI + "/",
		redirectURI + "?x=1",
		"http://evil.example/auth/callback",
	} {
		t.Run(uri, func(t *testing.T) {
			cfg := *e.oauth
			cfg.RedirectURL = uri
			authURL := cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
			resp, err := newBrowser(t).Get(authURL)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			require.Empty(t, resp.Header.Get("Location"))
			require.Equal(t, "/dev-idp/authorize", resp.Request.URL.Path, "must not leave the authorize endpoint")
		})
	}
}

func TestUnknownClientRefused(t *testing.T) {
	e := newEnv(t)
	cfg := *e.oauth
	cfg.ClientID = "someone-else"
	resp, err := newBrowser(t).Get(cfg.AuthCodeURL("st"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "/dev-idp/authorize", resp.Request.URL.Path)
}

func TestLoginPage(t *testing.T) {
	e := newEnv(t)
	browser := newBrowser(t)
	page := openLoginPage(t, browser, e.newFlow(t).authURL)

	require.Contains(t, page.header.Get("Content-Type"), "text/html")
	require.Contains(t, page.header.Get("Content-Security-Policy"), "default-src 'self'")
	require.Contains(t, page.body, "DEVELOPMENT identity provider")
	require.Contains(t, page.body, `lang="fr"`)
	require.Contains(t, page.body, "DÉVELOPPEMENT")
	require.Equal(t, "/dev-idp/login", page.action)
	require.GreaterOrEqual(t, len(page.authRequestID), 40, "auth request id must be long and random")

	// Every default user is offered, with a distinct subject.
	require.Len(t, page.users, len(devidp.DefaultUsers()))
	for _, u := range devidp.DefaultUsers() {
		require.Equal(t, u.ID, page.users[u.Email])
	}
	for _, email := range []string{"camille.martin@example.org", adminEmail} {
		require.Contains(t, page.users, email)
	}

	// Nothing inline, nothing from another origin.
	lower := strings.ToLower(page.body)
	for _, bad := range []string{"<script", "<style", " style=", "javascript:", " on" + "click="} {
		require.NotContains(t, lower, bad)
	}
	require.NotRegexp(t, `(?i)(src|href|action)="(https?:)?//`, page.body)
	m := regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)">`).FindStringSubmatch(page.body)
	require.NotNil(t, m)
	require.True(t, strings.HasPrefix(m[1], "/dev-idp/"), m[1])

	css, err := browser.Get(e.server.URL + html.UnescapeString(m[1]))
	require.NoError(t, err)
	defer css.Body.Close()
	require.Equal(t, http.StatusOK, css.StatusCode)
	require.Contains(t, css.Header.Get("Content-Type"), "text/css")

	// Two auth requests get different ids.
	other := openLoginPage(t, browser, e.newFlow(t).authURL)
	require.NotEqual(t, page.authRequestID, other.authRequestID)
}

func TestLoginPageUnknownRequest(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.issuer + "/login?authRequestID=nope")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(body), "unknown or has expired")
	require.NotContains(t, string(body), "<form")
}

func TestLoginFormRefusals(t *testing.T) {
	e := newEnv(t)
	browser := newBrowser(t)
	page := openLoginPage(t, browser, e.newFlow(t).authURL)
	admin := page.users[adminEmail]

	t.Run("unknown auth request", func(t *testing.T) {
		resp := page.post(t, browser, url.Values{"authRequestID": {page.authRequestID + "x"}, "userID": {admin}}, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
	t.Run("unknown user", func(t *testing.T) {
		resp := page.post(t, browser, url.Values{"authRequestID": {page.authRequestID}, "userID": {"mallory"}}, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
	t.Run("cross-origin post", func(t *testing.T) {
		resp := page.post(t, browser, url.Values{"authRequestID": {page.authRequestID}, "userID": {admin}},
			http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"http://evil.example"}})
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})
	t.Run("get is not a login", func(t *testing.T) {
		resp, err := browser.Get(e.issuer + "/login?authRequestID=" + url.QueryEscape(page.authRequestID) + "&userID=" + url.QueryEscape(admin))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "GET only shows the page")
	})

	// After all of the above the request is still pending and can be completed once.
	q := callbackParams(t, page.submit(t, browser, adminEmail))
	require.NotEmpty(t, q.Get("code"))

	t.Run("completed auth request", func(t *testing.T) {
		resp := page.submit(t, browser, "karim.benali@example.org")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		body, _ := io.ReadAll(resp.Body)
		require.Contains(t, string(body), "already been used")
	})
}

func TestAuthRequestExpires(t *testing.T) {
	e := newEnv(t)
	browser := newBrowser(t)
	page := openLoginPage(t, browser, e.newFlow(t).authURL)

	devidp.SetNow(e.current(), func() time.Time { return time.Now().Add(9 * time.Minute) })
	still := openLoginPage(t, browser, page.pageURL.String())
	require.Equal(t, page.authRequestID, still.authRequestID)

	devidp.SetNow(e.current(), func() time.Time { return time.Now().Add(10*time.Minute + time.Second) })
	resp, err := browser.Get(page.pageURL.String())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp = page.submit(t, browser, adminEmail)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// endSessionURL returns the end_session_endpoint from discovery with params.
func (e *env) endSessionURL(t *testing.T, params url.Values) string {
	t.Helper()
	var d struct {
		EndSession string `json:"end_session_endpoint"`
	}
	require.NoError(t, e.provider.Claims(&d))
	require.NotEmpty(t, d.EndSession)
	return d.EndSession + "?" + params.Encode()
}

func (e *env) loginTokens(t *testing.T) *oauth2.Token {
	t.Helper()
	f := e.newFlow(t)
	tok, err := e.oauth.Exchange(t.Context(), e.loginCode(t, f, adminEmail), oauth2.VerifierOption(f.verifier))
	require.NoError(t, err)
	return tok
}

func TestEndSession(t *testing.T) {
	e := newEnv(t)
	tok := e.loginTokens(t)
	_, err := e.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
	require.NoError(t, err)

	resp, err := newBrowser(t).Get(e.endSessionURL(t, url.Values{
		"id_token_hint":            {tok.Extra("id_token").(string)},
		"post_logout_redirect_uri": {postLogoutURI},
		"state":                    {"bye"},
	}))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, postLogoutURI+"?state=bye", resp.Header.Get("Location"))

	// The access token of the session is revoked.
	_, err = e.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
	require.Error(t, err)
}

func TestEndSessionRefusesUnknownPostLogoutURI(t *testing.T) {
	e := newEnv(t)
	tok := e.loginTokens(t)
	for _, params := range []url.Values{
		{"id_token_hint": {tok.Extra("id_token").(string)}, "post_logout_redirect_uri": {"http://evil.example/"}},
		{"client_id": {clientID}, "post_logout_redirect_uri": {postLogoutURI + "x"}},
		{"id_token_hint": {"not-a-token"}, "post_logout_redirect_uri": {"http://evil.example/"}},
	} {
		resp, err := newBrowser(t).Get(e.endSessionURL(t, params))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, params)
		require.Empty(t, resp.Header.Get("Location"))
	}
}

func TestEndSessionWithoutRedirectShowsSignedOutPage(t *testing.T) {
	e := newEnv(t)
	resp, err := newBrowser(t).Get(e.endSessionURL(t, url.Values{}))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "/dev-idp/logged-out", resp.Request.URL.Path)
	body, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(body), "signed out")
}

func TestEndSessionAfterRestart(t *testing.T) {
	e := newEnv(t)
	tok := e.loginTokens(t)
	e.restart(t) // new signing key: the old ID token no longer verifies

	resp, err := newBrowser(t).Get(e.endSessionURL(t, url.Values{
		"id_token_hint":            {tok.Extra("id_token").(string)},
		"post_logout_redirect_uri": {postLogoutURI},
	}))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, postLogoutURI, resp.Header.Get("Location"))
}

func TestConcurrentLogins(t *testing.T) {
	e := newEnv(t)
	emails := []string{"camille.martin@example.org", "karim.benali@example.org", "anne.dupont@example.org", adminEmail}
	verifier := e.provider.Verifier(&oidc.Config{ClientID: clientID})
	// Parallel subtests: each login runs in its own goroutine, all at once.
	t.Run("group", func(t *testing.T) {
		for i := range len(emails) * 3 {
			email := emails[i%len(emails)]
			t.Run(email, func(t *testing.T) {
				t.Parallel()
				f := e.newFlow(t)
				code := e.loginCode(t, f, email)
				tok, err := e.oauth.Exchange(t.Context(), code, oauth2.VerifierOption(f.verifier))
				require.NoError(t, err)
				idToken, err := verifier.Verify(t.Context(), tok.Extra("id_token").(string))
				require.NoError(t, err)
				var c idClaims
				require.NoError(t, idToken.Claims(&c))
				require.Equal(t, email, c.Email)
				require.Equal(t, f.nonce, idToken.Nonce)
			})
		}
	})
}

func TestNewValidatesConfig(t *testing.T) {
	valid := devidp.Config{
		Issuer:       "http://127.0.0.1:8080/dev-idp",
		ClientID:     clientID,
		ClientSecret: clientSecret,
		RedirectURIs: []string{redirectURI},
	}
	_, err := devidp.New(valid)
	require.NoError(t, err)

	for name, mutate := range map[string]func(*devidp.Config){
		"relative issuer":    func(c *devidp.Config) { c.Issuer = "/dev-idp" },
		"issuer with query":  func(c *devidp.Config) { c.Issuer = "http://127.0.0.1:8080/dev-idp?x=1" },
		"no client id":       func(c *devidp.Config) { c.ClientID = "" },
		"no secret":          func(c *devidp.Config) { c.ClientSecret = "" },
		"no redirect":        func(c *devidp.Config) { c.RedirectURIs = nil },
		"relative redirect":  func(c *devidp.Config) { c.RedirectURIs = []string{"/cb"} },
		"bad logout uri":     func(c *devidp.Config) { c.PostLogoutRedirectURIs = []string{"javascript:alert(1)"} },
		"duplicate user ids": func(c *devidp.Config) { c.Users = []devidp.User{{ID: "a"}, {ID: "a"}} },
		"colon in user id":   func(c *devidp.Config) { c.Users = []devidp.User{{ID: "a:b"}} },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := valid
			mutate(&cfg)
			_, err := devidp.New(cfg)
			require.Error(t, err)
		})
	}
}

func TestDefaultUsers(t *testing.T) {
	users := devidp.DefaultUsers()
	require.Len(t, users, 4)
	admins := 0
	for _, u := range users {
		require.NotEmpty(t, u.ID)
		require.NotEmpty(t, u.Email)
		if len(u.Groups) > 0 {
			admins++
			require.Equal(t, []string{"webinaire-admins"}, u.Groups)
			require.Equal(t, adminEmail, u.Email)
		}
	}
	require.Equal(t, 1, admins)
	require.Equal(t, "camille.martin@example.org", users[0].Email)

	// Callers get their own copy.
	users[3].Groups[0] = "changed"
	require.Equal(t, "webinaire-admins", devidp.DefaultUsers()[3].Groups[0])
}
