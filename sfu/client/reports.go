package client

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
)

// Receiver reports (RFC 3550 §6.4.2) of a client that receives many tracks: counted from
// the raw RTP header of each packet, with one lock and no allocation per packet; Pion's
// report interceptor parses every header into a new structure and a new attribute map.
// What the reports carry is the same: loss (cumulative and fraction since the last
// report), the highest sequence number, jitter, and the last sender report and the time
// since it.

// reportInterval is the time between two receiver reports of a track, as Pion's.
const reportInterval = time.Second

// recvStats counts one received stream as RFC 3550 appendix A.3 and A.8 do. The zero value
// (with clockRate set) is ready; it is not safe for concurrent use.
type recvStats struct {
	clockRate uint32

	started       bool
	baseSeq       uint32 // the first sequence number, extended
	maxSeq        uint16
	cycles        uint32 // sequence number wraps, times 65536
	received      uint32
	expectedPrior uint32 // at the last report
	receivedPrior uint32

	transit    int64   // of the last packet, in RTP clock units
	jitter     float64 // in RTP clock units
	jitterInit bool
}

// add counts a packet with sequence number seq and RTP timestamp ts, received at now
// (nanoseconds of any clock that does not jump).
func (s *recvStats) add(seq uint16, ts uint32, now int64) {
	s.received++
	if !s.started {
		s.started, s.baseSeq, s.maxSeq = true, uint32(seq), seq
	} else if d := seq - s.maxSeq; d != 0 && d < 1<<15 { // newer, perhaps across a wrap
		if seq < s.maxSeq {
			s.cycles += 1 << 16
		}
		s.maxSeq = seq
	}
	if s.clockRate == 0 {
		return
	}
	arrival := now / 1000 * int64(s.clockRate) / 1_000_000 // microseconds, then clock units
	transit := arrival - int64(ts)
	if s.jitterInit {
		d := transit - s.transit
		if d < 0 {
			d = -d
		}
		s.jitter += (float64(d) - s.jitter) / 16
	}
	s.transit, s.jitterInit = transit, true
}

// report fills the loss, sequence and jitter fields of a reception report and starts a
// new interval for the fraction lost.
func (s *recvStats) report(r *rtcp.ReceptionReport) {
	extMax := s.cycles + uint32(s.maxSeq)
	expected := extMax - s.baseSeq + 1
	lost := int64(expected) - int64(s.received) // negative with duplicates
	lost = max(min(lost, 0x7fffff), -0x800000)
	expInterval := expected - s.expectedPrior
	recvInterval := s.received - s.receivedPrior
	s.expectedPrior, s.receivedPrior = expected, s.received
	var fraction uint8
	if expInterval > 0 && expInterval > recvInterval {
		fraction = uint8((uint64(expInterval-recvInterval) << 8) / uint64(expInterval))
	}
	r.FractionLost = fraction
	r.TotalLost = uint32(lost) & 0xffffff
	r.LastSequenceNumber = extMax
	r.Jitter = uint32(s.jitter)
}

// reportStream is one received stream of the interceptor.
type reportStream struct {
	ssrc uint32

	mu      sync.Mutex // guards stats and the last sender report
	stats   recvStats
	lastSR  uint32 // the middle 32 bits of its NTP time
	lastSRT int64  // when it came, Monotonic; 0: none yet
}

// reportsFactory makes the receiver-report interceptor of each PeerConnection.
type reportsFactory struct{}

// NewInterceptor implements interceptor.Factory.
func (reportsFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &reportsInterceptor{ssrc: rand.Uint32(), streams: make(map[uint32]*reportStream), close: make(chan struct{})}, nil
}

// reportsInterceptor counts the received streams of one PeerConnection and sends a
// receiver report for each every reportInterval.
type reportsInterceptor struct {
	interceptor.NoOp
	ssrc uint32 // the reports' sender SSRC

	mu      sync.Mutex // guards streams and closed
	streams map[uint32]*reportStream
	closed  bool
	close   chan struct{}
	wg      sync.WaitGroup
}

// BindRemoteStream counts the packets of a received stream.
func (i *reportsInterceptor) BindRemoteStream(info *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	st := &reportStream{ssrc: info.SSRC, stats: recvStats{clockRate: info.ClockRate}}
	i.mu.Lock()
	i.streams[info.SSRC] = st
	i.mu.Unlock()
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attr, err := reader.Read(b, a)
		if err != nil || n < rtpHeaderSize || b[0]>>6 != rtpVersion {
			return n, attr, err
		}
		seq, ts := binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint32(b[4:])
		now := Monotonic()
		st.mu.Lock()
		st.stats.add(seq, ts, now)
		st.mu.Unlock()
		return n, attr, nil
	})
}

// UnbindRemoteStream stops reporting a stream.
func (i *reportsInterceptor) UnbindRemoteStream(info *interceptor.StreamInfo) {
	i.mu.Lock()
	delete(i.streams, info.SSRC)
	i.mu.Unlock()
}

// BindRTCPReader notes the sender reports, whose time the receiver reports echo.
func (i *reportsInterceptor) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attr, err := reader.Read(b, a)
		if err != nil {
			return n, attr, err
		}
		if attr == nil {
			attr = make(interceptor.Attributes)
		}
		pkts, err := attr.GetRTCPPackets(b[:n])
		if err != nil {
			return n, attr, nil // not ours to refuse: the next reader decides
		}
		now := Monotonic()
		for _, p := range pkts {
			sr, ok := p.(*rtcp.SenderReport)
			if !ok {
				continue
			}
			i.mu.Lock()
			st := i.streams[sr.SSRC]
			i.mu.Unlock()
			if st != nil {
				st.mu.Lock()
				st.lastSR, st.lastSRT = uint32(sr.NTPTime>>16), now
				st.mu.Unlock()
			}
		}
		return n, attr, nil
	})
}

// BindRTCPWriter starts sending the reports.
func (i *reportsInterceptor) BindRTCPWriter(writer interceptor.RTCPWriter) interceptor.RTCPWriter {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return writer
	}
	i.wg.Add(1)
	go func() { // owned by the interceptor; ends at Close
		defer i.wg.Done()
		i.loop(writer)
	}()
	return writer
}

func (i *reportsInterceptor) loop(w interceptor.RTCPWriter) {
	tick := time.NewTicker(reportInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-i.close:
			return
		}
		i.mu.Lock()
		streams := make([]*reportStream, 0, len(i.streams))
		for _, st := range i.streams {
			streams = append(streams, st)
		}
		i.mu.Unlock()
		now := Monotonic()
		for _, st := range streams {
			rr := &rtcp.ReceiverReport{SSRC: i.ssrc, Reports: []rtcp.ReceptionReport{{SSRC: st.ssrc}}}
			st.mu.Lock()
			if !st.stats.started {
				st.mu.Unlock()
				continue
			}
			st.stats.report(&rr.Reports[0])
			if st.lastSRT != 0 {
				rr.Reports[0].LastSenderReport = st.lastSR
				rr.Reports[0].Delay = uint32((now - st.lastSRT) * 65536 / int64(time.Second))
			}
			st.mu.Unlock()
			// An error is a PeerConnection closing, which closes the interceptor.
			_, _ = w.Write([]rtcp.Packet{rr}, nil)
		}
	}
}

// Close stops the reports.
func (i *reportsInterceptor) Close() error {
	i.mu.Lock()
	if !i.closed {
		i.closed = true
		close(i.close)
	}
	i.mu.Unlock()
	i.wg.Wait()
	return nil
}
