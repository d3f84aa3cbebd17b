package recording

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// Recordings lists, in order, up to limit ids after the id after of the recordings that
// have a folder under Root. Names that are not recording ids are left out.
func (f Folder) Recordings(_ context.Context, after string, limit int) ([]string, error) {
	if f.Root == "" {
		return nil, errors.New("recording: no folder for recordings")
	}
	entries, err := os.ReadDir(f.Root) // sorted by name
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if len(ids) == limit {
			break
		}
		if e.IsDir() && e.Name() > after && recordingID.MatchString(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// Modified is the last change of a recording's folder or of a file in it; the zero time
// when it has no folder.
func (f Folder) Modified(_ context.Context, id string) (time.Time, error) {
	dir, err := f.Dir(id)
	if err != nil {
		return time.Time{}, err
	}
	info, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("recording modified: %w", err)
	}
	last := info.ModTime()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return time.Time{}, fmt.Errorf("recording modified: %w", err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("recording modified: %w", err)
		}
		if info.ModTime().After(last) {
			last = info.ModTime()
		}
	}
	return last, nil
}

// Recordings lists, in order, up to limit ids after the id after of the recordings that
// have objects in the bucket or a local folder. The bucket is listed one level deep
// ("<id>/"), a page of at most limit prefixes.
func (s *S3) Recordings(ctx context.Context, after string, limit int) ([]string, error) {
	ids, err := s.Local.Recordings(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing once it has enough
	opts := minio.ListObjectsOptions{MaxKeys: limit}
	if after != "" {
		// Every key of the recording after ("<id>/<file>") sorts before "<id>0", and every
		// later id after it.
		opts.StartAfter = after + "0"
	}
	n := 0
	for obj := range s.client.ListObjects(ctx, s.bucket, opts) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list recordings: %w", obj.Err)
		}
		id, ok := strings.CutSuffix(obj.Key, "/")
		if !ok || !recordingID.MatchString(id) || id <= after {
			continue
		}
		ids = append(ids, id)
		if n++; n == limit {
			break
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return ids[:min(len(ids), limit)], nil
}

// Modified is the last change of a recording's objects or local folder; the zero time when
// it has neither.
func (s *S3) Modified(ctx context.Context, id string) (time.Time, error) {
	last, err := s.Local.Modified(ctx, id)
	if err != nil {
		return time.Time{}, err
	}
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: id + "/", Recursive: true}) {
		if obj.Err != nil {
			return time.Time{}, fmt.Errorf("recording modified: %w", obj.Err)
		}
		if obj.LastModified.After(last) {
			last = obj.LastModified
		}
	}
	return last, nil
}
