package sfu

import (
	"cmp"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"time"

	"webinaire/sfu/signal"
)

// Breakout rooms: a moderator splits the participants of a main room into smaller rooms
// for a while, then brings them back. A breakout room is a room like any other (its own
// media, chat and polls, dropped when it closes), with an id of its own made of its main
// room's id and a random part nobody can guess. The main room holds the breakouts' state
// under its lock: the rooms, who goes where, the timer. A participant moves by a new
// connection, with a token for the other room that the server hands it over its current
// one (breakout_move): no lobby, no name to type again.
//
// Every breakout room runs where its main room runs (MainRoom gives the id to place), so
// that the main room reaches the participants of its breakout rooms. The main room stays
// open while one of its breakout rooms is.

// Limits of breakout rooms.
const (
	// breakoutCloseDelay is how long the breakout rooms stay open once their participants
	// were sent back, for their moves to go through; whoever is still in one then is sent
	// out with breakout_ended.
	breakoutCloseDelay = 10 * time.Second
)

// breakoutMark separates a main room's id from the random part of its breakout rooms'
// ids. A room id with it is a breakout room's.
const breakoutMark = ".br."

// breakoutIDLen is the length of the random part of a breakout room's id: 130 bits.
const breakoutIDLen = 26

var breakoutEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// MainRoom returns the id of the main room of a breakout room, and any other room id as
// it is. A breakout room is placed, admitted and audited as its main room.
func MainRoom(id string) string {
	main, _, found := strings.Cut(id, breakoutMark)
	if !found {
		return id
	}
	return main
}

// IsBreakoutRoom tells whether id is the id of a breakout room.
func IsBreakoutRoom(id string) bool { return strings.Contains(id, breakoutMark) }

// newBreakoutID makes the id of a new breakout room of main: main's id, the mark, and
// 130 random bits.
func newBreakoutID(main string) string {
	b := make([]byte, 17)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return main + breakoutMark + strings.ToLower(breakoutEncoding.EncodeToString(b))[:breakoutIDLen]
}

// breakouts are the breakout rooms of a main room, under the main room's lock.
type breakouts struct {
	rooms []breakoutRoom
	// assigned gives the breakout room id of each participant sent to one.
	assigned map[string]string
	// names are the display names of the participants of the main room when the rooms
	// opened and of those assigned since, for the moderators' lists.
	names  map[string]string
	choose bool
	endsAt time.Time // zero: no time limit
	stop   func() bool
}

type breakoutRoom struct{ id, name string }

// spread assigns the participants ids at random, each to a room among the least full.
func (b *breakouts) spread(ids []string) {
	slices.Sort(ids) // map order is not random enough to count on
	mrand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	count := make(map[string]int, len(b.rooms))
	for _, room := range b.assigned {
		count[room]++
	}
	for _, id := range ids {
		least := b.rooms[0].id
		for _, br := range b.rooms[1:] {
			if count[br.id] < count[least] {
				least = br.id
			}
		}
		b.assigned[id] = least
		count[least]++
	}
}

// roomNamed returns the breakout room with id, if any.
func (b *breakouts) roomNamed(id string) (breakoutRoom, bool) {
	i := slices.IndexFunc(b.rooms, func(br breakoutRoom) bool { return br.id == id })
	if i < 0 {
		return breakoutRoom{}, false
	}
	return b.rooms[i], true
}

// main is the main room of r: its parent for a breakout room, r itself otherwise.
func (r *Room) main() *Room {
	if r.parent != nil {
		return r.parent
	}
	return r
}

// breakout acts on a breakout message of p, in its room or in one of its breakout rooms;
// it answers errors to p.
func (p *participant) breakout(m signal.ClientMessage) {
	r := p.room
	r.mu.Lock()
	present := r.participants[p.id] == p.member
	mod := present && p.role == RoleModerator
	r.mu.Unlock()
	if !present {
		return
	}
	main := r.main()
	var code, text string
	switch m.Type {
	case signal.TypeBreakoutJoin:
		code, text = main.breakoutJoin(p.member, mod, m.RoomID)
	case signal.TypeBreakoutHelp:
		code, text = main.askHelp(p.member, r)
	default:
		if !mod {
			p.sendError(signal.CodeForbidden, "only a moderator may do this")
			return
		}
		switch m.Type {
		case signal.TypeBreakoutStart:
			code, text = main.startBreakouts(p.member, m.Rooms, m.Random, m.Choose, time.Duration(m.Duration)*time.Second)
		case signal.TypeBreakoutAssign:
			code, text = main.assignBreakout(m.ParticipantID, m.RoomID)
		case signal.TypeBreakoutBroadcast:
			code, text = main.broadcastToBreakouts(p.member, m.Text)
		case signal.TypeBreakoutEnd:
			if !main.EndBreakouts() {
				code, text = signal.CodeBreakoutState, "no breakout rooms are open"
			}
		}
	}
	if code != "" {
		p.sendError(code, text)
	}
}

// startBreakouts opens breakout rooms in the main room r: the participants listed in
// specs go to their room, and with random the others of the room but the moderators are
// spread over the rooms. Each is sent its move. The rooms close after d, when d > 0.
func (r *Room) startBreakouts(by *member, specs []signal.BreakoutSpec, random, choose bool, d time.Duration) (string, string) {
	r.mu.Lock()
	switch {
	case r.closed:
		r.mu.Unlock()
		return "", ""
	case r.brk != nil:
		r.mu.Unlock()
		return signal.CodeBreakoutState, "breakout rooms are open already"
	}
	for _, s := range specs {
		for _, id := range s.Participants {
			// Participants connected here only: those watching from an edge node stay.
			if p := r.participants[id]; p == nil || p.mode == modeRelay || p.mode == modeRemote {
				r.mu.Unlock()
				return signal.CodeNotFound, "no such participant in the room"
			}
		}
	}
	b := &breakouts{assigned: map[string]string{}, names: map[string]string{}, choose: choose}
	for _, s := range specs {
		br := breakoutRoom{id: newBreakoutID(r.id), name: s.Name}
		b.rooms = append(b.rooms, br)
		for _, id := range s.Participants {
			b.assigned[id] = br.id
		}
	}
	var rest []string
	for id, p := range r.participants {
		if p.mode == modeRelay || p.mode == modeRemote {
			continue // an edge node's link, or a participant connected to another node
		}
		b.names[id] = p.claims.Name
		if _, ok := b.assigned[id]; !ok && p.role != RoleModerator {
			rest = append(rest, id)
		}
	}
	if random {
		b.spread(rest)
	}
	if d > 0 {
		b.endsAt = r.srv.clock.Now().Add(d)
		b.stop = r.srv.clock.AfterFunc(d, r.breakoutTimeUp)
	}
	r.brk = b
	var moves []move
	for id, room := range b.assigned {
		if p := r.participants[id]; p != nil {
			moves = append(moves, move{p: p, to: room})
		}
	}
	r.log.Info("breakout rooms opened", "by", by.id, "rooms", len(b.rooms), "assigned", len(b.assigned), "seconds", int(d/time.Second))
	r.mu.Unlock()
	r.tellBreakouts()
	r.sendMoves(moves)
	return "", ""
}

// move is a participant to send into another room.
type move struct {
	p  *member
	to string // room id
}

// sendMoves hands each participant of moves a token for its new room; r is the main room.
func (r *Room) sendMoves(moves []move) {
	for _, mv := range moves {
		r.sendMove(mv.p, mv.to)
	}
}

// sendMove hands p a token for the room to (the main room r, or one of its breakout
// rooms), under its name and with its role, without the lobby: p moves by joining
// with it on a new connection.
func (r *Room) sendMove(p *member, to string) {
	pr := p.room
	pr.mu.Lock()
	role := p.role
	pr.mu.Unlock()
	r.mu.Lock()
	name := ""
	if r.brk != nil {
		br, _ := r.brk.roomNamed(to)
		name = br.name
	}
	r.mu.Unlock()
	c := p.claims
	c.Room, c.Role, c.Lobby = to, role, false
	tok := r.srv.sessionCredential(c)
	if tok == "" {
		p.sendError(signal.CodeInternal, "the move to the other room could not be prepared")
		return
	}
	p.session.sendRaw(encode(signal.BreakoutMoveMessage{Type: signal.TypeBreakoutMove, RoomID: to, RoomName: name, Main: to == r.id, Token: tok}))
}

// breakoutJoin moves p into the breakout room id, or back to the main room r when id is
// empty. A moderator may go into any breakout room, the others into their own, or any
// when they may choose.
func (r *Room) breakoutJoin(p *member, mod bool, id string) (string, string) {
	if id == "" || id == r.id {
		if p.room == r {
			return "", ""
		}
		r.sendMove(p, r.id)
		return "", ""
	}
	r.mu.Lock()
	if r.brk == nil {
		r.mu.Unlock()
		return signal.CodeBreakoutState, "no breakout rooms are open"
	}
	if _, ok := r.brk.roomNamed(id); !ok {
		r.mu.Unlock()
		return signal.CodeUnknownRoom, "no such breakout room"
	}
	own := r.brk.assigned[p.id] == id
	if !mod && !own && !r.brk.choose {
		r.mu.Unlock()
		return signal.CodeForbidden, "this breakout room is not yours"
	}
	changed := false
	if !mod && !own {
		r.brk.assigned[p.id] = id
		r.brk.names[p.id] = p.claims.Name
		changed = true
	}
	r.mu.Unlock()
	if changed {
		r.tellBreakouts()
	}
	if p.room.id != id {
		r.sendMove(p, id)
	}
	return "", ""
}

// assignBreakout sends the participant id to the breakout room, or back to the main room
// r when room is empty.
func (r *Room) assignBreakout(id, room string) (string, string) {
	r.mu.Lock()
	if r.brk == nil {
		r.mu.Unlock()
		return signal.CodeBreakoutState, "no breakout rooms are open"
	}
	if room == r.id {
		room = ""
	}
	if _, ok := r.brk.roomNamed(room); room != "" && !ok {
		r.mu.Unlock()
		return signal.CodeUnknownRoom, "no such breakout room"
	}
	if p := r.participants[id]; p != nil {
		r.brk.names[id] = p.claims.Name
	}
	if _, known := r.brk.names[id]; !known {
		r.mu.Unlock()
		return signal.CodeNotFound, "no such participant in the room"
	}
	if room == "" {
		delete(r.brk.assigned, id)
	} else {
		r.brk.assigned[id] = room
	}
	r.mu.Unlock()
	r.tellBreakouts()
	if p, to := r.find(id), cmp.Or(room, r.id); p != nil && p.room.id != to {
		r.sendMove(p, to)
	}
	return "", ""
}

// broadcastToBreakouts sends a moderator's message to everyone in the main room r and in
// its breakout rooms. It is not kept.
func (r *Room) broadcastToBreakouts(by *member, text string) (string, string) {
	r.mu.Lock()
	open := r.brk != nil
	r.mu.Unlock()
	if !open {
		return signal.CodeBreakoutState, "no breakout rooms are open"
	}
	msg := encode(signal.BreakoutBroadcastMessage{Type: signal.TypeBreakoutMessage, From: by.id, FromName: by.claims.Name, Text: text})
	for _, o := range r.everyone() {
		o.session.sendRaw(msg)
	}
	return "", ""
}

// askHelp tells the moderators, wherever they are, that p asks for help in its breakout
// room in.
func (r *Room) askHelp(p *member, in *Room) (string, string) {
	if in == r {
		return signal.CodeBreakoutState, "help is asked from a breakout room"
	}
	r.mu.Lock()
	var name string
	if r.brk != nil {
		br, _ := r.brk.roomNamed(in.id)
		name = br.name
	}
	r.mu.Unlock()
	msg := encode(signal.BreakoutHelpRequestedMessage{Type: signal.TypeBreakoutHelpRequested, ParticipantID: p.id, Name: p.claims.Name, RoomID: in.id, RoomName: name})
	for _, o := range r.everyone() {
		if o.isModerator() {
			o.session.sendRaw(msg)
		}
	}
	return "", ""
}

// breakoutTimeUp ends the breakout rooms when their time is over. It runs on a timer's
// goroutine of its own.
func (r *Room) breakoutTimeUp() {
	defer r.srv.panics.Recover(PartRoom, r.log, nil)
	if r.EndBreakouts() {
		r.log.Info("breakout rooms ended", "reason", "time up")
	}
}

// EndBreakouts brings everyone in the breakout rooms of r back to r and closes those
// rooms shortly after; false when r has no breakout rooms open.
func (r *Room) EndBreakouts() bool {
	r.mu.Lock()
	b := r.brk
	if b == nil {
		r.mu.Unlock()
		return false
	}
	r.brk = nil
	if b.stop != nil {
		b.stop()
	}
	r.mu.Unlock()
	r.tellBreakouts() // to the main room: the breakout rooms are no longer r's
	rooms := r.srv.roomsOf(b)
	for _, br := range rooms {
		br.mu.Lock()
		ps := br.othersLocked(nil)
		br.mu.Unlock()
		for _, p := range ps {
			r.sendBreakouts(p) // closed: r.brk is nil
			r.sendMove(p, r.id)
		}
	}
	if len(rooms) > 0 {
		r.srv.clock.AfterFunc(breakoutCloseDelay, func() {
			defer r.srv.panics.Recover(PartRoom, r.log, nil)
			for _, br := range rooms {
				br.close(breakoutEnded)
			}
		})
	}
	r.log.Info("breakout rooms closed", "rooms", len(b.rooms))
	return true
}

// breakoutEnded is the end of a session in a breakout room that no longer exists.
var breakoutEnded = endCause{err: ErrRoomGone, code: signal.CloseRoomClosed, reason: "the breakout rooms have ended", errCode: signal.CodeBreakoutEnded}

// closeBreakouts closes the breakout rooms of b, with the main room's cause.
func (s *Server) closeBreakouts(b *breakouts, cause endCause) {
	if b == nil {
		return
	}
	if b.stop != nil {
		b.stop()
	}
	for _, br := range s.roomsOf(b) {
		br.close(cause)
	}
}

// breakoutsInUse tells whether one of the breakout rooms of the main room r is open: r
// stays open meanwhile, empty or not. Each closes once empty for the grace period, and so
// r after them.
func (r *Room) breakoutsInUse() bool {
	r.mu.Lock()
	b := r.brk
	r.mu.Unlock()
	return b != nil && len(r.srv.roomsOf(b)) > 0
}

// roomsOf are the breakout rooms of b open now.
func (s *Server) roomsOf(b *breakouts) []*Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Room
	for _, br := range b.rooms {
		if room := s.rooms[br.id]; room != nil {
			out = append(out, room)
		}
	}
	return out
}

// everyone lists the participants of the main room r and of its open breakout rooms.
func (r *Room) everyone() []*member {
	r.mu.Lock()
	out := r.othersLocked(nil)
	b := r.brk
	r.mu.Unlock()
	if b == nil {
		return out
	}
	for _, br := range r.srv.roomsOf(b) {
		br.mu.Lock()
		out = append(out, br.othersLocked(nil)...)
		br.mu.Unlock()
	}
	return out
}

// find returns the participant with id in the main room r or one of its breakout rooms.
func (r *Room) find(id string) *member {
	for _, p := range r.everyone() {
		if p.id == id {
			return p
		}
	}
	return nil
}

// tellBreakouts sends the state of the breakout rooms to everyone in the main room r and
// in its breakout rooms.
func (r *Room) tellBreakouts() {
	for _, p := range r.everyone() {
		r.sendBreakouts(p)
	}
}

// sendBreakouts sends p the state of the breakout rooms of the main room r, as p may see
// it: the members of each room for moderators, its own room for the others.
func (r *Room) sendBreakouts(p *member) {
	mod := p.isModerator()
	r.mu.Lock()
	defer r.mu.Unlock()
	msg := signal.BreakoutsMessage{Type: signal.TypeBreakouts, MainRoom: r.id, Rooms: []signal.BreakoutRoom{}}
	if b := r.brk; b != nil {
		msg.Open, msg.Choose, msg.Assigned = true, b.choose, b.assigned[p.id]
		if !b.endsAt.IsZero() {
			at := b.endsAt.UTC()
			msg.EndsAt = &at
		}
		for _, br := range b.rooms {
			st := signal.BreakoutRoom{ID: br.id, Name: br.name}
			for id, room := range b.assigned {
				if room != br.id {
					continue
				}
				st.Count++
				if mod {
					st.Participants = append(st.Participants, signal.BreakoutMember{ID: id, Name: b.names[id]})
				}
			}
			slices.SortFunc(st.Participants, func(a, b signal.BreakoutMember) int { return strings.Compare(a.Name+a.ID, b.Name+b.ID) })
			msg.Rooms = append(msg.Rooms, st)
		}
	}
	p.session.sendRaw(encode(msg))
}

// admitToBreakout checks, for Server.join with s.mu held, that p may enter the breakout
// room id of the main room r: a moderator always, the others when assigned to it or free to choose.
// It returns the room's name and p's role: the one given in the main room, if any.
func (r *Room) admitToBreakout(p *member, id string) (name string, role Role, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.brk == nil {
		return "", "", fmt.Errorf("breakout room %s: %w", id, ErrRoomGone)
	}
	br, ok := r.brk.roomNamed(id)
	if !ok {
		return "", "", fmt.Errorf("breakout room %s: %w", id, ErrRoomGone)
	}
	role = p.claims.Role
	if given, ok := r.roles[p.id]; ok {
		role = given
	}
	if role != RoleModerator && r.brk.assigned[p.id] != id && !r.brk.choose {
		return "", "", ErrNotAssigned
	}
	return br.name, role, nil
}
