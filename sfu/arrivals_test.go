package sfu

import (
	"encoding/binary"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"
)

// srtpDatagram is what an SRTP packet of ssrc and seq looks like on the wire: the RTP
// header in the clear, then ciphertext.
func srtpDatagram(ssrc uint32, seq uint16) []byte {
	b := make([]byte, 60)
	b[0], b[1] = 0x80, 96
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	for i := 12; i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	return b
}

func TestArrivalTableNotesPacketsOfOpenStreams(t *testing.T) {
	clock := newFakeClock()
	table := newArrivalTable(clock)
	ring := table.open(1234)
	start := clock.Now().UnixNano()

	table.note(srtpDatagram(1234, 7), nil)
	table.note(srtpDatagram(999, 8), nil) // a stream nobody reads
	sr, err := (&rtcp.SenderReport{SSRC: 1234}).Marshal()
	require.NoError(t, err)
	table.note(sr, nil)
	table.note([]byte{0, 1, 0, 0}, nil) // STUN
	clock.Advance(80 * time.Millisecond)
	now := clock.Now().UnixNano()

	require.Equal(t, start, ring.arrivedAt(7, now), "noted when it came")
	require.Equal(t, now, ring.arrivedAt(8, now), "never noted: now")
	require.Equal(t, now, ring.arrivedAt(7+arrivalSlots, now), "another packet of the slot: now")
	require.Equal(t, now, (*arrivalRing)(nil).arrivedAt(7, now), "no ring: now")
	require.Len(t, *table.streams.Load(), 1, "the RTCP packet's SSRC opened nothing")

	// A packet noted again (a retransmission of the publisher) came in the second time.
	table.note(srtpDatagram(1234, 7), nil)
	require.Equal(t, now, ring.arrivedAt(7, now))

	// Times not to believe: in the future (the clock was set back) or too old.
	ring.put(9, now+int64(time.Second))
	require.Equal(t, now, ring.arrivedAt(9, now))
	ring.put(10, now)
	later := now + int64(maxArrivalAge) + 1
	require.Equal(t, later, ring.arrivedAt(10, later))

	// Two readers of one stream share its ring; the last one to close ends the noting.
	again := table.open(1234)
	require.Same(t, ring, again)
	table.close(1234, again)
	table.note(srtpDatagram(1234, 11), nil)
	require.Equal(t, now, ring.arrivedAt(11, now+1), "still noted with one reader left")
	table.close(1234, ring)
	require.Empty(t, *table.streams.Load())
	table.note(srtpDatagram(1234, 12), nil)
	require.Equal(t, now+1, ring.arrivedAt(12, now+1), "no longer noted")
}

// arrivalSocket is a media socket noting arrivals in table, and a socket that sends to it.
func arrivalSocket(t *testing.T, table *arrivalTable) (*batchConn, *net.UDPConn) {
	n, err := stdnet.NewNet()
	require.NoError(t, err)
	conn, err := batchNet{Net: n, batcher: newSendBatcher(), arrivals: table}.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	c := conn.(*batchConn)
	sender, err := net.DialUDP("udp4", nil, c.LocalAddr().(*net.UDPAddr))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sender.Close() })
	return c, sender
}

// The media socket notes each published packet as it reads it, and on Linux the time it
// waited in the socket's buffer before that counts.
func TestMediaSocketNotesArrivals(t *testing.T) {
	clock := newFakeClock()
	table := newArrivalTable(clock)
	ring := table.open(4321)
	c, sender := arrivalSocket(t, table)
	var err error

	// Linux turns receive times on for every socket a moment after the first asks
	// (a deferred change of the kernel's code); until then, it gives the time of the
	// read. Some tries, then.
	const buffered = 30 * time.Millisecond
	buf := make([]byte, 1500)
	for seq := uint16(1); ; seq++ {
		_, err = sender.Write(srtpDatagram(4321, seq))
		require.NoError(t, err)
		time.Sleep(buffered) // the datagram waits in the socket's buffer, nobody reading
		read := clock.Now().UnixNano()
		got, _, err := c.ReadFromAddrPort(buf)
		require.NoError(t, err)
		require.Equal(t, 60, got)
		clock.Advance(time.Second)
		at := ring.arrivedAt(seq, clock.Now().UnixNano())
		require.LessOrEqual(t, at, read, "noted")
		require.Greater(t, at, read-int64(time.Minute))
		if runtime.GOOS != "linux" {
			require.Equal(t, read, at, "noted when read")
			return
		}
		if at <= read-int64(buffered) {
			return // noted when it reached the socket, before the read
		}
		require.Less(t, seq, uint16(20), "the time in the socket's buffer is never counted")
	}
}

// A packet that has been in the server longer than a video packet may wait already when
// the layer's reader gets it is not forwarded: it is counted, and the subscribers wait
// for the next keyframe. One that came in time is forwarded.
func TestReaderDropsWhatCameInTooLongAgo(t *testing.T) {
	clock := newFakeClock()
	var pli plis
	up := newTestUpTrack(vp8Codec, clock, &pli, 0)
	stats := up.stats
	w := &recordWriter{buf: make([]byte, 1500), ready: true}
	d := bindDown(t, up, 5678, 97, 0, w)
	l := up.layerList()[0]
	table := newArrivalTable(clock)
	sc := &scratch{arrivals: table.open(1234)}

	arrive := func(seq uint16, key bool) []byte {
		raw := rawPacket(t, seq, vp8Payload(key), 0)
		table.note(raw, nil)
		return raw
	}
	l.handle(arrive(1, true), sc)
	require.Equal(t, 1, w.n, "a packet read at once is forwarded")

	late := arrive(2, false)
	clock.Advance(maxVideoQueueDelay + time.Millisecond)
	l.handle(late, sc)
	require.Equal(t, 1, w.n, "a packet that waited too long before its reader got it is dropped")
	require.EqualValues(t, 1, stats.receivedLate.Load())
	require.Equal(t, clock.Now().UnixNano(), l.lateAt.Load(), "retransmissions wait")
	d.mu.Lock()
	require.True(t, d.needKey, "the subscriber waits for a keyframe")
	d.mu.Unlock()
	n, _ := l.cache.get(2, make([]byte, 1500))
	require.NotZero(t, n, "kept for retransmissions")

	l.handle(arrive(3, false), sc)
	require.Equal(t, 1, w.n, "not a keyframe")
	l.handle(arrive(4, true), sc)
	require.Equal(t, 2, w.n, "forwarded again from the keyframe")

	// Audio may wait longer.
	audio := newTestUpTrack(opusCodec, clock, &pli, 0)
	aw := &recordWriter{buf: make([]byte, 1500), ready: true}
	bindDown(t, audio, 91, 111, 0, aw)
	al := audio.layerList()[0]
	raw := arrive(5, false)
	clock.Advance(maxVideoQueueDelay + time.Millisecond)
	al.handle(raw, sc)
	require.Equal(t, 1, aw.n, "audio within its wait is forwarded")
	raw = arrive(6, false)
	clock.Advance(maxAudioQueueDelay + time.Millisecond)
	al.handle(raw, sc)
	require.Equal(t, 1, aw.n, "audio past its wait is dropped")
	require.EqualValues(t, 1, audio.stats.receivedLate.Load())
}

// A writer counts a packet's wait from when it came off the socket, not from when the
// reader posted it: a packet that waited in the receive path, then for its writer, each
// less than the limit but more together, is dropped by its writer.
func TestWriterCountsTheWaitFromArrival(t *testing.T) {
	clock := newFakeClock()
	var pli plis
	var stats forwardStats
	up, stuck, ws := stuckSpread(t, clock, &pli, &stats)
	l := up.layerList()[0]
	table := newArrivalTable(clock)
	sc := &scratch{arrivals: table.open(1234)}
	arrive := func(seq uint16, key bool) []byte {
		raw := rawPacket(t, seq, append(vp8Payload(key), byte(seq)), 0)
		table.note(raw, nil)
		return raw
	}
	l.handle(arrive(1, true), sc)
	<-stuck.entered // the stuck subscriber's writer holds on the first packet

	raw := arrive(2, false)
	clock.Advance(maxVideoQueueDelay * 6 / 10) // in Pion's receive path
	l.handle(raw, sc)
	require.Zero(t, stats.receivedLate.Load(), "in time for the reader")
	// The writers not stuck write it at once; the stuck one gets to it later.
	var free []*syncWriter
	for i, w := range ws[1:] {
		if groupOf(l, up.subs[i+1]) != groupOf(l, up.subs[0]) {
			free = append(free, w)
		}
	}
	require.NotEmpty(t, free, "some subscribers are in another writer's group")
	waitWrites(t, free, 2)
	clock.Advance(maxVideoQueueDelay * 6 / 10) // waiting for the stuck writer
	close(stuck.gate)
	require.Eventually(t, func() bool { return stats.late.Load() == 1 }, 10*time.Second, time.Millisecond,
		"the stuck writer dropped the packet, late from its arrival")
	l.stopWriters()
	require.Equal(t, []uint16{1}, stuck.got(), "the late packet did not go to the stuck subscriber")
}

// groupOf is the index of the writer whose group holds d.
func groupOf(l *layer, d *downTrack) int {
	for i, g := range l.pool.Load().snap.Load().groups {
		for _, o := range g {
			if o == d {
				return i
			}
		}
	}
	return -1
}

// The packets a real publisher sends are noted as the server's media socket reads them,
// for as long as the tracks are read.
func TestPublishedPacketsAreNotedOnArrival(t *testing.T) {
	srv := newTestServer(t)
	alice, _ := publishToBob(t, srv, 20)

	streams := *srv.arrivals.streams.Load()
	require.Len(t, streams, 2, "alice's audio and video")
	now := time.Now().UnixNano()
	for ssrc, ring := range streams {
		noted := 0
		for seq := range 1 << 16 {
			if at := ring.arrivedAt(uint16(seq), now); at != now {
				require.Less(t, now-at, int64(time.Minute), "stream %d: noted at a time of this test", ssrc)
				noted++
			}
		}
		require.NotZero(t, noted, "stream %d: packets noted", ssrc)
	}

	require.NoError(t, alice.leave())
	require.Eventually(t, func() bool { return len(*srv.arrivals.streams.Load()) == 0 }, 10*time.Second, 10*time.Millisecond,
		"the streams are no longer noted once their readers end")
}

// Reading a published packet and noting its arrival allocates nothing.
func TestNotingArrivalsDoesNotAllocate(t *testing.T) {
	table := newArrivalTable(systemClock{})
	table.open(4321)
	c, sender := arrivalSocket(t, table)
	p := srtpDatagram(4321, 1)
	buf := make([]byte, 1500)
	read := func() {
		_, _ = sender.Write(p)
		_, _, _ = c.ReadFromAddrPort(buf)
	}
	read()
	require.Zero(t, testing.AllocsPerRun(1000, read))
}

// clockedWriter is a recordWriter that moves a fake clock on at each write: a fan-out
// that takes that long.
type clockedWriter struct {
	recordWriter
	clock *fakeClock
	step  time.Duration
}

func (w *clockedWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.clock.Advance(w.step)
	return w.recordWriter.WriteRTP(h, payload)
}

// A fan-out that becomes too late on its way stops: the subscribers it has not got to
// yet wait for the next keyframe, and the drop is counted.
func TestFanOutStopsWhenThePacketBecomesLate(t *testing.T) {
	clock := newFakeClock()
	var pli plis
	up := newTestUpTrack(vp8Codec, clock, &pli, 0)
	up.spread.above = 100 // written by the reader
	var ws []*clockedWriter
	var downs []*downTrack
	for i := range 40 {
		w := &clockedWriter{recordWriter: recordWriter{buf: make([]byte, 1500), ready: true}, clock: clock}
		ws = append(ws, w)
		downs = append(downs, bindDown(t, up, webrtc.SSRC(i+1), 96, 0, w))
	}
	l := up.layerList()[0]
	var sc scratch
	l.handle(rawPacket(t, 1, vp8Payload(true), 0), &sc)
	for i, w := range ws {
		require.Equal(t, 1, w.n, "subscriber %d has the keyframe", i)
		w.step = 5 * time.Millisecond // from now on, each write takes 5 ms
	}

	// 16 writes take 80 ms: within the 100 ms; 32 take 160 ms: the rest is dropped.
	l.handle(rawPacket(t, 2, vp8Payload(false), 0), &sc)
	for i, w := range ws {
		want := 2
		if i >= 2*lateCheckEvery {
			want = 1
		}
		require.Equal(t, want, w.n, "subscriber %d", i)
		downs[i].mu.Lock()
		require.Equal(t, i >= 2*lateCheckEvery, downs[i].needKey, "subscriber %d waits for a keyframe", i)
		downs[i].mu.Unlock()
	}
	require.EqualValues(t, 1, up.stats.late.Load())
}

func TestDelayCounts(t *testing.T) {
	var c delayCounts
	for _, d := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 100 * time.Millisecond, 101 * time.Millisecond, 2 * time.Second} {
		c.observe(int64(d), 1)
	}
	c.observe(int64(4*time.Millisecond), 10) // a fan-out of 10 datagrams
	st := c.stats()
	require.EqualValues(t, 16, st.Count, "the one above every bound too")
	require.InDelta(t, 2.245, st.Sum, 1e-9)
	bounds := DelayBounds()
	want := map[float64]uint64{0.001: 2, 0.002: 2, 0.005: 13, 0.1: 14, 0.125: 15, 1: 15}
	for i, b := range bounds {
		if w, ok := want[b]; ok {
			require.Equal(t, w, st.Buckets[i], "at most %g s", b)
		}
	}
}

// Each datagram of a fan-out counts the delay from the packet's arrival to the end of
// the fan-out.
func TestFanOutDelayIsCounted(t *testing.T) {
	clock := newFakeClock()
	var pli plis
	up := newTestUpTrack(vp8Codec, clock, &pli, 0)
	var ws []*clockedWriter
	for i := range 4 {
		w := &clockedWriter{recordWriter: recordWriter{buf: make([]byte, 1500), ready: true}, clock: clock, step: 5 * time.Millisecond}
		ws = append(ws, w)
		bindDown(t, up, webrtc.SSRC(i+1), 96, 0, w)
	}
	l := up.layerList()[0]
	table := newArrivalTable(clock)
	sc := &scratch{arrivals: table.open(1234)}
	l.handle(rawPacket(t, 1, vp8Payload(false), 0), sc) // before any keyframe: to no one
	require.Zero(t, up.stats.delay.stats().Count, "a packet that went to no one has no datagram")

	raw := rawPacket(t, 2, vp8Payload(true), 0)
	table.note(raw, nil)
	clock.Advance(10 * time.Millisecond) // in the receive path
	l.handle(raw, sc)
	st := up.stats.delay.stats()
	require.EqualValues(t, 4, st.Count, "four datagrams")
	require.InDelta(t, 4*0.030, st.Sum, 1e-9, "10 ms before the reader, 4 writes of 5 ms")
}

// FuzzArrivalNote hands the arrival table any datagram a peer may send to the media
// socket, and any control bytes with it: nothing panics, and an arrival noted is never
// after the read nor before the stream's ring was made.
//
//	go test -run XXX -fuzz FuzzArrivalNote -fuzztime 30s ./sfu/
func FuzzArrivalNote(f *testing.F) {
	f.Add(srtpDatagram(1234, 7), []byte{})
	f.Add([]byte{0x80, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0x04, 0xd2}, []byte{1, 2, 3})
	f.Add([]byte{0, 1, 0, 0}, make([]byte, 40))
	f.Fuzz(func(t *testing.T, b, oob []byte) {
		clock := newFakeClock()
		table := newArrivalTable(clock)
		ring := table.open(1234)
		made := clock.Now().UnixNano()
		table.note(b, oob)
		now := clock.Now().UnixNano()
		for _, seq := range []uint16{0, 7, 65535} {
			at := ring.arrivedAt(seq, now)
			require.LessOrEqual(t, at, now)
			require.GreaterOrEqual(t, at, made-int64(maxArrivalAge))
		}
		if len(b) >= 4 {
			at := ring.arrivedAt(binary.BigEndian.Uint16(b[2:4]), now)
			require.LessOrEqual(t, at, now)
		}
	})
}
