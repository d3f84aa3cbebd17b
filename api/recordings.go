package api

import (
	"context"
	"errors"
	"net/http"
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
		if m, err := s.manifest(r); err == nil {
			j.Files = m.Files()
		}
	}
	return j
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
		s.answerElsewhere(c, elsewhere, w, organizerID, commandRecordStart, errRoomNotOpen)
		return
	}
	row, err := s.recordings.Start(c.Request.Context(), w.ID, s.p.Policy.Recordings.Until(w.StartsAt), room)
	switch {
	case errors.Is(err, recording.ErrRunning):
		writeProblem(c, errRecordingActive)
		return
	case errors.Is(err, sfu.ErrRoomClosed):
		writeProblem(c, errRoomNotOpen)
		return
	case err != nil:
		s.fail(c, err)
		return
	}
	s.auditRecording(c, organizerID, "recording.start", w.ID, row.ID)
	c.JSON(http.StatusCreated, s.toRecordingJSON(recordingOf(row)))
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
	row, ok := s.recordings.Stop(w.ID)
	if !ok {
		s.answerElsewhere(c, elsewhere, w, organizerID, commandRecordStop, errNotRecording)
		return
	}
	s.auditRecording(c, organizerID, "recording.stop", w.ID, row.ID)
	c.JSON(http.StatusAccepted, s.toRecordingJSON(recordingOf(row)))
}

// FinishRecordings stops every recording and waits, within ctx, for their files to be
// finalized: serve calls it at shutdown. What is not finished is repaired at the next
// start (RepairRecordings).
func (s *Server) FinishRecordings(ctx context.Context) error { return s.recordings.Close(ctx) }

// RepairRecordings finalizes the recordings that a stopped or crashed server left
// unfinished, so that their files play and show their length; serve calls it at start.
func (s *Server) RepairRecordings(ctx context.Context) error { return s.recordings.Repair(ctx) }

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

// deleteRecording deletes a recording now: its files, where they are kept, then its row,
// with a ledger entry. While the node that keeps its files does not answer, nothing is
// deleted (503).
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
	if err := s.files.DeleteRecording(ctx, r.ID); err != nil {
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
