package sfu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// candidateLine is a host candidate at ap, as RTCIceCandidate.candidate gives it.
func candidateLine(foundation int, ap netip.AddrPort) string {
	return fmt.Sprintf("candidate:%d 1 udp 2130706431 %s %d typ host", foundation, ap.Addr(), ap.Port())
}

// withCandidates adds lines as a=candidate lines to the first media section of desc.
func withCandidates(t *testing.T, desc string, lines []string) string {
	t.Helper()
	i := strings.Index(desc, "\r\na=mid:")
	require.Positive(t, i, "no media section in %q", desc)
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("\r\na=" + l)
	}
	return desc[:i] + b.String() + desc[i:]
}

// trickle sends line as a candidate message.
func (c *testClient) trickle(line string) {
	c.send(map[string]any{"type": "candidate", "candidate": map[string]any{"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0}})
}

// publishWithCandidates publishes a camera and a microphone, the offer sent with lines
// added to it (the one set locally has none).
func (c *testClient) publishWithCandidates(t *testing.T, lines []string) {
	t.Helper()
	c.conn.editNextOffer(func(sdp string) string { return withCandidates(t, sdp, lines) })
	c.publish(false, 25)
}

// countLocked counts the messages received that match ok; c.mu held.
func (c *testClient) countLocked(ok func(signal.ServerMessage) bool) int {
	n := 0
	for _, m := range c.msgs {
		if ok(m) {
			n++
		}
	}
	return n
}

// errorsLocked counts the error messages with code received; c.mu held.
func (c *testClient) errorsLocked(code string) int {
	return c.countLocked(func(m signal.ServerMessage) bool { return m.Type == signal.TypeError && m.Code == code })
}

// waitErrors waits until c has received n error messages with code.
func (c *testClient) waitErrors(code string, n int) {
	c.t.Helper()
	c.waitUntil(func() bool { return c.errorsLocked(code) == n }, fmt.Sprintf("%d errors %s", n, code))
}

// sink is a UDP socket on every IPv4 address of the host that nobody should send to.
type sink struct{ *net.UDPConn }

func newSink(t *testing.T) sink {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return sink{conn}
}

func (s sink) port() uint16 { return uint16(s.LocalAddr().(*net.UDPAddr).Port) } //nolint:gosec // a port

// received returns the datagrams already delivered to the socket, without waiting for more.
func (s sink) received(t *testing.T) int {
	t.Helper()
	require.NoError(t, s.SetReadDeadline(time.Now()))
	buf := make([]byte, 1500)
	n := 0
	for {
		_, _, err := s.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return n
		}
		require.NoError(t, err)
		n++
	}
}

// serverRemoteCandidates are the remote candidates of a participant's PeerConnection on
// the server, as ip:port; the peer-reflexive ones, which the client did not signal, with
// prflx.
func serverRemoteCandidates(t *testing.T, srv *testServer, room, participant string, prflx bool) []string {
	t.Helper()
	r, ok := srv.Room(room)
	require.True(t, ok, "no room %s", room)
	r.mu.Lock()
	p := r.participants[participant]
	r.mu.Unlock()
	require.NotNil(t, p, "no participant %s in room %s", participant, room)
	var out []string
	for _, st := range p.pc.GetStats() {
		c, ok := st.(webrtc.ICECandidateStats)
		if ok && c.Type == webrtc.StatsTypeRemoteCandidate && (prflx || c.CandidateType != webrtc.ICECandidateTypePrflx) {
			out = append(out, net.JoinHostPort(c.IP, fmt.Sprint(c.Port)))
		}
	}
	return out
}

// ownIPv4 is the first address of the server's media port that is neither loopback
// nor IPv6, with that port; the test is skipped when there is none.
func ownIPv4(t *testing.T, srv *testServer) netip.AddrPort {
	t.Helper()
	for _, a := range srv.UDPAddrs() {
		if u, ok := a.(*net.UDPAddr); ok && u.IP.To4() != nil && !u.IP.IsLoopback() {
			return u.AddrPort()
		}
	}
	t.Skip("the host has no IPv4 address besides loopback")
	return netip.AddrPort{}
}

// TestRefusedCandidatesGetNoDatagram sends a production server (no loopback) candidates
// aimed at a socket of the host, trickled and in the offer: they are refused and the
// socket receives nothing, while the client still connects through the TURN relay
// beside the server. The same candidates reach the socket in development mode.
func TestRefusedCandidatesGetNoDatagram(t *testing.T) {
	target := newSink(t)
	aims := func(own netip.AddrPort) []netip.AddrPort {
		return []netip.AddrPort{
			netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), target.port()),
			netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), target.port()),
			netip.AddrPortFrom(netip.MustParseAddr("0.0.0.0"), target.port()),
			netip.AddrPortFrom(own.Addr(), target.port()),
		}
	}

	t.Run("production", func(t *testing.T) {
		var relays *TURN
		srv := newTestServer(t, func(p *Params) {
			p.WebRTC.IncludeLoopback = false
			p.WebRTC.Relays = func(a netip.AddrPort) bool { return relays.IsRelay(a) }
		})
		own := ownIPv4(t, srv)
		// The TURN server answers on every address and relays on loopback; it may
		// relay to the SFU's port on its IPv4 address.
		s := setupTURN(t, func(p *TURNParams) {
			p.Listen, p.TCPListen, p.TLSListen = ":0", ":0", ""
			p.PublicIP, p.Host = "127.0.0.1", ""
			p.MediaPort = int(own.Port())
		})
		relays = s.srv
		ice := withTransport(t, s.srv.Credentials("alice", s.clock.Now(), time.Hour), "udp")
		alice := joinThroughTURN(t, srv, srv.token(t, "r1", "alice", RoleAttendee, KindMeeting), ice)

		var lines []string
		for i, a := range aims(own) {
			lines = append(lines, candidateLine(100+i, a))
		}
		alice.publishWithCandidates(t, lines)
		refused := alice.waitMsg(func(m signal.ServerMessage) bool {
			return m.Type == signal.TypeError && m.Code == signal.CodeCandidateRefused && strings.Contains(m.Message, "of the description")
		})
		require.Contains(t, refused.Message, fmt.Sprintf("%d candidates of the description left out", len(lines)))
		for _, l := range lines {
			alice.trickle(l)
		}

		// The client connects through the relay: media reaches a subscriber.
		bob := joinThroughTURN(t, srv, srv.token(t, "r1", "bob", RoleAttendee, KindMeeting), ice)
		bob.receiveOnly()
		bob.waitMedia("alice", 2, 20)

		// Every trickled candidate aimed at the host was refused, and nothing else: the
		// client's relay candidates, on the server's own address, are the TURN server's.
		alice.trickle("candidate:1 1 udp 1 last.example 9 typ host")
		alice.waitMsg(func(m signal.ServerMessage) bool {
			return m.Type == signal.TypeError && strings.Contains(m.Message, "cannot be parsed")
		})
		alice.mu.Lock()
		var refusals []string
		for _, m := range alice.msgs {
			if m.Type == signal.TypeError {
				refusals = append(refusals, m.Code+": "+m.Message)
			}
		}
		alice.mu.Unlock()
		require.Len(t, refusals, 1+len(lines)+1, "got errors %q, want the description's, one per trickled candidate and the unparsable one's", refusals)

		remote := serverRemoteCandidates(t, srv, "r1", "alice", true)
		require.NotEmpty(t, remote)
		for _, c := range remote {
			_, port, err := net.SplitHostPort(c)
			require.NoError(t, err)
			require.NotEqual(t, fmt.Sprint(target.port()), port, "the server took the remote candidate %s", c)
		}
		require.Zero(t, target.received(t), "the server sent datagrams to a refused candidate")
	})

	t.Run("development", func(t *testing.T) {
		srv := newTestServer(t) // IncludeLoopback: loopback and the host's own addresses are allowed
		alice := join(t, srv, srv.token(t, "r1", "alice", RoleAttendee, KindMeeting))
		// Trickled before the offer, the server keeps it until the offer is applied: it is
		// then checked with the others, whether or not the ICE session has connected yet.
		alice.trickle(candidateLine(100, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), target.port())))
		alice.publish(false, 25)
		require.NoError(t, target.SetReadDeadline(time.Now().Add(waitFor)))
		_, _, err := target.ReadFrom(make([]byte, 1500))
		require.NoError(t, err, "the server sent nothing to an allowed candidate")
	})
}

func TestCandidatesPerICESessionAreLimited(t *testing.T) {
	srv := newTestServer(t)
	alice := join(t, srv, srv.token(t, "r1", "alice", RoleAttendee, KindMeeting))
	alice.publish(false, 25)
	alice.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeAnswer })

	// Loopback is allowed here: the limit is what refuses. The client's own candidates
	// count too, so aim at more ports than the limit.
	trickle := func(port int) {
		alice.trickle(candidateLine(port, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))) //nolint:gosec // a port
	}
	const sent = 2 * maxRemoteCandidates
	for port := 1; port <= sent; port++ {
		trickle(port)
	}
	alice.waitError(signal.CodeTooManyCandidates)
	// A duplicate of an accepted candidate is no new one. The server answers messages
	// in order: once the unparsable candidate is refused, the others are answered.
	trickle(1)
	alice.trickle("candidate:1 1 udp 1 host.example 9 typ host")
	alice.waitErrors(signal.CodeCandidateRefused, 1)
	alice.mu.Lock()
	refused := alice.errorsLocked(signal.CodeTooManyCandidates)
	alice.mu.Unlock()
	require.GreaterOrEqual(t, refused, sent-maxRemoteCandidates, "got %d refusals of %d candidates, want at least %d", refused, sent, sent-maxRemoteCandidates)
	require.LessOrEqual(t, refused, sent-1, "got %d refusals of %d candidates: the duplicate was refused", refused, sent+1)
	require.LessOrEqual(t, len(serverRemoteCandidates(t, srv, "r1", "alice", false)), maxRemoteCandidates)

	// An ICE restart starts a new ICE session, with a new budget. The client keeps its
	// new candidates, which it could send before its offer, when the old budget counts.
	alice.PeerConnection().OnICECandidate(func(*webrtc.ICECandidate) {})
	alice.RestartICE(context.Background())
	alice.waitUntil(func() bool {
		return alice.countLocked(func(m signal.ServerMessage) bool { return m.Type == signal.TypeAnswer }) == 2
	}, "answer to the ICE restart")
	trickle(sent + 1)
	alice.trickle("candidate:1 1 udp 1 other.example 9 typ host")
	alice.waitErrors(signal.CodeCandidateRefused, 2)
	alice.mu.Lock()
	defer alice.mu.Unlock()
	require.Equal(t, refused, alice.errorsLocked(signal.CodeTooManyCandidates), "a candidate of the new ICE session was refused as one too many")
}

func TestCandidatesOfAnOfferAreLimited(t *testing.T) {
	var logs lockedBuffer
	srv := newTestServer(t, func(p *Params) {
		p.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	alice := join(t, srv, srv.token(t, "r1", "alice", RoleAttendee, KindMeeting))
	var lines []string
	for port := 1; port <= 3*maxRemoteCandidates; port++ {
		lines = append(lines, candidateLine(port, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))) //nolint:gosec // a port
	}
	lines = append(lines,
		"candidate:1 1 udp 1 10.1.2.3 9 typ host",                 // private: refused here
		"candidate:2 1 tcp 1 10.1.2.4 9 typ host tcptype active",  // TCP: ignored, as the server sends none
		"candidate:3 1 udp 1 0f3e9b1c-5d2a-4c6e.local 9 typ host", // mDNS: ignored
	)
	alice.publishWithCandidates(t, lines)
	// The client's own candidates, trickled before the offer, may have taken some of the
	// budget: at least the lines over the limit are left out.
	tooMany := alice.waitError(signal.CodeTooManyCandidates)
	var left int
	_, err := fmt.Sscanf(tooMany.Message, "%d candidates of the description left out", &left)
	require.NoError(t, err, "message %q", tooMany.Message)
	require.GreaterOrEqual(t, left, 2*maxRemoteCandidates, "got %d candidates left out of %d, want at least %d", left, len(lines)-1, 2*maxRemoteCandidates)
	refused := alice.waitError(signal.CodeCandidateRefused)
	require.Contains(t, refused.Message, "1 candidates of the description left out")
	require.Contains(t, refused.Message, "private")
	alice.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeAnswer })
	require.LessOrEqual(t, len(serverRemoteCandidates(t, srv, "r1", "alice", false)), maxRemoteCandidates)

	// One line each at info level, with the kind of address and not the address.
	logged := logs.String()
	require.Equal(t, 1, strings.Count(logged, `msg="remote candidate refused" room=r1 participant=alice reason=private`), "logs:\n%s", logged)
	require.Equal(t, 1, strings.Count(logged, `msg="remote candidates over the limit"`), "logs:\n%s", logged)
	for _, addr := range []string{"10.1.2.3", "127.0.0.1"} {
		require.NotContains(t, logged, addr)
	}
}

func TestWHIPOfferCandidatesFiltered(t *testing.T) {
	target := newSink(t)
	srv := newTestServer(t, func(p *Params) { p.WebRTC.IncludeLoopback = false })
	own := ownIPv4(t, srv)
	pc, err := clientAPI(t).NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "obs-video", "obs")
	require.NoError(t, err)
	_, err = pc.AddTransceiverFromTrack(video, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	require.NoError(t, err)
	lines := []string{
		candidateLine(100, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), target.port())),
		candidateLine(101, netip.AddrPortFrom(own.Addr(), target.port())),
		"candidate:102 1 udp 1 a1b2c3.local 9 typ host",
	}
	session, err := srv.StartWHIP(context.Background(), claimsFor(srv, "r1", "obs", RolePresenter), withCandidates(t, offerAll(t, pc), lines), SessionHooks{})
	require.NoError(t, err, "the offer was refused for its candidates")
	t.Cleanup(session.Close)
	for _, c := range serverRemoteCandidates(t, srv, "r1", "obs", true) {
		_, port, err := net.SplitHostPort(c)
		require.NoError(t, err)
		require.NotEqual(t, fmt.Sprint(target.port()), port, "the server took the remote candidate %s", c)
	}
	require.Zero(t, target.received(t), "the server sent datagrams to a refused candidate")
}
