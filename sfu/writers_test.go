package sfu

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/codec"
)

// syncWriter is a TrackLocalWriter that writers on other goroutines may write to: it
// keeps the sequence numbers it was given and can hold a write until released.
type syncWriter struct {
	mu       sync.Mutex
	seqs     []uint16
	lastMark byte // the last byte of the last payload written
	// gate, when set, holds every write until it is closed; entered is closed by the
	// first write that waits on it.
	gate    chan struct{}
	entered chan struct{}
	wrote   chan struct{} // receives after each write, when set
}

func (w *syncWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.gate != nil {
		select {
		case <-w.entered:
		default:
			close(w.entered)
		}
		<-w.gate
	}
	w.mu.Lock()
	w.seqs = append(w.seqs, h.SequenceNumber)
	if len(payload) > 0 {
		w.lastMark = payload[len(payload)-1]
	}
	w.mu.Unlock()
	if w.wrote != nil {
		w.wrote <- struct{}{}
	}
	return len(payload) + 12, nil
}

func (w *syncWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w *syncWriter) got() []uint16 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]uint16(nil), w.seqs...)
}

// spreadTrack is an upTrack whose fan-out is spread over writers above two subscribers.
func spreadTrack(codec webrtc.RTPCodecParameters, clock Clock, p *plis, stats *forwardStats) *upTrack {
	up := newUpTrack(upTrackParams{
		ID: "pub~1", StreamID: "pub~user", Owner: "pub", Label: LabelCamera,
		Codec: codec, SSRC: 1234, Clock: clock, WriteRTCP: p.write, Logger: testLogger(),
		Spread: spreadConfig{above: 2, maxWriters: 3}, Stats: stats,
	})
	up.setParked(false)
	return up
}

func bindSync(t testing.TB, up *upTrack, ssrc webrtc.SSRC, w *syncWriter) *downTrack {
	d := newDownTrack(up, nil)
	require.True(t, up.addDown(d))
	_, err := d.Bind(bindContext{id: "bind", ssrc: ssrc, w: w, codecs: []webrtc.RTPCodecParameters{up.codec}})
	require.NoError(t, err)
	return d
}

// waitWrites waits until every writer has had n packets.
func waitWrites(t testing.TB, ws []*syncWriter, n int) {
	t.Helper()
	for _, w := range ws {
		require.Eventually(t, func() bool { return len(w.got()) >= n }, 10*time.Second, time.Millisecond)
	}
}

func TestSpreadFanOutReachesEverySubscriberInOrder(t *testing.T) {
	var pli plis
	up := spreadTrack(opusCodec, systemClock{}, &pli, nil)
	l := up.layerList()[0]
	var ws []*syncWriter
	for i := range 10 {
		w := &syncWriter{}
		ws = append(ws, w)
		bindSync(t, up, webrtc.SSRC(i+1), w)
	}
	g := l.pool.Load().snap.Load()
	require.Len(t, g.writers, 3, "10 subscribers, at most 3 writers")
	seen := map[*downTrack]int{}
	for _, group := range g.groups {
		for _, d := range group {
			seen[d]++
		}
	}
	require.Len(t, seen, 10)
	for d, n := range seen {
		require.Equal(t, 1, n, "subscriber %d is in one group only", d.slot)
	}

	var sc scratch
	for seq := uint16(1); seq <= 50; seq++ {
		l.handle(rawPacket(t, seq, []byte{0xf8, 0xff}, 0), &sc)
	}
	waitWrites(t, ws, 50)
	require.Equal(t, uint64(500), up.stats.forwarded.Load(), "50 packets to 10 subscribers")
	for i, w := range ws {
		got := w.got()
		require.Len(t, got, 50, "subscriber %d", i)
		for j, seq := range got {
			require.Equal(t, uint16(j+1), seq, "subscriber %d: packets in order", i)
		}
	}

	// Back under the threshold, the reader writes itself.
	for _, d := range slicesOf(up.subs[2:]) {
		up.removeDown(d)
	}
	l.handle(rawPacket(t, 51, []byte{0xf8}, 0), &sc)
	require.Equal(t, uint16(51), ws[0].got()[50], "written at once by the reader")

	l.stopWriters()
	require.True(t, l.pool.Load().closed)
}

func slicesOf(d []*downTrack) []*downTrack { return append([]*downTrack(nil), d...) }

// stuckSpread is a VP8 track spread over writers with four subscribers, the first of
// which (stuck, ws[0]) holds every write until its gate is closed.
func stuckSpread(t *testing.T, clock Clock, pli *plis, stats *forwardStats) (up *upTrack, stuck *syncWriter, ws []*syncWriter) {
	up = spreadTrack(vp8Codec, clock, pli, stats)
	stuck = &syncWriter{gate: make(chan struct{}), entered: make(chan struct{})}
	ws = []*syncWriter{stuck}
	bindSync(t, up, 1, stuck)
	for i := range 3 {
		w := &syncWriter{}
		ws = append(ws, w)
		bindSync(t, up, webrtc.SSRC(i+2), w)
	}
	return up, stuck, ws
}

// A writer that cannot keep up drops what waited too long: its video subscribers wait for
// the next keyframe, which is asked for, and nothing queues without bound.
func TestSlowWriterDropsLatePacketsAndResumesAtAKeyframe(t *testing.T) {
	clock := newFakeClock()
	var pli plis
	var stats forwardStats
	up, stuck, ws := stuckSpread(t, clock, &pli, &stats)
	l := up.layerList()[0]
	var sc scratch
	send := func(seq uint16, key bool) {
		l.handle(rawPacket(t, seq, append(vp8Payload(key), byte(seq)), 0), &sc)
	}
	send(1, true)
	<-stuck.entered // the writer of the stuck subscriber holds on its first packet
	for seq := uint16(2); seq < 2+writerQueueLen+10; seq++ {
		send(seq, false)
	}
	require.NotZero(t, stats.queueFull.Load(), "a full queue takes no more")
	clock.Advance(time.Second)
	plisBefore := pli.count()
	close(stuck.gate)
	require.Eventually(t, func() bool {
		for _, w := range l.pool.Load().snap.Load().writers {
			if len(w.queue) > 0 {
				return false
			}
		}
		return true
	}, 10*time.Second, time.Millisecond, "the writers drained their queues")
	require.NotZero(t, stats.late.Load())

	// What the stuck writer had queued is late: dropped, and its subscribers wait.
	next := uint16(2 + writerQueueLen + 10)
	send(next, false)
	send(next+1, true)
	for i, w := range ws {
		require.Eventually(t, func() bool {
			w.mu.Lock()
			defer w.mu.Unlock()
			return w.lastMark == byte(next+1)
		}, 10*time.Second, time.Millisecond, "every subscriber has the keyframe")
		got := w.got()
		for j := 1; j < len(got); j++ {
			require.Equal(t, got[j-1]+1, got[j], "subscriber %d: no gap in the sequence numbers, nothing to ask for again", i)
		}
	}
	got := stuck.got()
	require.Len(t, got, 2, "the late packets were not sent to the stuck subscriber, only the first and the next keyframe")
	require.Greater(t, pli.count(), plisBefore, "a keyframe was asked for")
	l.stopWriters()
}

// The fan-out through writers allocates nothing per packet either.
func TestSpreadForwardDoesNotAllocate(t *testing.T) {
	var pli plis
	up := spreadTrack(opusCodec, systemClock{}, &pli, nil)
	l := up.layerList()[0]
	wrote := make(chan struct{}, 64)
	for i := range 6 {
		bindSync(t, up, webrtc.SSRC(i+1), &syncWriter{wrote: wrote, seqs: make([]uint16, 0, 4096)})
	}
	raw := rawPacket(t, 1, []byte{0xf8, 0xff, 0xfe}, 0)
	var sc scratch
	post := func() {
		l.handle(raw, &sc)
		for range 6 {
			<-wrote
		}
	}
	post() // warm the writers' scratch space
	allocs := testing.AllocsPerRun(200, post)
	require.Zero(t, allocs)
	l.stopWriters()
}

func nackFor(ssrc uint32, seqs ...uint16) *rtcp.TransportLayerNack {
	return &rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}
}

// A subscriber's NACK is answered from the layer's cache with the packets as it was sent
// them; packets of a layer it left are not, and a flood of NACKs gets a bounded answer.
func TestRetransmitFromTheLayerCache(t *testing.T) {
	clock := newFakeClock()
	var pli plis
	up, layers := simulcastTrack(t, clock, &pli)
	q, h := layers[0], layers[1]
	w := &recordWriter{buf: make([]byte, 1500), ready: true}
	d := bindDown(t, up, 77, 96, 0, w)
	var sc scratch
	send := func(l *layer, seq uint16, ts uint32, pic uint16, key bool) {
		l.handle(layerPacket(t, l.ssrc, seq, ts, vp8Descriptor(pic, 0, key, 'x')), &sc)
	}
	for i := range uint16(5) {
		send(h, 500+i, 90000+uint32(i)*3000, 300+i, i == 0)
	}
	require.Equal(t, 5, w.n)
	var nsc scratch
	d.retransmit(nackFor(77, 502), &nsc)
	require.Equal(t, 6, w.n, "one packet sent again")
	require.Equal(t, uint16(502), w.last.SequenceNumber)
	require.Equal(t, uint32(96000), w.last.Timestamp)
	require.Equal(t, uint32(77), w.last.SSRC)

	// Switch to q: its packets continue the numbering; h's are no longer answered.
	up.setTarget(d, q)
	send(q, 10, 5000, 7, true)
	send(q, 11, 8000, 8, false)
	require.Equal(t, uint16(506), w.last.SequenceNumber)
	n := w.n
	d.retransmit(nackFor(77, 503), &nsc)
	require.Equal(t, n, w.n, "a packet of the layer left is not sent again")
	d.retransmit(nackFor(77, 505), &nsc)
	require.Equal(t, n+1, w.n)
	require.Equal(t, uint16(505), w.last.SequenceNumber)
	pic, _, _ := codec.VP8Picture(w.payload)
	require.Equal(t, 305, pic, "picture id as first sent")
	d.retransmit(nackFor(77, 600), &nsc)
	require.Equal(t, n+1, w.n, "never sent: nothing to send again")

	// A layer whose writers could not keep up sends nothing again for a while.
	q.lateAt.Store(clock.Now().UnixNano()) // as a writer does when it drops late packets
	n = w.n
	d.retransmit(nackFor(77, 505), &nsc)
	require.Equal(t, n, w.n, "no retransmission while the layer is late")
	clock.Advance(overloadCooldown)

	// A flood: the budget of the second, then nothing until the next second.
	clock.Advance(time.Second)
	flood := &rtcp.TransportLayerNack{MediaSSRC: 77}
	for range maxRetransmitsPerSecond {
		flood.Nacks = append(flood.Nacks, rtcp.NackPair{PacketID: 505, LostPackets: 1}) // 505 and 506
	}
	n = w.n
	d.retransmit(flood, &nsc)
	require.Equal(t, n+maxRetransmitsPerSecond, w.n)
	d.retransmit(nackFor(77, 506), &nsc)
	require.Equal(t, n+maxRetransmitsPerSecond, w.n)
	clock.Advance(time.Second)
	d.retransmit(nackFor(77, 506), &nsc)
	require.Equal(t, n+maxRetransmitsPerSecond+1, w.n)
}

func TestSenderReport(t *testing.T) {
	clock := newFakeClock()
	var pli plis
	up := newTestUpTrack(opusCodec, clock, &pli, 0)
	w := &recordWriter{buf: make([]byte, 1500), ready: true}
	d := bindDown(t, up, 42, 111, 0, w)
	_, ok := d.senderReport(clock.Now())
	require.False(t, ok, "nothing sent yet")
	var sc scratch
	for i := range uint16(3) {
		up.layerList()[0].handle(rawPacket(t, i, []byte{1, 2, 3, 4}, 0), &sc)
	}
	clock.Advance(500 * time.Millisecond)
	sr, ok := d.senderReport(clock.Now())
	require.True(t, ok)
	require.Equal(t, uint32(42), sr.SSRC)
	require.Equal(t, uint32(3), sr.PacketCount)
	require.Equal(t, uint32(12), sr.OctetCount)
	require.Equal(t, uint32(2*3000+24000), sr.RTPTime, "the last timestamp sent, half a second of 48 kHz later")
	require.Equal(t, ntpTime(clock.Now()), sr.NTPTime)
}

func TestNTPTime(t *testing.T) {
	got := ntpTime(time.Date(1970, 1, 1, 0, 0, 1, 500_000_000, time.UTC))
	require.Equal(t, uint64(2208988801)<<32|1<<31, got)
}

// Through a real PeerConnection: a packet the subscriber asks for again comes again, and
// the server reports what it sent of each track.
func TestRetransmissionsAndSenderReportsReachARealClient(t *testing.T) {
	srv := newTestServer(t)
	pub := join(t, srv, srv.token(t, "nack", "pub", RolePresenter, KindMeeting))
	sub := join(t, srv, srv.token(t, "nack", "sub", RoleAttendee, KindMeeting))
	var mu sync.Mutex
	seen := map[uint16]int{}
	var last uint16
	sub.mu.Lock()
	sub.observe = func(pkt *rtp.Packet) {
		mu.Lock()
		defer mu.Unlock()
		seen[pkt.SequenceNumber]++
		last = pkt.SequenceNumber
	}
	sub.mu.Unlock()
	sub.receiveOnly()
	pub.publish(false, 30)
	var video, audio string
	for id, a := range sub.waitMedia("pub", 2, 20) {
		if a.Kind == "video" {
			video = id
		} else {
			audio = id
		}
	}
	require.NotEmpty(t, video)
	require.NotEmpty(t, audio)

	mu.Lock()
	again := last
	mu.Unlock()
	nack := &rtcp.TransportLayerNack{MediaSSRC: sub.track(video).SSRC, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{again})}
	require.NoError(t, sub.PeerConnection().WriteRTCP([]rtcp.Packet{nack}))
	sub.waitUntil(func() bool {
		mu.Lock()
		defer mu.Unlock()
		return seen[again] >= 2
	}, "the packet asked for again")
	// The count follows the write the client may have read already.
	require.Eventually(t, func() bool { return srv.ForwardStats().Retransmitted > 0 }, waitFor, 10*time.Millisecond, "the retransmission is counted")
	require.Equal(t, uint64(1), srv.ForwardStats().Retransmitted)

	reports := func(id string) uint64 { s, _ := sub.receivedTrack(id); return s.SenderReports }
	sub.waitUntil(func() bool { return reports(video) > 0 && reports(audio) > 0 }, "sender reports")
	sr := sub.track(video).LastSenderReport
	require.NotZero(t, sr.PacketCount)
	require.NotZero(t, sr.OctetCount)
	got := time.Unix(int64(sr.NTPTime>>32)-2208988800, 0)
	require.WithinDuration(t, time.Now(), got, time.Minute, "NTP time of the report")
}

// A drop of a subscriber's video lowers that subscriber's bandwidth estimate
// by a quarter, once per loss: the allocation may then move it to a lower layer.
func TestDroppedVideoLowersTheSubscribersEstimate(t *testing.T) {
	clock := newFakeClock()
	srv, err := New(Params{Tokens: newTestSigner(t), Clock: clock, Logger: testLogger()})
	require.NoError(t, err)
	sb := newSubscriber(newMember(srv, Claims{Room: "r", Participant: "sub"}), nil)
	var pli plis
	up := newTestUpTrack(vp8Codec, clock, &pli, 0)
	d := bindDown(t, up, 5, 96, 0, &recordWriter{buf: make([]byte, 1500), ready: true})
	d.subscriber = sb
	sb.downs[up] = d
	l := up.layerList()[0]
	var sc scratch
	l.handle(rawPacket(t, 1, vp8Payload(true), 0), &sc)
	require.Equal(t, l, d.current.Load(), "receiving the layer")

	before := sb.bwe.Value(clock.Now())
	l.resync([]*downTrack{d})
	require.EqualValues(t, before*3/4, sb.bwe.Value(clock.Now()), "down by a quarter")
	d.mu.Lock()
	require.True(t, d.needKey, "waits for a keyframe")
	d.mu.Unlock()
	l.resync([]*downTrack{d})
	require.EqualValues(t, before*3/4, sb.bwe.Value(clock.Now()), "once per loss")
}
