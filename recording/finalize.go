package recording

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Finalize rewrites a recorded WebM file with its duration and cues, so that players
// show its length and seek in it: ffmpeg copies its frames into a new file, which then
// replaces it. It is what ends a recording, and what repairs one that a crash left
// without them; the frames are not re-encoded. On error the file is left as it was.
func Finalize(ctx context.Context, ffmpeg, path string) error {
	tmp := path + ".final.webm"
	cmd := exec.CommandContext(ctx, ffmpeg, "-v", "error", "-y", "-i", path, "-c", "copy", "-f", "webm", tmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("finalize %s: %w: %s", path, err, strings.TrimSpace(string(out)))
	}
	info, err := os.Stat(tmp)
	if err != nil || info.Size() == 0 {
		_ = os.Remove(tmp)
		return fmt.Errorf("finalize %s: %w", path, errors.Join(errors.New("no output"), err))
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("finalize %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("finalize %s: %w", path, err)
	}
	return nil
}
