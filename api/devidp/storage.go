package devidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	authRequestLifetime = 10 * time.Minute
	accessTokenLifetime = time.Hour
	idTokenLifetime     = time.Hour
	groupsClaim         = "groups"
)

var (
	errAuthRequestNotFound = errors.New("auth request not found or expired")
	errAuthRequestDone     = errors.New("auth request already completed")
	errUnknownUser         = errors.New("unknown user")
	errUnknownClient       = errors.New("unknown client")
	errInvalidCode         = errors.New("code invalid, expired or already used")
	errNotSupported        = errors.New("not supported by the development identity provider")
)

// randomID returns n random bytes encoded as unpadded base64url.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return base64.RawURLEncoding.EncodeToString(b)
}

// storage is the in-memory op.Storage of the provider. Every mutable field is
// guarded by mu; client, users, key and logger never change after newStorage.
type storage struct {
	client    *client
	users     []User
	usersByID map[string]User
	key       *signingKey
	logger    *slog.Logger

	mu           sync.Mutex
	now          func() time.Time
	authRequests map[string]*authRequest // by auth request id
	codes        map[string]string       // code -> auth request id
	tokens       map[string]*accessToken // by token id
}

var (
	_ op.Storage                   = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest = (*storage)(nil)
)

func newStorage(c *client, users []User, key *signingKey, logger *slog.Logger) *storage {
	s := &storage{
		client:       c,
		usersByID:    make(map[string]User, len(users)),
		key:          key,
		logger:       logger,
		now:          time.Now,
		authRequests: make(map[string]*authRequest),
		codes:        make(map[string]string),
		tokens:       make(map[string]*accessToken),
	}
	for _, u := range users {
		u.Groups = slices.Clone(u.Groups)
		s.users = append(s.users, u)
		s.usersByID[u.ID] = u
	}
	return s
}

// authRequest is a stored authorization request. The storage hands out copies
// only, so that the op package never reads a value that is being modified.
type authRequest struct {
	id            string
	clientID      string
	redirectURI   string
	state         string
	nonce         string
	scopes        []string
	responseType  oidc.ResponseType
	responseMode  oidc.ResponseMode
	codeChallenge *oidc.CodeChallenge
	createdAt     time.Time

	subject  string
	authTime time.Time
	done     bool
	code     string
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return nil }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.codeChallenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

// snapshot returns a copy of a that later changes to a do not affect.
func (a *authRequest) snapshot() *authRequest {
	c := *a
	if a.codeChallenge != nil {
		cc := *a.codeChallenge
		c.codeChallenge = &cc
	}
	return &c
}

// accessToken is an issued opaque access token.
type accessToken struct {
	subject   string
	clientID  string
	scopes    []string
	expiresAt time.Time
}

// expired reports whether the auth request is older than its lifetime. Callers hold mu.
func (s *storage) expired(a *authRequest) bool {
	return s.now().Sub(a.createdAt) >= authRequestLifetime
}

// purgeLocked drops expired auth requests, codes and tokens. Callers hold mu.
func (s *storage) purgeLocked() {
	now := s.now()
	for id, a := range s.authRequests {
		if s.expired(a) {
			delete(s.authRequests, id)
			if a.code != "" {
				delete(s.codes, a.code)
			}
		}
	}
	for id, t := range s.tokens {
		if !now.Before(t.expiresAt) {
			delete(s.tokens, id)
		}
	}
}

// liveAuthRequestLocked returns the stored, unexpired auth request. Callers hold mu.
func (s *storage) liveAuthRequestLocked(id string) (*authRequest, bool) {
	a, ok := s.authRequests[id]
	if !ok || s.expired(a) {
		return nil, false
	}
	return a, true
}

// pendingAuthRequest returns a copy of the auth request id if it exists, has
// not expired and no user has been chosen for it yet.
func (s *storage) pendingAuthRequest(id string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.liveAuthRequestLocked(id)
	if !ok {
		return nil, errAuthRequestNotFound
	}
	if a.done {
		return nil, errAuthRequestDone
	}
	return a.snapshot(), nil
}

// completeLogin marks the pending auth request id as authenticated by userID.
// It returns the client id of the request.
func (s *storage) completeLogin(id, userID string) (string, error) {
	user, ok := s.usersByID[userID]
	if !ok {
		return "", errUnknownUser
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.liveAuthRequestLocked(id)
	if !ok {
		return "", errAuthRequestNotFound
	}
	if a.done {
		return "", errAuthRequestDone
	}
	a.subject = user.ID
	a.authTime = s.now()
	a.done = true
	return a.clientID, nil
}

// CreateAuthRequest stores a validated authorization request under a new random id.
func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		// There is no session: the user always has to pick an account.
		return nil, oidc.ErrLoginRequired()
	}
	var challenge *oidc.CodeChallenge
	if req.CodeChallenge != "" {
		if req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
			return nil, oidc.ErrInvalidRequest().WithDescription("only code_challenge_method S256 is supported")
		}
		challenge = &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeLocked()
	a := &authRequest{
		id:            randomID(32),
		clientID:      req.ClientID,
		redirectURI:   req.RedirectURI,
		state:         req.State,
		nonce:         req.Nonce,
		scopes:        slices.Clone([]string(req.Scopes)),
		responseType:  req.ResponseType,
		responseMode:  req.ResponseMode,
		codeChallenge: challenge,
		createdAt:     s.now(),
	}
	s.authRequests[a.id] = a
	s.logger.InfoContext(ctx, "devidp: auth request created",
		slog.String("client_id", a.clientID),
		slog.String("redirect_uri", a.redirectURI),
		slog.Bool("pkce", challenge != nil))
	return a.snapshot(), nil
}

// AuthRequestByID returns the unexpired auth request id.
func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.liveAuthRequestLocked(id)
	if !ok {
		return nil, errAuthRequestNotFound
	}
	return a.snapshot(), nil
}

// AuthRequestByCode consumes code: the code and its auth request are removed
// before the request is returned, so a code can be presented only once, even
// when the exchange then fails (wrong verifier, wrong client).
func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, errInvalidCode
	}
	delete(s.codes, code)
	a, ok := s.liveAuthRequestLocked(id)
	delete(s.authRequests, id)
	if !ok || !a.done {
		return nil, errInvalidCode
	}
	return a.snapshot(), nil
}

// SaveAuthCode records the code issued for the completed auth request id. Only
// one code is ever issued per auth request.
func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.liveAuthRequestLocked(id)
	if !ok {
		return errAuthRequestNotFound
	}
	if !a.done || a.code != "" {
		return oidc.ErrInvalidRequest().WithDescription("no code can be issued for this auth request")
	}
	a.code = code
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest removes the auth request id and its code, if still present.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.authRequests[id]; ok {
		if a.code != "" {
			delete(s.codes, a.code)
		}
		delete(s.authRequests, id)
	}
	return nil
}

// CreateAccessToken records a new opaque access token for the request.
func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	var clientID string
	if a, ok := req.(op.AuthRequest); ok {
		clientID = a.GetClientID()
	} else if aud := req.GetAudience(); len(aud) > 0 {
		clientID = aud[0]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeLocked()
	id := randomID(24)
	exp := s.now().Add(accessTokenLifetime)
	s.tokens[id] = &accessToken{
		subject:   req.GetSubject(),
		clientID:  clientID,
		scopes:    slices.Clone(req.GetScopes()),
		expiresAt: exp,
	}
	return id, exp, nil
}

// CreateAccessAndRefreshTokens is not supported: the client has no refresh_token grant.
func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType().WithDescription("refresh tokens are not supported")
}

// TokenRequestByRefreshToken is not supported: no refresh token is ever issued.
func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

// TerminateSession revokes the access tokens of userID for clientID.
func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	revoked := 0
	for id, t := range s.tokens {
		if t.subject == userID && t.clientID == clientID {
			delete(s.tokens, id)
			revoked++
		}
	}
	s.logger.InfoContext(ctx, "devidp: session ended",
		slog.String("user_id", userID),
		slog.String("client_id", clientID),
		slog.Int("revoked_tokens", revoked))
	return nil
}

// RevokeToken revokes the access token tokenOrTokenID if it belongs to clientID.
func (s *storage) RevokeToken(_ context.Context, tokenOrTokenID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tokenOrTokenID]
	if !ok {
		return nil // RFC 7009: unknown tokens are not an error
	}
	if t.clientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
	}
	delete(s.tokens, tokenOrTokenID)
	return nil
}

// GetRefreshTokenInfo always fails: no refresh token is ever issued.
func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

// SigningKey returns the RS256 key generated at startup.
func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return s.key, nil
}

// SignatureAlgorithms returns RS256, the only supported algorithm.
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet returns the public half of the signing key.
func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.key}}, nil
}

// GetClientByClientID returns the single configured client.
func (s *storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	if clientID != s.client.id {
		return nil, errUnknownClient
	}
	return s.client, nil
}

// AuthorizeClientIDSecret checks the client credentials in constant time.
func (s *storage) AuthorizeClientIDSecret(_ context.Context, clientID, clientSecret string) error {
	idOK := subtle.ConstantTimeCompare([]byte(clientID), []byte(s.client.id))
	secretOK := subtle.ConstantTimeCompare([]byte(clientSecret), []byte(s.client.secret))
	if idOK&secretOK != 1 {
		return errors.New("invalid client credentials")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in op; the claims are set by SetUserinfoFromRequest.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest sets the claims of the ID token.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	return s.setUserinfo(info, req.GetSubject(), scopes)
}

// SetUserinfoFromToken sets the claims returned by the userinfo endpoint.
func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	t, ok := s.liveToken(tokenID)
	if !ok || t.subject != subject {
		return errors.New("access token invalid or expired")
	}
	return s.setUserinfo(info, subject, t.scopes)
}

// SetIntrospectionFromToken fills the introspection response of an active token.
func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, ok := s.liveToken(tokenID)
	if !ok || t.subject != subject || t.clientID != clientID {
		return errors.New("access token invalid or expired")
	}
	info := new(oidc.UserInfo)
	if err := s.setUserinfo(info, subject, t.scopes); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Active = true
	resp.Scope = t.scopes
	resp.ClientID = t.clientID
	resp.Expiration = oidc.FromTime(t.expiresAt)
	return nil
}

// GetPrivateClaimsFromScopes returns no claims: access tokens are opaque.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID is not supported: no JWT profile client authentication.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotSupported
}

// ValidateJWTProfileScopes is not supported: no JWT profile grant.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNotSupported
}

// Health always succeeds.
func (s *storage) Health(context.Context) error { return nil }

// liveToken returns a copy of the unexpired access token id.
func (s *storage) liveToken(id string) (accessToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok || !s.now().Before(t.expiresAt) {
		return accessToken{}, false
	}
	return *t, true
}

// setUserinfo sets the claims of subject allowed by scopes; groups are always set.
func (s *storage) setUserinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	user, ok := s.usersByID[subject]
	if !ok {
		return errUnknownUser
	}
	info.Subject = user.ID
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeProfile:
			info.GivenName = user.GivenName
			info.FamilyName = user.FamilyName
			info.Name = user.displayName()
		case oidc.ScopeEmail:
			info.Email = user.Email
			info.EmailVerified = true
		}
	}
	groups := slices.Clone(user.Groups)
	if groups == nil {
		groups = []string{}
	}
	info.AppendClaims(groupsClaim, groups)
	return nil
}

// displayName is the "name" claim of u.
func (u User) displayName() string {
	switch {
	case u.GivenName == "":
		return u.FamilyName
	case u.FamilyName == "":
		return u.GivenName
	}
	return u.GivenName + " " + u.FamilyName
}

// client is the single confidential client of the provider.
type client struct {
	id                     string
	secret                 string
	redirectURIs           []string
	postLogoutRedirectURIs []string
	loginPath              string
	devMode                bool
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                       { return c.id }
func (c *client) RedirectURIs() []string              { return slices.Clone(c.redirectURIs) }
func (c *client) PostLogoutRedirectURIs() []string    { return slices.Clone(c.postLogoutRedirectURIs) }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType        { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return idTokenLifetime }
func (c *client) DevMode() bool                       { return c.devMode }
func (c *client) IsScopeAllowed(string) bool          { return false }
func (c *client) ClockSkew() time.Duration            { return 0 }

// IDTokenUserinfoClaimsAssertion puts the profile and email claims in the ID
// token even though an access token is issued too.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }

// LoginURL is the login page of this package for the auth request id.
func (c *client) LoginURL(id string) string {
	return c.loginPath + "?" + authRequestParam + "=" + id
}

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

// signingKey is the RSA key that signs ID tokens.
type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is the public half of a signingKey, published on the keys endpoint.
type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.key.PublicKey }
