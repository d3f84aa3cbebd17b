package sfu

import (
	"net"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rxControl is the control buffer of a read: room for the message of a receive time,
// in 8-byte words so that the headers in it are aligned.
type rxControl [8]uint64

// bytes is the buffer as bytes.
func (c *rxControl) bytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&c[0])), len(c)*8)
}

// setReceiveTimes asks the kernel to hand the time each datagram came in with it
// (SO_TIMESTAMPNS): the time it waited in the socket's buffer before a read, while the
// server's goroutines waited for a core, then counts in its wait.
func setReceiveTimes(c *net.UDPConn) error {
	return setsockoptInt(c, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
}

// receiveWait is how long a datagram read now had been in the socket's buffer, from the
// control messages of its read, oob; 0 when they give no time.
func receiveWait(oob []byte, now time.Time) time.Duration {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if int(h.Len) < unix.SizeofCmsghdr || int(h.Len) > len(oob) {
			return 0
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SO_TIMESTAMPNS && int(h.Len) >= unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))) {
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[unix.CmsgLen(0)]))
			return max(now.Sub(time.Unix(ts.Unix())), 0)
		}
		oob = oob[min(unix.CmsgSpace(int(h.Len)-unix.CmsgLen(0)), len(oob)):]
	}
	return 0
}
