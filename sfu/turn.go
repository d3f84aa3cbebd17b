package sfu

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST scheme coturn uses is HMAC-SHA1
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
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

// errRelayRefused is a datagram to or from a peer the relays may not reach.
var errRelayRefused = errors.New("sfu: TURN peer refused")

// errNoTCPRelay refuses TCP allocations (RFC 6062): WebRTC relays UDP only.
var errNoTCPRelay = errors.New("sfu: TURN relays UDP only")

// DefaultTURNListen is where the embedded TURN server listens by default: the standard
// TURN port on every address.
const DefaultTURNListen = ":3478"

// TURNParams configure the embedded TURN server.
type TURNParams struct {
	// Listen is the UDP address clients reach the server on, ":3478" for example.
	Listen string
	// TCPListen is the TCP address clients reach the server on (TURN over TCP, for
	// networks that let no UDP out); empty means Listen.
	TCPListen string
	// TLSListen is the TCP address of TURN over TLS (turns:), ":5349" or ":443" for
	// example; empty means none. TLSConfig is then required.
	TLSListen string
	// TLSConfig holds the certificate of TLSListen.
	TLSConfig *tls.Config
	// Host is the host in the turn: and turns: URLs handed out, a name the certificate
	// is valid for when TLS is on; empty means PublicIP.
	Host string
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
	// AllowPrivatePeers lets clients relay to loopback, private and shared addresses,
	// and to the server's own addresses. Off, only public peers are allowed: a TURN
	// server open to any authenticated client must not reach the inside of its network.
	// Reserved addresses (link-local, multicast, broadcast...: see classifyAddr) are
	// refused either way.
	AllowPrivatePeers bool
	// MediaPort is the UDP port of the SFU that runs beside this server: clients may
	// relay to that port of the server's own addresses, the very thing a TURN server
	// bundled with an SFU is for, and to no other port of them. 0 means none.
	MediaPort int
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Clock tells the time for the expiry of credentials; nil is the system clock.
	Clock Clock
}

// TURN is the embedded TURN server (RFC 8656), for clients whose network lets no media
// through to the SFU directly. Clients reach it over UDP, TCP or TLS and get UDP relays.
// They authenticate with short-lived credentials derived from a shared secret
// (TURNCredentials); they may relay only to public peers, and to the SFU's media port.
type TURN struct {
	p     TURNParams
	log   *slog.Logger
	clock Clock
	// peers says where clients may relay to. Its own addresses are the public, relay and
	// listen addresses, and every local one when the server listens on all of them.
	peers addrPolicy
	// public is PublicIP, the address of the relays.
	public netip.Addr

	relayMu sync.Mutex
	relays  map[uint16]int // ports of the relays allocated on public, and how many

	mu     sync.Mutex
	conn   net.PacketConn
	tcp    net.Listener
	tls    net.Listener // nil without TLSListen
	server *turn.Server
	closed bool
}

// NewTURN returns a TURN server configured by p; Start opens its ports.
func NewTURN(p TURNParams) (*TURN, error) {
	if len(p.Secret) < minTURNSecretLen {
		return nil, fmt.Errorf("sfu: TURN secret shorter than %d bytes", minTURNSecretLen)
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
	if p.Host == "" {
		p.Host = p.PublicIP
	}
	if p.TCPListen == "" {
		p.TCPListen = p.Listen
	}
	if p.TLSListen != "" && p.TLSConfig == nil {
		return nil, errors.New("sfu: TURN over TLS without a certificate")
	}
	if p.MediaPort < 0 || p.MediaPort > 65535 {
		return nil, fmt.Errorf("sfu: TURN media port %d out of range", p.MediaPort)
	}
	own := make(map[netip.Addr]bool)
	t := &TURN{p: p, log: p.Logger, clock: p.Clock, public: public.Unmap(), relays: make(map[uint16]int)}
	if t.log == nil {
		t.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if t.clock == nil {
		t.clock = systemClock{}
	}
	t.p.Secret = append([]byte(nil), p.Secret...)
	own[public.Unmap()] = true
	own[relay.Unmap()] = true
	listenUnspecified := false
	for _, listen := range []string{p.Listen, p.TCPListen, p.TLSListen} {
		if listen == "" {
			continue
		}
		host, _, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, fmt.Errorf("sfu: TURN listen address %q: %w", listen, err)
		}
		if host == "" {
			listenUnspecified = true
			continue
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return nil, fmt.Errorf("sfu: TURN listen address %q: want an IP address", listen)
		}
		own[a.Unmap().WithZone("")] = true
		listenUnspecified = listenUnspecified || a.IsUnspecified()
	}
	if listenUnspecified || relay.IsUnspecified() {
		// The server answers on every local address: none of them is a peer.
		host, err := hostAddrs()
		if err != nil {
			return nil, err
		}
		maps.Copy(own, host)
	}
	t.peers = addrPolicy{local: p.AllowPrivatePeers, private: p.AllowPrivatePeers, own: own}
	if p.MediaPort != 0 {
		t.peers.exempt = func(a netip.AddrPort) bool { return int(a.Port()) == p.MediaPort }
	}
	return t, nil
}

// Start opens the UDP and TCP ports, and the TLS one when configured, and serves TURN
// on them until Close.
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
	tcp, err := lc.Listen(ctx, "tcp", t.p.TCPListen)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("open TURN TCP port %s: %w", t.p.TCPListen, err)
	}
	var tlsLn net.Listener
	if t.p.TLSListen != "" {
		ln, err := lc.Listen(ctx, "tcp", t.p.TLSListen)
		if err != nil {
			_ = conn.Close()
			_ = tcp.Close()
			return fmt.Errorf("open TURN TLS port %s: %w", t.p.TLSListen, err)
		}
		tlsLn = tls.NewListener(ln, t.p.TLSConfig)
	}
	// Every listener relays through the same generator and the same peer filter.
	relays := &relayGenerator{
		t: t,
		RelayAddressGeneratorStatic: turn.RelayAddressGeneratorStatic{
			RelayAddress: net.ParseIP(t.p.PublicIP),
			Address:      t.p.RelayAddress,
		},
	}
	// Covers CreatePermission, ChannelBind and Connect; a Send indication or a channel's
	// data needs a permission, and the relay itself checks the peer's port.
	permission := func(_ net.Addr, peer net.IP) bool { return t.permissionAllowed(peer) }
	listeners := []turn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: relays, PermissionHandler: permission}}
	if tlsLn != nil {
		listeners = append(listeners, turn.ListenerConfig{Listener: tlsLn, RelayAddressGenerator: relays, PermissionHandler: permission})
	}
	server, err := turn.NewServer(turn.ServerConfig{
		Realm:         t.p.Realm,
		AuthHandler:   t.authenticate,
		LoggerFactory: pionLoggerFactory{log: t.log},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn:            conn,
			RelayAddressGenerator: relays,
			PermissionHandler:     permission,
		}},
		ListenerConfigs: listeners,
	})
	if err != nil {
		_ = conn.Close()
		_ = tcp.Close()
		if tlsLn != nil {
			_ = tlsLn.Close()
		}
		return fmt.Errorf("start TURN server: %w", err)
	}
	t.conn, t.tcp, t.tls, t.server = conn, tcp, tlsLn, server
	t.log.Info("turn started", "tls", tlsLn != nil, "private_peers", t.p.AllowPrivatePeers, "media_port", t.p.MediaPort)
	return nil
}

// Addr is the local address of the UDP port, nil before Start.
func (t *TURN) Addr() net.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil {
		return nil
	}
	return t.conn.LocalAddr()
}

// TCPAddr is the local address of the TCP port, nil before Start.
func (t *TURN) TCPAddr() net.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	return listenerAddr(t.tcp)
}

// TLSAddr is the local address of the TLS port, nil before Start or without TLS.
func (t *TURN) TLSAddr() net.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	return listenerAddr(t.tls)
}

func listenerAddr(l net.Listener) net.Addr {
	if l == nil {
		return nil
	}
	return l.Addr()
}

// Close stops the server, its allocations and its ports.
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
	return t.server.Close() // closes the packet conn and the listeners too
}

// Credentials are the ICE server a participant uses to reach this TURN server, valid
// for ttl from now: its UDP, TCP and, when configured, TLS URLs.
func (t *TURN) Credentials(participantID string, now time.Time, ttl time.Duration) ICEServer {
	urls := []string{
		"turn:" + t.hostPort(t.p.Listen, t.Addr()) + "?transport=udp",
		"turn:" + t.hostPort(t.p.TCPListen, t.TCPAddr()) + "?transport=tcp",
	}
	if t.p.TLSListen != "" {
		urls = append(urls, "turns:"+t.hostPort(t.p.TLSListen, t.TLSAddr())+"?transport=tcp")
	}
	return TURNCredentials(t.p.Secret, urls, participantID, now, ttl)
}

// hostPort is Host with the port of a listener: the one it got once started (listen
// may ask for any free port), the configured one before.
func (t *TURN) hostPort(listen string, addr net.Addr) string {
	_, port, _ := net.SplitHostPort(listen) // checked by NewTURN
	if addr != nil {
		_, port, _ = net.SplitHostPort(addr.String())
	}
	return net.JoinHostPort(t.p.Host, port)
}

// PeerAllowed tells whether a client may relay to peer: a public address, not one of the
// server's own, unless TURNParams.AllowPrivatePeers; never a reserved one.
func (t *TURN) PeerAllowed(peer net.IP) bool {
	a, ok := netip.AddrFromSlice(peer)
	if !ok {
		return false
	}
	c, ok := t.peers.allowIP(a)
	return ok && (c != addrOwn || t.p.AllowPrivatePeers)
}

// permissionAllowed tells whether a client may get a permission for peer: a peer that
// PeerAllowed allows, or one of the server's own addresses when the SFU's media port is
// there (the relay then reaches that port only).
func (t *TURN) permissionAllowed(peer net.IP) bool {
	a, ok := netip.AddrFromSlice(peer)
	if !ok {
		return false
	}
	_, ok = t.peers.allowIP(a)
	return ok
}

// relayAllowed tells whether a relay may send a datagram to addr, or pass one from it:
// a peer that PeerAllowed allows, or the SFU's media port on the server's own addresses.
func (t *TURN) relayAllowed(addr net.Addr) bool {
	u, ok := addr.(*net.UDPAddr)
	if !ok {
		return false
	}
	_, ok = t.peers.allow(u.AddrPort())
	return ok
}

// IsRelay tells whether a is the address of one of the relays the server has allocated
// and not yet closed: what an SFU beside it sees in a relayed client's candidates.
func (t *TURN) IsRelay(a netip.AddrPort) bool {
	if a.Addr().Unmap().WithZone("") != t.public {
		return false
	}
	t.relayMu.Lock()
	defer t.relayMu.Unlock()
	return t.relays[a.Port()] > 0
}

// relayOpened and relayClosed keep the count of the relays on each port of public.
func (t *TURN) relayOpened(port uint16) {
	t.relayMu.Lock()
	defer t.relayMu.Unlock()
	t.relays[port]++
}

func (t *TURN) relayClosed(port uint16) {
	t.relayMu.Lock()
	defer t.relayMu.Unlock()
	if t.relays[port]--; t.relays[port] <= 0 {
		delete(t.relays, port)
	}
}

// relayGenerator allocates UDP relays whose every datagram passes the peer filter;
// it refuses TCP relays (RFC 6062), which WebRTC does not use.
type relayGenerator struct {
	turn.RelayAddressGeneratorStatic
	t *TURN
}

// AllocatePacketConn allocates a UDP relay that reaches allowed peers only.
func (g *relayGenerator) AllocatePacketConn(c turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	conn, addr, err := g.RelayAddressGeneratorStatic.AllocatePacketConn(c)
	if err != nil {
		return nil, nil, err
	}
	r := &filteredRelay{PacketConn: conn, t: g.t}
	if u, ok := addr.(*net.UDPAddr); ok {
		r.port = uint16(u.Port) //nolint:gosec // a port number
		g.t.relayOpened(r.port)
	}
	return r, addr, nil
}

// AllocateListener refuses a TCP relay.
func (g *relayGenerator) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errNoTCPRelay
}

// AllocateConn refuses a connection of a TCP relay.
func (g *relayGenerator) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	return nil, errNoTCPRelay
}

// filteredRelay is a relay's socket: it sends to and hears from allowed peers only.
// Permissions are per IP address (RFC 8656); this is where the port counts.
type filteredRelay struct {
	net.PacketConn
	t     *TURN
	port  uint16 // the relay's port on PublicIP; 0 when unknown
	close sync.Once
}

// Close closes the relay's socket and forgets its port.
func (r *filteredRelay) Close() error {
	r.close.Do(func() {
		if r.port != 0 {
			r.t.relayClosed(r.port)
		}
	})
	return r.PacketConn.Close()
}

// WriteTo sends p to addr when the peer is allowed.
func (r *filteredRelay) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !r.t.relayAllowed(addr) {
		return 0, errRelayRefused
	}
	return r.PacketConn.WriteTo(p, addr)
}

// ReadFrom returns the next datagram from an allowed peer, dropping the others.
func (r *filteredRelay) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := r.PacketConn.ReadFrom(p)
		if err != nil || r.t.relayAllowed(addr) {
			return n, addr, err
		}
	}
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
