package sfu

import (
	"fmt"
	"net"
	"net/netip"
)

// addrClass is what an address is to the server, when a client asks it to send there: the
// remote candidates of an ICE agent, the peers of a TURN relay.
type addrClass int

const (
	addrPublic   addrClass = iota // globally reachable unicast
	addrPrivate                   // private (RFC 1918, fc00::/7) and carrier-grade NAT (RFC 6598)
	addrLoopback                  // 127.0.0.0/8, ::1
	addrOwn                       // an address of this host
	addrReserved                  // nothing a client may aim at: see classifyAddr
)

// String names the class in logs and error messages.
func (c addrClass) String() string {
	switch c {
	case addrPublic:
		return "public"
	case addrPrivate:
		return "private"
	case addrLoopback:
		return "loopback"
	case addrOwn:
		return "own"
	default:
		return "reserved"
	}
}

// privatePrefixes are the ranges of private networks, allowed when configured.
var privatePrefixes = mustPrefixes(
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
	"100.64.0.0/10", // shared address space of carrier-grade NAT (RFC 6598)
	"fc00::/7",      // unique local (RFC 4193)
)

// reservedPrefixes are the ranges never reached on a client's word: this network,
// link-local, special purpose and benchmarking, the 6to4 relay anycast, multicast, the
// reserved block with the limited broadcast, and the IPv6 blocks of global unicast
// (2000::/3) that embed or stand for something else (IETF protocol assignments with
// Teredo, 6to4). The rest of IPv6 outside 2000::/3 and fc00::/7 is reserved too: see
// classifyAddr.
var reservedPrefixes = mustPrefixes(
	"0.0.0.0/8", "169.254.0.0/16", "192.0.0.0/24", "192.88.99.0/24", "198.18.0.0/15",
	"224.0.0.0/4", "240.0.0.0/4",
	"2001::/23", "2002::/16",
)

// globalUnicast is the IPv6 global unicast space (RFC 4291).
var globalUnicast = netip.MustParsePrefix("2000::/3")

func mustPrefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

// classifyAddr says what a is, the host's own addresses aside. IPv4-mapped IPv6 addresses
// are their IPv4 address. In IPv6 only global unicast (2000::/3) and unique local
// addresses may be reached: that leaves out the unspecified, IPv4-compatible, NAT64
// (64:ff9b::/96, 64:ff9b:1::/48), discard, link-local and multicast addresses.
func classifyAddr(a netip.Addr) addrClass {
	a = a.Unmap().WithZone("")
	switch {
	case !a.IsValid():
		return addrReserved
	case a.IsLoopback():
		return addrLoopback
	}
	for _, p := range reservedPrefixes {
		if p.Contains(a) {
			return addrReserved
		}
	}
	for _, p := range privatePrefixes {
		if p.Contains(a) {
			return addrPrivate
		}
	}
	if a.Is6() && !globalUnicast.Contains(a) {
		return addrReserved
	}
	return addrPublic
}

// addrPolicy says where the server may send datagrams on a client's word. It refuses
// the reserved ranges always, private ranges unless private, loopback and the host's
// own addresses unless local, but for the ports exempt says are meant to be reached
// there (the media port beside a TURN server, the TURN relays beside an SFU).
type addrPolicy struct {
	// local allows loopback and the host's own addresses: one machine, tests and
	// development.
	local bool
	// private allows the private ranges: an intranet.
	private bool
	// own are the host's addresses, unmapped and without zone.
	own map[netip.Addr]bool
	// exempt, when set, allows an address of the host at one of its ports.
	exempt func(netip.AddrPort) bool
}

// class is what a is to this host.
func (p *addrPolicy) class(a netip.Addr) addrClass {
	if p.own[a.Unmap().WithZone("")] {
		return addrOwn
	}
	return classifyAddr(a)
}

// allowIP tells whether some port of a may be reached, and what a is.
func (p *addrPolicy) allowIP(a netip.Addr) (addrClass, bool) {
	c := p.class(a)
	switch c {
	case addrPublic:
		return c, true
	case addrPrivate:
		return c, p.private
	case addrLoopback:
		return c, p.local
	case addrOwn:
		return c, p.local || p.exempt != nil
	}
	return c, false
}

// allow tells whether ap may be reached, and what its address is.
func (p *addrPolicy) allow(ap netip.AddrPort) (addrClass, bool) {
	c, ok := p.allowIP(ap.Addr())
	if c == addrOwn && ok && !p.local {
		ok = p.exempt(netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()))
	}
	return c, ok
}

// hostAddrs are the addresses of this host's interfaces, unmapped and without zone.
func hostAddrs() (map[netip.Addr]bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("sfu: list local addresses: %w", err)
	}
	own := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				own[ip.Unmap()] = true
			}
		}
	}
	return own, nil
}
