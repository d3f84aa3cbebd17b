package sfu

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// keyframeRequestInterval is the least time between two keyframe requests (PLI) sent to
// the publisher of one track, whatever the number of subscribers asking.
const keyframeRequestInterval = 500 * time.Millisecond

// maxRTPPacketSize is the read buffer of a track: larger than any RTP packet over UDP
// with an Ethernet MTU.
const maxRTPPacketSize = 1500

// upTrack is a track a participant publishes. One goroutine reads its RTP (run) and
// writes every packet to the downTrack of each subscriber. The list of downTracks is
// copied on write under mu and read without a lock, so a forwarded packet takes no lock
// and allocates nothing.
type upTrack struct {
	id       string // server id: "<participant>~<n>"
	streamID string
	owner    string // participant id of the publisher
	kind     webrtc.RTPCodecType
	label    Label
	codec    webrtc.RTPCodecParameters
	ssrc     uint32
	// audioLevelID is the publisher's id of the audio level header extension, 0 if none.
	audioLevelID uint8
	isKeyframe   keyframeFunc
	clock        Clock
	// writeRTCP sends RTCP to the publisher.
	writeRTCP func([]rtcp.Packet) error
	log       *slog.Logger

	lastKeyframeRequest atomic.Int64 // Unix nanoseconds
	muted               atomic.Bool

	mu sync.Mutex // serialises changes of downs, parked and closed
	// parked is a track its publisher may not publish (yet): it is read but goes to no
	// one. A new track is parked until the room publishes it.
	parked bool
	closed bool
	downs  atomic.Pointer[[]*downTrack]
}

// upTrackParams are what newUpTrack needs.
type upTrackParams struct {
	ID, StreamID, Owner string
	Label               Label
	Codec               webrtc.RTPCodecParameters
	SSRC                uint32
	// HeaderExtensions are those negotiated with the publisher for this track.
	HeaderExtensions []webrtc.RTPHeaderExtensionParameter
	Clock            Clock
	WriteRTCP        func([]rtcp.Packet) error
	Logger           *slog.Logger
}

func newUpTrack(p upTrackParams) *upTrack {
	kind := webrtc.RTPCodecTypeAudio
	if strings.HasPrefix(strings.ToLower(p.Codec.MimeType), "video/") {
		kind = webrtc.RTPCodecTypeVideo
	}
	u := &upTrack{
		id:        p.ID,
		streamID:  p.StreamID,
		owner:     p.Owner,
		kind:      kind,
		label:     p.Label,
		codec:     p.Codec,
		ssrc:      p.SSRC,
		clock:     p.Clock,
		writeRTCP: p.WriteRTCP,
		log:       p.Logger,
		parked:    true,
	}
	if kind == webrtc.RTPCodecTypeVideo {
		u.isKeyframe = keyframeDetector(p.Codec.MimeType)
	}
	for _, e := range p.HeaderExtensions {
		if e.URI == sdp.AudioLevelURI && e.ID > 0 && e.ID < 15 {
			u.audioLevelID = uint8(e.ID)
		}
	}
	u.downs.Store(&[]*downTrack{})
	return u
}

// info describes the track for signalling.
func (u *upTrack) info() TrackInfo {
	return TrackInfo{ID: u.id, StreamID: u.streamID, Kind: u.kind.String(), Label: u.label, Muted: u.muted.Load()}
}

// run reads the publisher's track until it ends (the track is removed or the
// PeerConnection closes) and forwards every packet. It reuses one buffer and one packet.
func (u *upTrack) run(remote *webrtc.TrackRemote) {
	buf := make([]byte, maxRTPPacketSize)
	var pkt rtp.Packet
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			return
		}
		u.handle(buf[:n], &pkt)
	}
}

// handle parses one RTP packet into pkt and forwards it.
func (u *upTrack) handle(raw []byte, pkt *rtp.Packet) {
	if err := pkt.Unmarshal(raw); err != nil {
		return
	}
	if len(pkt.Payload) == 0 {
		return // padding only: bandwidth probes are hop by hop
	}
	downs := *u.downs.Load()
	if len(downs) == 0 {
		return
	}
	key := u.kind == webrtc.RTPCodecTypeAudio || u.isKeyframe == nil || u.isKeyframe(pkt.Payload)
	for _, d := range downs {
		d.write(pkt, key)
	}
}

// addDown adds a subscriber; false when the track is parked or has ended.
func (u *upTrack) addDown(d *downTrack) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed || u.parked {
		return false
	}
	old := *u.downs.Load()
	downs := make([]*downTrack, len(old), len(old)+1)
	copy(downs, old)
	downs = append(downs, d)
	u.downs.Store(&downs)
	return true
}

// removeDown removes a subscriber.
func (u *upTrack) removeDown(d *downTrack) {
	u.mu.Lock()
	defer u.mu.Unlock()
	old := *u.downs.Load()
	downs := make([]*downTrack, 0, len(old))
	for _, o := range old {
		if o != d {
			downs = append(downs, o)
		}
	}
	u.downs.Store(&downs)
}

// isParked tells whether the track is parked.
func (u *upTrack) isParked() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.parked
}

// setParked parks or unparks the track. Parking returns the subscribers it had.
func (u *upTrack) setParked(parked bool) []*downTrack {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.parked = parked
	if !parked {
		return nil
	}
	old := *u.downs.Load()
	u.downs.Store(&[]*downTrack{})
	return old
}

// close ends the fan-out: no subscriber can be added any more. It returns the
// subscribers it had.
func (u *upTrack) close() []*downTrack {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closed = true
	old := *u.downs.Load()
	u.downs.Store(&[]*downTrack{})
	return old
}

// requestKeyframe sends a PLI to the publisher, at most once per
// keyframeRequestInterval. It does nothing for audio.
func (u *upTrack) requestKeyframe() {
	if u.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	now := u.clock.Now().UnixNano()
	last := u.lastKeyframeRequest.Load()
	if last != 0 && now-last < int64(keyframeRequestInterval) {
		return
	}
	if !u.lastKeyframeRequest.CompareAndSwap(last, now) {
		return
	}
	if err := u.writeRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: u.ssrc}}); err != nil {
		u.log.Debug("keyframe request not sent", "track", u.id, "error", err)
	}
}

// downTrack is one subscriber's copy of an upTrack. It is a webrtc.TrackLocal bound to
// the subscriber's PeerConnection: Bind gives it the negotiated SSRC, payload type and
// header extension ids, and write rewrites each packet for them. A video downTrack
// forwards nothing until a keyframe starts, so that the subscriber's first frame
// decodes.
type downTrack struct {
	up         *upTrack
	subscriber *participant

	binding atomic.Pointer[trackBinding]
	needKey atomic.Bool
	layer   atomic.Pointer[LayerRequest]

	// hdr and ext are scratch space of the upTrack's goroutine, the only writer.
	hdr rtp.Header
	ext []rtp.Extension

	// sender and mid are the RTPSender and media id in the subscriber's
	// PeerConnection; the subscriber's session goroutine sets and reads them.
	sender *webrtc.RTPSender
	mid    string
	// dropped is set under the subscriber's mu once the subscriber drops the track.
	dropped bool
}

// trackBinding is what a Bind negotiated.
type trackBinding struct {
	id           string
	ssrc         uint32
	payloadType  uint8
	audioLevelID uint8
	writer       webrtc.TrackLocalWriter
}

func newDownTrack(up *upTrack, subscriber *participant) *downTrack {
	return &downTrack{up: up, subscriber: subscriber, ext: make([]rtp.Extension, 0, 2)}
}

// ID is the msid track id: the server's id of the track.
func (d *downTrack) ID() string { return d.up.id }

// RID is empty: one encoding per downTrack.
func (d *downTrack) RID() string { return "" }

// StreamID is the msid stream id.
func (d *downTrack) StreamID() string { return d.up.streamID }

// Kind is audio or video.
func (d *downTrack) Kind() webrtc.RTPCodecType { return d.up.kind }

// Bind is called by Pion when the subscriber's PeerConnection starts sending the track.
// For video it asks the publisher for a keyframe.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, ok := matchCodec(d.up.codec, ctx.CodecParameters())
	if !ok {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	b := &trackBinding{
		id:          ctx.ID(),
		ssrc:        uint32(ctx.SSRC()),
		payloadType: uint8(codec.PayloadType),
		writer:      ctx.WriteStream(),
	}
	for _, e := range ctx.HeaderExtensions() {
		if e.URI == sdp.AudioLevelURI && e.ID > 0 && e.ID < 15 {
			b.audioLevelID = uint8(e.ID)
		}
	}
	d.needKey.Store(d.up.kind == webrtc.RTPCodecTypeVideo)
	d.binding.Store(b)
	d.up.requestKeyframe()
	return codec, nil
}

// Unbind is called by Pion when the track stops being sent.
func (d *downTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	if b := d.binding.Load(); b != nil && b.id == ctx.ID() {
		d.binding.CompareAndSwap(b, nil)
	}
	return nil
}

// write sends pkt to the subscriber with the subscriber's SSRC, payload type and header
// extensions. key tells whether pkt starts a keyframe. Only the upTrack's goroutine
// calls it.
func (d *downTrack) write(pkt *rtp.Packet, key bool) {
	b := d.binding.Load()
	if b == nil {
		return
	}
	waiting := d.needKey.Load()
	if waiting && !key {
		d.up.requestKeyframe()
		return
	}
	d.hdr = pkt.Header
	d.hdr.SSRC = b.ssrc
	d.hdr.PayloadType = b.payloadType
	d.hdr.Padding = false
	d.hdr.PaddingSize = 0
	// Header extension ids are negotiated per PeerConnection: keep the audio level under
	// the subscriber's id and drop the rest, which are hop by hop.
	d.hdr.Extension = false
	d.hdr.ExtensionProfile = 0
	d.hdr.Extensions = d.ext[:0]
	if b.audioLevelID != 0 && d.up.audioLevelID != 0 {
		if level := pkt.Header.GetExtension(d.up.audioLevelID); len(level) > 0 {
			_ = d.hdr.SetExtension(b.audioLevelID, level)
		}
	}
	d.ext = d.hdr.Extensions[:0]
	n, err := b.writer.WriteRTP(&d.hdr, pkt.Payload)
	if waiting && err == nil && n > 0 {
		// Before the subscriber's DTLS is up, writes are dropped (n == 0): keep waiting
		// for a keyframe that really goes out.
		d.needKey.Store(false)
	}
}

// matchCodec finds the negotiated codec for want: same MIME type and format
// parameters, else the same MIME type.
func matchCodec(want webrtc.RTPCodecParameters, negotiated []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	for _, c := range negotiated {
		if strings.EqualFold(c.MimeType, want.MimeType) && c.SDPFmtpLine == want.SDPFmtpLine {
			return c, true
		}
	}
	for _, c := range negotiated {
		if strings.EqualFold(c.MimeType, want.MimeType) {
			return c, true
		}
	}
	return webrtc.RTPCodecParameters{}, false
}
