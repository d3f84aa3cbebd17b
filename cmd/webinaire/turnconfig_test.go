package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/stretchr/testify/require"

	"webinaire/sfu"
)

func TestTURNConfig(t *testing.T) {
	cfg, err := LoadConfig("", nil)
	require.NoError(t, err)
	require.Equal(t, "off", cfg.Media.TURN.Mode, "TURN is off by default")
	creds, closer, err := newTURN(context.Background(), cfg.Media, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Nil(t, creds, "no TURN server when off")
	require.Nil(t, closer)

	cfg, err = LoadConfig(writeConfig(t, "media:\n  turn:\n    mode: external\n    urls: [\"turn:turn.example.org:3478\"]\n"),
		[]string{"WEBINAIRE_MEDIA_TURN_SECRET=0123456789abcdef-coturn"})
	require.NoError(t, err)
	creds, _, err = newTURN(context.Background(), cfg.Media, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ice := creds.Credentials("p1", time.Unix(1000, 0), time.Hour)
	require.Equal(t, sfu.TURNCredentials([]byte("0123456789abcdef-coturn"), []string{"turn:turn.example.org:3478"}, "p1", time.Unix(1000, 0), time.Hour), ice)

	cases := []struct{ file, want string }{
		{"media:\n  turn:\n    mode: maybe\n", "key media.turn.mode: want off, embedded or external"},
		{"media:\n  turn:\n    mode: embedded\n", "key media.turn.public_ip"},
		{"media:\n  turn:\n    mode: embedded\n    public_ip: 203.0.113.7\n    listen: nowhere\n", "key media.turn.listen"},
		{"media:\n  turn:\n    mode: embedded\n    public_ip: 203.0.113.7\n    secret_file: \"\"\n", "key media.turn.secret_file"},
		{"media:\n  turn:\n    mode: external\n    secret: 0123456789abcdef\n", "key media.turn.urls: must list"},
		{"media:\n  turn:\n    mode: external\n    secret: 0123456789abcdef\n    urls: [\"https://turn.example.org\"]\n", "key media.turn.urls: want turn: or turns:"},
		{"media:\n  turn:\n    mode: external\n    urls: [\"turn:turn.example.org\"]\n    secret: short\n", "key media.turn.secret"},
		{"media:\n  turn:\n    allow_private_peers: sometimes\n", "key media.turn.allow_private_peers (line 3): wrong type"},
		{"media:\n  turn_listen: \":3478\"\n", "unknown key media.turn_listen (line 2): the TURN keys are under media.turn now, media.turn.listen"},
	}
	for _, tc := range cases {
		_, err := LoadConfig(writeConfig(t, tc.file), nil)
		require.Error(t, err, tc.file)
		require.Contains(t, err.Error(), tc.want)
	}
}

func TestEmbeddedTURNFromConfig(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "turn.key")
	cfg, err := LoadConfig(writeConfig(t, "media:\n  turn:\n    mode: embedded\n    listen: 127.0.0.1:0\n    public_ip: 203.0.113.7\n    secret_file: "+keyFile+"\n"), nil)
	require.NoError(t, err)
	creds, closer, err := newTURN(context.Background(), cfg.Media, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NotNil(t, closer, "the embedded server is started and must be closed")
	defer closer.Close()
	secret, err := loadOrCreateKey(keyFile, "TURN secret")
	require.NoError(t, err, "the secret file was created")
	ice := creds.Credentials("p1", time.Unix(1000, 0), time.Hour)
	require.Len(t, ice.URLs, 2, "UDP and TCP")
	require.True(t, strings.HasPrefix(ice.URLs[0], "turn:203.0.113.7:"), "got %s", ice.URLs[0])
	require.True(t, strings.HasSuffix(ice.URLs[1], "?transport=tcp"), "got %s", ice.URLs[1])
	require.Equal(t, sfu.TURNCredentials(secret, ice.URLs, "p1", time.Unix(1000, 0), time.Hour), ice)
}

// TestSFUKnowsTheEmbeddedTURNRelays: with the embedded TURN server, the SFU accepts a
// relayed client's candidates, which carry the TURN server's public address (the host's
// own): its live relays, and no other port of that address.
func TestSFUKnowsTheEmbeddedTURNRelays(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "turn.key")
	cfg, err := LoadConfig(writeConfig(t, "media:\n  allow_private_candidates: true\n  turn:\n    mode: embedded\n    listen: 127.0.0.1:0\n    public_ip: 127.0.0.1\n    secret_file: "+keyFile+"\n"), nil)
	require.NoError(t, err)
	creds, closer, err := newTURN(context.Background(), cfg.Media, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer closer.Close()
	w := webRTCConfig(cfg.Media, creds)
	require.True(t, w.AllowPrivateCandidates)
	require.NotNil(t, w.Relays, "the SFU does not know the embedded TURN server's relays")

	ice := creds.Credentials("p1", time.Now(), time.Hour)
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer conn.Close()
	addr := strings.TrimSuffix(strings.TrimPrefix(ice.URLs[0], "turn:"), "?transport=udp")
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: ice.Username, Password: ice.Credential, Realm: sfu.DefaultTURNRealm,
	})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Listen())
	relay, err := c.Allocate()
	require.NoError(t, err)
	defer relay.Close()
	at := relay.LocalAddr().(*net.UDPAddr).AddrPort()
	require.True(t, w.Relays(at), "relay %s not known to the SFU", at)
	require.False(t, w.Relays(netip.AddrPortFrom(at.Addr(), 22)), "another port of the server taken for a relay")

	off, err := LoadConfig("", nil)
	require.NoError(t, err)
	creds, _, err = newTURN(context.Background(), off.Media, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Nil(t, webRTCConfig(off.Media, creds).Relays, "relays without a TURN server")
}

func TestTURNConfigOfTCPAndTLS(t *testing.T) {
	embedded := "media:\n  turn:\n    mode: embedded\n    public_ip: 203.0.113.7\n"
	cases := []struct{ file, want string }{
		{embedded + "    tcp_listen: nowhere\n", "key media.turn.tcp_listen: want host:port"},
		{embedded + "    tls_listen: \":99999\"\n    tls_cert_file: c\n    tls_key_file: k\n", "key media.turn.tls_listen: port out of range"},
		{embedded + "    tls_listen: \":5349\"\n    tls_key_file: k\n", "key media.turn.tls_cert_file: set it with media.turn.tls_listen"},
		{embedded + "    tls_listen: \":5349\"\n    tls_cert_file: c\n", "key media.turn.tls_key_file: set it with media.turn.tls_listen"},
		{embedded + "    tls_cert_file: c\n    tls_key_file: k\n", "key media.turn.tls_cert_file: set it with media.turn.tls_listen"},
		{embedded + "    host: \"turn.example.org:5349\"\n", "key media.turn.host: want a host name"},
		{embedded + "  udp_port: 0\n", "key media.udp_port: the embedded TURN server relays to the media port"},
	}
	for _, tc := range cases {
		_, err := LoadConfig(writeConfig(t, tc.file), nil)
		require.Error(t, err, tc.file)
		require.Contains(t, err.Error(), tc.want)
	}
	for _, host := range []string{"turn.example.org", "203.0.113.7", "2001:db8::7"} {
		_, err := LoadConfig(writeConfig(t, embedded+"    host: \""+host+"\"\n"), nil)
		require.NoError(t, err, "turn_host %s", host)
	}
}

// writeCertificate writes a self-signed certificate for host and its key to dir, and
// returns the files and the certificate.
func writeCertificate(t *testing.T, dir, host string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial,
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, &x509.Certificate{SerialNumber: serial, DNSNames: []string{host}}, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err = x509.ParseCertificate(der)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "turn.crt"), filepath.Join(dir, "turn.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile, cert
}

// handshake connects to addr over TLS for host, trusting roots, and returns the
// certificate the server showed.
func handshake(t *testing.T, addr, host string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func TestEmbeddedTURNOverTLSFromConfig(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, cert := writeCertificate(t, dir, "turn.example.test")
	file := "media:\n  turn:\n    mode: embedded\n    listen: 127.0.0.1:0\n    tcp_listen: 127.0.0.1:0\n" +
		"    tls_listen: 127.0.0.1:0\n    host: turn.example.test\n    public_ip: 203.0.113.7\n" +
		"    secret_file: " + filepath.Join(dir, "turn.key") + "\n" +
		"    tls_cert_file: " + certFile + "\n    tls_key_file: " + keyFile + "\n"
	cfg, err := LoadConfig(writeConfig(t, file), nil)
	require.NoError(t, err)
	creds, closer, err := newTURN(context.Background(), cfg.Media, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer closer.Close()

	ice := creds.Credentials("p1", time.Unix(1000, 0), time.Hour)
	require.Len(t, ice.URLs, 3, "got %v", ice.URLs)
	require.True(t, strings.HasPrefix(ice.URLs[0], "turn:turn.example.test:") && strings.HasSuffix(ice.URLs[0], "?transport=udp"), "got %s", ice.URLs[0])
	require.True(t, strings.HasPrefix(ice.URLs[1], "turn:turn.example.test:") && strings.HasSuffix(ice.URLs[1], "?transport=tcp"), "got %s", ice.URLs[1])
	tlsURL := ice.URLs[2]
	require.True(t, strings.HasPrefix(tlsURL, "turns:turn.example.test:") && strings.HasSuffix(tlsURL, "?transport=tcp"), "got %s", tlsURL)
	port := strings.TrimSuffix(strings.TrimPrefix(tlsURL, "turns:turn.example.test:"), "?transport=tcp")
	addr := "127.0.0.1:" + port

	roots := x509.NewCertPool()
	roots.AddCert(cert)
	require.Equal(t, cert.Raw, handshake(t, addr, "turn.example.test", roots).Raw)

	// A renewed certificate is served without a restart.
	_, _, renewed := writeCertificate(t, dir, "turn.example.test")
	later := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(certFile, later, later))
	require.NoError(t, os.Chtimes(keyFile, later, later))
	roots.AddCert(renewed)
	require.Equal(t, renewed.Raw, handshake(t, addr, "turn.example.test", roots).Raw)
}

func TestEmbeddedTURNRefusesABadCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := writeCertificate(t, dir, "turn.example.test")
	other := t.TempDir()
	_, otherKey, _ := writeCertificate(t, other, "turn.example.test")
	garbage := filepath.Join(dir, "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not a PEM file"), 0o600))
	cases := []struct {
		name, cert, key, host, want string
	}{
		{"missing certificate", filepath.Join(dir, "none.crt"), keyFile, "turn.example.test", "key media.turn.tls_cert_file"},
		{"missing key", certFile, filepath.Join(dir, "none.pem"), "turn.example.test", "key media.turn.tls_key_file"},
		{"key of another certificate", certFile, otherKey, "turn.example.test", "keys media.turn.tls_cert_file, media.turn.tls_key_file"},
		{"not PEM", garbage, keyFile, "turn.example.test", "keys media.turn.tls_cert_file, media.turn.tls_key_file"},
		{"certificate of another host", certFile, keyFile, "turn.example.org", "keys media.turn.host, media.turn.tls_cert_file"},
		{"no host: the public address", certFile, keyFile, "", "keys media.turn.host, media.turn.tls_cert_file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := LoadConfig("", nil)
			require.NoError(t, err)
			cfg.Media.TURN.Mode, cfg.Media.TURN.PublicIP = turnEmbedded, "203.0.113.7"
			cfg.Media.TURN.Listen, cfg.Media.TURN.TLSListen = "127.0.0.1:0", "127.0.0.1:0"
			cfg.Media.TURN.SecretFile = filepath.Join(dir, "turn.key")
			cfg.Media.TURN.TLSCertFile, cfg.Media.TURN.TLSKeyFile, cfg.Media.TURN.Host = tc.cert, tc.key, tc.host
			require.NoError(t, cfg.Validate())
			_, closer, err := newTURN(context.Background(), cfg.Media, slog.New(slog.DiscardHandler))
			require.Error(t, err, "the TURN server started")
			require.Nil(t, closer)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestJoinedMessagesCarryTURNCredentials(t *testing.T) {
	require.Nil(t, iceServersFor(nil), "no TURN, no ICE server in the joined message")
	ext := sfu.ExternalTURN{URLs: []string{"turns:turn.example.org:443?transport=tcp"}, Secret: []byte("0123456789abcdef-coturn")}
	expiry := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	got := iceServersFor(ext)("p1", expiry)
	require.Len(t, got, 1)
	// The same credentials as the join answer's for a token expiring then.
	require.Equal(t, ext.Credentials("p1", expiry, 0), got[0])
}
