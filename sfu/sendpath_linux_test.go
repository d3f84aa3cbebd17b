package sfu

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"
)

// subscriberProcessEnv, set in its environment, makes the test binary a process of Pion
// subscribers (TestSubscriberProcess): it answers each offer read from its input and
// reads what it receives, until its input ends.
const subscriberProcessEnv = "SFU_SUBSCRIBER_PROCESS"

// TestSubscriberProcess is the subscriber process of newPionFanout; it does nothing in
// an ordinary test run.
func TestSubscriberProcess(t *testing.T) {
	if os.Getenv(subscriberProcessEnv) == "" {
		t.Skip("run by BenchmarkForwardPion")
	}
	api := clientAPI(t)
	in := json.NewDecoder(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for {
		var offer webrtc.SessionDescription
		if err := in.Decode(&offer); err != nil {
			return // the benchmark ended
		}
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		require.NoError(t, err)
		defer pc.Close()
		pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			go func() { // owned by the subscriber; ends when its PeerConnection closes
				buf := make([]byte, 1500)
				for {
					if _, _, err := tr.Read(buf); err != nil {
						return
					}
				}
			}()
		})
		require.NoError(t, pc.SetRemoteDescription(offer))
		answer, err := pc.CreateAnswer(nil)
		require.NoError(t, err)
		require.NoError(t, out.Encode(setLocal(t, pc, answer)))
	}
}

// setLocal sets desc as pc's local description and returns it once its candidates are
// gathered.
func setLocal(tb testing.TB, pc *webrtc.PeerConnection, desc webrtc.SessionDescription) *webrtc.SessionDescription {
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(tb, pc.SetLocalDescription(desc))
	<-gathered
	return pc.LocalDescription()
}

// helperProcess starts the test binary as a process of its own running test (which
// does its work when the variable of env, NAME=VALUE, is set), and returns encoders of its
// input and decoders of its output. The process ends at cleanup, its input closed.
func helperProcess(tb testing.TB, test, env string) (*json.Encoder, *json.Decoder) {
	// callgrind fails on the signal of a child's end: the kernel reaps the child instead.
	signal.Ignore(syscall.SIGCHLD)
	tb.Cleanup(func() { signal.Reset(syscall.SIGCHLD) })
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(tb, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(tb, err)
	require.NoError(tb, cmd.Start())
	tb.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	return json.NewEncoder(stdin), json.NewDecoder(bufio.NewReader(stdout))
}

// pionFanout is a video track of the server forwarded to n real Pion subscribers over
// loopback: each subscriber's PeerConnection on the server's side is made with the
// server's API (its ICE UDP mux over the batching sockets), so that a forwarded packet
// takes the whole sending path of the server: the SFU's rewriting, Pion's SRTP session
// and write stream, the DTLS/SRTP demultiplexer's endpoint, the ICE connection and
// candidate pair, the UDP mux and the batching socket. The subscribers run in a process
// of their own, so that their receiving is not counted with the server's sending.
type pionFanout struct {
	up    *upTrack
	downs []*downTrack
}

// newPionFanout connects n subscribers to a VP8 track of srv, written by its reader
// (no writers), and waits until each can be sent to.
func newPionFanout(tb testing.TB, srv *testServer, n int) *pionFanout {
	var pli plis
	up := newUpTrack(upTrackParams{
		ID: "pub~1", StreamID: "pub~user", Owner: "pub", Label: LabelCamera,
		Codec: vp8Codec, SSRC: 1234, Clock: systemClock{}, WriteRTCP: pli.write, Logger: testLogger(),
		Spread: spreadConfig{above: n}, Fanout: srv.batcher,
	})
	up.setParked(false)
	f := &pionFanout{up: up}

	out, in := helperProcess(tb, "TestSubscriberProcess", subscriberProcessEnv+"=1")
	for range n {
		// A member of its own for each subscriber: the PeerConnection's RTP is sent as a
		// participant's (directly, unless the server sends through Pion).
		m := newMember(srv.Server, Claims{Room: "r", Participant: "sub"})
		require.NoError(tb, m.openPeerConnection(srv.api))
		spc := m.pc
		tb.Cleanup(func() { _ = spc.Close() })
		d := newDownTrack(up, newSubscriber(m, nil))
		require.True(tb, up.addDown(d))
		sender, err := spc.AddTrack(d)
		require.NoError(tb, err)
		go func() { // owned by the server's PeerConnection; ends when it closes
			for {
				if _, _, err := sender.ReadRTCP(); err != nil {
					return
				}
			}
		}()
		connected := make(chan struct{})
		spc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateConnected {
				close(connected)
			}
		})
		offer, err := spc.CreateOffer(nil)
		require.NoError(tb, err)
		require.NoError(tb, out.Encode(setLocal(tb, spc, offer)))
		var answer webrtc.SessionDescription
		require.NoError(tb, in.Decode(&answer))
		require.NoError(tb, spc.SetRemoteDescription(answer))
		select {
		case <-connected:
		case <-time.After(waitFor):
			tb.Fatal("a subscriber did not connect")
		}
		require.Eventually(tb, func() bool { return d.binding.Load() != nil }, waitFor, time.Millisecond)
		f.downs = append(f.downs, d)
	}
	return f
}

// BenchmarkForwardPion forwards a 1,200-byte VP8 packet to real Pion subscribers, the
// reader writing to each (as below media.writers_above subscribers), through Pion's
// sending path and the server's batching sockets: what a forwarded packet costs the
// server, Pion's layers included, against BenchmarkFloor's SRTP and sendmmsg alone. The
// figure is, as there, the CPU time of the sending thread per million datagrams;
// counted in instructions with callgrind the benchmark tells what each layer costs
// (docs/performance.md).
func BenchmarkForwardPion(b *testing.B) {
	for _, n := range []int{20, floorDestinations} {
		for _, way := range []string{"direct", "pion"} {
			b.Run(way+"/subscribers="+strconv.Itoa(n), func(b *testing.B) {
				srv := newTestServer(b, func(p *Params) { p.WebRTC.ThroughPion = way == "pion" })
				f := newPionFanout(b, srv, n)
				l := f.up.layerList()[0]
				var sc scratch
				key := rawPacket(b, 0, append([]byte{0x10}, vp8Frame(true)[:1000]...), 0)
				l.handle(key, &sc) // opens the keyframe gate
				for _, d := range f.downs {
					require.Equal(b, l, d.current.Load(), "every subscriber receives the layer")
				}
				inter := append(vp8Frame(false), make([]byte, 888)...)
				raw := rawPacket(b, 1, append([]byte{0x10}, inter...), 0)
				b.SetBytes(int64(len(raw) * n))
				b.ReportAllocs()
				seq := uint16(1)
				runFloor(b, n, func() {
					seq++
					raw[2], raw[3] = byte(seq>>8), byte(seq)
					l.handle(raw, &sc)
				})
			})
		}
	}
}
