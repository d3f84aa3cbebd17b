// Package recordingtest reads recordings with ffprobe for the tests of the packages that
// make them.
package recordingtest

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// Tool finds ffmpeg or ffprobe; deploy/test.sh installs them (Debian package ffmpeg).
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	require.NoError(t, err, "%s is needed (Debian package ffmpeg; deploy/test.sh installs it)", name)
	return path
}

// Stream is a stream of a file as ffprobe sees it.
type Stream struct {
	CodecName string `json:"codec_name"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
}

// Probe is what ffprobe says of a file: its streams and its duration in seconds, 0 when
// the file does not say (a file written live, not finalized).
type Probe struct {
	Streams  []Stream
	Duration float64
}

// Read runs ffprobe on path.
func Read(t testing.TB, path string) Probe {
	t.Helper()
	out, err := exec.Command(Tool(t, "ffprobe"), "-v", "error", "-show_entries", "stream=codec_name,width,height:format=duration", "-of", "json", path).Output()
	require.NoError(t, err)
	var raw struct {
		Streams []Stream `json:"streams"`
		Format  struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	require.NoError(t, json.Unmarshal(out, &raw), "%s", out)
	p := Probe{Streams: raw.Streams}
	if d, err := strconv.ParseFloat(raw.Format.Duration, 64); err == nil {
		p.Duration = d
	}
	return p
}
