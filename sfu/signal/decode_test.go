package signal

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeClient(t *testing.T) {
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
		{"relay enter", `{"type":"relay","action":"enter","participant_id":"v1","name":"V"}`, nil},
		{"chat to the moderators", `{"type":"chat","text":"hi","to":"moderators"}`, nil},
		{"caption", `{"type":"caption","text":"bonjour","lang":"fr"}`, nil},
		{"reaction", `{"type":"reaction","emoji":"👍"}`, nil},

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
		{"relay for a relay", `{"type":"relay","action":"leave","participant_id":"relay~e1"}`, ErrMalformedMessage},
		{"relay without action", `{"type":"relay","participant_id":"v1"}`, ErrMalformedMessage},
		{"chat of spaces", `{"type":"chat","text":"  "}`, ErrMalformedMessage},
		{"chat with a control character", `{"type":"chat","text":"a\u0007"}`, ErrMalformedMessage},
		{"chat to someone", `{"type":"chat","text":"hi","to":"bob"}`, ErrMalformedMessage},
		{"caption in german", `{"type":"caption","text":"hallo","lang":"de"}`, ErrMalformedMessage},
		{"unknown reaction", `{"type":"reaction","emoji":"x"}`, ErrMalformedMessage},
		{"poll of one option", `{"type":"poll_create","question":"q","options":["a"]}`, ErrMalformedMessage},
		{"unknown type", `{"type":"dance"}`, ErrUnknownMessageType},
		{"server type", `{"type":"joined"}`, ErrUnknownMessageType},
		{"too large", `{"type":"offer","sdp":"` + strings.Repeat("a", MaxMessageSize) + `"}`, ErrMessageTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeClient([]byte(tt.in))
			if tt.want == nil {
				require.NoError(t, err)
				require.NotEmpty(t, m.Type)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

// FuzzDecode decodes arbitrary client messages: each is refused with one of the
// sentinels, or accepted complete enough for the server to use without further checks.
//
//	go test -run XXX -fuzz FuzzDecode -fuzztime 60s ./sfu/signal/
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
	declaredTypes := readDeclared(f).types
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeClient(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedMessage) && !errors.Is(err, ErrUnknownMessageType) && !errors.Is(err, ErrMessageTooLarge) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		// What is accepted is complete enough for the session to use without checks.
		switch m.Type {
		case TypeJoin:
			require.NotEmpty(t, m.Token)
		case TypeOffer, TypeAnswer:
			require.NotEmpty(t, m.SDP)
			for _, l := range m.Labels {
				require.True(t, l.Valid())
			}
		case TypeCandidate:
			require.NotNil(t, m.Candidate)
		case TypeMute:
			require.True(t, m.Label.Valid())
			require.NotNil(t, m.Muted)
		case TypeLayer:
			require.NotEmpty(t, m.TrackID)
		case TypeRelay:
			require.True(t, ValidID(m.ParticipantID), "a viewer's id, never a relay's (with a ~)")
			require.Contains(t, []string{RelayEnter, RelayLeave, RelaySpeak}, m.Action)
			if m.Action == RelaySpeak {
				require.NotEmpty(t, m.Message)
			}
		case TypeSlidePointer:
			require.NotEmpty(t, m.SlidesID)
			if !m.Hidden {
				require.True(t, m.X >= 0 && m.X <= 1 && m.Y >= 0 && m.Y <= 1)
			}
		default:
			// Nothing else is accepted than the declared types (package sfu checks that
			// each one a client may send has its rate limit).
			require.Contains(t, declaredTypes, m.Type, "accepted type %q", m.Type)
		}
	})
}

// TestBreakoutMessagesAreBounded refuses breakout messages out of their bounds before
// they reach a room.
func TestBreakoutMessagesAreBounded(t *testing.T) {
	rooms := func(n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(`{"name":"r"},`, n), ",") + "]"
	}
	for _, tc := range []struct {
		name, msg string
		ok        bool
	}{
		{"two rooms", `{"type":"breakout_start","rooms":` + rooms(2) + `,"duration":600}`, true},
		{"no room", `{"type":"breakout_start","rooms":[]}`, false},
		{"too many rooms", `{"type":"breakout_start","rooms":` + rooms(MaxBreakoutRooms+1) + `}`, false},
		{"empty name", `{"type":"breakout_start","rooms":[{"name":" "}]}`, false},
		{"long name", `{"type":"breakout_start","rooms":[{"name":"` + strings.Repeat("n", MaxBreakoutName+1) + `"}]}`, false},
		{"name on two lines", `{"type":"breakout_start","rooms":[{"name":"a\nb"}]}`, false},
		{"negative duration", `{"type":"breakout_start","rooms":` + rooms(1) + `,"duration":-1}`, false},
		{"long duration", `{"type":"breakout_start","rooms":` + rooms(1) + `,"duration":28801}`, false},
		{"participant twice", `{"type":"breakout_start","rooms":[{"name":"a","participants":["p"]},{"name":"b","participants":["p"]}]}`, false},
		{"bad participant id", `{"type":"breakout_start","rooms":[{"name":"a","participants":["p q"]}]}`, false},
		{"assign", `{"type":"breakout_assign","participant_id":"p","room_id":"r"}`, true},
		{"assign to main", `{"type":"breakout_assign","participant_id":"p"}`, true},
		{"assign nobody", `{"type":"breakout_assign","room_id":"r"}`, false},
		{"join", `{"type":"breakout_join","room_id":"r"}`, true},
		{"join bad room", `{"type":"breakout_join","room_id":"r/x"}`, false},
		{"broadcast", `{"type":"breakout_broadcast","text":"five minutes left"}`, true},
		{"empty broadcast", `{"type":"breakout_broadcast","text":""}`, false},
		{"long broadcast", `{"type":"breakout_broadcast","text":"` + strings.Repeat("x", MaxBreakoutBroadcast+1) + `"}`, false},
		{"help", `{"type":"breakout_help"}`, true},
		{"end", `{"type":"breakout_end"}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeClient([]byte(tc.msg))
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrMalformedMessage)
			}
		})
	}
}

// TestDecodeClientCleansTexts trims what participants type: the session uses the texts
// as they come out.
func TestDecodeClientCleansTexts(t *testing.T) {
	m, err := DecodeClient([]byte(`{"type":"chat","text":"  hello\n "}`))
	require.NoError(t, err)
	require.Equal(t, "hello", m.Text)
	m, err = DecodeClient([]byte(`{"type":"caption","text":" one\n two  three ","lang":"en"}`))
	require.NoError(t, err)
	require.Equal(t, "one two three", m.Text, "a caption is one line")
	m, err = DecodeClient([]byte(`{"type":"poll_create","question":" q? ","options":[" a","b "]}`))
	require.NoError(t, err)
	require.Equal(t, "q?", m.Question)
	require.Equal(t, []string{"a", "b"}, m.Options)
}
