package sfu

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

func TestTokenRoundTrip(t *testing.T) {
	s := newTestSigner(t)
	now := time.Unix(1_800_000_000, 0)
	c := Claims{Room: "room-1", Participant: "p_1.x", Name: "Zoé Martin", Role: RolePresenter, Kind: KindWebinar, IssuedAt: now, Expiry: now.Add(10 * time.Minute)}
	tok, err := s.Sign(c)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(tok, "."))

	got, err := s.Verify(tok, now.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, c.Room, got.Room)
	require.Equal(t, c.Participant, got.Participant)
	require.Equal(t, c.Name, got.Name)
	require.Equal(t, c.Role, got.Role)
	require.Equal(t, c.Kind, got.Kind)
	require.True(t, c.IssuedAt.Equal(got.IssuedAt))
	require.True(t, c.Expiry.Equal(got.Expiry))

	_, err = s.Verify(tok, now.Add(10*time.Minute))
	require.ErrorIs(t, err, ErrTokenExpired, "expired at its expiry")

	c.Kind = ""
	tok, err = s.Sign(c)
	require.NoError(t, err)
	got, err = s.Verify(tok, now)
	require.NoError(t, err)
	require.Equal(t, KindMeeting, got.Kind, "a token without kind opens a meeting")
}

func TestTokenTampering(t *testing.T) {
	s := newTestSigner(t)
	now := time.Now()
	tok, err := s.Sign(Claims{Room: "r", Participant: "p", Role: RoleAttendee, IssuedAt: now, Expiry: now.Add(time.Minute)})
	require.NoError(t, err)
	payload, mac, _ := strings.Cut(tok, ".")
	body, err := base64.RawURLEncoding.DecodeString(payload)
	require.NoError(t, err)
	promoted := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(body), "attendee", "moderator", 1)))

	other, err := NewTokenSigner([]byte(strings.Repeat("x", 32)))
	require.NoError(t, err)
	foreign, err := other.Sign(Claims{Room: "r", Participant: "p", Role: RoleAttendee, IssuedAt: now, Expiry: now.Add(time.Minute)})
	require.NoError(t, err)

	for name, bad := range map[string]string{
		"empty":          "",
		"no dot":         payload,
		"empty mac":      payload + ".",
		"changed claims": promoted + "." + mac,
		"mac not base64": payload + ".!!!",
		"other key":      foreign,
		"two dots":       tok + ".x",
		"too long":       strings.Repeat("a", signal.MaxTokenSize+1),
	} {
		_, err := s.Verify(bad, now)
		require.ErrorIs(t, err, ErrTokenInvalid, name)
	}
}

func TestTokenClaimsChecked(t *testing.T) {
	s := newTestSigner(t)
	now := time.Now().Truncate(time.Second)
	ok := Claims{Room: "r", Participant: "p", Role: RoleAttendee, IssuedAt: now, Expiry: now.Add(time.Hour)}
	tests := []struct {
		name   string
		change func(*Claims)
	}{
		{"empty room", func(c *Claims) { c.Room = "" }},
		{"room with a space", func(c *Claims) { c.Room = "a b" }},
		{"participant with a tilde", func(c *Claims) { c.Participant = "a~1" }},
		{"participant too long", func(c *Claims) { c.Participant = strings.Repeat("p", 129) }},
		{"unknown role", func(c *Claims) { c.Role = "admin" }},
		{"unknown kind", func(c *Claims) { c.Kind = "party" }},
		{"name with a newline", func(c *Claims) { c.Name = "a\nb" }},
		{"name too long", func(c *Claims) { c.Name = strings.Repeat("n", maxNameLen+1) }},
		{"expiry before issue", func(c *Claims) { c.Expiry = c.IssuedAt.Add(-time.Second) }},
		{"lifetime too long", func(c *Claims) { c.Expiry = c.IssuedAt.Add(MaxTokenLifetime + time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			_, err := s.Sign(c)
			require.ErrorIs(t, err, ErrTokenInvalid)
		})
	}
	_, err := s.Sign(ok)
	require.NoError(t, err)
}

func TestTokenRevocation(t *testing.T) {
	s := newTestSigner(t)
	now := time.Now()
	tok, err := s.Sign(Claims{Room: "r", Participant: "p", Role: RoleAttendee, IssuedAt: now, Expiry: now.Add(time.Hour)})
	require.NoError(t, err)
	inOtherRoom, err := s.Sign(Claims{Room: "r2", Participant: "p", Role: RoleAttendee, IssuedAt: now, Expiry: now.Add(time.Hour)})
	require.NoError(t, err)

	s.Revoke("r", "p", now.Add(30*time.Minute))
	s.Revoke("r", "p", now.Add(time.Minute)) // an earlier end does not shorten it
	_, err = s.Verify(tok, now)
	require.ErrorIs(t, err, ErrTokenRevoked)
	_, err = s.Verify(tok, now.Add(29*time.Minute))
	require.ErrorIs(t, err, ErrTokenRevoked)
	_, err = s.Verify(inOtherRoom, now)
	require.NoError(t, err, "revocation is per room")

	_, err = s.Verify(tok, now.Add(31*time.Minute))
	require.NoError(t, err, "the revocation is over")
	s.mu.Lock()
	require.Zero(t, s.revoked.len(), "and forgotten")
	s.mu.Unlock()
}

// The revocation set keeps only what is still ahead, forgotten a batch at a time, and a
// later revocation of the same participant outlives the earlier end it replaced.
func TestRevocationsAreBoundedByTheirEnd(t *testing.T) {
	s := newTestSigner(t)
	now := time.Unix(1_800_000_000, 0)
	const n = 1000
	for i := range n {
		s.Revoke("r", fmt.Sprintf("p%d", i), now.Add(time.Duration(i)*time.Second))
	}
	s.Revoke("r", "p0", now.Add(time.Hour)) // pushed back: its first end is stale
	require.Equal(t, n, s.Revocations())
	late := now.Add(time.Duration(n) * time.Second)
	for s.Revocations() > 1 {
		before := s.Revocations()
		require.False(t, s.isRevoked("r", "p999", late))
		require.Less(t, s.Revocations(), before, "each call forgets some")
		require.GreaterOrEqual(t, s.Revocations(), before-forgetBatch, "a batch at most")
	}
	require.True(t, s.isRevoked("r", "p0", late), "the later end holds")
	require.False(t, s.isRevoked("r", "p0", now.Add(time.Hour)))
	require.Zero(t, s.Revocations())
}

// BenchmarkVerifyWithRevocations verifies a token with a million revocations kept: the
// lookup is one map access, whatever the size of the set.
func BenchmarkVerifyWithRevocations(b *testing.B) {
	for _, size := range []int{0, 1_000_000} {
		b.Run(fmt.Sprintf("revocations=%d", size), func(b *testing.B) {
			s := newTestSigner(b)
			now := time.Now()
			for i := range size {
				s.Revoke("room", fmt.Sprintf("p%d", i), now.Add(time.Hour))
			}
			tok, err := s.Sign(Claims{Room: "room", Participant: "me", Role: RoleAttendee, IssuedAt: now, Expiry: now.Add(time.Hour)})
			require.NoError(b, err)
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Verify(tok, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestTokenKeyLength(t *testing.T) {
	_, err := NewTokenSigner(make([]byte, 31))
	require.ErrorIs(t, err, ErrTokenKeyTooShort)
	key := []byte(strings.Repeat("k", 32))
	s, err := NewTokenSigner(key)
	require.NoError(t, err)
	key[0] = 'x' // the signer keeps its own copy
	now := time.Now()
	tok, err := s.Sign(Claims{Room: "r", Participant: "p", Role: RoleAttendee, IssuedAt: now, Expiry: now.Add(time.Minute)})
	require.NoError(t, err)
	_, err = newTestSigner(t).Verify(tok, now)
	require.NoError(t, err)
}

// Sign looks at the revocations at the claims' time, that of the caller's clock: the wall
// clock, ahead of it, must not make it forget a revocation still on.
func TestSignChecksRevocationsAtTheClaimsTime(t *testing.T) {
	s := newTestSigner(t)
	then := time.Now().Add(-48 * time.Hour) // a test clock, behind the wall clock
	s.Revoke("r", "p", then.Add(time.Hour))
	_, err := s.Sign(Claims{Room: "r", Participant: "p", Role: RoleAttendee, IssuedAt: then, Expiry: then.Add(time.Minute)})
	require.ErrorIs(t, err, ErrTokenRevoked)
	require.Equal(t, 1, s.Revocations(), "the revocation is kept")
}

// TestSpend refuses a one-use token presented twice while it is valid, and forgets it
// once it has expired, when it would be refused anyway.
func TestSpend(t *testing.T) {
	s := newTestSigner(t)
	now := time.Unix(1_800_000_000, 0)
	require.NoError(t, s.Spend("payload.mac-1", now.Add(time.Minute), now))
	require.ErrorIs(t, s.Spend("payload.mac-1", now.Add(time.Minute), now.Add(59*time.Second)), ErrTokenUsed)
	require.ErrorIs(t, s.Spend("other-payload.mac-1", now.Add(time.Minute), now), ErrTokenUsed, "the MAC names the token")
	require.NoError(t, s.Spend("payload.mac-2", now.Add(time.Minute), now))
	for i := range 100 {
		require.NoError(t, s.Spend(fmt.Sprintf("p.m%d", i), now.Add(time.Minute), now))
	}
	s.mu.Lock()
	require.Equal(t, 102, s.spent.len())
	s.mu.Unlock()
	later := now.Add(2 * time.Minute)
	for i := range 3 { // a batch forgotten at each call
		require.NoError(t, s.Spend(fmt.Sprintf("late.n%d", i), later.Add(time.Minute), later))
		later = later.Add(time.Second)
	}
	s.mu.Lock()
	require.Equal(t, 3, s.spent.len(), "the expired ones are forgotten")
	s.mu.Unlock()
}
