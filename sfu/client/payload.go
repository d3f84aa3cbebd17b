package client

import (
	"encoding/binary"
	"time"
)

// start is the origin of Monotonic: one clock for the whole process, so that a receiver
// in the same process as the publisher can subtract a send time from its own time.
var start = time.Now()

// Monotonic is the time in nanoseconds since the process loaded this package, read from
// the monotonic clock. Synthetic media carries it as its send time.
func Monotonic() int64 { return int64(time.Since(start)) }

// stampMagic starts the stamp the synthetic media carries after its codec header.
var stampMagic = [2]byte{'W', 'L'}

// StampSize is the size in bytes of the stamp of a synthetic packet: a magic, the
// packet's sequence number in its track, and its send time.
const StampSize = 2 + 4 + 8

// Stamp is what a synthetic packet carries after its codec header.
type Stamp struct {
	// Seq counts the packets of the track from 0; it does not wrap as RTP's does.
	Seq uint32
	// SentAt is the send time, Monotonic nanoseconds.
	SentAt int64
}

// putStamp writes s at the start of b, which has room for StampSize bytes.
func putStamp(b []byte, s Stamp) {
	b[0], b[1] = stampMagic[0], stampMagic[1]
	binary.BigEndian.PutUint32(b[2:], s.Seq)
	binary.BigEndian.PutUint64(b[6:], uint64(s.SentAt))
}

// readStamp reads a stamp at the start of b.
func readStamp(b []byte) (Stamp, bool) {
	if len(b) < StampSize || b[0] != stampMagic[0] || b[1] != stampMagic[1] {
		return Stamp{}, false
	}
	return Stamp{Seq: binary.BigEndian.Uint32(b[2:]), SentAt: int64(binary.BigEndian.Uint64(b[6:]))}, true
}

// RTP header fields (RFC 3550 §5.1).
const (
	rtpHeaderSize = 12
	rtpVersion    = 2
)

// rtpPayload returns the payload of the RTP packet b, without its header, CSRCs, header
// extension and padding, and whether b is a well-formed RTP packet.
func rtpPayload(b []byte) ([]byte, bool) {
	if len(b) < rtpHeaderSize || b[0]>>6 != rtpVersion {
		return nil, false
	}
	i := rtpHeaderSize + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 { // X: a header extension, 4 bytes then its length in words
		if len(b) < i+4 {
			return nil, false
		}
		i += 4 + 4*int(binary.BigEndian.Uint16(b[i+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 { // P: the last byte counts the padding
		if end == 0 || int(b[end-1]) > end-i {
			return nil, false
		}
		end -= int(b[end-1])
	}
	if i > end {
		return nil, false
	}
	return b[i:end], true
}

// VP8 payload descriptor (RFC 7741 §4.2) and frame header (RFC 6386 §9.1).
const (
	vp8X = 0x80 // extension byte present
	vp8S = 0x10 // start of a partition
	vp8I = 0x80 // picture id present (extension byte)
	vp8M = 0x80 // 15-bit picture id (first picture id byte)
	// vp8DescriptorSize is the descriptor this package writes: X, I, a 15-bit picture id.
	vp8DescriptorSize = 4
	vp8KeyHeaderSize  = 10 // frame tag, start code, width and height
	vp8InterHeader    = 3  // frame tag
)

// putVP8Descriptor writes the payload descriptor of a packet of picture pictureID at the
// start of b: start is set on the first packet of a frame.
func putVP8Descriptor(b []byte, pictureID uint16, start bool) {
	b[0] = vp8X
	if start {
		b[0] |= vp8S
	}
	b[1] = vp8I
	b[2] = vp8M | byte(pictureID>>8&0x7f)
	b[3] = byte(pictureID)
}

// putVP8FrameHeader writes the header of a shown frame at the start of b and returns its
// size: a key frame's tag, start code and size (width by height), or an interframe's tag.
func putVP8FrameHeader(b []byte, key bool, width, height uint16) int {
	if !key {
		b[0], b[1], b[2] = 0x11, 0x02, 0x00 // inter frame, version 0, shown
		return vp8InterHeader
	}
	b[0], b[1], b[2] = 0x10, 0x02, 0x00 // key frame, version 0, shown
	b[3], b[4], b[5] = 0x9d, 0x01, 0x2a
	binary.LittleEndian.PutUint16(b[6:], width)
	binary.LittleEndian.PutUint16(b[8:], height)
	return vp8KeyHeaderSize
}

// vp8Stamp finds the stamp in a VP8 RTP payload of synthetic media: after the payload
// descriptor this package writes and, in the first packet of a frame, the frame header.
// key tells whether the packet starts a key frame.
func vp8Stamp(p []byte) (s Stamp, key, ok bool) {
	if len(p) < vp8DescriptorSize || p[0]&^vp8S != vp8X || p[1] != vp8I || p[2]&vp8M == 0 {
		return Stamp{}, false, false // not a descriptor of ours
	}
	i := vp8DescriptorSize
	if p[0]&vp8S != 0 { // the first packet of a frame: its header
		if len(p) < i+vp8InterHeader {
			return Stamp{}, false, false
		}
		if p[i]&0x01 == 0 {
			if len(p) < i+vp8KeyHeaderSize || p[i+3] != 0x9d || p[i+4] != 0x01 || p[i+5] != 0x2a {
				return Stamp{}, false, false
			}
			key = true
			i += vp8KeyHeaderSize
		} else {
			i += vp8InterHeader
		}
	}
	s, ok = readStamp(p[i:])
	return s, key, ok
}

// opusTOC is the table-of-contents byte of the synthetic Opus packets (RFC 6716 §3.1):
// configuration 31 (CELT, fullband, 20 ms), mono, one frame.
const opusTOC = 31 << 3

// opusStamp finds the stamp in an Opus RTP payload, after its table-of-contents byte.
func opusStamp(p []byte) (Stamp, bool) {
	if len(p) < 1 {
		return Stamp{}, false
	}
	return readStamp(p[1:])
}
