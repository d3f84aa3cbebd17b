package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certificateFiles serves a certificate from its PEM files, read again at a handshake
// once either file has changed, so that a renewed certificate is taken without a
// restart. A renewal that cannot be read keeps the certificate in use, and is logged.
type certificateFiles struct {
	certFile, keyFile string
	log               *slog.Logger

	mu       sync.Mutex
	cert     *tls.Certificate
	modTimes [2]time.Time
}

// loadCertificateFiles reads the certificate of TURN over TLS; its errors name the
// configuration key to mend.
func loadCertificateFiles(certFile, keyFile string, log *slog.Logger) (*certificateFiles, error) {
	c := &certificateFiles{certFile: certFile, keyFile: keyFile, log: log}
	cert, modTimes, err := c.read()
	if err != nil {
		return nil, err
	}
	c.cert, c.modTimes = cert, modTimes
	return c, nil
}

// read reads both files and their modification times.
func (c *certificateFiles) read() (*tls.Certificate, [2]time.Time, error) {
	var modTimes [2]time.Time
	var pem [2][]byte
	for i, f := range []struct{ path, what, key string }{
		{c.certFile, "certificate", "media.turn.tls_cert_file"},
		{c.keyFile, "private key", "media.turn.tls_key_file"},
	} {
		info, err := os.Stat(f.path)
		if err == nil {
			modTimes[i] = info.ModTime()
			pem[i], err = os.ReadFile(f.path)
		}
		if err != nil {
			return nil, modTimes, fmt.Errorf("read TURN TLS %s: %w (key %s)", f.what, err, f.key)
		}
	}
	cert, err := tls.X509KeyPair(pem[0], pem[1])
	if err != nil {
		return nil, modTimes, fmt.Errorf("TURN TLS certificate %s and key %s: %w (keys media.turn.tls_cert_file, media.turn.tls_key_file)", c.certFile, c.keyFile, err)
	}
	return &cert, modTimes, nil
}

// changed tells whether a file has another modification time than the one read.
func (c *certificateFiles) changed() bool {
	for i, path := range []string{c.certFile, c.keyFile} {
		info, err := os.Stat(path)
		if err != nil || !info.ModTime().Equal(c.modTimes[i]) {
			return true
		}
	}
	return false
}

// GetCertificate is tls.Config.GetCertificate.
func (c *certificateFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changed() {
		cert, modTimes, err := c.read()
		c.modTimes = modTimes // a broken renewal is tried again once it changes again
		if err != nil {
			c.log.Error("turn certificate not renewed", "err", err)
		} else {
			c.cert = cert
			c.log.Info("turn certificate renewed")
		}
	}
	return c.cert, nil
}

// verifyHost checks that the certificate is valid for host, the host of the turns: URL.
func (c *certificateFiles) verifyHost(host string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.cert.Leaf.VerifyHostname(host); err != nil {
		return fmt.Errorf("TURN TLS certificate %s: %w: set media.turn.host to a name it is valid for (keys media.turn.host, media.turn.tls_cert_file)", c.certFile, err)
	}
	return nil
}
