package recording

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu"
)

// memRows keeps the manager's rows in memory, as the database would.
type memRows struct {
	mu    sync.Mutex
	rows  map[string]Row // by id
	saved []Row          // every Finish, in order
	// create, when not nil, is called by Create before it saves (a database that hangs).
	create func(ctx context.Context, r Row) error
}

func newMemRows() *memRows { return &memRows{rows: map[string]Row{}} }

// rowID is the nth id memRows gives: the form of a recording id.
func rowID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	return strings.Repeat("r", 30) + string(alphabet[n/32%32]) + string(alphabet[n%32])
}

func (m *memRows) Create(ctx context.Context, r Row) (Row, error) {
	if m.create != nil {
		if err := m.create(ctx, r); err != nil {
			return Row{}, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r.ID = rowID(len(m.rows))
	m.rows[r.ID] = r
	return r, nil
}

func (m *memRows) Finish(_ context.Context, r Row) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.rows[r.ID]
	if !ok {
		return errors.New("finish recording: not found")
	}
	old.State, old.EndedAt, old.DurationMS, old.SizeBytes, old.SHA256, old.Error = r.State, r.EndedAt, r.DurationMS, r.SizeBytes, r.SHA256, r.Error
	m.rows[r.ID] = old
	m.saved = append(m.saved, old)
	return nil
}

func (m *memRows) InState(_ context.Context, node string, state State) ([]Row, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Row
	for _, r := range m.rows {
		if r.State == state && (node == "" || r.NodeID == node || r.NodeID == "") {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Row) int { return cmp.Or(a.StartedAt.Compare(b.StartedAt), strings.Compare(a.ID, b.ID)) })
	return out, nil
}

// get is the row with id now.
func (m *memRows) get(id string) Row {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rows[id]
}

// states are the states id was saved in, in order.
func (m *memRows) states(id string) []State {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []State
	for _, r := range m.saved {
		if r.ID == id {
			out = append(out, r.State)
		}
	}
	return out
}

// add saves r as it is, as a crash would have left it.
func (m *memRows) add(r Row) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows[r.ID] = r
}

// noticedRoom is a real room that also tells the test what it was told about its recording.
type noticedRoom struct {
	*sfu.Room
	mu      sync.Mutex
	notices []string // "on", "off", or "failed: <reason>"
}

func (r *noticedRoom) SetRecording(on bool) error {
	r.note(map[bool]string{true: "on", false: "off"}[on])
	return r.Room.SetRecording(on)
}

func (r *noticedRoom) RecordingFailed(reason string) error {
	r.note("failed: " + reason)
	return r.Room.RecordingFailed(reason)
}

func (r *noticedRoom) note(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notices = append(r.notices, s)
}

func (r *noticedRoom) told() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.notices)
}

// managerSetup is a manager writing in a folder of the test, with its rows in memory.
type managerSetup struct {
	m    *Manager
	rows *memRows
	root string
}

func newManagerSetup(t *testing.T) *managerSetup { return newNodeManager(t, "", newMemRows()) }

// newNodeManager is the manager of node, writing in a folder of its own, with rows.
func newNodeManager(t *testing.T, node string, rows *memRows) *managerSetup {
	t.Helper()
	s := &managerSetup{rows: rows, root: filepath.Join(t.TempDir(), "recordings")}
	m, err := NewManager(ManagerParams{
		Logger: testLogger(t), Storage: Folder{Root: s.root}, Rows: s.rows, NodeID: node,
		FFmpeg: need(t, "ffmpeg"), FFprobe: need(t, "ffprobe"),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close(context.Background())) })
	s.m = m
	return s
}

// expires is the expiry the tests' recordings are given.
var expires = time.Date(2027, 12, 3, 13, 0, 0, 0, time.UTC)

// A recording runs from Start to Stop: the row is made, the room told before anything is
// written and after it stopped, the files finalized into a replay, the row saved
// finalizing then ready with its size and checksum. A second start of a webinar being
// recorded is refused; once finalized, it is not running.
func TestManagerRecordsARoomUntilStopped(t *testing.T) {
	s := newManagerSetup(t)
	c := newCastSetup(t, "2", "320x240")
	room := &noticedRoom{Room: c.room}

	row, err := s.m.Start(t.Context(), "w1", expires, room)
	require.NoError(t, err)
	require.Equal(t, StateRecording, row.State)
	require.Equal(t, row, s.rows.get(row.ID), "the row is made")
	require.True(t, s.m.Running("w1"))
	require.Equal(t, []string{"on"}, room.told())
	_, err = s.m.Start(t.Context(), "w1", expires, room)
	require.ErrorIs(t, err, ErrRunning)

	c.send(t)
	stopped, ok := s.m.Stop("w1")
	require.True(t, ok)
	require.Equal(t, row.ID, stopped.ID)
	require.Equal(t, StateFinalizing, stopped.State)
	require.NoError(t, s.m.StopAndWait(t.Context(), []string{"w1", "not-recorded"}))

	require.False(t, s.m.Running("w1"))
	_, ok = s.m.Stop("w1")
	require.False(t, ok, "finalized: nothing to stop")
	require.Equal(t, []State{StateFinalizing, StateReady}, s.rows.states(row.ID))
	got := s.rows.get(row.ID)
	require.Empty(t, got.Error)
	require.NotNil(t, got.EndedAt)
	require.Positive(t, got.DurationMS)
	require.Len(t, got.SHA256, 64)
	info, err := os.Stat(filepath.Join(s.root, row.ID, ReplayName))
	require.NoError(t, err, "the replay is built")
	require.Equal(t, info.Size(), got.SizeBytes)
	require.Equal(t, []string{"on", "off"}, room.told())
}

// A recording whose room closes stops and is finalized; Close waits for it.
func TestManagerFinalizesWhenTheRoomCloses(t *testing.T) {
	s := newManagerSetup(t)
	c := newCastSetup(t, "1", "320x240")
	row, err := s.m.Start(t.Context(), "w1", expires, c.room)
	require.NoError(t, err)
	c.send(t)
	require.NoError(t, c.room.Close())
	require.NoError(t, s.m.Close(t.Context()))
	require.Equal(t, StateReady, s.rows.get(row.ID).State)
	require.False(t, s.m.Running("w1"))
}

// A track that cannot be written (here its file cannot be made) stops the recording
// early: what was written is kept, the row and the moderators say why.
func TestManagerStopsEarlyWhenATrackCannotBeWritten(t *testing.T) {
	s := newManagerSetup(t)
	c := newCastSetup(t, "1", "320x240")
	room := &noticedRoom{Room: c.room}
	// The video track's file, first or second, is taken by a folder.
	for _, name := range []string{"01-video.webm", "02-video.webm"} {
		require.NoError(t, os.MkdirAll(filepath.Join(s.root, rowID(0), name), 0o700))
	}
	row, err := s.m.Start(t.Context(), "w1", expires, room)
	require.NoError(t, err)
	require.Equal(t, rowID(0), row.ID)
	c.send(t)
	require.Eventually(t, func() bool { return !s.m.Running("w1") }, 30*time.Second, 20*time.Millisecond, "stopped by the failure, not asked")

	got := s.rows.get(row.ID)
	require.Regexp(t, `^stopped early: create 0[12]-video\.webm: `, got.Error)
	require.NotNil(t, got.EndedAt, "saved as ended")
	m, err := ReadManifest(filepath.Join(s.root, row.ID))
	require.NoError(t, err)
	// The microphone's file is kept as it was written when the recording stopped: how
	// much had come by then depends on which track came first.
	audio := false
	for _, tr := range m.Tracks {
		if tr.Kind == "audio" {
			_, err := os.Stat(filepath.Join(s.root, row.ID, tr.File))
			require.NoError(t, err, "the microphone's track is kept")
			audio = true
		}
	}
	require.True(t, audio, "the microphone's track is listed")
	told := room.told()
	require.Len(t, told, 2)
	require.True(t, strings.HasPrefix(told[1], "failed: create "), "told %q", told)
}

// A start in a room that has closed is refused with sfu.ErrRoomClosed, and its row is
// marked failed; the webinar may be recorded again.
func TestManagerStartInAClosedRoom(t *testing.T) {
	s := newManagerSetup(t)
	srv := startSFU(t)
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "camera", "user")
	require.NoError(t, err)
	publishWHIP(t, srv, "closed", track)
	room, ok := srv.Room("closed")
	require.True(t, ok)
	require.NoError(t, room.Close())

	_, err = s.m.Start(t.Context(), "w1", expires, room)
	require.ErrorIs(t, err, sfu.ErrRoomClosed)
	got := s.rows.get(rowID(0))
	require.Equal(t, StateFailed, got.State)
	require.True(t, strings.HasPrefix(got.Error, "could not start: "), got.Error)
	require.False(t, s.m.Running("w1"))
	_, err = s.m.Start(t.Context(), "w1", expires, room)
	require.ErrorIs(t, err, sfu.ErrRoomClosed, "tried again, not refused as running")
}

// A start whose database call hangs holds that start only: a second start of the same
// webinar is refused, its stop finds nothing to stop, and another webinar's recording
// starts and stops meanwhile.
func TestAHungDatabaseHoldsOnlyItsOwnRecordingStart(t *testing.T) {
	s := newManagerSetup(t)
	srv := startSFU(t)
	rooms := map[string]*sfu.Room{}
	for _, id := range []string{"a", "b"} {
		track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "microphone", id)
		require.NoError(t, err)
		publishWHIP(t, srv, id, track)
		room, ok := srv.Room(id)
		require.True(t, ok)
		rooms[id] = room
	}
	hung, release := make(chan struct{}), make(chan struct{})
	s.rows.create = func(ctx context.Context, r Row) error {
		if r.WebinarID != "a" {
			return nil
		}
		close(hung)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	started := make(chan error, 1)
	go func() { // owned by the test; ends when the start returns
		_, err := s.m.Start(t.Context(), "a", expires, rooms["a"])
		started <- err
	}()
	<-hung

	_, err := s.m.Start(t.Context(), "a", expires, rooms["a"])
	require.ErrorIs(t, err, ErrRunning, "a second start of the same recording is refused")
	_, ok := s.m.Stop("a")
	require.False(t, ok, "a recording not yet started cannot be stopped")
	_, err = s.m.Start(t.Context(), "b", expires, rooms["b"])
	require.NoError(t, err, "another webinar's recording starts")
	_, ok = s.m.Stop("b")
	require.True(t, ok, "and stops")
	select {
	case err := <-started:
		t.Fatalf("the start returned (%v) while the database hung", err)
	default:
	}

	close(release)
	require.NoError(t, <-started)
	require.True(t, s.m.Running("a"))
}

// crashed leaves in s's folder the files of a recording that its node was writing when
// killed: a camera and a microphone, never finalized; and its row, in state.
func crashed(t *testing.T, s *managerSetup, id string, state State, errText string) {
	t.Helper()
	video, audio := encodedMedia(t, "1")
	recordTracks(t, filepath.Join(s.root, id), []testTrack{
		{"video", sfu.LabelCamera, 0, video},
		{"audio", sfu.LabelMicrophone, 0, audio},
	})
	s.rows.add(Row{ID: id, WebinarID: "w-" + id, NodeID: s.m.p.NodeID, State: state, StartedAt: time.Now().Add(-time.Minute), ExpiresAt: expires, Error: errText})
}

// At start, the recordings a stopped or killed node left recording or finalizing are
// finalized and saved, saying the server stopped; a ready recording whose replay could
// not be built gets it, and its error no longer says it is missing.
func TestManagerRepairsWhatACrashLeft(t *testing.T) {
	s := newManagerSetup(t)
	crashed(t, s, rowID(1), StateRecording, "")
	crashed(t, s, rowID(2), StateFinalizing, "")
	crashed(t, s, rowID(3), StateReady, "stopped early: disk full\nreplay not built, the tracks are kept: ffmpeg failed")
	s.rows.add(Row{ID: rowID(4), WebinarID: "w-gone", State: StateReady, StartedAt: time.Now(), ExpiresAt: expires})

	require.NoError(t, s.m.Repair(t.Context()))
	for _, id := range []string{rowID(1), rowID(2)} {
		got := s.rows.get(id)
		require.Equal(t, StateReady, got.State, got.Error)
		require.Equal(t, "stopped early: "+errStopped.Error(), got.Error)
		require.Positive(t, got.SizeBytes)
		require.NotNil(t, got.EndedAt)
	}
	rebuilt := s.rows.get(rowID(3))
	require.Equal(t, "stopped early: disk full", rebuilt.Error)
	require.Positive(t, rebuilt.SizeBytes)
	for _, id := range []string{rowID(1), rowID(2), rowID(3)} {
		m, err := ReadManifest(filepath.Join(s.root, id))
		require.NoError(t, err)
		require.Equal(t, ReplayName, m.Replay, "replay of %s", id)
	}
	require.Empty(t, s.rows.states(rowID(4)), "a recording with no local folder is kept elsewhere")

	// Repaired once: a second start changes nothing.
	saved := len(s.rows.saved)
	require.NoError(t, s.m.Repair(t.Context()))
	require.Len(t, s.rows.saved, saved)
}

// Two nodes share the database: a node's repair leaves the recordings of the other
// alone (their files are in its folder, and it may be writing them now); each repairs
// its own, and those made before nodes were named.
func TestManagerRepairsOnlyItsNodesRecordings(t *testing.T) {
	rows := newMemRows()
	a, b := newNodeManager(t, "node-a", rows), newNodeManager(t, "node-b", rows)
	crashed(t, a, rowID(1), StateRecording, "")
	crashed(t, a, rowID(2), StateReady, "replay not built, the tracks are kept: ffmpeg failed")
	crashed(t, b, rowID(3), StateRecording, "")
	legacy := rows.get(rowID(3))
	legacy.NodeID = "" // made by b before nodes were named
	rows.add(legacy)

	require.NoError(t, b.m.Repair(t.Context()))
	require.Empty(t, rows.states(rowID(1)), "a's recording is left alone")
	require.Empty(t, rows.states(rowID(2)), "and so is its replay")
	m, err := ReadManifest(filepath.Join(a.root, rowID(1)))
	require.NoError(t, err)
	require.Empty(t, m.Replay)
	require.Equal(t, []State{StateReady}, rows.states(rowID(3)), "the recording of no node is repaired")

	require.NoError(t, a.m.Repair(t.Context()))
	require.Equal(t, []State{StateReady}, rows.states(rowID(1)), "a repairs its own")
	require.Equal(t, "stopped early: "+errStopped.Error(), rows.get(rowID(1)).Error)
	require.Equal(t, []State{StateReady}, rows.states(rowID(2)))
	require.Empty(t, rows.get(rowID(2)).Error, "its replay is built")
	require.Equal(t, []State{StateReady}, rows.states(rowID(3)), "repaired once")
}
