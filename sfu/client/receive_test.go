package client

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

func TestLossCounter(t *testing.T) {
	for _, tc := range []struct {
		name               string
		seqs               []uint32
		wantExpected, lost uint64
	}{
		{"none", nil, 0, 0},
		{"in order", []uint32{10, 11, 12, 13}, 4, 0},
		{"a gap", []uint32{10, 11, 14, 15}, 6, 2},
		{"reordered, nothing lost", []uint32{10, 12, 11, 13}, 4, 0},
		{"one came before the first", []uint32{10, 11, 9, 12}, 4, 0},
		{"late start: what came before the first is not lost", []uint32{500, 501, 503}, 4, 1},
		{"a duplicate hides a loss", []uint32{1, 2, 2, 4}, 4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l lossCounter
			for _, s := range tc.seqs {
				l.add(s)
			}
			require.Equal(t, tc.wantExpected, l.expected(), "expected")
			require.Equal(t, tc.lost, l.lost(), "lost")
			require.Equal(t, uint64(len(tc.seqs)), l.received)
		})
	}
}

// rtpOf marshals packets as they come off the wire.
func rtpOf(t *testing.T, pkts []rtp.Packet) [][]byte {
	out := make([][]byte, len(pkts))
	for i := range pkts {
		b, err := pkts[i].Marshal()
		require.NoError(t, err)
		out[i] = b
	}
	return out
}

func TestRemoteTrackCountsSyntheticVideo(t *testing.T) {
	w := &capture{}
	p := &publisher{track: w}
	p.packet.Version = rtpVersion
	writeVP8Frame(p, vp8Frame{pictureID: 1, key: true, size: 6000})  // 6 packets
	writeVP8Frame(p, vp8Frame{pictureID: 2, key: false, size: 1500}) // 2 packets
	writeVP8Frame(p, vp8Frame{pictureID: 3, key: false, size: 1500}) // 2 packets, the first one lost
	pkts := rtpOf(t, w.packets)
	pkts = append(pkts[:8], pkts[9:]...)

	r := &remoteTrack{video: true}
	base := Monotonic()
	var want Histogram // the latencies, from the stamps
	for i, b := range pkts {
		at := base + int64(i+1)*int64(time.Millisecond)
		payload, ok := rtpPayload(b)
		require.True(t, ok)
		stamp, _, ok := vp8Stamp(payload)
		require.True(t, ok)
		want.Record(time.Duration(at - stamp.SentAt))
		r.packet(b, at)
	}
	r.packet([]byte{1, 2, 3}, base) // not RTP: not counted
	s := r.snapshot()
	require.Equal(t, uint64(9), s.Packets)
	require.Equal(t, uint64(9), s.Stamped)
	require.Equal(t, uint64(10), s.Expected)
	require.Equal(t, uint64(1), s.Lost)
	require.Equal(t, uint64(1), s.Keyframes)
	require.True(t, s.FirstIsKeyframe)
	require.Equal(t, base+int64(time.Millisecond), s.FirstAt)
	require.Equal(t, want, s.Latency)
	require.Greater(t, s.Latency.Max(), 9*time.Millisecond, "the last packet came 9 ms after base, sent before base")
	bytes := 0
	for _, pkt := range append(w.packets[:8:8], w.packets[9:]...) {
		bytes += len(pkt.Payload)
	}
	require.Equal(t, uint64(bytes), s.Bytes)
}

func TestRemoteTrackCountsForeignMedia(t *testing.T) {
	// Media that is not synthetic (a browser's) is counted, without loss or latency.
	pkts := rtpOf(t, []rtp.Packet{{Header: rtp.Header{Version: 2}, Payload: []byte{0xf8, 0xff, 0xfe}}})
	r := &remoteTrack{}
	r.packet(pkts[0], 5)
	s := r.snapshot()
	require.Equal(t, uint64(1), s.Packets)
	require.Zero(t, s.Stamped)
	require.Zero(t, s.Expected)
	require.Zero(t, s.Latency.Count())
}

func TestRemoteTrackPacketDoesNotAllocate(t *testing.T) {
	w := &capture{}
	p := &publisher{track: w}
	p.packet.Version = rtpVersion
	writeVP8Frame(p, vp8Frame{pictureID: 1, key: false, size: 1000})
	b := rtpOf(t, w.packets)[0]
	r := &remoteTrack{video: true}
	allocs := testing.AllocsPerRun(1000, func() { r.packet(b, Monotonic()) })
	require.Zero(t, allocs)
}
