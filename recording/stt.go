package recording

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"webinaire/sfu"
)

// Automatic captions (docs/captions.md): a Transcriber is an SFU sink that sends the Opus
// of each speaker of a room to the organisation's own speech-to-text service over one
// WebSocket, and posts the text the service answers as automatic captions. The service
// gets numbered tracks of audio and a language, nothing else: no name, no participant id.

// Limits of the speech-to-text interface.
const (
	// MaxTranscriptMessage is the largest message the service may send, in bytes.
	MaxTranscriptMessage = 4096
	// transcriberQueue bounds the frames waiting for the WebSocket; when the service reads
	// too slowly, frames are dropped rather than the room slowed.
	transcriberQueue = 256
	// transcriptRate and transcriptBurst bound the captions taken from the service.
	transcriptRate  = sfu.CaptionRate
	transcriptBurst = sfu.CaptionBurst
	// frameHeader is the track number (2 bytes) and the RTP timestamp (4 bytes), big-endian.
	frameHeader = 6
)

// Messages of the speech-to-text interface.
type (
	// sttStart opens the stream: what the audio is, and the language to transcribe.
	sttStart struct {
		Type       string `json:"type"` // start
		Lang       string `json:"lang"`
		Codec      string `json:"codec"` // opus
		SampleRate int    `json:"sample_rate"`
		Channels   int    `json:"channels"`
	}
	// sttTrack says that a speaker's track starts or ends.
	sttTrack struct {
		Type  string `json:"type"` // track or track_end
		Track int    `json:"track"`
	}
	// sttText is what the service sends: one caption.
	sttText struct {
		Text string `json:"text"`
		Lang string `json:"lang,omitempty"`
	}
)

// TranscriberParams configure a Transcriber.
type TranscriberParams struct {
	// URL is the service's WebSocket address (ws:// or wss://), captions.stt_url.
	URL string
	// Lang is the language the service is asked to transcribe: fr or en.
	Lang string
	// Post receives each caption of the service, such as sfu.Room.AddCaption.
	Post func(text, lang string) error
	// Logger receives the transcriber's logs (never the text); nil discards them.
	Logger *slog.Logger
	// HTTPClient dials the service; nil is http.DefaultClient.
	HTTPClient *http.Client
}

// Transcriber streams a room's audio to a speech-to-text service and posts its text. Attach
// it to the room with AddSink; Close ends it.
type Transcriber struct {
	p      TranscriberParams
	conn   *websocket.Conn
	cancel context.CancelFunc
	wg     sync.WaitGroup
	out    chan sttFrame

	mu     sync.Mutex
	tracks int
	closed bool
}

// StartTranscriber dials the service and sends it the start message.
func StartTranscriber(ctx context.Context, p TranscriberParams) (*Transcriber, error) {
	if !strings.HasPrefix(p.URL, "ws://") && !strings.HasPrefix(p.URL, "wss://") {
		return nil, fmt.Errorf("speech-to-text url %q: not ws:// or wss://", p.URL)
	}
	if p.Lang != "fr" && p.Lang != "en" {
		return nil, fmt.Errorf("speech-to-text language %q: not fr or en", p.Lang)
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dialCtx, cancelDial := context.WithTimeout(ctx, 10*time.Second)
	defer cancelDial()
	conn, resp, err := websocket.Dial(dialCtx, p.URL, &websocket.DialOptions{HTTPClient: p.HTTPClient})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dial speech-to-text service: %w", err)
	}
	conn.SetReadLimit(MaxTranscriptMessage)
	start, _ := json.Marshal(sttStart{Type: "start", Lang: p.Lang, Codec: "opus", SampleRate: 48000, Channels: 2})
	if err := conn.Write(dialCtx, websocket.MessageText, start); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("start speech-to-text stream: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t := &Transcriber{p: p, conn: conn, cancel: cancel, out: make(chan sttFrame, transcriberQueue)}
	t.wg.Add(2)
	go func() { // owned by the Transcriber; ends with Close or when the connection fails
		defer t.wg.Done()
		t.writeLoop(runCtx)
	}()
	go func() { // owned by the Transcriber; ends with Close or when the connection fails
		defer t.wg.Done()
		t.readLoop(runCtx)
	}()
	return t, nil
}

// Close ends the stream and waits for its goroutines.
func (t *Transcriber) Close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.cancel()
	_ = t.conn.Close(websocket.StatusNormalClosure, "captions stopped")
	t.wg.Wait()
}

// AddTrack streams an audio track in Opus to the service; it is the sfu.Sink method.
func (t *Transcriber) AddTrack(_ string, info sfu.TrackInfo, codec webrtc.RTPCodecParameters) sfu.SinkTrack {
	if info.Kind != "audio" || !strings.EqualFold(codec.MimeType, webrtc.MimeTypeOpus) {
		return nil
	}
	t.mu.Lock()
	if t.closed || t.tracks >= 1<<16-1 {
		t.mu.Unlock()
		return nil
	}
	t.tracks++
	n := t.tracks
	t.mu.Unlock()
	t.sendJSON(sttTrack{Type: "track", Track: n})
	return &transcriberTrack{t: t, n: uint16(n)}
}

// sttFrame is a message waiting for the WebSocket: JSON text or an audio frame.
type sttFrame struct {
	text bool
	b    []byte
}

// sendJSON queues a control message.
func (t *Transcriber) sendJSON(v any) {
	b, _ := json.Marshal(v)
	t.queue(sttFrame{text: true, b: b})
}

// queue hands a message to the writer; it is dropped when the queue is full.
func (t *Transcriber) queue(f sttFrame) {
	select {
	case t.out <- f:
	default:
	}
}

func (t *Transcriber) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-t.out:
			typ := websocket.MessageBinary
			if f.text {
				typ = websocket.MessageText
			}
			if err := t.conn.Write(ctx, typ, f.b); err != nil {
				t.p.Logger.Warn("speech-to-text stream ended", "err", err)
				t.cancel()
				return
			}
		}
	}
}

func (t *Transcriber) readLoop(ctx context.Context) {
	tokens, last := float64(transcriptBurst), time.Now()
	for {
		typ, b, err := t.conn.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				t.p.Logger.Warn("speech-to-text stream ended", "err", err)
				t.cancel()
			}
			return
		}
		var m sttText
		if typ != websocket.MessageText || json.Unmarshal(b, &m) != nil {
			t.p.Logger.Debug("speech-to-text message ignored", "bytes", len(b))
			continue
		}
		now := time.Now()
		tokens = min(float64(transcriptBurst), tokens+now.Sub(last).Seconds()*transcriptRate)
		last = now
		if tokens < 1 {
			continue // faster than captions may come: dropped
		}
		tokens--
		if m.Lang == "" {
			m.Lang = t.p.Lang
		}
		if err := t.p.Post(m.Text, m.Lang); err != nil {
			t.p.Logger.Debug("speech-to-text caption refused", "err", errors.Unwrap(err), "bytes", len(m.Text))
		}
	}
}

// transcriberTrack is one audio track sent to the service.
type transcriberTrack struct {
	t *Transcriber
	n uint16
}

// WriteRTP queues one Opus packet as a binary message: the track number, the RTP
// timestamp, the payload.
func (tt *transcriberTrack) WriteRTP(h *rtp.Header, payload []byte) error {
	if len(payload) == 0 {
		return nil
	}
	b := make([]byte, frameHeader+len(payload))
	binary.BigEndian.PutUint16(b, tt.n)
	binary.BigEndian.PutUint32(b[2:], h.Timestamp)
	copy(b[frameHeader:], payload)
	tt.t.queue(sttFrame{b: b})
	return nil
}

// Close tells the service the track ended.
func (tt *transcriberTrack) Close() { tt.t.sendJSON(sttTrack{Type: "track_end", Track: int(tt.n)}) }
