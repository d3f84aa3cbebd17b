package api_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"webinaire/api"
	"webinaire/privacy"
	"webinaire/store"
)

// TestOrphansInMetricsAndMissingFilesShownToTheOwner: /metrics counts the recordings whose
// files no row names and the rows whose files are gone; a run deletes the first past their
// grace and marks the second, which their owner then sees in the list of recordings.
func TestOrphansInMetricsAndMissingFilesShownToTheOwner(t *testing.T) {
	for _, storage := range []string{"folder", "s3"} {
		t.Run(storage, func(t *testing.T) {
			t.Parallel()
			e := setup(t, "sqlite", options{metricsToken: metricsToken, s3: storage == "s3"})
			ctx := context.Background()
			owner, admin := e.browser(), e.browser()
			owner.Login(userOwner)
			admin.Login(userAdmin)
			w := createWebinar(owner, withoutLobby)

			// A recording that ended two days ago and whose files are gone.
			dbNow, err := e.store.Now(ctx)
			require.NoError(t, err)
			r, err := e.store.CreateRecording(ctx, w.ID, "", dbNow.Add(-49*time.Hour), dbNow.AddDate(1, 0, 0))
			require.NoError(t, err)
			ended := dbNow.Add(-48 * time.Hour)
			r.State, r.EndedAt = store.RecordingReady, &ended
			require.NoError(t, e.store.FinishRecording(ctx, r))
			// Files that no row names: in the local folder, last changed two days ago; in
			// the bucket, uploaded just now (inside the grace period).
			orphan := store.NewSecret()
			if e.bucket != nil {
				_, err := e.bucket.client.PutObject(ctx, testBucket, orphan+"/replay.webm", bytes.NewReader([]byte("webm")), 4, minio.PutObjectOptions{})
				require.NoError(t, err)
			} else {
				dir := filepath.Join(e.recordingsRoot, orphan)
				require.NoError(t, os.MkdirAll(dir, 0o700))
				require.NoError(t, os.WriteFile(filepath.Join(dir, "replay.webm"), []byte("webm"), 0o600))
				require.NoError(t, os.Chtimes(filepath.Join(dir, "replay.webm"), ended, ended))
				require.NoError(t, os.Chtimes(dir, ended, ended))
			}

			m := metricsText(t, e)
			require.Contains(t, m, `webinaire_retention_orphans{kind="files"} 1`)
			require.Contains(t, m, `webinaire_retention_orphans{kind="rows"} 0`)
			require.Nil(t, listRecordings(owner, w.ID)[0].FilesMissingAt)

			resp := admin.Do("POST", "/api/v1/admin/retention/run", nil, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			resp.Body.Close()

			e.clock.Advance(api.DefaultMetricsCache)
			m = metricsText(t, e)
			left := "0" // past its grace: deleted
			if e.bucket != nil {
				left = "1" // inside its grace: kept
				require.Len(t, e.bucket.keys(t, orphan+"/"), 1)
			} else {
				require.NoDirExists(t, filepath.Join(e.recordingsRoot, orphan))
			}
			require.Contains(t, m, `webinaire_retention_orphans{kind="files"} `+left)
			require.Contains(t, m, `webinaire_retention_orphans{kind="rows"} 1`)
			require.NotContains(t, m, orphan, "no id in metrics")
			list := listRecordings(owner, w.ID)
			require.Len(t, list, 1, "the row is kept")
			require.NotNil(t, list[0].FilesMissingAt, "its owner sees that its files are gone")
		})
	}
}

// TestTheRegisterNamesTheOrphanFilesSweep: the processing register, as the privacy notice,
// says what deletes the files that a failure left without a recording.
func TestTheRegisterNamesTheOrphanFilesSweep(t *testing.T) {
	e := setup(t, "sqlite", options{})
	resp, err := http.Get(e.base + "/api/v1/privacy/register")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var reg struct {
		Categories []registerLine `json:"categories"`
	}
	decode(t, resp, &reg)
	i := slices.IndexFunc(reg.Categories, func(l registerLine) bool { return l.Key == privacy.CategoryRecordings })
	require.GreaterOrEqual(t, i, 0)
	require.Equal(t, map[string]string{"fr": "purge des enregistrements ; purge des fichiers orphelins", "en": "recording sweep; orphan files sweep"},
		reg.Categories[i].EnforcedBy)
}
