package api

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// clientAddr is the address and source port of the person behind a request, for the
// connection log. Forwarding headers are believed only when the peer is a trusted proxy;
// then the first address, from the right, that is not a trusted proxy is the client's.
// X-Forwarded-For gives the address when it is there, since most proxies append to it and
// pass a client's own Forwarded header along untouched; the RFC 7239 Forwarded header
// (for="198.51.100.7:51234") gives the source port when it names the same address, and the
// address too when X-Forwarded-For is absent. From a trusted proxy that sends neither, or
// none readable, the client is unknown: the proxy's address is what is logged, with port 0
// (the proxy's own source port would be taken for the client's).
func (s *Server) clientAddr(r *http.Request) (netip.Addr, int) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, 0
	}
	ip, port := peer.Addr().Unmap(), int(peer.Port())
	if !s.trusted(ip) {
		return ip, port
	}
	var xff []netip.AddrPort
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for part := range strings.SplitSeq(v, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(part))
			if err != nil {
				xff = append(xff, netip.AddrPort{})
				continue
			}
			xff = append(xff, netip.AddrPortFrom(a.Unmap(), 0))
		}
	}
	fwd, fwdOK := s.firstUntrusted(forwardedHops(r.Header.Values("Forwarded")))
	if len(xff) == 0 {
		if fwdOK {
			return fwd.Addr(), int(fwd.Port())
		}
		return ip, 0
	}
	client, ok := s.firstUntrusted(xff)
	if !ok {
		return ip, 0
	}
	if fwdOK && fwd.Addr() == client.Addr() {
		return client.Addr(), int(fwd.Port())
	}
	return client.Addr(), 0
}

// firstUntrusted walks hops from the right and returns the first that is not a trusted
// proxy, or the last readable one; false when the rightmost hop is already unreadable.
func (s *Server) firstUntrusted(hops []netip.AddrPort) (netip.AddrPort, bool) {
	var found netip.AddrPort
	for _, hop := range slices.Backward(hops) {
		if !hop.IsValid() {
			break // an unreadable hop: stop at the last address we can vouch for
		}
		found = hop
		if !s.trusted(hop.Addr()) {
			break
		}
	}
	return found, found.IsValid()
}

func (s *Server) trusted(ip netip.Addr) bool {
	return slices.ContainsFunc(s.p.TrustedProxies, func(p netip.Prefix) bool { return p.Contains(ip) })
}

// forwardedHops reads the for= parameters of RFC 7239 Forwarded headers, in order; an
// obfuscated or unreadable one becomes an invalid hop.
func forwardedHops(values []string) []netip.AddrPort {
	var hops []netip.AddrPort
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			for pair := range strings.SplitSeq(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || !strings.EqualFold(k, "for") {
					continue
				}
				hops = append(hops, parseNode(strings.Trim(val, `"`)))
			}
		}
	}
	return hops
}

// parseNode reads a Forwarded node: 192.0.2.1, 192.0.2.1:4711, [2001:db8::1], [2001:db8::1]:4711.
func parseNode(node string) netip.AddrPort {
	if ap, err := netip.ParseAddrPort(node); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	host := strings.TrimSuffix(strings.TrimPrefix(node, "["), "]")
	if a, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(a.Unmap(), 0)
	}
	if h, p, err := net.SplitHostPort(node); err == nil {
		if a, err := netip.ParseAddr(h); err == nil {
			if n, err := strconv.Atoi(p); err == nil && n >= 0 && n < 65536 {
				return netip.AddrPortFrom(a.Unmap(), uint16(n))
			}
		}
	}
	return netip.AddrPort{}
}
