package sfu

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the coturn formula
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/stretchr/testify/require"
)

var turnTestSecret = []byte("0123456789abcdef0123456789abcdef")

// turnTestPublicIP is a documentation address (TEST-NET-3): public, and the server's own.
const turnTestPublicIP = "203.0.113.7"

// turnTestHost is the name in the test certificate of the TLS port.
const turnTestHost = "turn.test"

// turnTransports are the ways a client reaches the TURN server.
var turnTransports = []string{"udp", "tcp", "tls"}

type turnSetup struct {
	srv   *TURN
	clock *fakeClock
	addr  string // UDP
	// addrs are the server's addresses by transport.
	addrs map[string]string
	// roots trusts the certificate of the TLS port.
	roots *x509.CertPool
}

// setupTURN starts an embedded TURN server on loopback, relaying on loopback, with its
// UDP, TCP and TLS ports; tweak changes its parameters first.
func setupTURN(t *testing.T, tweak ...func(*TURNParams)) turnSetup {
	t.Helper()
	cert, roots := testCertificate(t, turnTestHost)
	clock := newFakeClock()
	p := TURNParams{
		Listen:       "127.0.0.1:0",
		TCPListen:    "127.0.0.1:0",
		TLSListen:    "127.0.0.1:0",
		TLSConfig:    &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Host:         turnTestHost,
		Realm:        "test",
		Secret:       turnTestSecret,
		PublicIP:     turnTestPublicIP,
		RelayAddress: "127.0.0.1",
		Logger:       testLogger(),
		Clock:        clock,
	}
	for _, f := range tweak {
		f(&p)
	}
	srv, err := NewTURN(p)
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	addrs := map[string]string{"udp": srv.Addr().String(), "tcp": srv.TCPAddr().String()}
	if a := srv.TLSAddr(); a != nil {
		addrs["tls"] = a.String()
	}
	return turnSetup{srv: srv, clock: clock, addr: addrs["udp"], addrs: addrs, roots: roots}
}

// allowPrivatePeers is a setupTURN tweak.
func allowPrivatePeers(p *TURNParams) { p.AllowPrivatePeers = true }

// testCertificate is a self-signed certificate for host, and a pool that trusts it.
func testCertificate(t testing.TB, host string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}

// turnClient connects a pion/turn client to the server over transport (udp, tcp or
// tls) with these credentials.
func turnClient(t *testing.T, s turnSetup, transport, username, password string) *turn.Client {
	t.Helper()
	addr := s.addrs[transport]
	var conn net.PacketConn
	switch transport {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		require.NoError(t, err)
		conn = c
	case "tcp":
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		conn = turn.NewSTUNConn(c)
	case "tls":
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: s.roots, ServerName: turnTestHost, MinVersion: tls.VersionTLS12})
		require.NoError(t, err)
		conn = turn.NewSTUNConn(c)
	default:
		t.Fatalf("no transport %q", transport)
	}
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr,
		TURNServerAddr: addr,
		Username:       username,
		Password:       password,
		Realm:          "test",
		Conn:           conn,
		RTO:            100 * time.Millisecond,
		LoggerFactory:  pionLoggerFactory{log: testLogger()},
	})
	require.NoError(t, err)
	require.NoError(t, c.Listen())
	t.Cleanup(func() {
		c.Close()
		_ = conn.Close()
	})
	return c
}

func TestTURNCredentialsFollowTheCoturnFormula(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	got := TURNCredentials([]byte("coturn-secret"), []string{"turn:turn.example.org:3478"}, "abc", now, time.Hour)
	want := "1800003600:abc"
	require.Equal(t, want, got.Username, "got username %q, want %q", got.Username, want)
	mac := hmac.New(sha1.New, []byte("coturn-secret"))
	mac.Write([]byte(want))
	require.Equal(t, base64.StdEncoding.EncodeToString(mac.Sum(nil)), got.Credential)
	require.Equal(t, []string{"turn:turn.example.org:3478"}, got.URLs)

	ext := ExternalTURN{URLs: []string{"turns:turn.example.org:5349"}, Secret: []byte("coturn-secret")}
	e := ext.Credentials("abc", now, time.Hour)
	require.Equal(t, got.Credential, e.Credential)
	require.Equal(t, ext.URLs, e.URLs)
}

func TestTURNEmbeddedCredentialsURLs(t *testing.T) {
	s := setupTURN(t)
	ice := s.srv.Credentials("p1", s.clock.Now(), time.Hour)
	port := func(transport string) string {
		_, p, _ := net.SplitHostPort(s.addrs[transport])
		return p
	}
	want := []string{
		"turn:" + turnTestHost + ":" + port("udp") + "?transport=udp",
		"turn:" + turnTestHost + ":" + port("tcp") + "?transport=tcp",
		"turns:" + turnTestHost + ":" + port("tls") + "?transport=tcp",
	}
	require.Equal(t, want, ice.URLs)
	require.True(t, strings.HasSuffix(ice.Username, ":p1"), "got username %q", ice.Username)

	// Without TLS and without a host name: no turns: URL, the public address as host.
	plain := setupTURN(t, func(p *TURNParams) { p.TLSListen, p.TLSConfig, p.Host = "", nil, "" })
	urls := plain.srv.Credentials("p1", plain.clock.Now(), time.Hour).URLs
	require.Len(t, urls, 2, "got %v", urls)
	for _, u := range urls {
		require.True(t, strings.HasPrefix(u, "turn:"+turnTestPublicIP+":"), "got %s", u)
	}
}

func TestTURNSameTCPPortByDefault(t *testing.T) {
	// Find a port free for UDP and TCP alike, then ask for it.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := probe.Addr().String()
	require.NoError(t, probe.Close())
	srv, err := NewTURN(TURNParams{Listen: addr, Secret: turnTestSecret, PublicIP: turnTestPublicIP, RelayAddress: "127.0.0.1"})
	require.NoError(t, err)
	if err := srv.Start(context.Background()); err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	defer srv.Close()
	require.Equal(t, addr, srv.TCPAddr().String(), "TCP listens where UDP does")
	require.Nil(t, srv.TLSAddr(), "no TLS port unless asked")
}

func TestTURNAuthentication(t *testing.T) {
	s := setupTURN(t)
	good := s.srv.Credentials("p1", s.clock.Now(), time.Hour)
	expired := s.srv.Credentials("p2", s.clock.Now(), -time.Minute)
	tests := []struct {
		name               string
		username, password string
		ok                 bool
	}{
		{"right password", good.Username, good.Credential, true},
		{"wrong password", good.Username, "bm90IHRoZSBwYXNzd29yZA==", false},
		{"expired username", expired.Username, expired.Credential, false},
		{"username without expiry", "p1", good.Credential, false},
	}
	for _, transport := range turnTransports {
		for _, tt := range tests {
			t.Run(transport+"/"+tt.name, func(t *testing.T) {
				c := turnClient(t, s, transport, tt.username, tt.password)
				relay, err := c.Allocate()
				if tt.ok {
					require.NoError(t, err)
					require.NoError(t, relay.Close())
				} else {
					require.Error(t, err, "allocation accepted, want refused")
				}
			})
		}
	}
}

func TestTURNRefusesTCPRelays(t *testing.T) {
	s := setupTURN(t)
	cred := s.srv.Credentials("p1", s.clock.Now(), time.Hour)
	c := turnClient(t, s, "tcp", cred.Username, cred.Credential)
	_, err := c.AllocateTCP()
	require.Error(t, err, "TCP relay allocated, want refused")
}

func TestTURNRefusesPrivatePeers(t *testing.T) {
	// The SFU's port is allowed on the server's own addresses, and nothing else of them.
	s := setupTURN(t, func(p *TURNParams) { p.MediaPort = 9999 })
	cred := s.srv.Credentials("p1", s.clock.Now(), time.Hour)
	for _, transport := range turnTransports {
		t.Run(transport, func(t *testing.T) {
			c := turnClient(t, s, transport, cred.Username, cred.Credential)
			relay, err := c.Allocate()
			require.NoError(t, err)
			defer relay.Close()

			for _, peer := range []string{
				"10.1.2.3", "192.168.1.1", "172.16.0.1", "169.254.1.1", "127.0.0.2", "100.64.0.1", "0.0.0.0", "224.0.0.1",
				"255.255.255.255", "192.0.0.170", "198.18.0.1", "240.0.0.1", "::ffff:10.1.2.3", "::ffff:127.0.0.2",
			} { // IPv6 peers of an IPv4 relay are refused (443) whatever they are: see TestTURNPeerAllowed
				err := c.CreatePermission(&net.UDPAddr{IP: net.ParseIP(peer), Port: 9999})
				require.Error(t, err, "permission to %s granted, want refused", peer)
				require.Contains(t, err.Error(), "403")
			}
			// A public peer is allowed (a permission sends nothing to the peer).
			require.NoError(t, c.CreatePermission(&net.UDPAddr{IP: net.ParseIP("198.51.100.1"), Port: 9}))
			// Data sent to a refused peer never gets a permission, so it is not relayed.
			_, err = relay.WriteTo([]byte("x"), &net.UDPAddr{IP: net.ParseIP("10.1.2.3"), Port: 9})
			require.Error(t, err)
		})
	}
}

func TestTURNRefusesOwnAddressesWithoutMediaPort(t *testing.T) {
	s := setupTURN(t)
	cred := s.srv.Credentials("p1", s.clock.Now(), time.Hour)
	c := turnClient(t, s, "udp", cred.Username, cred.Credential)
	relay, err := c.Allocate()
	require.NoError(t, err)
	defer relay.Close()
	for _, peer := range []string{turnTestPublicIP, "127.0.0.1"} {
		err := c.CreatePermission(&net.UDPAddr{IP: net.ParseIP(peer), Port: 9})
		require.Error(t, err, "permission to %s granted, want refused", peer)
		require.Contains(t, err.Error(), "403")
	}
}

func TestTURNPeerAllowed(t *testing.T) {
	s := setupTURN(t)
	allowed := setupTURN(t, allowPrivatePeers)
	tests := []struct {
		peer          string
		want, private bool // without and with AllowPrivatePeers
	}{
		{"10.1.2.3", false, true}, {"192.168.1.1", false, true}, {"172.16.0.1", false, true},
		{"172.31.255.255", false, true}, {"127.0.0.1", false, true}, {"127.8.9.1", false, true},
		{"100.64.0.1", false, true}, {"100.127.255.254", false, true}, {"::1", false, true},
		{"fc00::1", false, true}, {"fd12:3456::1", false, true}, {"::ffff:10.1.2.3", false, true},
		{"::ffff:127.0.0.1", false, true}, {turnTestPublicIP, false, true},
		// Reserved: refused either way.
		{"169.254.1.1", false, false}, {"0.0.0.0", false, false}, {"0.1.2.3", false, false},
		{"224.0.0.1", false, false}, {"255.255.255.255", false, false}, {"192.0.0.170", false, false},
		{"198.18.0.1", false, false}, {"198.19.255.254", false, false}, {"240.0.0.1", false, false},
		{"::", false, false}, {"fe80::1", false, false}, {"ff02::1", false, false},
		{"64:ff9b::7f00:1", false, false}, {"64:ff9b::808:808", false, false},
		{"2002:7f00:1::1", false, false}, {"2002:808:808::1", false, false},
		{"::ffff:169.254.169.254", false, false}, {"::ffff:255.255.255.255", false, false},
		// Public.
		{"198.51.100.1", true, true}, {"100.128.0.1", true, true}, {"172.32.0.1", true, true},
		{"198.20.0.1", true, true}, {"2001:db8::1", true, true}, {"::ffff:198.51.100.1", true, true},
	}
	for _, tt := range tests {
		got := s.srv.PeerAllowed(net.ParseIP(tt.peer))
		require.Equal(t, tt.want, got, "peer %s: got allowed=%v, want %v", tt.peer, got, tt.want)
		got = allowed.srv.PeerAllowed(net.ParseIP(tt.peer))
		require.Equal(t, tt.private, got, "peer %s with AllowPrivatePeers: got allowed=%v, want %v", tt.peer, got, tt.private)
	}
}

func TestTURNRelayAllowedAtTheMediaPortOnly(t *testing.T) {
	s := setupTURN(t, func(p *TURNParams) { p.MediaPort = 7882 })
	none := setupTURN(t)
	udp := func(ip string, port int) net.Addr { return &net.UDPAddr{IP: net.ParseIP(ip), Port: port} }
	tests := []struct {
		addr       net.Addr
		want, none bool
	}{
		{udp(turnTestPublicIP, 7882), true, false},                                // the SFU at the public address
		{udp("127.0.0.1", 7882), true, false},                                     // the SFU at the listen and relay address
		{udp(turnTestPublicIP, 22), false, false},                                 // anything else of the server
		{udp("127.0.0.1", 7883), false, false},                                    //
		{udp("10.1.2.3", 7882), false, false},                                     // not the server's: private stays refused
		{udp("198.51.100.1", 7882), true, true},                                   // public peers, any port
		{udp("198.51.100.1", 22), true, true},                                     //
		{&net.TCPAddr{IP: net.ParseIP("198.51.100.1"), Port: 7882}, false, false}, // UDP only
	}
	for _, tt := range tests {
		got := s.srv.relayAllowed(tt.addr)
		require.Equal(t, tt.want, got, "relay to %s: got allowed=%v, want %v", tt.addr, got, tt.want)
		got = none.srv.relayAllowed(tt.addr)
		require.Equal(t, tt.none, got, "relay to %s without media port: got allowed=%v, want %v", tt.addr, got, tt.none)
	}
}

func TestTURNRelaysToTheMediaPortOfItsOwnAddress(t *testing.T) {
	media := newEcho(t) // stands where the SFU's media port is
	other := newEcho(t) // another service of the server, same address
	s := setupTURN(t, func(p *TURNParams) { p.MediaPort = media.LocalAddr().(*net.UDPAddr).Port })
	cred := s.srv.Credentials("p1", s.clock.Now(), time.Hour)
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			c := turnClient(t, s, transport, cred.Username, cred.Credential)
			relay, err := c.Allocate()
			require.NoError(t, err)
			defer relay.Close()

			// The permission is for the address; the relay checks the port. The server
			// handles a client's messages in order, so the refused datagram would have
			// reached other before the allowed one reaches media.
			require.NoError(t, c.CreatePermission(other.LocalAddr(), media.LocalAddr()))
			_, err = relay.WriteTo([]byte("refused"), other.LocalAddr())
			require.NoError(t, err) // a Send indication gets no answer
			_, err = relay.WriteTo([]byte("hello"), media.LocalAddr())
			require.NoError(t, err)
			require.Equal(t, "hello", media.next(t))
			// Anything the relay sent other is queued there before this marker.
			_, err = media.WriteTo([]byte("marker"), other.LocalAddr())
			require.NoError(t, err)
			require.Equal(t, "marker", other.next(t), "a datagram reached another port of the server")

			// The other way round: other's datagram to the relay is dropped, media's passes.
			relayPort := relay.LocalAddr().(*net.UDPAddr).Port
			relayAddr := &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: relayPort}
			_, err = other.WriteTo([]byte("from other"), relayAddr)
			require.NoError(t, err)
			_, err = media.WriteTo([]byte("from media"), relayAddr)
			require.NoError(t, err)
			require.NoError(t, relay.SetReadDeadline(time.Now().Add(waitFor)))
			buf := make([]byte, 1500)
			n, from, err := relay.ReadFrom(buf)
			require.NoError(t, err)
			require.Equal(t, "from media", string(buf[:n]), "got a datagram from %s", from)
		})
	}
}

func TestTURNRelaysToLoopbackWhenPrivatePeersAllowed(t *testing.T) {
	s := setupTURN(t, allowPrivatePeers)
	echo := newEcho(t)
	cred := s.srv.Credentials("p1", s.clock.Now(), time.Hour)
	c := turnClient(t, s, "udp", cred.Username, cred.Credential)
	relay, err := c.Allocate()
	require.NoError(t, err)
	defer relay.Close()

	_, err = relay.WriteTo([]byte("hello"), echo.LocalAddr())
	require.NoError(t, err)
	require.Equal(t, "hello", echo.next(t))
	_, err = echo.WriteTo([]byte("hello"), &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: relay.LocalAddr().(*net.UDPAddr).Port})
	require.NoError(t, err)
	require.NoError(t, relay.SetReadDeadline(time.Now().Add(waitFor)))
	buf := make([]byte, 1500)
	n, from, err := relay.ReadFrom(buf)
	require.NoError(t, err)
	require.Equal(t, "hello", string(buf[:n]))
	require.Equal(t, echo.LocalAddr().String(), from.String())
}

// echoPeer is a UDP peer on loopback that a relay sends to.
type echoPeer struct {
	net.PacketConn
}

func newEcho(t *testing.T) echoPeer {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return echoPeer{conn}
}

// next is the next datagram the peer receives.
func (e echoPeer) next(t *testing.T) string {
	t.Helper()
	require.NoError(t, e.SetReadDeadline(time.Now().Add(waitFor)))
	buf := make([]byte, 1500)
	n, _, err := e.ReadFrom(buf)
	require.NoError(t, err, "the peer received nothing through the relay")
	return string(buf[:n])
}

func TestNewTURNChecksParams(t *testing.T) {
	good := TURNParams{Listen: "127.0.0.1:0", Secret: turnTestSecret, PublicIP: turnTestPublicIP}
	_, err := NewTURN(good)
	require.NoError(t, err)
	for name, mutate := range map[string]func(*TURNParams){
		"short secret":          func(p *TURNParams) { p.Secret = []byte("short") },
		"no public IP":          func(p *TURNParams) { p.PublicIP = "" },
		"bad listen":            func(p *TURNParams) { p.Listen = "nowhere" },
		"bad TCP listen":        func(p *TURNParams) { p.TCPListen = "tcp.example:3478" },
		"bad TLS listen":        func(p *TURNParams) { p.TLSListen, p.TLSConfig = "nowhere", &tls.Config{} },
		"TLS without cert":      func(p *TURNParams) { p.TLSListen = "127.0.0.1:0" },
		"bad relay addr":        func(p *TURNParams) { p.RelayAddress = "relay.example" },
		"media port over 65535": func(p *TURNParams) { p.MediaPort = 70000 },
	} {
		p := good
		mutate(&p)
		_, err := NewTURN(p)
		require.Error(t, err, name)
	}
}

func TestTURNIsRelay(t *testing.T) {
	s := setupTURN(t, func(p *TURNParams) { p.PublicIP = "127.0.0.1" })
	cred := s.srv.Credentials("p1", s.clock.Now(), time.Hour)
	c := turnClient(t, s, "tcp", cred.Username, cred.Credential) // in order: see below
	relay, err := c.Allocate()
	require.NoError(t, err)
	at := relay.LocalAddr().(*net.UDPAddr).AddrPort()
	require.Equal(t, "127.0.0.1", at.Addr().String(), "the relay is at the public address")
	require.True(t, s.srv.IsRelay(at), "relay %s unknown", at)
	require.True(t, s.srv.IsRelay(netip.MustParseAddrPort("[::ffff:127.0.0.1]:"+strconv.Itoa(int(at.Port())))))
	require.False(t, s.srv.IsRelay(netip.AddrPortFrom(at.Addr(), at.Port()+1)), "another port is a relay")
	require.False(t, s.srv.IsRelay(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), at.Port())), "another address is a relay")

	// Deleting the allocation forgets it: the server handles the client's requests in
	// order, so once the next allocation is answered the first one is gone.
	require.NoError(t, relay.Close())
	next, err := c.Allocate()
	require.NoError(t, err)
	defer next.Close()
	require.False(t, s.srv.IsRelay(at), "relay %s closed but still known", at)
	require.True(t, s.srv.IsRelay(next.LocalAddr().(*net.UDPAddr).AddrPort()))
}
