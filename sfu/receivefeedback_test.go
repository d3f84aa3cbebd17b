package sfu

import (
	"context"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/client"
)

// startRecorder is an interceptor that notes the RTCP writer it is given.
type startRecorder struct {
	interceptor.NoOp
	writers []interceptor.RTCPWriter
}

func (s *startRecorder) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	s.writers = append(s.writers, w)
	return w
}

type startRecorderFactory struct{ made []*startRecorder }

func (f *startRecorderFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	s := &startRecorder{}
	f.made = append(f.made, s)
	return s, nil
}

func TestReceiveInterceptorsStartWithTheFirstRemoteStream(t *testing.T) {
	var written int
	writer := interceptor.RTCPWriterFunc(func([]rtcp.Packet, interceptor.Attributes) (int, error) {
		written++
		return 0, nil
	})
	reader := interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		return len(b), a, nil
	})
	for _, streamFirst := range []bool{false, true} {
		f := &startRecorderFactory{}
		i, err := onReceive{f, f}.NewInterceptor("pc")
		require.NoError(t, err)
		require.Len(t, f.made, 2)
		if streamFirst {
			i.BindRemoteStream(&interceptor.StreamInfo{SSRC: 1}, reader)
			for _, s := range f.made {
				require.Empty(t, s.writers, "no writer yet: not started")
			}
			i.BindRTCPWriter(writer)
		} else {
			got := i.BindRTCPWriter(writer)
			_, _ = got.Write(nil, nil)
			require.Equal(t, 1, written, "the writer is passed on")
			written = 0
			for _, s := range f.made {
				require.Empty(t, s.writers, "a PeerConnection that receives nothing does not start them")
			}
			i.BindRemoteStream(&interceptor.StreamInfo{SSRC: 1}, reader)
		}
		i.BindRemoteStream(&interceptor.StreamInfo{SSRC: 2}, reader)
		for _, s := range f.made {
			require.Len(t, s.writers, 1, "started once")
			_, _ = s.writers[0].Write(nil, nil)
		}
		require.Equal(t, 2, written, "each was given the PeerConnection's writer")
		written = 0
		require.NoError(t, i.Close())
	}
}

// loops counts the goroutines running loop, a function named as in a stack dump.
func loops(loop string) int {
	buf := make([]byte, 1<<22)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), loop+"(")
}

// A publisher is asked again for what it did not send and gets receiver reports; a
// subscriber's PeerConnection runs none of the interceptors that do it.
func TestPublisherFeedbackWithoutTickersForSubscribers(t *testing.T) {
	const nackLoop = "github.com/pion/interceptor/pkg/nack.(*GeneratorInterceptor).loop"
	before := loops(nackLoop)
	srv := newTestServer(t)
	// Clients without interceptors, so that every NACK generator running is the server's.
	api := bareClientAPI(t)
	pub := joinWith(t, srv, srv.token(t, "fb", "pub", RolePresenter, KindMeeting), api)
	video, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "cam-video", "cam")
	require.NoError(t, err)
	sender, err := pub.AddTrack(video, LabelCamera)
	require.NoError(t, err)
	nacked := make(chan uint16, 16)
	reports := make(chan struct{}, 16)
	go func() { // owned by the test; ends when the publisher's PeerConnection closes
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				switch p := p.(type) {
				case *rtcp.TransportLayerNack:
					for _, n := range p.Nacks {
						for _, seq := range n.PacketList() {
							select {
							case nacked <- seq:
							default:
							}
						}
					}
				case *rtcp.ReceiverReport:
					select {
					case reports <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	pub.Negotiate(context.Background())
	sub := joinWith(t, srv, srv.token(t, "fb", "sub", RoleAttendee, KindMeeting), api)
	sub.receiveOnly()

	// Packets 1 to 60 but 30, a keyframe every ten, one every 20 ms until asked for 30.
	stop := make(chan struct{})
	defer close(stop)
	go func() { // owned by the test; ends with it
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(1); ; seq++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if seq == 30 {
				continue
			}
			_ = video.WriteRTP(&rtp.Packet{
				Header:  rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true},
				Payload: vp8Payload(seq%10 == 1),
			})
		}
	}()
	deadline := time.After(waitFor)
	for got := false; !got; {
		select {
		case seq := <-nacked:
			got = seq == 30
		case <-deadline:
			t.Fatal("the server did not ask for the missing packet")
		}
	}
	select {
	case <-reports:
	case <-deadline:
		t.Fatal("no receiver report reached the publisher")
	}
	sub.waitMedia("pub", 1, 5)
	require.Equal(t, 1, loops(nackLoop)-before, "a NACK generator runs for the publisher's PeerConnection only")
}

// bareClientAPI is clientAPI without interceptors.
func bareClientAPI(t testing.TB) *webrtc.API {
	m := &webrtc.MediaEngine{}
	require.NoError(t, m.RegisterDefaultCodecs())
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(se))
}

// joinWith joins with token on a PeerConnection made by api.
func joinWith(t testing.TB, srv *testServer, token string, api *webrtc.API) *testClient {
	t.Helper()
	c := connectWith(t, srv, "", func(p *client.Params) { p.API = api })
	c.join(token)
	return c
}
