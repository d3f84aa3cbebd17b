package privacy

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/recording"
	"webinaire/store"
)

// recordingOf gives subject's account a webinar of at with a recording whose files are
// in folder, expiring a year after the webinar.
func (f *fixture) recordingOf(folder recording.Folder, subject string, at time.Time) string {
	f.t.Helper()
	w := &store.Webinar{OrganizerID: f.ids[subject], Title: "Recorded", Kind: store.KindWebinar, StartsAt: at, DurationMinutes: 60}
	require.NoError(f.t, f.st.CreateWebinar(f.ctx, w, at))
	r, err := f.st.CreateRecording(f.ctx, w.ID, "", at, at.AddDate(0, DefaultPolicy().Recordings.Months, DefaultPolicy().Recordings.Days))
	require.NoError(f.t, err)
	dir, err := folder.Dir(r.ID)
	require.NoError(f.t, err)
	require.NoError(f.t, os.MkdirAll(dir, 0o700))
	require.NoError(f.t, os.WriteFile(filepath.Join(dir, "01-video.webm"), []byte("webm"), 0o600))
	f.names[f.ledger.ObjectHash(r.ID)] = "recording of " + subject
	return r.ID
}

func TestRecordingsAreDeletedAYearAfterTheirWebinarFilesFirst(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		folder := recording.Folder{Root: t.TempDir()}
		var steps []string
		f := setup(t, driver, func(p *EngineParams) {
			p.Recordings = folder
			p.Hook = func(sweep, step string) error {
				if sweep == "recordings" {
					steps = append(steps, step)
				}
				return nil
			}
		})
		f.organizer("active", time.Hour)
		old := f.recordingOf(folder, "active", testNow.Add(-400*day))
		recent := f.recordingOf(folder, "active", testNow.Add(-300*day))
		// An inactive account's recording goes with the account, files included.
		f.organizer("gone", 400*day)
		ofGone := f.recordingOf(folder, "gone", testNow.Add(-10*day))

		plan, err := f.eng.Plan(f.ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, plan.Counts()[CategoryRecordings])
		for _, id := range []string{old, recent, ofGone} {
			dir, _ := folder.Dir(id)
			require.DirExists(t, dir, "a plan deletes nothing")
		}

		_, err = f.eng.Run(f.ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"objects", "rows"}, steps, "files first, then the rows")
		for id, kept := range map[string]bool{old: false, recent: true, ofGone: false} {
			dir, _ := folder.Dir(id)
			if kept {
				require.DirExists(t, dir)
			} else {
				require.NoDirExists(t, dir)
			}
		}
		left, err := f.st.RecordingsInState(f.ctx, "", store.RecordingActive)
		require.NoError(t, err)
		require.Len(t, left, 1)
		require.Equal(t, recent, left[0].ID)

		var recorded []string
		for _, e := range f.entries() {
			if e.Category == CategoryRecordings {
				recorded = append(recorded, f.names[e.ObjectHash])
				require.Equal(t, "database,files", e.Stores)
			}
		}
		require.Equal(t, []string{"recording of active"}, recorded, "one ledger entry, no personal data")
	})
}
