package sfu

import (
	"strings"

	"github.com/pion/webrtc/v4"
)

// keyframeFunc tells whether an RTP payload starts a keyframe.
type keyframeFunc func(payload []byte) bool

// keyframeDetector returns the detector for a video codec, or nil for a codec the SFU
// cannot look into (every packet then counts as a possible start).
func keyframeDetector(mimeType string) keyframeFunc {
	switch {
	case strings.EqualFold(mimeType, webrtc.MimeTypeVP8):
		return isVP8Keyframe
	case strings.EqualFold(mimeType, webrtc.MimeTypeVP9):
		return isVP9Keyframe
	case strings.EqualFold(mimeType, webrtc.MimeTypeH264):
		return isH264Keyframe
	}
	return nil
}

// isVP8Keyframe reads the VP8 payload descriptor (RFC 7741 §4.2) and, in the first packet
// of a frame, the frame tag and start code of the key frame header (RFC 6386 §9.1).
func isVP8Keyframe(p []byte) bool {
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

// isVP9Keyframe reads the VP9 payload descriptor: I P L F B E V Z, a key frame is not
// inter-picture predicted (P clear) and this packet begins it (B set).
func isVP9Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	return p[0]&0x40 == 0 && p[0]&0x08 != 0
}

// isH264Keyframe finds an IDR slice or a sequence parameter set in a single NAL unit,
// an STAP-A aggregate, or the first fragment of an FU-A (RFC 6184).
func isH264Keyframe(p []byte) bool {
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
