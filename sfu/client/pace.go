package client

import "time"

// Pacing as a browser's: libwebrtc's paced sender lets a frame's packets out at a pacing
// rate of 2.5 times the target bit rate (its pacing factor), in bursts: a burst goes on
// while what was sent would drain within the burst interval at that rate, and the next
// waits until it has drained. Audio is not paced and does not count.
const (
	// pacingFactor is the pacing rate over the video's bit rate, as a fraction.
	pacingFactorNum, pacingFactorDen = 5, 2
	// pacingBurst is the burst interval: bursts are at least this far apart.
	pacingBurst = 5 * time.Millisecond
)

// pacer gives each packet of a paced track its release time. It reads no clock: the
// times are those its caller gives, and the same calls give the same times.
type pacer struct {
	// rate is the pacing rate, bits per second.
	rate int64
	// last is the release time of the last packet; drained the time at which what was
	// released so far has drained at rate.
	last, drained time.Duration
}

// newPacer paces a track of bitrate bits per second.
func newPacer(bitrate int) pacer {
	return pacer{rate: int64(bitrate) * pacingFactorNum / pacingFactorDen}
}

// release returns the time a packet of size bytes, queued at now behind those queued
// before, leaves: at now, or later behind the packets before it, and once a burst has
// sent what drains in pacingBurst, when that has drained.
func (p *pacer) release(now time.Duration, size int) time.Duration {
	t := max(now, p.last)
	if p.drained-t >= pacingBurst {
		t = p.drained
	}
	p.last = t
	p.drained = max(p.drained, t) + time.Duration(int64(size)*8*int64(time.Second)/p.rate)
	return t
}

// pacedPacket is packet i of a paced frame and its release time.
type pacedPacket struct {
	frame vp8Frame
	i     int
	at    time.Duration
}

// pacedVideo holds the packets of the paced frames of a video track until their release.
// One goroutine uses it.
type pacedVideo struct {
	pacer pacer
	// queue[head:] are the packets waiting, in the order of their release.
	queue []pacedPacket
	head  int
}

// push queues the packets of frame f at now (Monotonic nanoseconds).
func (v *pacedVideo) push(f vp8Frame, now time.Duration) {
	if v.head > 0 && v.head >= len(v.queue)/2 { // the room of the packets sent is reused
		n := copy(v.queue, v.queue[v.head:])
		v.queue, v.head = v.queue[:n], 0
	}
	n, _ := f.packets()
	for i := range n {
		v.queue = append(v.queue, pacedPacket{frame: f, i: i, at: v.pacer.release(now, f.payloadSize(i))})
	}
}

// send writes to p the packets whose release time is now or before, and returns the
// release time of the next one, false when none is left.
func (v *pacedVideo) send(p *publisher, now time.Duration) (time.Duration, bool) {
	for ; v.head < len(v.queue); v.head++ {
		q := v.queue[v.head]
		if q.at > now {
			return q.at, true
		}
		writeVP8Packet(p, q.frame, q.i)
	}
	return 0, false
}
