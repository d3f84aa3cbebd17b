package sfu

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/client"
	"webinaire/sfu/signal"
)

// joinThroughTURN joins srv as a client whose PeerConnection uses ice only, and relay
// candidates only (ICETransportPolicy relay): a browser that reaches nothing but the
// TURN server.
func joinThroughTURN(t *testing.T, srv *testServer, token string, ice ICEServer) *testClient {
	t.Helper()
	c := connectWith(t, srv, "", func(p *client.Params) {
		p.API = clientAPI(t, webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4) // TCP to reach TURN over TCP
		p.ICEServers = []webrtc.ICEServer{{URLs: ice.URLs, Username: ice.Username, Credential: ice.Credential}}
		p.RelayOnly = true
	})
	c.join(token)
	return c
}

// loopbackPort is the port the server receives media on at 127.0.0.1.
func loopbackPort(t *testing.T, srv *testServer) int {
	t.Helper()
	for _, a := range srv.UDPAddrs() {
		if u, ok := a.(*net.UDPAddr); ok && u.IP.Equal(net.IPv4(127, 0, 0, 1)) {
			return u.Port
		}
	}
	t.Fatalf("no media port on 127.0.0.1 among %v", srv.UDPAddrs())
	return 0
}

// withTransport keeps of ice the turn: URL of one transport.
func withTransport(t *testing.T, ice ICEServer, transport string) ICEServer {
	t.Helper()
	for _, u := range ice.URLs {
		if strings.HasPrefix(u, "turn:") && strings.HasSuffix(u, "?transport="+transport) {
			ice.URLs = []string{u}
			return ice
		}
	}
	t.Fatalf("no turn: URL for %s among %v", transport, ice.URLs)
	return ice
}

func TestMediaThroughTURN(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			srv := newTestServer(t)
			// The TURN server answers on every address, so that all of them are its own,
			// and relays on loopback. The SFU is there too, with a port of its own on
			// each address (UDPPort 0): only the one on 127.0.0.1 may be relayed to.
			// Relay candidates carry 127.0.0.1.
			s := setupTURN(t, func(p *TURNParams) {
				p.Listen, p.TCPListen, p.TLSListen = ":0", ":0", ""
				p.PublicIP, p.Host = "127.0.0.1", ""
				p.MediaPort = loopbackPort(t, srv)
			})
			ice := withTransport(t, s.srv.Credentials("alice", s.clock.Now(), time.Hour), transport)

			bob := join(t, srv, srv.token(t, "r1", "bob", RoleAttendee, KindMeeting))
			bob.publish(false, 25)
			alice := joinThroughTURN(t, srv, srv.token(t, "r1", "alice", RoleAttendee, KindMeeting), ice)
			alice.publish(false, 25)

			// Media flows both ways through the relay.
			alice.waitMedia("bob", 2, 20)
			bob.waitMedia("alice", 2, 20)

			pair, err := alice.PeerConnection().GetSenders()[0].Transport().ICETransport().GetSelectedCandidatePair()
			require.NoError(t, err)
			require.NotNil(t, pair, "no selected candidate pair")
			require.Equal(t, webrtc.ICECandidateTypeRelay, pair.Local.Typ, "got local candidate %s", pair.Local)
			var relays int
			for _, st := range alice.PeerConnection().GetStats() {
				if c, ok := st.(webrtc.ICECandidateStats); ok && c.Type == webrtc.StatsTypeLocalCandidate {
					require.Equal(t, webrtc.ICECandidateTypeRelay, c.CandidateType)
					require.Equal(t, transport, c.RelayProtocol, "the client reaches TURN over %s", c.RelayProtocol)
					relays++
				}
			}
			require.Positive(t, relays, "no local candidate in the stats")
		})
	}
}

func TestJoinedCarriesTURNCredentials(t *testing.T) {
	s := setupTURN(t)
	stun := ICEServer{URLs: []string{"stun:stun.example.org:3478"}}
	srv := newTestServer(t, func(p *Params) {
		p.Clock = newFakeClock()
		p.WebRTC.ICEServers = []ICEServer{stun}
		p.WebRTC.ICEServersFor = func(participantID string, expiry time.Time) []ICEServer {
			now := s.clock.Now()
			return []ICEServer{s.srv.Credentials(participantID, now, expiry.Sub(now))}
		}
	})
	c := join(t, srv, srv.token(t, "r1", "alice", RoleAttendee, KindMeeting))
	joined := c.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined })
	require.Len(t, joined.ICEServers, 2, "got %v, want the static server and the TURN server", joined.ICEServers)
	require.Equal(t, stun, joined.ICEServers[0])
	ice := joined.ICEServers[1]
	// "<expiry>:<participant>": the credentials last as long as the session credential
	// of this entry, not the join token's hour.
	expiry := srv.clock.Now().Add(DefaultSessionLifetime)
	require.Equal(t, strconv.FormatInt(expiry.Unix(), 10)+":alice", ice.Username)
	require.Equal(t, s.srv.Credentials("alice", s.clock.Now(), time.Hour).URLs, ice.URLs)
	for _, transport := range turnTransports {
		relay, err := turnClient(t, s, transport, ice.Username, ice.Credential).Allocate()
		require.NoError(t, err, "the TURN server refused the credentials of the joined message over %s", transport)
		require.NoError(t, relay.Close())
	}
}
