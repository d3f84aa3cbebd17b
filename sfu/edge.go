package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"webinaire/sfu/signal"
)

// An edge room is a room of this node fed by the room's origin, another node: the
// viewers placed here receive from it what the origin's publishers send. The room opens
// with its first viewer here, whose token names the origin; it links to the origin
// (OriginDialer), as a relay (relay.go), and mirrors what it learns: the origin's
// participants become participants of this room without a connection of their own
// (modeRemote), their tracks arrive with every simulcast layer and are forwarded here as
// any published track, NACKs are answered from this node's caches and keyframe requests
// go up the link, paced here and at the origin. The chat, polls, hands, reactions, the
// recording notice and the room's state reach the viewers here as the origin sends them.
// When the link ends, the room closes with room_moved: its viewers ask where to go.

// OriginDialer links an edge node to the origin of a room.
type OriginDialer interface {
	// DialOrigin opens a connection to ServeRelay on the node origin for the room, and
	// returns it with that node's media address (its candidates there are accepted
	// whatever the address's class).
	DialOrigin(ctx context.Context, origin, room string, kind RoomKind) (Conn, netip.Addr, error)
}

// ErrNoOrigin is a token naming an origin on a server that cannot reach one.
var ErrNoOrigin = errors.New("sfu: this node links to no origin")

// edgeLinkTimeout bounds the dial of the link; what comes after is bounded by ICE's
// own timeouts (a connection that fails ends the link).
const edgeLinkTimeout = 15 * time.Second

// forwardedFromOrigin are the origin's messages the viewers here get as they are.
var forwardedFromOrigin = map[string]bool{
	signal.TypeChat:         true,
	signal.TypeReaction:     true,
	signal.TypeHands:        true,
	signal.TypeBroadcast:    true,
	signal.TypeCaption:      true,
	signal.TypeSlides:       true,
	signal.TypeSlidePointer: true,
	signal.TypeRecording:    true,
	signal.TypeRoomState:    true,
}

// edgeLink is an edge room's link to its origin.
type edgeLink struct {
	room *Room
	log  *slog.Logger
	conn Conn
	pc   *webrtc.PeerConnection
	peer netip.Addr

	mu      sync.Mutex
	mids    map[string]signal.TrackAdded // what the origin said each mid carries
	ups     map[string]*upTrack          // the origin's tracks here, by track id
	remotes map[string]*participant      // the origin's participants here, by id
	held    []webrtc.ICECandidateInit
	wg      sync.WaitGroup // the track readers
	closed  bool           // close has begun: no reader starts

	// up are the relay messages to the origin, in order, written by the link's writer;
	// full means the origin does not keep up: the link ends (overflow).
	up       chan []byte
	overflow context.CancelFunc

	// votes are the votes of this node's viewers, by poll and participant, as they went
	// up: the origin's polls, which the relay sees as an attendee, carry no one's own
	// vote, and each viewer's copy gets its own here. Guarded by mu.
	votes map[string]map[string][]int
}

// edgeQueueLen bounds the messages waiting to go up an edge's link: its descriptions and
// candidates, and its viewers' entries, departures and words.
const edgeQueueLen = 16384

// maxEdgePolls bounds the polls whose votes an edge remembers for its viewers.
const maxEdgePolls = 256

// runEdge links r to its origin until the room or the link ends; a link that ends first
// closes the room with room_moved. It runs on a goroutine the room owns.
func (r *Room) runEdge(dialer OriginDialer) {
	defer r.srv.panics.Recover(PartRoom, r.log, r.Move)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // owned by runEdge: ends when the room closes or runEdge returns
		select {
		case <-r.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := r.linkOrigin(ctx, dialer)
	select {
	case <-r.done:
		return
	default:
	}
	r.log.Warn("link to the origin ended: room closed here", "origin", r.origin, "err", err)
	r.Move()
}

// linkOrigin dials the origin and serves the link until it ends.
func (r *Room) linkOrigin(ctx context.Context, dialer OriginDialer) error {
	dctx, cancel := context.WithTimeout(ctx, edgeLinkTimeout)
	conn, peer, err := dialer.DialOrigin(dctx, r.origin, r.id, r.kind)
	cancel()
	if err != nil {
		return fmt.Errorf("dial origin: %w", err)
	}
	defer func() { _ = conn.Close(signal.CloseNormal, "edge room closed") }()
	ctx, overflow := context.WithCancel(ctx)
	defer overflow()
	r.srv.mu.Lock()
	api := r.srv.api
	r.srv.mu.Unlock()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return fmt.Errorf("new peer connection: %w", err)
	}
	l := &edgeLink{
		room:     r,
		log:      r.log.With("origin", r.origin),
		conn:     conn,
		pc:       pc,
		peer:     peer.Unmap(),
		mids:     make(map[string]signal.TrackAdded),
		ups:      make(map[string]*upTrack),
		remotes:  make(map[string]*participant),
		up:       make(chan []byte, edgeQueueLen),
		overflow: overflow,
		votes:    make(map[string]map[string][]int),
	}
	defer l.close()
	// Every message goes up through l.up, in order, written by this goroutine alone.
	go func() { // owned by linkOrigin: ends with ctx
		for {
			select {
			case <-ctx.Done():
				return
			case msg := <-l.up:
				if err := conn.WriteMessage(ctx, msg); err != nil {
					overflow()
					return
				}
			}
		}
	}()
	pc.OnTrack(l.onTrack)
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			l.post(signal.CandidateMessage{Type: signal.TypeCandidate, Candidate: signal.Candidate(c.ToJSON())})
		}
	})
	failed := make(chan struct{})
	var failOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			failOnce.Do(func() { close(failed) })
		}
	})
	// One receiving section per kind, so that the first offer starts ICE and DTLS; the
	// origin adds its tracks in its own offers.
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return fmt.Errorf("add transceiver: %w", err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("set offer: %w", err)
	}
	l.post(signal.SDPMessage{Type: signal.TypeOffer, SDP: offer.SDP})
	msgs := make(chan []byte, 64)
	readErr := make(chan error, 1)
	go func() { // owned by linkOrigin: ends when the connection closes (deferred) or fails
		for {
			data, err := conn.ReadMessage(ctx)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case msgs <- data:
			case <-ctx.Done():
				readErr <- ctx.Err()
				return
			}
		}
	}()
	var lastWords <-chan time.Time // set once the media failed
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-failed:
			// An origin that closes the room ends the media first, then says why on
			// the signalling connection: its last words are waited for, briefly.
			failed = nil
			grace := time.NewTimer(flushTimeout)
			defer grace.Stop()
			lastWords = grace.C
		case <-lastWords:
			return errors.New("media connection to the origin failed")
		case err := <-readErr:
			// What the origin sent before the connection ended is read first: its last
			// message may say why it ended (the room closed, not moved).
			for len(msgs) > 0 {
				if herr := l.handle(ctx, <-msgs); herr != nil {
					return herr
				}
			}
			if lastWords != nil {
				return errors.New("media connection to the origin failed")
			}
			return fmt.Errorf("origin connection: %w", err)
		case data := <-msgs:
			if err := l.handle(ctx, data); err != nil {
				return err
			}
		}
	}
}

// handle acts on one message of the origin; an error ends the link.
func (l *edgeLink) handle(ctx context.Context, data []byte) error {
	var m signal.ServerMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("origin message: %w", err)
	}
	r := l.room
	switch m.Type {
	case signal.TypeJoined:
		for _, p := range m.Participants {
			l.addRemote(p)
		}
		r.mirrorJoined(data)
		// The viewers here from now on are told to the origin as they come and go; those
		// here already, now.
		r.mu.Lock()
		r.link = l
		for _, p := range r.participants {
			if p.mode != modeRemote {
				l.post(enterMessage(p))
			}
		}
		r.mu.Unlock()
	case signal.TypeRelay:
		switch m.Action {
		case signal.RelayEnd:
			r.endLocal(m.ParticipantID, m.Code)
		case signal.RelayDeliver:
			if p := r.local(m.ParticipantID); p != nil && len(m.Relayed) > 0 {
				l.keepVote(p.id, m.Relayed)
				p.session.sendRaw(m.Relayed)
			}
		}
	case signal.TypePoll:
		l.forwardPoll(data)
	case signal.TypeParticipantJoined:
		l.addRemote(m.Participant)
	case signal.TypeParticipantLeft:
		l.removeRemote(m.ParticipantID)
	case signal.TypeParticipants:
		for _, p := range m.Joined {
			l.addRemote(p)
		}
		for _, id := range m.Left {
			l.removeRemote(id)
		}
	case signal.TypeTracks:
		l.mu.Lock()
		for _, a := range m.Added {
			l.mids[a.Mid] = a
		}
		l.mu.Unlock()
	case signal.TypeMute:
		l.mute(signal.MuteMessage{ParticipantID: m.ParticipantID, Label: m.Label, Muted: m.Muted})
	case signal.TypeMutes:
		for _, c := range m.Changes {
			l.mute(c)
		}
	case signal.TypeRole:
		if l.remote(m.ParticipantID) != nil && m.Role.Valid() {
			if err := r.SetRole(m.ParticipantID, m.Role); err != nil {
				l.log.Debug("role not mirrored", "err", err)
			}
		}
	case signal.TypeOffer:
		return l.answer(ctx, m.SDP)
	case signal.TypeAnswer:
		if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: l.filterSDP(m.SDP)}); err != nil {
			return fmt.Errorf("origin answer: %w", err)
		}
		l.flushCandidates()
	case signal.TypeCandidate:
		if m.Candidate != nil {
			l.addCandidate(webrtc.ICECandidateInit(*m.Candidate))
		}
	case signal.TypeError:
		l.log.Warn("origin refused a message of the link", "code", m.Code)
	default:
		if forwardedFromOrigin[m.Type] {
			r.mirrorState(m.Type, data)
			r.forwardToLocal(data)
		}
	}
	return nil
}

// answer answers an offer of the origin.
func (l *edgeLink) answer(ctx context.Context, sdp string) error {
	// Inactive sections would stop Pion's transceivers for good (signal.KeepReceivers).
	offer := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: signal.KeepReceivers(l.filterSDP(sdp))}
	if err := l.pc.SetRemoteDescription(offer); err != nil {
		return fmt.Errorf("origin offer: %w", err)
	}
	l.flushCandidates()
	answer, err := l.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	if err := l.pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("set answer: %w", err)
	}
	l.post(signal.SDPMessage{Type: signal.TypeAnswer, SDP: answer.SDP})
	return nil
}

// admit tells whether a candidate of the origin may be used: its address is the
// origin's media address, or one the server sends to anyway.
func (l *edgeLink) admit(line string) bool {
	c, err := ice.UnmarshalCandidate(strings.TrimPrefix(line, "candidate:"))
	if err != nil || c.NetworkType().IsTCP() {
		return false
	}
	a, err := netip.ParseAddr(c.Address())
	if err != nil {
		return false
	}
	if l.peer.IsValid() && a.Unmap() == l.peer {
		return true
	}
	_, ok := l.room.srv.candidates.allow(netip.AddrPortFrom(a, uint16(c.Port()))) //nolint:gosec // parsed as a port
	return ok
}

// filterSDP takes the candidates admit refuses out of a description of the origin.
func (l *edgeLink) filterSDP(desc string) string {
	lines := strings.SplitAfter(desc, "\n")
	kept := lines[:0]
	for _, line := range lines {
		cand, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "a=")
		if ok && strings.HasPrefix(cand, "candidate:") && !l.admit(cand) {
			continue
		}
		kept = append(kept, line)
	}
	return strings.Join(kept, "")
}

// addCandidate adds a trickled candidate of the origin, or holds it until the origin's
// description is set.
func (l *edgeLink) addCandidate(c webrtc.ICECandidateInit) {
	if c.Candidate == "" || !l.admit(c.Candidate) {
		return
	}
	if l.pc.RemoteDescription() == nil {
		l.mu.Lock()
		if len(l.held) < maxRemoteCandidates {
			l.held = append(l.held, c)
		}
		l.mu.Unlock()
		return
	}
	if err := l.pc.AddICECandidate(c); err != nil {
		l.log.Debug("origin candidate refused", "error", err)
	}
}

// flushCandidates adds the candidates held until the origin's description was set.
func (l *edgeLink) flushCandidates() {
	l.mu.Lock()
	held := l.held
	l.held = nil
	l.mu.Unlock()
	for _, c := range held {
		if err := l.pc.AddICECandidate(c); err != nil {
			l.log.Debug("origin candidate refused", "error", err)
		}
	}
}

// remote is the mirror of the origin's participant id, nil when there is none.
func (l *edgeLink) remote(id string) *participant {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.remotes[id]
}

// addRemote mirrors a participant of the origin in the room; the viewers of this node,
// which the origin lists too, are here already.
func (l *edgeLink) addRemote(info ParticipantInfo) {
	r := l.room
	if !signal.ValidID(info.ID) || !info.Role.Valid() {
		return
	}
	p := newParticipant(r.srv, nil, Claims{Room: r.id, Participant: info.ID, Name: info.Name, Role: info.Role, Kind: r.kind})
	p.mode = modeRemote
	p.room = r
	for _, t := range info.Tracks {
		p.pub.muted[t.Label] = t.Muted
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.remotes[info.ID] != nil {
		return
	}
	if added, _ := r.addRemote(p.member); !added {
		return
	}
	l.remotes[info.ID] = p
}

// post queues a message to the origin; it never blocks, and ends the link when the
// origin does not keep up.
func (l *edgeLink) post(m any) {
	select {
	case l.up <- encode(m):
	default:
		l.log.Warn("link to the origin does not keep up: ended")
		l.overflow()
	}
}

// edgeEnteredLocked and edgeLeftLocked tell the origin of an edge room that a viewer of
// this node entered or left; r.mu held.
func (r *Room) edgeEnteredLocked(p *member) {
	if r.link != nil && p.mode != modeRemote {
		r.link.post(enterMessage(p))
	}
}

// enterMessage tells the origin that p entered this edge room.
func enterMessage(p *member) signal.RelayMessage {
	return signal.RelayMessage{Type: signal.TypeRelay, Action: signal.RelayEnter, ParticipantID: p.id, Name: p.claims.Name, Invitation: p.claims.Invitation}
}

func (r *Room) edgeLeftLocked(p *member) {
	if r.link != nil && p.mode != modeRemote {
		r.link.post(signal.RelayMessage{Type: signal.TypeRelay, Action: signal.RelayLeave, ParticipantID: p.id})
	}
}

// toOrigin passes what a viewer of this edge room said (chat, hand, reaction, vote) to
// the origin, where the room's chat, hands and polls are.
func (r *Room) toOrigin(p *participant, m signal.ClientMessage) {
	r.mu.Lock()
	l := r.link
	here := r.participants[p.id] == p.member
	r.mu.Unlock()
	if l == nil || !here {
		p.sendError(signal.CodeUnavailable, "the room's node is not reached yet: try again")
		return
	}
	said := signal.ClientMessage{Type: m.Type, Text: m.Text, To: m.To, Emoji: m.Emoji, Raised: m.Raised, PollID: m.PollID, Choices: m.Choices}
	l.post(signal.RelayMessage{Type: signal.TypeRelay, Action: signal.RelaySpeak, ParticipantID: p.id, Message: encode(said)})
}

// mirrorJoined keeps, from the origin's joined message, the room's state that a viewer
// entering here later gets in its own joined message: recording and live broadcast
// notices first (a viewer must know at once), the lock, the spotlight, the hands, the
// last captions.
func (r *Room) mirrorJoined(data []byte) {
	var j signal.JoinedMessage
	if json.Unmarshal(data, &j) != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recording, r.broadcasting = j.Recording, j.Broadcasting
	r.collab.locked, r.collab.spotlight = j.Locked, j.Spotlight
	r.collab.hands = j.Hands
	r.collab.captions = keepLast(j.Captions, MaxCaptionHistory)
	r.slides = mirroredDeck(j.Slides)
	r.edgePolls = nil
	for _, pl := range j.Polls {
		r.keepPollLocked(pl)
	}
}

// keepPollLocked keeps the latest state of an origin's poll for the viewers entering this
// edge room, without anyone's own vote; r.mu held.
func (r *Room) keepPollLocked(pl signal.PollMessage) {
	pl.MyVote = nil
	for i, old := range r.edgePolls {
		if old.ID == pl.ID {
			r.edgePolls[i] = pl
			return
		}
	}
	if len(r.edgePolls) < maxEdgePolls {
		r.edgePolls = append(r.edgePolls, pl)
	}
}

// mirroredDeck is the slides the origin presents, as an edge room keeps them: their id,
// pages and page, not the file, which its viewers download from the origin.
func mirroredDeck(m signal.SlidesMessage) *slideDeck {
	if m.SlidesID == "" {
		return nil
	}
	return &slideDeck{id: m.SlidesID, pages: m.Pages, page: m.Page, presenter: m.Presenter}
}

// mirrorState keeps what a message of the origin changes in the room's state, for the
// viewers entering here later (see mirrorJoined); the public chat from the link's start.
func (r *Room) mirrorState(typ string, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch typ {
	case signal.TypeRecording, signal.TypeBroadcast:
		var n signal.NoticeMessage
		if json.Unmarshal(data, &n) == nil {
			if typ == signal.TypeRecording {
				r.recording = n.Active
			} else {
				r.broadcasting = n.Active
			}
		}
	case signal.TypeRoomState:
		var s signal.RoomStateMessage
		if json.Unmarshal(data, &s) == nil {
			r.collab.locked, r.collab.spotlight = s.Locked, s.Spotlight
		}
	case signal.TypeHands:
		var h signal.HandsMessage
		if json.Unmarshal(data, &h) == nil {
			r.collab.hands = h.Queue
		}
	case signal.TypeChat:
		var e signal.ChatMessage
		if json.Unmarshal(data, &e) == nil && e.To == "" {
			r.collab.chat = keepLast(append(r.collab.chat, e), MaxChatHistory)
		}
	case signal.TypeCaption:
		var c signal.CaptionMessage
		if json.Unmarshal(data, &c) == nil {
			r.collab.captions = keepLast(append(r.collab.captions, c), MaxCaptionHistory)
		}
	case signal.TypeSlides:
		var m signal.SlidesMessage
		if json.Unmarshal(data, &m) == nil {
			r.slides = mirroredDeck(m)
		}
	}
}

// local is the participant of this node with id, nil when there is none.
func (r *Room) local(id string) *member {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.participants[id]; p != nil && p.mode != modeRemote {
		return p
	}
	return nil
}

// keepVote remembers a viewer's vote as the origin took it: its own copy of a poll,
// delivered after its vote, says what it voted.
func (l *edgeLink) keepVote(id string, msg []byte) {
	var pl signal.PollMessage
	if json.Unmarshal(msg, &pl) != nil || pl.Type != signal.TypePoll || pl.ID == "" || len(pl.MyVote) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.votes[pl.ID] == nil && len(l.votes) < maxEdgePolls {
		l.votes[pl.ID] = map[string][]int{}
	}
	if votes := l.votes[pl.ID]; votes != nil {
		votes[id] = slices.Clone(pl.MyVote)
	}
}

// forwardPoll sends a poll of the origin to the viewers here, each with its own vote.
func (l *edgeLink) forwardPoll(data []byte) {
	r := l.room
	var poll map[string]json.RawMessage
	var id string
	if json.Unmarshal(data, &poll) != nil || json.Unmarshal(poll["poll_id"], &id) != nil {
		return
	}
	var pl signal.PollMessage
	if json.Unmarshal(data, &pl) == nil {
		r.mu.Lock()
		r.keepPollLocked(pl)
		r.mu.Unlock()
	}
	to := r.locals()
	l.mu.Lock()
	votes := l.votes[id]
	mine := make(map[*member][]int, len(votes))
	for _, p := range to {
		if v, ok := votes[p.id]; ok {
			mine[p] = v
		}
	}
	l.mu.Unlock()
	for _, p := range to {
		v, ok := mine[p]
		if !ok {
			p.session.sendRaw(data)
			continue
		}
		poll["my_vote"] = encode(v)
		p.session.sendRaw(encode(poll))
	}
}

// endLocal ends the session of a viewer of this node as the origin asks: removed by a
// moderator there, or sent elsewhere; with no id, the origin closed the room, and this
// edge room closes the same way.
func (r *Room) endLocal(id, code string) {
	if id == "" {
		r.close(endCauseOf(code))
		return
	}
	p := r.local(id)
	if p == nil {
		return
	}
	p.session.end(endCauseOf(code))
}

// endCauseOf is how a viewer of an edge node ends when the origin ends it with code.
func endCauseOf(code string) endCause {
	switch code {
	case signal.CodeRemoved:
		return endCause{err: ErrRemoved, code: signal.CloseRemoved, reason: "removed from the room", errCode: signal.CodeRemoved}
	case signal.CodeRoomClosed:
		return endCause{err: ErrRoomClosed, code: signal.CloseRoomClosed, reason: "the room was closed", errCode: signal.CodeRoomClosed}
	case signal.CodeRoomLocked:
		return endCause{err: ErrRoomLocked, code: signal.CloseRoomLocked, reason: "the room is locked", errCode: signal.CodeRoomLocked}
	default:
		return endCause{err: ErrRoomMoved, code: signal.CloseRoomMoved, reason: "this room runs on another node: ask where", errCode: signal.CodeRoomMoved}
	}
}

// removeRemote takes a participant of the origin out of the room.
func (l *edgeLink) removeRemote(id string) {
	l.mu.Lock()
	p := l.remotes[id]
	delete(l.remotes, id)
	l.mu.Unlock()
	if p != nil {
		l.room.leave(p.member)
	}
}

// mute mirrors a mute change of the origin's participant.
func (l *edgeLink) mute(m signal.MuteMessage) {
	if p := l.remote(m.ParticipantID); p != nil && m.Label.Valid() {
		p.handleMute(m.Label, m.Muted)
	}
}

// onTrack is Pion's callback for a track the origin relays: one layer of one of its
// participants' tracks, read here for as long as it lasts.
func (l *edgeLink) onTrack(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	r := l.room
	mid := ""
	for _, t := range l.pc.GetTransceivers() {
		if t.Receiver() == receiver {
			mid = t.Mid()
		}
	}
	l.mu.Lock()
	a, ok := l.mids[mid]
	p := l.remotes[a.ParticipantID]
	if !ok || p == nil || l.closed {
		l.mu.Unlock()
		l.log.Debug("relayed track of no known participant ignored", "mid", mid)
		return
	}
	up := l.ups[a.ID]
	var lay *layer
	fresh := up == nil
	if fresh {
		up = newUpTrack(upTrackParams{
			ID:               a.ID,
			StreamID:         a.StreamID,
			Owner:            p.id,
			Label:            a.Label,
			Codec:            remote.Codec(),
			SSRC:             uint32(remote.SSRC()),
			RID:              a.RID,
			HeaderExtensions: receiver.GetParameters().HeaderExtensions,
			Clock:            r.srv.clock,
			WriteRTCP:        l.pc.WriteRTCP,
			OnLevel:          r.onAudioLevel,
			Fanout:           r.srv.batcher,
			Logger:           l.log,
			Spread:           r.srv.spread,
			Stats:            &r.srv.forwarding,
			Panics:           r.srv.panics,
			Arrivals:         r.srv.arrivals,
		})
		l.ups[a.ID] = up
		lay = up.layerList()[0]
	} else if lay = up.addLayer(a.RID, uint32(remote.SSRC())); lay == nil {
		l.mu.Unlock()
		return
	}
	l.wg.Add(1)
	l.mu.Unlock()
	go func() { // owned by the link (wg); ends when the origin stops relaying the layer or the link closes
		defer l.wg.Done()
		defer l.layerEnded(p, up, lay)
		defer r.srv.panics.Recover(PartTrack, l.log.With("track", a.ID), nil)
		if fresh {
			r.publish(p.member, up)
		} else {
			up.reallocate()
		}
		lay.run(remote)
	}()
}

// layerEnded forgets a relayed layer, and the track with its last layer.
func (l *edgeLink) layerEnded(p *participant, up *upTrack, lay *layer) {
	if !up.removeLayer(lay) {
		return
	}
	l.mu.Lock()
	if l.ups[up.id] == up {
		delete(l.ups, up.id)
	}
	l.mu.Unlock()
	l.room.unpublish(p.member, up)
}

// close ends the link: the PeerConnection closes, the track readers end, and the
// origin's participants leave the room.
func (l *edgeLink) close() {
	l.room.mu.Lock()
	if l.room.link == l {
		l.room.link = nil
	}
	l.room.mu.Unlock()
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	if err := l.pc.Close(); err != nil {
		l.log.Debug("edge peer connection close", "error", err)
	}
	l.wg.Wait()
	l.mu.Lock()
	remotes := l.remotes
	l.remotes = map[string]*participant{}
	l.mu.Unlock()
	for _, p := range remotes {
		l.room.leave(p.member)
	}
}

// forwardToLocal sends a message of the origin to the participants connected here.
func (r *Room) forwardToLocal(msg []byte) {
	for _, p := range r.locals() {
		p.session.sendRaw(msg)
	}
}

// locals are the participants connected to this node, not the origin's.
func (r *Room) locals() []*member {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*member
	for _, p := range r.participants {
		if p.mode != modeRemote {
			out = append(out, p)
		}
	}
	return out
}

// Origin is the node the room is an edge of, empty when the room is this node's own.
func (r *Room) Origin() string { return r.origin }

// EdgeOf is the origin of an edge room, and the epoch of the origin's placement of the
// room that it opened for.
type EdgeOf struct {
	Origin string
	Epoch  int64
}

// EdgeRooms are the open rooms of this node that are edges of another's, by room id.
func (s *Server) EdgeRooms() map[string]EdgeOf {
	out := map[string]EdgeOf{}
	for _, r := range s.openRooms() {
		if r.origin != "" {
			out[r.id] = EdgeOf{Origin: r.origin, Epoch: r.originEpoch}
		}
	}
	return out
}
