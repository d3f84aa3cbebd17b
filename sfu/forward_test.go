package sfu

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/codec"
)

// recordWriter is a TrackLocalWriter that marshals every packet into one buffer and
// keeps the last header, as the SRTP writer would without the network.
type recordWriter struct {
	buf     []byte
	n       int
	last    rtp.Header
	payload []byte
	ready   bool // false: like Pion before DTLS is up, writes are dropped
}

func (w *recordWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if !w.ready {
		return 0, nil
	}
	n, err := h.MarshalTo(w.buf)
	if err != nil {
		return 0, err
	}
	n += copy(w.buf[n:], payload)
	w.n++
	w.last = *h
	w.payload = payload
	return n, nil
}

func (w *recordWriter) Write(b []byte) (int, error) { return len(b), nil }

// bindContext is the webrtc.TrackLocalContext Pion gives a track at Bind.
type bindContext struct {
	id     string
	ssrc   webrtc.SSRC
	codecs []webrtc.RTPCodecParameters
	exts   []webrtc.RTPHeaderExtensionParameter
	w      webrtc.TrackLocalWriter
}

func (c bindContext) CodecParameters() []webrtc.RTPCodecParameters           { return c.codecs }
func (c bindContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return c.exts }
func (c bindContext) SSRC() webrtc.SSRC                                      { return c.ssrc }
func (c bindContext) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (c bindContext) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c bindContext) WriteStream() webrtc.TrackLocalWriter                   { return c.w }
func (c bindContext) ID() string                                             { return c.id }
func (c bindContext) RTCPReader() interceptor.RTCPReader                     { return nil }

var (
	vp8Codec  = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}
	opusCodec = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}
)

// plis counts the PLIs an upTrack sends.
type plis struct {
	mu   sync.Mutex
	n    int
	last rtcp.PictureLossIndication
}

func (p *plis) write(pkts []rtcp.Packet) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pkt := range pkts {
		if pli, ok := pkt.(*rtcp.PictureLossIndication); ok {
			p.n++
			p.last = *pli
		}
	}
	return nil
}

// lastPLI is the last PLI sent.
func (p *plis) lastPLI() rtcp.PictureLossIndication {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func (p *plis) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func newTestUpTrack(codec webrtc.RTPCodecParameters, clock Clock, p *plis, audioLevelID int) *upTrack {
	up := newUpTrack(upTrackParams{
		ID: "pub~1", StreamID: "pub~user", Owner: "pub", Label: LabelCamera,
		Codec: codec, SSRC: 1234, Clock: clock, WriteRTCP: p.write, Logger: testLogger(),
		HeaderExtensions: []webrtc.RTPHeaderExtensionParameter{{URI: sdp.AudioLevelURI, ID: audioLevelID}},
	})
	up.setParked(false)
	return up
}

// bindDown subscribes a bound downTrack to up, writing to w.
func bindDown(t testing.TB, up *upTrack, ssrc webrtc.SSRC, pt webrtc.PayloadType, audioLevelID int, w webrtc.TrackLocalWriter) *downTrack {
	d := newDownTrack(up, nil)
	require.True(t, up.addDown(d))
	codec := up.codec
	codec.PayloadType = pt
	_, err := d.Bind(bindContext{
		id: "bind", ssrc: ssrc, w: w,
		codecs: []webrtc.RTPCodecParameters{opusCodec, codec},
		exts:   []webrtc.RTPHeaderExtensionParameter{{URI: sdp.AudioLevelURI, ID: audioLevelID}},
	})
	require.NoError(t, err)
	return d
}

// rawPacket marshals an RTP packet with the given payload and, when ext > 0, an audio
// level extension of that id plus another extension.
func rawPacket(t testing.TB, seq uint16, payload []byte, ext uint8) []byte {
	h := rtp.Header{Version: 2, PayloadType: 100, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, SSRC: 1234, Marker: true}
	if ext > 0 {
		require.NoError(t, h.SetExtension(ext, []byte{0x85}))
		require.NoError(t, h.SetExtension(ext+1, []byte{1, 2, 3}))
	}
	b, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	require.NoError(t, err)
	return b
}

// vp8Frame is a synthetic VP8 frame: a key frame spans two packets and has the key frame
// start code; an inter frame is one packet.
func vp8Frame(key bool) []byte {
	if key {
		f := make([]byte, 1800)
		copy(f, []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00})
		return f
	}
	f := make([]byte, 300)
	copy(f, []byte{0x11, 0x02, 0x00})
	return f
}

func vp8Payload(key bool) []byte {
	return append([]byte{0x10}, vp8Frame(key)[:40]...)
}

func TestForwardWaitsForKeyframeAndAsksForIt(t *testing.T) {
	clock := newFakeClock()
	var pli plis
	up := newTestUpTrack(vp8Codec, clock, &pli, 0)
	w := &recordWriter{buf: make([]byte, 1500)}
	bindDown(t, up, 5678, 97, 0, w)
	require.Equal(t, 1, pli.count(), "binding a video subscriber asks for a keyframe")

	var pkt scratch
	// Before the transport is up, writes are dropped, even a keyframe: keep waiting.
	up.layerList()[0].handle(rawPacket(t, 1, vp8Payload(true), 0), &pkt)
	require.Zero(t, w.n)
	w.ready = true
	up.layerList()[0].handle(rawPacket(t, 2, vp8Payload(false), 0), &pkt)
	up.layerList()[0].handle(rawPacket(t, 3, vp8Payload(false), 0), &pkt)
	require.Zero(t, w.n, "inter frames are held back until a keyframe")
	require.Equal(t, 1, pli.count(), "keyframe requests are paced")
	clock.Advance(keyframeRequestInterval)
	up.layerList()[0].handle(rawPacket(t, 4, vp8Payload(false), 0), &pkt)
	require.Equal(t, 2, pli.count(), "and repeated while waiting")
	require.Equal(t, uint64(2), up.stats.keyframeRequests.Load(), "each PLI sent is counted")

	up.layerList()[0].handle(rawPacket(t, 5, vp8Payload(true), 0), &pkt)
	require.Equal(t, 1, w.n)
	require.Equal(t, uint32(5678), w.last.SSRC, "subscriber's SSRC")
	require.Equal(t, uint8(97), w.last.PayloadType, "subscriber's payload type")
	require.Equal(t, uint16(2), w.last.SequenceNumber, "numbered after the keyframe that could not go out, with no gap")
	require.True(t, codec.IsVP8Keyframe(w.payload))
	up.layerList()[0].handle(rawPacket(t, 6, vp8Payload(false), 0), &pkt)
	require.Equal(t, 2, w.n, "then everything goes")
	up.layerList()[0].handle(rawPacket(t, 7, nil, 0), &pkt)
	require.Equal(t, 2, w.n, "padding-only packets do not")
}

func TestForwardRewritesHeaderExtensions(t *testing.T) {
	var pli plis
	up := newTestUpTrack(opusCodec, systemClock{}, &pli, 1)
	w := &recordWriter{buf: make([]byte, 1500), ready: true}
	bindDown(t, up, 42, 111, 3, w)
	plain := &recordWriter{buf: make([]byte, 1500), ready: true}
	bindDown(t, up, 43, 111, 0, plain)
	require.Zero(t, pli.count(), "no keyframe request for audio")

	var pkt scratch
	up.layerList()[0].handle(rawPacket(t, 9, []byte{0xf8, 0xff, 0xfe}, 1), &pkt)
	require.Equal(t, 1, w.n, "audio needs no keyframe")
	require.Equal(t, []uint8{3}, w.last.GetExtensionIDs(), "audio level under the subscriber's id, other extensions dropped")
	require.Equal(t, []byte{0x85}, w.last.GetExtension(3))
	require.Equal(t, 1, plain.n)
	require.False(t, plain.last.Extension, "no extension for a subscriber without audio level")
	require.Equal(t, uint8(1), pkt.pkt.Header.GetExtensionIDs()[0], "the publisher's packet is untouched")
}

func TestUpTrackSubscribers(t *testing.T) {
	var pli plis
	up := newTestUpTrack(opusCodec, systemClock{}, &pli, 0)
	a := &recordWriter{buf: make([]byte, 1500), ready: true}
	b := &recordWriter{buf: make([]byte, 1500), ready: true}
	da := bindDown(t, up, 1, 111, 0, a)
	bindDown(t, up, 2, 111, 0, b)
	var pkt scratch
	up.layerList()[0].handle(rawPacket(t, 1, []byte{1}, 0), &pkt)
	up.removeDown(da)
	up.layerList()[0].handle(rawPacket(t, 2, []byte{1}, 0), &pkt)
	require.Equal(t, 1, a.n)
	require.Equal(t, 2, b.n)

	require.Len(t, up.setParked(true), 1, "parking drops the subscribers")
	require.False(t, up.addDown(newDownTrack(up, nil)), "a parked track takes none")
	up.setParked(false)
	require.True(t, up.addDown(newDownTrack(up, nil)))
	require.Len(t, up.close(), 1)
	require.False(t, up.addDown(newDownTrack(up, nil)), "nor does an ended one")

	// Unbinding stops the writes.
	up2 := newTestUpTrack(opusCodec, systemClock{}, &pli, 0)
	c := &recordWriter{buf: make([]byte, 1500), ready: true}
	dc := bindDown(t, up2, 3, 111, 0, c)
	require.NoError(t, dc.Unbind(bindContext{id: "bind"}))
	up2.layerList()[0].handle(rawPacket(t, 1, []byte{1}, 0), &pkt)
	require.Zero(t, c.n)
}

// BenchmarkForwardRTP measures the per-packet path of a publisher's track: parse the
// packet into a reused scratch space, detect a keyframe, and write a rewritten header
// (SSRC, payload type, audio level extension id) to every subscriber, by the reader
// itself or spread over the layer's writers. The writer marshals into a reused buffer,
// standing in for Pion's SRTP writer; with writers, each packet is waited for at every
// subscriber before the next is sent.
func BenchmarkForwardRTP(b *testing.B) {
	for _, bc := range []struct {
		name   string
		codec  webrtc.RTPCodecParameters
		subs   int
		spread bool
	}{
		{"video/subscribers=1", vp8Codec, 1, false},
		{"video/subscribers=10", vp8Codec, 10, false},
		{"video/subscribers=100", vp8Codec, 100, false},
		{"video/subscribers=100/writers", vp8Codec, 100, true},
		{"audio-level/subscribers=10", opusCodec, 10, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var pli plis
			up := newTestUpTrack(bc.codec, systemClock{}, &pli, 1)
			if !bc.spread {
				up.spread.above = bc.subs
			}
			done := make(chan struct{}, 1)
			var left atomic.Int64
			for i := range bc.subs {
				w := &countdownWriter{recordWriter: recordWriter{buf: make([]byte, 1500), ready: true}, left: &left, done: done}
				bindDown(b, up, webrtc.SSRC(i+1), bc.codec.PayloadType, 2, w)
			}
			var sc scratch
			send := func(raw []byte) {
				left.Store(int64(bc.subs))
				n := copy(sc.raw[:], raw) // as read from the track
				up.layerList()[0].handle(sc.raw[:n], &sc)
				<-done
			}
			payload := []byte{0xf8, 0xff, 0xfe}
			if bc.codec.MimeType == webrtc.MimeTypeVP8 {
				send(rawPacket(b, 0, append([]byte{0x10}, vp8Frame(true)[:1000]...), 1)) // opens the keyframe gate
				payload = append([]byte{0x10}, vp8Frame(false)...)
			}
			raw := rawPacket(b, 1, payload, 1)
			b.SetBytes(int64(len(raw) * bc.subs))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				send(raw)
			}
			b.StopTimer()
			up.layerList()[0].stopWriters()
		})
	}
}

// countdownWriter is a recordWriter that counts the writes left of a fan-out down and
// says when the last one is done.
type countdownWriter struct {
	recordWriter
	left *atomic.Int64
	done chan struct{}
}

func (w *countdownWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	n, err := w.recordWriter.WriteRTP(h, payload)
	if w.left.Add(-1) == 0 {
		w.done <- struct{}{}
	}
	return n, err
}

// TestForwardDoesNotAllocate pins what the benchmark shows.
func TestForwardDoesNotAllocate(t *testing.T) {
	var pli plis
	up := newTestUpTrack(opusCodec, systemClock{}, &pli, 1)
	for i := range 5 {
		bindDown(t, up, webrtc.SSRC(i+1), 111, 2, &recordWriter{buf: make([]byte, 1500), ready: true})
	}
	raw := rawPacket(t, 1, []byte{0xf8, 0xff, 0xfe}, 1)
	var pkt scratch
	up.layerList()[0].handle(raw, &pkt) // warm the scratch space
	allocs := testing.AllocsPerRun(1000, func() { up.layerList()[0].handle(raw, &pkt) })
	require.Zero(t, allocs)
}
