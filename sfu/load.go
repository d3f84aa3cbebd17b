package sfu

import "webinaire/sfu/signal"

// Load is how much a server carries now, as a cluster's placement weighs it.
type Load struct {
	// Rooms is the number of open rooms.
	Rooms int
	// Participants is the number of participants in them, those waiting in a lobby
	// included.
	Participants int
	// Forwarded is the packets handed to subscribers since the server started (see
	// ForwardStats); its rate is the node's forwarding load.
	Forwarded uint64
}

// Load counts the open rooms and their participants.
func (s *Server) Load() Load {
	rooms := s.openRooms()
	l := Load{Rooms: len(rooms), Forwarded: s.forwarding.forwarded.Load()}
	for _, r := range rooms {
		r.mu.Lock()
		l.Participants += r.localLocked() + len(r.waiting)
		r.mu.Unlock()
	}
	return l
}

// RoomIDs are the ids of the open rooms.
func (s *Server) RoomIDs() []string {
	rooms := s.openRooms()
	ids := make([]string, len(rooms))
	for i, r := range rooms {
		ids[i] = r.id
	}
	return ids
}

// openRooms copies the open rooms out of s.mu.
func (s *Server) openRooms() []*Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	return rooms
}

// Move closes the room because another node runs it now: every participant is told
// (room_moved, close code 4010) and asks the API where to come back. Its chat and polls
// are dropped with it, as when it closes.
func (r *Room) Move() {
	r.close(endCause{err: ErrRoomMoved, code: signal.CloseRoomMoved, reason: "the room runs on another node", errCode: signal.CodeRoomMoved})
}
