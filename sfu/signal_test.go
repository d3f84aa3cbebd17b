package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

func TestDecodeMessage(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error // nil: accepted
	}{
		{"join", `{"type":"join","token":"a.b"}`, nil},
		{"offer with labels", `{"type":"offer","sdp":"v=0","labels":{"t1":"screen"}}`, nil},
		{"answer", `{"type":"answer","sdp":"v=0"}`, nil},
		{"candidate", `{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0"}}`, nil},
		{"end of candidates", `{"type":"candidate","candidate":{"candidate":""}}`, nil},
		{"mute", `{"type":"mute","label":"microphone","muted":true}`, nil},
		{"layer", `{"type":"layer","track_id":"a~1","quality":"low","width":320,"height":180}`, nil},
		{"restart", `{"type":"restart_ice"}`, nil},
		{"leave with unknown field", `{"type":"leave","why":"bye"}`, nil},

		{"not json", `{"type":`, ErrMalformedMessage},
		{"not an object", `[1,2]`, ErrMalformedMessage},
		{"trailing data", `{"type":"leave"} {}`, ErrMalformedMessage},
		{"no type", `{"token":"x"}`, ErrMalformedMessage},
		{"type not a string", `{"type":7}`, ErrMalformedMessage},
		{"join without token", `{"type":"join"}`, ErrMalformedMessage},
		{"offer without sdp", `{"type":"offer"}`, ErrMalformedMessage},
		{"answer with labels", `{"type":"answer","sdp":"v=0","labels":{"a":"camera"}}`, ErrMalformedMessage},
		{"bad label", `{"type":"offer","sdp":"v=0","labels":{"t1":"webcam"}}`, ErrMalformedMessage},
		{"candidate missing", `{"type":"candidate"}`, ErrMalformedMessage},
		{"mute without state", `{"type":"mute","label":"camera"}`, ErrMalformedMessage},
		{"mute bad label", `{"type":"mute","label":"x","muted":false}`, ErrMalformedMessage},
		{"layer bad quality", `{"type":"layer","track_id":"a","quality":"ultra"}`, ErrMalformedMessage},
		{"layer negative size", `{"type":"layer","track_id":"a","quality":"low","width":-1}`, ErrMalformedMessage},
		{"unknown type", `{"type":"dance"}`, ErrUnknownMessageType},
		{"server type", `{"type":"joined"}`, ErrUnknownMessageType},
		{"too large", `{"type":"offer","sdp":"` + strings.Repeat("a", signal.MaxMessageSize) + `"}`, ErrMessageTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := decodeMessage([]byte(tt.in))
			if tt.want == nil {
				require.NoError(t, err)
				require.NotEmpty(t, m.Type)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","token":"a.b"}`,
		`{"type":"offer","sdp":"v=0","labels":{"t1":"screen"}}`,
		`{"type":"candidate","candidate":{"candidate":"","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"mute","label":"camera","muted":false}`,
		`{"type":"layer","track_id":"x","quality":"off"}`,
		`{"type":"leave"}`, `{}`, `[]`, `null`, `"x"`, `{"type":"\u0000"}`,
		`{"type":"relay","action":"enter","participant_id":"v1","name":"V","invitation":"i1"}`,
		`{"type":"relay","action":"speak","participant_id":"v1","message":{"type":"chat","text":"hi"}}`,
		`{"type":"slide_pointer","slides_id":"s1","x":0.5,"y":1}`,
		`{"type":"slide_pointer","slides_id":"s1","hidden":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMessage(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedMessage) && !errors.Is(err, ErrUnknownMessageType) && !errors.Is(err, ErrMessageTooLarge) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		// What is accepted is complete enough for the session to use without checks.
		switch m.Type {
		case signal.TypeJoin:
			require.NotEmpty(t, m.Token)
		case signal.TypeOffer, signal.TypeAnswer:
			require.NotEmpty(t, m.SDP)
			for _, l := range m.Labels {
				require.True(t, l.Valid())
			}
		case signal.TypeCandidate:
			require.NotNil(t, m.Candidate)
		case signal.TypeMute:
			require.True(t, m.Label.Valid())
			require.NotNil(t, m.Muted)
		case signal.TypeLayer:
			require.NotEmpty(t, m.TrackID)
		case signal.TypeRelay:
			require.True(t, validID(m.ParticipantID) && !isRelayID(m.ParticipantID))
			require.Contains(t, []string{relayEnter, relayLeave, relaySpeak}, m.Action)
			if m.Action == relaySpeak {
				require.NotEmpty(t, m.Message)
			}
		case signal.TypeSlidePointer:
			require.NotEmpty(t, m.SlidesID)
			if !m.Hidden {
				require.True(t, m.X >= 0 && m.X <= 1 && m.Y >= 0 && m.Y <= 1)
			}
		case signal.TypeRestartICE, signal.TypeLeave:
		default:
			// Every other type a client may send has its rate class; none else is accepted.
			_, known := messageClasses[m.Type]
			require.True(t, known, "accepted type %q", m.Type)
		}
	})
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
		var last serverMsg
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
	other.waitMsg(func(m serverMsg) bool { return m.Type == signal.TypeParticipantLeft && m.ParticipantID == "flood" })
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
