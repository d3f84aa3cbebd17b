package sfu

// vp8Rewriter keeps the picture ids and TL0PICIDX of the VP8 payload descriptor
// (RFC 7741 §4.2) continuous for one subscriber when it moves from one simulcast layer
// to another: each layer numbers its pictures on its own, and a decoder that sees the
// numbers jump back takes the new pictures for late ones.
type vp8Rewriter struct {
	picOff, lastPic uint16 // picture id offset, last picture id sent
	tl0Off, lastTL0 uint8  // TL0PICIDX offset, last one sent
	sent            bool   // a descriptor went out
	switching       bool   // the next packet starts another layer
}

// switched says that the next packet comes from another layer.
func (r *vp8Rewriter) switched() { r.switching = r.sent }

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

// rewrite returns the payload p with its picture id and TL0PICIDX continued; when they
// need changing it copies p into buf first (p is shared by every subscriber).
func (r *vp8Rewriter) rewrite(buf, p []byte) []byte {
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

// again rewrites the payload of a packet sent before, for a retransmission, with the
// offsets of the layer received now.
func (r *vp8Rewriter) again(buf, p []byte) []byte {
	f, ok := parseVP8Descriptor(p)
	if !ok || (f.pic < 0 && f.tl0 < 0) {
		return p
	}
	return r.apply(buf, p, f)
}

// apply returns p with the offsets added to the fields f, copied into buf when they
// change anything.
func (r *vp8Rewriter) apply(buf, p []byte, f vp8Fields) []byte {
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
