package sfu

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/bwe"
)

// Fuzz targets of what a client's bytes reach: RTP through the forwarding path, RTCP
// from subscribers, SDP offers and answers, WHIP and WHEP bodies. FuzzDecode, in
// signal_test.go, covers the signalling messages. Run one at a time:
//
//	go test -run XXX -fuzz FuzzForward -fuzztime 60s ./sfu/
//
// FuzzSDP and FuzzWHIP make PeerConnections, whose goroutines go on a little after each
// input and make its coverage vary: add -fuzzminimizetime 0, or the fuzzer spends its
// time minimizing inputs that are not new.

// The inputs of FuzzForward and FuzzRTCP are sequences of records: one byte of
// operation, two of length, then that many bytes (fewer at the end of the input). The
// seeds are in testdata/fuzz, named for what they hold.
func nextRecord(data []byte) (op byte, rec, rest []byte, ok bool) {
	if len(data) < 3 {
		return 0, nil, nil, false
	}
	op, n, data := data[0], int(binary.BigEndian.Uint16(data[1:3])), data[3:]
	n = min(n, len(data))
	return op, data[:n], data[n:], true
}

var (
	vp9Codec  = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000}, PayloadType: 98}
	h264Codec = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}, PayloadType: 102}
	// fuzzCodecs are the codecs the forwarding fuzz target publishes, by its first byte.
	fuzzCodecs = []webrtc.RTPCodecParameters{opusCodec, vp8Codec, vp9Codec, h264Codec}
)

// simulcastUpTrack is a published track of codec with two layers, "q" and "f".
func simulcastUpTrack(codec webrtc.RTPCodecParameters, clock Clock, p *plis) *upTrack {
	up := newUpTrack(upTrackParams{
		ID: "pub~1", StreamID: "pub~user", Owner: "pub", Label: LabelCamera,
		Codec: codec, SSRC: 1, RID: "q", Clock: clock, WriteRTCP: p.write, Logger: testLogger(),
		HeaderExtensions: []webrtc.RTPHeaderExtensionParameter{{URI: sdp.AudioLevelURI, ID: 1}},
	})
	up.setParked(false)
	up.addLayer("f", 2)
	return up
}

// FuzzForward sends arbitrary RTP packets (header extensions, padding only, empty
// payloads, wild sequence numbers and timestamps) on the two layers of a track of the
// codec its first byte chooses (Opus, VP8, VP9, H.264: the keyframe detectors of each
// look into the payload), to two subscribers, one of which moves between the layers. What goes out has
// the subscriber's SSRC and payload type and the payload that came in, rewritten in
// place at most.
func FuzzForward(f *testing.F) {
	f.Fuzz(func(t *testing.T, codec byte, data []byte) {
		c := fuzzCodecs[int(codec)%len(fuzzCodecs)]
		var pli plis
		up := simulcastUpTrack(c, newFakeClock(), &pli)
		layers := up.layerList()
		w1 := &recordWriter{buf: make([]byte, 2*maxRTPPacketSize), ready: true}
		w2 := &recordWriter{buf: make([]byte, 2*maxRTPPacketSize), ready: true}
		d1 := bindDown(t, up, 1001, c.PayloadType, 2, w1)
		bindDown(t, up, 1002, c.PayloadType, 0, w2)
		var pkt scratch
		for op, raw, rest, ok := nextRecord(data); ok; op, raw, rest, ok = nextRecord(rest) {
			if op&0x80 != 0 {
				up.setTarget(d1, layers[(op>>1)&1])
			}
			sent1, sent2 := w1.n, w2.n
			layers[op&1].handle(raw, &pkt)
			for _, out := range []struct {
				w      *recordWriter
				before int
				ssrc   uint32
			}{{w1, sent1, 1001}, {w2, sent2, 1002}} {
				if out.w.n == out.before {
					continue
				}
				require.Equal(t, out.ssrc, out.w.last.SSRC)
				require.Equal(t, uint8(c.PayloadType), out.w.last.PayloadType)
				require.False(t, out.w.last.Padding)
				require.Len(t, out.w.payload, len(pkt.pkt.Payload))
			}
		}
	})
}

// FuzzRTCP hands arbitrary compound RTCP packets to a subscriber of a simulcast track, as
// its PeerConnection would, with the clock moving between them. The bandwidth estimate
// stays within its bounds, a REMB of at least the estimate never lowers it (the seed
// remb-bitrate-beyond-int64 is one that did, found by this target), and NACKs get no
// more retransmissions than the budget allows.
func FuzzRTCP(f *testing.F) {
	signer := newTestSigner(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		clock := newFakeClock()
		sb, up, d, w := rtcpSubscriber(t, signer, clock)
		// Packets sent, so that NACKs have something to be answered with.
		var sc scratch
		for i := range uint16(40) {
			up.layerList()[0].handle(layerPacket(t, 1, 1000+i, uint32(i)*3000, vp8Descriptor(i, 0, i == 0, 'q')), &sc)
		}
		require.Equal(t, uint16(1039), d.s.lastSeq)
		start := clock.Now()
		for op, raw, rest, ok := nextRecord(data); ok; op, raw, rest, ok = nextRecord(rest) {
			clock.Advance(time.Duration(op) * 10 * time.Millisecond)
			now := clock.Now()
			before := sb.bwe.Value(now)
			sb.onRTCP(d, raw, new(scratch))
			after := sb.bwe.Value(now)
			require.GreaterOrEqual(t, after, int64(bwe.Min))
			require.LessOrEqual(t, after, int64(bwe.Max))
			if least, ok := rembOnly(raw); ok && least >= float64(before) {
				require.GreaterOrEqual(t, after, before, "a REMB of %g bit/s", least)
			}
			seconds := int(now.Sub(start)/time.Second) + 2
			require.LessOrEqual(t, w.n-40, seconds*maxRetransmitsPerSecond, "retransmissions within their budget")
		}
	})
}

// rembOnly tells whether raw holds REMBs only, and the least bit rate among them.
func rembOnly(raw []byte) (least float64, ok bool) {
	pkts, err := rtcp.Unmarshal(raw)
	if err != nil || len(pkts) == 0 {
		return 0, false
	}
	for i, pkt := range pkts {
		remb, isREMB := pkt.(*rtcp.ReceiverEstimatedMaximumBitrate)
		if !isREMB {
			return 0, false
		}
		if i == 0 || float64(remb.Bitrate) < least {
			least = float64(remb.Bitrate)
		}
	}
	return least, true
}

// FuzzSDP applies an arbitrary SDP to a PeerConnection of the server's media API: as a
// client's offer, answered as handleOffer does, or as a client's answer to an offer of
// the server carrying a track, as handleAnswer does; an accepted one is read for RTP
// header encryption, as the direct sender reads it.
func FuzzSDP(f *testing.F) {
	srv := newTestServer(f)
	f.Fuzz(func(t *testing.T, answer bool, desc string) {
		pc, err := srv.api.NewPeerConnection(webrtc.Configuration{})
		require.NoError(t, err)
		defer pc.Close()
		if answer {
			track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "t", "s")
			require.NoError(t, err)
			_, err = pc.AddTrack(track)
			require.NoError(t, err)
			o, err := pc.CreateOffer(nil)
			require.NoError(t, err)
			require.NoError(t, pc.SetLocalDescription(o))
			if pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: desc}) == nil {
				_ = headerEncryption(pc.RemoteDescription())
			}
			return
		}
		if pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: desc}) != nil {
			return
		}
		_ = headerEncryption(pc.RemoteDescription())
		a, err := pc.CreateAnswer(nil)
		if err != nil {
			return
		}
		_ = pc.SetLocalDescription(a)
	})
}

// FuzzWHIP starts WHIP and WHEP sessions with arbitrary bodies, in a room where a WHIP
// encoder publishes: each is answered or refused with ErrOfferRefused, and no panic is
// recovered on the way.
func FuzzWHIP(f *testing.F) {
	srv := newTestServer(f)
	whipPublish(f, srv, "w", "encoder")
	require.Eventually(f, func() bool {
		room, ok := srv.Room("w")
		return ok && len(room.Participants()) == 1 && len(room.Participants()[0].Tracks) == 2
	}, waitFor, 10e6, "the encoder's tracks are published: WHEP has something to view")
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, view bool, body string) {
		claims := claimsFor(srv, "w", fmt.Sprintf("fuzz-%d", n.Add(1)), RolePresenter)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		start := srv.StartWHIP
		if view {
			start = srv.StartWHEP
		}
		session, err := start(ctx, claims, body, SessionHooks{})
		if err == nil {
			require.NotEmpty(t, session.Answer())
			session.Close()
		} else if !errors.Is(err, ErrOfferRefused) {
			t.Fatalf("refused with %v", err)
		}
		for _, part := range Parts() {
			require.Zero(t, srv.Panics().Count(part), part)
		}
	})
}

// rtcpSubscriber is what a member of a server on clock receives: as SSRC 1001, the
// lowest layer of a simulcast VP8 track, for its RTCP to be fed to onRTCP.
func rtcpSubscriber(t *testing.T, signer *TokenSigner, clock Clock) (*subscriber, *upTrack, *downTrack, *recordWriter) {
	t.Helper()
	srv, err := New(Params{Tokens: signer, Clock: clock, Logger: testLogger()})
	require.NoError(t, err)
	sb := newSubscriber(newMember(srv, Claims{Room: "r", Participant: "sub"}), nil)
	var pli plis
	up := simulcastUpTrack(vp8Codec, clock, &pli)
	w := &recordWriter{buf: make([]byte, 2*maxRTPPacketSize), ready: true}
	d := bindDown(t, up, 1001, 96, 0, w)
	sb.downs[up] = d
	return sb, up, d, w
}
