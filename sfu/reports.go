package sfu

import (
	"time"

	"github.com/pion/rtcp"
)

// Retransmissions and sender reports of the forwarded streams, written by the SFU: one
// packet cache per layer answers every subscriber's NACKs (no copy of each packet per
// subscriber), and sender reports are made from what each subscriber was sent.

// maxRetransmitsPerSecond bounds the packets sent again to one subscriber for one track
// in a second, about a third of a 1.2 Mbit/s camera's packets: a client asking for
// everything again gets a trickle, not a flood.
const maxRetransmitsPerSecond = 50

// overloadCooldown is how long after a writer of a layer dropped late packets its
// subscribers' NACKs go unanswered: a server that cannot keep up sends what is new
// rather than what is old.
const overloadCooldown = time.Second

// senderReportInterval is the time between two sender reports of a subscriber's tracks.
const senderReportInterval = time.Second

// nackBudget counts the retransmissions of one downTrack in the current second; guarded
// by the downTrack's mu.
type nackBudget struct {
	second int64 // Unix seconds of the count
	used   int
}

// take tells whether one more retransmission fits in the second of now (Unix
// nanoseconds), and counts it.
func (b *nackBudget) take(now int64) bool {
	if s := now / int64(time.Second); s != b.second {
		b.second, b.used = s, 0
	}
	if b.used >= maxRetransmitsPerSecond {
		return false
	}
	b.used++
	return true
}

// retransmit sends again the packets a subscriber reports lost (a generic NACK, RFC 4585
// §6.2.1), from the cache of the layer it receives, numbered as they were first sent.
// Packets of a layer left since, or no longer kept, are not sent.
func (d *downTrack) retransmit(nack *rtcp.TransportLayerNack, sc *scratch) {
	b := d.binding.Load()
	if b == nil {
		return
	}
	more := true
	for i := range nack.Nacks {
		nack.Nacks[i].Range(func(seq uint16) bool {
			more = d.resend(seq, b, sc)
			return more
		})
		if !more {
			return
		}
	}
}

// resend sends again the packet sent as seq; false when the budget of the second is spent.
func (d *downTrack) resend(seq uint16, b *trackBinding, sc *scratch) bool {
	d.mu.Lock()
	l := d.current.Load()
	lseq, ok := d.s.layerSeq(seq)
	if l == nil || !ok {
		d.mu.Unlock()
		return true
	}
	n, _ := l.cache.get(lseq, sc.raw[:])
	if n == 0 {
		d.mu.Unlock()
		return true
	}
	now := d.up.clock.Now().UnixNano()
	if now-l.lateAt.Load() < int64(overloadCooldown) || !d.nacks.take(now) {
		d.mu.Unlock()
		return false
	}
	if err := sc.pkt.Unmarshal(sc.raw[:n]); err != nil {
		d.mu.Unlock()
		return true
	}
	payload := sc.pkt.Payload
	if d.vp8 != nil {
		payload = d.vp8.Again(sc.payload[:], payload)
	}
	ts := sc.pkt.Timestamp + d.s.tsOff
	d.mu.Unlock()
	sc.header(&sc.pkt.Header, b, d.up.audioLevelID, seq, ts)
	if n, err := b.writeRTP(&sc.hdr, payload, sc); err == nil && n > 0 {
		d.up.stats.retransmitted.Add(1)
	}
	return true
}

// senderReport describes what the subscriber was sent of the track, as of now (RFC 3550
// §6.4.1): the RTP timestamp of now is the last one sent, moved on by the time elapsed
// since. false when nothing was sent yet.
func (d *downTrack) senderReport(now time.Time) (*rtcp.SenderReport, bool) {
	b := d.binding.Load()
	if b == nil {
		return nil, false
	}
	d.mu.Lock()
	s := d.s
	d.mu.Unlock()
	if !s.started {
		return nil, false
	}
	elapsed := max(now.UnixNano()-s.lastSentAt, 0)
	ticks := uint32(elapsed * int64(d.up.codec.ClockRate) / int64(time.Second))
	return &rtcp.SenderReport{
		SSRC:        b.ssrc,
		NTPTime:     ntpTime(now),
		RTPTime:     s.lastTS + ticks,
		PacketCount: s.packets,
		OctetCount:  s.octets,
	}, true
}

// ntpTime is t as a 64-bit NTP timestamp: seconds since 1900 and a binary fraction.
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2208988800 // seconds from 1900 to 1970
	ns := t.UnixNano()
	secs := uint64(ns/int64(time.Second)) + unixToNTP
	frac := uint64(ns%int64(time.Second)) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

// sendReports sends a sender report for each track the subscriber receives, then does
// it again every senderReportInterval until it closes.
func (sb *subscriber) sendReports() {
	sb.mu.Lock()
	if sb.closed {
		sb.mu.Unlock()
		return
	}
	downs := sb.allLocked()
	sb.mu.Unlock()
	now := sb.m.srv.clock.Now()
	var pkts []rtcp.Packet
	for _, d := range downs {
		if sr, ok := d.senderReport(now); ok {
			pkts = append(pkts, sr)
		}
	}
	if len(pkts) > 0 {
		if err := sb.m.pc.WriteRTCP(pkts); err != nil {
			sb.m.log.Debug("sender reports not sent", "error", err)
		}
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if !sb.closed {
		sb.stopReports = sb.m.srv.clock.AfterFunc(senderReportInterval, sb.sendReports)
	}
}
