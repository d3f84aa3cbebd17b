package sfu

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"
)

// A meeting's media goes out directly: every connection's RTP is encrypted by the
// server's own contexts, and the receivers, Pion peers, decrypt it. With ThroughPion,
// the same meeting's media goes through Pion's SRTP session.
func TestMediaSentDirectly(t *testing.T) {
	for _, throughPion := range []bool{false, true} {
		t.Run(fmt.Sprintf("throughPion=%v", throughPion), func(t *testing.T) {
			srv := newTestServer(t, func(p *Params) { p.WebRTC.ThroughPion = throughPion })
			publishToBob(t, srv, 50)
			got := srv.SendStats()
			if throughPion {
				require.Zero(t, got.Direct, "got %+v", got)
				require.Zero(t, got.DirectConnections+got.PionConnections, "not counted when off: got %+v", got)
				return
			}
			require.EqualValues(t, 2, got.DirectConnections, "got %+v", got)
			require.Zero(t, got.PionConnections, "got %+v", got)
			require.GreaterOrEqual(t, got.Direct, uint64(50), "got %+v", got)
		})
	}
}

// The keys derived from what a DTLS server's handshake reports are those the client
// derives: a packet the server's context seals, the client's opens. Every cipher suite
// Pion offers in WebRTC, with and without the extended master secret, and each SRTP
// profile.
func TestDirectKeysAreTheHandshakes(t *testing.T) {
	suites := []dtls.CipherSuiteID{
		dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
		dtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	}
	profiles := []dtls.SRTPProtectionProfile{
		dtls.SRTP_AEAD_AES_256_GCM, dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80,
	}
	for _, suite := range suites {
		for _, profile := range profiles {
			for _, ems := range []dtls.ExtendedMasterSecretType{dtls.RequireExtendedMasterSecret, dtls.DisableExtendedMasterSecret} {
				t.Run(suite.String()+"/"+srtp.ProtectionProfile(profile).String(), func(t *testing.T) {
					var secrets dtlsSecrets
					client := dtlsHandshake(t, suite, profile, ems, &secrets)
					sealer, err := secrets.context()
					require.NoError(t, err)
					require.Nil(t, secrets.master, "the master secret is wiped")

					state, ok := client.ConnectionState()
					require.True(t, ok)
					cfg := srtp.Config{Profile: srtp.ProtectionProfile(profile)}
					require.NoError(t, cfg.ExtractSessionKeysFromDTLS(&state, true))
					opener, err := srtp.CreateContext(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt, cfg.Profile)
					require.NoError(t, err)

					pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 7, Timestamp: 90000, SSRC: 42}, Payload: []byte("a frame")}
					raw, err := pkt.Marshal()
					require.NoError(t, err)
					sealed, err := sealer.EncryptRTP(nil, raw, nil)
					require.NoError(t, err)
					opened, err := opener.DecryptRTP(nil, sealed, nil)
					require.NoError(t, err)
					require.Equal(t, raw, opened)
				})
			}
		}
	}
}

// Without a server hello (the server was the DTLS client) or a key log line, no keys.
func TestDirectKeysNeedTheWholeHandshake(t *testing.T) {
	var none dtlsSecrets
	_, err := none.context()
	require.ErrorIs(t, err, errNoKeys)

	var noHello dtlsSecrets
	_, err = noHello.Write([]byte("CLIENT_RANDOM " + hex32(1) + " " + hex32(2) + hex32(3) + "\n"))
	require.NoError(t, err)
	_, err = noHello.context()
	require.ErrorIs(t, err, errNoKeys)
	require.Nil(t, noHello.master)

	var garbage dtlsSecrets
	for _, line := range []string{"", "CLIENT_RANDOM", "CLIENT_RANDOM zz zz", "SERVER_RANDOM " + hex32(1) + " " + hex32(2), "CLIENT_RANDOM 0102 0304"} {
		n, err := garbage.Write([]byte(line))
		require.NoError(t, err)
		require.Equal(t, len(line), n)
	}
	require.Nil(t, garbage.master)
}

func hex32(b byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 64)
	for i := 0; i < 64; i += 2 {
		out[i], out[i+1] = digits[b>>4], digits[b&15]
	}
	return string(out)
}

// dtlsHandshake runs a DTLS handshake over loopback UDP between a client and a server
// whose hello and key log go to secrets, and returns the client's end.
func dtlsHandshake(t *testing.T, suite dtls.CipherSuiteID, profile dtls.SRTPProtectionProfile, ems dtls.ExtendedMasterSecretType, secrets *dtlsSecrets) *dtls.Conn {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	cert, err := selfsign.SelfSign(key)
	require.NoError(t, err)
	a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	b, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	server, err := dtls.Server(a, b.LocalAddr(), &dtls.Config{
		Certificates:           []tls.Certificate{cert},
		CipherSuites:           []dtls.CipherSuiteID{suite},
		SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{profile},
		ExtendedMasterSecret:   ems,
		ClientAuth:             dtls.RequireAnyClientCert,
		KeyLogWriter:           secrets,
		ServerHelloMessageHook: secrets.serverHello,
	})
	require.NoError(t, err)
	client, err := dtls.Client(b, a.LocalAddr(), &dtls.Config{
		Certificates:           []tls.Certificate{cert},
		CipherSuites:           []dtls.CipherSuiteID{suite},
		SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{profile},
		ExtendedMasterSecret:   ems,
		InsecureSkipVerify:     true,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	done := make(chan error, 1)
	go func() { done <- server.HandshakeContext(ctx) }()
	require.NoError(t, client.HandshakeContext(ctx))
	require.NoError(t, <-done)
	return client
}

// A pair is routed through the server's socket of its local candidate, to its remote
// address; a pair the server has no socket for, or over TCP, is not routed.
func TestDirectRoute(t *testing.T) {
	b := newSendBatcher()
	mux := loopbackMux(t, b)
	local := mux.GetListenAddresses()[0].(*net.UDPAddr)

	pair := func(laddr string, lport int, proto webrtc.ICEProtocol, raddr string) *webrtc.ICECandidatePair {
		return webrtc.NewICECandidatePair(
			&webrtc.ICECandidate{Address: laddr, Port: uint16(lport), Protocol: proto, Typ: webrtc.ICECandidateTypeHost},
			&webrtc.ICECandidate{Address: raddr, Port: 5000, Protocol: webrtc.ICEProtocolUDP, Typ: webrtc.ICECandidateTypeSrflx},
		)
	}
	dest := b.destinationOf(pair("127.0.0.1", local.Port, webrtc.ICEProtocolUDP, "203.0.113.9"))
	require.NotNil(t, dest)
	require.Same(t, (*b.conns.Load())[0], dest.conn)
	require.Equal(t, "203.0.113.9:5000", dest.to.String())

	require.Nil(t, b.destinationOf(pair("127.0.0.1", local.Port+1, webrtc.ICEProtocolUDP, "203.0.113.9")), "no socket of the server's")
	require.Nil(t, b.destinationOf(pair("127.0.0.1", local.Port, webrtc.ICEProtocolTCP, "203.0.113.9")), "TCP")
	require.Nil(t, b.destinationOf(pair("127.0.0.1", local.Port, webrtc.ICEProtocolUDP, "not an address")))
	// A public address of 1:1 NAT matches no loopback socket.
	require.Nil(t, b.destinationOf(pair("198.51.100.1", local.Port, webrtc.ICEProtocolUDP, "203.0.113.9")))
	require.Nil(t, b.destinationOf(nil))
}

// Sending directly allocates nothing per packet.
func TestDirectSendDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sendmmsg's buffers come from a sync.Pool, which the race detector empties at random")
	}
	b := newSendBatcher()
	loopbackMux(t, b)
	dst, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = dst.Close() })
	ctx, err := srtp.CreateContext(make([]byte, 32), make([]byte, 12), srtp.ProtectionProfileAeadAes256Gcm, srtp.Cryptex(srtp.CryptexModeEnabled))
	require.NoError(t, err)
	d := &directSender{sockets: b, ctx: ctx}
	d.dest.Store(&destination{conn: (*b.conns.Load())[0], to: dst.LocalAddr().(*net.UDPAddr).AddrPort()})

	sc := &scratch{}
	h := rtp.Header{Version: 2, PayloadType: 111, SSRC: 9, Timestamp: 1}
	require.NoError(t, h.SetExtension(1, []byte{0x90}))
	payload := make([]byte, 1100)
	allocs := testing.AllocsPerRun(200, func() {
		h.SequenceNumber++
		b.hold()
		n, err := d.send(&h, payload, sc)
		b.release()
		if err != nil || n == 0 {
			t.Fatalf("sent %d: %v", n, err)
		}
	})
	require.Zero(t, allocs)
	require.EqualValues(t, 201, b.stats().Direct)
}

// Header encryption is declared at the session level or on every RTP section (a
// bundled section inherits the tag's); a rejected or data section does not count.
func TestHeaderEncryptionDeclared(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
	const bundle = "a=group:BUNDLE 0 1\r\n"
	audio := func(port, mid string, extra ...string) string {
		s := "m=audio " + port + " UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:" + mid + "\r\n"
		for _, e := range extra {
			s += e + "\r\n"
		}
		return s
	}
	for _, tc := range []struct {
		name string
		sdp  string
		want bool
	}{
		{"none", head + bundle + audio("9", "0") + audio("9", "1"), false},
		{"session", head + "a=cryptex\r\n" + audio("9", "0"), true},
		{"every section", head + audio("9", "0", "a=cryptex") + audio("9", "1", "a=cryptex"), true},
		{"the bundle tag", head + bundle + audio("9", "0", "a=cryptex") + audio("9", "1"), true},
		{"a rejected section", head + audio("0", "0", "a=cryptex") + audio("9", "1"), false},
		{"data only", head + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=cryptex\r\n", false},
		{"not SDP", "cryptex", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, headerEncryption(&webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: tc.sdp}))
		})
	}
	require.False(t, headerEncryption(nil))
}

// Once a subscriber's PeerConnection is closed, nothing more is sent to it directly: its
// DTLS close ends the route, whatever the room still forwards.
func TestDirectSendingStopsWithTheConnection(t *testing.T) {
	srv := newTestServer(t)
	_, bob := publishToBob(t, srv, 20)
	room, ok := srv.Room("r1")
	require.True(t, ok)
	room.mu.Lock()
	m := room.participants["bob"]
	room.mu.Unlock()
	require.NotNil(t, m)
	require.Equal(t, wayDirect, directWay(m.direct.way.Load()))
	require.NotNil(t, m.direct.dest.Load(), "routed while connected")

	require.NoError(t, bob.PeerConnection().Close())
	require.Eventually(t, func() bool { return m.direct.dest.Load() == nil }, waitFor, 10*time.Millisecond,
		"the route ends with the connection")
}
