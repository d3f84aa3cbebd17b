package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"webinaire/privacy"
	"webinaire/recording"
	"webinaire/sfu"
	"webinaire/store"
)

// Recording problems.
var (
	errRecordingNotAllowed = problem(http.StatusConflict, "recording_not_allowed", "this webinar does not allow recording: change its settings first")
	errRoomNotOpen         = problem(http.StatusConflict, "room_not_open", "the webinar's room is not open: nobody is in it")
	errRecordingActive     = problem(http.StatusConflict, "recording_active", "the webinar is being recorded already")
	errNotRecording        = problem(http.StatusConflict, "not_recording", "the webinar is not being recorded")
	errRecordingBusy       = problem(http.StatusConflict, "recording_busy", "the recording is still being written; try again shortly")
)

// recorders are the recordings running now, by webinar id. A recording stops when its
// owner asks, or when its room closes; it is then finalized in the background. mu guards
// the maps only: no database or storage call is made holding it, so that a slow or hung
// database delays the one request that waits for it, not every start and stop.
type recorders struct {
	running[activeRecording]
	wg sync.WaitGroup // finalizations
}

// abandonTimeout bounds marking failed a recording that could not start.
const abandonTimeout = 10 * time.Second

type activeRecording struct {
	row  store.Recording
	rec  *recording.Recorder
	sink *sfu.SinkHandle
	room *sfu.Room
	once sync.Once
	stop chan struct{} // closed by stopRecording; the watcher then finalizes
	done chan struct{} // closed once finalized and saved
	mu   sync.Mutex
	err  error // why it stopped early, if it did (guarded by mu)
}

// recordingJSON is a recording as its owner sees it.
type recordingJSON struct {
	ID         string     `json:"id"`
	WebinarID  string     `json:"webinar_id"`
	State      string     `json:"state"`
	StartedAt  time.Time  `json:"started_at"`
	EndedAt    *time.Time `json:"ended_at"`
	DurationMS int64      `json:"duration_ms"`
	SizeBytes  int64      `json:"size_bytes"`
	SHA256     string     `json:"sha256,omitempty"`
	ExpiresAt  time.Time  `json:"expires_at"`
	Error      string     `json:"error,omitempty"`
	// FilesMissingAt is when the retention sweep found the recording's files gone.
	FilesMissingAt *time.Time `json:"files_missing_at,omitempty"`
	Files          []string   `json:"files"`
}

func (s *Server) toRecordingJSON(r store.Recording) recordingJSON {
	j := recordingJSON{
		ID: r.ID, WebinarID: r.WebinarID, State: r.State, StartedAt: r.StartedAt.UTC(), EndedAt: r.EndedAt,
		DurationMS: r.DurationMS, SizeBytes: r.SizeBytes, SHA256: r.SHA256, ExpiresAt: r.ExpiresAt.UTC(), Error: r.Error,
		Files: []string{},
	}
	if r.FilesMissingAt != nil {
		t := r.FilesMissingAt.UTC()
		j.FilesMissingAt = &t
	}
	if r.State == store.RecordingReady {
		if m, err := s.manifest(r.ID); err == nil {
			j.Files = m.Files()
		}
	}
	return j
}

// manifest reads the list of a recording's files, wherever the storage keeps them.
func (s *Server) manifest(id string) (recording.Manifest, error) {
	ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
	defer cancel()
	return s.p.Recordings.Manifest(ctx, id)
}

// startRecording starts recording the webinar's room: everyone in it is told before the
// first byte is written.
func (s *Server) startRecording(c *gin.Context) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	sess, _ := sessionOf(c)
	s.recordStart(c, w, sess.OrganizerID, true)
}

// recordStart starts recording the room of w for its owner organizerID, here when the
// room runs here, else, when elsewhere is set, on the node that runs it.
func (s *Server) recordStart(c *gin.Context, w store.Webinar, organizerID string, elsewhere bool) {
	if !w.RecordingAllowed {
		writeProblem(c, errRecordingNotAllowed)
		return
	}
	room, open := s.p.SFU.Room(w.RoomID)
	if !open || room.Origin() != "" {
		if !elsewhere || !s.forwardToRoom(c, roomCommand{Room: w.RoomID, Action: commandRecordStart, Webinar: w.ID, Organizer: organizerID}) {
			writeProblem(c, errRoomNotOpen)
		}
		return
	}
	if !s.recorders.reserve(w.ID) {
		writeProblem(c, errRecordingActive)
		return
	}
	started := false
	defer func() {
		if !started {
			s.recorders.release(w.ID, nil)
		}
	}()
	ctx := c.Request.Context()
	now := s.now()
	row, err := s.p.Store.CreateRecording(ctx, w.ID, now, s.p.Policy.Recordings.Until(w.StartsAt))
	if err != nil {
		s.fail(c, err)
		return
	}
	dir, err := s.p.Recordings.Dir(row.ID)
	if err != nil {
		s.abandonRecording(row, err)
		s.fail(c, err)
		return
	}
	a := &activeRecording{row: row, room: room, stop: make(chan struct{}), done: make(chan struct{})}
	if err := room.SetRecording(true); err != nil {
		s.abandonRecording(row, err)
		writeProblem(c, errRoomNotOpen)
		return
	}
	a.rec, err = recording.New(recording.Params{
		Dir:     dir,
		Logger:  s.log.With("recording", row.ID),
		OnError: func(err error) { a.fail(err) },
		Clock:   s.now,
		Panics:  s.p.SFU.Panics(),
	})
	if err == nil {
		a.sink, err = room.AddSink(a.rec)
	}
	if err != nil {
		_ = room.SetRecording(false)
		s.abandonRecording(row, err)
		s.fail(c, fmt.Errorf("start recording %s: %w", row.ID, err))
		return
	}
	started = true
	s.recorders.release(w.ID, a)
	s.recorders.wg.Add(1)
	go func() { // owned by the server (recorders.wg); ends once the recording is finalized
		defer s.recorders.wg.Done()
		// A panic ends this recording only; the next start repairs its files.
		defer s.p.SFU.Panics().Recover(sfu.PartRecording, s.log.With("recording", row.ID), func() {
			s.recorders.mu.Lock()
			delete(s.recorders.active, w.ID)
			s.recorders.mu.Unlock()
		})
		select {
		case <-a.stop:
		case <-room.Done():
		}
		s.finishRecording(w.ID, a)
	}()
	s.auditRecording(c, organizerID, "recording.start", w.ID, row.ID)
	c.JSON(http.StatusCreated, s.toRecordingJSON(row))
}

// fail stops a recording whose storage failed: the meeting goes on, what was written is
// kept, the moderators see why in the recording's error.
func (a *activeRecording) fail(err error) {
	a.mu.Lock()
	if a.err == nil {
		a.err = err
	}
	a.mu.Unlock()
	a.once.Do(func() { close(a.stop) })
}

// abandonRecording marks a recording that could not start as failed, within abandonTimeout.
func (s *Server) abandonRecording(row store.Recording, cause error) {
	end := s.now()
	row.State, row.EndedAt, row.Error = store.RecordingFailed, &end, "could not start: "+errText(cause)
	ctx, cancel := context.WithTimeout(context.Background(), abandonTimeout)
	defer cancel()
	if err := s.p.Store.FinishRecording(ctx, row); err != nil {
		s.log.Error("recording not marked failed", "recording", row.ID, "err", err)
	}
}

// stopRecording stops the webinar's recording; it is finalized in the background.
func (s *Server) stopRecording(c *gin.Context) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	sess, _ := sessionOf(c)
	s.recordStop(c, w, sess.OrganizerID, true)
}

// recordStop stops the recording of w's room for its owner organizerID: here when it
// runs here, else, when elsewhere is set, on the node that runs the room.
func (s *Server) recordStop(c *gin.Context, w store.Webinar, organizerID string, elsewhere bool) {
	a := s.recorders.get(w.ID)
	if a == nil {
		if !elsewhere || !s.forwardToRoom(c, roomCommand{Room: w.RoomID, Action: commandRecordStop, Webinar: w.ID, Organizer: organizerID}) {
			writeProblem(c, errNotRecording)
		}
		return
	}
	a.once.Do(func() { close(a.stop) })
	s.auditRecording(c, organizerID, "recording.stop", w.ID, a.row.ID)
	row := a.row
	row.State = store.RecordingFinalizing
	c.JSON(http.StatusAccepted, s.toRecordingJSON(row))
}

// finishRecording detaches the recorder, tells the room, and finalizes the files.
func (s *Server) finishRecording(webinarID string, a *activeRecording) {
	a.sink.Close()
	a.rec.Close()
	a.mu.Lock()
	stoppedBy := a.err
	a.mu.Unlock()
	// The room is told it stopped, its moderators why when it stopped early; a closed
	// room has nobody to tell.
	if stoppedBy != nil {
		_ = a.room.RecordingFailed(errText(stoppedBy))
	} else {
		_ = a.room.SetRecording(false)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	row := a.row
	row.State = store.RecordingFinalizing
	if err := s.p.Store.FinishRecording(ctx, row); err != nil {
		s.log.Error("recording state not saved", "recording", row.ID, "err", err)
	}
	row = s.finalize(ctx, row, stoppedBy)
	s.recorders.mu.Lock()
	delete(s.recorders.active, webinarID)
	s.recorders.mu.Unlock()
	if err := s.p.Store.FinishRecording(ctx, row); err != nil {
		s.log.Error("recording state not saved", "recording", row.ID, "err", err)
	}
	s.log.Info("recording finished", "recording", row.ID, "state", row.State, "size", row.SizeBytes)
	close(a.done)
}

// finalize writes the duration and cues of each file of a stopped recording and sums
// its size and checksum; stoppedBy says why it stopped early, if it did.
func (s *Server) finalize(ctx context.Context, row store.Recording, stoppedBy error) store.Recording {
	end := s.now()
	row.EndedAt = &end
	row.DurationMS = end.Sub(row.StartedAt).Milliseconds()
	if stoppedBy != nil {
		row.Error = "stopped early: " + errText(stoppedBy)
	}
	dir, err := s.p.Recordings.Dir(row.ID)
	if err == nil {
		var size int64
		var sum string
		size, sum, err = recording.FinalizeAll(ctx, s.p.FFmpeg, s.p.FFprobe, dir)
		row.SizeBytes, row.SHA256 = size, sum
	}
	row.State = store.RecordingReady
	if err != nil {
		row.State = store.RecordingFailed
		row.Error = errors.Join(errors.New(row.Error), err).Error()
		s.log.Error("recording not finalized", "recording", row.ID, "err", err)
		return row
	}
	// Kept where the storage keeps finished recordings; until then it is served from
	// the local folder, and the upload is tried again at the next start.
	if err := s.p.Recordings.Put(ctx, row.ID); err != nil {
		s.log.Error("recording not stored", "recording", row.ID, "err", err)
	}
	return row
}

// FinishRecordings stops every recording and waits, within ctx, for their files to be
// finalized: serve calls it at shutdown. What is not finished is repaired at the next
// start (RepairRecordings).
func (s *Server) FinishRecordings(ctx context.Context) error {
	s.recorders.mu.Lock()
	for _, a := range s.recorders.active {
		a.once.Do(func() { close(a.stop) })
	}
	s.recorders.mu.Unlock()
	if err := waitWithin(ctx, &s.recorders.wg); err != nil {
		return fmt.Errorf("recordings still being finalized: %w", err)
	}
	return nil
}

// waitWithin waits for wg, or until ctx ends.
func waitWithin(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() { // owned by waitWithin's caller; ends when wg is done
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RepairRecordings finalizes the recordings that a stopped or crashed server left
// unfinished, so that their files play and show their length; serve calls it at start.
func (s *Server) RepairRecordings(ctx context.Context) error {
	var errs []error
	for _, state := range []string{store.RecordingActive, store.RecordingFinalizing} {
		rows, err := s.p.Store.RecordingsInState(ctx, state)
		if err != nil {
			return err
		}
		for _, row := range rows {
			fixed := s.finalize(ctx, row, errors.New("the server stopped during the recording"))
			if err := s.p.Store.FinishRecording(ctx, fixed); err != nil {
				errs = append(errs, err)
				continue
			}
			s.log.Info("recording repaired", "recording", row.ID, "state", fixed.State)
		}
	}
	// Replays that could not be built are tried again.
	rows, err := s.p.Store.RecordingsInState(ctx, store.RecordingReady)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, row := range rows {
		dir, _ := s.p.Recordings.Dir(row.ID)
		if _, err := os.Stat(dir); err != nil {
			continue // kept elsewhere, or gone
		}
		m, err := recording.ReadManifest(dir)
		if err != nil {
			continue
		}
		if m.Replay != "" {
			// Built, but not stored where finished recordings go: try again.
			if err := s.p.Recordings.Put(ctx, row.ID); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		size, sum, err := recording.FinalizeAll(ctx, s.p.FFmpeg, s.p.FFprobe, dir)
		row.SizeBytes, row.SHA256 = size, sum
		if err != nil {
			s.log.Error("replay not built again", "recording", row.ID, "err", err)
			continue
		}
		// The replay is there now: the error no longer says it is missing.
		var kept []string
		for _, line := range strings.Split(row.Error, "\n") {
			if line != "" && !strings.Contains(line, "replay not built") {
				kept = append(kept, line)
			}
		}
		row.Error = strings.Join(kept, "\n")
		if err := s.p.Store.FinishRecording(ctx, row); err != nil {
			errs = append(errs, err)
		}
		if err := s.p.Recordings.Put(ctx, row.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// listRecordings lists the webinar's recordings with their expiry dates.
func (s *Server) listRecordings(c *gin.Context) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	rows, err := s.p.Store.RecordingsOfWebinar(c.Request.Context(), w.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeItems(c, rows, s.toRecordingJSON)
}

// writeItems answers a list, each element as f describes it, as {"items": [...]}.
func writeItems[T, J any](c *gin.Context, list []T, f func(T) J) {
	out := make([]J, 0, len(list))
	for _, v := range list {
		out = append(out, f(v))
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

// ownRecording finds a recording of the session's organizer.
func (s *Server) ownRecording(c *gin.Context) (store.Recording, bool) {
	sess, _ := sessionOf(c)
	r, err := s.p.Store.RecordingOf(c.Request.Context(), sess.OrganizerID, c.Param("recording"))
	if err != nil {
		s.fail(c, err)
		return r, false
	}
	return r, true
}

// getRecordingFile serves a file of a finished recording, with range requests, for
// playing in the browser and downloading.
func (s *Server) getRecordingFile(c *gin.Context) {
	r, ok := s.ownRecording(c)
	if !ok {
		return
	}
	if r.State != store.RecordingReady {
		writeProblem(c, errRecordingBusy)
		return
	}
	s.serveRecordingFile(c, r)
}

// deleteRecording deletes a recording now: its files, its row, with a ledger entry.
func (s *Server) deleteRecording(c *gin.Context) {
	r, ok := s.ownRecording(c)
	if !ok {
		return
	}
	if r.State == store.RecordingActive || r.State == store.RecordingFinalizing {
		writeProblem(c, errRecordingBusy)
		return
	}
	ctx := c.Request.Context()
	if err := s.p.Recordings.DeleteRecording(ctx, r.ID); err != nil {
		s.fail(c, err)
		return
	}
	sess, _ := sessionOf(c)
	err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.DeleteRecording(ctx, r.ID); err != nil {
			return err
		}
		if err := tx.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, "recording.delete", "recording", r.ID, nil)); err != nil {
			return err
		}
		return s.p.Ledger.Record(ctx, tx, privacy.Entry{
			Rule: "deleted by the organizer", Category: privacy.CategoryRecordings, ObjectID: r.ID, Count: 1,
			Stores: []string{privacy.StoreFiles, privacy.StoreDatabase}, At: s.now(),
		})
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// auditRecording records a recording action, and the organizer's address in the
// connection log.
func (s *Server) auditRecording(c *gin.Context, organizerID, action, webinarID, recordingID string) {
	ctx := c.Request.Context()
	if err := s.p.Store.RecordAudit(ctx, s.auditEvent(organizerID, action, "recording", recordingID, map[string]string{"webinar": webinarID})); err != nil {
		s.log.Error("recording action not audited", "action", action, "err", err)
	}
	if err := s.p.Store.LogConnection(ctx, s.connectionEvent(c, store.ActorOrganizer, organizerID, "", action, webinarID)); err != nil {
		s.log.Error("connection log not written", "action", action, "err", err)
	}
}
