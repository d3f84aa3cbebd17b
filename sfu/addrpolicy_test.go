package sfu

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClassifyAddr(t *testing.T) {
	tests := []struct {
		addr string
		want addrClass
	}{
		// Loopback, IPv4-mapped too.
		{"127.0.0.1", addrLoopback}, {"127.1.2.3", addrLoopback}, {"::1", addrLoopback},
		{"::ffff:127.0.0.1", addrLoopback},
		// Private and shared.
		{"10.0.0.1", addrPrivate}, {"10.255.255.255", addrPrivate}, {"172.16.0.1", addrPrivate},
		{"172.31.255.255", addrPrivate}, {"192.168.0.1", addrPrivate}, {"100.64.0.1", addrPrivate},
		{"100.127.255.255", addrPrivate}, {"fc00::1", addrPrivate}, {"fd12:3456::1", addrPrivate},
		{"::ffff:10.1.2.3", addrPrivate}, {"::ffff:192.168.1.1", addrPrivate},
		// Reserved.
		{"0.0.0.0", addrReserved}, {"0.1.2.3", addrReserved}, {"169.254.169.254", addrReserved},
		{"192.0.0.1", addrReserved}, {"192.0.0.170", addrReserved}, {"192.88.99.1", addrReserved},
		{"198.18.0.1", addrReserved}, {"198.19.255.255", addrReserved}, {"224.0.0.1", addrReserved},
		{"239.255.255.250", addrReserved}, {"240.0.0.1", addrReserved}, {"255.255.255.255", addrReserved},
		{"::", addrReserved}, {"::7f00:1", addrReserved}, {"fe80::1", addrReserved}, {"fe80::1%eth0", addrReserved},
		{"fec0::1", addrReserved}, {"ff02::1", addrReserved}, {"ff0e::1", addrReserved},
		{"64:ff9b::7f00:1", addrReserved}, {"64:ff9b::808:808", addrReserved}, {"64:ff9b:1::1", addrReserved},
		{"100::1", addrReserved}, {"2001::1", addrReserved}, {"2001:0:4136:e378::1", addrReserved},
		{"2002:7f00:1::1", addrReserved}, {"2002:a00:1::1", addrReserved}, {"5f00::1", addrReserved},
		{"::ffff:0.0.0.0", addrReserved}, {"::ffff:169.254.1.1", addrReserved},
		{"::ffff:224.0.0.1", addrReserved}, {"::ffff:255.255.255.255", addrReserved},
		// Public.
		{"8.8.8.8", addrPublic}, {"100.63.255.255", addrPublic}, {"100.128.0.1", addrPublic},
		{"172.15.255.255", addrPublic}, {"172.32.0.1", addrPublic}, {"192.0.1.1", addrPublic},
		{"198.17.255.255", addrPublic}, {"198.20.0.1", addrPublic}, {"223.255.255.255", addrPublic},
		{"2a01:e0a::1", addrPublic}, {"2001:200::1", addrPublic}, {"::ffff:8.8.8.8", addrPublic},
	}
	for _, tt := range tests {
		got := classifyAddr(netip.MustParseAddr(tt.addr))
		require.Equal(t, tt.want, got, "%s: got %s, want %s", tt.addr, got, tt.want)
	}
}

func TestAddrPolicy(t *testing.T) {
	own := map[netip.Addr]bool{
		netip.MustParseAddr("127.0.0.1"):   true,
		netip.MustParseAddr("203.0.113.7"): true, // the host's public address
		netip.MustParseAddr("10.0.0.7"):    true, // and its private one
	}
	relay := netip.MustParseAddrPort("203.0.113.7:50000")
	exempt := func(a netip.AddrPort) bool { return a == relay }
	strict := addrPolicy{own: own}
	private := addrPolicy{private: true, own: own}
	local := addrPolicy{local: true, own: own}
	withRelay := addrPolicy{own: own, exempt: exempt}
	tests := []struct {
		addr                              string
		class                             addrClass
		strict, private, local, withRelay bool
	}{
		{"198.51.100.1:9", addrPublic, true, true, true, true},
		{"[::ffff:198.51.100.1]:9", addrPublic, true, true, true, true},
		{"10.1.2.3:9", addrPrivate, false, true, false, false},
		{"[::ffff:10.1.2.3]:9", addrPrivate, false, true, false, false},
		{"[fd00::1]:9", addrPrivate, false, true, false, false},
		{"127.0.0.1:9", addrOwn, false, false, true, false},
		{"127.0.0.2:9", addrLoopback, false, false, true, false},
		{"[::ffff:127.0.0.1]:9", addrOwn, false, false, true, false},
		{"[::1]:9", addrLoopback, false, false, true, false},
		{"203.0.113.7:53", addrOwn, false, false, true, false},
		{"203.0.113.7:50000", addrOwn, false, false, true, true},
		{"[::ffff:203.0.113.7]:50000", addrOwn, false, false, true, true},
		{"10.0.0.7:9", addrOwn, false, false, true, false},
		{"169.254.169.254:53", addrReserved, false, false, false, false},
		{"255.255.255.255:9", addrReserved, false, false, false, false},
		{"224.0.0.251:5353", addrReserved, false, false, false, false},
		{"0.0.0.0:9", addrReserved, false, false, false, false},
		{"[::]:9", addrReserved, false, false, false, false},
		{"[64:ff9b::7f00:1]:9", addrReserved, false, false, false, false},
		{"[2002:7f00:1::1]:9", addrReserved, false, false, false, false},
	}
	for _, tt := range tests {
		ap := netip.MustParseAddrPort(tt.addr)
		for _, c := range []struct {
			name string
			p    addrPolicy
			want bool
		}{{"strict", strict, tt.strict}, {"private", private, tt.private}, {"local", local, tt.local}, {"relay", withRelay, tt.withRelay}} {
			class, got := c.p.allow(ap)
			require.Equal(t, tt.class, class, "%s (%s): got class %s, want %s", tt.addr, c.name, class, tt.class)
			require.Equal(t, c.want, got, "%s (%s): got allowed=%v, want %v", tt.addr, c.name, got, c.want)
		}
	}
}
