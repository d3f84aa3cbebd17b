package pgtest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy relays TCP connections on a loopback port to a database server, and can cut the link
// and bring it back, so that tests can make the database go away and return.
type Proxy struct {
	t      testing.TB
	addr   string
	target string

	mu    sync.Mutex
	l     net.Listener
	conns map[net.Conn]struct{}
}

// NewProxy starts relaying to the host:port of databaseURL; it stops at the end of the test.
func NewProxy(t testing.TB, databaseURL string) *Proxy {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatalf("proxy: parse %q: %v", databaseURL, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: listen: %v", err)
	}
	p := &Proxy{t: t, addr: l.Addr().String(), target: u.Host, conns: map[net.Conn]struct{}{}}
	p.serve(l)
	t.Cleanup(p.Cut)
	return p
}

// URL is databaseURL with its host replaced by the proxy's address.
func (p *Proxy) URL(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		p.t.Fatalf("proxy: parse %q: %v", databaseURL, err)
	}
	u.Host = p.addr
	return u.String()
}

// Cut closes the listener and every relayed connection: the database is gone.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		_ = p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// Restore listens again on the same address: the database is back.
func (p *Proxy) Restore() {
	p.t.Helper()
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(l)
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// serve accepts on l; the accept goroutine ends when l is closed by Cut, and each relay
// goroutine when either side of its connection closes.
func (p *Proxy) serve(l net.Listener) {
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			if !p.track(c) || !p.track(d) {
				_ = c.Close()
				_ = d.Close()
				continue
			}
			go relay(c, d)
			go relay(d, c)
		}
	}()
}

func relay(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}
