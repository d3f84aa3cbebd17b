package recording

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
	"github.com/stretchr/testify/require"

	"webinaire/sfu"
)

var (
	vp8  = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}
	opus = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}
)

// need finds a program the tests run; deploy/test.sh installs ffmpeg.
func need(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	require.NoError(t, err, "%s is needed (Debian package ffmpeg; deploy/test.sh installs it)", name)
	return path
}

// encodedMedia makes seconds of real VP8 (320x240, 30 fps, a keyframe a second) and
// Opus (20 ms packets) with ffmpeg, as RTP packets.
func encodedMedia(t testing.TB, seconds string) (video, audio []*rtp.Packet) {
	return encodeMedia(t, seconds, "320x240", "300k")
}

// encodeMedia makes seconds of VP8 of the given size and bit rate and of Opus, as RTP.
func encodeMedia(t testing.TB, seconds, size, bitrate string) (video, audio []*rtp.Packet) {
	t.Helper()
	return encodeMediaOf(t, "testsrc", seconds, size, bitrate)
}

// encodeMediaOf makes seconds of VP8 of a picture of ffmpeg's lavfi (testsrc, a color),
// of the given size and bit rate, and of Opus, as RTP.
func encodeMediaOf(t testing.TB, picture, seconds, size, bitrate string) (video, audio []*rtp.Packet) {
	t.Helper()
	ffmpeg := need(t, "ffmpeg")
	dir := t.TempDir()
	ivf, ogg := filepath.Join(dir, "v.ivf"), filepath.Join(dir, "a.ogg")
	run := func(args ...string) {
		out, err := exec.Command(ffmpeg, append([]string{"-v", "error", "-y"}, args...)...).CombinedOutput()
		require.NoError(t, err, "ffmpeg: %s", out)
	}
	sep := "="
	if strings.Contains(picture, "=") {
		sep = ":" // options given already
	}
	run("-f", "lavfi", "-i", picture+sep+"size="+size+":rate=30", "-t", seconds, "-c:v", "libvpx", "-b:v", bitrate, "-deadline", "realtime", "-cpu-used", "8", "-g", "30", "-f", "ivf", ivf)
	run("-f", "lavfi", "-i", "sine=frequency=440", "-t", seconds, "-c:a", "libopus", "-b:a", "48k", "-page_duration", "20000", "-f", "ogg", ogg)

	f, err := os.Open(ivf)
	require.NoError(t, err)
	defer f.Close()
	r, _, err := ivfreader.NewWith(f)
	require.NoError(t, err)
	vp := rtp.NewPacketizer(1200, 96, 1, &codecs.VP8Payloader{EnablePictureID: true}, rtp.NewRandomSequencer(), 90000)
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		video = append(video, vp.Packetize(frame, 3000)...)
	}

	g, err := os.Open(ogg)
	require.NoError(t, err)
	defer g.Close()
	o, _, err := oggreader.NewWith(g)
	require.NoError(t, err)
	ap := rtp.NewPacketizer(1200, 111, 2, &codecs.OpusPayloader{}, rtp.NewRandomSequencer(), 48000)
	for {
		page, _, err := o.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if bytes.HasPrefix(page, []byte("OpusTags")) {
			continue
		}
		audio = append(audio, ap.Packetize(page, 960)...)
	}
	return video, audio
}

// lastPacketTime is the time of a file's last packet, read frame by frame: a file
// written live has no duration in its header.
func lastPacketTime(t *testing.T, path string) float64 {
	t.Helper()
	out, err := exec.Command(need(t, "ffprobe"), "-v", "error", "-show_entries", "packet=pts_time", "-of", "csv=p=0", path).Output()
	require.NoError(t, err)
	lines := strings.Fields(string(out))
	require.NotEmpty(t, lines)
	v, err := strconv.ParseFloat(lines[len(lines)-1], 64)
	require.NoError(t, err)
	return v
}

type probe = Probe

// ffprobe reads a file's streams and duration, and decodes it whole: an error of the
// decoder fails the test.
func ffprobe(t *testing.T, path string) probe {
	t.Helper()
	p, err := ProbeFile(context.Background(), need(t, "ffprobe"), path)
	require.NoError(t, err)
	decoded, err := exec.Command(need(t, "ffmpeg"), "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	require.NoError(t, err)
	require.Empty(t, string(decoded), "decoding %s", path)
	return p
}

func TestRecorderWritesPlayableWebM(t *testing.T) {
	video, audio := encodedMedia(t, "3")
	dir := filepath.Join(t.TempDir(), "rec-1")
	var mu sync.Mutex
	var failures []error
	rec, err := New(Params{Dir: dir, OnError: func(err error) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, err)
	}})
	require.NoError(t, err)
	vt := rec.AddTrack("pub", sfu.TrackInfo{ID: "pub~1", Kind: "video", Label: sfu.LabelCamera}, vp8)
	at := rec.AddTrack("pub", sfu.TrackInfo{ID: "pub~2", Kind: "audio", Label: sfu.LabelMicrophone}, opus)
	require.NotNil(t, vt)
	require.NotNil(t, at)
	require.Nil(t, rec.AddTrack("pub", sfu.TrackInfo{ID: "pub~3", Kind: "video"}, webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "video/AV1"}}), "a codec it cannot record is left out")
	// Interleaved as they arrive, a video frame per 1.5 audio packets.
	for i, j := 0, 0; i < len(video) || j < len(audio); {
		if i < len(video) {
			require.NoError(t, vt.WriteRTP(&video[i].Header, video[i].Payload))
			i++
		}
		if j < len(audio) && (i >= len(video) || j*len(video) < i*len(audio)) {
			require.NoError(t, at.WriteRTP(&audio[j].Header, audio[j].Payload))
			j++
		}
	}
	vt.Close()
	at.Close()
	rec.Close()
	require.Empty(t, failures)

	m := rec.Manifest()
	require.Len(t, m.Tracks, 2)
	var onDisk Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &onDisk))
	require.Equal(t, m, onDisk)

	videoFile, audioFile := filepath.Join(dir, m.Tracks[0].File), filepath.Join(dir, m.Tracks[1].File)
	// As written live: every frame there, no duration yet.
	require.InDelta(t, 3.0, lastPacketTime(t, videoFile), 0.1)
	require.InDelta(t, 3.0, lastPacketTime(t, audioFile), 0.1)
	for _, f := range []string{videoFile, audioFile} {
		require.NoError(t, Finalize(context.Background(), need(t, "ffmpeg"), f))
	}
	v := ffprobe(t, videoFile)
	require.Len(t, v.Streams, 1)
	require.Equal(t, "vp8", v.Streams[0].CodecName)
	require.Equal(t, 320, v.Streams[0].Width)
	require.Equal(t, 240, v.Streams[0].Height)
	require.InDelta(t, 3.0, v.Duration, 0.1)
	a := ffprobe(t, audioFile)
	require.Equal(t, "opus", a.Streams[0].CodecName)
	require.InDelta(t, 3.0, a.Duration, 0.1)
	info, err := os.Stat(videoFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "recordings are readable by the server only")
}

// failingFile fails every write after the first n bytes, as a full disk does.
type failingFile struct {
	n      int
	closed bool
}

func (f *failingFile) Write(b []byte) (int, error) {
	if f.n < len(b) {
		return 0, errors.New("no space left on device")
	}
	f.n -= len(b)
	return len(b), nil
}

func (f *failingFile) Close() error { f.closed = true; return nil }

func TestTrackStopsOnAFullDiskAndSaysWhy(t *testing.T) {
	video, _ := encodedMedia(t, "1")
	file := &failingFile{n: 20000}
	failed := make(chan error, 4)
	w, err := newTrackWriter(vp8, func() (io.WriteCloser, error) { return file, nil }, slogDiscard(), nil, func(err error) { failed <- err })
	require.NoError(t, err)
	for _, p := range video {
		require.NoError(t, w.WriteRTP(&p.Header, p.Payload), "the media path is never refused")
	}
	w.Close()
	require.ErrorContains(t, <-failed, "no space left on device")
	require.True(t, file.closed, "what was written is kept and closed")
}

func slogDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// A recording cut short, as a killed server leaves it, plays up to where it stops once
// repaired; a file that is no WebM is refused and left as it was.
func TestFinalizeRepairsACutRecording(t *testing.T) {
	video, _ := encodedMedia(t, "3")
	dir := t.TempDir()
	rec, err := New(Params{Dir: dir})
	require.NoError(t, err)
	vt := rec.AddTrack("pub", sfu.TrackInfo{ID: "pub~1", Kind: "video"}, vp8)
	for _, p := range video {
		require.NoError(t, vt.WriteRTP(&p.Header, p.Payload))
	}
	vt.Close()
	rec.Close()
	path := filepath.Join(dir, rec.Manifest().Tracks[0].File)
	whole, err := os.ReadFile(path)
	require.NoError(t, err)
	cut := filepath.Join(dir, "cut.webm")
	require.NoError(t, os.WriteFile(cut, whole[:len(whole)*6/10+7], 0o600), "cut in the middle of a frame")

	ffmpeg := need(t, "ffmpeg")
	require.NoError(t, Finalize(context.Background(), ffmpeg, cut))
	p := ffprobe(t, cut)
	require.Equal(t, "vp8", p.Streams[0].CodecName)
	require.Greater(t, p.Duration, 1.0)
	require.Less(t, p.Duration, 2.5)

	junk := filepath.Join(dir, "junk.webm")
	require.NoError(t, os.WriteFile(junk, []byte("not a recording"), 0o600))
	require.Error(t, Finalize(context.Background(), ffmpeg, junk))
	b, err := os.ReadFile(junk)
	require.NoError(t, err)
	require.Equal(t, "not a recording", string(b))
	_, err = os.Stat(junk + ".final.webm")
	require.True(t, os.IsNotExist(err), "no leftover")
}

// recordTracks records the packets as tracks of one recording in dir, each starting at
// the given offset from the first.
func recordTracks(t *testing.T, dir string, tracks []testTrack) Manifest {
	t.Helper()
	start := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	var now time.Time
	rec, err := New(Params{Dir: dir, Clock: func() time.Time { return now }})
	require.NoError(t, err)
	for i, tr := range tracks {
		now = start.Add(tr.offset)
		codec := opus
		if tr.kind == "video" {
			codec = vp8
		}
		st := rec.AddTrack("pub", sfu.TrackInfo{ID: fmt.Sprintf("pub~%d", i), Kind: tr.kind, Label: tr.label}, codec)
		require.NotNil(t, st)
		for _, p := range tr.packets {
			require.NoError(t, st.WriteRTP(&p.Header, p.Payload))
		}
		st.Close()
	}
	rec.Close()
	return rec.Manifest()
}

type testTrack struct {
	kind    string
	label   sfu.Label
	offset  time.Duration
	packets []*rtp.Packet
}

func TestReplayMixesTheAudioOverTheScreenShare(t *testing.T) {
	video, audio := encodedMedia(t, "3")
	screen, _ := encodedMedia(t, "2")
	dir := t.TempDir()
	m := recordTracks(t, dir, []testTrack{
		{"video", sfu.LabelCamera, 0, video},
		{"audio", sfu.LabelMicrophone, 0, audio},
		{"video", sfu.LabelScreen, time.Second, screen},
		{"audio", sfu.LabelMicrophone, time.Second, audio},
	})
	ffmpeg, ffprobe := need(t, "ffmpeg"), need(t, "ffprobe")
	size, sum, err := FinalizeAll(context.Background(), ffmpeg, ffprobe, dir)
	require.NoError(t, err)
	got, err := ReadManifest(dir)
	require.NoError(t, err)
	require.Equal(t, ReplayName, got.Replay)
	require.Equal(t, []string{ReplayName}, got.Files())
	for _, tr := range m.Tracks {
		require.NoFileExists(t, filepath.Join(dir, tr.File), "verified: the tracks are gone")
	}
	info, err := os.Stat(filepath.Join(dir, ReplayName))
	require.NoError(t, err)
	require.Equal(t, info.Size(), size)
	require.Len(t, sum, 64)

	p, err := ProbeFile(context.Background(), ffprobe, filepath.Join(dir, ReplayName))
	require.NoError(t, err)
	var codecs []string
	for _, s := range p.Streams {
		codecs = append(codecs, s.CodecName)
	}
	require.ElementsMatch(t, []string{"vp8", "opus"}, codecs, "one video, one mixed audio")
	require.InDelta(t, 3.0, p.Duration, 0.3, "the screen share, placed at 1 s, ends at 3 s; the first microphone too")

	// Built once: a second call changes nothing.
	require.NoError(t, BuildReplay(context.Background(), ffmpeg, ffprobe, dir))
}

func TestAReplayThatFailsKeepsTheTracks(t *testing.T) {
	video, _ := encodedMedia(t, "1")
	dir := t.TempDir()
	m := recordTracks(t, dir, []testTrack{{"video", sfu.LabelCamera, 0, video}})
	track := filepath.Join(dir, m.Tracks[0].File)
	require.NoError(t, os.WriteFile(track, []byte("damaged"), 0o600))
	err := BuildReplay(context.Background(), need(t, "ffmpeg"), need(t, "ffprobe"), dir)
	require.Error(t, err)
	b, err := os.ReadFile(track)
	require.NoError(t, err)
	require.Equal(t, "damaged", string(b), "the track stays for another try")
	got, err := ReadManifest(dir)
	require.NoError(t, err)
	require.Empty(t, got.Replay)
	require.NoFileExists(t, filepath.Join(dir, ReplayName+".new"))
}
