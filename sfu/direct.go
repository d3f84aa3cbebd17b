package sfu

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// Direct sending. The RTP packets the server forwards to a PeerConnection are
// encrypted with an SRTP context of the server's own and written to the media socket
// the connection's ICE pair uses, to the pair's remote address: Pion's SRTP session,
// its DTLS/SRTP demultiplexer, the ICE connection and the UDP mux (each with its own
// locks and bookkeeping per datagram) are left out of the per-packet path. Everything
// else stays with Pion: ICE (which address is verified and has consent), DTLS, RTCP in
// both directions, and what is received.
//
// The SRTP keys are those Pion derives (RFC 5764, section 4.2), from what the DTLS
// handshake reports to this connection alone: the server's random, cipher suite and
// SRTP profile (its ServerHello, through a hook that leaves the message as it is) and
// the client's random with the master secret (DTLS's key log, which here is an
// in-memory writer of the connection: nothing is written anywhere, and the secret is
// wiped once the keys are derived, or when the handshake ends without them). This
// needs the server to be the DTLS server of the connection, which it is when it answers
// an offer that leaves the choice (it answers passive, see keepOfferedRole) and when the
// client answers its offer actively, as browsers and Pion do. A connection whose keys
// are not known (the server was the DTLS client, a cipher suite or profile not known
// here) or whose ICE pair is on none of the server's sockets sends through Pion for its
// whole life. A connection never goes from one way to the other once it has sent: each
// RTP stream is encrypted by one context only, so that no sequence number is ever
// sealed twice under one key by two contexts. RTP header encryption (RFC 9335) is used
// as the remote description declares, as Pion does for its own session.
//
// Datagrams go only to the remote address of the pair ICE has selected while ICE is
// connected (or disconnected, waiting for consent, as Pion goes on sending): none while
// ICE checks again (a restart), once it has failed or closed, or once DTLS has ended.

// srtpExporterLabel is the label of RFC 5764's keying material exporter.
const srtpExporterLabel = "EXTRACTOR-dtls_srtp"

// directWay is how a PeerConnection's RTP is sent.
type directWay int32

const (
	wayUndecided directWay = iota // DTLS is not up: nothing is sent
	wayDirect                     // the server's SRTP context and socket
	wayPion                       // Pion's SRTP session and ICE connection
)

// dtlsSecrets gathers, during one connection's DTLS handshake, what its SRTP keys are
// derived from. The hook and the key log are called by the handshake's goroutine.
type dtlsSecrets struct {
	mu           sync.Mutex
	hello        bool // a ServerHello was sent
	serverRandom [handshake.RandomLength]byte
	suite        dtls.CipherSuiteID
	profile      srtp.ProtectionProfile
	clientRandom [handshake.RandomLength]byte
	master       []byte // nil until the key log line; wiped by context and wipe
}

// serverHello notes the server's random, suite and SRTP profile, and sends the message
// as it is.
func (k *dtlsSecrets) serverHello(m handshake.MessageServerHello) handshake.Message {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.hello = true
	k.serverRandom = m.Random.MarshalFixed()
	k.suite = 0
	if m.CipherSuiteID != nil {
		k.suite = dtls.CipherSuiteID(*m.CipherSuiteID)
	}
	k.profile = 0
	for _, e := range m.Extensions {
		if u, ok := e.(*extension.UseSRTP); ok && len(u.ProtectionProfiles) == 1 {
			k.profile = srtp.ProtectionProfile(u.ProtectionProfiles[0])
		}
	}
	return &m
}

// Write takes a key log line, "CLIENT_RANDOM <client random> <master secret>" in hex.
// It never fails, so that the handshake never logs a failure to write.
func (k *dtlsSecrets) Write(p []byte) (int, error) {
	fields := bytes.Fields(p)
	if len(fields) != 3 || string(fields[0]) != "CLIENT_RANDOM" {
		return len(p), nil
	}
	var random [handshake.RandomLength]byte
	if n, err := hex.Decode(random[:], fields[1]); err != nil || n != len(random) {
		return len(p), nil
	}
	master := make([]byte, hex.DecodedLen(len(fields[2])))
	if _, err := hex.Decode(master, fields[2]); err != nil {
		return len(p), nil
	}
	// The hex secret is in the buffer the handshake formatted the line into for this
	// writer alone (fmt's, pooled): it is wiped there rather than left readable until
	// the buffer is reused, the one write an io.Writer makes to what it is given.
	clear(fields[2])
	k.mu.Lock()
	defer k.mu.Unlock()
	k.wipeLocked()
	k.clientRandom, k.master = random, master
	return len(p), nil
}

// wipe forgets the master secret: the handshake ended without keys derived.
func (k *dtlsSecrets) wipe() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.wipeLocked()
}

// wipeLocked forgets the master secret; k.mu is held.
func (k *dtlsSecrets) wipeLocked() {
	clear(k.master)
	k.master = nil
}

// errNoKeys is a connection whose SRTP keys cannot be derived here.
var errNoKeys = errors.New("sfu: the connection's SRTP keys are not known")

// context derives the server's sending SRTP context and wipes the master secret.
func (k *dtlsSecrets) context() (*srtp.Context, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	defer k.wipeLocked()
	if !k.hello || k.master == nil {
		return nil, errNoKeys
	}
	h, ok := prfHash(k.suite)
	if !ok {
		return nil, fmt.Errorf("%w: cipher suite %#04x", errNoKeys, uint16(k.suite))
	}
	switch k.profile {
	case srtp.ProtectionProfileAeadAes256Gcm, srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAes128CmHmacSha1_80:
	default:
		return nil, fmt.Errorf("%w: SRTP profile %#04x", errNoKeys, uint16(k.profile))
	}
	cfg := srtp.Config{Profile: k.profile}
	if err := cfg.ExtractSessionKeysFromDTLS(exporter{k: k, hash: h}, false); err != nil {
		return nil, fmt.Errorf("%w: %w", errNoKeys, err)
	}
	defer func() {
		clear(cfg.Keys.LocalMasterKey)
		clear(cfg.Keys.LocalMasterSalt)
		clear(cfg.Keys.RemoteMasterKey)
		clear(cfg.Keys.RemoteMasterSalt)
	}()
	return srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, k.profile)
}

// exporter is the TLS keying material exporter (RFC 5705) of k's handshake, seen from
// the server; k.mu is held.
type exporter struct {
	k    *dtlsSecrets
	hash prf.HashFunc
}

func (e exporter) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	if label != srtpExporterLabel || len(context) != 0 {
		return nil, errNoKeys
	}
	seed := make([]byte, 0, len(label)+2*handshake.RandomLength)
	seed = append(append(append(seed, label...), e.k.clientRandom[:]...), e.k.serverRandom[:]...)
	return prf.PHash(e.k.master, seed, length, e.hash)
}

// prfHash is the hash of a cipher suite's pseudo-random function, for the suites Pion
// offers in WebRTC.
func prfHash(s dtls.CipherSuiteID) (prf.HashFunc, bool) {
	switch s {
	case dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, dtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return sha512.New384, true
	case dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, dtls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		dtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, dtls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
		return sha256.New, true
	}
	return nil, false
}

// directSender sends one PeerConnection's RTP packets, see "Direct sending" above.
type directSender struct {
	secrets dtlsSecrets
	sockets *sendBatcher
	log     *slog.Logger

	way  atomic.Int32 // a directWay
	dest atomic.Pointer[destination]

	// routeMu serialises the changes of dest: each works it out again from the ICE
	// transport's state and selected pair, so that notifications coming in any order
	// (Pion sends them from different goroutines) leave the last truth.
	routeMu sync.Mutex
	ended   bool // DTLS has closed or failed: nothing is routed any more

	mu sync.Mutex // guards ctx and cryptex: an SRTP context keeps each stream's rollover state
	// ctx seals what is sent directly; nil until the way is decided.
	ctx *srtp.Context
	// cryptex is whether the last remote description declared RTP header encryption.
	cryptex bool
}

// destination is where a PeerConnection's datagrams go: the remote address of its
// selected ICE pair, through the server's socket of the pair's local candidate.
type destination struct {
	conn *batchConn
	to   netip.AddrPort
}

// newDirectSenderOf is the directSender of a member of s, logging to log; nil when s
// sends through Pion.
func newDirectSenderOf(s *Server, log *slog.Logger) *directSender {
	if s.cfg.ThroughPion {
		return nil
	}
	return &directSender{sockets: s.batcher, log: log}
}

// directAPI is the Pion API of a PeerConnection whose RTP d sends.
func (s *Server) directAPI(d *directSender) *webrtc.API {
	s.mu.Lock()
	media := s.media
	s.mu.Unlock()
	return media.direct(d)
}

// settings are the PeerConnection's DTLS settings that give d its secrets.
func (d *directSender) settings(se *webrtc.SettingEngine) {
	se.SetDTLSServerHelloMessageHook(d.secrets.serverHello)
	se.SetDTLSKeyLogWriter(&d.secrets)
}

// watch follows pc's DTLS and ICE transports: the way is decided once DTLS is
// connected, and the destination follows ICE's state and selected pair until DTLS ends.
// The handlers run on Pion's goroutines and never call into the PeerConnection, whose
// lock Pion may hold around them.
func (d *directSender) watch(pc *webrtc.PeerConnection) {
	dt := pc.SCTP().Transport()
	it := dt.ICETransport()
	it.OnSelectedCandidatePairChange(func(*webrtc.ICECandidatePair) { d.reroute(it, false) })
	it.OnConnectionStateChange(func(webrtc.ICETransportState) { d.reroute(it, false) })
	dt.OnStateChange(func(s webrtc.DTLSTransportState) {
		switch s {
		case webrtc.DTLSTransportStateConnected:
			d.reroute(it, false)
			d.decide()
		case webrtc.DTLSTransportStateClosed, webrtc.DTLSTransportStateFailed:
			d.reroute(it, true)
			d.secrets.wipe()
		}
	})
}

// reroute works out the destination again from it; end marks DTLS ended, after which
// there is none.
func (d *directSender) reroute(it *webrtc.ICETransport, end bool) {
	d.routeMu.Lock()
	defer d.routeMu.Unlock()
	d.ended = d.ended || end
	var dest *destination
	if !d.ended {
		switch it.State() {
		case webrtc.ICETransportStateConnected, webrtc.ICETransportStateCompleted, webrtc.ICETransportStateDisconnected:
			if pair, err := it.GetSelectedCandidatePair(); err == nil {
				dest = d.sockets.destinationOf(pair)
			}
		}
	}
	d.dest.Store(dest)
}

// decide chooses, once, how the connection's RTP is sent.
func (d *directSender) decide() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if directWay(d.way.Load()) != wayUndecided {
		return
	}
	// The header encryption is the last description's, recorded under mu by described:
	// one set meanwhile is applied by described once the context is there.
	ctx, err := d.secrets.context()
	if err == nil {
		err = ctx.UpdateOptions(srtp.Cryptex(cryptexMode(d.cryptex)))
	}
	if err == nil && d.dest.Load() == nil {
		err = errors.New("sfu: the selected ICE pair is on none of the server's sockets")
	}
	if err != nil {
		d.log.Debug("media sent through Pion", "reason", err)
		d.way.Store(int32(wayPion))
		d.sockets.pionConns.Add(1)
		return
	}
	d.ctx = ctx
	d.way.Store(int32(wayDirect))
	d.sockets.directConns.Add(1)
}

// keepOfferedRole is the text of an answer sent to a client: with the DTLS setup an
// offer of passive asks for. The server's PeerConnections answer passive (the DTLS
// server, for direct sending), which only an offer of actpass or active leaves them: to
// an offer of passive (FFmpeg's WHIP muxer sends one) Pion's answer says passive too
// while Pion acts as the client, as the offer asks, and a client that believed it would
// be a second DTLS client. Pion keeps its own answer as it made it (it refuses an edited
// one); the client is told active, what the server does: it is the DTLS client, and the
// connection sends through Pion.
func keepOfferedRole(answer string, offer *webrtc.SessionDescription) string {
	if offer == nil || !slices.Contains(strings.Split(strings.ReplaceAll(offer.SDP, "\r\n", "\n"), "\n"), "a=setup:passive") {
		return answer
	}
	return strings.ReplaceAll(answer, "a=setup:passive", "a=setup:active")
}

// described takes the remote description the PeerConnection was just given: what is
// sent has its RTP header extensions encrypted (RFC 9335) when that description
// declares the remote can receive them so, as Pion decides for its own session.
func (d *directSender) described(remote *webrtc.SessionDescription) error {
	on := headerEncryption(remote)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cryptex = on
	if d.ctx == nil {
		return nil // decide applies it when it makes the context
	}
	return d.ctx.UpdateOptions(srtp.Cryptex(cryptexMode(on)))
}

func cryptexMode(on bool) srtp.CryptexMode {
	if on {
		return srtp.CryptexModeEnabled
	}
	return srtp.CryptexModeDisabled
}

// headerEncryption tells whether a remote description declares RTP header encryption
// (RFC 9335) for its RTP media: at the session level, or on its media sections, where
// a section of a BUNDLE group inherits it from the group's first (tag) section and a
// rejected section does not count. Pion refuses a description that declares it for
// some RTP sections and not others.
func headerEncryption(remote *webrtc.SessionDescription) bool {
	if remote == nil {
		return false
	}
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(remote.SDP); err != nil {
		return false
	}
	if _, ok := desc.Attribute(sdp.AttrKeyCryptex); ok {
		return true
	}
	var tag *sdp.MediaDescription
	var bundled []string
	if group, ok := desc.Attribute(sdp.AttrKeyGroup); ok {
		if fields := strings.Fields(group); len(fields) > 1 && fields[0] == "BUNDLE" {
			bundled = fields[1:]
			for _, m := range desc.MediaDescriptions {
				if mid, _ := m.Attribute(sdp.AttrKeyMID); mid == bundled[0] {
					tag = m
				}
			}
		}
	}
	for _, m := range desc.MediaDescriptions {
		if _, only := m.Attribute("bundle-only"); m.MediaName.Port.Value == 0 && !only {
			continue
		}
		if m.MediaName.Media == "application" {
			continue
		}
		if _, ok := m.Attribute(sdp.AttrKeyCryptex); ok {
			return true
		}
		mid, _ := m.Attribute(sdp.AttrKeyMID)
		if tag != nil && slices.Contains(bundled, mid) {
			if _, ok := tag.Attribute(sdp.AttrKeyCryptex); ok {
				return true
			}
		}
	}
	return false
}

// destinationOf is where pair's datagrams go: its remote address, through the
// server's socket of its local candidate; nil for a pair over TCP or on none of the
// server's sockets.
func (b *sendBatcher) destinationOf(pair *webrtc.ICECandidatePair) *destination {
	if pair == nil || pair.Local == nil || pair.Remote == nil || pair.Local.Protocol != webrtc.ICEProtocolUDP {
		return nil
	}
	remote, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		return nil
	}
	to := netip.AddrPortFrom(remote.Unmap(), pair.Remote.Port)
	conn := b.socketFor(pair.Local.Address, pair.Local.Port, to.Addr().Is4())
	if conn == nil {
		return nil
	}
	return &destination{conn: conn, to: to}
}

// socketFor finds the server's socket of a local candidate: the one bound to its
// address and port, else (a candidate carrying a public address of 1:1 NAT) the only
// socket of the destination's family on that port.
func (b *sendBatcher) socketFor(address string, port uint16, v4 bool) *batchConn {
	local, err := netip.ParseAddr(address)
	want := netip.AddrPortFrom(local.Unmap(), port)
	var only *batchConn
	n := 0
	for _, c := range *b.conns.Load() {
		a, ok := c.LocalAddr().(*net.UDPAddr)
		if !ok {
			continue
		}
		ap := a.AddrPort()
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		if err == nil && ap == want {
			return c
		}
		if ap.Port() == port && ap.Addr().Is4() == v4 && !ap.Addr().IsLoopback() {
			only = c
			n++
		}
	}
	if n == 1 {
		return only
	}
	return nil
}

// send encrypts the packet of header h and payload into sc and writes it to the
// destination. It reports 0 when nothing was sent (no destination, a packet too
// large), as Pion's writer does before DTLS is up.
func (d *directSender) send(h *rtp.Header, payload []byte, sc *scratch) (int, error) {
	dest := d.dest.Load()
	if dest == nil {
		return 0, nil
	}
	if sc.sealing == nil {
		sc.sealing = new(sealing)
	}
	b := sc.sealing
	n, err := h.MarshalTo(b.plain[:])
	if err != nil {
		return 0, err
	}
	if n+len(payload) > len(b.plain) {
		return 0, nil
	}
	n += copy(b.plain[n:], payload)
	d.mu.Lock()
	sealed, err := d.ctx.EncryptRTP(b.sealed[:0], b.plain[:n], &b.hdr)
	d.mu.Unlock()
	if err != nil {
		return 0, err
	}
	d.sockets.direct.Add(1)
	return dest.conn.WriteToAddrPort(sealed, dest.to)
}
