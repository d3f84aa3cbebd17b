package recording

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ReplayName is the replay file of a recording, next to its tracks.
const ReplayName = "replay.webm"

// BuildReplay makes the one file a recording is watched as: the main video and every
// audio track mixed into one, each placed at the time it started. The main video is the
// longest screen share if there is one (a slide or a demo is what people came for), else
// the longest camera. Video is copied, not re-encoded; the audio is mixed and encoded in
// Opus. Once ffprobe finds the replay's streams and duration, the per-track files go and
// the manifest names the replay; if anything fails, the tracks stay as they were and the
// error says why, so that the build can be tried again.
func BuildReplay(ctx context.Context, ffmpeg, ffprobe, dir string) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	if m.Replay != "" {
		return nil
	}
	var video *TrackFile
	var videoSize int64
	var audio []TrackFile
	start := time.Time{}
	for i, t := range m.Tracks {
		info, err := os.Stat(filepath.Join(dir, t.File))
		if err != nil {
			continue // a track that never had a frame
		}
		if start.IsZero() || t.Started.Before(start) {
			start = t.Started
		}
		switch t.Kind {
		case "audio":
			audio = append(audio, t)
		case "video":
			screen := t.Label == "screen"
			var better bool
			switch {
			case video == nil:
				better = true
			case screen != (video.Label == "screen"):
				better = screen
			default:
				better = info.Size() > videoSize
			}
			if better {
				video, videoSize = &m.Tracks[i], info.Size()
			}
		}
	}
	if video == nil && len(audio) == 0 {
		return errors.New("build replay: nothing was recorded")
	}
	var args []string
	var inputs []TrackFile
	if video != nil {
		inputs = append(inputs, *video)
	}
	inputs = append(inputs, audio...)
	for _, t := range inputs {
		offset := t.Started.Sub(start).Seconds()
		args = append(args, "-itsoffset", strconv.FormatFloat(offset, 'f', 3, 64), "-i", filepath.Join(dir, t.File))
	}
	// The captions, if any, are the last input, without an offset: their times count
	// from the start already.
	captions := m.Captions == CaptionLogName
	if captions {
		lines, err := readLog[captionLine](filepath.Join(dir, CaptionLogName))
		if err != nil {
			return fmt.Errorf("build replay: %w", err)
		}
		vtt := filepath.Join(dir, CaptionsName)
		if err := os.WriteFile(vtt, []byte(webVTT(lines, start)), 0o600); err != nil {
			return fmt.Errorf("build replay: %w", err)
		}
		args = append(args, "-i", vtt)
	}
	if video != nil {
		args = append(args, "-map", "0:v", "-c:v", "copy")
	}
	first := 0
	if video != nil {
		first = 1
	}
	switch len(audio) {
	case 0:
	case 1:
		args = append(args, "-map", strconv.Itoa(first)+":a")
	default:
		var labels strings.Builder
		for i := range audio {
			fmt.Fprintf(&labels, "[%d:a]", first+i)
		}
		args = append(args, "-filter_complex", fmt.Sprintf("%samix=inputs=%d:normalize=0:dropout_transition=0[mix]", labels.String(), len(audio)), "-map", "[mix]")
	}
	if len(audio) > 0 {
		args = append(args, "-c:a", "libopus", "-b:a", "96k")
	}
	if captions {
		args = append(args, "-map", strconv.Itoa(len(inputs))+":s", "-c:s", "copy")
	}
	tmp := filepath.Join(dir, ReplayName+".new")
	args = append([]string{"-v", "error", "-y"}, append(args, "-f", "webm", tmp)...)
	if out, err := exec.CommandContext(ctx, ffmpeg, args...).CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("build replay: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if err := verifyReplay(ctx, ffprobe, tmp, video != nil, len(audio) > 0, captions); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("build replay: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ReplayName)); err != nil {
		return fmt.Errorf("build replay: %w", err)
	}
	m.Replay = ReplayName
	if captions {
		m.Captions = CaptionsName
	}
	slides := m.Slides == SlideLogName
	if slides {
		if err := buildTimeline(dir, start); err != nil {
			return fmt.Errorf("build replay: %w", err)
		}
		m.Slides = SlidesName
	}
	if err := writeManifest(dir, m); err != nil {
		return err
	}
	if slides {
		if err := os.Remove(filepath.Join(dir, SlideLogName)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("build replay: %w", err)
		}
	}
	if captions {
		if err := os.Remove(filepath.Join(dir, CaptionLogName)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("build replay: %w", err)
		}
	}
	// Verified and named: the tracks may go.
	var errs []error
	for _, t := range m.Tracks {
		if err := os.Remove(filepath.Join(dir, t.File)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// verifyReplay checks with ffprobe that a replay has the streams it should and a
// duration.
func verifyReplay(ctx context.Context, ffprobe, path string, video, audio, captions bool) error {
	p, err := ProbeFile(ctx, ffprobe, path)
	if err != nil {
		return fmt.Errorf("check replay: %w", err)
	}
	var hasVideo, hasAudio, hasCaptions bool
	for _, s := range p.Streams {
		hasVideo = hasVideo || s.CodecType == "video"
		hasAudio = hasAudio || s.CodecType == "audio"
		hasCaptions = hasCaptions || s.CodecType == "subtitle"
	}
	if hasVideo != video || hasAudio != audio || hasCaptions != captions || p.Duration <= 0 {
		return fmt.Errorf("check replay: streams video=%t audio=%t captions=%t, duration %.1f s", hasVideo, hasAudio, hasCaptions, p.Duration)
	}
	return nil
}
