package sfu

import (
	"slices"
	"sync"

	"webinaire/sfu/bwe"
)

// subscriber is what a participant receives: a downTrack per track it is sent, the
// changes of them waiting for the next negotiation, its bandwidth estimate and the
// allocation of layers within it, and the goroutines reading the RTCP its client sends
// about them (see participant.readRTCP).
//
// Lock rule: mu guards every field above it, and the dropped flag of its downTracks.
// allocMu makes one allocation at a time and is taken before mu; bwe guards itself.
// Lock order: room.mu, then allocMu, then mu; with mu held, nothing else is locked but
// the clock (stopReports, AfterFunc).
// wg.Add is called only with mu held and closed false, so that wg.Wait after close sees
// every reader.
type subscriber struct {
	mu            sync.Mutex
	closed        bool // the session ended: nothing is added any more
	downs         map[*upTrack]*downTrack
	pendingAdd    []*downTrack
	pendingRemove []*downTrack
	// relayed are a relay's downTracks, one per layer of each track (relay.go); a
	// relay's downs stays empty, so that no allocation moves them.
	relayed     map[*layer]*downTrack
	viewable    []*upTrack  // a viewer's choice before its answer, see attachViewTracks
	fixed       bool        // a viewer has its tracks: it takes no more
	stopReports func() bool // cancels the next sender reports, see sendReports

	allocMu sync.Mutex // one allocation at a time, see allocate
	bwe     bwe.Estimate
	wg      sync.WaitGroup // the goroutines reading RTCP, one per sender
}

func newSubscriber() subscriber {
	return subscriber{downs: make(map[*upTrack]*downTrack)}
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

// offerView adds up to what a viewer may choose from, until it has its tracks.
func (sb *subscriber) offerView(up *upTrack) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if !sb.fixed && !sb.closed {
		sb.viewable = append(sb.viewable, up)
	}
}

// takeViewable takes what a viewer may choose from, and takes no more afterwards.
func (sb *subscriber) takeViewable() []*upTrack {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	offered := sb.viewable
	sb.viewable, sb.fixed = nil, true
	return offered
}

// relayedCount is the number of layers a relay receives.
func (sb *subscriber) relayedCount() int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return len(sb.relayed)
}
