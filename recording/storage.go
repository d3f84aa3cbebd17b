package recording

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Storage keeps the files of recordings, by recording id. A recording is always written
// and finalized in a local folder (Dir); Put then keeps it where the storage keeps
// finished recordings.
type Storage interface {
	// Dir is the local folder a recording is written and finalized in.
	Dir(id string) (string, error)
	// Put keeps a finished recording (its manifest and files); a storage elsewhere than
	// the local folder uploads them and then frees the folder.
	Put(ctx context.Context, id string) error
	// Manifest reads the manifest of a recording.
	Manifest(ctx context.Context, id string) (Manifest, error)
	// Open opens a file of a recording, with its modification time.
	Open(ctx context.Context, id, file string) (io.ReadSeekCloser, time.Time, error)
	// DeleteRecording deletes every file of a recording; files already gone are not an
	// error.
	DeleteRecording(ctx context.Context, id string) error
	// Recordings lists, in order, up to limit ids after the id after of the recordings
	// that have files; the orphans sweep pages through it.
	Recordings(ctx context.Context, after string, limit int) ([]string, error)
	// Modified is the last change of a recording's files; the zero time when it has none.
	Modified(ctx context.Context, id string) (time.Time, error)
}

// Folder keeps recordings on local disk: each recording's files in a folder named by
// its id under Root.
type Folder struct {
	// Root is the folder of all recordings (recordings.dir).
	Root string
}

// recordingID is the form of a recording id (store.NewSecret): nothing else reaches the
// file system or a bucket.
var recordingID = regexp.MustCompile(`^[a-z2-7]{32}$`)

// fileName is the form of a recording's file name.
var fileName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,63}$`)

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

// Put does nothing: the files are where they are kept.
func (f Folder) Put(context.Context, string) error { return nil }

// Manifest reads a recording's manifest.
func (f Folder) Manifest(_ context.Context, id string) (Manifest, error) {
	dir, err := f.Dir(id)
	if err != nil {
		return Manifest{}, err
	}
	return ReadManifest(dir)
}

// Open opens a file of a recording.
func (f Folder) Open(_ context.Context, id, file string) (io.ReadSeekCloser, time.Time, error) {
	dir, err := f.Dir(id)
	if err != nil {
		return nil, time.Time{}, err
	}
	if !fileName.MatchString(file) {
		return nil, time.Time{}, fmt.Errorf("recording: bad file name %q", file)
	}
	fh, err := os.Open(filepath.Join(dir, file))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("open recording file: %w", err)
	}
	info, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, time.Time{}, fmt.Errorf("open recording file: %w", err)
	}
	return fh, info.ModTime(), nil
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
