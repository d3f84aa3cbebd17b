package sfu

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// A large fan-out is spread over writers. Up to spreadConfig.above subscribers, a
// layer's reader writes each packet to every subscriber itself. Beyond, it keeps the
// packet in the layer's cache and posts its sequence number to the layer's writers, about
// √N of them for N subscribers, each writing to its own group of subscribers: the
// fan-out runs on every core, and the reader goes back to reading at once.
//
// Overload: a writer's queue is bounded, and a packet that has been in the server longer
// than maxVideoQueueDelay (audio: maxAudioQueueDelay) since the media socket read it is
// not sent, by the layer's reader or by a writer, whichever finds it late. A video subscriber that misses packets waits for the next
// keyframe, which is asked for (paced per layer), and its bandwidth estimate falls by a
// quarter, which moves it to a lower simulcast layer when the publisher sends one; audio
// goes on after the gap and is given a longer delay than video, so that it is the last
// to go. What cannot be sent in time is dropped, never queued without bound.

// DefaultSpreadAbove is the number of subscribers of a layer above which its packets
// are written by the layer's writers.
const DefaultSpreadAbove = 16

// writerQueueLen is the packets a writer's queue holds: a keyframe of a screen share fits.
const writerQueueLen = 128

// Longest time a packet may have been in the server, from when it came off the media
// socket (see arrivalTable) to when its reader or a writer gets to it, before it is
// dropped: beyond, it would come later than a listener can wait for it. Shorter waits (a
// core taken by another process for a moment) are let through, late but whole, rather
// than frozen until a keyframe.
const (
	maxVideoQueueDelay = 100 * time.Millisecond
	maxAudioQueueDelay = 150 * time.Millisecond
)

// spreadConfig says when and how a layer's fan-out is spread over writers.
type spreadConfig struct {
	// above is the number of subscribers of a layer above which writers are used.
	above int
	// maxWriters bounds the writers of one layer.
	maxWriters int
}

// forwardStats counts, for a server, what the forwarding sent, dropped or repaired.
type forwardStats struct {
	// forwarded counts packets handed to subscribers: each packet of a layer once per
	// subscriber of that layer.
	forwarded atomic.Uint64
	// queueFull counts packets a writer's full queue could not take.
	queueFull atomic.Uint64
	// late counts packets dropped by a writer for waiting too long.
	late atomic.Uint64
	// receivedLate counts packets dropped by a layer's reader: they had waited too long
	// in Pion's receive path already.
	receivedLate atomic.Uint64
	// retransmitted counts packets sent again on a subscriber's NACK.
	retransmitted atomic.Uint64
	// keyframeRequests counts the PLIs sent to publishers.
	keyframeRequests atomic.Uint64
	// nacks counts the NACK packets subscribers sent.
	nacks atomic.Uint64
	// loss counts the fractions lost that subscribers' receiver reports gave.
	loss lossCounts
	// delay counts, for each datagram sent, the time from its packet's arrival to the
	// end of the fan-out it was part of.
	delay delayCounts
}

// ForwardStats are the counts of the forwarding since the server started.
type ForwardStats struct {
	// Forwarded is the packets handed to subscribers, each packet once per subscriber of
	// its layer (what is then dropped included).
	Forwarded uint64
	// QueueFull is the packets a writer's full queue could not take.
	QueueFull uint64
	// Late is the packets that waited for a writer too long and were not sent, counted
	// once per writer.
	Late uint64
	// ReceivedLate is the packets that had been in the server too long already when the
	// reader of their layer got them from Pion (they waited in its receive path), and
	// went to no subscriber.
	ReceivedLate uint64
	// Retransmitted is the packets sent again on a subscriber's request (NACK).
	Retransmitted uint64
	// KeyframeRequests is the keyframe requests (PLI) sent to publishers.
	KeyframeRequests uint64
	// NACKs is the NACK packets received from subscribers.
	NACKs uint64
	// Loss is the fractions lost that subscribers reported in their receiver reports.
	Loss LossStats
	// Delay is, for each datagram sent, the time from its packet's arrival to the end of
	// the fan-out it was part of (a layer's reader's, or one of its writers'): at most
	// the time the datagram took to leave.
	Delay DelayStats
}

// DelayBuckets is the number of buckets of DelayStats.
const DelayBuckets = 16

// DelayBounds are the upper bounds of the buckets of DelayStats, in seconds: finer about
// the 100 ms (video) and 150 ms (audio) a packet may wait.
func DelayBounds() [DelayBuckets]float64 {
	return [DelayBuckets]float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.3, 0.5, 1}
}

// DelayStats is a histogram of forwarding delays: Buckets[i] counts the datagrams whose
// delay was at most DelayBounds[i] (cumulative, as Prometheus wants them); Count counts
// them all, those above the last bound too.
type DelayStats struct {
	// Count is the number of datagrams.
	Count uint64
	// Sum is the sum of their delays, in seconds.
	Sum float64
	// Buckets are the cumulative counts, by DelayBounds.
	Buckets [DelayBuckets]uint64
}

// delayCounts counts datagrams by delay: two atomic adds per fan-out.
type delayCounts struct {
	// buckets count the datagrams per bucket, not cumulative; the last one those above
	// every bound.
	buckets [DelayBuckets + 1]atomic.Uint64
	// sum is the sum of the delays, in nanoseconds.
	sum atomic.Int64
}

// observe counts n datagrams of a fan-out that ended d nanoseconds after their packet's
// arrival.
func (c *delayCounts) observe(d int64, n uint64) {
	bounds := DelayBounds()
	i := 0
	for i < DelayBuckets && float64(d) > bounds[i]*1e9 {
		i++
	}
	c.buckets[i].Add(n)
	c.sum.Add(max(d, 0) * int64(n))
}

// stats reads the counts, made cumulative.
func (c *delayCounts) stats() DelayStats {
	var st DelayStats
	for i := range DelayBuckets {
		st.Count += c.buckets[i].Load()
		st.Buckets[i] = st.Count
	}
	st.Count += c.buckets[DelayBuckets].Load()
	st.Sum = float64(c.sum.Load()) / 1e9
	return st
}

// packetRef is a packet of a layer's cache posted to its writers; the cache says whether
// it starts a keyframe.
type packetRef struct {
	seq uint16
	at  int64 // when it came in, Unix nanoseconds
}

// writerPool is the writers of one layer. Its groups change when subscribers come and
// go (under the upTrack's mu); the writers read them without a lock.
type writerPool struct {
	l    *layer
	snap atomic.Pointer[writerGroups]
	// Guarded by the upTrack's mu.
	all    []*writer
	closed bool
}

// writerGroups is one assignment of the subscribers to writers: groups[i] is written by
// writers[i].
type writerGroups struct {
	writers []*writer
	groups  [][]*downTrack
}

// writer writes the packets posted to it to one group of a layer's subscribers.
type writer struct {
	index int
	queue chan packetRef
	// lost is set when a packet could not be queued.
	lost atomic.Bool
}

// writerCount is how many writers n subscribers get: about √n, at least one, at most
// limit.
func writerCount(n, limit int) int {
	w := int(math.Ceil(math.Sqrt(float64(n))))
	return max(min(w, limit), 1)
}

// regroupLocked assigns the layer's subscribers to writers after a change of its list,
// starting writers when more are needed; u.mu is held. Below spreadAbove nothing is
// done: the reader writes, and the groups are made again when the list grows.
func (l *layer) regroupLocked(downs []*downTrack) {
	u := l.up
	if len(downs) <= u.spread.above {
		return
	}
	pool := l.pool.Load()
	if pool == nil {
		pool = &writerPool{l: l}
		l.pool.Store(pool)
	}
	if pool.closed {
		return
	}
	n := writerCount(len(downs), u.spread.maxWriters)
	for len(pool.all) < n {
		w := &writer{index: len(pool.all), queue: make(chan packetRef, writerQueueLen)}
		pool.all = append(pool.all, w)
		go func() { // owned by the layer; ends when the layer's reader ends (stopWriters)
			w.run(l)
		}()
	}
	groups := make([][]*downTrack, n)
	for _, d := range downs {
		i := d.slot % n
		groups[i] = append(groups[i], d)
	}
	pool.snap.Store(&writerGroups{writers: pool.all[:n], groups: groups})
}

// writers is the layer's pool once its subscribers have been spread, else nil.
func (l *layer) writers() *writerPool {
	pool := l.pool.Load()
	if pool == nil || pool.snap.Load() == nil {
		return nil
	}
	return pool
}

// post hands a packet to every writer in use. A writer whose queue is full misses it,
// and its subscribers are resynchronised when it next runs.
func (pool *writerPool) post(ref packetRef) {
	for _, w := range pool.snap.Load().writers {
		select {
		case w.queue <- ref:
		default:
			w.lost.Store(true)
			pool.l.up.stats.queueFull.Add(1)
		}
	}
}

// stopWriters ends the layer's writers; called by the layer's reader as it ends.
func (l *layer) stopWriters() {
	pool := l.pool.Load()
	if pool == nil {
		return
	}
	l.up.mu.Lock()
	defer l.up.mu.Unlock()
	pool.closed = true
	for _, w := range pool.all {
		close(w.queue)
	}
}

// run writes the packets posted to the writer until its queue is closed.
func (w *writer) run(l *layer) {
	sc := new(scratch)
	for ref := range w.queue {
		w.forward(l, ref, sc)
	}
}

// forward writes one posted packet to the writer's group. A panic ends this packet
// only.
func (w *writer) forward(l *layer, ref packetRef, sc *scratch) {
	u := l.up
	defer u.panics.Recover(PartTrack, u.log, nil)
	g := l.pool.Load().snap.Load()
	if w.index >= len(g.groups) {
		return
	}
	downs := g.groups[w.index]
	if w.lost.Swap(false) {
		l.resync(downs)
	}
	sc.now = u.clock.Now().UnixNano()
	if sc.now-ref.at > u.maxDelay {
		u.stats.late.Add(1)
		l.lateAt.Store(sc.now)
		l.resync(downs)
		return
	}
	n, key := l.cache.get(ref.seq, sc.raw[:])
	if n == 0 {
		l.resync(downs) // replaced in the cache: the writer is far behind
		return
	}
	if err := sc.pkt.Unmarshal(sc.raw[:n]); err != nil {
		return
	}
	sc.at = ref.at
	l.writeAll(downs, &sc.pkt, key, sc)
}

// resync makes the video subscribers downs of the layer wait for a keyframe after a
// loss; those that were receiving have their bandwidth estimate lowered, towards a layer
// with fewer packets.
func (l *layer) resync(downs []*downTrack) {
	if l.up.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	for _, d := range downs {
		if d.resync(l) && d.subscriber != nil {
			d.subscriber.onOverload()
		}
	}
	l.requestKeyframe()
}
