package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"webinaire/recording"
	"webinaire/sfu"
	"webinaire/store"
)

// DefaultMaxBroadcasts is how many live broadcasts a server encodes at once by default:
// each takes about a third of a core at 720p30.
const DefaultMaxBroadcasts = 4

// Broadcast problems.
var (
	errTooManyBroadcasts = problem(http.StatusConflict, "too_many_broadcasts", "this server broadcasts as many webinars as it may now; try again once one has ended")
	errNoBroadcastTarget = problem(http.StatusConflict, "no_broadcast_target", "this webinar has no broadcast target: set its RTMP URL and stream key first")
	errBroadcastActive   = problem(http.StatusConflict, "broadcast_active", "the webinar is being broadcast already")
	errNotBroadcasting   = problem(http.StatusConflict, "not_broadcasting", "the webinar is not being broadcast")
)

// broadcasts are the live broadcasts running now, by webinar id. A broadcast stops when
// its owner asks, or when its room closes. mu guards the maps only.
type broadcasts struct {
	running[activeBroadcast]
	wg sync.WaitGroup // the goroutines that wait for each broadcast's end
}

type activeBroadcast struct {
	cast      *recording.Broadcast
	startedAt time.Time
	stopping  chan struct{} // closed once a stop was asked
	once      sync.Once
}

// broadcastTargetInput is the body of PUT /webinars/{id}/broadcast/target.
type broadcastTargetInput struct {
	URL string `json:"url"`
	Key string `json:"key"`
}

// broadcastJSON is a webinar's broadcast as its owner sees it: never the key.
type broadcastJSON struct {
	// TargetURL is the RTMP URL set for the webinar, null when none is.
	TargetURL *string `json:"target_url"`
	// State is off, connecting, live or retrying.
	State string `json:"state"`
	// Reason and Error say why the target does not take the stream, as a code (one of
	// recording's Reason...) and in English words.
	Reason    string     `json:"reason,omitempty"`
	Error     string     `json:"error,omitempty"`
	Attempts  int        `json:"attempts"`
	StartedAt *time.Time `json:"started_at,omitempty"`
}

// broadcastOff is the state of a webinar not broadcast.
const broadcastOff = "off"

// broadcastState describes the webinar's broadcast, with the target url when known.
func (s *Server) broadcastState(webinarID string, target *store.BroadcastTarget) broadcastJSON {
	j := broadcastJSON{State: broadcastOff}
	if target != nil {
		j.TargetURL = &target.URL
	}
	a := s.broadcasts.get(webinarID)
	if a != nil {
		st := a.cast.Status()
		started := a.startedAt.UTC()
		j.State, j.Reason, j.Error, j.Attempts, j.StartedAt = st.State, st.Reason, st.Error, st.Attempts, &started
		if st.State == recording.BroadcastStopped {
			j.State = broadcastOff
		}
	}
	return j
}

// ownWebinarTarget loads the webinar of the path for its owner, and its target: nil
// when it has none.
func (s *Server) ownWebinarTarget(c *gin.Context) (store.Webinar, *store.BroadcastTarget, bool) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return w, nil, false
	}
	sess, _ := sessionOf(c)
	t, err := s.p.Store.BroadcastTargetOf(c.Request.Context(), sess.OrganizerID, w.ID)
	switch {
	case errors.Is(err, store.ErrNoBroadcastTarget):
		return w, nil, true
	case err != nil:
		s.fail(c, err)
		return w, nil, false
	}
	return w, &t, true
}

// getBroadcast says whether the webinar is broadcast, and where to.
func (s *Server) getBroadcast(c *gin.Context) {
	w, target, ok := s.ownWebinarTarget(c)
	if !ok {
		return
	}
	c.Header("Cache-Control", "no-store")
	here := s.broadcasts.get(w.ID) != nil
	if !here {
		// Its room, and so its broadcast, may run on another node.
		sess, _ := sessionOf(c)
		if s.forwardToRoom(c, roomCommand{Room: w.RoomID, Action: commandCastState, Webinar: w.ID, Organizer: sess.OrganizerID}) {
			return
		}
	}
	c.JSON(http.StatusOK, s.broadcastState(w.ID, target))
}

// setBroadcastTarget sets the webinar's RTMP URL and stream key; the key is never
// returned afterwards.
func (s *Server) setBroadcastTarget(c *gin.Context) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	var in broadcastTargetInput
	if p := decodeJSON(c, &in); p != nil {
		writeProblem(c, p)
		return
	}
	var errs []FieldError
	if recording.CheckTarget(in.URL, "k") != nil {
		errs = append(errs, FieldError{Field: "url", Detail: "must be an rtmp:// or rtmps:// URL with a host, of at most 512 characters, without spaces, quotes, user, password, query or fragment"})
	}
	if in.Key == "" || recording.CheckTarget("rtmp://host", in.Key) != nil {
		errs = append(errs, FieldError{Field: "key", Detail: "must be 1 to 256 characters, without spaces, quotes, slashes, ? or #"})
	}
	if len(errs) > 0 {
		writeProblem(c, validationProblem(errs))
		return
	}
	sess, _ := sessionOf(c)
	ctx := c.Request.Context()
	target := store.BroadcastTarget{URL: in.URL, Key: in.Key}
	err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.SetBroadcastTarget(ctx, sess.OrganizerID, w.ID, target); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, "broadcast_target.set", "webinar", w.ID, nil))
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.broadcastState(w.ID, &target))
}

// deleteBroadcastTarget forgets the webinar's RTMP URL and stream key; a broadcast
// running goes on until stopped.
func (s *Server) deleteBroadcastTarget(c *gin.Context) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	sess, _ := sessionOf(c)
	ctx := c.Request.Context()
	err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.ClearBroadcastTarget(ctx, sess.OrganizerID, w.ID); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, "broadcast_target.delete", "webinar", w.ID, nil))
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// startBroadcast starts broadcasting the webinar's room to its target: everyone in the
// room and its lobby is told before the first frame leaves.
func (s *Server) startBroadcast(c *gin.Context) {
	w, target, ok := s.ownWebinarTarget(c)
	if !ok {
		return
	}
	sess, _ := sessionOf(c)
	s.castStart(c, w, target, sess.OrganizerID, true)
}

// castStart starts the live broadcast of w's room for its owner organizerID, to target:
// here when the room runs here, else, when elsewhere is set, on the node that runs it.
func (s *Server) castStart(c *gin.Context, w store.Webinar, target *store.BroadcastTarget, organizerID string, elsewhere bool) {
	if target == nil {
		writeProblem(c, errNoBroadcastTarget)
		return
	}
	room, open := s.p.SFU.Room(w.RoomID)
	if !open || room.Origin() != "" {
		s.answerElsewhere(c, elsewhere, w, organizerID, commandCastStart, errRoomNotOpen)
		return
	}
	switch s.broadcasts.reserveUpTo(w.ID, s.p.MaxBroadcasts) {
	case reserveRunning:
		writeProblem(c, errBroadcastActive)
		return
	case reserveFull:
		writeProblem(c, errTooManyBroadcasts)
		return
	}
	started := false
	defer func() {
		if !started {
			s.broadcasts.release(w.ID, nil)
		}
	}()
	dir, err := os.MkdirTemp("", "webinaire-broadcast-")
	if err != nil {
		s.fail(c, fmt.Errorf("start broadcast: %w", err))
		return
	}
	log := s.log.With("webinar", w.ID)
	cast, err := recording.StartBroadcast(room, recording.BroadcastParams{
		FFmpeg: s.p.FFmpeg, URL: target.URL, Key: target.Key, Dir: dir, Logger: log, Panics: s.p.SFU.Panics(),
		OnStatus: func(st recording.BroadcastStatus) {
			log.Info("broadcast status", "state", st.State, "attempts", st.Attempts, "reason", st.Reason, "error", st.Error)
			if st.State == recording.BroadcastRetrying {
				s.castTrouble.WithLabelValues(st.Reason).Inc()
			}
		},
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		if errors.Is(err, sfu.ErrRoomClosed) {
			writeProblem(c, errRoomNotOpen)
			return
		}
		s.fail(c, err)
		return
	}
	a := &activeBroadcast{cast: cast, startedAt: s.now(), stopping: make(chan struct{})}
	started = true
	s.broadcasts.release(w.ID, a)
	s.broadcasts.wg.Add(1)
	go func() { // owned by the server (broadcasts.wg); ends with the broadcast
		defer s.broadcasts.wg.Done()
		<-cast.Done()
		s.broadcasts.mu.Lock()
		if s.broadcasts.active[w.ID] == a {
			delete(s.broadcasts.active, w.ID)
		}
		s.broadcasts.mu.Unlock()
		stopped := false
		select {
		case <-a.stopping:
			stopped = true
		default:
		}
		if !stopped {
			// Ended with its room: audited as a stop of the server's.
			ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
			defer cancel()
			if err := s.p.Store.RecordAudit(ctx, s.auditEvent("", "broadcast.stop", "webinar", w.ID, map[string]string{"reason": "the session ended"})); err != nil {
				log.Error("broadcast end not audited", "err", err)
			}
		}
	}()
	s.auditBroadcast(c, organizerID, "broadcast.start", w.ID)
	c.JSON(http.StatusCreated, s.broadcastJSONOf(a, target))
}

// broadcastJSONOf describes a broadcast just started.
func (s *Server) broadcastJSONOf(a *activeBroadcast, target *store.BroadcastTarget) broadcastJSON {
	st := a.cast.Status()
	started := a.startedAt.UTC()
	return broadcastJSON{TargetURL: &target.URL, State: st.State, Reason: st.Reason, Error: st.Error, Attempts: st.Attempts, StartedAt: &started}
}

// stopBroadcast stops the webinar's broadcast; the stream ends in the background.
func (s *Server) stopBroadcast(c *gin.Context) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	sess, _ := sessionOf(c)
	s.castStop(c, w, sess.OrganizerID, true)
}

// castStop stops the live broadcast of w's room for its owner organizerID: here when it
// runs here, else, when elsewhere is set, on the node that runs the room.
func (s *Server) castStop(c *gin.Context, w store.Webinar, organizerID string, elsewhere bool) {
	a := s.broadcasts.get(w.ID)
	if a == nil {
		s.answerElsewhere(c, elsewhere, w, organizerID, commandCastStop, errNotBroadcasting)
		return
	}
	first := false
	a.once.Do(func() {
		first = true
		close(a.stopping)
		s.broadcasts.wg.Add(1)
		go func() { // owned by the server (broadcasts.wg); ends once ffmpeg has exited
			defer s.broadcasts.wg.Done()
			a.cast.Close()
		}()
	})
	if first {
		s.auditBroadcast(c, organizerID, "broadcast.stop", w.ID)
	}
	c.JSON(http.StatusAccepted, broadcastJSON{State: "stopping", Attempts: a.cast.Status().Attempts})
}

// broadcastsRunning is the number of broadcasts running now, for /metrics.
func (s *Server) broadcastsRunning() float64 {
	s.broadcasts.mu.Lock()
	defer s.broadcasts.mu.Unlock()
	return float64(len(s.broadcasts.active))
}

// StopBroadcasts stops every broadcast and waits, within ctx, for their streams to end:
// serve calls it at shutdown.
func (s *Server) StopBroadcasts(ctx context.Context) error {
	s.broadcasts.mu.Lock()
	var casts []*recording.Broadcast
	for _, a := range s.broadcasts.active {
		a.once.Do(func() { close(a.stopping) })
		casts = append(casts, a.cast)
	}
	s.broadcasts.mu.Unlock()
	done := make(chan struct{})
	go func() { // owned by StopBroadcasts; ends when every broadcast has
		for _, b := range casts {
			b.Close()
		}
		s.broadcasts.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("broadcasts still ending: %w", ctx.Err())
	}
}

// auditBroadcast records a broadcast action, and the organizer's address in the
// connection log.
func (s *Server) auditBroadcast(c *gin.Context, organizerID, action, webinarID string) {
	ctx := c.Request.Context()
	if err := s.p.Store.RecordAudit(ctx, s.auditEvent(organizerID, action, "webinar", webinarID, nil)); err != nil {
		s.log.Error("broadcast action not audited", "action", action, "err", err)
	}
	if err := s.p.Store.LogConnection(ctx, s.connectionEvent(c, store.ActorOrganizer, organizerID, "", action, webinarID)); err != nil {
		s.log.Error("connection log not written", "action", action, "err", err)
	}
}
