package sfu

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// A relay message never names a relay: the decoder refuses the ids relays are given.
func TestRelayMessagesNeverNameARelay(t *testing.T) {
	_, err := signal.DecodeClient([]byte(`{"type":"relay","action":"leave","participant_id":"` + relayIDPrefix + `e1"}`))
	require.ErrorIs(t, err, ErrMalformedMessage)
}

func TestTokenBucket(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newTokenBucket(10, 3, now)
	for i := range 3 {
		require.True(t, b.allow(now), "burst message %d", i)
	}
	require.False(t, b.allow(now), "over the burst")
	require.True(t, b.allow(now.Add(100*time.Millisecond)), "one token back after 1/rate")
	require.False(t, b.allow(now.Add(100*time.Millisecond)))
	for i := range 3 {
		require.True(t, b.allow(now.Add(time.Hour)), "refilled to the burst only, message %d", i)
	}
	require.False(t, b.allow(now.Add(time.Hour)))
}

func TestBadMessagesGetErrorsAndTheSessionGoesOn(t *testing.T) {
	srv := newTestServer(t)
	c := join(t, srv, srv.token(t, "s1", "alice", RoleAttendee, KindMeeting))
	cases := []struct {
		msg  string
		code string
	}{
		{`{"type":`, signal.CodeMalformed},
		{`not json at all`, signal.CodeMalformed},
		{`{"type":"mute","label":"camera"}`, signal.CodeMalformed},
		{`{"type":"teleport"}`, signal.CodeUnknownType},
		{`{"type":"` + strings.Repeat("x", signal.MaxMessageSize) + `"}`, signal.CodeTooLarge},
		{`{"type":"join","token":"again"}`, signal.CodeAlreadyJoined},
		{`{"type":"answer","sdp":"v=0"}`, signal.CodeNegotiation},
		{`{"type":"offer","sdp":"this is not sdp"}`, signal.CodeNegotiation},
		{`{"type":"layer","track_id":"nobody~1","quality":"low"}`, signal.CodeUnknownTrack},
	}
	for i, tc := range cases {
		c.sendRaw([]byte(tc.msg))
		// Errors come back in order, one per bad message.
		c.waitUntil(func() bool {
			n := 0
			for _, m := range c.msgs {
				if m.Type == signal.TypeError {
					n++
				}
			}
			return n == i+1
		}, "error for "+tc.code)
		var last signal.ServerMessage
		c.mu.Lock()
		for _, m := range c.msgs {
			if m.Type == signal.TypeError {
				last = m
			}
		}
		c.mu.Unlock()
		require.Equal(t, tc.code, last.Code, "message %d", i)
		require.NotEmpty(t, last.Message)
		_, _, closed := c.conn.closed()
		require.False(t, closed, "connection closed after %s", tc.code)
	}
	// Still a working session: it negotiates and gets media.
	pub := join(t, srv, srv.token(t, "s1", "bob", RolePresenter, KindMeeting))
	pub.publish(false, 25)
	c.receiveOnly()
	c.waitMedia("bob", 2, 5)
}

func TestMessageFloodClosesTheConnection(t *testing.T) {
	clock := newFakeClock() // no refill while flooding
	srv := newTestServer(t, func(p *Params) { p.Clock = clock })
	c := join(t, srv, srv.token(t, "s2", "flood", RoleAttendee, KindMeeting))
	other := join(t, srv, srv.token(t, "s2", "calm", RoleAttendee, KindMeeting))
	mute := []byte(`{"type":"mute","label":"microphone","muted":true}`)
	for range 3 * signal.MessageBurst {
		c.sendRaw(mute)
	}
	c.waitError(signal.CodeRateLimited)
	code, reason, err := c.waitClosed()
	require.Equal(t, signal.CloseRateLimited, code)
	require.Equal(t, "too many messages", reason)
	require.ErrorIs(t, err, ErrRateLimited)

	// At most the burst went through to the others (the rest of the queue dies with the
	// session; what is told is coalesced, see UpdateWindow), then the flooder left, told
	// when the update window ends.
	clock.Advance(UpdateWindow)
	other.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeParticipantLeft && m.ParticipantID == "flood"
	})
	n := 0
	for _, m := range other.msgs {
		if m.Type == signal.TypeMute {
			n++
		}
	}
	require.LessOrEqual(t, n, signal.MessageBurst)
	// The calm one is unaffected.
	_, _, closed := other.conn.closed()
	require.False(t, closed)
}

func TestJoinRefusals(t *testing.T) {
	clock := newFakeClock()
	srv := newTestServer(t, func(p *Params) { p.Clock = clock })
	expired, err := srv.tokens.Sign(Claims{Room: "j", Participant: "late", Role: RoleAttendee, IssuedAt: clock.Now().Add(-2 * time.Hour), Expiry: clock.Now().Add(-time.Hour)})
	require.NoError(t, err)
	other, err := NewTokenSigner([]byte(strings.Repeat("o", 32)))
	require.NoError(t, err)
	forged, err := other.Sign(Claims{Room: "j", Participant: "eve", Role: RoleModerator, IssuedAt: clock.Now(), Expiry: clock.Now().Add(time.Hour)})
	require.NoError(t, err)

	tests := []struct {
		name    string
		first   string
		code    string
		close   int
		wantErr error
	}{
		{"expired token", `{"type":"join","token":"` + expired + `"}`, signal.CodeTokenExpired, signal.CloseUnauthorized, ErrTokenExpired},
		{"token of another key", `{"type":"join","token":"` + forged + `"}`, signal.CodeTokenInvalid, signal.CloseUnauthorized, ErrTokenInvalid},
		{"garbage token", `{"type":"join","token":"garbage"}`, signal.CodeTokenInvalid, signal.CloseUnauthorized, ErrTokenInvalid},
		{"offer first", `{"type":"offer","sdp":"v=0"}`, signal.CodeJoinRequired, signal.ClosePolicyViolation, ErrMalformedMessage},
		{"malformed first", `{{{`, signal.CodeJoinRequired, signal.ClosePolicyViolation, ErrMalformedMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connect(t, srv, "")
			c.sendRaw([]byte(tt.first))
			c.waitError(tt.code)
			code, _, err := c.waitClosed()
			require.Equal(t, tt.close, code)
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
	_, ok := srv.Room("j")
	require.False(t, ok, "no room opened by refused joins")
}

func TestJoinTimeout(t *testing.T) {
	srv := newTestServer(t, func(p *Params) { p.JoinTimeout = 50 * time.Millisecond })
	c := connect(t, srv, "")
	c.waitError(signal.CodeJoinTimeout)
	code, _, err := c.waitClosed()
	require.Equal(t, signal.ClosePolicyViolation, code)
	require.ErrorIs(t, err, ErrJoinTimeout)
}

func TestServeConnEndsWithContext(t *testing.T) {
	srv := newTestServer(t)
	serverEnd, clientEnd := newMemPipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(ctx, serverEnd) }() // owned by the test; ends with ctx
	tok := srv.token(t, "c1", "alice", RoleAttendee, KindMeeting)
	b, err := json.Marshal(map[string]string{"type": "join", "token": tok})
	require.NoError(t, err)
	require.NoError(t, clientEnd.WriteMessage(ctx, b))
	joined, err := clientEnd.ReadMessage(ctx)
	require.NoError(t, err)
	require.Contains(t, string(joined), `"type":"joined"`)
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(waitFor):
		t.Fatal("ServeConn did not end with its context")
	}
	code, _, closed := clientEnd.closed()
	require.True(t, closed)
	require.Equal(t, signal.CloseGoingAway, code)
}
