package recording

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/sfu"
)

// TestReplayHoldsTheCaptionsAsWebVTT: captions told to the recorder while it records are
// a WebVTT track of the replay that ffprobe sees and ffmpeg extracts, and a WebVTT file of
// their own next to it, in step with the media; their log goes once the replay is built.
func TestReplayHoldsTheCaptionsAsWebVTT(t *testing.T) {
	video, audio := encodedMedia(t, "3")
	dir := t.TempDir()
	start := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	now := start
	rec, err := New(Params{Dir: dir, Clock: func() time.Time { return now }})
	require.NoError(t, err)
	for i, tr := range []testTrack{{"video", sfu.LabelCamera, 0, video}, {"audio", sfu.LabelMicrophone, 0, audio}} {
		codec := opus
		if tr.kind == "video" {
			codec = vp8
		}
		st := rec.AddTrack("pub", sfu.TrackInfo{ID: "pub~" + string(rune('0'+i)), Kind: tr.kind, Label: tr.label}, codec)
		require.NotNil(t, st)
		for _, p := range tr.packets {
			require.NoError(t, st.WriteRTP(&p.Header, p.Payload))
		}
		st.Close()
	}
	rec.Caption(sfu.Caption{Text: "Bonjour à tous", Lang: "fr", At: start.Add(500 * time.Millisecond)})
	rec.Caption(sfu.Caption{Text: "Welcome <everyone> & all", Lang: "en", At: start.Add(1500 * time.Millisecond), Automatic: true})
	rec.Close()
	require.Equal(t, CaptionLogName, rec.Manifest().Captions)

	ffmpeg, ffprobe := need(t, "ffmpeg"), need(t, "ffprobe")
	_, _, err = FinalizeAll(context.Background(), ffmpeg, ffprobe, dir)
	require.NoError(t, err)
	m, err := ReadManifest(dir)
	require.NoError(t, err)
	require.Equal(t, []string{ReplayName, CaptionsName}, m.Files())
	require.NoFileExists(t, filepath.Join(dir, CaptionLogName), "the log goes once the replay holds the captions")

	p, err := ProbeFile(context.Background(), ffprobe, filepath.Join(dir, ReplayName))
	require.NoError(t, err)
	var codecs []string
	for _, s := range p.Streams {
		codecs = append(codecs, s.CodecType+":"+s.CodecName)
	}
	require.ElementsMatch(t, []string{"video:vp8", "audio:opus", "subtitle:webvtt"}, codecs)

	out, err := exec.Command(ffmpeg, "-v", "error", "-i", filepath.Join(dir, ReplayName), "-map", "0:s", "-c:s", "copy", "-f", "webvtt", "-").Output()
	require.NoError(t, err)
	track := string(out)
	require.Contains(t, track, "Bonjour à tous")
	require.Contains(t, track, "Welcome &lt;everyone&gt; &amp; all")
	require.Contains(t, track, "00:00.500 --> 00:01.500", "the first caption lasts until the next")

	file, err := os.ReadFile(filepath.Join(dir, CaptionsName))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(file), "WEBVTT\n"))
	require.Contains(t, string(file), "00:00:01.500 --> 00:00:07.500\n<lang en>Welcome &lt;everyone&gt; &amp; all</lang>\n")
}

// TestWebVTTCues: each cue starts at its caption's time from the start, ends at the next
// or after maxCueTime, and carries its language; text cannot close a cue or add markup.
func TestWebVTTCues(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		captions []captionLine
		want     string
	}{
		{"none", nil, "WEBVTT\n"},
		{"before the start counts from 0", []captionLine{{At: start.Add(-time.Second), Text: "early", Lang: "en"}},
			"WEBVTT\n\n1\n00:00:00.000 --> 00:00:06.000\n<lang en>early</lang>\n"},
		{"two at once", []captionLine{{At: start.Add(time.Hour), Text: "a", Lang: "fr"}, {At: start.Add(time.Hour), Text: "b --> c", Lang: "fr"}},
			"WEBVTT\n\n1\n01:00:00.000 --> 01:00:01.000\n<lang fr>a</lang>\n\n2\n01:00:00.000 --> 01:00:06.000\n<lang fr>b --&gt; c</lang>\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := webVTT(tt.captions, start); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestReplayKeepsTheSlidesAndTheirTimeline: the PDFs presented while recording are kept,
// each once, and the replay's timeline says which page shows from which second; a deck
// attached before the recording starts is kept too; closing the slides ends them.
func TestReplayKeepsTheSlidesAndTheirTimeline(t *testing.T) {
	video, _ := encodedMedia(t, "3")
	dir := t.TempDir()
	start := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	rec, err := New(Params{Dir: dir, Clock: func() time.Time { return start }})
	require.NoError(t, err)
	rec.Slides(sfu.SlidesEvent{ID: "deck-a", PDF: []byte("%PDF-a"), Page: 2, At: start.Add(-time.Minute)})
	st := rec.AddTrack("pub", sfu.TrackInfo{ID: "pub~0", Kind: "video", Label: sfu.LabelCamera}, vp8)
	for _, p := range video {
		require.NoError(t, st.WriteRTP(&p.Header, p.Payload))
	}
	st.Close()
	rec.Slides(sfu.SlidesEvent{ID: "deck-a", Page: 3, At: start.Add(time.Second)})
	rec.Slides(sfu.SlidesEvent{ID: "deck-b", PDF: []byte("%PDF-b"), Page: 1, At: start.Add(1500 * time.Millisecond)})
	rec.Slides(sfu.SlidesEvent{ID: "unknown", Page: 4, At: start.Add(1600 * time.Millisecond)})
	rec.Slides(sfu.SlidesEvent{At: start.Add(2 * time.Second)})
	rec.Close()

	ffmpeg, ffprobe := need(t, "ffmpeg"), need(t, "ffprobe")
	_, _, err = FinalizeAll(context.Background(), ffmpeg, ffprobe, dir)
	require.NoError(t, err)
	m, err := ReadManifest(dir)
	require.NoError(t, err)
	require.Equal(t, []string{ReplayName, SlidesName, "slides-01.pdf", "slides-02.pdf"}, m.Files())
	require.NoFileExists(t, filepath.Join(dir, SlideLogName))
	b, err := os.ReadFile(filepath.Join(dir, "slides-02.pdf"))
	require.NoError(t, err)
	require.Equal(t, "%PDF-b", string(b))
	b, err = os.ReadFile(filepath.Join(dir, SlidesName))
	require.NoError(t, err)
	require.JSONEq(t, `{"pages": [
		{"t": 0, "file": "slides-01.pdf", "page": 2},
		{"t": 1, "file": "slides-01.pdf", "page": 3},
		{"t": 1.5, "file": "slides-02.pdf", "page": 1},
		{"t": 2}
	]}`, string(b))
}
