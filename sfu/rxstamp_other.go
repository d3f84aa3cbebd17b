//go:build !linux

package sfu

import (
	"net"
	"time"
)

// rxControl is the control buffer of a read: none outside Linux.
type rxControl struct{}

// bytes is no buffer.
func (*rxControl) bytes() []byte { return nil }

// setReceiveTimes does nothing outside Linux: a packet's wait counts from its read.
func setReceiveTimes(*net.UDPConn) error { return nil }

// receiveWait is 0 outside Linux.
func receiveWait([]byte, time.Time) time.Duration { return 0 }
