package api

import (
	"context"
	"fmt"

	"webinaire/store"
)

// The rooms of webinars whose owner can no longer hold them (the webinar is deleted, its
// owner erased or restricted) end in two steps: stopRecordingsOf before the change in the
// database, so that no file is left half written, and closeRoomsOf after it, once the Gate
// refuses their credentials.

// stopRecordingsOf stops the ongoing recordings of webinars and waits, within ctx, until
// each is finalized.
func (s *Server) stopRecordingsOf(ctx context.Context, webinars []store.Webinar) error {
	var stopping []*activeRecording
	s.recorders.mu.Lock()
	for _, w := range webinars {
		if a := s.recorders.active[w.ID]; a != nil {
			a.once.Do(func() { close(a.stop) })
			stopping = append(stopping, a)
		}
	}
	s.recorders.mu.Unlock()
	for _, a := range stopping {
		select {
		case <-a.done:
		case <-ctx.Done():
			return fmt.Errorf("stop recording %s: %w", a.row.ID, ctx.Err())
		}
	}
	return nil
}

// closeRoomsOf closes the open rooms of webinars: everyone is told, no one can come back
// (the Gate refuses them once the change is in the database).
func (s *Server) closeRoomsOf(webinars []store.Webinar) {
	for _, w := range webinars {
		if room, open := s.p.SFU.Room(w.RoomID); open {
			_ = room.Close() // closing a room that has just closed is no error
			s.log.Info("room closed with its webinar", "webinar", w.ID)
		}
	}
}
