package privacy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"

	"webinaire/recording"
	"webinaire/store"
)

// testStorage is a recording storage the tests put files in with the modification time
// they choose: a local folder, or an in-process S3 server (gofakes3) with a local folder.
type testStorage struct {
	t       *testing.T
	storage recording.Storage
	local   recording.Folder
	// For the bucket: its client, and the clock its objects' times come from.
	client *minio.Client
	clock  *settableTime
}

const testBucket = "recordings"

// settableTime is the bucket's clock of modification times.
type settableTime struct {
	mu  sync.Mutex
	now time.Time
}

func (s *settableTime) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *settableTime) Since(t time.Time) time.Duration { return s.Now().Sub(t) }

func (s *settableTime) set(t time.Time) {
	s.mu.Lock()
	s.now = t
	s.mu.Unlock()
}

// eachStorage runs fn on a local folder and on an S3 bucket.
func eachStorage(t *testing.T, fn func(t *testing.T, s *testStorage)) {
	for _, kind := range []string{"folder", "s3"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := &testStorage{t: t, local: recording.Folder{Root: filepath.Join(t.TempDir(), "recordings")}}
			s.storage = s.local
			if kind == "s3" {
				s.clock = &settableTime{now: testNow}
				srv := httptest.NewServer(gofakes3.New(s3mem.New(s3mem.WithTimeSource(s.clock))).Server())
				t.Cleanup(srv.Close)
				endpoint := strings.TrimPrefix(srv.URL, "http://")
				client, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4("test", "test-secret", "")})
				require.NoError(t, err)
				require.NoError(t, client.MakeBucket(context.Background(), testBucket, minio.MakeBucketOptions{}))
				s.client = client
				s.storage, err = recording.NewS3(recording.S3Config{Endpoint: endpoint, Bucket: testBucket,
					AccessKey: "test", SecretKey: "test-secret", Insecure: true}, s.local)
				require.NoError(t, err)
			}
			fn(t, s)
		})
	}
}

// put gives the recording id files last changed at: in the bucket when there is one (a
// finished recording), else in the local folder.
func (s *testStorage) put(id string, at time.Time) {
	s.t.Helper()
	if s.client != nil {
		s.clock.set(at)
		for _, file := range []string{"replay.webm", recording.ManifestName} {
			_, err := s.client.PutObject(context.Background(), testBucket, id+"/"+file, bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{})
			require.NoError(s.t, err)
		}
		return
	}
	s.putLocal(id, at)
}

// putLocal gives the recording id a local folder with a file, last changed at.
func (s *testStorage) putLocal(id string, at time.Time) {
	s.t.Helper()
	dir, err := s.local.Dir(id)
	require.NoError(s.t, err)
	require.NoError(s.t, os.MkdirAll(dir, 0o700))
	file := filepath.Join(dir, "01-video.webm")
	require.NoError(s.t, os.WriteFile(file, []byte("webm"), 0o600))
	require.NoError(s.t, os.Chtimes(file, at, at))
	require.NoError(s.t, os.Chtimes(dir, at, at))
}

// has tells whether the recording id has files anywhere.
func (s *testStorage) has(id string) bool {
	s.t.Helper()
	ids, err := s.storage.Recordings(context.Background(), "", 1000)
	require.NoError(s.t, err)
	return slices.Contains(ids, id)
}

// orphanData is what the orphan tests put in the database and the storage.
type orphanData struct {
	kept      []string // rows with their files
	lost      string   // a row whose files are gone, ended 10 days ago
	fresh     string   // a row started an hour ago whose folder is not there yet
	old       string   // files that no row names, last changed 25 h ago
	young     string   // files that no row names, last changed 23 h ago
	writing   string   // files that no row names, in a local folder written an hour ago
	strangers []string // names in the storage that are not recording ids
}

func (f *fixture) orphanData(s *testStorage) orphanData {
	f.t.Helper()
	f.organizer("owner", time.Hour)
	w := &store.Webinar{OrganizerID: f.ids["owner"], Title: "Recorded", Kind: store.KindWebinar, StartsAt: testNow.Add(-10 * day), DurationMinutes: 60}
	require.NoError(f.t, f.st.CreateWebinar(f.ctx, w, testNow.Add(-10*day)))
	row := func(started time.Time, ended *time.Time) string {
		r, err := f.st.CreateRecording(f.ctx, w.ID, "", started, testNow.Add(300*day))
		require.NoError(f.t, err)
		if ended != nil {
			r.State, r.EndedAt = store.RecordingReady, ended
			require.NoError(f.t, f.st.FinishRecording(f.ctx, r))
		}
		return r.ID
	}
	var d orphanData
	ended := testNow.Add(-10*day + time.Hour)
	for range 3 {
		id := row(testNow.Add(-10*day), &ended)
		s.put(id, testNow.Add(-10*day))
		d.kept = append(d.kept, id)
	}
	d.lost = row(testNow.Add(-10*day), &ended)
	d.fresh = row(testNow.Add(-time.Hour), nil)
	d.old, d.young, d.writing = store.NewSecret(), store.NewSecret(), store.NewSecret()
	s.put(d.old, testNow.Add(-25*time.Hour))
	s.put(d.young, testNow.Add(-23*time.Hour))
	s.putLocal(d.writing, testNow.Add(-time.Hour))
	// A file in the folder of the old orphan that changed recently would keep it: here the
	// folder of the row-less recording being written has an old folder but a new file.
	require.NoError(f.t, os.MkdirAll(filepath.Join(s.local.Root, "lost+found"), 0o700))
	d.strangers = []string{"lost+found"}
	for _, id := range []string{d.old, d.young, d.writing} {
		f.names[f.ledger.ObjectHash(id)] = "orphan"
	}
	return d
}

// filesMissing lists the recordings marked as having lost their files.
func (f *fixture) filesMissing() []string {
	f.t.Helper()
	var ids []string
	require.NoError(f.t, f.st.QueryForTest(f.ctx, &ids, `SELECT id FROM recordings WHERE files_missing_at IS NOT NULL ORDER BY id`))
	return ids
}

func withStorage(s *testStorage) func(*EngineParams) {
	return func(p *EngineParams) { p.Recordings = s.storage }
}

func TestOrphanFilesGoAfterTheirGraceAndRowsWithoutFilesAreMarked(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		eachStorage(t, func(t *testing.T, s *testStorage) {
			f := setup(t, driver, withStorage(s))
			d := f.orphanData(s)
			rule := "recording files that no recording names, 24h after their last change"
			missingRule := "recording files gone, 24h after the recording"

			files, rows, err := f.eng.Orphans(f.ctx)
			require.NoError(t, err)
			require.Equal(t, [2]int64{3, 0}, [2]int64{files, rows}, "orphans before the run: old, young, writing; no row marked")
			overdue, err := f.eng.Overdue(f.ctx)
			require.NoError(t, err)
			require.EqualValues(t, 1, overdue[CategoryRecordings], "only the old orphan is past its grace")

			plan, err := f.eng.Plan(f.ctx)
			require.NoError(t, err)
			require.Contains(t, plan.Categories, CategoryReport{Category: CategoryRecordings, Rule: rule, Count: 1, IDs: []string{d.old}})
			require.Equal(t, []CategoryReport{{Category: CategoryRecordings, Rule: missingRule, Count: 1, IDs: []string{d.lost}}}, plan.Marked)
			require.True(t, s.has(d.old), "a plan deletes nothing")
			require.Empty(t, f.filesMissing(), "a plan marks nothing")

			rep, err := f.eng.Run(f.ctx)
			require.NoError(t, err)
			require.Contains(t, rep.Categories, CategoryReport{Category: CategoryRecordings, Rule: rule, Count: 1, IDs: []string{d.old}})
			require.Equal(t, plan.Marked, rep.Marked, "the run marks what the plan said")
			require.EqualValues(t, 1, rep.Counts()[CategoryRecordings], "marked rows are not counted as deleted")
			for id, want := range map[string]bool{d.old: false, d.young: true, d.writing: true, d.kept[0]: true, d.kept[1]: true, d.kept[2]: true} {
				require.Equal(t, want, s.has(id), "files of %s", id)
			}
			require.DirExists(t, filepath.Join(s.local.Root, d.strangers[0]), "what is not a recording is left alone")
			require.Equal(t, []string{d.lost}, f.filesMissing(), "the row whose files are gone is marked, the fresh one is not")
			var rowCount int64
			require.NoError(t, f.st.QueryForTest(f.ctx, &rowCount, `SELECT count(*) FROM recordings`))
			require.EqualValues(t, 5, rowCount, "no row is deleted")

			var entries []string
			for _, e := range f.entries() {
				entries = append(entries, fmt.Sprintf("%s|%s|%d|%s|%s", e.Category, e.Rule, e.Count, e.Stores, f.names[e.ObjectHash]))
				require.Equal(t, f.ledger.ObjectHash(d.old), e.ObjectHash, "the entry names the orphan by its keyed hash")
			}
			require.Equal(t, []string{"recordings|" + rule + "|1|files|orphan"}, entries)

			files, rows, err = f.eng.Orphans(f.ctx)
			require.NoError(t, err)
			require.Equal(t, [2]int64{2, 1}, [2]int64{files, rows})

			// Again: nothing more to do, no entry twice.
			rep, err = f.eng.Run(f.ctx)
			require.NoError(t, err)
			require.EqualValues(t, 0, rep.Counts()[CategoryRecordings])
			require.EqualValues(t, 0, rep.Marked[0].Count)
			require.Len(t, f.entries(), 1)

			// The lost files come back (a restored bucket): the mark goes.
			s.put(d.lost, testNow.Add(-10*day))
			_, err = f.eng.Run(f.ctx)
			require.NoError(t, err)
			require.Empty(t, f.filesMissing())
		})
	})
}

func TestOrphansSweepCrashAtEveryStepConverges(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		eachStorage(t, func(t *testing.T, s *testStorage) {
			var steps []string
			clean := setup(t, driver, withStorage(s), withHook(func(sweep, step string) error {
				if sweep == "orphans" {
					steps = append(steps, step)
				}
				return nil
			}))
			d := clean.orphanData(s)
			_, err := clean.eng.Run(clean.ctx)
			require.NoError(t, err)
			want := clean.state()
			unique := slices.Clone(steps)
			slices.Sort(unique)
			require.Equal(t, []string{"mark", "missing", "objects", "rows"}, slices.Compact(unique))
			require.Contains(t, want.Ledger, "recordings|recording files that no recording names, 24h after their last change|1|orphan")
			wantMissing := clean.filesMissing()
			require.Equal(t, []string{d.lost}, wantMissing)

			crash := errors.New("crash")
			for i, step := range steps {
				t.Run(fmt.Sprintf("%02d_%s", i, step), func(t *testing.T) {
					eachStorage(t, func(t *testing.T, s *testStorage) {
						calls := 0
						f := setup(t, driver, withStorage(s), withHook(func(sweep, step string) error {
							if sweep != "orphans" {
								return nil
							}
							calls++
							if calls == i+1 {
								return crash
							}
							return nil
						}))
						d := f.orphanData(s)
						_, err := f.eng.Run(f.ctx)
						require.ErrorIs(t, err, crash)

						if step == "mark" {
							// Stopped after the mark: a plan names the orphan once, as a run will delete it.
							plan, err := f.eng.Plan(f.ctx)
							require.NoError(t, err)
							require.EqualValues(t, 1, plan.Counts()[CategoryRecordings])
						}
						_, err = f.engine(withStorage(s)).Run(f.ctx)
						require.NoError(t, err)
						require.Equal(t, want, f.state())
						require.Equal(t, []string{d.lost}, f.filesMissing())
						require.False(t, s.has(d.old))
						require.True(t, s.has(d.young))
						_, err = f.verify(nil)
						require.NoError(t, err)
					})
				})
			}
		})
	})
}
