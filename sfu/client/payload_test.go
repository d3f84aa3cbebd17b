package client

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

func TestStampRoundTrip(t *testing.T) {
	b := make([]byte, StampSize+3)
	want := Stamp{Seq: 0xfffffffe, SentAt: 1<<62 + 7}
	putStamp(b, want)
	got, ok := readStamp(b)
	require.True(t, ok)
	require.Equal(t, want, got)

	_, ok = readStamp(b[:StampSize-1])
	require.False(t, ok, "too short")
	b[0] = 'X'
	_, ok = readStamp(b)
	require.False(t, ok, "no magic: not synthetic media")
}

func TestRTPPayload(t *testing.T) {
	payload := []byte{1, 2, 3, 4, 5}
	for _, tc := range []struct {
		name string
		h    rtp.Header
		pad  byte
	}{
		{"plain", rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 9, SSRC: 5}, 0},
		{"CSRCs", rtp.Header{Version: 2, CSRC: []uint32{1, 2}}, 0},
		{"one-byte extension", func() rtp.Header {
			h := rtp.Header{Version: 2}
			require.NoError(t, h.SetExtension(1, []byte{0x80}))
			require.NoError(t, h.SetExtension(3, []byte{1, 2, 3, 4, 5}))
			return h
		}(), 0},
		{"padding", rtp.Header{Version: 2}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := rtp.Packet{Header: tc.h, Payload: payload}
			if tc.pad > 0 {
				p.Header.Padding, p.PaddingSize = true, tc.pad
			}
			b, err := p.Marshal()
			require.NoError(t, err)
			got, ok := rtpPayload(b)
			require.True(t, ok)
			require.Equal(t, payload, got)
		})
	}
	for _, bad := range [][]byte{nil, make([]byte, 11), append([]byte{0x40}, make([]byte, 12)...), {0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		_, ok := rtpPayload(bad)
		require.False(t, ok, "%x", bad)
	}
}

// capture is an rtpWriter that keeps a copy of every packet.
type capture struct{ packets []rtp.Packet }

func (c *capture) WriteRTP(p *rtp.Packet) error {
	cp := *p
	cp.Payload = bytes.Clone(p.Payload)
	c.packets = append(c.packets, cp)
	return nil
}

func TestVP8FramePackets(t *testing.T) {
	for _, tc := range []struct {
		name     string
		key      bool
		size     int
		wantPkts int
	}{
		{"small interframe", false, 300, 1},
		{"interframe", false, 4000, 4},
		{"key frame", true, 16000, 14},
		{"exactly one packet", false, maxPayload - vp8DescriptorSize, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &capture{}
			p := &publisher{track: w, seq: 41}
			p.packet.SequenceNumber = 65534 // RTP's wraps, the stamp's does not
			before := Monotonic()
			writeVP8Frame(p, vp8Frame{pictureID: 0x1234, key: tc.key, size: tc.size})
			require.Len(t, w.packets, tc.wantPkts)
			total := 0
			for i, pkt := range w.packets {
				require.LessOrEqual(t, len(pkt.Payload), maxPayload)
				total += len(pkt.Payload)
				require.Equal(t, i == len(w.packets)-1, pkt.Marker, "the marker ends the frame")
				require.Equal(t, uint16(65534+i), pkt.SequenceNumber)
				require.Equal(t, byte(0x80|byte(boolInt(i == 0))<<4), pkt.Payload[0], "X, and S on the first packet")
				require.Equal(t, []byte{0x80, 0x80 | 0x12, 0x34}, pkt.Payload[1:4], "a 15-bit picture id")
				s, key, ok := vp8Stamp(pkt.Payload)
				require.True(t, ok, "packet %d has a stamp", i)
				require.Equal(t, tc.key && i == 0, key, "packet %d", i)
				require.Equal(t, uint32(41+i), s.Seq)
				require.GreaterOrEqual(t, s.SentAt, before)
				require.LessOrEqual(t, s.SentAt, Monotonic())
			}
			require.Equal(t, tc.size+tc.wantPkts*vp8DescriptorSize, total, "the frame and a descriptor per packet")
			require.Equal(t, uint64(tc.wantPkts), p.packets.Load())
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestVP8StampOfOtherPayloads(t *testing.T) {
	stamp := make([]byte, StampSize)
	putStamp(stamp, Stamp{Seq: 7, SentAt: 99})
	keyHeader := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0, 5, 0xd0, 2}
	for _, tc := range []struct {
		name    string
		payload []byte
		key     bool
		ok      bool
	}{
		{"continuation", append([]byte{0x80, 0x80, 0x80, 1}, stamp...), false, true},
		{"interframe start", append([]byte{0x90, 0x80, 0x80, 1, 0x11, 0x02, 0x00}, stamp...), false, true},
		{"key frame start", append(append([]byte{0x90, 0x80, 0x80, 1}, keyHeader...), stamp...), true, true},
		{"key frame without start code", append([]byte{0x90, 0x80, 0x80, 1, 0x10, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0}, stamp...), false, false},
		{"a browser's descriptor, 7-bit picture id", append(append([]byte{0x90, 0x80, 0x05}, keyHeader...), stamp...), false, false},
		{"a browser's minimal descriptor", append([]byte{0x00}, stamp...), false, false},
		{"no stamp", []byte{0x80, 0x80, 0x80, 1, 0, 0}, false, false},
		{"truncated", []byte{0x80, 0x80}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, key, ok := vp8Stamp(tc.payload)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.key, key)
			if ok {
				require.Equal(t, Stamp{Seq: 7, SentAt: 99}, s)
			}
		})
	}
}

func TestOpusStamp(t *testing.T) {
	b := make([]byte, audioPayload)
	b[0] = opusTOC
	putStamp(b[1:], Stamp{Seq: 3, SentAt: 4})
	s, ok := opusStamp(b)
	require.True(t, ok)
	require.Equal(t, Stamp{Seq: 3, SentAt: 4}, s)
	_, ok = opusStamp([]byte{opusTOC, 'W'})
	require.False(t, ok)
}

func TestFrameSizesMakeTheBitrate(t *testing.T) {
	m := Media{}.withDefaults()
	inter, key := m.frameSizes()
	require.Equal(t, keyframeWeight*inter, key)
	frames := int(m.KeyframeInterval.Seconds()) * m.FrameRate
	bits := float64((frames-1)*inter+key) * 8 / m.KeyframeInterval.Seconds()
	require.InDelta(t, float64(defaultVideoBitrate), bits, defaultVideoBitrate*0.01, "got %.0f bit/s", bits)
}
