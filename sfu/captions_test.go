package sfu

import (
	"strings"
	"sync"
	"testing"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// captionSink is a sink that keeps the captions it is told of, and no track.
type captionSink struct {
	mu       sync.Mutex
	captions []Caption
}

func (s *captionSink) AddTrack(string, TrackInfo, webrtc.RTPCodecParameters) SinkTrack { return nil }

func (s *captionSink) Caption(c Caption) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.captions = append(s.captions, c)
}

func (s *captionSink) texts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.captions {
		out = append(out, c.Lang+":"+c.Text)
	}
	return out
}

func captionText(text string) func(signal.ServerMessage) bool {
	return func(m signal.ServerMessage) bool { return m.Type == signal.TypeCaption && m.Text == text }
}

// TestCaptionsReachEveryoneAndTheSinks: a captioner's lines reach everyone with their
// language, an attendee may not send one, the last ones are in the joined message of who
// comes later, a sink that takes captions gets them, and automatic captions come in
// through AddCaption.
func TestCaptionsReachEveryoneAndTheSinks(t *testing.T) {
	srv := newTestServer(t)
	mod := join(t, srv, srv.token(t, "w", "mod", RoleModerator, KindWebinar))
	capt := join(t, srv, srv.token(t, "w", "capt", RoleCaptioner, KindWebinar))
	alice := join(t, srv, srv.token(t, "w", "alice", RoleAttendee, KindWebinar))
	room, ok := srv.Room("w")
	require.True(t, ok)
	sink := &captionSink{}
	h, err := room.AddSink(sink)
	require.NoError(t, err)
	defer h.Close()

	capt.send(map[string]any{"type": "caption", "text": "  Bonjour   à tous\n", "lang": "fr"})
	got := alice.waitMsg(captionText("Bonjour à tous"))
	require.Equal(t, "fr", got.Lang)
	require.Equal(t, "capt", got.From)
	mod.waitMsg(captionText("Bonjour à tous"))
	capt.send(map[string]any{"type": "caption", "text": "Welcome", "lang": "en"})
	alice.waitMsg(captionText("Welcome"))

	alice.send(map[string]any{"type": "caption", "text": "not mine to send", "lang": "en"})
	alice.waitError(signal.CodeForbidden)
	capt.send(map[string]any{"type": "caption", "text": "Hallo", "lang": "de"})
	capt.waitError(signal.CodeMalformed)
	capt.send(map[string]any{"type": "caption", "text": strings.Repeat("a", signal.MaxCaptionText+1), "lang": "en"})
	capt.waitError(signal.CodeMalformed)

	require.NoError(t, room.AddCaption("from the speech service", "en"))
	auto := alice.waitMsg(captionText("from the speech service"))
	require.True(t, auto.Automatic)
	require.Empty(t, auto.From)
	require.ErrorIs(t, room.AddCaption("", "en"), ErrInvalidCaption)
	require.ErrorIs(t, room.AddCaption("text", "xx"), ErrInvalidCaption)

	bob := join(t, srv, srv.token(t, "w", "bob", RoleAttendee, KindWebinar))
	joined := bob.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined })
	var history []string
	for _, c := range joined.Captions {
		history = append(history, c.Text)
	}
	require.Equal(t, []string{"Bonjour à tous", "Welcome", "from the speech service"}, history)
	require.Equal(t, []string{"fr:Bonjour à tous", "en:Welcome", "en:from the speech service"}, sink.texts())
	require.Zero(t, alice.count(captionText("not mine to send")), "a refused caption reached someone")
}

// TestCaptionHistoryIsBounded: a room keeps the last MaxCaptionHistory captions only.
func TestCaptionHistoryIsBounded(t *testing.T) {
	srv := newTestServer(t)
	mod := join(t, srv, srv.token(t, "h", "mod", RoleModerator, KindMeeting))
	room, ok := srv.Room("h")
	require.True(t, ok)
	for i := range MaxCaptionHistory + 5 {
		require.NoError(t, room.AddCaption("line "+strings.Repeat("x", i), "fr"))
	}
	mod.waitMsg(captionText("line " + strings.Repeat("x", MaxCaptionHistory+4)))
	late := join(t, srv, srv.token(t, "h", "late", RoleAttendee, KindMeeting))
	joined := late.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined })
	require.Len(t, joined.Captions, MaxCaptionHistory)
	require.Equal(t, "line "+strings.Repeat("x", 5), joined.Captions[0].Text)
}

// TestCaptionerDoesNotPublish: a captioner receives, and publishes in no kind of room.
func TestCaptionerDoesNotPublish(t *testing.T) {
	for _, k := range []RoomKind{KindMeeting, KindWebinar} {
		require.False(t, k.CanPublish(RoleCaptioner), "captioner publishes in a %s", k)
	}
}
