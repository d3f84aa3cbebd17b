package sfu

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
		{"too large", `{"type":"offer","sdp":"` + strings.Repeat("a", MaxMessageSize) + `"}`, ErrMessageTooLarge},
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
		case typeJoin:
			require.NotEmpty(t, m.Token)
		case typeOffer, typeAnswer:
			require.NotEmpty(t, m.SDP)
			for _, l := range m.Labels {
				require.True(t, l.valid())
			}
		case typeCandidate:
			require.NotNil(t, m.Candidate)
		case typeMute:
			require.True(t, m.Label.valid())
			require.NotNil(t, m.Muted)
		case typeLayer:
			require.NotEmpty(t, m.TrackID)
		case typeRestartICE, typeLeave:
		default:
			t.Fatalf("accepted type %q", m.Type)
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
