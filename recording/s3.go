package recording

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config names an S3-compatible bucket.
type S3Config struct {
	// Endpoint is the server's host and port, without a scheme: "s3.example.org:443".
	Endpoint string
	// Bucket keeps the recordings, under "<recording id>/<file>".
	Bucket string
	// Region of the bucket; may be empty.
	Region string
	// AccessKey and SecretKey authenticate (AWS signature v4).
	AccessKey, SecretKey string
	// Insecure talks http instead of https: for a server on the same host only.
	Insecure bool
}

// S3 keeps finished recordings in an S3-compatible bucket, for several nodes to serve
// them. A recording is written and finalized in Local, then uploaded by Put, which frees
// the local folder.
type S3 struct {
	Local  Folder
	client *minio.Client
	bucket string
}

// NewS3 connects to the bucket of cfg; it does not call the server.
func NewS3(cfg S3Config, local Folder) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("recording: S3 endpoint and bucket are required")
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: !cfg.Insecure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("recording: S3 client: %w", err)
	}
	return &S3{Local: local, client: client, bucket: cfg.Bucket}, nil
}

// Dir is the local folder a recording is written in.
func (s *S3) Dir(id string) (string, error) { return s.Local.Dir(id) }

func key(id, file string) string { return id + "/" + file }

// Put uploads a finished recording's files, the manifest last (a recording is in the
// bucket once its manifest is), then deletes the local folder.
func (s *S3) Put(ctx context.Context, id string) error {
	dir, err := s.Local.Dir(id)
	if err != nil {
		return err
	}
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	for _, file := range append(m.Files(), ManifestName) {
		path := filepath.Join(dir, file)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && file != ManifestName {
			continue // a track that never had a frame
		}
		contentType := "video/webm"
		if file == ManifestName {
			contentType = "application/json"
		}
		if _, err := s.client.FPutObject(ctx, s.bucket, key(id, file), path, minio.PutObjectOptions{ContentType: contentType}); err != nil {
			return fmt.Errorf("upload %s of recording: %w", file, err)
		}
	}
	return s.Local.DeleteRecording(ctx, id)
}

// Manifest reads a recording's manifest from the bucket, or from the local folder while
// the recording is not uploaded yet.
func (s *S3) Manifest(ctx context.Context, id string) (Manifest, error) {
	if m, err := s.Local.Manifest(ctx, id); err == nil {
		return m, nil
	}
	if !recordingID.MatchString(id) {
		return Manifest{}, ErrBadID
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key(id, ManifestName), minio.GetObjectOptions{})
	if err != nil {
		return Manifest{}, fmt.Errorf("read manifest: %w", err)
	}
	defer obj.Close()
	var m Manifest
	if err := json.NewDecoder(obj).Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("read manifest: %w", err)
	}
	return m, nil
}

// Open opens a file of a recording in the bucket (or in the local folder before it is
// uploaded); the object reads and seeks with ranged requests.
func (s *S3) Open(ctx context.Context, id, file string) (io.ReadSeekCloser, time.Time, error) {
	if f, mod, err := s.Local.Open(ctx, id, file); err == nil {
		return f, mod, nil
	}
	if !recordingID.MatchString(id) || !fileName.MatchString(file) {
		return nil, time.Time{}, ErrBadID
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key(id, file), minio.GetObjectOptions{})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("open recording file: %w", err)
	}
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, time.Time{}, fmt.Errorf("open recording file: %w", err)
	}
	return obj, info.LastModified, nil
}

// DeleteRecording deletes every object of a recording, and its local folder if any.
func (s *S3) DeleteRecording(ctx context.Context, id string) error {
	if err := s.Local.DeleteRecording(ctx, id); err != nil {
		return err
	}
	objects := s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: id + "/", Recursive: true})
	for err := range s.client.RemoveObjects(ctx, s.bucket, objects, minio.RemoveObjectsOptions{}) {
		return fmt.Errorf("delete recording objects: %w", err.Err)
	}
	return nil
}
