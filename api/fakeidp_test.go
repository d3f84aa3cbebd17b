package api_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"webinaire/api"
)

type apiOIDC = api.OIDCParams

// forgingIdP is an OpenID provider that answers the authorization code flow honestly
// (client secret, PKCE S256) but issues the ID token a test asks for: expired, for another
// audience, unsigned, HMAC-signed, with another nonce...
type forgingIdP struct {
	t      *testing.T
	srv    *httptest.Server
	key    *rsa.PrivateKey
	other  *rsa.PrivateKey
	secret string

	mu    sync.Mutex
	codes map[string]authRequest
	forge string
}

type authRequest struct{ nonce, challenge string }

const fakeClientID = "webinaire-fake"

func newForgingIdP(t *testing.T) *forgingIdP {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	f := &forgingIdP{t: t, key: key, other: other, secret: "fake-client-secret-0123456789abcdef", codes: map[string]authRequest{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                f.srv.URL,
			"authorization_endpoint":                f.srv.URL + "/authorize",
			"token_endpoint":                        f.srv.URL + "/token",
			"jwks_uri":                              f.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != fakeClientID || q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" {
			http.Error(w, "bad authorization request", http.StatusBadRequest)
			return
		}
		code := rand.Text()
		f.mu.Lock()
		f.codes[code] = authRequest{nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
		f.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
		}
		f.mu.Lock()
		req, found := f.codes[r.PostFormValue("code")]
		delete(f.codes, r.PostFormValue("code"))
		forge := f.forge
		f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		if id != fakeClientID || secret != f.secret || !found || base64.RawURLEncoding.EncodeToString(sum[:]) != req.challenge {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": "at", "token_type": "Bearer", "expires_in": 300,
			"id_token": f.idToken(forge, req.nonce),
		})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// setForge makes the next ID tokens forged so; "" is an honest token.
func (f *forgingIdP) setForge(forge string) {
	f.mu.Lock()
	f.forge = forge
	f.mu.Unlock()
}

// login logs a new browser in through f with tokens forged so, and returns it and what
// /api/v1/me says.
func (f *forgingIdP) login(t *testing.T, e *env, forge string) (*browser, me) {
	t.Helper()
	f.setForge(forge)
	b := e.browser()
	resp := b.Do("GET", "/auth/login", nil, nil)
	readBody(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "/dashboard", resp.Request.URL.Path)
	m, status := getMe(b)
	require.Equal(t, http.StatusOK, status)
	return b, m
}

func (f *forgingIdP) idToken(forge, nonce string) string {
	now := time.Now()
	claims := map[string]any{
		"iss": f.srv.URL, "sub": "forged-subject", "aud": fakeClientID,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "nonce": nonce,
		"email": "mallory@example.org", "email_verified": true, "given_name": "Mallory", "family_name": "Forge",
	}
	key, alg := any(f.key), jose.RS256
	switch forge {
	case "expired":
		claims["iat"], claims["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	case "foreign audience":
		claims["aud"] = "another-client"
	case "wrong nonce":
		claims["nonce"] = "not-the-one-sent"
	case "name only":
		delete(claims, "given_name")
		delete(claims, "family_name")
		claims["name"] = "  Mallory de la  Forge "
	case "wrong issuer":
		claims["iss"] = "https://idp.evil.example"
	case "other key":
		key = f.other
	case "hmac":
		key, alg = []byte(f.secret), jose.HS256
	case "email unverified":
		claims["email_verified"] = false
	case "email_verified absent":
		delete(claims, "email_verified")
	case "email_verified a string false":
		claims["email_verified"] = "false"
	case "email_verified a string true":
		claims["email_verified"] = "true"
	case "email_verified a number":
		claims["email_verified"] = 1
	case "none":
		payload, _ := json.Marshal(claims)
		head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		return head + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	require.NoError(f.t, err)
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	require.NoError(f.t, err)
	s, err := obj.CompactSerialize()
	require.NoError(f.t, err)
	return s
}

func TestCallbackRefusesBadIDTokens(t *testing.T) {
	idp := newForgingIdP(t)
	e := setup(t, "sqlite", options{oidc: &apiOIDC{
		Issuer: idp.srv.URL, ClientID: fakeClientID, ClientSecret: idp.secret, Scopes: []string{"openid", "profile", "email"},
		AdminEmails: []string{"MALLORY@example.org"},
	}})
	for _, forge := range []string{"expired", "foreign audience", "wrong nonce", "wrong issuer", "other key", "hmac", "none"} {
		t.Run(forge, func(t *testing.T) {
			idp.setForge(forge)
			b := e.browser()
			resp := b.Do("GET", "/auth/login", nil, nil)
			require.Equal(t, "/auth/callback", resp.Request.URL.Path)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Equal(t, "login_failed", problemOf(t, resp).Code)
			require.Empty(t, b.Cookie("webinaire_session"), "no session")
		})
	}
	_, total, err := e.store.ListOrganizers(context.Background(), 10, 0)
	require.NoError(t, err)
	require.EqualValues(t, 0, total, "no account was created by a refused token")

	t.Run("honest token", func(t *testing.T) {
		b, m := idp.login(t, e, "")
		require.Equal(t, "mallory@example.org", m.Email, "the same provider works when the token is right")
		require.True(t, m.IsAdmin, "named an administrator by email, whatever the case")

		// This provider has no end-session endpoint: logout ends here and goes home.
		b.RefreshCSRF()
		resp := b.Do("POST", "/auth/logout", nil, nil)
		readBody(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "/", resp.Request.URL.Path)
		_, status := getMe(b)
		require.Equal(t, http.StatusUnauthorized, status)
	})
}

// A provider that sends only name (Dex, Entra ID) gives the organizer a name all the same,
// and the owner's tile in his room shows it.
func TestNameFromAProviderThatSendsOnlyName(t *testing.T) {
	idp := newForgingIdP(t)
	idp.forge = "name only"
	e := setup(t, "sqlite", options{oidc: &apiOIDC{
		Issuer: idp.srv.URL, ClientID: fakeClientID, ClientSecret: idp.secret, Scopes: []string{"openid", "profile", "email"},
	}})
	b := e.browser()
	resp := b.Do("GET", "/auth/login", nil, nil)
	readBody(t, resp)
	require.Equal(t, "/dashboard", resp.Request.URL.Path)
	m, status := getMe(b)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "Mallory", m.GivenName)
	require.Equal(t, "de la Forge", m.FamilyName)
	b.RefreshCSRF()
	w := createWebinar(b, withoutLobby)
	require.Equal(t, "Mallory de la Forge", joinAsOwner(b, w.ID).DisplayName)
}

func TestPersonName(t *testing.T) {
	for _, tc := range []struct {
		claims        map[string]any
		given, family string
	}{
		{map[string]any{"given_name": "Camille", "family_name": "Martin", "name": "C. M."}, "Camille", "Martin"},
		{map[string]any{"family_name": "Martin"}, "", "Martin"},
		{map[string]any{"name": "Camille Martin"}, "Camille", "Martin"},
		{map[string]any{"name": "Jean-Pierre de la Fontaine"}, "Jean-Pierre", "de la Fontaine"},
		{map[string]any{"name": "Martin, Camille"}, "Camille", "Martin"},
		{map[string]any{"name": "Camille"}, "Camille", ""},
		{map[string]any{"name": 42}, "", ""},
		{map[string]any{}, "", ""},
	} {
		given, family := api.PersonName(tc.claims)
		require.Equal(t, tc.given, given, "%v", tc.claims)
		require.Equal(t, tc.family, family, "%v", tc.claims)
	}
}

// An address the provider did not verify names no administrator: a provider may let its
// users set any email. The login itself goes through.
func TestAdminByEmailNeedsAVerifiedEmail(t *testing.T) {
	idp := newForgingIdP(t)
	e := setup(t, "sqlite", options{oidc: &apiOIDC{
		Issuer: idp.srv.URL, ClientID: fakeClientID, ClientSecret: idp.secret, Scopes: []string{"openid", "profile", "email"},
		AdminEmails: []string{"mallory@example.org"},
	}})
	for _, tc := range []struct {
		forge string
		admin bool
	}{
		{"email unverified", false},
		{"email_verified absent", false},
		{"email_verified a string false", false},
		{"email_verified a number", false},
		{"email_verified a string true", true},
		{"email verified", true},
	} {
		t.Run(tc.forge, func(t *testing.T) {
			b, m := idp.login(t, e, tc.forge)
			require.Equal(t, "mallory@example.org", m.Email)
			require.Equal(t, tc.admin, m.IsAdmin, "administrator by email")
			resp := b.Do("GET", "/api/v1/admin/organizers", nil, nil)
			resp.Body.Close()
			if tc.admin {
				require.Equal(t, http.StatusOK, resp.StatusCode)
			} else {
				require.Equal(t, http.StatusForbidden, resp.StatusCode, "the administrators' API stays closed")
			}
		})
	}
}
