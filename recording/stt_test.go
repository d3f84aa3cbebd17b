package recording

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"webinaire/sfu"
)

// sttServer is a speech-to-text service for tests, on loopback: it checks the start
// message, and answers the first audio frame of each track with a fixed text.
type sttServer struct {
	*httptest.Server
	mu     sync.Mutex
	start  sttStart
	events []string // "track 1", "audio 1 @ts", "track_end 1"
}

func newSTTServer(t *testing.T, reply string) *sttServer {
	s := &sttServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		ctx := r.Context()
		answered := map[uint16]bool{}
		for {
			typ, b, err := conn.Read(ctx)
			if err != nil {
				return
			}
			s.mu.Lock()
			if typ == websocket.MessageText {
				var m struct {
					Type  string `json:"type"`
					Track int    `json:"track"`
				}
				_ = json.Unmarshal(b, &m)
				if m.Type == "start" {
					_ = json.Unmarshal(b, &s.start)
				} else {
					s.events = append(s.events, m.Type+" "+string(rune('0'+m.Track)))
				}
				s.mu.Unlock()
				continue
			}
			n := binary.BigEndian.Uint16(b)
			s.events = append(s.events, "audio "+string(rune('0'+n))+" "+string(b[frameHeader:]))
			first := !answered[n]
			answered[n] = true
			s.mu.Unlock()
			if first {
				_ = conn.Write(ctx, websocket.MessageText, []byte(`{"text":"`+reply+`"}`))
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sttServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.events...)
}

// TestTranscriberStreamsOpusAndPostsText: a Transcriber opens the stream with its
// language, numbers the audio tracks (video is left out), sends each Opus packet with its
// track number, and posts what the service answers as captions in the stream's language.
func TestTranscriberStreamsOpusAndPostsText(t *testing.T) {
	srv := newSTTServer(t, "bonjour de la machine")
	var mu sync.Mutex
	var posted []string
	tr, err := StartTranscriber(context.Background(), TranscriberParams{
		URL:  "ws" + strings.TrimPrefix(srv.URL, "http"),
		Lang: "fr",
		Post: func(text, lang string) error {
			mu.Lock()
			defer mu.Unlock()
			posted = append(posted, lang+":"+text)
			return nil
		},
	})
	require.NoError(t, err)
	defer tr.Close()

	require.Nil(t, tr.AddTrack("p", sfu.TrackInfo{Kind: "video"}, vp8), "video is not transcribed")
	st := tr.AddTrack("p", sfu.TrackInfo{Kind: "audio"}, opus)
	require.NotNil(t, st)
	require.NoError(t, st.WriteRTP(&rtp.Header{Timestamp: 960}, []byte("opus-packet")))
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(posted) == 1
	}, 10*time.Second, 10*time.Millisecond, "the service's text is posted")
	require.Equal(t, []string{"fr:bonjour de la machine"}, posted)
	st.Close()
	require.Eventually(t, func() bool { return len(srv.seen()) == 3 }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, []string{"track 1", "audio 1 opus-packet", "track_end 1"}, srv.seen())
	require.Equal(t, sttStart{Type: "start", Lang: "fr", Codec: "opus", SampleRate: 48000, Channels: 2}, srv.start)
}

// TestTranscriberRefusesBadSettings: only a WebSocket address and fr or en are taken, and
// a service that is not there is an error at start.
func TestTranscriberRefusesBadSettings(t *testing.T) {
	post := func(string, string) error { return nil }
	for _, p := range []TranscriberParams{
		{URL: "http://127.0.0.1:1/", Lang: "fr", Post: post},
		{URL: "ws://127.0.0.1:1/", Lang: "de", Post: post},
	} {
		_, err := StartTranscriber(context.Background(), p)
		require.Error(t, err, "%+v", p)
	}
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := StartTranscriber(context.Background(), TranscriberParams{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), Lang: "en", Post: post})
	require.Error(t, err)
}
