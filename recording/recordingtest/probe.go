// Package recordingtest reads recordings with ffprobe for the tests of the packages that
// make them.
package recordingtest

import (
	"context"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"webinaire/recording"
)

// Tool finds ffmpeg or ffprobe; deploy/test.sh installs them (Debian package ffmpeg).
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	require.NoError(t, err, "%s is needed (Debian package ffmpeg; deploy/test.sh installs it)", name)
	return path
}

// Probe is what ffprobe says of a file.
type Probe = recording.Probe

// Read runs ffprobe on path.
func Read(t testing.TB, path string) Probe {
	t.Helper()
	p, err := recording.ProbeFile(context.Background(), Tool(t, "ffprobe"), path)
	require.NoError(t, err)
	return p
}
