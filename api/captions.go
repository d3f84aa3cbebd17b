package api

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"

	"webinaire/recording"
	"webinaire/sfu"
)

// Automatic captions problems.
var (
	errCaptionsOff    = problem(http.StatusConflict, "captions_not_configured", "automatic captions are off: the platform has no speech-to-text service (captions.stt_url)")
	errCaptionsActive = problem(http.StatusConflict, "captions_active", "automatic captions are on already")
	errNoCaptions     = problem(http.StatusConflict, "captions_inactive", "automatic captions are off in this room")
	errSTTUnreachable = problem(http.StatusBadGateway, "captions_unavailable", "the speech-to-text service could not be reached")
)

// transcribers are the automatic captions running now, by webinar id; mu guards the map.
type transcribers struct {
	mu     sync.Mutex
	active map[string]*activeTranscriber
	wg     sync.WaitGroup
}

type activeTranscriber struct {
	tr   *recording.Transcriber
	sink *sfu.SinkHandle
	once sync.Once
	stop chan struct{}
}

// startCaptions turns the automatic captions of the webinar's open room on: its audio goes
// to the organisation's speech-to-text service until they are turned off or the room
// closes.
func (s *Server) startCaptions(c *gin.Context) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	if s.p.STTURL == "" {
		writeProblem(c, errCaptionsOff)
		return
	}
	room, open := s.p.SFU.Room(w.RoomID)
	if !open {
		writeProblem(c, errRoomNotOpen)
		return
	}
	s.captions.mu.Lock()
	if s.captions.active[w.ID] != nil {
		s.captions.mu.Unlock()
		writeProblem(c, errCaptionsActive)
		return
	}
	a := &activeTranscriber{stop: make(chan struct{})}
	s.captions.active[w.ID] = a // reserved while the service is dialled
	s.captions.mu.Unlock()
	tr, err := recording.StartTranscriber(c.Request.Context(), recording.TranscriberParams{
		URL: s.p.STTURL, Lang: s.p.STTLang, Post: room.AddCaption, Logger: s.log.With("room", w.RoomID),
	})
	if err == nil {
		a.tr = tr
		a.sink, err = room.AddSink(tr)
		if err != nil {
			tr.Close()
		}
	}
	if err != nil {
		s.captions.mu.Lock()
		delete(s.captions.active, w.ID)
		s.captions.mu.Unlock()
		s.log.Warn("automatic captions not started", "webinar", w.ID, "err", err)
		writeProblem(c, errSTTUnreachable)
		return
	}
	s.captions.wg.Add(1)
	go func() { // owned by the server (captions.wg); ends when the captions stop or the room closes
		defer s.captions.wg.Done()
		select {
		case <-a.stop:
		case <-room.Done():
		}
		a.sink.Close()
		a.tr.Close()
		s.captions.mu.Lock()
		delete(s.captions.active, w.ID)
		s.captions.mu.Unlock()
	}()
	c.JSON(http.StatusCreated, gin.H{"active": true, "lang": s.p.STTLang})
}

// stopCaptions turns the automatic captions of the webinar's room off.
func (s *Server) stopCaptions(c *gin.Context) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	s.captions.mu.Lock()
	a := s.captions.active[w.ID]
	s.captions.mu.Unlock()
	stopping := false
	if a != nil && a.tr != nil {
		a.once.Do(func() { close(a.stop); stopping = true })
	}
	if !stopping {
		// None, or one stopping already at an earlier request.
		writeProblem(c, errNoCaptions)
		return
	}
	c.Status(http.StatusNoContent)
}

// StopCaptions stops every automatic captioning and waits for them, within ctx.
func (s *Server) StopCaptions(ctx context.Context) error {
	s.captions.mu.Lock()
	for _, a := range s.captions.active {
		if a.tr != nil {
			a.once.Do(func() { close(a.stop) })
		}
	}
	s.captions.mu.Unlock()
	if err := waitWithin(ctx, &s.captions.wg); err != nil {
		return fmt.Errorf("automatic captions still stopping: %w", err)
	}
	return nil
}
