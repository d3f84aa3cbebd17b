package sfu

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/codec"
	"webinaire/sfu/signal"
)

// vp8Descriptor is a VP8 payload with a 15-bit picture id and a TL0PICIDX, a key frame
// or not, ending with marker.
func vp8Descriptor(pic uint16, tl0 uint8, key bool, marker byte) []byte {
	p := []byte{0x90, 0xc0, 0x80 | byte(pic>>8), byte(pic), tl0}
	frame := vp8Frame(key)[:20]
	p = append(p, frame...)
	return append(p, marker)
}

// layerPacket marshals a packet of a simulcast layer.
func layerPacket(t testing.TB, ssrc uint32, seq uint16, ts uint32, payload []byte) []byte {
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}, Payload: payload}).Marshal()
	require.NoError(t, err)
	return b
}

func TestVP8RewriterContinuesPictureIDsAcrossASwitch(t *testing.T) {
	var r codec.VP8Rewriter
	buf := make([]byte, 1500)
	pictures := func(out []byte) (uint16, uint8) {
		pic, tl0, ok := codec.VP8Picture(out)
		require.True(t, ok)
		return uint16(pic), uint8(tl0)
	}
	in := vp8Descriptor(32766, 254, true, 'q')
	out := r.Rewrite(buf, in)
	require.Equal(t, &in[0], &out[0], "nothing to change: the shared payload goes out as it is")
	pic, tl0 := pictures(r.Rewrite(buf, vp8Descriptor(32767, 255, false, 'q')))
	require.Equal(t, uint16(32767), pic)
	require.Equal(t, uint8(255), tl0)

	r.Switched()
	in = vp8Descriptor(12, 40, true, 'f')
	out = r.Rewrite(buf, in)
	pic, tl0 = pictures(out)
	require.Equal(t, uint16(0), pic, "the picture id wraps at 15 bits")
	require.Equal(t, uint8(0), tl0)
	require.Equal(t, byte('f'), out[len(out)-1], "the rest of the payload is kept")
	pic, _ = pictures(in)
	require.Equal(t, uint16(12), pic, "the shared payload is not changed")
	pic, tl0 = pictures(r.Rewrite(buf, vp8Descriptor(13, 41, false, 'f')))
	require.Equal(t, uint16(1), pic)
	require.Equal(t, uint8(1), tl0)

	r.Switched()
	out = r.Rewrite(buf, []byte{0x90, 0x80, 0x05, 0x10, 0, 0})
	require.Equal(t, byte(2), out[2], "a 7-bit picture id continues too")
}

// simulcastTrack is an upTrack with three layers q, h, f of SSRCs 1, 2, 3.
func simulcastTrack(t testing.TB, clock Clock, pli *plis) (*upTrack, []*layer) {
	up := newUpTrack(upTrackParams{
		ID: "pub~1", StreamID: "pub~user", Owner: "pub", Label: LabelCamera,
		Codec: vp8Codec, SSRC: 2, RID: "h", Clock: clock, WriteRTCP: pli.write, Logger: testLogger(),
	})
	up.setParked(false)
	require.NotNil(t, up.addLayer("f", 3))
	require.NotNil(t, up.addLayer("q", 1))
	layers := up.layerList()
	require.Len(t, layers, 3)
	for i, rid := range []string{"q", "h", "f"} {
		require.Equal(t, rid, layers[i].rid, "layers are ordered by quality")
	}
	return up, layers
}

func TestLayerSwitchWaitsForAKeyframeAndKeepsTheStreamContinuous(t *testing.T) {
	clock := newFakeClock()
	var pli plis
	up, layers := simulcastTrack(t, clock, &pli)
	q, h, f := layers[0], layers[1], layers[2]
	w := &recordWriter{buf: make([]byte, 1500), ready: true}
	d := bindDown(t, up, 77, 96, 0, w)
	require.Equal(t, h, d.target.Load(), "a newcomer starts on the middle layer")

	var pkt scratch
	send := func(l *layer, seq uint16, ts uint32, pic uint16, key bool) {
		marker := map[*layer]byte{q: 'q', h: 'h', f: 'f'}[l]
		l.handle(layerPacket(t, l.ssrc, seq, ts, vp8Descriptor(pic, 0, key, marker)), &pkt)
	}
	got := func() (byte, uint16, uint32) {
		return w.payload[len(w.payload)-1], w.last.SequenceNumber, w.last.Timestamp
	}

	send(q, 1, 1000, 1, true)
	require.Zero(t, w.n, "layer q is not the one wanted")
	send(h, 500, 90000, 300, false)
	require.Zero(t, w.n, "no keyframe yet")
	send(h, 501, 90000, 300, true)
	send(h, 502, 93000, 301, false)
	marker, seq, ts := got()
	require.Equal(t, 2, w.n)
	require.Equal(t, byte('h'), marker)
	require.Equal(t, uint16(502), seq)
	require.Equal(t, uint32(93000), ts)

	clock.Advance(time.Second)
	before := pli.count()
	up.setTarget(d, f)
	require.Equal(t, before+1, pli.count(), "switching asks layer f for a keyframe")
	require.Equal(t, uint32(3), pli.lastPLI().MediaSSRC)
	send(f, 7000, 5000000, 9000, false)
	send(h, 503, 96000, 302, false)
	marker, seq, _ = got()
	require.Equal(t, byte('h'), marker, "h goes on until f has a keyframe")
	require.Equal(t, uint16(503), seq)

	send(f, 7001, 5003000, 9001, true)
	marker, seq, ts = got()
	require.Equal(t, byte('f'), marker, "switched at f's keyframe")
	require.Equal(t, uint16(504), seq, "sequence numbers go on")
	require.Equal(t, uint32(96000+switchFrame), ts, "timestamps go on")
	pic, _, _ := codec.VP8Picture(w.payload)
	require.Equal(t, 303, pic, "picture ids go on")
	n := w.n
	send(h, 504, 99000, 303, false)
	require.Equal(t, n, w.n, "the layer left is not forwarded")
	require.NotContains(t, *h.downs.Load(), d, "the subscriber left layer h's list")
	send(f, 7002, 5006000, 9002, false)
	_, seq, ts = got()
	require.Equal(t, uint16(505), seq)
	require.Equal(t, uint32(96000+switchFrame+3000), ts)

	up.setTarget(d, nil)
	n = w.n
	send(f, 7003, 5009000, 9003, true)
	require.Equal(t, n, w.n, "paused: nothing is forwarded")
	up.setTarget(d, q)
	send(q, 2, 4000, 2, true)
	marker, seq, _ = got()
	require.Equal(t, byte('q'), marker, "resumed on q at its keyframe")
	require.Equal(t, uint16(506), seq)
}

// A subscriber with all the bandwidth it wants is moved to the best layer the publisher
// still sends: the layers it stopped sending would leave it waiting for a keyframe.
func TestSubscriberFollowsTheLayersStillSent(t *testing.T) {
	srv := newTestServer(t)
	pub := join(t, srv, srv.token(t, "live", "pub", RolePresenter, KindMeeting))
	sub := join(t, srv, srv.token(t, "live", "sub", RoleAttendee, KindMeeting))
	var watch layerWatch
	sub.mu.Lock()
	sub.observe = watch.observe
	sub.mu.Unlock()
	sub.receiveOnly()
	// Every layer at first, so that the SFU knows them; then the low one only.
	pub.publishSimulcastWhile(func(frame int, rid string) bool { return frame < 5 || rid == "q" })
	sub.waitUntil(func() bool { return watch.now() == 'q' }, "media of layer q, the only one still sent")
	sub.waitMedia("pub", 1, 100)
}

// A layer counts as live once it is measured to carry packets: the allocation then keeps
// subscribers to the live ones, whatever the bandwidth allows, since a layer the
// publisher does not send would leave them waiting for a keyframe that never comes.
func TestLayersMeasuredLive(t *testing.T) {
	clock := newFakeClock()
	var pli plis
	up, layers := simulcastTrack(t, clock, &pli)
	q, f := layers[0], layers[2]
	var pkt scratch
	_, _, live := up.rates(clock.Now())
	require.Equal(t, -1, live, "nothing measured yet: every layer may be chosen")

	for i := range 20 {
		q.handle(layerPacket(t, q.ssrc, uint16(i), uint32(i*3000), vp8Descriptor(uint16(i), 0, i == 0, 'q')), &pkt)
	}
	clock.Advance(time.Second)
	got, rates, live := up.rates(clock.Now())
	require.Len(t, got, 3)
	require.Equal(t, 0, live, "only the lowest layer is sent")
	require.Positive(t, rates[0])

	for i := range 20 {
		f.handle(layerPacket(t, f.ssrc, uint16(i), uint32(i*3000), vp8Descriptor(uint16(i), 0, i == 0, 'f')), &pkt)
	}
	clock.Advance(time.Second)
	_, _, live = up.rates(clock.Now())
	require.Equal(t, 2, live, "the best layer now comes too")
	clock.Advance(time.Second)
	_, _, live = up.rates(clock.Now())
	require.Equal(t, -1, live, "nothing for a whole window: none measured live")
}

func TestLayerCap(t *testing.T) {
	var pli plis
	_, layers := simulcastTrack(t, systemClock{}, &pli)
	tests := []struct {
		req  *LayerRequest
		want int
	}{
		{nil, 2},
		{&LayerRequest{Quality: signal.QualityHigh}, 2},
		{&LayerRequest{Quality: signal.QualityMedium}, 1},
		{&LayerRequest{Quality: signal.QualityLow}, 0},
		{&LayerRequest{Quality: signal.QualityOff}, -1},
		{&LayerRequest{Quality: signal.QualityHigh, Width: 320, Height: 180}, 0},
		{&LayerRequest{Quality: signal.QualityHigh, Width: 640, Height: 360}, 1},
		{&LayerRequest{Quality: signal.QualityHigh, Width: 1280, Height: 720}, 2},
		{&LayerRequest{Quality: signal.QualityLow, Width: 1280, Height: 720}, 0},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, layerCap(tt.req, layers), "request %+v", tt.req)
	}
	require.Equal(t, 0, layerCap(&LayerRequest{Quality: signal.QualityLow}, layers[2:]), "one layer is all there is")
}

// simulcastRates are the payload sizes per 20 ms frame of the layers q, h and f a test
// publisher sends: about 50, 200 and 600 kbit/s.
var simulcastRates = map[string]int{"q": 125, "h": 500, "f": 1500}

// publishSimulcast adds a VP8 camera sent as three layers q, h and f, each packet
// ending with its layer's name, a keyframe every ten frames; it offers it and sends
// until the client closes.
func (c *testClient) publishSimulcast() { c.publishSimulcastWhile(nil) }

// publishSimulcastWhile publishes the three layers of a camera; sends, when not nil, tells
// whether a frame of a layer is sent (a publisher short of bandwidth drops its best layers).
func (c *testClient) publishSimulcastWhile(sends func(frame int, rid string) bool) {
	var tracks []*webrtc.TrackLocalStaticRTP
	for _, rid := range []string{"q", "h", "f"} {
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "cam-video", "cam", webrtc.WithRTPStreamID(rid))
		require.NoError(c.t, err)
		tracks = append(tracks, tr)
	}
	sender, err := c.AddTrack(tracks[0], LabelCamera)
	require.NoError(c.t, err)
	for _, tr := range tracks[1:] {
		require.NoError(c.t, sender.AddEncoding(tr))
	}
	for _, tr := range tracks {
		c.wg.Add(1)
		go func() { // owned by the client; ends when the sender stops
			defer c.wg.Done()
			for {
				if _, _, err := sender.ReadSimulcastRTCP(tr.RID()); err != nil {
					return
				}
			}
		}()
	}
	// A simulcast packet names its media id and RTP stream id in header extensions.
	var midExt, ridExt uint8
	for _, e := range sender.GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			midExt = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ridExt = uint8(e.ID)
		}
	}
	require.NotZero(c.t, midExt)
	require.NotZero(c.t, ridExt)
	c.Negotiate(context.Background())
	var mid string
	for _, tr := range c.PeerConnection().GetTransceivers() {
		if tr.Sender() == sender {
			mid = tr.Mid()
		}
	}
	require.NotEmpty(c.t, mid)

	c.wg.Add(1)
	go func() { // owned by the client; ends when the client closes
		defer c.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		seq := map[string]uint16{"q": 100, "h": 20000, "f": 40000}
		for frame := 0; ; frame++ {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			key := frame%10 == 0
			for _, tr := range tracks {
				rid := tr.RID()
				if sends != nil && !sends(frame, rid) {
					continue
				}
				size := simulcastRates[rid]
				// Two packets per frame: the first starts it, the second ends it.
				pic := uint16(frame) + seq[rid]
				for part := range 2 {
					payload := vp8Descriptor(pic, 0, key && part == 0, rid[0])
					if part == 1 {
						payload[0] = 0x80 // not the start of the frame
					}
					payload = append(payload[:len(payload)-1], make([]byte, size/2)...)
					payload = append(payload, rid[0])
					pkt := &rtp.Packet{Header: rtp.Header{
						Version: 2, SequenceNumber: seq[rid], Timestamp: uint32(frame * 1800), Marker: part == 1,
					}, Payload: payload}
					_ = pkt.Header.SetExtension(midExt, []byte(mid))
					_ = pkt.Header.SetExtension(ridExt, []byte(rid))
					seq[rid]++
					_ = tr.WriteRTP(pkt)
				}
			}
		}
	}()
}

// layerWatch follows the layer a subscriber receives, from the last byte of each packet.
type layerWatch struct {
	mu       sync.Mutex
	layer    byte
	lastSeq  uint16
	switches []layerSwitch
}

type layerSwitch struct {
	from, to byte
	seqStep  uint16 // sequence number of the first packet of to minus the last of from
	key      bool   // the first packet of to starts a keyframe
}

func (w *layerWatch) observe(pkt *rtp.Packet) {
	if len(pkt.Payload) == 0 {
		return
	}
	l := pkt.Payload[len(pkt.Payload)-1]
	w.mu.Lock()
	defer w.mu.Unlock()
	if l != w.layer {
		if w.layer != 0 {
			w.switches = append(w.switches, layerSwitch{from: w.layer, to: l, seqStep: pkt.SequenceNumber - w.lastSeq, key: codec.IsVP8Keyframe(pkt.Payload)})
		}
		w.layer = l
	}
	w.lastSeq = pkt.SequenceNumber
}

func (w *layerWatch) now() byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.layer
}

func (w *layerWatch) lastSwitch() layerSwitch {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.switches[len(w.switches)-1]
}

// TestSimulcastLayerFollowsBandwidthAndRequests publishes a camera as three layers to a
// subscriber: it gets the best layer that its bandwidth allows, drops to the lowest
// when its REMB says its link carries 120 kbit/s, goes back up when the link does, and
// keeps to what it asks for. Every switch happens on a keyframe with no gap in the
// sequence numbers.
func TestSimulcastLayerFollowsBandwidthAndRequests(t *testing.T) {
	srv := newTestServer(t)
	pub := join(t, srv, srv.token(t, "sim", "pub", RolePresenter, KindMeeting))
	sub := join(t, srv, srv.token(t, "sim", "sub", RoleAttendee, KindMeeting))
	var watch layerWatch
	sub.mu.Lock()
	sub.observe = watch.observe
	sub.mu.Unlock()
	sub.receiveOnly()
	pub.publishSimulcast()

	tracks := sub.waitMedia("pub", 1, 10)
	var trackID string
	for id := range tracks {
		trackID = id
	}
	ssrc := sub.track(trackID).SSRC
	sub.waitUntil(func() bool { return watch.now() == 'f' }, "switch to layer f")

	remb := func(bitrate float32) {
		require.NoError(t, sub.PeerConnection().WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{SenderSSRC: 1, Bitrate: bitrate, SSRCs: []uint32{ssrc}}}))
	}
	checkSwitch := func(from, to byte) {
		t.Helper()
		s := watch.lastSwitch()
		require.Equal(t, layerSwitch{from: from, to: to, seqStep: 1, key: true}, s)
	}

	remb(120_000)
	sub.waitUntil(func() bool { return watch.now() == 'q' }, "switch down to layer q")
	checkSwitch('f', 'q')

	remb(10_000_000)
	sub.waitUntil(func() bool { return watch.now() == 'f' }, "switch back up to layer f")
	checkSwitch('q', 'f')

	sub.send(map[string]any{"type": "layer", "track_id": trackID, "quality": "high", "width": 640, "height": 360})
	sub.waitUntil(func() bool { return watch.now() == 'h' }, "switch to layer h for a 360-pixel tile")
	checkSwitch('f', 'h')

	sub.send(map[string]any{"type": "layer", "track_id": trackID, "quality": "low"})
	sub.waitUntil(func() bool { return watch.now() == 'q' }, "switch to layer q asked for")
	checkSwitch('h', 'q')
}
