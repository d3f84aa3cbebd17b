package sfu

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"webinaire/sfu/signal"
)

// MaxTokenLifetime is the longest a join token may live, from its issue time to its expiry.
const MaxTokenLifetime = 24 * time.Hour

// minKeyLen is the shortest HMAC key NewTokenSigner accepts (256 bits).
const minKeyLen = 32

// maxNameLen bounds a display name, in bytes.
const maxNameLen = 128

// tokenMACContext separates the MAC of join tokens from any other use of the key. Its
// version changes with the meaning of the claims: a token of an earlier version is not valid.
const tokenMACContext = "webinaire-join-v2."

// Claims are what a join token grants: one participant, under a display name and a role,
// may join one room until the expiry.
type Claims struct {
	// Room is the room id: 1 to 128 characters among A-Z a-z 0-9 . _ -
	Room string
	// Participant is the participant id, unique in the room, same alphabet as Room.
	Participant string
	// Name is the display name shown to the others (at most 128 bytes, may be empty).
	Name string
	// Role is moderator, presenter or attendee.
	Role Role
	// Kind is the kind of room the first participant opens; meeting when empty.
	// A room keeps the kind it was opened with.
	Kind RoomKind
	// IssuedAt is when the token was made; Sign sets it to now when it is zero.
	IssuedAt time.Time
	// Expiry is when the token stops being accepted; it must be after IssuedAt and at
	// most MaxTokenLifetime later.
	Expiry time.Time
	// Lobby makes the participant wait in the room's lobby until a moderator admits it.
	Lobby bool
	// Invitation is the id of the invitation the token was minted from; empty for the
	// webinar's owner and its streaming encoder. The Gate checks it at every entry.
	Invitation string
	// Session marks a session credential: minted by the SFU for a participant who has
	// entered, to come back on a new connection, where an entry token is short-lived.
	Session bool
	// Node is the id of the node the room was placed on when the token was made, and
	// Epoch the epoch of that placement; the Gate refuses the token on any other node,
	// or once the room has moved. Empty and 0 outside a cluster.
	Node  string
	Epoch int64
	// Origin, for a viewer placed on an edge node, is the id of the room's node: the
	// room opens here as an edge of it (edge.go). Empty otherwise.
	Origin string
}

// tokenPayload is the JSON form of Claims inside a token: times in Unix seconds.
type tokenPayload struct {
	Room        string   `json:"room"`
	Participant string   `json:"sub"`
	Name        string   `json:"name,omitempty"`
	Role        Role     `json:"role"`
	Kind        RoomKind `json:"kind,omitempty"`
	Lobby       bool     `json:"lobby,omitempty"`
	Invitation  string   `json:"inv,omitempty"`
	Session     bool     `json:"ses,omitempty"`
	Node        string   `json:"node,omitempty"`
	Epoch       int64    `json:"epoch,omitempty"`
	Origin      string   `json:"orig,omitempty"`
	IssuedAt    int64    `json:"iat"`
	Expiry      int64    `json:"exp"`
}

// TokenSigner makes and checks join tokens with an HMAC-SHA256 key, and keeps the set of
// participants revoked per room in this process. One signer is shared by the part that
// hands out tokens and the SFU that checks them. It is safe for concurrent use.
//
// A token is base64url(JSON claims) "." base64url(HMAC-SHA256(key, context || payload)),
// without padding.
//
// The revocation set is a map looked up in O(1), bounded by the revocations whose end is
// still ahead: each ends with the longest-lived token it can refuse and is forgotten then,
// the oldest first (a heap by end time), a few at each call.
type TokenSigner struct {
	key []byte

	mu      sync.Mutex
	revoked expiring[revocationKey] // participants refused in a room, until when
	spent   expiring[string]        // one-use tokens used, by MAC, until they expire
}

type revocationKey struct{ room, participant string }

// NewTokenSigner returns a signer using key, which must be at least 32 bytes of secret
// random data. The key is copied.
func NewTokenSigner(key []byte) (*TokenSigner, error) {
	if len(key) < minKeyLen {
		return nil, fmt.Errorf("token key of %d bytes, want at least %d: %w", len(key), minKeyLen, ErrTokenKeyTooShort)
	}
	return &TokenSigner{key: bytes.Clone(key)}, nil
}

// Sign returns the token for c. IssuedAt defaults to now. It refuses claims that Verify
// would refuse for their form (ErrTokenInvalid) and a participant revoked in the room at
// IssuedAt (ErrTokenRevoked).
func (s *TokenSigner) Sign(c Claims) (string, error) {
	now := time.Now()
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	p := tokenPayload{
		Room:        c.Room,
		Participant: c.Participant,
		Name:        c.Name,
		Role:        c.Role,
		Kind:        c.Kind,
		Lobby:       c.Lobby,
		Invitation:  c.Invitation,
		Session:     c.Session,
		Node:        c.Node,
		Epoch:       c.Epoch,
		Origin:      c.Origin,
		IssuedAt:    c.IssuedAt.Unix(),
		Expiry:      c.Expiry.Unix(),
	}
	if err := p.validate(); err != nil {
		return "", err
	}
	// At the claims' time, which is the caller's clock: the wall clock could forget
	// revocations that the caller's time says are still on.
	if s.isRevoked(p.Room, p.Participant, c.IssuedAt) {
		return "", ErrTokenRevoked
	}
	body, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode token: %w", err)
	}
	payload := base64.RawURLEncoding.EncodeToString(body)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload)), nil
}

// Verify checks token at time now and returns its claims. The errors are ErrTokenInvalid
// (malformed, bad signature, bad claims), ErrTokenExpired and ErrTokenRevoked.
func (s *TokenSigner) Verify(token string, now time.Time) (Claims, error) {
	if len(token) > signal.MaxTokenSize {
		return Claims{}, fmt.Errorf("token too long: %w", ErrTokenInvalid)
	}
	payload, sig, ok := strings.Cut(token, ".")
	if !ok || payload == "" || sig == "" {
		return Claims{}, fmt.Errorf("token form: %w", ErrTokenInvalid)
	}
	gotMAC, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(gotMAC, s.mac(payload)) {
		return Claims{}, fmt.Errorf("token signature: %w", ErrTokenInvalid)
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return Claims{}, fmt.Errorf("token payload: %w", ErrTokenInvalid)
	}
	var p tokenPayload
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Claims{}, fmt.Errorf("token claims: %w", ErrTokenInvalid)
	}
	if err := p.validate(); err != nil {
		return Claims{}, err
	}
	if now.Unix() >= p.Expiry {
		return Claims{}, ErrTokenExpired
	}
	if s.isRevoked(p.Room, p.Participant, now) {
		return Claims{}, ErrTokenRevoked
	}
	return Claims{
		Room:        p.Room,
		Participant: p.Participant,
		Name:        p.Name,
		Role:        p.Role,
		Kind:        p.roomKind(),
		Lobby:       p.Lobby,
		Invitation:  p.Invitation,
		Session:     p.Session,
		Node:        p.Node,
		Epoch:       p.Epoch,
		Origin:      p.Origin,
		IssuedAt:    time.Unix(p.IssuedAt, 0),
		Expiry:      time.Unix(p.Expiry, 0),
	}, nil
}

// Revoke refuses every token of participant in room until the given time; Sign refuses
// to make one too. Revoking again keeps the later time. Entries are forgotten once past.
func (s *TokenSigner) Revoke(room, participant string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked.add(revocationKey{room, participant}, until)
	// A revocation ends at most MaxTokenLifetime after it is made: whatever ended before
	// until-MaxTokenLifetime is over by now.
	s.revoked.forget(until.Add(-MaxTokenLifetime))
}

// isRevoked tells whether participant is revoked in room at now, and forgets a few of
// the revocations that are over.
func (s *TokenSigner) isRevoked(room, participant string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked.forget(now)
	return s.revoked.has(revocationKey{room, participant}, now)
}

// Revocations is the number of revocations kept.
func (s *TokenSigner) Revocations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revoked.len()
}

// Spend records the use, at now, of a one-use token of a cluster's nodes (see SignFor),
// valid until expiry: ErrTokenUsed when it was used already. The record lasts until the
// token expires, when it would be refused anyway.
func (s *TokenSigner) Spend(token string, expiry, now time.Time) error {
	_, sig, _ := strings.Cut(token, ".")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spent.forget(now)
	if !s.spent.add(sig, expiry) {
		return ErrTokenUsed
	}
	return nil
}

func (s *TokenSigner) mac(payload string) []byte { return s.macIn(tokenMACContext, payload) }

// macIn is the MAC of payload for one use of the key, named by context.
func (s *TokenSigner) macIn(context, payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(context))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func (p *tokenPayload) roomKind() RoomKind {
	if p.Kind == "" {
		return KindMeeting
	}
	return p.Kind
}

func (p *tokenPayload) validate() error {
	switch {
	case !signal.ValidID(p.Room):
		return fmt.Errorf("token room id: %w", ErrTokenInvalid)
	case !signal.ValidID(p.Participant):
		return fmt.Errorf("token participant id: %w", ErrTokenInvalid)
	case len(p.Name) > maxNameLen || !signal.ValidName(p.Name):
		return fmt.Errorf("token name: %w", ErrTokenInvalid)
	case !p.Role.Valid():
		return fmt.Errorf("token role: %w", ErrTokenInvalid)
	case !p.roomKind().Valid():
		return fmt.Errorf("token room kind: %w", ErrTokenInvalid)
	case p.Invitation != "" && !signal.ValidID(p.Invitation):
		return fmt.Errorf("token invitation id: %w", ErrTokenInvalid)
	case p.Node != "" && !signal.ValidID(p.Node), p.Epoch < 0, p.Origin != "" && !signal.ValidID(p.Origin):
		return fmt.Errorf("token node: %w", ErrTokenInvalid)
	case p.Expiry <= p.IssuedAt:
		return fmt.Errorf("token expiry before issue: %w", ErrTokenInvalid)
	case p.Expiry-p.IssuedAt > int64(MaxTokenLifetime/time.Second):
		return fmt.Errorf("token lifetime over %s: %w", MaxTokenLifetime, ErrTokenInvalid)
	}
	return nil
}
