package sfu

import "sync"

// Cache sizes, in packets, of a layer's packetCache: about a second of a 2.5 Mbit/s video
// layer (260 packets a second) or of audio (50), longer than any round trip worth
// repairing, and twice what a writer's queue holds (see writerQueueLen).
const (
	videoCachePackets = 256
	audioCachePackets = 64
)

// packetCache keeps the last packets of one layer, by sequence number, as they were
// received: the writers of a large fan-out copy each packet from it, and the
// retransmissions that subscribers ask for (NACK) are answered from it, for every
// subscriber from the one copy. One goroutine stores (the layer's reader); any number
// get.
type packetCache struct {
	mu    sync.Mutex
	slots []cacheSlot
	mask  uint16
}

type cacheSlot struct {
	seq  uint16
	n    int // 0: empty
	key  bool
	data [maxRTPPacketSize]byte
}

// newPacketCache makes a cache of size packets, a power of two up to 32768.
func newPacketCache(size int) *packetCache {
	if size&(size-1) != 0 || size < 1 || size > 1<<15 {
		panic("sfu: packet cache size must be a power of two up to 32768")
	}
	return &packetCache{slots: make([]cacheSlot, size), mask: uint16(size - 1)}
}

// store keeps raw, the packet of sequence number seq, in place of the packet
// len(slots) numbers before it. key tells whether it starts a keyframe. A packet larger
// than maxRTPPacketSize is not kept.
func (c *packetCache) store(seq uint16, raw []byte, key bool) {
	if len(raw) > maxRTPPacketSize {
		return
	}
	c.mu.Lock()
	s := &c.slots[seq&c.mask]
	s.seq, s.key = seq, key
	s.n = copy(s.data[:], raw)
	c.mu.Unlock()
}

// get copies the packet of sequence number seq into buf and returns its length and
// whether it starts a keyframe; n is 0 when the packet is not kept (never received, or
// replaced by a newer one) or buf is too small.
func (c *packetCache) get(seq uint16, buf []byte) (n int, key bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.slots[seq&c.mask]
	if s.n == 0 || s.seq != seq || len(buf) < s.n {
		return 0, false
	}
	return copy(buf, s.data[:s.n]), s.key
}
