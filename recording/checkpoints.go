package recording

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
)

// CheckpointPrefix is where the deletion ledger's checkpoints are kept in the bucket: not a
// recording id, so no recording's folder can be taken for it.
const CheckpointPrefix = "ledger-checkpoints/"

// appendAttempts bounds the tries of an append that other writers keep overtaking; each
// waits a little longer, at random, before trying again.
const appendAttempts = 32

// ErrNoObjects says that a log in the bucket has no object yet.
var ErrNoObjects = errors.New("recording: no checkpoint in the bucket")

// S3Log is an append-only log of small texts in the bucket of an S3 storage, one object
// each, "<prefix><sequence number on 20 digits>": the deletion ledger keeps its signed
// checkpoints there when recordings go to S3, outside the database and shared by every
// node. An object is only ever created, never replaced: a write asks the server to refuse
// it when the object exists (If-None-Match: *), so two nodes that append at once cannot
// overwrite each other; the one overtaken reads the newer latest and tries again.
type S3Log struct {
	client *minio.Client
	bucket string
	prefix string

	mu   sync.Mutex
	last string // the key of the latest object seen, where listing starts again
}

// CheckpointLog returns the log of the deletion ledger's checkpoints in s's bucket.
func (s *S3) CheckpointLog() *S3Log {
	return &S3Log{client: s.client, bucket: s.bucket, prefix: CheckpointPrefix}
}

// Append calls next with the latest text of the log (nil when there is none) and adds what
// it returns as the next object (nothing when nil). When another writer has added one in
// the meantime, next is called again with that one.
func (l *S3Log) Append(ctx context.Context, next func(latest []byte) ([]byte, error)) error {
	for attempt := range appendAttempts {
		key, latest, err := l.latest(ctx)
		if err != nil && !errors.Is(err, ErrNoObjects) {
			return err
		}
		text, err := next(latest)
		if err != nil || text == nil {
			return err
		}
		seq := uint64(0)
		if key != "" {
			if seq, err = l.seq(key); err != nil {
				return err
			}
		}
		newKey := l.key(seq + 1)
		opts := minio.PutObjectOptions{ContentType: "text/plain; charset=utf-8"}
		opts.SetMatchETagExcept("*") // create only
		_, err = l.client.PutObject(ctx, l.bucket, newKey, bytes.NewReader(text), int64(len(text)), opts)
		if err == nil {
			l.remember(newKey)
			return nil
		}
		if resp := minio.ToErrorResponse(err); resp.StatusCode != 412 && resp.Code != "PreconditionFailed" {
			return fmt.Errorf("checkpoint log: put %s: %w", newKey, err)
		}
		// Overtaken: another writer made that object; read it and try again.
		select {
		case <-time.After(time.Duration(rand.IntN(attempt+1)+1) * 10 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fmt.Errorf("checkpoint log: overtaken %d times in a row", appendAttempts)
}

// Latest returns the text of the latest object; ErrNoObjects when there is none.
func (l *S3Log) Latest(ctx context.Context) ([]byte, error) {
	_, text, err := l.latest(ctx)
	return text, err
}

// All returns every text of the log, in order, each followed by an empty line: the form of
// a checkpoint log in a file.
func (l *S3Log) All(ctx context.Context) ([]byte, error) {
	keys, err := l.keys(ctx, "")
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w under %s", ErrNoObjects, l.prefix)
	}
	var out bytes.Buffer
	for _, k := range keys {
		text, err := l.get(ctx, k)
		if err != nil {
			return nil, err
		}
		out.Write(text)
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

// latest finds the latest object, listing from the last one seen, and reads it.
func (l *S3Log) latest(ctx context.Context) (string, []byte, error) {
	l.mu.Lock()
	from := l.last
	l.mu.Unlock()
	keys, err := l.keys(ctx, from)
	if err != nil {
		return "", nil, err
	}
	key := from
	if len(keys) > 0 {
		key = keys[len(keys)-1]
	}
	if key == "" {
		return "", nil, fmt.Errorf("%w under %s", ErrNoObjects, l.prefix)
	}
	text, err := l.get(ctx, key)
	if err != nil {
		return "", nil, err
	}
	l.remember(key)
	return key, text, nil
}

// keys lists the log's objects after the key after (all when empty), in order: the
// sequence numbers have a fixed width, so the bucket's order is theirs.
func (l *S3Log) keys(ctx context.Context, after string) ([]string, error) {
	var out []string
	for obj := range l.client.ListObjects(ctx, l.bucket, minio.ListObjectsOptions{Prefix: l.prefix, StartAfter: after, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("checkpoint log: list: %w", obj.Err)
		}
		if _, err := l.seq(obj.Key); err != nil {
			continue // not one of ours
		}
		out = append(out, obj.Key)
	}
	return out, nil
}

func (l *S3Log) get(ctx context.Context, key string) ([]byte, error) {
	obj, err := l.client.GetObject(ctx, l.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("checkpoint log: get %s: %w", key, err)
	}
	defer obj.Close()
	text, err := io.ReadAll(io.LimitReader(obj, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("checkpoint log: read %s: %w", key, err)
	}
	return text, nil
}

func (l *S3Log) remember(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if key > l.last {
		l.last = key
	}
}

func (l *S3Log) key(seq uint64) string { return fmt.Sprintf("%s%020d", l.prefix, seq) }

func (l *S3Log) seq(key string) (uint64, error) {
	s, ok := strings.CutPrefix(key, l.prefix)
	if !ok || len(s) != 20 {
		return 0, fmt.Errorf("checkpoint log: %q is not one of its objects", key)
	}
	return strconv.ParseUint(s, 10, 64)
}
