package recording

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"
)

// newTestBucket is an S3 storage on a bucket of an S3-compatible server in the test process
// (gofakes3), spoken to over HTTP on loopback.
func newTestBucket(t *testing.T) *S3 {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	s, err := NewS3(S3Config{Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "recordings", AccessKey: "test", SecretKey: "test-secret", Insecure: true}, Folder{Root: t.TempDir()})
	require.NoError(t, err)
	require.NoError(t, s.client.MakeBucket(context.Background(), "recordings", minio.MakeBucketOptions{}))
	return s
}

// appendText appends text after checking that the latest is want.
func appendText(t *testing.T, l *S3Log, want, text string) {
	t.Helper()
	require.NoError(t, l.Append(context.Background(), func(latest []byte) ([]byte, error) {
		require.Equal(t, want, string(latest))
		return []byte(text), nil
	}))
}

func TestS3LogAppendsInOrderAndNeverReplaces(t *testing.T) {
	ctx := context.Background()
	s := newTestBucket(t)
	l := s.CheckpointLog()
	_, err := l.Latest(ctx)
	require.ErrorIs(t, err, ErrNoObjects)
	_, err = l.All(ctx)
	require.ErrorIs(t, err, ErrNoObjects)

	appendText(t, l, "", "one\n")
	appendText(t, l, "one\n", "two\n")
	require.NoError(t, l.Append(ctx, func([]byte) ([]byte, error) { return nil, nil }), "nothing to add")
	latest, err := l.Latest(ctx)
	require.NoError(t, err)
	require.Equal(t, "two\n", string(latest))

	// Another node, with no memory of what this one wrote, appends after it.
	other := s.CheckpointLog()
	appendText(t, other, "two\n", "three\n")
	appendText(t, l, "three\n", "four\n")
	all, err := other.All(ctx)
	require.NoError(t, err)
	require.Equal(t, "one\n\ntwo\n\nthree\n\nfour\n\n", string(all), "each followed by an empty line, as in a file")

	// Objects that are not the log's are not read as its own.
	_, err = s.client.PutObject(ctx, "recordings", CheckpointPrefix+"notes.txt", strings.NewReader("x"), 1, minio.PutObjectOptions{})
	require.NoError(t, err)
	var keys []string
	for obj := range s.client.ListObjects(ctx, "recordings", minio.ListObjectsOptions{Prefix: CheckpointPrefix, Recursive: true}) {
		require.NoError(t, obj.Err)
		keys = append(keys, obj.Key)
	}
	require.Equal(t, []string{
		CheckpointPrefix + "00000000000000000001", CheckpointPrefix + "00000000000000000002",
		CheckpointPrefix + "00000000000000000003", CheckpointPrefix + "00000000000000000004",
		CheckpointPrefix + "notes.txt",
	}, keys)
	latest, err = s.CheckpointLog().Latest(ctx)
	require.NoError(t, err)
	require.Equal(t, "four\n", string(latest))
}

// Nodes that append at once never overwrite each other: every text is kept, each after
// the one its writer saw as the latest.
func TestS3LogConcurrentAppendsLoseNothing(t *testing.T) {
	ctx := context.Background()
	s := newTestBucket(t)
	const nodes, each = 4, 5
	var wg sync.WaitGroup
	for n := range nodes {
		wg.Go(func() {
			l := s.CheckpointLog()
			for i := range each {
				require.NoError(t, l.Append(ctx, func(latest []byte) ([]byte, error) {
					after := "none"
					if f := strings.Fields(string(latest)); len(f) > 0 {
						after = f[0]
					}
					return fmt.Appendf(nil, "%d.%d %s\n", n, i, after), nil
				}))
			}
		})
	}
	wg.Wait()
	all, err := s.CheckpointLog().All(ctx)
	require.NoError(t, err)
	texts := strings.Split(strings.TrimSuffix(string(all), "\n\n"), "\n\n")
	require.Len(t, texts, nodes*each, "every text kept")
	prev := "none"
	seen := map[string]bool{}
	for _, text := range texts {
		f := strings.Fields(text)
		require.Len(t, f, 2, text)
		require.Equal(t, prev, f[1], "%q was written after the one before it", text)
		require.False(t, seen[f[0]], "%s written once", f[0])
		seen[f[0]], prev = true, f[0]
	}
}
