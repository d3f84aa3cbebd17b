package sfu

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the coturn formula
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/stretchr/testify/require"
)

var turnTestSecret = []byte("0123456789abcdef0123456789abcdef")

// turnTestPublicIP is a documentation address (TEST-NET-3): public, and the server's own.
const turnTestPublicIP = "203.0.113.7"

type turnSetup struct {
	srv   *TURN
	clock *fakeClock
	addr  string
}

// setupTURN starts an embedded TURN server on loopback, relaying on loopback.
func setupTURN(t *testing.T, allowPrivate bool) turnSetup {
	t.Helper()
	clock := newFakeClock()
	srv, err := NewTURN(TURNParams{
		Listen:            "127.0.0.1:0",
		Realm:             "test",
		Secret:            turnTestSecret,
		PublicIP:          turnTestPublicIP,
		RelayAddress:      "127.0.0.1",
		AllowPrivatePeers: allowPrivate,
		Logger:            testLogger(),
		Clock:             clock,
	})
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return turnSetup{srv: srv, clock: clock, addr: srv.Addr().String()}
}

// turnClient connects a pion/turn client to the server with these credentials.
func turnClient(t *testing.T, s turnSetup, username, password string) *turn.Client {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: s.addr,
		TURNServerAddr: s.addr,
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

func TestTURNEmbeddedCredentialsURL(t *testing.T) {
	s := setupTURN(t, false)
	ice := s.srv.Credentials("p1", s.clock.Now(), time.Hour)
	_, port, _ := net.SplitHostPort(s.addr)
	require.Equal(t, []string{"turn:" + turnTestPublicIP + ":" + port + "?transport=udp"}, ice.URLs)
	require.True(t, strings.HasSuffix(ice.Username, ":p1"), "got username %q", ice.Username)
}

func TestTURNAuthentication(t *testing.T) {
	s := setupTURN(t, false)
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
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := turnClient(t, s, tt.username, tt.password)
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

func TestTURNRefusesPrivatePeers(t *testing.T) {
	s := setupTURN(t, false)
	cred := s.srv.Credentials("p1", s.clock.Now(), time.Hour)
	c := turnClient(t, s, cred.Username, cred.Credential)
	relay, err := c.Allocate()
	require.NoError(t, err)
	defer relay.Close()

	host, _, _ := net.SplitHostPort(s.addr)
	for _, peer := range []string{"10.1.2.3", "192.168.1.1", "172.16.0.1", "169.254.1.1", "127.0.0.1", "100.64.0.1", "0.0.0.0", "224.0.0.1", turnTestPublicIP, host} {
		t.Run(peer, func(t *testing.T) {
			err := c.CreatePermission(&net.UDPAddr{IP: net.ParseIP(peer), Port: 9})
			require.Error(t, err, "permission to %s granted, want refused", peer)
			require.Contains(t, err.Error(), "403")
		})
	}
	// A public peer is allowed (a permission sends nothing to the peer).
	require.NoError(t, c.CreatePermission(&net.UDPAddr{IP: net.ParseIP("198.51.100.1"), Port: 9}))
	// Data sent to a refused peer never gets a permission, so it is not relayed.
	_, err = relay.WriteTo([]byte("x"), &net.UDPAddr{IP: net.ParseIP("10.1.2.3"), Port: 9})
	require.Error(t, err)
}

func TestTURNPeerAllowed(t *testing.T) {
	s := setupTURN(t, false)
	allowed := setupTURN(t, true)
	tests := []struct {
		peer string
		want bool
	}{
		{"10.1.2.3", false}, {"192.168.1.1", false}, {"172.16.0.1", false}, {"172.31.255.255", false},
		{"169.254.1.1", false}, {"127.0.0.1", false}, {"127.8.9.1", false}, {"100.64.0.1", false},
		{"100.127.255.254", false}, {"0.0.0.0", false}, {"0.1.2.3", false}, {"224.0.0.1", false},
		{"::1", false}, {"::", false}, {"fe80::1", false}, {"fc00::1", false}, {"fd12:3456::1", false},
		{"ff02::1", false}, {"::ffff:10.1.2.3", false}, {turnTestPublicIP, false},
		{"198.51.100.1", true}, {"100.128.0.1", true}, {"172.32.0.1", true}, {"2001:db8::1", true},
	}
	for _, tt := range tests {
		got := s.srv.PeerAllowed(net.ParseIP(tt.peer))
		require.Equal(t, tt.want, got, "peer %s: got allowed=%v, want %v", tt.peer, got, tt.want)
		require.True(t, allowed.srv.PeerAllowed(net.ParseIP(tt.peer)), "peer %s refused with AllowPrivatePeers", tt.peer)
	}
}

func TestTURNRelaysToLoopbackWhenPrivatePeersAllowed(t *testing.T) {
	s := setupTURN(t, true)
	echo, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer echo.Close()
	received := make(chan string, 1)
	go func() { // owned by the test; ends when echo is closed
		buf := make([]byte, 1500)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			select {
			case received <- string(buf[:n]):
			default:
			}
			_, _ = echo.WriteTo(buf[:n], from)
		}
	}()

	cred := s.srv.Credentials("p1", s.clock.Now(), time.Hour)
	c := turnClient(t, s, cred.Username, cred.Credential)
	relay, err := c.Allocate()
	require.NoError(t, err)
	defer relay.Close()

	_, err = relay.WriteTo([]byte("hello"), echo.LocalAddr())
	require.NoError(t, err)
	select {
	case got := <-received:
		require.Equal(t, "hello", got)
	case <-time.After(5 * time.Second):
		t.Fatal("the peer received nothing through the relay")
	}
	require.NoError(t, relay.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, 1500)
	n, from, err := relay.ReadFrom(buf)
	require.NoError(t, err)
	require.Equal(t, "hello", string(buf[:n]))
	require.Equal(t, echo.LocalAddr().String(), from.String())
}

func TestNewTURNChecksParams(t *testing.T) {
	good := TURNParams{Listen: "127.0.0.1:0", Secret: turnTestSecret, PublicIP: turnTestPublicIP}
	_, err := NewTURN(good)
	require.NoError(t, err)
	for name, mutate := range map[string]func(*TURNParams){
		"short secret":   func(p *TURNParams) { p.Secret = []byte("short") },
		"no public IP":   func(p *TURNParams) { p.PublicIP = "" },
		"bad listen":     func(p *TURNParams) { p.Listen = "nowhere" },
		"bad relay addr": func(p *TURNParams) { p.RelayAddress = "relay.example" },
	} {
		p := good
		mutate(&p)
		_, err := NewTURN(p)
		require.Error(t, err, name)
	}
}
