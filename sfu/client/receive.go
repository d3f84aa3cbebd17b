package client

import (
	"strings"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// maxPacketSize is the read buffer of a received track: larger than any RTP packet over
// UDP with an Ethernet MTU.
const maxPacketSize = 1500

// lossCounter counts the packets of a track from the sequence numbers their stamps
// carry: those expected from the first received to the highest, and those received.
type lossCounter struct {
	started         bool
	first, highest  uint32
	received        uint64
	late, duplicate uint64 // below the highest: reordered, or seen already (not told apart)
}

// add counts a packet with sequence number seq.
func (l *lossCounter) add(seq uint32) {
	l.received++
	switch {
	case !l.started:
		l.started, l.first, l.highest = true, seq, seq
	case seq > l.highest:
		l.highest = seq
	case seq < l.first:
		l.first = seq // came before the first one received: it was expected too
	default:
		l.late++
	}
}

// expected is the number of packets from the first received to the highest.
func (l *lossCounter) expected() uint64 {
	if !l.started {
		return 0
	}
	return uint64(l.highest-l.first) + 1
}

// lost is the number of expected packets not received; duplicates can hide losses.
func (l *lossCounter) lost() uint64 {
	e := l.expected()
	if l.received >= e {
		return 0
	}
	return e - l.received
}

// TrackStats is what a client received on one track, at one moment.
type TrackStats struct {
	// ParticipantID is the publisher, from the track's msid stream id.
	ParticipantID string
	// TrackID and StreamID are the msid of the track.
	TrackID, StreamID string
	// Kind is audio or video.
	Kind webrtc.RTPCodecType
	// Mid is the media section the track came in, SSRC its sender's SSRC.
	Mid  string
	SSRC uint32
	// Packets and Bytes count the RTP packets received and their payload bytes.
	Packets, Bytes uint64
	// Stamped counts the packets that carried a stamp of synthetic media; Expected and
	// Lost are counted from the sequence numbers of those stamps.
	Stamped, Expected, Lost uint64
	// Keyframes counts the packets that start a VP8 key frame.
	Keyframes uint64
	// FirstAt is when the first packet came, Monotonic nanoseconds (0: none yet).
	FirstAt int64
	// FirstIsKeyframe tells whether the first packet started a key frame.
	FirstIsKeyframe bool
	// Latency is receive time minus send time of the stamped packets.
	Latency Histogram
	// SenderReports counts the sender's reports about the track; LastSenderReport is the
	// last one, without its reception reports.
	SenderReports    uint64
	LastSenderReport rtcp.SenderReport
}

// remoteTrack reads one received track and keeps its counters.
type remoteTrack struct {
	track *webrtc.TrackRemote
	video bool

	mu    sync.Mutex // guards stats and loss; taken once per packet, by one reader
	stats TrackStats
	loss  lossCounter
}

func newRemoteTrack(t *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) *remoteTrack {
	participant, _, _ := strings.Cut(t.StreamID(), "~")
	r := &remoteTrack{track: t, video: t.Kind() == webrtc.RTPCodecTypeVideo}
	r.stats = TrackStats{ParticipantID: participant, TrackID: t.ID(), StreamID: t.StreamID(), Kind: t.Kind(), SSRC: uint32(t.SSRC())}
	if tr := receiver.RTPTransceiver(); tr != nil {
		r.stats.Mid = tr.Mid()
	}
	return r
}

// run reads the track until it ends, and hands each packet to onRTP (nil: none) once
// counted. Nothing is allocated per packet.
func (r *remoteTrack) run(onRTP func(*webrtc.TrackRemote, []byte)) {
	buf := make([]byte, maxPacketSize)
	for {
		n, _, err := r.track.Read(buf)
		if err != nil {
			return
		}
		r.packet(buf[:n], Monotonic())
		if onRTP != nil {
			onRTP(r.track, buf[:n])
		}
	}
}

// readRTCP reads the receiver's RTCP until it stops, through the interceptors (the
// receiver reports echo the sender reports read here), and counts the sender reports
// about the track.
func (r *remoteTrack) readRTCP(receiver *webrtc.RTPReceiver) {
	for {
		pkts, _, err := receiver.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			sr, ok := pkt.(*rtcp.SenderReport)
			if !ok {
				continue
			}
			r.mu.Lock()
			if sr.SSRC == r.stats.SSRC {
				r.stats.SenderReports++
				r.stats.LastSenderReport = rtcp.SenderReport{SSRC: sr.SSRC, NTPTime: sr.NTPTime, RTPTime: sr.RTPTime,
					PacketCount: sr.PacketCount, OctetCount: sr.OctetCount}
			}
			r.mu.Unlock()
		}
	}
}

// packet counts the RTP packet b received at now.
func (r *remoteTrack) packet(b []byte, now int64) {
	payload, ok := rtpPayload(b)
	if !ok {
		return
	}
	var (
		stamp   Stamp
		key     bool
		stamped bool
	)
	if r.video {
		stamp, key, stamped = vp8Stamp(payload)
	} else {
		stamp, stamped = opusStamp(payload)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.stats
	if s.Packets == 0 {
		s.FirstAt, s.FirstIsKeyframe = now, key
	}
	s.Packets++
	s.Bytes += uint64(len(payload))
	if key {
		s.Keyframes++
	}
	if stamped {
		s.Stamped++
		r.loss.add(stamp.Seq)
		s.Latency.Record(time.Duration(now - stamp.SentAt))
	}
}

// snapshot copies the counters.
func (r *remoteTrack) snapshot() TrackStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Expected, s.Lost = r.loss.expected(), r.loss.lost()
	return s
}

// takeLatency adds the latency histogram to h and empties it.
func (r *remoteTrack) takeLatency(h *Histogram) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h.Merge(&r.stats.Latency)
	r.stats.Latency = Histogram{}
}

// TakeLatency adds the latency histograms of the tracks received so far to video and
// audio, by the tracks' kind, and empties them: successive calls cover successive
// intervals, and no packet is counted twice or missed between two calls.
func (c *Client) TakeLatency(video, audio *Histogram) {
	c.mu.Lock()
	tracks := append([]*remoteTrack(nil), c.tracks...)
	c.mu.Unlock()
	for _, t := range tracks {
		if t.video {
			t.takeLatency(video)
		} else {
			t.takeLatency(audio)
		}
	}
}
