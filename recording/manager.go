package recording

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"webinaire/sfu"
)

// State is where a recording is in its life, as its row says.
type State string

// The states of a recording.
const (
	// StateRecording: its files are being written on its node.
	StateRecording State = "recording"
	// StateFinalizing: it has stopped and its files are being finalized.
	StateFinalizing State = "finalizing"
	// StateReady: finalized, its files play.
	StateReady State = "ready"
	// StateFailed: it could not start, or its files could not be finalized.
	StateFailed State = "failed"
)

// Row is a recording as the database keeps it.
type Row struct {
	ID        string
	WebinarID string
	// NodeID is the node that records it, in whose local folder its files are written
	// and finalized; empty for a recording made before nodes were named.
	NodeID     string
	State      State
	StartedAt  time.Time
	EndedAt    *time.Time
	DurationMS int64
	SizeBytes  int64
	SHA256     string
	// ExpiresAt is when the retention sweep deletes it.
	ExpiresAt time.Time
	// Error says why it failed or stopped early; empty otherwise.
	Error string
}

// Rows keeps the rows of recordings: what the Manager needs of the database.
type Rows interface {
	// Create saves a new recording (WebinarID, NodeID, StartedAt, ExpiresAt and State of
	// r) and returns it with its new id.
	Create(ctx context.Context, r Row) (Row, error)
	// Finish saves how a recording ended: its state, end, duration, size, checksum and
	// error.
	Finish(ctx context.Context, r Row) error
	// InState lists, oldest first, the recordings in state of node and those of no node;
	// an empty node lists every node's.
	InState(ctx context.Context, node string, state State) ([]Row, error)
}

// Room is what a recording needs of the room it records (an *sfu.Room).
type Room interface {
	// AddSink attaches the recorder.
	AddSink(s sfu.Sink) (*sfu.SinkHandle, error)
	// SetRecording tells everyone whether the room is being recorded.
	SetRecording(on bool) error
	// RecordingFailed tells everyone it stopped, and the moderators why.
	RecordingFailed(reason string) error
	// Done is closed when the room closes.
	Done() <-chan struct{}
}

var _ Room = (*sfu.Room)(nil)

// ErrRunning is a webinar whose recording runs, or is being started, already.
var ErrRunning = errors.New("recording: the webinar is being recorded already")

// ManagerParams configure a Manager. Storage and Rows are required.
type ManagerParams struct {
	// Logger receives the manager's logs; nil discards them.
	Logger *slog.Logger
	// Clock tells the time of the rows and manifests; nil is time.Now.
	Clock func() time.Time
	// Storage keeps the files.
	Storage Storage
	// Rows keeps the rows.
	Rows Rows
	// NodeID is this node's id, written in the rows of the recordings it makes: Repair
	// looks only at those (and at those of no node). Empty is a process that is the whole
	// cluster: it repairs every recording.
	NodeID string
	// FFmpeg and FFprobe finalize the files and check the replays; empty means "ffmpeg"
	// and "ffprobe", found in PATH.
	FFmpeg, FFprobe string
	// Panics counts the panics recovered in the recordings' goroutines; nil does not.
	Panics *sfu.Panics
}

// Manager runs the recordings of one node, by webinar id: it starts them in their
// rooms, stops them when asked or when their room closes, finalizes their files in the
// background, and at start repairs what a crash of this node left unfinished.
//
// mu guards the maps only: no database or storage call is made holding it, so that a
// slow or hung database delays the one call that waits for it, not every start and stop.
type Manager struct {
	p   ManagerParams
	log *slog.Logger

	mu       sync.Mutex
	active   map[string]*running // by webinar id
	starting map[string]bool     // webinars whose recording is being started
	wg       sync.WaitGroup      // the recordings' goroutines, each until finalized
}

// running is a recording that runs now.
type running struct {
	row  Row
	rec  *Recorder
	sink *sfu.SinkHandle
	room Room
	once sync.Once
	stop chan struct{} // closed by stopLocked or fail; its goroutine then finalizes
	done chan struct{} // closed once finalized and saved
	mu   sync.Mutex
	err  error // why it stopped early, if it did (guarded by mu)
}

// abandonTimeout bounds marking failed a recording that could not start.
const abandonTimeout = 10 * time.Second

// finalizeTimeout bounds the finalization of a stopped recording.
const finalizeTimeout = 10 * time.Minute

// NewManager makes a manager with no recording running.
func NewManager(p ManagerParams) (*Manager, error) {
	if p.Storage == nil || p.Rows == nil {
		return nil, errors.New("recording manager: storage and rows are required")
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if p.Clock == nil {
		p.Clock = time.Now
	}
	if p.FFmpeg == "" {
		p.FFmpeg = "ffmpeg"
	}
	if p.FFprobe == "" {
		p.FFprobe = "ffprobe"
	}
	return &Manager{p: p, log: p.Logger, active: map[string]*running{}, starting: map[string]bool{}}, nil
}

// Start records room, the room of the webinar webinarID, until Stop or until the room
// closes; the recording expires at expires. Everyone in the room is told before the
// first byte is written. ErrRunning when the webinar's recording runs or is being
// started; an error wrapping sfu.ErrRoomClosed when the room has closed. A recording
// that could not start after its row was made is marked failed, saying why.
func (m *Manager) Start(ctx context.Context, webinarID string, expires time.Time, room Room) (Row, error) {
	if !m.reserve(webinarID) {
		return Row{}, ErrRunning
	}
	started := false
	defer func() {
		if !started {
			m.release(webinarID, nil)
		}
	}()
	row, err := m.p.Rows.Create(ctx, Row{WebinarID: webinarID, NodeID: m.p.NodeID, State: StateRecording, StartedAt: m.p.Clock(), ExpiresAt: expires})
	if err != nil {
		return Row{}, fmt.Errorf("start recording of webinar %s: %w", webinarID, err)
	}
	a, err := m.attach(row, room)
	if err != nil {
		m.abandon(row, err)
		return Row{}, fmt.Errorf("start recording %s: %w", row.ID, err)
	}
	// Running before its goroutine may end it.
	started = true
	m.release(webinarID, a)
	m.wg.Add(1)
	go m.watch(webinarID, a) // owned by m (wg); ends once the recording is finalized
	return row, nil
}

// attach tells the room it is recorded and attaches a recorder writing in the
// recording's folder.
func (m *Manager) attach(row Row, room Room) (*running, error) {
	dir, err := m.p.Storage.Dir(row.ID)
	if err != nil {
		return nil, err
	}
	a := &running{row: row, room: room, stop: make(chan struct{}), done: make(chan struct{})}
	if err := room.SetRecording(true); err != nil {
		return nil, err
	}
	a.rec, err = New(Params{
		Dir:     dir,
		Logger:  m.log.With("recording", row.ID),
		OnError: a.fail,
		Clock:   m.p.Clock,
		Panics:  m.p.Panics,
	})
	if err == nil {
		a.sink, err = room.AddSink(a.rec)
	}
	if err != nil {
		_ = room.SetRecording(false)
		return nil, err
	}
	return a, nil
}

// watch waits for the end of a recording, asked or its room's, and finalizes it.
func (m *Manager) watch(webinarID string, a *running) {
	defer m.wg.Done()
	// A panic ends this recording only; the next start repairs its files.
	defer m.p.Panics.Recover(sfu.PartRecording, m.log.With("recording", a.row.ID), func() {
		m.mu.Lock()
		delete(m.active, webinarID)
		m.mu.Unlock()
	})
	select {
	case <-a.stop:
	case <-a.room.Done():
	}
	m.finish(webinarID, a)
}

// reserve marks the webinar's recording as being started; false when it runs or is
// being started already.
func (m *Manager) reserve(webinarID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.active[webinarID] != nil || m.starting[webinarID] {
		return false
	}
	m.starting[webinarID] = true
	return true
}

// release ends the start of the webinar's recording: a, when not nil, runs now.
func (m *Manager) release(webinarID string, a *running) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.starting, webinarID)
	if a != nil {
		m.active[webinarID] = a
	}
}

// fail stops a recording whose storage failed: the meeting goes on, what was written is
// kept, the moderators see why in the recording's error.
func (a *running) fail(err error) {
	a.mu.Lock()
	if a.err == nil {
		a.err = err
	}
	a.mu.Unlock()
	a.stopOnce()
}

// stopOnce asks the recording's goroutine to finalize it.
func (a *running) stopOnce() { a.once.Do(func() { close(a.stop) }) }

// abandon marks a recording that could not start as failed, within abandonTimeout.
func (m *Manager) abandon(row Row, cause error) {
	end := m.p.Clock()
	row.State, row.EndedAt, row.Error = StateFailed, &end, "could not start: "+cause.Error()
	ctx, cancel := context.WithTimeout(context.Background(), abandonTimeout)
	defer cancel()
	if err := m.p.Rows.Finish(ctx, row); err != nil {
		m.log.Error("recording not marked failed", "recording", row.ID, "err", err)
	}
}

// Stop stops the webinar's recording, which is then finalized in the background; it
// returns the recording, finalizing, or false when the webinar is not being recorded.
func (m *Manager) Stop(webinarID string) (Row, bool) {
	m.mu.Lock()
	a := m.active[webinarID]
	m.mu.Unlock()
	if a == nil {
		return Row{}, false
	}
	a.stopOnce()
	row := a.row
	row.State = StateFinalizing
	return row, true
}

// Running tells whether the webinar is being recorded, or its recording finalized.
func (m *Manager) Running(webinarID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.active[webinarID] != nil
}

// StopAndWait stops the recordings of the webinars that have one and waits, within ctx,
// until each is finalized.
func (m *Manager) StopAndWait(ctx context.Context, webinarIDs []string) error {
	var stopping []*running
	m.mu.Lock()
	for _, id := range webinarIDs {
		if a := m.active[id]; a != nil {
			a.stopOnce()
			stopping = append(stopping, a)
		}
	}
	m.mu.Unlock()
	for _, a := range stopping {
		select {
		case <-a.done:
		case <-ctx.Done():
			return fmt.Errorf("stop recording %s: %w", a.row.ID, ctx.Err())
		}
	}
	return nil
}

// Close stops every recording and waits, within ctx, for their files to be finalized:
// a node calls it at shutdown. What is not finished is repaired at the node's next
// start (Repair).
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	for _, a := range m.active {
		a.stopOnce()
	}
	m.mu.Unlock()
	done := make(chan struct{})
	go func() { // owned by Close; ends when every recording is finalized
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("recordings still being finalized: %w", ctx.Err())
	}
}

// finish detaches the recorder, tells the room, and finalizes the files.
func (m *Manager) finish(webinarID string, a *running) {
	a.sink.Close()
	a.rec.Close()
	a.mu.Lock()
	stoppedBy := a.err
	a.mu.Unlock()
	// The room is told it stopped, its moderators why when it stopped early; a closed
	// room has nobody to tell.
	if stoppedBy != nil {
		_ = a.room.RecordingFailed(stoppedBy.Error())
	} else {
		_ = a.room.SetRecording(false)
	}
	ctx, cancel := context.WithTimeout(context.Background(), finalizeTimeout)
	defer cancel()
	row := a.row
	row.State = StateFinalizing
	if err := m.p.Rows.Finish(ctx, row); err != nil {
		m.log.Error("recording state not saved", "recording", row.ID, "err", err)
	}
	row = m.finalize(ctx, row, stoppedBy)
	m.mu.Lock()
	delete(m.active, webinarID)
	m.mu.Unlock()
	if err := m.p.Rows.Finish(ctx, row); err != nil {
		m.log.Error("recording state not saved", "recording", row.ID, "err", err)
	}
	m.log.Info("recording finished", "recording", row.ID, "state", row.State, "size", row.SizeBytes)
	close(a.done)
}

// finalize writes the duration and cues of each file of a stopped recording and sums
// its size and checksum; stoppedBy says why it stopped early, if it did.
func (m *Manager) finalize(ctx context.Context, row Row, stoppedBy error) Row {
	end := m.p.Clock()
	row.EndedAt = &end
	row.DurationMS = end.Sub(row.StartedAt).Milliseconds()
	if stoppedBy != nil {
		row.Error = "stopped early: " + stoppedBy.Error()
	}
	dir, err := m.p.Storage.Dir(row.ID)
	if err == nil {
		var size int64
		var sum string
		size, sum, err = FinalizeAll(ctx, m.p.FFmpeg, m.p.FFprobe, dir)
		row.SizeBytes, row.SHA256 = size, sum
	}
	row.State = StateReady
	if err != nil {
		row.State = StateFailed
		row.Error = errors.Join(errors.New(row.Error), err).Error()
		m.log.Error("recording not finalized", "recording", row.ID, "err", err)
		return row
	}
	// Kept where the storage keeps finished recordings; until then it is served from
	// the local folder, and the upload is tried again at the next start.
	if err := m.p.Storage.Put(ctx, row.ID); err != nil {
		m.log.Error("recording not stored", "recording", row.ID, "err", err)
	}
	return row
}

// errStopped is why a recording that a stopped or crashed node left unfinished stopped.
var errStopped = errors.New("the server stopped during the recording")

// Repair finalizes the recordings of this node that a stop or a crash left unfinished,
// so that their files play and show their length, and builds again the replays that
// could not be built, or stores them again where finished recordings go; a node calls it
// at start. The recordings of other nodes are theirs to repair (their files are in their
// folders, and they may be writing them now), and so are those this manager runs.
func (m *Manager) Repair(ctx context.Context) error {
	var errs []error
	for _, state := range []State{StateRecording, StateFinalizing} {
		rows, err := m.p.Rows.InState(ctx, m.p.NodeID, state)
		if err != nil {
			return err
		}
		for _, row := range rows {
			if m.runs(row.ID) {
				continue
			}
			fixed := m.finalize(ctx, row, errStopped)
			if err := m.p.Rows.Finish(ctx, fixed); err != nil {
				errs = append(errs, err)
				continue
			}
			m.log.Info("recording repaired", "recording", row.ID, "state", fixed.State)
		}
	}
	// Replays that could not be built are tried again.
	rows, err := m.p.Rows.InState(ctx, m.p.NodeID, StateReady)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, row := range rows {
		if err := m.rebuild(ctx, row); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// runs tells whether the recording with this id runs in m.
func (m *Manager) runs(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.active {
		if a.row.ID == id {
			return true
		}
	}
	return false
}

// rebuild builds the replay of a finished recording whose local folder holds no replay
// yet, or stores it again when the replay was built but not stored.
func (m *Manager) rebuild(ctx context.Context, row Row) error {
	dir, _ := m.p.Storage.Dir(row.ID)
	if _, err := os.Stat(dir); err != nil {
		return nil // kept elsewhere, or gone
	}
	man, err := ReadManifest(dir)
	if err != nil {
		return nil
	}
	if man.Replay != "" {
		// Built, but not stored where finished recordings go: try again.
		return m.p.Storage.Put(ctx, row.ID)
	}
	size, sum, err := FinalizeAll(ctx, m.p.FFmpeg, m.p.FFprobe, dir)
	row.SizeBytes, row.SHA256 = size, sum
	if err != nil {
		m.log.Error("replay not built again", "recording", row.ID, "err", err)
		return nil
	}
	// The replay is there now: the error no longer says it is missing.
	var kept []string
	for _, line := range strings.Split(row.Error, "\n") {
		if line != "" && !strings.Contains(line, "replay not built") {
			kept = append(kept, line)
		}
	}
	row.Error = strings.Join(kept, "\n")
	return errors.Join(m.p.Rows.Finish(ctx, row), m.p.Storage.Put(ctx, row.ID))
}
