//go:build !linux

package sfu

import "net"

// setDontFragment does nothing outside Linux.
func setDontFragment(*net.UDPConn) error { return nil }

// dontFragment tells whether setDontFragment was applied to c, for tests.
func dontFragment(*net.UDPConn) (bool, error) { return false, nil }
