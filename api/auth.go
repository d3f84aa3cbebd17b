package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"webinaire/store"
)

const (
	callbackPath = "/auth/callback"
	// loginFlowTTL bounds the time between the redirect to the provider and the callback.
	loginFlowTTL = 10 * time.Minute
	// activityEvery is how often an organizer's last activity is written while in use.
	activityEvery = time.Hour
	// seenEvery is how often a session's last use is written.
	seenEvery = time.Minute
	// csrfHeader carries the session's CSRF token on state-changing requests.
	csrfHeader = "X-CSRF-Token"
)

// oidcClient discovers the provider at first use and keeps what it found; a provider that is
// down at start does not stop the server, only logins until it is back.
type oidcClient struct {
	params      OIDCParams
	redirectURL string

	mu         sync.Mutex
	provider   *oidc.Provider
	endSession string
}

func (o *oidcClient) get(ctx context.Context) (*oidc.Provider, string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, o.endSession, nil
	}
	// The key set fetched later keeps this context's HTTP client, not its deadline.
	ctx = oidc.ClientContext(context.WithoutCancel(ctx), o.params.HTTPClient)
	p, err := oidc.NewProvider(ctx, o.params.Issuer)
	if err != nil {
		return nil, "", fmt.Errorf("discover identity provider: %w", err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, "", fmt.Errorf("read identity provider metadata: %w", err)
	}
	o.provider, o.endSession = p, meta.EndSession
	return p, meta.EndSession, nil
}

func (o *oidcClient) oauth2Config(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     o.params.ClientID,
		ClientSecret: o.params.ClientSecret,
		Endpoint:     p.Endpoint(),
		RedirectURL:  o.redirectURL,
		Scopes:       o.params.Scopes,
	}
}

// cookieName gives the __Host- prefix when the server is reached over https.
func (s *Server) cookieName(base string) string {
	if s.secure {
		return "__Host-" + base
	}
	return base
}

func (s *Server) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     s.cookieName(name),
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   s.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) cookie(c *gin.Context, name string) string {
	v, err := c.Cookie(s.cookieName(name))
	if err != nil {
		return ""
	}
	return v
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// login starts the authorization code flow with PKCE, state and nonce. The state is also kept
// in a short-lived cookie, which binds the flow to this browser.
func (s *Server) login(c *gin.Context) {
	ctx := c.Request.Context()
	returnTo := c.Query("return_to")
	if len(returnTo) > maxReturnTo {
		writeProblem(c, problem(http.StatusBadRequest, "return_to_too_long", fmt.Sprintf("return_to is longer than %d bytes", maxReturnTo)))
		return
	}
	p, _, err := s.oidc.get(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "identity provider unavailable", "err", err)
		writeProblem(c, problem(http.StatusServiceUnavailable, "idp_unavailable", "the identity provider cannot be reached; try again shortly"))
		return
	}
	state, nonce, verifier := store.NewSecret(), store.NewSecret(), oauth2.GenerateVerifier()
	flow := store.LoginFlow{
		ID:        hashToken(state),
		Nonce:     nonce,
		Verifier:  verifier,
		ReturnTo:  localPath(returnTo),
		ClientKey: s.loginClientKey(c.Request),
		ExpiresAt: s.now().Add(loginFlowTTL),
	}
	s.expireLoginFlows(ctx)
	err = s.p.Store.CreateLoginFlow(ctx, flow, s.now(), store.LoginFlowLimits(s.p.LoginFlows))
	if errors.Is(err, store.ErrTooMany) {
		s.log.WarnContext(ctx, "login refused: too many pending logins", "err", err)
		c.Header("Retry-After", "60")
		writeProblem(c, problem(http.StatusTooManyRequests, "too_many_logins", "too many logins were started and not finished; try again in a few minutes"))
		return
	} else if err != nil {
		s.fail(c, err)
		return
	}
	s.setCookie(c, "webinaire_login", state, int(loginFlowTTL.Seconds()))
	authURL := s.oidc.oauth2Config(p).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	c.Redirect(http.StatusFound, authURL)
}

// localPath keeps only a path on this site, so that the login cannot send the browser
// elsewhere; anything else gives "". The path starts with one "/" and holds printable ASCII
// only: browsers drop tabs and line breaks before they read a URL ("/\t/evil" is "//evil"),
// read "\" as "/", and a URL of theirs has every other byte percent-encoded. Every "%"
// starts an escape, and it parses as a URL without scheme or host. It is at most
// maxReturnTo bytes long. frontend/static/localpath.js applies the same rule.
func localPath(p string) string {
	if len(p) > maxReturnTo || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return ""
	}
	for i := range len(p) {
		if c := p[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return ""
		}
	}
	if _, err := url.PathUnescape(p); err != nil {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	return p
}

func loginFailed(detail string) *Problem {
	return problem(http.StatusUnauthorized, "login_failed", detail)
}

// callback ends the flow: it checks the state against the cookie and the stored flow (once),
// exchanges the code with the PKCE verifier, verifies the ID token and its nonce, then
// creates or refreshes the account and starts a new session.
func (s *Server) callback(c *gin.Context) {
	ctx := c.Request.Context()
	state, cookieState := c.Query("state"), s.cookie(c, "webinaire_login")
	s.setCookie(c, "webinaire_login", "", -1)
	if state == "" || cookieState == "" || subtle.ConstantTimeCompare([]byte(state), []byte(cookieState)) != 1 {
		writeProblem(c, problem(http.StatusBadRequest, "invalid_state", "the login state is missing or does not match this browser; start the login again"))
		return
	}
	flow, err := s.p.Store.TakeLoginFlow(ctx, hashToken(state), s.now())
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(c, problem(http.StatusBadRequest, "invalid_state", "this login was already used or has expired; start the login again"))
		return
	} else if err != nil {
		s.fail(c, err)
		return
	}
	if e := c.Query("error"); e != "" {
		writeProblem(c, loginFailed("the identity provider refused the login"))
		return
	}
	p, _, err := s.oidc.get(ctx)
	if err != nil {
		writeProblem(c, problem(http.StatusServiceUnavailable, "idp_unavailable", "the identity provider cannot be reached; try again shortly"))
		return
	}
	octx := oidc.ClientContext(ctx, s.p.OIDC.HTTPClient)
	tok, err := s.oidc.oauth2Config(p).Exchange(octx, c.Query("code"), oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		s.log.WarnContext(ctx, "code exchange failed", "err", err)
		writeProblem(c, loginFailed("the identity provider did not accept the code"))
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		writeProblem(c, loginFailed("the identity provider returned no ID token"))
		return
	}
	idt, err := p.VerifierContext(octx, &oidc.Config{ClientID: s.p.OIDC.ClientID, Now: s.now}).Verify(octx, raw)
	if err != nil {
		s.log.WarnContext(ctx, "id token refused", "err", err)
		writeProblem(c, loginFailed("the ID token is not valid"))
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(flow.Nonce)) != 1 {
		writeProblem(c, loginFailed("the ID token does not belong to this login"))
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		writeProblem(c, loginFailed("the ID token claims cannot be read"))
		return
	}
	token, now := store.NewSecret(), s.now()
	given, family := personName(claims)
	err = s.p.Store.InTx(ctx, func(tx *store.Store) error {
		o, err := tx.UpsertOrganizer(ctx, store.Organizer{
			Issuer:     idt.Issuer,
			Subject:    idt.Subject,
			FamilyName: family,
			GivenName:  given,
			Email:      claimString(claims, "email"),
		}, now)
		if err != nil {
			return err
		}
		if old := s.cookie(c, "webinaire_session"); old != "" {
			// A new login never keeps an old session id.
			if err := tx.DeleteSession(ctx, hashToken(old)); err != nil {
				return err
			}
		}
		err = tx.CreateSession(ctx, store.Session{
			ID:          hashToken(token),
			OrganizerID: o.ID,
			CSRFToken:   store.NewSecret(),
			IsAdmin:     s.isAdmin(o.Email, claims),
			CreatedAt:   now,
			LastSeenAt:  now,
			ExpiresAt:   now.Add(s.p.SessionAbsolute),
		})
		if err != nil {
			return err
		}
		if err := tx.LogConnection(ctx, s.connectionEvent(c, store.ActorOrganizer, o.ID, "", "login", "")); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, s.auditEvent(o.ID, "organizer.login", "organizer", o.ID, nil))
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	s.setCookie(c, "webinaire_session", token, 0)
	dest := localPath(flow.ReturnTo)
	if dest == "" {
		dest = "/dashboard"
	}
	c.Redirect(http.StatusSeeOther, dest)
}

// emailVerified reads the email_verified claim: true, or the string "true" that some
// providers send; anything else, its absence included, is not verified.
func emailVerified(claims map[string]any) bool {
	switch v := claims["email_verified"].(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

func claimString(claims map[string]any, name string) string {
	v, _ := claims[name].(string)
	return v
}

// personName is the given and family names of the claims: given_name and family_name, or,
// from a provider that sends only name (Dex, Entra ID), that name split for display:
// "Family, Given" at the comma, else the first word is the given name and the rest the
// family name ("Jean-Pierre de la Fontaine": "Jean-Pierre", "de la Fontaine").
func personName(claims map[string]any) (given, family string) {
	given, family = claimString(claims, "given_name"), claimString(claims, "family_name")
	if given != "" || family != "" {
		return given, family
	}
	name := strings.Join(strings.Fields(claimString(claims, "name")), " ")
	if before, after, ok := strings.Cut(name, ","); ok {
		return strings.TrimSpace(after), strings.TrimSpace(before)
	}
	given, family, _ = strings.Cut(name, " ")
	return given, family
}

// isAdmin names administrators by a verified email or by a claim value. An email the
// provider does not say it verified (email_verified) names nobody: a provider may let its
// users set any address.
func (s *Server) isAdmin(email string, claims map[string]any) bool {
	if email != "" && emailVerified(claims) && slices.ContainsFunc(s.p.OIDC.AdminEmails, func(a string) bool { return strings.EqualFold(a, email) }) {
		return true
	}
	if s.p.OIDC.AdminClaim == "" || len(s.p.OIDC.AdminValues) == 0 {
		return false
	}
	var values []string
	switch v := claims[s.p.OIDC.AdminClaim].(type) {
	case string:
		values = []string{v}
	case []any:
		for _, item := range v {
			if str, ok := item.(string); ok {
				values = append(values, str)
			}
		}
	}
	return slices.ContainsFunc(values, func(v string) bool { return slices.Contains(s.p.OIDC.AdminValues, v) })
}

// logout ends the session here, then sends the browser to the provider's end-session
// endpoint when it has one. A JSON client gets the address to go to instead of a redirect.
func (s *Server) logout(c *gin.Context) {
	ctx := c.Request.Context()
	if sess, ok := sessionOf(c); ok {
		err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
			if err := tx.DeleteSession(ctx, sess.ID); err != nil {
				return err
			}
			if err := tx.LogConnection(ctx, s.connectionEvent(c, store.ActorOrganizer, sess.OrganizerID, "", "logout", "")); err != nil {
				return err
			}
			return tx.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, "organizer.logout", "organizer", sess.OrganizerID, nil))
		})
		if err != nil {
			s.fail(c, err)
			return
		}
	}
	s.setCookie(c, "webinaire_session", "", -1)
	dest := "/"
	if _, endSession, err := s.oidc.get(ctx); err == nil && endSession != "" {
		q := url.Values{"client_id": {s.p.OIDC.ClientID}, "post_logout_redirect_uri": {s.p.BaseURL + "/"}}
		dest = endSession + "?" + q.Encode()
	}
	if strings.Contains(c.GetHeader("Accept"), "application/json") {
		c.JSON(http.StatusOK, gin.H{"redirect": dest})
		return
	}
	c.Redirect(http.StatusSeeOther, dest)
}

const sessionKey = "webinaire.session"

func sessionOf(c *gin.Context) (store.Session, bool) {
	v, ok := c.Get(sessionKey)
	if !ok {
		return store.Session{}, false
	}
	return v.(store.Session), true
}

// loadSession finds the session of the cookie, ends it when idle or past its absolute expiry,
// and keeps the last use and the organizer's last activity up to date.
func (s *Server) loadSession(c *gin.Context) {
	token := s.cookie(c, "webinaire_session")
	if token == "" {
		c.Next()
		return
	}
	ctx := c.Request.Context()
	sess, err := s.p.Store.Session(ctx, hashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		s.setCookie(c, "webinaire_session", "", -1)
		c.Next()
		return
	} else if err != nil {
		s.fail(c, err)
		return
	}
	now := s.now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.p.SessionIdle {
		if err := s.p.Store.DeleteSession(ctx, sess.ID); err != nil {
			s.fail(c, err)
			return
		}
		s.setCookie(c, "webinaire_session", "", -1)
		c.Next()
		return
	}
	if now.Sub(sess.LastSeenAt) >= seenEvery {
		if err := s.p.Store.TouchSession(ctx, sess.ID, now); err != nil {
			s.fail(c, err)
			return
		}
	}
	if now.Sub(sess.Organizer.LastActivityAt) >= activityEvery {
		if err := s.p.Store.TouchOrganizer(ctx, sess.OrganizerID, now, activityEvery); err != nil {
			s.fail(c, err)
			return
		}
	}
	c.Set(sessionKey, sess)
	c.Next()
}

func (s *Server) needOrganizer(c *gin.Context) {
	if _, ok := sessionOf(c); !ok {
		writeProblem(c, errUnauthenticated)
		return
	}
	c.Next()
}

func (s *Server) needAdmin(c *gin.Context) {
	if sess, _ := sessionOf(c); !sess.IsAdmin {
		writeProblem(c, errForbidden)
		return
	}
	c.Next()
}

// needCSRF requires the session's token on every state-changing request, in the X-CSRF-Token
// header or, for plain forms, a csrf_token field.
func (s *Server) needCSRF(c *gin.Context) {
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	sess, ok := sessionOf(c)
	if !ok {
		// Logging out without a session changes nothing; everything else needs one.
		if c.FullPath() == "/auth/logout" {
			c.Next()
			return
		}
		writeProblem(c, errUnauthenticated)
		return
	}
	got := c.GetHeader(csrfHeader)
	if got == "" && strings.HasPrefix(c.GetHeader("Content-Type"), "application/x-www-form-urlencoded") {
		got = c.PostForm("csrf_token")
	}
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) != 1 {
		writeProblem(c, errCSRF)
		return
	}
	c.Next()
}

// auditEvent describes what an organizer did, for the audit trail: ids and settings, never content.
func (s *Server) auditEvent(actorID, action, objectType, objectID string, detail any) store.AuditEvent {
	e := store.AuditEvent{At: s.now(), Action: action, ObjectType: objectType, ObjectID: objectID}
	if detail != nil {
		b, _ := json.Marshal(detail)
		e.Detail = string(b)
	}
	if actorID != "" {
		e.ActorID = &actorID
	}
	return e
}
