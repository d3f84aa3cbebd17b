package api_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"

	"webinaire/recording"
)

// s3Bucket is an S3-compatible server in the test process (gofakes3, the server rclone's
// "serve s3" is built on), with one bucket, spoken to over HTTP on loopback.
type s3Bucket struct {
	endpoint string
	client   *minio.Client
}

const testBucket = "recordings"

func newS3Bucket(t *testing.T) *s3Bucket {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	endpoint := strings.TrimPrefix(srv.URL, "http://")
	client, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4("test", "test-secret", ""), Secure: false})
	require.NoError(t, err)
	require.NoError(t, client.MakeBucket(context.Background(), testBucket, minio.MakeBucketOptions{}))
	return &s3Bucket{endpoint: endpoint, client: client}
}

func (b *s3Bucket) storage(t *testing.T, local recording.Folder) *recording.S3 {
	t.Helper()
	s, err := recording.NewS3(recording.S3Config{Endpoint: b.endpoint, Bucket: testBucket, AccessKey: "test", SecretKey: "test-secret", Insecure: true}, local)
	require.NoError(t, err)
	return s
}

// keys lists the objects of the bucket under prefix.
func (b *s3Bucket) keys(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	for obj := range b.client.ListObjects(context.Background(), testBucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		require.NoError(t, obj.Err)
		out = append(out, obj.Key)
	}
	return out
}
