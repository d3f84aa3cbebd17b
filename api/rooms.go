package api

import (
	"context"
	"errors"

	"webinaire/sfu"
	"webinaire/store"
)

// The rooms of webinars whose owner can no longer hold them (the webinar is deleted, its
// owner erased or restricted) end in two steps: stopRecordingsOf before the change in the
// database, so that no file is left half written, and closeRoomsOf after it, once the Gate
// refuses their credentials.

// stopRecordingsOf stops the ongoing recordings of webinars and waits, within ctx, until
// each is finalized.
func (s *Server) stopRecordingsOf(ctx context.Context, webinars []store.Webinar) error {
	ids := make([]string, 0, len(webinars))
	for _, w := range webinars {
		ids = append(ids, w.ID)
	}
	return s.recordings.StopAndWait(ctx, ids)
}

// roomNodesOf are the nodes that run the rooms of webinars elsewhere in the cluster, by
// room id, read before a change that deletes their placements.
func (s *Server) roomNodesOf(ctx context.Context, webinars []store.Webinar) map[string]store.Node {
	nodes := map[string]store.Node{}
	for _, w := range webinars {
		if n, err := s.roomNode(ctx, w.RoomID); err != nil {
			s.log.Warn("node of a room not read: closed at its participants' next entry", "webinar", w.ID, "err", err)
		} else if n.ID != "" {
			nodes[w.RoomID] = n
		}
	}
	return nodes
}

// closeRoomsOf closes the open rooms of webinars, here or on the nodes that run them
// (elsewhere, as roomNodesOf read them): everyone is told, no one can come back (the Gate
// refuses them once the change is in the database).
func (s *Server) closeRoomsOf(ctx context.Context, webinars []store.Webinar, elsewhere map[string]store.Node) {
	for _, w := range webinars {
		if room, open := s.p.SFU.Room(w.RoomID); open && room.Origin() == "" {
			_ = room.Close() // closing a room that has just closed is no error
			s.log.Info("room closed with its webinar", "webinar", w.ID)
			continue
		}
		if n, ok := elsewhere[w.RoomID]; ok {
			if _, err := s.sendCommand(ctx, n, roomCommand{Room: w.RoomID, Action: commandClose}); err != nil && !errors.Is(err, sfu.ErrParticipantNotFound) {
				s.log.Warn("room of a webinar not closed on its node: closed at its participants' next entry", "webinar", w.ID, "node", n.ID, "err", err)
				continue
			}
			s.log.Info("room closed with its webinar", "webinar", w.ID, "node", n.ID)
		}
	}
}
