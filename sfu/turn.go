package sfu

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST scheme coturn uses is HMAC-SHA1
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/turn/v5"
)

// DefaultTURNRealm is the realm of the embedded TURN server when TURNParams.Realm is empty.
const DefaultTURNRealm = "webinaire"

// minTURNSecretLen is the shortest shared secret NewTURN accepts (128 bits).
const minTURNSecretLen = 16

// cgnat is the shared address space of carrier-grade NAT (RFC 6598), not a public peer.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// TURNParams configure the embedded TURN server.
type TURNParams struct {
	// Listen is the UDP address clients reach the server on, ":3478" for example.
	Listen string
	// Realm is the TURN realm; empty means DefaultTURNRealm.
	Realm string
	// Secret is the shared secret of the credentials (at least 16 bytes), as coturn's
	// static-auth-secret: see TURNCredentials.
	Secret []byte
	// PublicIP is the address advertised to clients, for the server and its relays.
	PublicIP string
	// RelayAddress is the local address relays are allocated on; empty means every
	// address (0.0.0.0).
	RelayAddress string
	// AllowPrivatePeers lets clients relay to loopback, private, link-local and shared
	// addresses, and to the server's own addresses. Off, only public peers are allowed:
	// a TURN server open to any authenticated client must not reach the inside of its
	// network.
	AllowPrivatePeers bool
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Clock tells the time for the expiry of credentials; nil is the system clock.
	Clock Clock
}

// TURN is the embedded TURN server (RFC 8656, UDP), for clients whose network lets no
// media through to the SFU directly. Clients authenticate with short-lived credentials
// derived from a shared secret (TURNCredentials); they may relay only to public peers.
type TURN struct {
	p     TURNParams
	log   *slog.Logger
	clock Clock
	// own are the addresses of this server, refused as peers.
	own map[netip.Addr]bool

	mu     sync.Mutex
	conn   net.PacketConn
	server *turn.Server
	closed bool
}

// NewTURN returns a TURN server configured by p; Start opens its port.
func NewTURN(p TURNParams) (*TURN, error) {
	if len(p.Secret) < minTURNSecretLen {
		return nil, fmt.Errorf("sfu: TURN secret shorter than %d bytes", minTURNSecretLen)
	}
	host, _, err := net.SplitHostPort(p.Listen)
	if err != nil {
		return nil, fmt.Errorf("sfu: TURN listen address %q: %w", p.Listen, err)
	}
	public, err := netip.ParseAddr(p.PublicIP)
	if err != nil {
		return nil, fmt.Errorf("sfu: TURN public address %q is not an IP address", p.PublicIP)
	}
	if p.RelayAddress == "" {
		p.RelayAddress = "0.0.0.0"
	}
	relay, err := netip.ParseAddr(p.RelayAddress)
	if err != nil {
		return nil, fmt.Errorf("sfu: TURN relay address %q is not an IP address", p.RelayAddress)
	}
	if p.Realm == "" {
		p.Realm = DefaultTURNRealm
	}
	t := &TURN{p: p, log: p.Logger, clock: p.Clock, own: make(map[netip.Addr]bool)}
	if t.log == nil {
		t.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if t.clock == nil {
		t.clock = systemClock{}
	}
	t.p.Secret = append([]byte(nil), p.Secret...)
	t.own[public.Unmap()] = true
	t.own[relay.Unmap()] = true
	listenUnspecified := host == ""
	if host != "" {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return nil, fmt.Errorf("sfu: TURN listen address %q: want an IP address", p.Listen)
		}
		t.own[a.Unmap()] = true
		listenUnspecified = a.IsUnspecified()
	}
	if listenUnspecified || relay.IsUnspecified() {
		// The server answers on every local address: none of them is a peer.
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return nil, fmt.Errorf("sfu: list local addresses: %w", err)
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					t.own[ip.Unmap()] = true
				}
			}
		}
	}
	return t, nil
}

// Start opens the UDP port and serves TURN on it until Close.
func (t *TURN) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrServerClosed
	}
	if t.server != nil {
		return errors.New("sfu: TURN server already started")
	}
	var lc net.ListenConfig
	conn, err := lc.ListenPacket(ctx, "udp", t.p.Listen)
	if err != nil {
		return fmt.Errorf("open TURN port %s: %w", t.p.Listen, err)
	}
	server, err := turn.NewServer(turn.ServerConfig{
		Realm:         t.p.Realm,
		AuthHandler:   t.authenticate,
		LoggerFactory: pionLoggerFactory{log: t.log},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: conn,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: net.ParseIP(t.p.PublicIP),
				Address:      t.p.RelayAddress,
			},
			// Covers CreatePermission and ChannelBind; a Send indication or a
			// channel's data needs a permission, so nothing reaches a refused peer.
			PermissionHandler: func(_ net.Addr, peer net.IP) bool { return t.PeerAllowed(peer) },
		}},
	})
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("start TURN server: %w", err)
	}
	t.conn, t.server = conn, server
	t.log.Info("turn started", "private_peers", t.p.AllowPrivatePeers)
	return nil
}

// Addr is the local address of the TURN port, nil before Start.
func (t *TURN) Addr() net.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil {
		return nil
	}
	return t.conn.LocalAddr()
}

// Close stops the server, its allocations and its port.
func (t *TURN) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.server == nil {
		return nil
	}
	return t.server.Close() // closes the packet conn too
}

// Credentials are the ICE server a participant uses to reach this TURN server, valid
// for ttl from now.
func (t *TURN) Credentials(participantID string, now time.Time, ttl time.Duration) ICEServer {
	_, port, _ := net.SplitHostPort(t.p.Listen)
	if a := t.Addr(); a != nil {
		port = strconv.Itoa(a.(*net.UDPAddr).Port)
	}
	url := "turn:" + net.JoinHostPort(t.p.PublicIP, port) + "?transport=udp"
	return TURNCredentials(t.p.Secret, []string{url}, participantID, now, ttl)
}

// PeerAllowed tells whether a client may relay to peer: a public address, not one of the
// server's own, unless TURNParams.AllowPrivatePeers.
func (t *TURN) PeerAllowed(peer net.IP) bool {
	a, ok := netip.AddrFromSlice(peer)
	if !ok {
		return false
	}
	a = a.Unmap()
	if t.p.AllowPrivatePeers {
		return true
	}
	switch {
	case t.own[a],
		a.IsLoopback(), a.IsPrivate(), a.IsLinkLocalUnicast(), a.IsUnspecified(),
		a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast(),
		cgnat.Contains(a), a.Is4() && a.As4()[0] == 0:
		return false
	}
	return true
}

// authenticate is the AuthHandler: the username is "<expiry unix>:<participant id>" and
// the password base64(HMAC-SHA1(secret, username)); an expired username is refused.
func (t *TURN) authenticate(ra *turn.RequestAttributes) (string, []byte, bool) {
	exp, id, ok := strings.Cut(ra.Username, ":")
	if !ok || id == "" {
		return "", nil, false
	}
	expiry, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || expiry < t.clock.Now().Unix() {
		return "", nil, false
	}
	password := turnPassword(t.p.Secret, ra.Username)
	return ra.Username, turn.GenerateAuthKey(ra.Username, ra.Realm, password), true
}

// TURNCredentials are the ICE server for urls (an external TURN server such as coturn
// with use-auth-secret, or the embedded one) that participantID may use for ttl from now,
// in the TURN REST scheme: username "<expiry unix>:<participant id>", credential
// base64(HMAC-SHA1(secret, username)).
func TURNCredentials(secret []byte, urls []string, participantID string, now time.Time, ttl time.Duration) ICEServer {
	username := strconv.FormatInt(now.Add(ttl).Unix(), 10) + ":" + participantID
	return ICEServer{
		URLs:       append([]string(nil), urls...),
		Username:   username,
		Credential: turnPassword(secret, username),
	}
}

// ExternalTURN hands out credentials for a TURN server run elsewhere (coturn with
// use-auth-secret and static-auth-secret set to Secret).
type ExternalTURN struct {
	// URLs are the turn: and turns: URLs of the server.
	URLs []string
	// Secret is the shared secret.
	Secret []byte
}

// Credentials are the ICE server a participant uses, valid for ttl from now.
func (e ExternalTURN) Credentials(participantID string, now time.Time, ttl time.Duration) ICEServer {
	return TURNCredentials(e.Secret, e.URLs, participantID, now, ttl)
}

func turnPassword(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
