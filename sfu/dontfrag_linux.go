package sfu

import (
	"net"

	"golang.org/x/sys/unix"
)

// setDontFragment sets the Don't Fragment bit on what an IPv4 socket sends, whatever the
// path MTU the kernel has learnt (IP_PMTUDISC_PROBE), as browsers do for WebRTC. Media
// packets are smaller than any MTU, and a datagram with DF set needs no IP
// identification: the kernel skips the hashing and shared counters it otherwise runs
// for every datagram of an unconnected socket.
func setDontFragment(c *net.UDPConn) error {
	return setsockoptInt(c, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
}

// setsockoptInt sets an option of c's socket.
func setsockoptInt(c *net.UDPConn, level, opt, value int) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), level, opt, value)
	}); err != nil {
		return err
	}
	return serr
}

// dontFragment tells whether setDontFragment was applied to c, for tests.
func dontFragment(c *net.UDPConn) (bool, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return false, err
	}
	var v int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		v, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER)
	}); err != nil {
		return false, err
	}
	return v == unix.IP_PMTUDISC_PROBE, serr
}
