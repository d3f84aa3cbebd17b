package sfu

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecide(t *testing.T) {
	a, b := &layer{rid: "a"}, &layer{rid: "b"}
	for _, tc := range []struct {
		name           string
		l, cur, target *layer
		key, needKey   bool
		want           forwardAction
	}{
		{"the layer received", a, a, a, false, false, forwardPacket},
		{"the layer received, waiting for a keyframe", a, a, a, false, true, awaitKeyframe},
		{"the layer received, its keyframe", a, a, a, true, true, forwardPacket},
		{"the layer received while another is wanted", a, a, b, false, false, forwardPacket},
		{"the layer wanted, not a keyframe", b, a, b, false, false, awaitKeyframe},
		{"the layer wanted, a keyframe", b, a, b, true, false, switchToLayer},
		{"first keyframe", a, nil, a, true, true, switchToLayer},
		{"before the first keyframe", a, nil, a, false, true, awaitKeyframe},
		{"another layer", b, a, a, true, false, skipPacket},
		{"paused", a, nil, nil, true, true, skipPacket},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := decide(tc.l, tc.cur, tc.target, tc.key, tc.needKey)
			require.Equal(t, tc.want, got, "got %d, want %d", got, tc.want)
		})
	}
}

func TestStreamStateNumbering(t *testing.T) {
	type step struct {
		switchTo bool
		seq      uint16
		ts       uint32
		wantSeq  uint16
		wantTS   uint32
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"the first layer keeps its numbers", []step{
			{true, 100, 9000, 100, 9000},
			{false, 101, 12000, 101, 12000},
		}},
		{"a switch continues the numbers one frame later", []step{
			{true, 100, 9000, 100, 9000},
			{false, 101, 12000, 101, 12000},
			{true, 7000, 500, 102, 12000 + switchFrame},
			{false, 7001, 3500, 103, 15000 + switchFrame},
		}},
		{"wrapping sequence numbers and timestamps", []step{
			{true, 65535, 4294967000, 65535, 4294967000},
			{true, 10, 10, 0, 2704}, // 4294967000 + 3000 - 2^32
			{false, 11, 3010, 1, 5704},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s streamState
			for i, st := range tc.steps {
				if st.switchTo {
					s.switchTo(st.seq, st.ts)
				}
				seq, ts := s.next(st.seq, st.ts, 100, int64(i))
				require.Equal(t, st.wantSeq, seq, "step %d: got sequence number %d, want %d", i, seq, st.wantSeq)
				require.Equal(t, st.wantTS, ts, "step %d: got timestamp %d, want %d", i, ts, st.wantTS)
			}
			require.Equal(t, uint32(len(tc.steps)), s.packets)
			require.Equal(t, uint32(100*len(tc.steps)), s.octets)
		})
	}
}

func TestStreamStateResume(t *testing.T) {
	var s streamState
	s.switchTo(100, 9000)
	s.next(100, 9000, 1, 0)
	s.next(101, 12000, 1, 0)
	// 102 to 109 dropped; 110 starts a keyframe.
	s.resume(110)
	seq, ts := s.next(110, 33000, 1, 0)
	require.Equal(t, uint16(102), seq, "no gap in the sequence numbers")
	require.Equal(t, uint32(33000), ts, "the timestamps keep their pace")
	_, ok := s.layerSeq(101)
	require.False(t, ok, "what was sent before the gap is not sent again")
	got, ok := s.layerSeq(102)
	require.True(t, ok)
	require.Equal(t, uint16(110), got)
}

func TestStreamStateLayerSeq(t *testing.T) {
	var s streamState
	_, ok := s.layerSeq(1)
	require.False(t, ok, "nothing sent yet")
	s.switchTo(100, 0)
	for seq := uint16(100); seq < 110; seq++ {
		s.next(seq, 0, 1, 0)
	}
	s.switchTo(65530, 0) // next sent: 110
	for seq := uint16(65530); seq != 4; seq++ {
		s.next(seq, 0, 1, 0)
	}
	for _, tc := range []struct {
		sent uint16
		want uint16
		ok   bool
	}{
		{105, 0, false}, // before the switch: another layer
		{109, 0, false},
		{110, 65530, true},
		{115, 65535, true},
		{116, 0, true},
		{119, 3, true},
		{120, 0, false}, // not sent yet
	} {
		got, ok := s.layerSeq(tc.sent)
		require.Equal(t, tc.ok, ok, "sent as %d", tc.sent)
		if ok {
			require.Equal(t, tc.want, got, "sent as %d: got layer sequence number %d, want %d", tc.sent, got, tc.want)
		}
	}
}

func TestPacketCache(t *testing.T) {
	c := newPacketCache(4)
	buf := make([]byte, maxRTPPacketSize)
	n, _ := c.get(1, buf)
	require.Zero(t, n, "empty")
	c.store(1, []byte{1, 1}, true)
	c.store(2, []byte{2}, false)
	n, key := c.get(1, buf)
	require.Equal(t, 2, n)
	require.True(t, key)
	require.Equal(t, []byte{1, 1}, buf[:n])
	c.store(5, []byte{5}, false) // replaces 1
	n, _ = c.get(1, buf)
	require.Zero(t, n, "replaced by a newer packet")
	n, _ = c.get(5, buf)
	require.Equal(t, 1, n)
	n, _ = c.get(2, buf[:0])
	require.Zero(t, n, "buffer too small")
	c.store(3, make([]byte, maxRTPPacketSize+1), false)
	n, _ = c.get(3, buf)
	require.Zero(t, n, "too large to keep")
	require.Panics(t, func() { newPacketCache(3) })
}

func TestWriterCount(t *testing.T) {
	for _, tc := range []struct{ n, limit, want int }{
		{1, 4, 1},
		{17, 8, 5},
		{100, 8, 8},
		{100, 16, 10},
		{200, 4, 4},
		{5, 0, 1},
	} {
		got := writerCount(tc.n, tc.limit)
		require.Equal(t, tc.want, got, "%d subscribers, at most %d: got %d writers, want %d", tc.n, tc.limit, got, tc.want)
	}
}
