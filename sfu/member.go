package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/pion/webrtc/v4"

	"webinaire/sfu/signal"
)

// member is someone in a room, or in its lobby, as the room sees it: who it is, its
// role, the tracks it publishes and receives, and its session, through which the room
// reaches it. A participant on a signalling connection (participant.go), a WHIP
// publisher and a WHEP viewer (whip.go) are members; so are, in a cluster, an edge
// node's relay and the participants connected to another node (mode).
//
// The fields set before the member is visible never change; role is guarded by room.mu;
// pub and sub have a lock each (see publisher and subscriber), taken after room.mu.
type member struct {
	id     string
	claims Claims
	srv    *Server
	log    *slog.Logger
	// session is the member's own side: a *participant, *whipSession or *whepSession.
	session memberSession
	// mode is where the member is connected.
	mode sessionMode

	// pc and room are set by the session before the member is visible to anyone else,
	// and never change; pc is nil for a member connected to another node.
	pc   *webrtc.PeerConnection
	room *Room

	role Role // guarded by room.mu
	// ice are the ICE servers of its joined message, set before it joins.
	ice []ICEServer
	// sessionToken is the session credential of its joined or lobby_wait message, set
	// before it joins; empty for an HTTP session.
	sessionToken string
	// waiting is set while the member is in the lobby.
	waiting atomic.Bool
	// via is, on the origin, the relay that brought in this participant of an edge node
	// (modeRemote); nil otherwise.
	via *participant

	// pub is what the member publishes, nothing for a WHEP viewer; sub what it
	// receives, nil for a WHIP publisher, which receives nothing.
	pub publisher
	sub *subscriber
	// direct sends the RTP of the member's PeerConnection; nil when it goes through
	// Pion (WebRTCConfig.ThroughPion).
	direct *directSender
}

// memberSession is what differs between the kinds of member: how a message reaches it,
// what it receives of the room's tracks, and how it ends.
type memberSession interface {
	// sendRaw queues a message for the member; it never blocks, so that it may be
	// called under a lock. A member without a signalling connection drops it.
	sendRaw(msg []byte)
	// subscribe makes the member receive up, if it takes it.
	subscribe(up *upTrack)
	// end ends the member's session, once: the first cause wins. It never blocks.
	end(c endCause)
}

// sessionMode is where a member is connected.
type sessionMode int

const (
	modeDirect sessionMode = iota // to this node: a signalling connection, a WHIP or WHEP session
	modeRelay                     // an edge node's link: every layer of every track, hidden from the room (relay.go)
	modeRemote                    // on an edge node, a participant of the origin: no connection of its own (edge.go)
)

// newMember is the member c names, with no session yet: its session sets itself in.
func newMember(s *Server, c Claims) *member {
	log := s.log.With("room", c.Room, "participant", c.Participant)
	return &member{
		id:     c.Participant,
		claims: c,
		srv:    s,
		log:    log,
		pub:    newPublisher(),
		direct: newDirectSenderOf(s, log),
	}
}

// internalFault ends a session after a fault of the server.
var internalFault = endCause{err: ErrInternal, code: signal.CloseInternalError, reason: "internal error", errCode: signal.CodeInternal}

// openPeerConnection makes the member's PeerConnection.
func (m *member) openPeerConnection(api *webrtc.API) error {
	if m.direct != nil {
		api = m.srv.directAPI(m.direct)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		m.log.Error("peer connection not created", "error", err)
		return fmt.Errorf("new peer connection: %w", err)
	}
	m.pc = pc
	if m.direct != nil {
		m.direct.watch(pc)
	}
	return nil
}

// described tells the direct sender the remote description just set.
func (m *member) described() {
	if m.direct == nil {
		return
	}
	if err := m.direct.described(m.pc.RemoteDescription()); err != nil {
		m.log.Warn("header encryption of sent media not updated", "error", err)
	}
}

// enter puts the member in its room, or its lobby, opening the room if needed, and ends
// the session it replaces; when it cannot, it ends the member's session and returns why.
// Once in, the member receives the tracks published in the room.
func (m *member) enter() error {
	room, replaced, ups, waiting, err := m.srv.join(m)
	if err != nil {
		m.session.end(joinRefused(err))
		return err
	}
	if waiting {
		m.log.Info("participant waiting in the lobby")
	} else {
		m.log.Info("participant joined", "kind", room.kind)
	}
	if replaced != nil {
		replaced.session.end(endCause{err: ErrReplaced, code: signal.CloseReplaced, reason: "joined again on another connection", errCode: signal.CodeReplaced})
	}
	for _, up := range ups {
		m.session.subscribe(up)
	}
	return nil
}

// joinRefused is how a session ends when its room does not take it.
func joinRefused(err error) endCause {
	switch {
	case errors.Is(err, ErrRoomLocked):
		return endCause{err: err, code: signal.CloseRoomLocked, reason: "the room is locked", errCode: signal.CodeRoomLocked}
	case errors.Is(err, ErrRoomFull):
		return endCause{err: err, code: signal.CloseRoomFull, reason: "the room is full", errCode: signal.CodeRoomFull}
	case errors.Is(err, ErrLobbyFull):
		return endCause{err: err, code: signal.CloseRoomFull, reason: "the lobby is full", errCode: signal.CodeLobbyFull}
	case errors.Is(err, ErrTokenRevoked):
		return endCause{err: err, code: signal.CloseUnauthorized, reason: "this participant was removed from the room", errCode: signal.CodeTokenRevoked}
	case errors.Is(err, ErrRoomMoved):
		return endCause{err: err, code: signal.CloseRoomMoved, reason: "this room runs on another node: ask where", errCode: signal.CodeRoomMoved}
	case errors.Is(err, ErrNoOrigin):
		return endCause{err: err, code: signal.CloseInternalError, reason: "this node cannot reach the room's node", errCode: signal.CodeInternal}
	case errors.Is(err, ErrRoomGone):
		return breakoutEnded
	case errors.Is(err, ErrNotAssigned):
		return endCause{err: err, code: signal.CloseUnauthorized, reason: "this breakout room is not yours", errCode: signal.CodeForbidden}
	}
	return endCause{err: err, code: signal.CloseGoingAway, reason: "server shutting down", errCode: signal.CodeServerClosing}
}

// leave takes the member out of its room and stops its media: the tracks it published
// and received, then its PeerConnection, and waits for their goroutines.
func (m *member) leave() {
	if m.room != nil {
		m.room.leave(m)
	}
	m.pub.close()
	if m.sub != nil {
		for _, d := range m.sub.close() {
			d.up.removeDown(d)
		}
	}
	if m.pc != nil {
		if err := m.pc.GracefulClose(); err != nil {
			m.log.Debug("peer connection close", "error", err)
		}
	}
	m.pub.wg.Wait()
	if m.sub != nil {
		m.sub.wg.Wait()
	}
}

// hidden tells whether the member is a relay, which nobody in the room sees.
func (m *member) hidden() bool { return m.mode == modeRelay }

// sendError queues an error message for the member.
func (m *member) sendError(code, message string) {
	m.session.sendRaw(encode(signal.ErrorMessage{Type: signal.TypeError, Code: code, Message: message}))
}

// sendOwn queues a message for the member alone: through its edge's relay for a viewer
// of an edge node, whose own messages the relay, an attendee, does not get.
func (m *member) sendOwn(msg []byte) {
	if m.via == nil {
		m.session.sendRaw(msg)
		return
	}
	m.via.sendRaw(encode(signal.RelayMessage{Type: signal.TypeRelay, Action: signal.RelayDeliver, ParticipantID: m.id, Message: msg}))
}

// isModerator tells whether the member is a moderator of its room now.
func (m *member) isModerator() bool {
	m.room.mu.Lock()
	defer m.room.mu.Unlock()
	return m.role == RoleModerator
}

// infoRoomLocked describes the member and its published tracks; room.mu held.
func (m *member) infoRoomLocked() ParticipantInfo {
	return ParticipantInfo{ID: m.id, Name: m.claims.Name, Role: m.role, Tracks: m.pub.trackInfos()}
}

// onTrack is Pion's callback for a track the member's client sends: one goroutine reads
// it for as long as it lasts.
func (m *member) onTrack(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	rid := remote.RID()
	exts := receiver.GetParameters().HeaderExtensions
	m.pub.mu.Lock()
	if m.pub.closed {
		m.pub.mu.Unlock()
		return
	}
	if up := m.pub.simulcast[receiver]; up != nil && rid != "" {
		// Another simulcast layer of a track already published.
		l := up.addLayer(rid, uint32(remote.SSRC()))
		if l == nil {
			m.pub.mu.Unlock()
			return
		}
		m.pub.wg.Add(1)
		m.pub.mu.Unlock()
		go func() { // owned by the member's session (pub.wg); ends when the layer ends or the PeerConnection closes
			defer m.pub.wg.Done()
			defer m.layerEnded(up, l)
			defer m.srv.panics.Recover(PartTrack, m.log.With("track", up.id), nil)
			l.run(remote)
		}()
		up.reallocate()
		return
	}
	id := fmt.Sprintf("%s~%d", m.id, m.srv.trackSeq.Add(1))
	label := m.pub.labelForLocked(remote)
	stream := m.id + "~user"
	if label == LabelScreen {
		stream = m.id + "~screen"
	}
	up := newUpTrack(upTrackParams{
		ID:               id,
		StreamID:         stream,
		Owner:            m.id,
		Label:            label,
		Codec:            remote.Codec(),
		SSRC:             uint32(remote.SSRC()),
		RID:              rid,
		Ingest:           m.pub.ingest,
		HeaderExtensions: exts,
		Clock:            m.srv.clock,
		WriteRTCP:        m.pc.WriteRTCP,
		OnLevel:          m.room.onAudioLevel,
		Fanout:           m.srv.batcher,
		Logger:           m.log,
		Spread:           m.srv.spread,
		Stats:            &m.srv.forwarding,
		Panics:           m.srv.panics,
		Arrivals:         m.srv.arrivals,
	})
	if rid != "" {
		m.pub.simulcast[receiver] = up
	}
	m.pub.wg.Add(1)
	m.pub.mu.Unlock()

	first := up.layerList()[0]
	go func() { // owned by the member's session (pub.wg); ends when the track ends or the PeerConnection closes
		defer m.pub.wg.Done()
		// A panic ends the track: it is forgotten as if its publisher had removed it.
		defer m.layerEnded(up, first)
		defer m.srv.panics.Recover(PartTrack, m.log.With("track", id), nil)
		switch m.room.publish(m, up) {
		case published:
			m.log.Debug("track published", "track", id, "label", label)
		case parked:
			m.session.sendRaw(encode(signal.ErrorMessage{
				Type:    signal.TypeError,
				Code:    signal.CodePublishForbidden,
				Message: "your role does not allow publishing: the track is not forwarded",
				TrackID: remote.ID(),
			}))
		}
		first.run(remote)
	}()
}

// layerEnded forgets a layer whose reader ended, and the track with its last layer.
func (m *member) layerEnded(up *upTrack, l *layer) {
	if !up.removeLayer(l) {
		return
	}
	m.pub.forgetSimulcast(up)
	m.room.unpublish(m, up)
}
