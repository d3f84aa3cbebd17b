package sfu

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// arrivalSlots is how many packets of one stream the arrival table remembers: some
// four seconds of a 2.5 Mbit/s video layer, more than Pion's receive buffers hold.
const arrivalSlots = 1024

// maxArrivalAge is the oldest arrival time believed: far longer than any packet waits in
// Pion's buffers, far shorter than the minutes a stream takes to come round to the same
// sequence number (65,536 packets: four minutes at 260 packets a second).
const maxArrivalAge = 30 * time.Second

// arrivalTable notes when each RTP packet of the streams the server reads reached its
// media sockets, so that the time a packet then spent in the socket's buffer and in
// Pion's receive path (the ICE connection's buffer, the DTLS/SRTP demultiplexer, the
// SRTP session's decryption and read buffer, the interceptors), while the goroutines
// handing it on waited for a core, counts in the wait that decides whether it is still
// worth forwarding (see maxVideoQueueDelay). The socket readers note every RTP datagram of a registered stream
// (by SSRC; RTCP, STUN and DTLS are left alone) and a layer's reader looks its packets
// up by sequence number. Nothing is allocated per packet.
type arrivalTable struct {
	clock Clock

	mu      sync.Mutex // serialises changes of streams
	streams atomic.Pointer[map[uint32]*arrivalRing]
}

// arrivalRing is the arrival times of one stream's last packets. Slot seq%arrivalSlots
// holds the arrival of the last packet noted with a sequence number of that slot, as
// (microseconds since base + 1) << 16 | sequence number; 0 when empty.
type arrivalRing struct {
	base  int64 // Unix nanoseconds, maxArrivalAge before the ring was made
	slots [arrivalSlots]atomic.Uint64
	refs  int // readers of the stream, guarded by the table's mu
}

func newArrivalTable(clock Clock) *arrivalTable {
	t := &arrivalTable{clock: clock}
	t.streams.Store(&map[uint32]*arrivalRing{})
	return t
}

// open registers stream ssrc, whose packets are noted from now on, and returns its ring.
// Two readers of one SSRC share a ring; close is called once per open.
func (t *arrivalTable) open(ssrc uint32) *arrivalRing {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.streams.Load()
	if r := old[ssrc]; r != nil {
		r.refs++
		return r
	}
	r := &arrivalRing{base: t.clock.Now().UnixNano() - int64(maxArrivalAge), refs: 1}
	streams := make(map[uint32]*arrivalRing, len(old)+1)
	for k, v := range old {
		streams[k] = v
	}
	streams[ssrc] = r
	t.streams.Store(&streams)
	return r
}

// close ends a reader of stream ssrc; with its last reader the stream is no longer noted.
func (t *arrivalTable) close(ssrc uint32, r *arrivalRing) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.streams.Load()
	if old[ssrc] != r {
		return
	}
	if r.refs--; r.refs > 0 {
		return
	}
	streams := make(map[uint32]*arrivalRing, len(old))
	for k, v := range old {
		if k != ssrc {
			streams[k] = v
		}
	}
	t.streams.Store(&streams)
}

// note records when datagram b came in, when it is an RTP packet (SRTP leaves the
// header in the clear) of a registered stream: now, less the time it waited in the
// socket's buffer as the control messages of its read, oob, tell (see setReceiveTimes).
func (t *arrivalTable) note(b, oob []byte) {
	// RFC 7983: RTP and RTCP start with 128-191; RTCP packet types are 192-223 (RFC 5761).
	if len(b) < 12 || b[0] < 128 || b[0] > 191 || b[1] >= 192 && b[1] <= 223 {
		return
	}
	r := (*t.streams.Load())[binary.BigEndian.Uint32(b[8:12])]
	if r == nil {
		return
	}
	r.put(binary.BigEndian.Uint16(b[2:4]), t.clock.Now().UnixNano()-int64(receiveWait(oob, time.Now())))
}

// put records that packet seq came in at Unix nanoseconds at.
func (r *arrivalRing) put(seq uint16, at int64) {
	us := (at-r.base)/1000 + 1
	if us < 1 || us >= 1<<48 {
		return // long before the ring was made, or nine years after
	}
	r.slots[seq%arrivalSlots].Store(uint64(us)<<16 | uint64(seq))
}

// arrivedAt is when packet seq came in, in Unix nanoseconds, now being now: the time
// noted, else now. A time after now (the clock was set back) or more than
// maxArrivalAge before it (the slot's sequence number came round again) is not
// believed. r may be nil: no stream is noted.
func (r *arrivalRing) arrivedAt(seq uint16, now int64) int64 {
	if r == nil {
		return now
	}
	v := r.slots[seq%arrivalSlots].Load()
	if v == 0 || uint16(v) != seq {
		return now
	}
	at := r.base + (int64(v>>16)-1)*1000
	if at > now || now-at > int64(maxArrivalAge) {
		return now
	}
	return at
}
