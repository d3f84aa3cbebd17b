package recording

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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

// FinalizeAll finalizes every file of the recording in dir, then builds its replay
// (BuildReplay). It returns the size and SHA-256 of what the recording is kept as: the
// replay, or the track files in the manifest's order when the replay could not be built.
// A file that cannot be finalized is kept as it was, and the error says which.
func FinalizeAll(ctx context.Context, ffmpeg, ffprobe, dir string) (size int64, sum string, err error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return 0, "", err
	}
	var errs []error
	var paths []string
	for _, t := range m.Tracks {
		path := filepath.Join(dir, t.File)
		if _, statErr := os.Stat(path); errors.Is(statErr, os.ErrNotExist) {
			continue // a track that never had a frame to write, or already in the replay
		}
		if err := Finalize(ctx, ffmpeg, path); err != nil {
			errs = append(errs, err)
		}
		paths = append(paths, path)
	}
	if m.Replay == "" && len(errs) == 0 {
		if err := BuildReplay(ctx, ffmpeg, ffprobe, dir); err != nil {
			errs = append(errs, fmt.Errorf("replay not built, the tracks are kept: %w", err))
		}
	}
	if m, err := ReadManifest(dir); err == nil && m.Replay != "" {
		paths = []string{filepath.Join(dir, m.Replay)}
	}
	size, sum, err = sumFiles(paths)
	return size, sum, errors.Join(append(errs, err)...)
}

// sumFiles is the total size and the SHA-256 of the files' contents, one after another.
func sumFiles(paths []string) (int64, string, error) {
	h := sha256.New()
	var size int64
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return 0, "", fmt.Errorf("checksum: %w", err)
		}
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return 0, "", fmt.Errorf("checksum %s: %w", filepath.Base(path), err)
		}
		size += n
	}
	return size, hex.EncodeToString(h.Sum(nil)), nil
}
