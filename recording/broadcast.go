package recording

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"webinaire/sfu"
)

// A live broadcast sends a room to an RTMP server (PeerTube, Owncast, nginx-rtmp) as one
// picture and one sound: the screen share if there is one, with the active speaker's
// camera inset, else the active speaker's camera, with the name of whoever is shown, over
// the mix of everyone's microphone.
//
// The Broadcast is an SFU sink. One goroutine (run) owns the composite: it keeps two
// video streams, the picture and the inset (each the frames of the track shown,
// renumbered onto the broadcast's clock, switching to another track at its keyframe, a
// placeholder while there is none), and a few audio slots (a microphone each, silence
// when a slot has nothing), and writes them as a live WebM stream into ffmpeg's standard
// input. ffmpeg decodes, scales, overlays, writes the name, mixes the audio, encodes
// H.264 and AAC and sends FLV to the target. When the target drops, refuses or stops
// taking the stream, ffmpeg ends: the goroutine reads why from its error output, tells
// the moderators, and starts it again after a growing pause.

// Broadcast settings.
const (
	// AudioSlots is how many microphones are mixed at a time; a microphone published
	// when all are taken is heard once another's track ends.
	AudioSlots = 6
	// castWidth, castHeight and castRate are the picture sent.
	castWidth, castHeight, castRate = 1280, 720, 30
	// insetWidth is the width of the speaker's inset over a screen share; insetHidden
	// the size of the inset's placeholder, which is not drawn.
	insetWidth, insetHidden = 320, 16
	// castQueue is the number of packets waiting for the composite; when it is full,
	// packets are dropped (the media path never waits).
	castQueue = 4096
	// castTick is the period the composite fills silence and chooses the picture at.
	castTick = 20 * time.Millisecond
	// audioFrameMS is the length of an Opus packet of a browser, and of the silence.
	audioFrameMS = 20
	// fillDelay is how far behind the clock silence is written, in ms: a packet late by
	// less still takes its place.
	fillDelay = 120
	// videoStall is how long the picture shown may send no frame before the placeholder
	// replaces it, in ms.
	videoStall = 1500
	// placeholderEvery is the period of the placeholder picture, in ms.
	placeholderEvery = 500
	// insetEvery and insetStall are placeholderEvery and videoStall for the inset.
	insetEvery, insetStall = 40, 500
	// maxBackoff bounds the pause between two attempts to reach the target.
	maxBackoff = 30 * time.Second
	// stopGrace is how long ffmpeg has to send its last frames at the end.
	stopGrace = 5 * time.Second
)

// opusSilence is an Opus packet of 20 ms of silence (TOC 0xf8: CELT, full band, 20 ms).
var opusSilence = []byte{0xf8, 0xff, 0xfe}

// Broadcast states, as BroadcastStatus.State says.
const (
	// BroadcastConnecting is a broadcast whose target has not taken the stream yet.
	BroadcastConnecting = "connecting"
	// BroadcastLive is a broadcast the target takes.
	BroadcastLive = "live"
	// BroadcastRetrying is a broadcast whose target dropped or refused it; it is tried
	// again, Error says why.
	BroadcastRetrying = "retrying"
	// BroadcastStopped is a broadcast that has ended.
	BroadcastStopped = "stopped"
)

// BroadcastStatus is where a broadcast stands.
type BroadcastStatus struct {
	State string
	// Reason says why the target does not take the stream, when it does not, as one of
	// the Reason... codes; Error says it in English words. Neither holds the target's
	// address or key.
	Reason string
	Error  string
	// Attempts counts the connections to the target tried.
	Attempts int
}

// Why a target does not take the stream, as BroadcastStatus.Reason says.
const (
	ReasonRefused     = "refused"      // nothing listens at the address and port
	ReasonUnresolved  = "unresolved"   // the host name is unknown
	ReasonUnreachable = "unreachable"  // no route, or no answer in time
	ReasonRejected    = "rejected"     // closed before the stream started: the key, often
	ReasonTLS         = "tls"          // the TLS connection failed
	ReasonServer      = "server_error" // the server said why, in Error
	ReasonDropped     = "dropped"      // closed while the stream went out
	ReasonStalled     = "stalled"      // took nothing for BroadcastParams.StallTimeout
	ReasonEncoder     = "encoder"      // ffmpeg failed otherwise
)

// trouble is why a target does not take the stream: a Reason... code and its words.
type trouble struct{ reason, text string }

// BroadcastParams configure a Broadcast.
type BroadcastParams struct {
	// FFmpeg is the program that encodes and sends.
	FFmpeg string
	// URL is the target: rtmp:// or rtmps://, the server's address and application.
	URL string
	// Key is the stream key, appended to URL as its last path element.
	Key string
	// Dir is a private folder for the broadcast's working files (the caption); it is
	// created (0700) and removed at the end.
	Dir string
	// Logger receives the broadcast's logs; nil discards them. The target's address and
	// key are never logged.
	Logger *slog.Logger
	// OnStatus is told of every change of status, from the broadcast's goroutine. It must
	// not block.
	OnStatus func(BroadcastStatus)
	// Panics counts the panics recovered in the broadcast's goroutine (part recording);
	// nil does not count them. A panic ends the broadcast.
	Panics *sfu.Panics
	// Clock places the media on the stream's time; nil is time.Now.
	Clock func() time.Time
	// StallTimeout is how long ffmpeg may take nothing of the stream (its target takes
	// nothing) before it is ended and the target tried again; 0 is DefaultStallTimeout.
	StallTimeout time.Duration
}

// DefaultStallTimeout is BroadcastParams.StallTimeout by default.
const DefaultStallTimeout = 15 * time.Second

// deadlineWriter writes to ffmpeg's input, each write within a timeout.
type deadlineWriter struct {
	f       *os.File
	timeout time.Duration
}

func (w deadlineWriter) Write(b []byte) (int, error) {
	if err := w.f.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
		return 0, fmt.Errorf("broadcast input: %w", err)
	}
	return w.f.Write(b)
}

// castRoom is what a broadcast needs of its room (an *sfu.Room).
type castRoom interface {
	Done() <-chan struct{}
	ActiveSpeaker() string
	Participants() []sfu.ParticipantInfo
	SetBroadcasting(on bool) error
	BroadcastTrouble(reason, text string) error
}

// castSink is the broadcast's attachment to its room (an *sfu.SinkHandle).
type castSink interface {
	RequestKeyframe(trackID string)
	Close()
}

// ErrBadTarget is a broadcast target that is not an rtmp:// or rtmps:// URL, or a key that
// cannot be part of one.
var ErrBadTarget = errors.New("broadcast: the target must be an rtmp:// or rtmps:// URL with a host, and a key without spaces or slashes")

// CheckTarget checks a broadcast target before it is kept: an rtmp:// or rtmps:// URL
// with a host and no user or password (the key has its own field), and a key that can
// be the URL's last path element.
func CheckTarget(target, key string) error {
	if len(target) > 512 || len(key) > 256 || (!strings.HasPrefix(target, "rtmp://") && !strings.HasPrefix(target, "rtmps://")) {
		return ErrBadTarget
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "rtmp" && u.Scheme != "rtmps") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return ErrBadTarget
	}
	for _, r := range target + key {
		if r <= ' ' || r == 0x7f || r == '\'' || r == '"' {
			return ErrBadTarget
		}
	}
	if strings.ContainsAny(key, "/?#") {
		return ErrBadTarget
	}
	return nil
}

// Broadcast is a live broadcast of one room.
type Broadcast struct {
	p    BroadcastParams
	room castRoom
	sink castSink
	log  *slog.Logger

	packets     chan castPacket
	stop        chan struct{} // closed by Close
	stopOnce    sync.Once
	done        chan struct{} // closed when run has ended
	placeholder []byte        // a VP8 keyframe of an empty picture
	// insetPlaceholder is a VP8 keyframe of insetHidden pixels square: an inset that
	// small is not drawn.
	insetPlaceholder []byte
	caption          string // the file ffmpeg reads the name from

	mu     sync.Mutex
	tracks []*castTrack
	status BroadcastStatus
	proc   *os.Process // the ffmpeg running now
}

// castPacket is a packet queued for the composite.
type castPacket struct {
	track   *castTrack
	hdr     rtp.Header
	payload []byte
}

// castTrack is a track the broadcast receives; it is the sfu.SinkTrack.
type castTrack struct {
	b           *Broadcast
	id          string
	participant string
	video       bool
	screen      bool
	ended       atomic.Bool
}

// StartBroadcast starts broadcasting room: the room is told, then the sink attached and
// ffmpeg started. The broadcast runs until Close or until the room closes.
func StartBroadcast(room *sfu.Room, p BroadcastParams) (*Broadcast, error) {
	if err := CheckTarget(p.URL, p.Key); err != nil {
		return nil, err
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if p.OnStatus == nil {
		p.OnStatus = func(BroadcastStatus) {}
	}
	if p.Clock == nil {
		p.Clock = time.Now
	}
	if p.StallTimeout <= 0 {
		p.StallTimeout = DefaultStallTimeout
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("broadcast folder: %w", err)
	}
	b := &Broadcast{
		p: p, room: room, log: p.Logger,
		packets: make(chan castPacket, castQueue),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		caption: filepath.Join(p.Dir, "caption.txt"),
		status:  BroadcastStatus{State: BroadcastConnecting},
	}
	var err error
	if b.placeholder, err = placeholderFrame(p.FFmpeg, "320x180"); err != nil {
		return nil, err
	}
	if b.insetPlaceholder, err = placeholderFrame(p.FFmpeg, fmt.Sprintf("%dx%d", insetHidden, insetHidden)); err != nil {
		return nil, err
	}
	if err := b.setCaption(""); err != nil {
		return nil, err
	}
	// Everyone is told before the first frame can leave.
	if err := room.SetBroadcasting(true); err != nil {
		return nil, fmt.Errorf("start broadcast: %w", err)
	}
	sink, err := room.AddSink(b)
	if err != nil {
		_ = room.SetBroadcasting(false)
		return nil, fmt.Errorf("start broadcast: %w", err)
	}
	b.sink = sink
	go b.run() // owned by the broadcast; ends on Close or when the room closes
	return b, nil
}

// Status is where the broadcast stands now.
func (b *Broadcast) Status() BroadcastStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.status
}

// Done is closed once the broadcast has ended and ffmpeg has exited.
func (b *Broadcast) Done() <-chan struct{} { return b.done }

// Close ends the broadcast: ffmpeg sends what it has and closes the stream, the room is
// told. It returns once ffmpeg has exited.
func (b *Broadcast) Close() {
	b.stopOnce.Do(func() { close(b.stop) })
	select {
	case <-b.done:
		return
	case <-time.After(stopGrace):
	}
	// ffmpeg does not read any more (a target that hangs): end it.
	b.mu.Lock()
	if b.proc != nil {
		_ = b.proc.Kill()
	}
	b.mu.Unlock()
	<-b.done
}

// AddTrack receives a track of the room; it is the sfu.Sink method. VP8 video and Opus
// audio are taken, other codecs left out.
func (b *Broadcast) AddTrack(participantID string, t sfu.TrackInfo, codec webrtc.RTPCodecParameters) sfu.SinkTrack {
	var video bool
	switch {
	case strings.EqualFold(codec.MimeType, webrtc.MimeTypeVP8):
		video = true
	case strings.EqualFold(codec.MimeType, webrtc.MimeTypeOpus):
	default:
		b.log.Info("track not broadcast", "codec", codec.MimeType)
		return nil
	}
	ct := &castTrack{b: b, id: t.ID, participant: participantID, video: video, screen: t.Label == sfu.LabelScreen}
	b.mu.Lock()
	b.tracks = append(b.tracks, ct)
	b.mu.Unlock()
	return ct
}

// WriteRTP queues a copy of the packet for the composite; it never blocks.
func (t *castTrack) WriteRTP(h *rtp.Header, payload []byte) error {
	p := castPacket{track: t, hdr: *h, payload: append([]byte(nil), payload...)}
	p.hdr.Extensions = nil
	select {
	case t.b.packets <- p:
	default: // the composite is behind: this packet is lost, as on a network
	}
	return nil
}

// Close marks the track ended; the composite lets it go at its next tick.
func (t *castTrack) Close() { t.ended.Store(true) }

// setStatus changes the status and tells OnStatus and the room's moderators.
func (b *Broadcast) setStatus(s BroadcastStatus) {
	b.mu.Lock()
	changed := b.status != s
	b.status = s
	b.mu.Unlock()
	if !changed {
		return
	}
	b.p.OnStatus(s)
	if s.Error != "" && s.State == BroadcastRetrying {
		_ = b.room.BroadcastTrouble(s.Reason, s.Error)
	}
}

// setCaption replaces the name ffmpeg writes over the picture (a new file renamed over
// the old: ffmpeg reads it whole at each frame).
func (b *Broadcast) setCaption(name string) error {
	if name == "" {
		name = " " // drawtext wants some text
	}
	tmp := b.caption + ".new"
	if err := os.WriteFile(tmp, []byte(name), 0o600); err != nil {
		return fmt.Errorf("broadcast caption: %w", err)
	}
	if err := os.Rename(tmp, b.caption); err != nil {
		return fmt.Errorf("broadcast caption: %w", err)
	}
	return nil
}

// run owns the composite: it starts ffmpeg, feeds it, and starts it again when the
// target drops, until Close or the end of the room.
func (b *Broadcast) run() {
	defer close(b.done)
	defer func() {
		b.sink.Close()
		_ = b.room.SetBroadcasting(false)
		_ = os.RemoveAll(b.p.Dir)
		b.setStatus(BroadcastStatus{State: BroadcastStopped, Attempts: b.Status().Attempts})
	}()
	// A panic ends the broadcast; the attempt running has ended its ffmpeg.
	defer b.p.Panics.Recover(sfu.PartRecording, b.log, func() {})
	c := newComposite(b)
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		started := time.Now()
		live, why := b.attempt(c, attempt)
		if why.reason == "" {
			return // stopped
		}
		if live && time.Since(started) > maxBackoff {
			backoff = time.Second // it worked for a while: try again soon
		}
		b.log.Warn("broadcast target lost", "attempt", attempt, "reason", why.reason, "error", why.text, "retry_in", backoff)
		b.setStatus(BroadcastStatus{State: BroadcastRetrying, Reason: why.reason, Error: why.text, Attempts: attempt})
		t := time.NewTimer(backoff)
		select {
		case <-b.stop:
			t.Stop()
			return
		case <-b.room.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// attempt runs ffmpeg once: it returns whether the target took the stream, and why it
// ended, nothing when the broadcast was stopped.
func (b *Broadcast) attempt(c *composite, attempt int) (live bool, why trouble) {
	startFailed := trouble{ReasonEncoder, "the encoder could not start"}
	cmd := exec.Command(b.p.FFmpeg, b.ffmpegArgs()...)
	// A pipe of our own, for its write deadline: ffmpeg stops reading when the target
	// stops taking the stream without closing the connection.
	in, stdin, err := os.Pipe()
	if err != nil {
		return false, startFailed
	}
	cmd.Stdin = in
	stderr, err := cmd.StderrPipe()
	if err != nil {
		_, _ = in.Close(), stdin.Close()
		return false, startFailed
	}
	err = cmd.Start()
	_ = in.Close() // ffmpeg's end
	if err != nil {
		_ = stdin.Close()
		b.log.Error("broadcast encoder not started", "err", err)
		return false, startFailed
	}
	b.mu.Lock()
	b.proc = cmd.Process
	b.mu.Unlock()
	b.setStatus(BroadcastStatus{State: BroadcastConnecting, Attempts: attempt})

	var isLive atomic.Bool
	report := make(chan trouble, 1) // the first error ffmpeg gave
	exited := make(chan struct{})
	go func() { // owned by this attempt; ends when ffmpeg closes its error output
		defer close(exited)
		r := readFFmpegErrors(stderr, b.redact, b.log, func() {
			isLive.Store(true)
			b.setStatus(BroadcastStatus{State: BroadcastLive, Attempts: attempt})
		})
		report <- r
	}()

	// ffmpeg ends the stream properly on the end of its input (Close ends it if it
	// does not); it is killed when the feed failed, or panicked.
	stopped := false
	var werr error
	waited := false
	end := func() {
		_ = stdin.Close()
		if !stopped {
			_ = cmd.Process.Kill()
		}
		<-exited
		werr, waited = cmd.Wait(), true
		b.mu.Lock()
		b.proc = nil
		b.mu.Unlock()
	}
	defer func() {
		if !waited {
			end()
		}
	}()
	stopped = c.feed(deadlineWriter{stdin, b.p.StallTimeout}, exited)
	stalled := errors.Is(c.err, os.ErrDeadlineExceeded)
	end()
	if stopped {
		return isLive.Load(), trouble{}
	}
	why = <-report
	switch {
	case stalled:
		why = trouble{ReasonStalled, fmt.Sprintf("the broadcast server stopped taking the stream (nothing went out for %s)", b.p.StallTimeout)}
	case why.reason != "":
	case isLive.Load():
		why = trouble{ReasonDropped, "the broadcast server closed the connection"}
	default:
		why = trouble{ReasonEncoder, fmt.Sprintf("the encoder stopped (%s)", b.redact(errText(werr)))}
	}
	return isLive.Load(), why
}

// errText is an error's text, or "no error".
func errText(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// redact takes the target's address and key out of a text from ffmpeg.
func (b *Broadcast) redact(s string) string {
	for _, secret := range []string{b.target(), b.p.Key, b.p.URL} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[target]")
		}
	}
	return s
}

// target is the URL ffmpeg publishes to.
func (b *Broadcast) target() string {
	return strings.TrimRight(b.p.URL, "/") + "/" + b.p.Key
}

// ffmpegArgs reads the live WebM on standard input (video, then the audio slots) and
// sends H.264 and AAC in FLV.
func (b *Broadcast) ffmpegArgs() []string {
	args := []string{"-hide_banner", "-nostats", "-loglevel", "info", "-nostdin",
		"-probesize", "65536", "-analyzeduration", "300000", "-f", "matroska", "-i", "pipe:0"}
	var mix strings.Builder
	for i := range AudioSlots {
		fmt.Fprintf(&mix, "[0:a:%d]", i)
	}
	fmt.Fprintf(&mix, "amix=inputs=%d:normalize=0:dropout_transition=0,aresample=44100[a]", AudioSlots)
	// The picture scaled into the frame, the inset in its upper right corner (off the
	// frame while it is its placeholder), the name in the lower left. Video and audio are
	// two graphs: a picture changing size rebuilds its graph only.
	// The frame rate is made at the output, not in the graph: a graph rebuilt drops the
	// frames it holds.
	video := fmt.Sprintf("[0:v:0]scale=%d:%d:force_original_aspect_ratio=decrease,pad=%d:%d:(ow-iw)/2:(oh-ih)/2[main];"+
		"[0:v:1]scale=w='if(lte(iw,%d),2,%d)':h=-2[inset];"+
		"[main][inset]overlay=x='if(lte(w,2),W,W-w-32)':y=32:eval=frame,format=yuv420p,"+
		"drawtext=textfile=%s:reload=1:expansion=none:fontcolor=white:fontsize=32:borderw=3:bordercolor=black@0.7:x=32:y=h-th-40[v]",
		castWidth, castHeight, castWidth, castHeight, insetHidden, insetWidth, filterQuote(b.caption))
	args = append(args,
		"-filter_complex", video, "-map", "[v]",
		"-filter_complex", mix.String(), "-map", "[a]",
		"-fps_mode", "cfr", "-r", strconv.Itoa(castRate),
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-profile:v", "main",
		"-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "5000k", "-g", strconv.Itoa(2*castRate), "-keyint_min", strconv.Itoa(2*castRate), "-sc_threshold", "0",
		"-c:a", "aac", "-b:a", "128k", "-ac", "2",
		"-rw_timeout", "10000000",
		"-f", "flv", "-flvflags", "no_duration_filesize", b.target())
	return args
}

// filterQuote quotes a value for an ffmpeg filter's options.
func filterQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\\\`, `'`, `\\\'`, `:`, `\\:`, `,`, `\,`, `;`, `\;`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}

// readFFmpegErrors reads ffmpeg's error output until it closes: live is called when the
// target has taken the stream, and the first error that says what went wrong with the
// target is returned, redacted.
func readFFmpegErrors(r io.Reader, redact func(string) string, log *slog.Logger, live func()) trouble {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64*1024)
	var first trouble
	seenLive := false
	for sc.Scan() {
		line := sc.Text()
		log.Debug("broadcast encoder", "line", redact(line))
		if !seenLive && strings.HasPrefix(line, "Output #0, flv") {
			seenLive = true
			live()
			continue
		}
		if first.reason == "" {
			first = targetError(line, seenLive)
			first.text = redact(first.text)
		}
	}
	_, _ = io.Copy(io.Discard, r)
	return first
}

// targetError says what a line of ffmpeg's error output tells of the target, nothing
// when it tells nothing of it; live says whether the target had taken the stream.
func targetError(line string, live bool) trouble {
	l := strings.ToLower(line)
	switch {
	case strings.Contains(l, "connection refused"):
		return trouble{ReasonRefused, "the broadcast server refused the connection (nothing listens at that address and port)"}
	case strings.Contains(l, "failed to resolve") || strings.Contains(l, "name or service not known") || strings.Contains(l, "temporary failure in name resolution"):
		return trouble{ReasonUnresolved, "the broadcast server's name could not be resolved"}
	case strings.Contains(l, "timed out") || strings.Contains(l, "timeout"):
		return trouble{ReasonUnreachable, "the broadcast server could not be reached in time"}
	case strings.Contains(l, "no route to host") || strings.Contains(l, "network is unreachable"):
		return trouble{ReasonUnreachable, "the broadcast server could not be reached"}
	case strings.Contains(l, "rtmp handshake"):
		return trouble{ReasonRejected, "the broadcast server closed the connection before the stream started: check the address and the stream key"}
	case strings.Contains(l, "[tls @") || strings.Contains(l, "gnutls") || strings.Contains(l, "certificate") || strings.Contains(l, "tls handshake"):
		return trouble{ReasonTLS, "the secure (TLS) connection to the broadcast server failed: check rtmps:// and the server's certificate"}
	case strings.Contains(l, "server error:"):
		i := strings.Index(l, "server error:")
		msg := strings.TrimSpace(line[i+len("server error:"):])
		if len(msg) > 160 {
			msg = msg[:160]
		}
		return trouble{ReasonServer, "the broadcast server says: " + msg}
	case strings.Contains(l, "broken pipe") || strings.Contains(l, "connection reset") || strings.Contains(l, "end of file") || strings.Contains(l, "input/output error"):
		if live {
			return trouble{ReasonDropped, "the broadcast server closed the connection"}
		}
		return trouble{ReasonRejected, "the broadcast server closed the connection before the stream started: check the stream key"}
	}
	return trouble{}
}

// placeholderFrame encodes the picture shown while nobody's video is: a VP8 keyframe of
// a dark frame of the given size.
func placeholderFrame(ffmpeg, size string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ffmpeg, "-v", "error", "-f", "lavfi", "-i", "color=c=0x202428:s="+size+":r=1",
		"-frames:v", "1", "-c:v", "libvpx", "-f", "ivf", "pipe:1").Output()
	if err != nil {
		return nil, fmt.Errorf("broadcast placeholder: %w", err)
	}
	// IVF: a 32-byte file header, then per frame a 12-byte header and the frame.
	if len(out) < 44 {
		return nil, errors.New("broadcast placeholder: no frame")
	}
	return out[44:], nil
}

// castTracks are the WebM tracks of the stream fed to ffmpeg: the picture, the inset,
// then the audio slots.
func castTracks() []webm.TrackEntry {
	tracks := []webm.TrackEntry{{
		Name: "video", TrackNumber: mainTrack, TrackUID: mainTrack, CodecID: "V_VP8", TrackType: 1,
		Video: &webm.Video{PixelWidth: 320, PixelHeight: 180},
	}, {
		Name: "inset", TrackNumber: insetTrack, TrackUID: insetTrack, CodecID: "V_VP8", TrackType: 1,
		Video: &webm.Video{PixelWidth: insetHidden, PixelHeight: insetHidden},
	}}
	for i := range AudioSlots {
		n := uint64(firstSlot + i)
		tracks = append(tracks, webm.TrackEntry{
			Name: "audio", TrackNumber: n, TrackUID: n, CodecID: "A_OPUS", TrackType: 2,
			CodecPrivate: opusHead(), CodecDelay: 6500000, SeekPreRoll: 80000000,
			Audio: &webm.Audio{SamplingFrequency: 48000, Channels: 2},
		})
	}
	return tracks
}
