package recording

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
)

// Stream is a stream of a media file as ffprobe sees it.
type Stream struct {
	CodecName string `json:"codec_name"`
	CodecType string `json:"codec_type"` // video or audio
	Width     int    `json:"width"`
	Height    int    `json:"height"`
}

// Probe is what ffprobe says of a media file: its streams and its duration in seconds,
// 0 when the file does not say (a file written live, not finalized).
type Probe struct {
	Streams  []Stream
	Duration float64
}

// ProbeFile runs ffprobe on path.
func ProbeFile(ctx context.Context, ffprobe, path string) (Probe, error) {
	out, err := exec.CommandContext(ctx, ffprobe, "-v", "error",
		"-show_entries", "stream=codec_name,codec_type,width,height:format=duration", "-of", "json", path).Output()
	if err != nil {
		return Probe{}, fmt.Errorf("ffprobe %s: %w", path, err)
	}
	var raw struct {
		Streams []Stream `json:"streams"`
		Format  struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return Probe{}, fmt.Errorf("ffprobe %s: %w", path, err)
	}
	p := Probe{Streams: raw.Streams}
	if d, err := strconv.ParseFloat(raw.Format.Duration, 64); err == nil {
		p.Duration = d
	}
	return p, nil
}
