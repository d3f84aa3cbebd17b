package sfu

// The rewriting of a forwarded stream, apart from any I/O: which packets of which layer
// a subscriber gets, and the sequence numbers and timestamps they get, continuous across
// layer switches. downTrack.write applies it under the downTrack's lock and writes the
// packet after releasing it.

// forwardAction is what a subscriber does with a packet of one layer.
type forwardAction int

const (
	// skipPacket: the packet is not for this subscriber (a layer it does not receive, or
	// one it is leaving).
	skipPacket forwardAction = iota
	// awaitKeyframe: the subscriber waits for a keyframe of this layer, and asks for one.
	awaitKeyframe
	// forwardPacket: the packet goes on the layer the subscriber receives.
	forwardPacket
	// switchToLayer: the packet starts a keyframe of the layer the subscriber wants,
	// which it receives from this packet on.
	switchToLayer
)

// decide says what a subscriber that receives layer cur (nil before its first keyframe)
// and wants layer target (nil when paused) does with a packet of layer l. key tells
// whether the packet starts a keyframe; needKey whether the subscriber waits for one
// (video after a loss, or before anything was sent).
func decide(l, cur, target *layer, key, needKey bool) forwardAction {
	if l != cur {
		switch {
		case l != target:
			return skipPacket
		case !key:
			return awaitKeyframe
		}
		return switchToLayer
	}
	if needKey && !key {
		return awaitKeyframe
	}
	return forwardPacket
}

// streamState is the numbering of one subscriber's copy of a track.
type streamState struct {
	started  bool   // a packet was numbered
	seqOff   uint16 // added to the layer's sequence numbers
	tsOff    uint32 // added to the layer's timestamps
	lastSeq  uint16 // last sequence number sent
	lastTS   uint32 // last timestamp sent
	firstSeq uint16 // the sequence number sent for the current layer's first packet

	// packets and octets are counted for sender reports (RFC 3550 §6.4.1): packets and
	// payload bytes sent.
	packets, octets uint32
	// lastSentAt is when the last packet was numbered, in Unix nanoseconds.
	lastSentAt int64
}

// switchTo starts a layer at its packet of sequence number seq and timestamp ts: the
// packet follows the last one sent, one frame later. Before anything was sent the
// layer's own numbers are kept.
func (s *streamState) switchTo(seq uint16, ts uint32) {
	if s.started {
		s.seqOff = s.lastSeq + 1 - seq
		s.tsOff = s.lastTS + switchFrame - ts
	}
	s.firstSeq = seq + s.seqOff
}

// resume goes on with the current layer at its packet of sequence number seq, after
// packets of it were not sent (dropped under overload, then a keyframe waited for): the
// sequence numbers close the gap, so that the subscriber does not ask for packets it was
// never meant to get, and the timestamps keep their pace.
func (s *streamState) resume(seq uint16) {
	if s.started {
		s.seqOff = s.lastSeq + 1 - seq
	}
	s.firstSeq = seq + s.seqOff
}

// next numbers the packet of sequence number seq and timestamp ts of the current layer,
// of size payload bytes, sent at now (Unix nanoseconds), and counts it as sent.
func (s *streamState) next(seq uint16, ts uint32, size int, now int64) (uint16, uint32) {
	seq, ts = seq+s.seqOff, ts+s.tsOff
	s.started = true
	s.lastSeq, s.lastTS = seq, ts
	s.packets++
	s.octets += uint32(size)
	s.lastSentAt = now
	return seq, ts
}

// layerSeq is the current layer's sequence number of the packet sent as seq, for a
// retransmission; false when seq was not sent from the current layer (before a switch,
// or not yet).
func (s *streamState) layerSeq(seq uint16) (uint16, bool) {
	if !s.started || seq-s.firstSeq > s.lastSeq-s.firstSeq {
		return 0, false
	}
	return seq - s.seqOff, true
}
