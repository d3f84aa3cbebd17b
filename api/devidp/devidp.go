// Package devidp is a minimal in-memory OpenID Connect provider for development mode.
package devidp

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// User is a demo account offered on the login page.
type User struct {
	ID         string   // stable subject
	GivenName  string   // given_name claim
	FamilyName string   // family_name claim
	Email      string   // email claim, always reported as verified
	Groups     []string // emitted as the "groups" claim
}

// Config configures the provider.
type Config struct {
	Issuer                 string       // full URL including the mount path, e.g. http://127.0.0.1:8080/dev-idp
	ClientID               string       // identifier of the single confidential client
	ClientSecret           string       // secret of that client (client_secret_basic or client_secret_post)
	RedirectURIs           []string     // exact allowed redirect URIs
	PostLogoutRedirectURIs []string     // exact allowed post_logout_redirect_uri values
	Users                  []User       // when empty, DefaultUsers() is used
	Logger                 *slog.Logger // when nil, nothing is logged
}

// adminGroup is the group of the demo administrator returned by DefaultUsers.
const adminGroup = "webinaire-admins"

// DefaultUsers returns the demo organizers and the administrator: three
// organizers (Camille Martin, Karim Benali, Anne Dupont) and one administrator
// (Alex Admin, admin@example.org, groups ["webinaire-admins"]).
func DefaultUsers() []User {
	return []User{
		{ID: "dev-camille-martin", GivenName: "Camille", FamilyName: "Martin", Email: "camille.martin@example.org", Groups: []string{}},
		{ID: "dev-karim-benali", GivenName: "Karim", FamilyName: "Benali", Email: "karim.benali@example.org", Groups: []string{}},
		{ID: "dev-anne-dupont", GivenName: "Anne", FamilyName: "Dupont", Email: "anne.dupont@example.org", Groups: []string{}},
		{ID: "dev-alex-admin", GivenName: "Alex", FamilyName: "Admin", Email: "admin@example.org", Groups: []string{adminGroup}},
	}
}

// Paths served by this package under the issuer path, next to the endpoints of
// the zitadel OpenID provider (authorize, oauth/token, keys, userinfo, end_session…).
const (
	loginPath      = "/login"
	stylesheetPath = "/static/devidp.css"
	loggedOutPath  = "/logged-out"
)

// Provider is the development identity provider.
type Provider struct {
	issuer     string
	pathPrefix string // issuer path without trailing slash, "" when mounted at the root
	clientID   string
	logger     *slog.Logger
	storage    *storage
	op         *op.Provider
	pages      *template.Template
	handler    http.Handler
}

// New validates cfg and creates a provider with a freshly generated RSA signing
// key and token encryption key. Nothing survives a restart.
func New(cfg Config) (*Provider, error) {
	issuerURL, err := validateConfig(cfg)
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	users := cfg.Users
	if len(users) == 0 {
		users = DefaultUsers()
	}
	if err := validateUsers(users); err != nil {
		return nil, err
	}

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("devidp: generate signing key: %w", err)
	}
	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		return nil, fmt.Errorf("devidp: generate crypto key: %w", err)
	}

	p := &Provider{
		issuer:     cfg.Issuer,
		pathPrefix: strings.TrimSuffix(issuerURL.Path, "/"),
		clientID:   cfg.ClientID,
		logger:     logger,
	}
	cl := &client{
		id:                     cfg.ClientID,
		secret:                 cfg.ClientSecret,
		redirectURIs:           slices.Clone(cfg.RedirectURIs),
		postLogoutRedirectURIs: slices.Clone(cfg.PostLogoutRedirectURIs),
		loginPath:              p.pathPrefix + loginPath,
		devMode:                allLoopback(cfg.RedirectURIs) && allLoopback(cfg.PostLogoutRedirectURIs),
	}
	p.storage = newStorage(cl, users, &signingKey{id: randomID(12), key: rsaKey}, logger)

	opConfig := &op.Config{
		CryptoKey:                cryptoKey,
		CryptoKeyId:              "devidp",
		DefaultLogoutRedirectURI: strings.TrimSuffix(cfg.Issuer, "/") + loggedOutPath,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		SupportedUILocales:       []language.Tag{language.English, language.French},
		SupportedClaims:          append(slices.Clone(op.DefaultSupportedClaims), groupsClaim),
		SupportedScopes:          []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail},
	}
	p.op, err = op.NewProvider(opConfig, p.storage, op.StaticIssuer(cfg.Issuer), op.WithAllowInsecure())
	if err != nil {
		return nil, fmt.Errorf("devidp: create provider: %w", err)
	}
	p.pages, err = parsePages()
	if err != nil {
		return nil, fmt.Errorf("devidp: parse templates: %w", err)
	}
	p.handler = p.routes()
	return p, nil
}

// Handler serves every endpoint of the provider (discovery, authorize, login
// page, token, keys, userinfo, end_session) for requests whose path starts with
// the issuer's path (e.g. /dev-idp/...). The caller mounts it as
// mux.Handle("/dev-idp/", p.Handler()).
func (p *Provider) Handler() http.Handler {
	return p.handler
}

// routes builds the handler: the login UI of this package plus the zitadel
// provider, both below the issuer path.
func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	issuerCtx := op.NewIssuerInterceptor(p.op.IssuerFromRequest)
	csrf := http.NewCrossOriginProtection()
	mux.HandleFunc("GET "+loginPath, p.loginPage)
	mux.Handle("POST "+loginPath, csrf.Handler(issuerCtx.HandlerFunc(p.loginSubmit)))
	mux.HandleFunc("GET "+stylesheetPath, serveStylesheet)
	mux.HandleFunc("GET "+loggedOutPath, p.loggedOutPage)
	mux.Handle(p.op.EndSessionEndpoint().Relative(), issuerCtx.HandlerFunc(p.endSession))
	mux.Handle("/", p.op)

	prefix := p.pathPrefix
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok || !strings.HasPrefix(rest, "/") {
			http.NotFound(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = rest
		r2.URL.RawPath = ""
		mux.ServeHTTP(w, r2)
	})
}

// endSession forwards to the end_session endpoint of the provider, but first
// drops an id_token_hint that no longer verifies (typically one signed before
// a restart of the development server, which regenerates the signing key), so
// that logging out of the application keeps working. The post_logout_redirect_uri
// is then still checked against the configured client.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "invalid request", http.StatusBadRequest)
		return
	}
	if hint := r.Form.Get("id_token_hint"); hint != "" {
		ctx := r.Context()
		_, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, p.op.IDTokenHintVerifier(ctx))
		if err != nil && !errors.As(err, &op.IDTokenHintExpiredError{}) {
			p.logger.WarnContext(ctx, "devidp: ignoring unverifiable id_token_hint", slog.String("error", err.Error()))
			r.Form.Del("id_token_hint")
			r.PostForm.Del("id_token_hint")
			if r.Form.Get("client_id") == "" {
				r.Form.Set("client_id", p.clientID)
			}
		}
	}
	p.op.ServeHTTP(w, r)
}

// validateConfig checks cfg and returns the parsed issuer.
func validateConfig(cfg Config) (*url.URL, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("devidp: issuer %q must be an absolute http(s) URL without query or fragment", cfg.Issuer)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("devidp: client id and client secret are required")
	}
	if len(cfg.RedirectURIs) == 0 {
		return nil, errors.New("devidp: at least one redirect URI is required")
	}
	for _, uris := range [][]string{cfg.RedirectURIs, cfg.PostLogoutRedirectURIs} {
		for _, raw := range uris {
			ru, err := url.Parse(raw)
			if err != nil || (ru.Scheme != "http" && ru.Scheme != "https") || ru.Host == "" || ru.Fragment != "" {
				return nil, fmt.Errorf("devidp: redirect URI %q must be an absolute http(s) URL without fragment", raw)
			}
		}
	}
	return u, nil
}

// validateUsers checks that every user has a usable, unique subject.
func validateUsers(users []User) error {
	seen := make(map[string]bool, len(users))
	for _, u := range users {
		// Opaque access tokens carry "tokenID:subject", so a colon would break them.
		if u.ID == "" || strings.ContainsAny(u.ID, ": \t\r\n") {
			return fmt.Errorf("devidp: invalid user id %q", u.ID)
		}
		if seen[u.ID] {
			return fmt.Errorf("devidp: duplicate user id %q", u.ID)
		}
		seen[u.ID] = true
	}
	return nil
}

// allLoopback reports whether every http URI of uris is on localhost or a
// loopback address (https URIs are always acceptable).
func allLoopback(uris []string) bool {
	for _, raw := range uris {
		if strings.HasPrefix(raw, "https://") {
			continue
		}
		if _, ok := op.HTTPLoopbackOrLocalhost(raw); !ok {
			return false
		}
	}
	return true
}
