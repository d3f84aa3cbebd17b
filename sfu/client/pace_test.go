package client

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// At 1.2 Mbit/s the pacing rate is 3 Mbit/s: 1,200 bytes drain in 3.2 ms, 375 in 1 ms, and
// a burst (5 ms) is 1,875 bytes.
func TestPacerRelease(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	type packet struct {
		now  time.Duration // when it is queued
		size int
		want time.Duration
	}
	for _, tc := range []struct {
		name    string
		packets []packet
	}{
		{"a frame of full packets: two per burst, a burst when the last has drained", []packet{
			{0, 1200, 0}, {0, 1200, 0}, {0, 1200, ms(6.4)}, {0, 1200, ms(6.4)}, {0, 1200, ms(12.8)},
		}},
		{"small packets: a burst sends what drains in 5 ms", []packet{
			{0, 375, 0}, {0, 375, 0}, {0, 375, 0}, {0, 375, 0}, {0, 375, 0}, {0, 375, ms(5)}, {0, 375, ms(5)},
		}},
		{"a frame queued while the last waits goes behind it", []packet{
			{0, 1200, 0}, {0, 1200, 0}, {0, 1200, ms(6.4)},
			{ms(1), 1200, ms(6.4)}, {ms(1), 1200, ms(12.8)},
		}},
		{"a frame after the last has drained goes at once", []packet{
			{0, 1200, 0}, {0, 1200, 0},
			{ms(33), 1200, ms(33)}, {ms(33), 1200, ms(33)}, {ms(33), 1200, ms(39.4)},
		}},
		{"a frame goes at once while what is left drains within a burst", []packet{
			{0, 1200, 0},
			{ms(1), 1200, ms(1)}, {ms(1), 1200, ms(6.4)},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPacer(1_200_000)
			for i, pkt := range tc.packets {
				got := p.release(pkt.now, pkt.size)
				require.Equal(t, pkt.want, got, "packet %d: got %s, want %s", i, got, pkt.want)
			}
		})
	}
}

// TestPacerKeepsItsRate paces the frames of a few seconds of the default media, key
// frames on time and asked for: the packets leave in their order, no faster than the
// pacing rate allows beyond one burst, in bursts at least 5 ms apart while packets wait.
func TestPacerKeepsItsRate(t *testing.T) {
	m := Media{}.withDefaults()
	inter, key := m.frameSizes()
	p := newPacer(m.VideoBitrate)
	rate := float64(m.VideoBitrate) * 2.5 / 8 // bytes per second
	frameInterval := time.Second / time.Duration(m.FrameRate)
	var (
		last, burst, keySpan time.Duration
		sent                 int
	)
	for n := range 5 * m.FrameRate {
		now := time.Duration(n) * frameInterval
		f := vp8Frame{key: n%90 == 0 || n == 40, size: inter}
		if f.key {
			f.size = key
		}
		count, _ := f.packets()
		for i := range count {
			size := f.payloadSize(i)
			at := p.release(now, size)
			require.GreaterOrEqual(t, at, now, "frame %d packet %d leaves before it is queued", n, i)
			require.GreaterOrEqual(t, at, last, "frame %d packet %d leaves before the one before it", n, i)
			if at != last && at > now && last > 0 {
				require.GreaterOrEqual(t, at-burst, pacingBurst, "frame %d packet %d: a burst that waited is at least 5 ms after the last", n, i)
			}
			if at != last {
				burst = at
			}
			require.LessOrEqual(t, float64(sent), rate*(at.Seconds()+pacingBurst.Seconds())+maxPayload,
				"frame %d packet %d: %d bytes by %s", n, i, sent, at)
			sent += size
			last = at
			if f.key && n == 0 {
				keySpan = at - now
			}
		}
	}
	// A key frame of about 19 kB at 375 kB/s: about 50 ms.
	require.InDelta(t, float64(key)/rate, keySpan.Seconds(), pacingBurst.Seconds()+0.004, "got a key frame over %s", keySpan)
}

// TestPacedVideoSendsWhatIsDue queues a key frame and an interframe and sends them at
// the times the pacer gives, each packet stamped when it is written.
func TestPacedVideoSendsWhatIsDue(t *testing.T) {
	w := &capture{}
	pub := &publisher{track: w}
	v := pacedVideo{pacer: newPacer(1_200_000)}
	keyFrame := vp8Frame{timestamp: 3000, pictureID: 7, key: true, size: 5 * (maxPayload - vp8DescriptorSize)}
	v.push(keyFrame, 0)
	v.push(vp8Frame{timestamp: 6000, pictureID: 8, size: 300}, time.Millisecond)

	// Two packets a burst, a burst every 6.4 ms; the interframe, queued behind the key
	// frame, goes in its last burst.
	var releases []time.Duration
	now := time.Duration(0)
	for {
		written, before := len(w.packets), Monotonic()
		next, ok := v.send(pub, now)
		after := Monotonic()
		releases = append(releases, now)
		require.Len(t, w.packets, written+2, "at %s", now)
		for i := written; i < len(w.packets); i++ {
			s, _, ok := vp8Stamp(w.packets[i].Payload)
			require.True(t, ok)
			require.Equal(t, uint32(i), s.Seq)
			require.GreaterOrEqual(t, s.SentAt, before, "packet %d is stamped when written, not when queued", i)
			require.LessOrEqual(t, s.SentAt, after)
		}
		if !ok {
			break
		}
		require.Greater(t, next, now)
		now = next
	}
	require.Equal(t, []time.Duration{0, 6400 * time.Microsecond, 12800 * time.Microsecond}, releases)
	require.Len(t, w.packets, 6)
	for i, pkt := range w.packets {
		require.Equal(t, i == 4 || i == 5, pkt.Marker, "packet %d: the marker ends each frame", i)
		want := uint32(3000)
		if i == 5 {
			want = 6000
		}
		require.Equal(t, want, pkt.Timestamp, "packet %d", i)
	}

	// Drained, the queue takes the next frame in the room it had.
	capBefore := cap(v.queue)
	v.push(vp8Frame{timestamp: 9000, pictureID: 9, size: 300}, time.Second)
	require.Equal(t, capBefore, cap(v.queue))
	_, ok := v.send(pub, time.Second)
	require.False(t, ok)
	require.Len(t, w.packets, 7)
}
