package recording

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu"
)

// freePort is a TCP port of loopback nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// rtmpServer is ffmpeg taking one RTMP stream on loopback and copying it to a file.
type rtmpServer struct {
	cmd  *exec.Cmd
	out  string
	done chan error
}

// startRTMPServer starts ffmpeg as an RTMP server on port and waits until it listens.
func startRTMPServer(t testing.TB, port int) *rtmpServer {
	t.Helper()
	out := filepath.Join(t.TempDir(), "received.flv")
	cmd := exec.Command(need(t, "ffmpeg"), "-v", "error", "-y", "-listen", "1",
		"-i", fmt.Sprintf("rtmp://127.0.0.1:%d/live/secret-key", port), "-c", "copy", out)
	require.NoError(t, cmd.Start())
	s := &rtmpServer{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }() // owned by the test; ends when the server exits
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
		s.done <- nil
	})
	deadline := time.Now().Add(20 * time.Second)
	for !listening(t, port) {
		require.True(t, time.Now().Before(deadline), "the RTMP server does not listen")
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// wait waits for the server to end its file, once the stream has ended.
func (s *rtmpServer) wait(t testing.TB) {
	t.Helper()
	select {
	case err := <-s.done:
		require.NoError(t, err, "the RTMP server")
		s.done <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("the RTMP server did not end")
	}
}

// listening tells whether a socket listens on the TCP port of loopback (Linux).
func listening(t testing.TB, port int) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	require.NoError(t, err)
	want := fmt.Sprintf(":%04X ", port)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[1]+" ", want) && f[3] == "0A" {
			return true
		}
	}
	return false
}

// castSetup is a room with a publisher and its real media, ready to broadcast.
type castSetup struct {
	room   *sfu.Room
	tracks []castSend
}

// castSend is a track of the publisher and the packets it sends.
type castSend struct {
	track   *webrtc.TrackLocalStaticRTP
	packets []*rtp.Packet
	rate    int
}

// newCastSetup publishes a camera and a microphone in a room from a Pion peer over
// loopback; the media is seconds of real VP8 (size) and Opus, sent by send. With
// screen, the peer shares a screen too: a plain blue picture.
func newCastSetup(t testing.TB, seconds, size string, screen ...bool) *castSetup {
	t.Helper()
	vp, ap := encodeMedia(t, seconds, size, "1000k")
	srv := startSFU(t)
	video, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "camera", "user")
	require.NoError(t, err)
	audio, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "microphone", "user")
	require.NoError(t, err)
	c := &castSetup{tracks: []castSend{{video, vp, 90000}, {audio, ap, 48000}}}
	if len(screen) > 0 && screen[0] {
		sp, _ := encodeMediaOf(t, "color=c=blue", seconds, "1280x720", "300k")
		share, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "screen", "screen")
		require.NoError(t, err)
		c.tracks = append(c.tracks, castSend{share, sp, 90000})
	}
	var locals []webrtc.TrackLocal
	for _, s := range c.tracks {
		locals = append(locals, s.track)
	}
	publishWHIP(t, srv, "cast", locals...)
	room, ok := srv.Room("cast")
	require.True(t, ok)
	c.room = room
	return c
}

// send sends the media in real time, the tracks interleaved by their timestamps.
func (c *castSetup) send(t testing.TB) {
	t.Helper()
	start := time.Now()
	next := make([]int, len(c.tracks))
	due := func(k int) time.Time {
		s := c.tracks[k]
		p := s.packets[next[k]]
		return start.Add(time.Duration(p.Timestamp-s.packets[0].Timestamp) * time.Second / time.Duration(s.rate))
	}
	for {
		k := -1
		for i, s := range c.tracks {
			if next[i] < len(s.packets) && (k < 0 || due(i).Before(due(k))) {
				k = i
			}
		}
		if k < 0 {
			return
		}
		time.Sleep(time.Until(due(k)))
		require.NoError(t, c.tracks[k].track.WriteRTP(c.tracks[k].packets[next[k]]))
		next[k]++
	}
}

// statuses records a broadcast's statuses for the test to wait on.
type statuses struct {
	mu      sync.Mutex
	all     []BroadcastStatus
	changed chan struct{}
}

func newStatuses() *statuses { return &statuses{changed: make(chan struct{})} }

func (s *statuses) add(st BroadcastStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, st)
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait waits for a status that ok accepts, among those after the first skip, and
// returns it.
func (s *statuses) wait(t testing.TB, skip int, what string, ok func(BroadcastStatus) bool) (BroadcastStatus, int) {
	t.Helper()
	deadline := time.NewTimer(40 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for i := skip; i < len(s.all); i++ {
			if ok(s.all[i]) {
				st := s.all[i]
				s.mu.Unlock()
				return st, i + 1
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("waiting for %s; statuses %+v", what, s.all)
		}
	}
}

func state(want string) func(BroadcastStatus) bool {
	return func(s BroadcastStatus) bool { return s.State == want }
}

// startCast starts broadcasting the room to the RTMP port of loopback.
func startCast(t testing.TB, room *sfu.Room, port int, st *statuses) *Broadcast {
	t.Helper()
	return startCastTo(t, room, fmt.Sprintf("rtmp://127.0.0.1:%d/live", port), st)
}

// startCastTo starts broadcasting the room to url; stall is BroadcastParams.StallTimeout.
func startCastTo(t testing.TB, room *sfu.Room, url string, st *statuses, stall ...time.Duration) *Broadcast {
	t.Helper()
	p := BroadcastParams{
		FFmpeg: need(t, "ffmpeg"), URL: url, Key: "secret-key",
		Dir: filepath.Join(t.TempDir(), "cast"), Logger: testLogger(t), OnStatus: st.add,
	}
	if len(stall) > 0 {
		p.StallTimeout = stall[0]
	}
	b, err := StartBroadcast(room, p)
	require.NoError(t, err)
	t.Cleanup(b.Close)
	return b
}

// packetStarts are the times of the first video and audio packets of a file.
func packetStarts(t *testing.T, path string) (video, audio float64) {
	t.Helper()
	first := func(stream string) float64 {
		out, err := exec.Command(need(t, "ffprobe"), "-v", "error", "-select_streams", stream, "-read_intervals", "%+#1",
			"-show_entries", "packet=pts_time", "-of", "csv=p=0", path).Output()
		require.NoError(t, err)
		v, err := strconv.ParseFloat(strings.TrimSpace(strings.Split(string(out), "\n")[0]), 64)
		require.NoError(t, err)
		return v
	}
	return first("v:0"), first("a:0")
}

// meanVolume is the mean volume of a file's audio, in dB.
func meanVolume(t *testing.T, path string) float64 {
	t.Helper()
	out, err := exec.Command(need(t, "ffmpeg"), "-hide_banner", "-i", path, "-map", "0:a", "-af", "volumedetect", "-f", "null", "-").CombinedOutput()
	require.NoError(t, err, "%s", out)
	m := regexp.MustCompile(`mean_volume: (-?[\d.]+) dB`).FindSubmatch(out)
	require.NotNil(t, m, "%s", out)
	v, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return v
}

// pictureSpread is how much the luma of a frame at time at varies in a region of it
// (an ffmpeg crop: w:h:x:y), 0 to 255: a uniform picture (the placeholder) is near 0, the
// test pattern far above.
func pictureSpread(t *testing.T, path string, at float64, region string) int {
	t.Helper()
	out, err := exec.Command(need(t, "ffmpeg"), "-v", "error", "-ss", strconv.FormatFloat(at, 'f', 2, 64), "-i", path,
		"-frames:v", "1", "-vf", "crop="+region+",scale=64:36", "-pix_fmt", "gray", "-f", "rawvideo", "pipe:1").Output()
	require.NoError(t, err)
	require.Len(t, out, 64*36, hex.EncodeToString(out[:min(16, len(out))]))
	lo, hi := 255, 0
	for _, b := range out {
		lo, hi = min(lo, int(b)), max(hi, int(b))
	}
	return hi - lo
}

// A room with a publisher is broadcast to an RTMP server on loopback: what it receives is
// H.264 and AAC, as long as the broadcast, the picture and the sound start together, the
// publisher's camera is seen and its sound heard.
func TestBroadcastReachesAnRTMPServer(t *testing.T) {
	c := newCastSetup(t, "4", "640x360")
	port := freePort(t)
	server := startRTMPServer(t, port)
	st := newStatuses()
	started := time.Now()
	b := startCast(t, c.room, port, st)
	require.True(t, c.room.Broadcasting(), "the room is told before the first frame")
	c.send(t)
	b.Close()
	length := time.Since(started).Seconds()
	require.False(t, c.room.Broadcasting())
	server.wait(t)
	st.wait(t, 0, "live", state(BroadcastLive))
	require.Equal(t, BroadcastStopped, b.Status().State)

	p := ffprobe(t, server.out)
	var codecs []string
	for _, s := range p.Streams {
		codecs = append(codecs, s.CodecName)
		if s.CodecType == "video" {
			require.Equal(t, castWidth, s.Width)
			require.Equal(t, castHeight, s.Height)
		}
	}
	require.ElementsMatch(t, []string{"h264", "aac"}, codecs)
	// The stream holds the 4 s of media sent, whatever the time ffmpeg took to start on
	// a busy machine, and never more than the broadcast lasted.
	require.InDelta(t, 4, p.Duration, 1, "the stream holds the media sent")
	require.LessOrEqual(t, p.Duration, length+0.5, "no longer than the broadcast")
	v, a := packetStarts(t, server.out)
	require.InDelta(t, v, a, 0.1, "picture and sound start together: video %.3f s, audio %.3f s", v, a)
	require.Greater(t, pictureSpread(t, server.out, p.Duration/2, "iw:ih*3/4:0:0"), 60, "the publisher's camera is shown")
	require.Greater(t, meanVolume(t, server.out), -40.0, "the publisher is heard")
	require.NoDirExists(t, b.p.Dir, "the working files go with the broadcast")
}

// A publisher shares a screen: the broadcast shows it, with the camera in the inset.
func TestBroadcastShowsTheScreenShareWithTheCameraInset(t *testing.T) {
	c := newCastSetup(t, "4", "640x360", true)
	port := freePort(t)
	server := startRTMPServer(t, port)
	b := startCast(t, c.room, port, newStatuses())
	c.send(t)
	b.Close()
	server.wait(t)
	p := ffprobe(t, server.out)
	at := p.Duration * 3 / 4
	require.Less(t, pictureSpread(t, server.out, at, "600:300:100:200"), 20, "the screen share (plain blue) is the picture")
	// The camera's first keyframe may come late on a busy machine: the inset shows it in
	// the second half of the stream.
	inset := fmt.Sprintf("%d:%d:%d:%d", insetWidth-40, insetWidth*9/16-40, castWidth-insetWidth-32+20, 32+20)
	spread := 0
	for _, share := range []float64{0.5, 0.75, 0.9} {
		spread = max(spread, pictureSpread(t, server.out, p.Duration*share, inset))
	}
	require.Greater(t, spread, 60, "the camera (test pattern) is in the inset")
}

// Targets that do not take the stream give a clear reason, keep being tried, and never
// show the key; the room goes on.
func TestBroadcastToARefusingTarget(t *testing.T) {
	c := newCastSetup(t, "1", "320x240")
	t.Run("nothing listens", func(t *testing.T) {
		st := newStatuses()
		b := startCast(t, c.room, freePort(t), st)
		got, _ := st.wait(t, 0, "an error", state(BroadcastRetrying))
		require.Equal(t, ReasonRefused, got.Reason)
		require.Contains(t, got.Error, "refused the connection")
		require.NotContains(t, got.Error, "secret-key")
		require.True(t, c.room.Broadcasting(), "it is tried again")
		b.Close()
		require.False(t, c.room.Broadcasting())
	})
	for _, tc := range []struct {
		name, scheme, reason, want string
	}{
		{"the server hangs up", "rtmp", ReasonRejected, "closed the connection before the stream started"},
		{"no TLS where rtmps is asked", "rtmps", ReasonTLS, "TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := hangingUp(t)
			st := newStatuses()
			b := startCastTo(t, c.room, fmt.Sprintf("%s://127.0.0.1:%d/live", tc.scheme, port), st)
			got, _ := st.wait(t, 0, "an error", state(BroadcastRetrying))
			require.Equal(t, tc.reason, got.Reason)
			require.Contains(t, got.Error, tc.want)
			require.NotContains(t, got.Error, "secret-key")
			b.Close()
		})
	}
	c.send(t) // the meeting's media still flows
}

// hangingUp listens on a port of loopback and closes every connection once it has read
// a little of it, as a server that is no RTMP server does.
func hangingUp(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	go func() { // owned by the test; ends when the listener closes
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = conn.Read(make([]byte, 64))
			_, _ = conn.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\n"))
			_ = conn.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// A server that takes the connection and then nothing (a host gone behind a firewall):
// once ffmpeg has taken nothing for the stall timeout, it is ended and tried again.
func TestBroadcastToAServerThatTakesNothing(t *testing.T) {
	c := newCastSetup(t, "3", "640x360")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	var held []net.Conn
	var mu sync.Mutex
	go func() { // owned by the test; ends when the listener closes
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, conn) // never read, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, conn := range held {
			_ = conn.Close()
		}
	})
	st := newStatuses()
	b := startCastTo(t, c.room, fmt.Sprintf("rtmp://127.0.0.1:%d/live", l.Addr().(*net.TCPAddr).Port), st, time.Second)
	c.send(t)
	got, _ := st.wait(t, 0, "the stall", state(BroadcastRetrying))
	require.Equal(t, ReasonStalled, got.Reason)
	require.Contains(t, got.Error, "stopped taking the stream")
	b.Close()
}

// The target drops mid-stream: the broadcast says so, and is received again once a
// server listens on the same port.
func TestBroadcastReconnectsAfterADrop(t *testing.T) {
	c := newCastSetup(t, "3", "320x240")
	port := freePort(t)
	first := startRTMPServer(t, port)
	st := newStatuses()
	b := startCast(t, c.room, port, st)
	_, seen := st.wait(t, 0, "live", state(BroadcastLive))
	require.NoError(t, first.cmd.Process.Kill())
	got, seen := st.wait(t, seen, "the drop", state(BroadcastRetrying))
	require.Equal(t, ReasonDropped, got.Reason)
	require.Contains(t, got.Error, "closed the connection")
	require.NotContains(t, got.Error, "secret-key")

	second := startRTMPServer(t, port)
	again, _ := st.wait(t, seen, "live again", state(BroadcastLive))
	require.GreaterOrEqual(t, again.Attempts, 2)
	c.send(t)
	b.Close()
	second.wait(t)
	p := ffprobe(t, second.out)
	var codecs []string
	for _, s := range p.Streams {
		codecs = append(codecs, s.CodecName)
	}
	require.ElementsMatch(t, []string{"h264", "aac"}, codecs)
	require.Greater(t, p.Duration, 2.0)
}

func TestTargetErrors(t *testing.T) {
	for _, tc := range []struct {
		line   string
		live   bool
		reason string
		want   string
	}{
		{"[tcp @ 0x1] Connection to tcp://127.0.0.1:1935 failed: Connection refused", false, ReasonRefused, "refused the connection"},
		{"[tcp @ 0x1] Failed to resolve hostname live.example: Name or service not known", false, ReasonUnresolved, "could not be resolved"},
		{"[tcp @ 0x1] Connection to tcp://10.1.2.3:1935 failed: Connection timed out", false, ReasonUnreachable, "in time"},
		{"[tls @ 0x1] Error in the push function.", false, ReasonTLS, "TLS"},
		{"[rtmp @ 0x1] Server error: Already publishing", false, ReasonServer, "says: Already publishing"},
		{"av_interleaved_write_frame(): Broken pipe", true, ReasonDropped, "closed the connection"},
		{"Error opening output rtmp://x/live/k: End of file", false, ReasonRejected, "before the stream started"},
		{"[rtmp @ 0x1] Cannot read RTMP handshake response", false, ReasonRejected, "before the stream started"},
		{"[tls @ 0x1] The TLS connection was non-properly terminated.", false, ReasonTLS, "TLS"},
		{"Stream mapping:", false, "", ""},
	} {
		got := targetError(tc.line, tc.live)
		require.Equal(t, tc.reason, got.reason, tc.line)
		require.Contains(t, got.text, tc.want, tc.line)
	}
}

func TestCheckTarget(t *testing.T) {
	for _, tc := range []struct {
		url, key string
		ok       bool
	}{
		{"rtmp://peertube.example:1935/live", "0f1e2d3c-aaaa", true},
		{"rtmps://live.example/app", "k", true},
		{"http://live.example/app", "k", false},
		{"rtmp://", "k", false},
		{"rtmp:///live", "k", false},
		{"rtmp://user:pass@live.example/app", "k", false},
		{"rtmp://live.example/app?x=1", "k", false},
		{"RTMP://live.example/app", "k", false},
		{"rtmp://live.example/app", "a b", false},
		{"rtmp://live.example/app", "a/b", false},
		{"rtmp://live.example/app x", "k", false},
		{"rtmp://live.example/" + strings.Repeat("a", 600), "k", false},
	} {
		err := CheckTarget(tc.url, tc.key)
		require.Equal(t, tc.ok, err == nil, "%s %s: %v", tc.url, tc.key, err)
	}
}

// testLogger writes the broadcast's logs to the test's when -v asks for them.
func testLogger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slogDiscard()
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
