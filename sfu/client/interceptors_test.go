package client

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"
)

var allInterceptors = []Interceptors{InterceptorsBrowser, InterceptorsReports, InterceptorsReportsNACK}

func TestParseInterceptors(t *testing.T) {
	for _, set := range allInterceptors {
		got, err := ParseInterceptors(set.String())
		require.NoError(t, err)
		require.Equal(t, set, got)
	}
	_, err := ParseInterceptors("none")
	require.Error(t, err)
	require.Equal(t, "Interceptors(7)", Interceptors(7).String())
	_, err = NewAPI(APIParams{Interceptors: Interceptors(7)})
	require.Error(t, err)
}

// sdpFeatures are the lines of an SDP that say what a receiver understands: codecs, RTCP
// feedback and header extensions (with the session's own ids and ports left out).
func sdpFeatures(sdp string) []string {
	var out []string
	for line := range strings.SplitSeq(sdp, "\r\n") {
		for _, prefix := range []string{"a=rtpmap:", "a=rtcp-fb:", "a=extmap:", "a=fmtp:"} {
			if strings.HasPrefix(line, prefix) {
				out = append(out, line)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestInterceptorsOfferTheSame checks that every set of interceptors offers what a
// browser's does: the server sees the same receiver whatever the generator's work per packet.
func TestInterceptorsOfferTheSame(t *testing.T) {
	offer := func(set Interceptors) string {
		api, err := NewAPI(APIParams{LoopbackOnly: true, Interceptors: set})
		require.NoError(t, err)
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		require.NoError(t, err)
		defer pc.Close()
		for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			_, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
			require.NoError(t, err)
		}
		o, err := pc.CreateOffer(nil)
		require.NoError(t, err)
		return o.SDP
	}
	browser := sdpFeatures(offer(InterceptorsBrowser))
	require.NotEmpty(t, browser)
	require.Contains(t, strings.Join(browser, "\n"), "transport-cc")
	for _, set := range allInterceptors[1:] {
		require.Equal(t, browser, sdpFeatures(offer(set)), set.String())
	}
}

// TestReceiverSendsReports has a client of each set of interceptors receive a track from
// a plain Pion sender, which waits for a receiver report about that track: the server's
// loss-based bandwidth estimate needs them.
func TestReceiverSendsReports(t *testing.T) {
	for _, set := range allInterceptors {
		t.Run(set.String(), func(t *testing.T) {
			// The sender has no interceptor: what it reads is what the receiver sent.
			m := &webrtc.MediaEngine{}
			require.NoError(t, m.RegisterDefaultCodecs())
			se := webrtc.SettingEngine{}
			se.SetIncludeLoopbackCandidate(true)
			se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
			sendAPI := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
			sender, err := sendAPI.NewPeerConnection(webrtc.Configuration{})
			require.NoError(t, err)
			defer sender.Close()
			track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "v", "s")
			require.NoError(t, err)
			rtpSender, err := sender.AddTrack(track)
			require.NoError(t, err)

			recvAPI, err := NewAPI(APIParams{LoopbackOnly: true, Interceptors: set})
			require.NoError(t, err)
			receiver, err := recvAPI.NewPeerConnection(webrtc.Configuration{})
			require.NoError(t, err)
			defer receiver.Close()
			received := make(chan struct{})
			var once sync.Once
			receiver.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
				buf := make([]byte, maxPacketSize)
				for {
					if _, _, err := tr.Read(buf); err != nil {
						return
					}
					once.Do(func() { close(received) })
				}
			})
			connect(t, sender, receiver)

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			defer wg.Wait()
			defer cancel()
			wg.Add(1)
			go func() { // owned by the test; ends with ctx
				defer wg.Done()
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96}, Payload: []byte{0x10, 0, 0, 0}}
				for {
					select {
					case <-tick.C:
					case <-ctx.Done():
						return
					}
					pkt.SequenceNumber++
					pkt.Timestamp += 3000
					_ = track.WriteRTP(&pkt)
				}
			}()
			select {
			case <-received:
			case <-ctx.Done():
				t.Fatal("no packet received")
			}
			ssrc := uint32(rtpSender.GetParameters().Encodings[0].SSRC)
			deadline, _ := ctx.Deadline()
			require.NoError(t, rtpSender.SetReadDeadline(deadline))
			for {
				pkts, _, err := rtpSender.ReadRTCP()
				require.NoError(t, err, "no receiver report")
				for _, p := range pkts {
					if rr, ok := p.(*rtcp.ReceiverReport); ok && slices.ContainsFunc(rr.Reports, func(r rtcp.ReceptionReport) bool { return r.SSRC == ssrc }) {
						return
					}
				}
			}
		})
	}
}

// connect negotiates a's offer with b on loopback, each waiting for its candidates.
func connect(t *testing.T, a, b *webrtc.PeerConnection) {
	t.Helper()
	offer, err := a.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(a)
	require.NoError(t, a.SetLocalDescription(offer))
	<-gathered
	require.NoError(t, b.SetRemoteDescription(*a.LocalDescription()))
	answer, err := b.CreateAnswer(nil)
	require.NoError(t, err)
	gathered = webrtc.GatheringCompletePromise(b)
	require.NoError(t, b.SetLocalDescription(answer))
	<-gathered
	require.NoError(t, a.SetRemoteDescription(*b.LocalDescription()))
}
