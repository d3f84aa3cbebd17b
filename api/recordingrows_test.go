package api_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/api"
	"webinaire/recording"
	"webinaire/recording/recordingtest"
	"webinaire/store"
)

// Two nodes share one database, each with its recording manager (its node id, its
// folder) keeping its rows in the store as a server does. Node B's repair, as at its
// start, leaves alone a recording that node A runs now and one that a crash of A left;
// A's repair finalizes the one its crash left, not the one it runs, which it then stops
// and finalizes.
func TestRecordingRepairStaysOnItsNode(t *testing.T) {
	recordingtest.Tool(t, "ffprobe")
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		ctx := t.Context()
		owner := e.browser()
		owner.Login(userOwner)
		live, cut := createWebinar(owner, withoutLobby), createWebinar(owner, withoutLobby)
		o := connectRTC(t, e, joinAsOwner(owner, live.ID))
		o.waitJoined()
		o.publish()
		room, ok := e.sfu.Room(live.RoomID)
		require.True(t, ok)

		rows := api.RecordingRows(e.store)
		folders := map[string]recording.Folder{}
		managers := map[string]*recording.Manager{}
		for _, node := range []string{"node-a", "node-b"} {
			folders[node] = recording.Folder{Root: filepath.Join(t.TempDir(), node)}
			m, err := recording.NewManager(recording.ManagerParams{
				Logger: slog.New(slog.DiscardHandler), Storage: folders[node], Rows: rows, NodeID: node,
			})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, m.Close(context.Background())) })
			managers[node] = m
		}
		a, b := managers["node-a"], managers["node-b"]
		expires := time.Now().AddDate(1, 0, 0)
		// One row per webinar here: the webinar's recording as the store has it now.
		of := func(webinarID string) store.Recording {
			t.Helper()
			list, err := e.store.RecordingsOfWebinar(ctx, webinarID)
			require.NoError(t, err)
			require.Len(t, list, 1)
			return list[0]
		}

		// What a crash of A left: the row of a recording of A, and its files, written by a
		// recorder in the room and never finalized.
		left, err := rows.Create(ctx, recording.Row{WebinarID: cut.ID, NodeID: "node-a", State: recording.StateRecording, StartedAt: time.Now(), ExpiresAt: expires})
		require.NoError(t, err)
		leftDir, err := folders["node-a"].Dir(left.ID)
		require.NoError(t, err)
		rec, err := recording.New(recording.Params{Dir: leftDir})
		require.NoError(t, err)
		sink, err := room.AddSink(rec)
		require.NoError(t, err)
		// And a recording A runs now.
		running, err := a.Start(ctx, live.ID, expires, room)
		require.NoError(t, err)
		require.Equal(t, "node-a", of(live.ID).NodeID, "the row names the node that records")
		runningDir, err := folders["node-a"].Dir(running.ID)
		require.NoError(t, err)
		for _, dir := range []string{leftDir, runningDir} {
			waitVideoWritten(t, dir)
		}
		sink.Close()
		rec.Close()

		require.NoError(t, b.Repair(ctx))
		for _, w := range []webinar{cut, live} {
			require.Equal(t, store.RecordingActive, of(w.ID).State, "node B leaves node A's recordings alone")
		}
		m, err := recording.ReadManifest(leftDir)
		require.NoError(t, err)
		require.Empty(t, m.Replay, "and their files")

		require.NoError(t, a.Repair(ctx))
		repaired := of(cut.ID)
		require.Equal(t, store.RecordingReady, repaired.State, repaired.Error)
		require.Contains(t, repaired.Error, "the server stopped during the recording")
		m, err = recording.ReadManifest(leftDir)
		require.NoError(t, err)
		require.Equal(t, recording.ReplayName, m.Replay)
		require.Equal(t, store.RecordingActive, of(live.ID).State, "node A leaves the recording it runs")
		require.True(t, a.Running(live.ID))

		_, ok = a.Stop(live.ID)
		require.True(t, ok)
		require.NoError(t, a.StopAndWait(ctx, []string{live.ID}))
		finished := of(live.ID)
		require.Equal(t, store.RecordingReady, finished.State, finished.Error)
		require.Empty(t, finished.Error)
	})
}

// waitVideoWritten waits until the recording in dir has written some video.
func waitVideoWritten(t *testing.T, dir string) {
	t.Helper()
	require.Eventually(t, func() bool {
		m, err := recording.ReadManifest(dir)
		if err != nil {
			return false
		}
		for _, tr := range m.Tracks {
			if info, err := os.Stat(filepath.Join(dir, tr.File)); err == nil && tr.Kind == "video" && info.Size() > 20_000 {
				return true
			}
		}
		return false
	}, 30*time.Second, 50*time.Millisecond, "video written in %s", dir)
}
