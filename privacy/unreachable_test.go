package privacy

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/recording"
	"webinaire/store"
)

// twoNodes is the recording files as a node of a cluster deletes them: its own folder,
// and the folder of another node, which keeps the recordings far names and answers
// while down is false (the api package's RecordingFiles, whose cluster tests run real
// nodes).
type twoNodes struct {
	recording.Folder // this node's
	other            recording.Folder
	far              map[string]bool
	down             atomic.Bool
}

func (n *twoNodes) DeleteRecording(ctx context.Context, id string) error {
	if !n.far[id] {
		return n.Folder.DeleteRecording(ctx, id)
	}
	if n.down.Load() {
		return fmt.Errorf("files of recording %s on node-b: %w", id, ErrFilesUnreachable)
	}
	return n.other.DeleteRecording(ctx, id)
}

func newTwoNodes(t *testing.T) *twoNodes {
	return &twoNodes{Folder: recording.Folder{Root: t.TempDir()}, other: recording.Folder{Root: t.TempDir()}, far: map[string]bool{}}
}

// recordingOn gives subject's account a recording of a webinar at at, kept by the other
// node when far is set.
func (f *fixture) recordingOn(n *twoNodes, far bool, subject string, at time.Time) string {
	f.t.Helper()
	folder := n.Folder
	if far {
		folder = n.other
	}
	id := f.recordingOf(folder, subject, at)
	n.far[id] = far
	return id
}

// hasFiles tells whether recording id has a folder in folder.
func hasFiles(t *testing.T, folder recording.Folder, id string) bool {
	t.Helper()
	m, err := folder.Modified(context.Background(), id)
	require.NoError(t, err)
	return !m.IsZero()
}

// recordingRows lists the ids of the recording rows.
func (f *fixture) recordingRows() []string {
	f.t.Helper()
	var ids []string
	require.NoError(f.t, f.st.QueryForTest(f.ctx, &ids, `SELECT id FROM recordings ORDER BY id`))
	return ids
}

// ledgerNames lists the ledger's entries as "category|rule|stores|name".
func (f *fixture) ledgerNames() []string {
	f.t.Helper()
	var out []string
	for _, e := range f.entries() {
		out = append(out, e.Category+"|"+e.Rule+"|"+e.Stores+"|"+f.names[e.ObjectHash])
	}
	slices.Sort(out)
	return out
}

func TestRecordingsOfANodeThatDoesNotAnswerAreLeftForTheNextRun(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		n := newTwoNodes(t)
		f := setup(t, driver, func(p *EngineParams) { p.Recordings = n })
		f.organizer("active", time.Hour)
		here := f.recordingOn(n, false, "active", testNow.Add(-400*day))
		there := f.recordingOn(n, true, "active", testNow.Add(-400*day))
		f.names[f.ledger.ObjectHash(here)], f.names[f.ledger.ObjectHash(there)] = "here", "there"
		// Inactive accounts: one whose recording the other node keeps, one whose is here.
		gone := f.organizer("gone", 400*day)
		ofGone := f.recordingOn(n, true, "gone", testNow.Add(-10*day))
		f.organizer("gone-too", 400*day)
		ofGoneToo := f.recordingOn(n, false, "gone-too", testNow.Add(-10*day))

		n.down.Store(true)
		rep, err := f.eng.Run(f.ctx)
		require.NoError(t, err, "a node that does not answer does not fail the run")
		require.Equal(t, []CategoryReport{
			{Category: CategoryRecordings, Rule: unreachableReason, Count: 1, IDs: []string{there}},
			{Category: CategoryAccounts, Rule: unreachableReason, Count: 1, IDs: []string{gone}},
		}, rep.Left)
		require.EqualValues(t, 1, rep.Counts()[CategoryRecordings], "the recording here is deleted")
		require.EqualValues(t, 1, rep.Counts()[CategoryAccounts], "the account with nothing elsewhere is deleted")
		require.False(t, hasFiles(t, n.Folder, here))
		require.False(t, hasFiles(t, n.Folder, ofGoneToo))
		require.True(t, hasFiles(t, n.other, there))
		require.True(t, hasFiles(t, n.other, ofGone))
		require.ElementsMatch(t, []string{there, ofGone}, f.recordingRows(), "the rows of the files left stay")
		_, err = f.st.Organizer(f.ctx, gone)
		require.NoError(t, err, "the account of a recording left stays")
		var marked int64
		require.NoError(t, f.st.QueryForTest(f.ctx, &marked, `SELECT count(*) FROM organizers WHERE purge_marked_at IS NOT NULL`))
		require.Zero(t, marked, "and is not marked: the next run starts it again")
		require.Equal(t, []string{
			"accounts|account inactive for 12 months|database,files|gone-too",
			"recordings|recording 12 months after the webinar|database,files|here",
		}, f.ledgerNames(), "no entry for what is left")

		// The node answers again: the next run deletes what was left.
		n.down.Store(false)
		rep, err = f.eng.Run(f.ctx)
		require.NoError(t, err)
		require.Empty(t, rep.Left)
		require.False(t, hasFiles(t, n.other, there))
		require.False(t, hasFiles(t, n.other, ofGone))
		require.Empty(t, f.recordingRows())
		_, err = f.st.Organizer(f.ctx, gone)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.Equal(t, []string{
			"accounts|account inactive for 12 months|database,files|gone",
			"accounts|account inactive for 12 months|database,files|gone-too",
			"recordings|recording 12 months after the webinar|database,files|here",
			"recordings|recording 12 months after the webinar|database,files|there",
		}, f.ledgerNames())
	})
}

func TestErasureWaitsForTheNodeOfItsRecordings(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		n := newTwoNodes(t)
		f := setup(t, driver)
		rights := NewRights(f.st, f.ledger, DefaultPolicy(), n)
		me := f.organizer("me", time.Hour)
		here := f.recordingOn(n, false, "me", testNow.Add(-10*day))
		there := f.recordingOn(n, true, "me", testNow.Add(-10*day))
		f.names[f.ledger.ObjectHash(here)], f.names[f.ledger.ObjectHash(there)] = "here", "there"

		n.down.Store(true)
		_, err := rights.Erase(f.ctx, me, testNow)
		require.ErrorIs(t, err, ErrFilesUnreachable)
		_, err = f.st.Organizer(f.ctx, me)
		require.NoError(t, err, "the account stays while a recording's files cannot go")
		require.False(t, hasFiles(t, n.Folder, here))
		require.True(t, hasFiles(t, n.other, there))
		require.Equal(t, []string{there}, f.recordingRows(), "the recording whose files went is deleted")
		require.Equal(t, []string{"recordings|" + eraseRule + "|database,files|here"}, f.ledgerNames())

		n.down.Store(false)
		_, err = rights.Erase(f.ctx, me, testNow)
		require.NoError(t, err)
		_, err = f.st.Organizer(f.ctx, me)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.False(t, hasFiles(t, n.other, there))
		require.Empty(t, f.recordingRows())
		require.Equal(t, []string{
			"accounts|" + eraseRule + "|database,files|me",
			"recordings|" + eraseRule + "|database,files|here",
		}, f.ledgerNames())
	})
}

func TestOrphansSweepOfANodeMarksOnlyItsOwnRecordings(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		folder := recording.Folder{Root: t.TempDir()}
		f := setup(t, driver, func(p *EngineParams) { p.Recordings, p.RecordingNode = folder, "node-a" })
		f.organizer("owner", time.Hour)
		w := &store.Webinar{OrganizerID: f.ids["owner"], Title: "Recorded", Kind: store.KindWebinar, StartsAt: testNow.Add(-10 * day), DurationMinutes: 60}
		require.NoError(t, f.st.CreateWebinar(f.ctx, w, testNow.Add(-10*day)))
		// Three finished recordings without files in node-a's folder.
		ended := testNow.Add(-10*day + time.Hour)
		ids := map[string]string{}
		for _, node := range []string{"node-a", "node-b", ""} {
			r, err := f.st.CreateRecording(f.ctx, w.ID, node, testNow.Add(-10*day), testNow.Add(300*day))
			require.NoError(t, err)
			r.State, r.EndedAt = store.RecordingReady, &ended
			require.NoError(t, f.st.FinishRecording(f.ctx, r))
			ids[node] = r.ID
		}
		_, err := f.eng.Run(f.ctx)
		require.NoError(t, err)
		want := []string{ids["node-a"], ids[""]}
		slices.Sort(want)
		require.Equal(t, want, f.filesMissing(), "node-b's files are in node-b's folder")
	})
}

func TestScheduledRunLogsWhatItLeft(t *testing.T) {
	n := newTwoNodes(t)
	var logs bytes.Buffer // read once the engine's goroutine has ended
	f := setup(t, store.DriverSQLite, func(p *EngineParams) {
		p.Recordings, p.Interval = n, time.Hour
		p.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	f.organizer("active", time.Hour)
	f.recordingOn(n, true, "active", testNow.Add(-400*day))
	n.down.Store(true)
	ran := make(chan error, 1)
	f.eng.ran = func(_ Report, err error) { ran <- err }
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	// Owned by the test; ends when ctx is cancelled.
	go func() {
		defer close(done)
		f.eng.Start(ctx)
	}()
	require.NoError(t, <-ran)
	cancel()
	<-done
	require.Contains(t, logs.String(), `msg="retention run left objects for the next run" category=recordings count=1`)
}
