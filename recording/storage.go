package recording

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// Folder keeps recordings on local disk: each recording's files in a folder named by
// its id under Root.
type Folder struct {
	// Root is the folder of all recordings (recordings.dir).
	Root string
}

// recordingID is the form of a recording id (store.NewSecret): nothing else reaches the
// file system.
var recordingID = regexp.MustCompile(`^[a-z2-7]{32}$`)

// ErrBadID is an id that is not a recording id.
var ErrBadID = errors.New("recording: not a recording id")

// Dir is the folder of a recording's files.
func (f Folder) Dir(id string) (string, error) {
	if !recordingID.MatchString(id) {
		return "", ErrBadID
	}
	if f.Root == "" {
		return "", errors.New("recording: no folder for recordings")
	}
	return filepath.Join(f.Root, id), nil
}

// DeleteRecording deletes a recording's files; files already gone are not an error.
func (f Folder) DeleteRecording(_ context.Context, id string) error {
	dir, err := f.Dir(id)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete recording files: %w", err)
	}
	return nil
}
