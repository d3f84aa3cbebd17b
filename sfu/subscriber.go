package sfu

import (
	"slices"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"webinaire/sfu/bwe"
)

// subscriber is what a member receives: a downTrack per track it is sent, the changes
// of them waiting for the next negotiation, its bandwidth estimate and the allocation of
// layers within it, and the goroutines reading the RTCP its client sends about them (see
// readRTCP). A participant and a WHEP viewer have one.
//
// Lock rule: mu guards every field above it, and the dropped flag of its downTracks.
// allocMu makes one allocation at a time and is taken before mu; bwe guards itself.
// Lock order: room.mu, then allocMu, then mu; with mu held, nothing else is locked but
// the clock (stopReports, AfterFunc).
// wg.Add is called only with mu held and closed false, so that wg.Wait after close sees
// every reader. m and renegotiate are set at creation and never change.
type subscriber struct {
	mu            sync.Mutex
	closed        bool // the session ended: nothing is added any more
	downs         map[*upTrack]*downTrack
	pendingAdd    []*downTrack
	pendingRemove []*downTrack
	// relayed are a relay's downTracks, one per layer of each track (relay.go); a
	// relay's downs stays empty, so that no allocation moves them.
	relayed     map[*layer]*downTrack
	stopReports func() bool // cancels the next sender reports, see sendReports

	allocMu sync.Mutex // one allocation at a time, see allocate
	bwe     bwe.Estimate
	wg      sync.WaitGroup // the goroutines reading RTCP, one per sender

	// m is the member receiving; its PeerConnection sends the tracks.
	m *member
	// renegotiate tells m's session that tracks wait in pendingAdd or pendingRemove;
	// nil for a session negotiated once, whose tracks are fixed at its answer.
	renegotiate func()
}

func newSubscriber(m *member, renegotiate func()) *subscriber {
	return &subscriber{downs: make(map[*upTrack]*downTrack), m: m, renegotiate: renegotiate}
}

// startReports starts sending sender reports, every senderReportInterval.
func (sb *subscriber) startReports() {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.stopReports = sb.m.srv.clock.AfterFunc(senderReportInterval, sb.sendReports)
}

// close stops adding tracks and sending reports, and takes every downTrack, for the
// caller to detach.
func (sb *subscriber) close() []*downTrack {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.closed = true
	if sb.stopReports != nil {
		sb.stopReports()
	}
	downs := sb.allLocked()
	sb.downs, sb.relayed, sb.pendingAdd, sb.pendingRemove = nil, nil, nil, nil
	return downs
}

// allLocked lists every downTrack: the subscriptions, and a relay's layers.
func (sb *subscriber) allLocked() []*downTrack {
	downs := make([]*downTrack, 0, len(sb.downs)+len(sb.relayed))
	for _, d := range sb.downs {
		downs = append(downs, d)
	}
	for _, d := range sb.relayed {
		downs = append(downs, d)
	}
	return downs
}

// subscriptions lists the downTracks the allocation moves between layers.
func (sb *subscriber) subscriptions() []*downTrack {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	downs := make([]*downTrack, 0, len(sb.downs))
	for _, d := range sb.downs {
		downs = append(downs, d)
	}
	return downs
}

// find is the downTrack of the track with server id trackID, nil when none.
func (sb *subscriber) find(trackID string) *downTrack {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	for up, d := range sb.downs {
		if up.id == trackID {
			return d
		}
	}
	return nil
}

// takePending takes the changes waiting for the next negotiation.
func (sb *subscriber) takePending() (adds, removes []*downTrack) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	adds, removes = sb.pendingAdd, sb.pendingRemove
	sb.pendingAdd, sb.pendingRemove = nil, nil
	return adds, removes
}

// drop forgets d, once, unless closed; true when d was offered and its removal must be
// negotiated, false when it was still waiting to be offered or is gone already.
func (sb *subscriber) drop(d *downTrack) bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if d.dropped || sb.closed {
		return false
	}
	d.dropped = true
	if sb.downs[d.up] == d {
		delete(sb.downs, d.up)
	}
	if d.pinned != nil && sb.relayed[d.pinned] == d {
		delete(sb.relayed, d.pinned)
	}
	if i := slices.Index(sb.pendingAdd, d); i >= 0 {
		sb.pendingAdd = slices.Delete(sb.pendingAdd, i, i+1)
		return false
	}
	sb.pendingRemove = append(sb.pendingRemove, d)
	return true
}

// relayedCount is the number of layers a relay receives.
func (sb *subscriber) relayedCount() int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return len(sb.relayed)
}

// add makes the subscriber receive up, at the next negotiation.
func (sb *subscriber) add(up *upTrack) {
	if sb.take(up, true) == nil {
		return
	}
	sb.allocate()
	sb.renegotiate()
}

// attach makes the subscriber receive up at once, on the PeerConnection before it
// answers an offer, for a session negotiated once.
func (sb *subscriber) attach(up *upTrack) {
	d := sb.take(up, false)
	if d == nil {
		return
	}
	sender, err := sb.m.pc.AddTrack(d)
	if err != nil {
		sb.m.log.Debug("track not added", "track", up.id, "error", err)
		sb.dropDown(d)
		return
	}
	d.sender = sender
	sb.readRTCP(d, sender)
}

// take makes the subscriber's copy of up, waiting for the next negotiation when
// pending; nil when the subscriber has one already, is closed, or up has ended.
func (sb *subscriber) take(up *upTrack, pending bool) *downTrack {
	sb.mu.Lock()
	if sb.closed || sb.downs[up] != nil {
		sb.mu.Unlock()
		return nil
	}
	d := newDownTrack(up, sb)
	sb.downs[up] = d
	if pending {
		sb.pendingAdd = append(sb.pendingAdd, d)
	}
	sb.mu.Unlock()
	if !up.addDown(d) {
		sb.dropDown(d)
		return nil
	}
	return d
}

// dropDown stops the subscriber's copy of a track, at the next negotiation.
func (sb *subscriber) dropDown(d *downTrack) {
	d.up.removeDown(d)
	if sb.drop(d) && sb.renegotiate != nil {
		sb.renegotiate()
	}
}

// layersChanged is told that the layers of up changed: a relay receives each of them,
// the others have their layers allocated again.
func (sb *subscriber) layersChanged(up *upTrack) {
	if sb.m.mode == modeRelay {
		sb.relayLayers(up)
		return
	}
	sb.allocate()
}

// readRTCP starts the goroutine reading the RTCP the client sends about one track:
// keyframe requests go to the publisher (paced by the upTrack), lost packets are sent
// again, the rest feeds the bandwidth estimate.
func (sb *subscriber) readRTCP(d *downTrack, sender *webrtc.RTPSender) {
	sb.mu.Lock()
	if sb.closed {
		sb.mu.Unlock()
		return
	}
	sb.wg.Add(1)
	sb.mu.Unlock()
	go func() { // owned by the member's session (sb.wg); ends when the sender stops: track removed or PeerConnection closed
		defer sb.wg.Done()
		defer sb.m.srv.panics.Recover(PartParticipant, sb.m.log.With("track", d.up.id), func() { sb.m.session.end(internalFault) })
		buf := make([]byte, maxRTPPacketSize)
		sc := new(scratch)
		for {
			n, _, err := sender.Read(buf)
			if err != nil {
				return
			}
			sb.onRTCP(d, buf[:n], sc)
		}
	}()
}

// onRTCP acts on one compound RTCP packet the client sent about d's track; sc is the
// reading goroutine's scratch space, for retransmissions.
func (sb *subscriber) onRTCP(d *downTrack, raw []byte, sc *scratch) {
	pkts, err := rtcp.Unmarshal(raw)
	if err != nil {
		return
	}
	for _, pkt := range pkts {
		switch pkt := pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			d.up.requestKeyframe(d)
		case *rtcp.TransportLayerNack:
			d.up.stats.nacks.Add(1)
			d.retransmit(pkt, sc)
		default:
			sb.onFeedback(d, pkt)
		}
	}
}
