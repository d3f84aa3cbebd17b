package sfu

import (
	"cmp"
	"log/slog"
	"slices"
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

// rateWindow is the shortest time over which a layer's bit rate is measured.
const rateWindow = 500 * time.Millisecond

// maxRTPPacketSize is the read buffer of a track: larger than any RTP packet over UDP
// with an Ethernet MTU.
const maxRTPPacketSize = 1500

// upTrack is a track a participant publishes, with its simulcast layers: one layer for a
// track sent as one encoding, up to three when the publisher sends simulcast. One
// goroutine per layer reads its RTP (layer.run) and writes every packet to the downTracks
// that receive that layer. The lists of downTracks are copied on write under mu and read
// without a lock, so a forwarded packet takes no lock of the track and allocates nothing.
type upTrack struct {
	id       string // server id: "<participant>~<n>"
	streamID string
	owner    string // participant id of the publisher
	kind     webrtc.RTPCodecType
	label    Label
	codec    webrtc.RTPCodecParameters
	ingest   bool // published by a WHIP session
	// audioLevelID is the publisher's id of the audio level header extension, 0 if none.
	audioLevelID uint8
	isKeyframe   keyframeFunc
	clock        Clock
	// writeRTCP sends RTCP to the publisher.
	writeRTCP func([]rtcp.Packet) error
	// onLevel receives the average audio level of every levelWindow packets.
	onLevel func(u *upTrack, level int)
	// fanout brackets each packet's writes to the subscribers, so that the media
	// sockets send them together.
	fanout fanout
	log    *slog.Logger

	muted atomic.Bool
	// forceMuted stops the forwarding: a moderator muted the publisher's microphone.
	forceMuted atomic.Bool

	mu sync.Mutex // serialises changes of layers, subs, the layers' downs, parked and closed
	// parked is a track its publisher may not publish (yet): it is read but goes to no
	// one. A new track is parked until the room publishes it.
	parked bool
	closed bool
	subs   []*downTrack             // every subscriber, whatever layer it receives
	layers atomic.Pointer[[]*layer] // from the lowest to the highest quality
}

// layer is one encoding of an upTrack: the whole track, or one simulcast layer.
type layer struct {
	up   *upTrack
	rid  string // RTP stream id, empty without simulcast
	rank int    // order of quality, see ridRank
	ssrc uint32

	// downs are the downTracks whose current or target layer this is.
	downs atomic.Pointer[[]*downTrack]

	lastKeyframeRequest atomic.Int64  // Unix nanoseconds
	bytes               atomic.Uint64 // payload bytes received

	// levelSum and levelN add up audio levels for onLevel; only run writes them.
	levelSum, levelN int

	// rate is the measured bit rate, sampled by sampleRate under up.mu.
	rate       int64
	rateBytes  uint64
	rateSample time.Time
}

// upTrackParams are what newUpTrack needs.
type upTrackParams struct {
	ID, StreamID, Owner string
	Label               Label
	Codec               webrtc.RTPCodecParameters
	// SSRC and RID are those of the first layer.
	SSRC uint32
	RID  string
	// Ingest is a track of a WHIP session.
	Ingest bool
	// HeaderExtensions are those negotiated with the publisher for this track.
	HeaderExtensions []webrtc.RTPHeaderExtensionParameter
	Clock            Clock
	WriteRTCP        func([]rtcp.Packet) error
	// OnLevel, for an audio track, receives its average level; nil ignores levels.
	OnLevel func(u *upTrack, level int)
	// Fanout brackets each packet's writes to the subscribers; nil brackets nothing.
	Fanout fanout
	Logger *slog.Logger
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
		ingest:    p.Ingest,
		clock:     p.Clock,
		writeRTCP: p.WriteRTCP,
		onLevel:   p.OnLevel,
		fanout:    cmp.Or[fanout](p.Fanout, noFanout{}),
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
	u.layers.Store(&[]*layer{u.newLayer(p.RID, p.SSRC)})
	return u
}

func (u *upTrack) newLayer(rid string, ssrc uint32) *layer {
	l := &layer{up: u, rid: rid, rank: ridRank(rid), ssrc: ssrc, rateSample: u.clock.Now()}
	l.downs.Store(&[]*downTrack{})
	return l
}

// ridRank orders simulcast layers by quality from their RTP stream ids: "q", "h", "f"
// (quarter, half, full resolution, as docs/protocol.md asks of clients), and the usual
// "l", "m", "h" too when "q" or "f" are not used. Unknown ids rank by order of arrival,
// above the known ones.
func ridRank(rid string) int {
	switch rid {
	case "", "q", "l", "low", "0":
		return 0
	case "h", "m", "mid", "1":
		return 1
	case "f", "high", "2":
		return 2
	}
	return 3
}

// info describes the track for signalling.
func (u *upTrack) info() TrackInfo {
	return TrackInfo{ID: u.id, StreamID: u.streamID, Kind: u.kind.String(), Label: u.label, Muted: u.muted.Load()}
}

// layerList is the track's layers now, from the lowest quality to the highest.
func (u *upTrack) layerList() []*layer { return *u.layers.Load() }

// addLayer adds a simulcast layer that arrived after the first one; it returns the
// layer, or nil when the track has ended. A stream id seen before replaces its layer's
// SSRC (the publisher restarted the encoding).
func (u *upTrack) addLayer(rid string, ssrc uint32) *layer {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil
	}
	old := u.layerList()
	for _, l := range old {
		if l.rid == rid {
			l.ssrc = ssrc
			return l
		}
	}
	l := u.newLayer(rid, ssrc)
	if l.rank == 3 {
		l.rank += len(old)
	}
	layers := append(append(make([]*layer, 0, len(old)+1), old...), l)
	slices.SortStableFunc(layers, func(a, b *layer) int { return a.rank - b.rank })
	u.layers.Store(&layers)
	return l
}

// testHookLayerRun, set by tests only, is called as a layer's reader starts.
var testHookLayerRun func(*layer)

// run reads one layer of the publisher's track until it ends (the track is removed or
// the PeerConnection closes) and forwards every packet. It reuses one buffer and one
// packet.
func (l *layer) run(remote *webrtc.TrackRemote) {
	if testHookLayerRun != nil {
		testHookLayerRun(l)
	}
	buf := make([]byte, maxRTPPacketSize)
	var pkt rtp.Packet
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			return
		}
		l.handle(buf[:n], &pkt)
	}
}

// handle parses one RTP packet into pkt and forwards it.
func (l *layer) handle(raw []byte, pkt *rtp.Packet) {
	if err := pkt.Unmarshal(raw); err != nil {
		return
	}
	if len(pkt.Payload) == 0 {
		return // padding only: bandwidth probes are hop by hop
	}
	l.bytes.Add(uint64(len(pkt.Payload)))
	u := l.up
	if u.audioLevelID != 0 && u.onLevel != nil {
		l.addLevel(pkt)
	}
	downs := *l.downs.Load()
	if len(downs) == 0 || u.forceMuted.Load() {
		return
	}
	key := u.kind == webrtc.RTPCodecTypeAudio || u.isKeyframe == nil || u.isKeyframe(pkt.Payload)
	u.fanout.hold()
	for _, d := range downs {
		d.write(l, pkt, key)
	}
	u.fanout.release()
}

// addLevel adds the audio level of pkt to the average, and hands the average on every
// levelWindow packets. A packet without a level counts as silence.
func (l *layer) addLevel(pkt *rtp.Packet) {
	level := 127
	if ext := pkt.Header.GetExtension(l.up.audioLevelID); len(ext) > 0 {
		level = int(ext[0] & 0x7f)
	}
	l.levelSum += level
	l.levelN++
	if l.levelN == levelWindow {
		l.up.onLevel(l.up, l.levelSum/l.levelN)
		l.levelSum, l.levelN = 0, 0
	}
}

// sampleRate measures the layer's bit rate since the last sample, at most every
// rateWindow; called with u.mu held.
func (l *layer) sampleRate(now time.Time) int64 {
	if el := now.Sub(l.rateSample); el >= rateWindow {
		b := l.bytes.Load()
		l.rate = int64(float64(b-l.rateBytes) * 8 / el.Seconds())
		l.rateBytes, l.rateSample = b, now
	}
	return l.rate
}

// addDownLocked and removeDownLocked change the layer's list; u.mu is held.
func (l *layer) addDownLocked(d *downTrack) {
	old := *l.downs.Load()
	if slices.Contains(old, d) {
		return
	}
	downs := make([]*downTrack, len(old), len(old)+1)
	copy(downs, old)
	downs = append(downs, d)
	l.downs.Store(&downs)
}

func (l *layer) removeDownLocked(d *downTrack) {
	old := *l.downs.Load()
	if !slices.Contains(old, d) {
		return
	}
	downs := make([]*downTrack, 0, len(old))
	for _, o := range old {
		if o != d {
			downs = append(downs, o)
		}
	}
	l.downs.Store(&downs)
}

// addDown adds a subscriber, receiving the layer the track chooses for a newcomer
// (initialLayer); false when the track is parked or has ended.
func (u *upTrack) addDown(d *downTrack) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed || u.parked {
		return false
	}
	u.subs = append(u.subs, d)
	if l := u.initialLayerLocked(); l != nil {
		d.target.Store(l)
		l.addDownLocked(d)
	}
	return true
}

// initialLayerLocked is the layer a new subscriber starts with, before its bandwidth
// is known: the middle one of three, the lower of two.
func (u *upTrack) initialLayerLocked() *layer {
	layers := u.layerList()
	if len(layers) == 0 {
		return nil
	}
	return layers[(len(layers)-1)/2]
}

// removeDown removes a subscriber.
func (u *upTrack) removeDown(d *downTrack) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u.mu.Lock()
	defer u.mu.Unlock()
	u.detachLocked(d)
	if i := slices.Index(u.subs, d); i >= 0 {
		u.subs = slices.Delete(u.subs, i, i+1)
	}
}

// detachLocked takes d off every layer; d.mu and u.mu are held.
func (u *upTrack) detachLocked(d *downTrack) {
	for _, l := range u.layerList() {
		l.removeDownLocked(d)
	}
	d.current.Store(nil)
	d.target.Store(nil)
}

// setTarget makes d switch to layer l at l's next keyframe, or stop receiving when l is
// nil. It asks the publisher for that keyframe.
func (u *upTrack) setTarget(d *downTrack, l *layer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u.mu.Lock()
	if u.closed || !slices.Contains(u.subs, d) || d.target.Load() == l {
		u.mu.Unlock()
		return
	}
	if l == nil {
		u.detachLocked(d)
		d.needKey = true
		u.mu.Unlock()
		return
	}
	cur := d.current.Load()
	if old := d.target.Load(); old != nil && old != cur {
		old.removeDownLocked(d)
	}
	d.target.Store(l)
	l.addDownLocked(d)
	u.mu.Unlock()
	if l != cur {
		l.requestKeyframe()
	}
}

// finishSwitchLocked takes d off the layer it left; d.mu is held.
func (u *upTrack) finishSwitch(d *downTrack, left *layer) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if left != nil && d.target.Load() != left {
		left.removeDownLocked(d)
	}
}

// removeLayer forgets a layer whose reader ended; the subscribers that received it move
// to another layer. It returns whether the track has no layer left.
func (u *upTrack) removeLayer(l *layer) bool {
	u.mu.Lock()
	old := u.layerList()
	layers := make([]*layer, 0, len(old))
	for _, o := range old {
		if o != l {
			layers = append(layers, o)
		}
	}
	u.layers.Store(&layers)
	var moved []*downTrack
	for _, d := range u.subs {
		if d.target.Load() == l || d.current.Load() == l {
			moved = append(moved, d)
		}
	}
	u.mu.Unlock()
	for _, d := range moved {
		next := (*layer)(nil)
		if len(layers) > 0 {
			next = layers[len(layers)-1]
		}
		u.setTarget(d, next)
	}
	return len(layers) == 0
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
	return u.dropAllLocked()
}

// close ends the fan-out: no subscriber can be added any more. It returns the
// subscribers it had.
func (u *upTrack) close() []*downTrack {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closed = true
	return u.dropAllLocked()
}

func (u *upTrack) dropAllLocked() []*downTrack {
	old := u.subs
	u.subs = nil
	for _, l := range u.layerList() {
		l.downs.Store(&[]*downTrack{})
	}
	return old
}

// requestKeyframe asks the publisher for a keyframe of the layer a subscriber receives.
func (u *upTrack) requestKeyframe(d *downTrack) {
	if l := d.target.Load(); l != nil {
		l.requestKeyframe()
	}
}

// requestKeyframe sends a PLI for this layer to the publisher, at most once per
// keyframeRequestInterval. It does nothing for audio.
func (l *layer) requestKeyframe() {
	u := l.up
	if u.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	now := u.clock.Now().UnixNano()
	last := l.lastKeyframeRequest.Load()
	if last != 0 && now-last < int64(keyframeRequestInterval) {
		return
	}
	if !l.lastKeyframeRequest.CompareAndSwap(last, now) {
		return
	}
	if err := u.writeRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}}); err != nil {
		u.log.Debug("keyframe request not sent", "track", u.id, "error", err)
	}
}

// downTrack is one subscriber's copy of an upTrack. It is a webrtc.TrackLocal bound to
// the subscriber's PeerConnection: Bind gives it the negotiated SSRC, payload type and
// header extension ids, and write rewrites each packet for them. It receives one layer
// of the track at a time (current) and moves to another (target) at that layer's next
// keyframe, keeping sequence numbers, timestamps and VP8 picture ids continuous. A video
// downTrack forwards nothing until a keyframe starts, so that the subscriber's first
// frame decodes.
type downTrack struct {
	up         *upTrack
	subscriber *participant // nil for a sink's
	sink       *SinkHandle  // nil for a participant's

	binding atomic.Pointer[trackBinding]
	current atomic.Pointer[layer] // the layer forwarded now, nil before the first keyframe
	target  atomic.Pointer[layer] // the layer wanted, nil when paused
	layer   atomic.Pointer[LayerRequest]

	// mu serialises write: during a switch two layers' goroutines write. It also guards
	// what follows, the rewriting state.
	mu      sync.Mutex
	needKey bool
	started bool   // a packet went out
	seqOff  uint16 // added to the layer's sequence numbers
	tsOff   uint32 // added to the layer's timestamps
	lastSeq uint16 // last sequence number sent
	lastTS  uint32 // last timestamp sent
	vp8     vp8Rewriter
	// hdr, ext and payload are scratch space.
	hdr     rtp.Header
	ext     []rtp.Extension
	payload []byte

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
	d := &downTrack{up: up, subscriber: subscriber, ext: make([]rtp.Extension, 0, 2), needKey: up.kind == webrtc.RTPCodecTypeVideo}
	if strings.EqualFold(up.codec.MimeType, webrtc.MimeTypeVP8) {
		d.payload = make([]byte, maxRTPPacketSize)
	}
	return d
}

// ID is the msid track id: the server's id of the track.
func (d *downTrack) ID() string { return d.up.id }

// RID is empty: the subscriber gets one encoding, whatever layer it comes from.
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
	d.mu.Lock()
	d.needKey = d.up.kind == webrtc.RTPCodecTypeVideo
	d.binding.Store(b)
	d.mu.Unlock()
	d.up.requestKeyframe(d)
	return codec, nil
}

// Unbind is called by Pion when the track stops being sent.
func (d *downTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	if b := d.binding.Load(); b != nil && b.id == ctx.ID() {
		d.binding.CompareAndSwap(b, nil)
	}
	return nil
}

// switchFrame is the timestamp step put between the last packet of a layer and the
// first of the next: one frame at 30 frames per second of a 90 kHz clock.
const switchFrame = 90000 / 30

// write sends pkt, a packet of layer l, to the subscriber with the subscriber's SSRC,
// payload type and header extensions, and sequence numbers and timestamps continued
// across layer switches. key tells whether pkt starts a keyframe.
func (d *downTrack) write(l *layer, pkt *rtp.Packet, key bool) {
	b := d.binding.Load()
	if b == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.current.Load()
	var left *layer
	if l != cur {
		if l != d.target.Load() {
			return // a layer being left
		}
		if !key {
			l.requestKeyframe()
			return
		}
		// Switch to l: its first packet follows the last one sent.
		if d.started {
			d.seqOff = d.lastSeq + 1 - pkt.SequenceNumber
			d.tsOff = d.lastTS + switchFrame - pkt.Timestamp
			d.vp8.switched()
		}
		left = cur
		d.current.Store(l)
		d.needKey = d.up.kind == webrtc.RTPCodecTypeVideo
	} else if d.needKey && !key {
		l.requestKeyframe()
		return
	}
	d.hdr = pkt.Header
	d.hdr.SSRC = b.ssrc
	d.hdr.PayloadType = b.payloadType
	d.hdr.SequenceNumber = pkt.SequenceNumber + d.seqOff
	d.hdr.Timestamp = pkt.Timestamp + d.tsOff
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
	payload := pkt.Payload
	if d.payload != nil {
		payload = d.vp8.rewrite(d.payload, payload)
	}
	n, err := b.writer.WriteRTP(&d.hdr, payload)
	if err == nil && n > 0 {
		d.started = true
		d.lastSeq, d.lastTS = d.hdr.SequenceNumber, d.hdr.Timestamp
		// Before the subscriber's DTLS is up, writes are dropped (n == 0): keep waiting
		// for a keyframe that really goes out.
		d.needKey = false
	}
	if left != nil {
		d.up.finishSwitch(d, left)
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
