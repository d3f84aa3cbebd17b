// Package codec reads and rewrites what the SFU needs of video payloads: where a
// keyframe starts (VP8, VP9, H.264), and VP8 picture ids kept continuous across simulcast
// layers. Pure functions of the bytes, no I/O.
package codec

import (
	"strings"

	"github.com/pion/webrtc/v4"
)

// KeyframeFunc tells whether an RTP payload starts a keyframe.
type KeyframeFunc func(payload []byte) bool

// KeyframeDetector returns the detector for a video codec, or nil for a codec the SFU
// cannot look into (every packet then counts as a possible start).
func KeyframeDetector(mimeType string) KeyframeFunc {
	switch {
	case strings.EqualFold(mimeType, webrtc.MimeTypeVP8):
		return IsVP8Keyframe
	case strings.EqualFold(mimeType, webrtc.MimeTypeVP9):
		return IsVP9Keyframe
	case strings.EqualFold(mimeType, webrtc.MimeTypeH264):
		return IsH264Keyframe
	}
	return nil
}

// IsVP8Keyframe reads the VP8 payload descriptor (RFC 7741 §4.2) and, in the first packet
// of a frame, the frame tag and start code of the key frame header (RFC 6386 §9.1).
func IsVP8Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	// X R N S R PID(3)
	if p[0]&0x10 == 0 || p[0]&0x07 != 0 {
		return false // not the start of partition 0
	}
	i := 1
	if p[0]&0x80 != 0 { // X: extension byte I L T K
		if len(p) < 2 {
			return false
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: TID Y KEYIDX
			i++
		}
	}
	// Frame tag (3 bytes, bit 0 clear on a key frame), then the start code 9d 01 2a.
	if len(p) < i+6 {
		return false
	}
	return p[i]&0x01 == 0 && p[i+3] == 0x9d && p[i+4] == 0x01 && p[i+5] == 0x2a
}

// IsVP9Keyframe reads the VP9 payload descriptor: I P L F B E V Z, a key frame is not
// inter-picture predicted (P clear) and this packet begins it (B set).
func IsVP9Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	return p[0]&0x40 == 0 && p[0]&0x08 != 0
}

// IsH264Keyframe finds an IDR slice or a sequence parameter set in a single NAL unit,
// an STAP-A aggregate, or the first fragment of an FU-A (RFC 6184).
func IsH264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	const (
		nalIDR  = 5
		nalSPS  = 7
		nalSTAP = 24
		nalFU   = 28
	)
	switch t := p[0] & 0x1f; t {
	case nalIDR, nalSPS:
		return true
	case nalSTAP:
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			if size == 0 || i+2+size > len(p) {
				return false
			}
			if nt := p[i+2] & 0x1f; nt == nalIDR || nt == nalSPS {
				return true
			}
			i += 2 + size
		}
	case nalFU:
		return len(p) >= 2 && p[1]&0x80 != 0 && (p[1]&0x1f == nalIDR || p[1]&0x1f == nalSPS)
	}
	return false
}

// VP8Rewriter keeps the picture ids and TL0PICIDX of the VP8 payload descriptor
// (RFC 7741 §4.2) continuous for one subscriber when it moves from one simulcast layer
// to another: each layer numbers its pictures on its own, and a decoder that sees the
// numbers jump back takes the new pictures for late ones.
type VP8Rewriter struct {
	picOff, lastPic uint16 // picture id offset, last picture id sent
	tl0Off, lastTL0 uint8  // TL0PICIDX offset, last one sent
	sent            bool   // a descriptor went out
	switching       bool   // the next packet starts another layer
}

// Switched says that the next packet comes from another layer.
func (r *VP8Rewriter) Switched() { r.switching = r.sent }

// vp8Fields are the offsets of the rewritable fields of a descriptor, -1 when absent.
type vp8Fields struct {
	pic  int // first byte of the picture id
	long bool
	tl0  int
}

func parseVP8Descriptor(p []byte) (f vp8Fields, ok bool) {
	f = vp8Fields{pic: -1, tl0: -1}
	if len(p) < 1 {
		return f, false
	}
	if p[0]&0x80 == 0 { // X: no extension
		return f, true
	}
	if len(p) < 2 {
		return f, false
	}
	ext, i := p[1], 2
	if ext&0x80 != 0 { // I
		if len(p) <= i {
			return f, false
		}
		f.pic, f.long = i, p[i]&0x80 != 0
		i++
		if f.long {
			i++
		}
	}
	if ext&0x40 != 0 { // L
		f.tl0 = i
		i++
	}
	if ext&0x30 != 0 { // T or K
		i++
	}
	return f, len(p) >= i
}

func (f vp8Fields) picture(p []byte) uint16 {
	if f.long {
		return uint16(p[f.pic]&0x7f)<<8 | uint16(p[f.pic+1])
	}
	return uint16(p[f.pic] & 0x7f)
}

// Rewrite returns the payload p with its picture id and TL0PICIDX continued; when they
// need changing it copies p into buf first (p is shared by every subscriber).
func (r *VP8Rewriter) Rewrite(buf, p []byte) []byte {
	f, ok := parseVP8Descriptor(p)
	if !ok || (f.pic < 0 && f.tl0 < 0) {
		return p
	}
	if r.switching {
		r.switching = false
		if f.pic >= 0 {
			r.picOff = r.lastPic + 1 - f.picture(p)
		}
		if f.tl0 >= 0 {
			r.tl0Off = r.lastTL0 + 1 - p[f.tl0]
		}
	}
	out := r.apply(buf, p, f)
	if f.pic >= 0 {
		r.lastPic = f.picture(out)
	}
	if f.tl0 >= 0 {
		r.lastTL0 = out[f.tl0]
	}
	r.sent = true
	return out
}

// Again rewrites the payload of a packet sent before, for a retransmission, with the
// offsets of the layer received now.
func (r *VP8Rewriter) Again(buf, p []byte) []byte {
	f, ok := parseVP8Descriptor(p)
	if !ok || (f.pic < 0 && f.tl0 < 0) {
		return p
	}
	return r.apply(buf, p, f)
}

// apply returns p with the offsets added to the fields f, copied into buf when they
// change anything.
func (r *VP8Rewriter) apply(buf, p []byte, f vp8Fields) []byte {
	if (r.picOff == 0 && r.tl0Off == 0) || len(p) > len(buf) {
		return p
	}
	out := buf[:len(p)]
	copy(out, p)
	if f.pic >= 0 {
		pic := f.picture(p) + r.picOff
		if f.long {
			out[f.pic] = 0x80 | byte(pic>>8)&0x7f
			out[f.pic+1] = byte(pic)
		} else {
			out[f.pic] = byte(pic) & 0x7f
		}
	}
	if f.tl0 >= 0 {
		out[f.tl0] = p[f.tl0] + r.tl0Off
	}
	return out
}

// VP8Picture returns the picture id and the TL0PICIDX of a VP8 payload's descriptor, -1
// each when absent; ok is false for a descriptor cut short.
func VP8Picture(p []byte) (pic, tl0 int, ok bool) {
	f, ok := parseVP8Descriptor(p)
	if !ok {
		return -1, -1, false
	}
	pic, tl0 = -1, -1
	if f.pic >= 0 {
		pic = int(f.picture(p))
	}
	if f.tl0 >= 0 {
		tl0 = int(p[f.tl0])
	}
	return pic, tl0, true
}
