package sfu

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"webinaire/sfu/signal"
)

// maxRemoteCandidates bounds the client's candidates handed to the ICE agent in one ICE
// session (from an offer or answer to the next ICE restart), trickled and in its
// descriptions together, duplicates counted once.
const maxRemoteCandidates = 16

// maxLabelsKept bounds the track labels remembered for one participant.
const maxLabelsKept = 64

// endCause is why a session ends.
type endCause struct {
	err     error  // what ServeConn returns
	code    int    // close code
	reason  string // close reason, also the error message's text
	errCode string // code of the error message sent before closing; none when empty
}

// participant is a member on a signalling connection (docs/protocol.md): the
// connection, the PeerConnection negotiated on it, and the messages it sends and
// receives. What it sends is its member's publisher (pub), what it receives its
// subscriber (sub); each has its own lock and lock rule. A relay (relay.go) and, on an
// edge node, a participant of the origin (edge.go) are participants too, of their mode.
//
// Lock rule: mu guards the candidates held back (holding, heldCandidates), and nothing
// else; no other lock is taken with it held. The fields set before the participant is
// visible never change; those marked as owned by the session goroutine are touched by
// it alone.
//
// Negotiation (perfect negotiation, the server being the impolite peer): the client
// makes the first offer; afterwards either side may offer. The session goroutine alone
// calls the PeerConnection's signalling methods. When the client's offer crosses one of
// the server's, the server ignores the client's and the client rolls back. Track changes
// wait, in the subscriber's pendingAdd and pendingRemove, until the signalling state is
// stable and are then offered together.
type participant struct {
	*member
	conn Conn

	out  chan []byte   // messages waiting for the writer, in order
	kick chan struct{} // something to negotiate

	cancel  context.CancelFunc
	endOnce sync.Once
	cause   endCause

	mu             sync.Mutex
	holding        bool // candidates are held, see holdCandidates
	heldCandidates []webrtc.ICECandidateInit

	// Owned by the session goroutine.
	limiter          *messageLimiter // limits each kind of message, see messageClasses
	negotiated       bool            // the client's first offer has been answered
	restartICE       bool            // an ICE restart waits for the next negotiation
	remoteCandidates []webrtc.ICECandidateInit
	cands            candidateFilter
}

func newParticipant(s *Server, conn Conn, c Claims) *participant {
	p := &participant{
		member:  newMember(s, c),
		conn:    conn,
		out:     make(chan []byte, sendQueueLen),
		kick:    make(chan struct{}, 1),
		holding: true,
		limiter: newMessageLimiter(s.clock.Now()),
	}
	p.session = p
	p.sub = newSubscriber(p.member, p.kickNegotiation)
	p.cands = candidateFilter{policy: &s.candidates, log: p.log}
	return p
}

// serve runs the session until it ends, then takes the participant out of the room and
// frees everything it started.
func (p *participant) serve(parent context.Context, api *webrtc.API) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	p.cancel = cancel

	wctx, wcancel := context.WithCancel(context.WithoutCancel(parent))
	defer wcancel()
	stopWriter := make(chan struct{})
	writerDone := make(chan struct{})
	go func() { // owned by serve; ends when serve closes stopWriter, or a write fails
		defer close(writerDone)
		defer p.srv.panics.Recover(PartParticipant, p.log, p.failInternal)
		p.writeLoop(wctx, stopWriter)
	}()

	readerDone := make(chan struct{})
	p.run(ctx, api, readerDone)

	endErr := parent.Err()
	if p.srv.closing.Err() != nil {
		endErr = ErrServerClosed
	}
	p.end(endCause{err: endErr, code: signal.CloseGoingAway, reason: "server shutting down", errCode: signal.CodeServerClosing})
	p.leave()

	close(stopWriter)
	flushLimit := time.AfterFunc(flushTimeout, wcancel)
	<-writerDone
	flushLimit.Stop()
	_ = p.conn.Close(p.cause.code, p.cause.reason)
	<-readerDone
	p.log.Info("participant left", "reason", p.cause.reason)
	return p.cause.err
}

// run starts the participant and handles its messages until ctx ends. It starts the
// reading goroutine, which closes readerDone when it ends, or closes readerDone itself. A
// panic ends the session; serve's cleanup follows.
func (p *participant) run(ctx context.Context, api *webrtc.API, readerDone chan struct{}) {
	reading := false
	defer func() {
		if !reading {
			close(readerDone)
		}
	}()
	defer p.srv.panics.Recover(PartParticipant, p.log, p.failInternal)
	if !p.start(api) {
		return
	}
	in := make(chan signal.ClientMessage, 16)
	reading = true
	go func() { // owned by serve; ends when the connection closes or ctx ends
		defer close(readerDone)
		defer p.srv.panics.Recover(PartParticipant, p.log, p.failInternal)
		p.readLoop(ctx, in)
	}()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case m := <-in:
			p.handle(m)
		case <-p.kick:
			p.negotiate()
		}
	}
}

// failInternal ends the session after a fault of the server.
func (p *participant) failInternal() { p.end(internalFault) }

// start makes the PeerConnection and joins the room; false when the session cannot go on.
func (p *participant) start(api *webrtc.API) bool {
	if err := p.openPeerConnection(api); err != nil {
		p.end(endCause{err: err, code: signal.CloseInternalError, reason: "internal error", errCode: signal.CodeInternal})
		return false
	}
	p.sub.startReports()
	p.pc.OnTrack(p.onTrack)
	p.pc.OnICECandidate(p.onCandidate)
	p.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.log.Debug("peer connection state", "state", s.String())
	})
	p.ice = p.srv.iceServersFor(p.claims)
	return p.enter() == nil
}

// readLoop reads, limits and decodes the client's messages and hands them to the
// session goroutine. Errors in a message are answered here.
func (p *participant) readLoop(ctx context.Context, in chan<- signal.ClientMessage) {
	bucket := newTokenBucket(signal.MessageRate, signal.MessageBurst, p.srv.clock.Now())
	dropped := 0
	for {
		data, err := p.conn.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.end(endCause{code: signal.CloseNormal, reason: "connection closed"})
			}
			return
		}
		// An edge node's link carries the messages of its viewers, each limited there.
		if p.mode != modeRelay && !bucket.allow(p.srv.clock.Now()) {
			dropped++
			if dropped == 1 {
				p.sendError(signal.CodeRateLimited, "too many messages: this one and the next are dropped until the rate goes down")
			}
			if dropped > signal.MessageBurst {
				p.end(endCause{err: ErrRateLimited, code: signal.CloseRateLimited, reason: "too many messages"})
				return
			}
			continue
		}
		dropped = 0
		m, err := signal.DecodeClientUpTo(data, p.messageLimit())
		switch {
		case errors.Is(err, ErrMessageTooLarge):
			p.sendError(signal.CodeTooLarge, fmt.Sprintf("messages are limited to %d bytes", signal.MaxMessageSize))
			continue
		case errors.Is(err, ErrUnknownMessageType):
			p.sendError(signal.CodeUnknownType, "unknown message type")
			continue
		case err != nil:
			p.sendError(signal.CodeMalformed, strings.TrimPrefix(err.Error(), "sfu: "))
			continue
		}
		select {
		case in <- m:
		case <-ctx.Done():
			return
		}
	}
}

// writeLoop writes queued messages until stop is closed, then writes what is left.
func (p *participant) writeLoop(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case m := <-p.out:
			if err := p.conn.WriteMessage(ctx, m); err != nil {
				p.end(endCause{code: signal.CloseNormal, reason: "connection lost"})
				return
			}
		case <-stop:
			for {
				select {
				case m := <-p.out:
					if err := p.conn.WriteMessage(ctx, m); err != nil {
						return
					}
				default:
					return
				}
			}
		}
	}
}

// end ends the session, once: the first cause wins. It never blocks.
func (p *participant) end(c endCause) {
	p.endOnce.Do(func() {
		p.cause = c
		if c.errCode != "" {
			select {
			case p.out <- encode(signal.ErrorMessage{Type: signal.TypeError, Code: c.errCode, Message: c.reason}):
			default:
			}
		}
		switch {
		case p.cancel != nil:
			p.cancel()
		case p.via != nil:
			// A viewer of an edge node: its edge ends its session, and tells when it has.
			p.via.sendRaw(encode(signal.RelayMessage{Type: signal.TypeRelay, Action: signal.RelayEnd, ParticipantID: p.id, Code: c.errCode}))
		}
	})
}

// sendRaw queues a message; a connection that lets its queue fill up is dropped.
// It never blocks, so it may be called under a lock.
func (p *participant) sendRaw(msg []byte) {
	if p.mode == modeRemote {
		return // connected to the origin, which tells it
	}
	select {
	case p.out <- msg:
	default:
		p.end(endCause{err: ErrSlowConsumer, code: signal.ClosePolicyViolation, reason: "connection too slow"})
	}
}

// kickNegotiation tells the session goroutine there is something to negotiate.
func (p *participant) kickNegotiation() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// handle acts on one client message, in the session goroutine.
func (p *participant) handle(m signal.ClientMessage) {
	if p.mode == modeRelay && !relayMessages[m.Type] {
		p.sendError(signal.CodeUnknownType, "a relay only negotiates")
		return
	}
	if p.waiting.Load() && m.Type != signal.TypeLeave {
		p.sendError(signal.CodeInLobby, "waiting in the lobby to be admitted")
		return
	}
	if ok, tell := p.limiter.allow(m.Type, p.srv.clock.Now()); !ok {
		if tell {
			p.sendError(signal.CodeRateLimited, "too many "+m.Type+" messages: this one and the next are dropped until the rate goes down")
		}
		return
	}
	if relaySpoken[m.Type] && p.room.origin != "" {
		p.room.toOrigin(p, m) // said in the room, which is the origin's
		return
	}
	switch m.Type {
	case signal.TypeRelay:
		if p.mode == modeRelay {
			p.onRelay(m)
		}
	case signal.TypeJoin:
		p.sendError(signal.CodeAlreadyJoined, "this connection has already joined")
	case signal.TypeOffer:
		p.handleOffer(m)
	case signal.TypeAnswer:
		p.handleAnswer(m)
	case signal.TypeCandidate:
		p.handleCandidate(webrtc.ICECandidateInit(*m.Candidate))
	case signal.TypeMute:
		p.handleMute(m.Label, *m.Muted)
	case signal.TypeLayer:
		p.handleLayer(m)
	case signal.TypeRestartICE:
		p.restartICE = true
		p.negotiate()
	case signal.TypeLeave:
		p.end(endCause{code: signal.CloseNormal, reason: "left"})
	case signal.TypeChat:
		p.room.chat(p.member, m.Text, m.To)
	case signal.TypeCaption:
		if code, text := p.room.caption(p.member, m.Text, m.Lang); code != "" {
			p.sendError(code, text)
		}
	case signal.TypeSlidePage:
		if code, text := p.room.turnSlide(p.member, m.SlidesID, m.Page); code != "" {
			p.sendError(code, text)
		}
	case signal.TypeSlidesClose:
		if code, text := p.room.closeSlides(p.member, m.SlidesID); code != "" {
			p.sendError(code, text)
		}
	case signal.TypeSlidePointer:
		if code, text := p.room.pointSlide(p.member, m.SlidesID, m.X, m.Y, m.Hidden); code != "" {
			p.sendError(code, text)
		}
	case signal.TypeReaction:
		p.room.react(p.member, m.Emoji)
	case signal.TypeHand:
		p.room.raiseHand(p.member, *m.Raised)
	case signal.TypePollCreate, signal.TypePollOpen, signal.TypePollClose, signal.TypePollPublish:
		if code, text := p.room.pollAction(p.member, m); code != "" {
			p.sendError(code, text)
		}
	case signal.TypeVote:
		if code, text := p.room.vote(p.member, m.PollID, m.Choices); code != "" {
			p.sendError(code, text)
		}
	case signal.TypeMuteParticipant, signal.TypeAskUnmute, signal.TypeRemove, signal.TypeSetRole, signal.TypeLowerHand, signal.TypeLock, signal.TypeSpotlight, signal.TypeEndSession, signal.TypeLobbyAdmit, signal.TypeLobbyDeny:
		p.moderate(m)
	case signal.TypeBreakoutStart, signal.TypeBreakoutAssign, signal.TypeBreakoutJoin, signal.TypeBreakoutBroadcast, signal.TypeBreakoutHelp, signal.TypeBreakoutEnd:
		p.breakout(m)
	}
}

func (p *participant) handleOffer(m signal.ClientMessage) {
	p.pub.setLabels(m.Labels)

	if p.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
		// Glare: the server is impolite, its offer stands; the client rolls back,
		// answers and offers again.
		p.log.Debug("client offer ignored in glare")
		return
	}
	// An ICE restart by the client starts gathering in SetRemoteDescription.
	p.holdCandidates()
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: p.cands.filterSDP(m.SDP, p.sendError)}); err != nil {
		p.log.Debug("client offer refused", "error", err)
		if p.pc.SignalingState() != webrtc.SignalingStateStable {
			p.negotiationFailed()
			return
		}
		p.releaseCandidates()
		p.sendError(signal.CodeNegotiation, "the offer was refused")
		return
	}
	p.described()
	for _, c := range p.remoteCandidates {
		p.addCandidate(c)
	}
	p.remoteCandidates = nil
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		p.log.Debug("answer not created", "error", err)
		p.negotiationFailed()
		return
	}
	if err := p.setLocal(answer, signal.TypeAnswer, nil); err != nil {
		p.log.Debug("answer not set", "error", err)
		p.negotiationFailed()
		return
	}
	p.negotiated = true
	p.negotiate()
}

func (p *participant) handleAnswer(m signal.ClientMessage) {
	if p.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		p.sendError(signal.CodeNegotiation, "there is no offer to answer")
		return
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: p.cands.filterSDP(m.SDP, p.sendError)}); err != nil {
		p.log.Debug("client answer refused", "error", err)
		p.negotiationFailed()
		return
	}
	p.described()
	p.negotiate()
}

// negotiationFailed ends a session whose PeerConnection is left in a state it cannot
// leave; the client may join again.
func (p *participant) negotiationFailed() {
	p.end(endCause{err: errors.New("sfu: negotiation failed"), code: signal.ClosePolicyViolation, reason: "negotiation failed", errCode: signal.CodeNegotiation})
}

func (p *participant) handleCandidate(c webrtc.ICECandidateInit) {
	if c.Candidate == "" {
		return // end of candidates
	}
	if code, why, ok := p.cands.admit(c.Candidate); !ok {
		if code != "" {
			p.sendError(code, why)
		}
		return
	}
	if p.pc.RemoteDescription() == nil {
		p.remoteCandidates = append(p.remoteCandidates, c) // bounded by the budget
		return
	}
	p.addCandidate(c)
}

func (p *participant) addCandidate(c webrtc.ICECandidateInit) {
	if err := p.pc.AddICECandidate(c); err != nil {
		p.log.Debug("candidate refused", "error", err)
	}
}

func (p *participant) handleMute(label Label, muted bool) {
	p.pub.setMuted(label, muted)
	r := p.room
	r.mu.Lock()
	if r.participants[p.id] == p.member {
		r.muteChangedLocked(signal.MuteMessage{Type: signal.TypeMute, ParticipantID: p.id, Label: label, Muted: muted})
	}
	r.mu.Unlock()
}

func (p *participant) handleLayer(m signal.ClientMessage) {
	d := p.sub.find(m.TrackID)
	if d == nil {
		p.sendRaw(encode(signal.ErrorMessage{Type: signal.TypeError, Code: signal.CodeUnknownTrack, Message: "no such track received", TrackID: m.TrackID}))
		return
	}
	d.layer.Store(&LayerRequest{Quality: m.Quality, Width: m.Width, Height: m.Height})
	p.sub.allocate()
}

// negotiate offers the pending track changes and ICE restart, when the signalling state
// allows; otherwise they wait for the next call.
func (p *participant) negotiate() {
	if !p.negotiated || p.pc.SignalingState() != webrtc.SignalingStateStable {
		return
	}
	adds, removes := p.sub.takePending()
	restart := p.restartICE
	p.restartICE = false
	if len(adds) == 0 && len(removes) == 0 && !restart {
		return
	}

	msg := signal.TracksMessage{Type: signal.TypeTracks}
	for _, d := range removes {
		if d.sender == nil {
			continue // never offered
		}
		if err := p.pc.RemoveTrack(d.sender); err != nil {
			p.log.Debug("track not removed", "track", d.up.id, "error", err)
		}
		msg.Removed = append(msg.Removed, signal.TrackRemoved{ParticipantID: d.up.owner, TrackID: d.up.id, Mid: d.mid})
	}
	added := adds[:0]
	for _, d := range adds {
		sender, err := p.pc.AddTrack(d)
		if err != nil {
			p.log.Debug("track not added", "track", d.up.id, "error", err)
			p.sub.dropDown(d)
			continue
		}
		d.sender = sender
		p.sub.readRTCP(d, sender)
		added = append(added, d)
	}
	// An ICE restart starts gathering in CreateOffer.
	p.holdCandidates()
	offer, err := p.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err != nil {
		p.log.Warn("offer not created", "error", err)
		p.negotiationFailed()
		return
	}
	// Mids are assigned by CreateOffer.
	for _, d := range added {
		for _, t := range p.pc.GetTransceivers() {
			if t.Sender() == d.sender {
				d.mid = t.Mid()
			}
		}
		msg.Added = append(msg.Added, signal.TrackAdded{ParticipantID: d.up.owner, TrackInfo: d.up.info(), Mid: d.mid, RID: d.rid})
	}
	var before []byte
	if len(msg.Added) > 0 || len(msg.Removed) > 0 {
		before = encode(msg)
	}
	if err := p.setLocal(offer, signal.TypeOffer, before); err != nil {
		p.log.Warn("offer not set", "error", err)
		p.negotiationFailed()
	}
}

// holdCandidates keeps the ICE candidates gathered from now on until releaseCandidates,
// so that the client never gets a candidate before the description it belongs to.
func (p *participant) holdCandidates() {
	p.mu.Lock()
	p.holding = true
	p.mu.Unlock()
}

// releaseCandidates sends the held candidates and stops holding them.
func (p *participant) releaseCandidates() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseCandidatesLocked()
}

func (p *participant) releaseCandidatesLocked() {
	p.holding = false
	for _, c := range p.heldCandidates {
		p.sendRaw(encode(signal.CandidateMessage{Type: signal.TypeCandidate, Candidate: signal.Candidate(c)}))
	}
	p.heldCandidates = nil
}

// setLocal sets a local description made while candidates were held and sends it,
// after the message before if any, then the candidates.
func (p *participant) setLocal(desc webrtc.SessionDescription, msgType string, before []byte) error {
	err := p.pc.SetLocalDescription(desc)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		if before != nil {
			p.sendRaw(before)
		}
		sdp := desc.SDP
		if desc.Type == webrtc.SDPTypeAnswer {
			sdp = keepOfferedRole(sdp, p.pc.RemoteDescription())
		}
		p.sendRaw(encode(signal.SDPMessage{Type: msgType, SDP: sdp}))
	}
	p.releaseCandidatesLocked()
	return err
}

// onCandidate is Pion's callback for a gathered ICE candidate.
func (p *participant) onCandidate(c *webrtc.ICECandidate) {
	if c == nil {
		return
	}
	init := c.ToJSON()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.holding {
		p.heldCandidates = append(p.heldCandidates, init)
		return
	}
	p.sendRaw(encode(signal.CandidateMessage{Type: signal.TypeCandidate, Candidate: signal.Candidate(init)}))
}

// subscribe makes this participant receive up, at the next negotiation.
func (p *participant) subscribe(up *upTrack) {
	switch p.mode {
	case modeRemote:
		return // connected to the origin, which sends it
	case modeRelay:
		p.sub.relayLayers(up)
		return
	}
	p.sub.add(up)
}
