package sfu

import (
	"cmp"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"webinaire/sfu/codec"
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
	isKeyframe   codec.KeyframeFunc
	clock        Clock
	// writeRTCP sends RTCP to the publisher.
	writeRTCP func([]rtcp.Packet) error
	// onLevel receives the average audio level of every levelWindow packets.
	onLevel func(u *upTrack, level int)
	log     *slog.Logger
	spread  spreadConfig
	// fanout brackets each packet's writes to the subscribers, so that the media
	// sockets send them together.
	fanout fanout
	stats  *forwardStats
	panics *Panics
	// arrivals tells when the packets came off the media sockets; nil when unknown.
	arrivals *arrivalTable
	// maxDelay is how long, in nanoseconds, a packet may have been in the server before
	// it is forwarded: maxVideoQueueDelay or maxAudioQueueDelay.
	maxDelay int64
	// slots numbers the downTracks made for the track, see downTrack.slot.
	slots atomic.Int64

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
	// cache keeps the last packets, for the writers and for retransmissions.
	cache *packetCache
	// pool is the layer's writers, made once it has more than spread.above downs.
	pool atomic.Pointer[writerPool]
	// lateAt is when a writer last dropped a packet that waited too long, in Unix
	// nanoseconds: retransmissions wait until the layer is served in time again.
	lateAt atomic.Int64

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
	Logger  *slog.Logger
	// Spread says when the fan-out is spread over writers; zero is the default.
	Spread spreadConfig
	// Fanout brackets each packet's writes to the subscribers; nil brackets nothing.
	Fanout fanout
	// Stats counts drops and retransmissions; nil counts for the track alone.
	Stats *forwardStats
	// Panics counts the panics recovered in the track's writers; nil does not count.
	Panics *Panics
	// Arrivals tells when the track's packets came off the media sockets; nil counts
	// their wait from when the track's reader gets them.
	Arrivals *arrivalTable
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
		spread:    p.Spread,
		stats:     p.Stats,
		panics:    p.Panics,
		arrivals:  p.Arrivals,
		maxDelay:  int64(maxAudioQueueDelay),
		parked:    true,
	}
	if u.spread.above == 0 {
		u.spread.above = DefaultSpreadAbove
	}
	if u.spread.maxWriters == 0 {
		u.spread.maxWriters = 2 * runtime.GOMAXPROCS(0)
	}
	if u.stats == nil {
		u.stats = new(forwardStats)
	}
	if kind == webrtc.RTPCodecTypeVideo {
		u.isKeyframe = codec.KeyframeDetector(p.Codec.MimeType)
		u.maxDelay = int64(maxVideoQueueDelay)
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
	size := audioCachePackets
	if u.kind == webrtc.RTPCodecTypeVideo {
		size = videoCachePackets
	}
	l := &layer{up: u, rid: rid, rank: ridRank(rid), ssrc: ssrc, rateSample: u.clock.Now(), cache: newPacketCache(size)}
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
// the PeerConnection closes) and forwards every packet. It reuses one scratch space.
func (l *layer) run(remote *webrtc.TrackRemote) {
	if testHookLayerRun != nil {
		testHookLayerRun(l)
	}
	defer l.stopWriters()
	sc := new(scratch)
	if t := l.up.arrivals; t != nil {
		ssrc := uint32(remote.SSRC())
		sc.arrivals = t.open(ssrc)
		defer t.close(ssrc, sc.arrivals)
	}
	for {
		n, _, err := remote.Read(sc.raw[:])
		if err != nil {
			return
		}
		l.handle(sc.raw[:n], sc)
	}
}

// handle parses one RTP packet, raw, into sc and forwards it: to each subscriber in
// turn on this goroutine, or, when the layer has more than the track's spreadAbove
// subscribers, through its writers (see writerPool). raw may be sc.raw. A packet that
// has been in the server longer than the track's maxDelay already (it waited in Pion's
// receive path) is kept for retransmissions but not forwarded.
func (l *layer) handle(raw []byte, sc *scratch) {
	pkt := &sc.pkt
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
	l.cache.store(pkt.SequenceNumber, raw, key)
	u.stats.forwarded.Add(uint64(len(downs)))
	sc.now = u.clock.Now().UnixNano()
	at := sc.arrivals.arrivedAt(pkt.SequenceNumber, sc.now)
	if sc.now-at > u.maxDelay {
		u.stats.receivedLate.Add(1)
		l.lateAt.Store(sc.now)
		l.resync(downs)
		return
	}
	if len(downs) > u.spread.above {
		if pool := l.writers(); pool != nil {
			pool.post(packetRef{seq: pkt.SequenceNumber, at: at})
			return
		}
	}
	sc.at = at
	l.writeAll(downs, pkt, key, sc)
}

// lateCheckEvery is how many subscribers a fan-out writes to between two checks of the
// packet's age: a goroutine that loses its core in the middle of a fan-out does not then
// send what has become too old to the rest.
const lateCheckEvery = 16

// writeAll writes pkt, which came in at sc.at, to every subscriber of downs, its
// datagrams gathered by the fanout so that they leave together, and counts for each
// datagram the delay from the packet's arrival to the fan-out's end. When the packet has been in the server longer
// than the track's maxDelay by the time the loop gets to a subscriber (the age is
// checked every lateCheckEvery subscribers), it stops there and the subscribers left
// wait for a keyframe.
func (l *layer) writeAll(downs []*downTrack, pkt *rtp.Packet, key bool, sc *scratch) {
	u := l.up
	sent := uint64(0)
	defer func() { // after the release
		if sent > 0 {
			u.stats.delay.observe(u.clock.Now().UnixNano()-sc.at, sent)
		}
	}()
	u.fanout.hold()
	defer u.fanout.release()
	for i, d := range downs {
		if i > 0 && i%lateCheckEvery == 0 {
			if now := u.clock.Now().UnixNano(); now-sc.at > u.maxDelay {
				u.stats.late.Add(1)
				l.lateAt.Store(now)
				l.resync(downs[i:])
				return
			}
		}
		if d.write(l, pkt, key, sc) {
			sent++
		}
	}
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
	l.regroupLocked(downs)
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
	l.regroupLocked(downs)
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
		if d.pinned != nil {
			d.drop() // a relay's copy of this layer ends with it
			continue
		}
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
		return
	}
	u.stats.keyframeRequests.Add(1)
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
	subscriber *subscriber // nil for a sink's
	sink       *SinkHandle // nil for a member's

	binding atomic.Pointer[trackBinding]
	current atomic.Pointer[layer] // the layer forwarded now, nil before the first keyframe
	target  atomic.Pointer[layer] // the layer wanted, nil when paused
	layer   atomic.Pointer[LayerRequest]

	// slot places the downTrack in a writer's group when the fan-out is spread (see
	// writerPool); it never changes.
	slot int

	// mu guards the rewriting state below. write takes it to decide and number a
	// packet, and releases it before writing: two goroutines may write one downTrack
	// (the readers of two layers during a switch, a writer and a retransmission).
	mu      sync.Mutex
	needKey bool
	s       streamState
	vp8     *codec.VP8Rewriter // nil for a codec other than VP8
	// nacks limits the retransmissions the subscriber can ask for, see retransmit.
	nacks nackBudget

	// sender and mid are the RTPSender and media id in the subscriber's
	// PeerConnection; the subscriber's session goroutine sets and reads them.
	sender *webrtc.RTPSender
	mid    string
	// dropped is set under the subscriber's mu once the subscriber drops the track.
	dropped bool
	// pinned is the one layer a relay's downTrack carries, with its stream id rid; nil
	// for any other downTrack, which the allocation moves between layers.
	pinned *layer
	rid    string
}

// trackBinding is what a Bind negotiated.
type trackBinding struct {
	id           string
	ssrc         uint32
	payloadType  uint8
	audioLevelID uint8
	writer       webrtc.TrackLocalWriter
	// direct sends the packets when the subscriber's PeerConnection sends directly;
	// nil for a sink's track.
	direct *directSender
}

// writeRTP sends one packet to the subscriber: directly, or through Pion's writer.
// It reports 0 when nothing went out (DTLS not up yet, no route).
func (b *trackBinding) writeRTP(h *rtp.Header, payload []byte, sc *scratch) (int, error) {
	if b.direct != nil {
		switch directWay(b.direct.way.Load()) {
		case wayDirect:
			return b.direct.send(h, payload, sc)
		case wayUndecided:
			return 0, nil
		}
	}
	return b.writer.WriteRTP(h, payload)
}

func newDownTrack(up *upTrack, subscriber *subscriber) *downTrack {
	d := &downTrack{up: up, subscriber: subscriber, needKey: up.kind == webrtc.RTPCodecTypeVideo, slot: int(up.slots.Add(1))}
	if strings.EqualFold(up.codec.MimeType, webrtc.MimeTypeVP8) {
		d.vp8 = &codec.VP8Rewriter{}
	}
	return d
}

// ID is the msid track id: the server's id of the track, with the layer's stream id
// for a relay's copy of a simulcast layer.
func (d *downTrack) ID() string {
	if d.rid != "" {
		return d.up.id + "/" + d.rid
	}
	return d.up.id
}

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
	if d.subscriber != nil {
		b.direct = d.subscriber.m.direct
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
// across layer switches. key tells whether pkt starts a keyframe. sc is the calling
// goroutine's scratch space. It tells whether pkt was handed to Pion.
func (d *downTrack) write(l *layer, pkt *rtp.Packet, key bool, sc *scratch) bool {
	b := d.binding.Load()
	if b == nil {
		return false
	}
	d.mu.Lock()
	cur := d.current.Load()
	var left *layer
	switch decide(l, cur, d.target.Load(), key, d.needKey) {
	case skipPacket:
		d.mu.Unlock()
		return false
	case awaitKeyframe:
		d.mu.Unlock()
		l.requestKeyframe()
		return false
	case switchToLayer:
		d.s.switchTo(pkt.SequenceNumber, pkt.Timestamp)
		if d.vp8 != nil {
			d.vp8.Switched()
		}
		left = cur
		d.current.Store(l)
	case forwardPacket:
		if d.needKey {
			d.s.resume(pkt.SequenceNumber)
		}
	}
	payload := pkt.Payload
	if d.vp8 != nil {
		payload = d.vp8.Rewrite(sc.payload[:], payload)
	}
	seq, ts := d.s.next(pkt.SequenceNumber, pkt.Timestamp, len(payload), sc.now)
	d.needKey = false
	d.mu.Unlock()

	sc.header(&pkt.Header, b, d.up.audioLevelID, seq, ts)
	if n, err := b.writeRTP(&sc.hdr, payload, sc); err != nil || n == 0 {
		// Before the subscriber's DTLS is up, writes are dropped (n == 0): wait for a
		// keyframe that really goes out.
		d.resync(l)
	}
	if left != nil {
		d.up.finishSwitch(d, left)
	}
	return true
}

// resync makes a video subscriber of layer l wait for l's next keyframe: packets it
// should have had were not sent. It tells whether the subscriber was receiving l until
// then.
func (d *downTrack) resync(l *layer) bool {
	if d.up.kind != webrtc.RTPCodecTypeVideo {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.current.Load() != l || d.needKey {
		return false
	}
	d.needKey = true
	return true
}

// scratch is the space a goroutine that forwards packets reuses for each one, so that
// forwarding allocates nothing: the parsed packet, the rewritten header and payload.
type scratch struct {
	// now is when the packet being forwarded was read, in Unix nanoseconds.
	now int64
	// at is when the packet being forwarded came in, in Unix nanoseconds.
	at int64
	// arrivals, in a layer's reader, is when its packets came off the media sockets;
	// nil when unknown.
	arrivals *arrivalRing
	pkt      rtp.Packet
	hdr      rtp.Header
	ext      []rtp.Extension
	raw      [maxRTPPacketSize]byte
	payload  [maxRTPPacketSize]byte
	// sealing is the room for a packet sent directly, made by the first one: the
	// goroutines that only read RTCP and seldom retransmit do without it.
	sealing *sealing
}

// sealing is a packet sent directly, before and after its encryption.
type sealing struct {
	plain  [maxRTPPacketSize]byte
	sealed [maxRTPPacketSize + srtpMaxOverhead]byte
	hdr    rtp.Header
}

// srtpMaxOverhead is the most SRTP adds to an RTP packet: a 16-byte authentication tag.
const srtpMaxOverhead = 16

// header sets sc.hdr to h rewritten for binding b: its SSRC, payload type, sequence
// number seq and timestamp ts. Header extension ids are negotiated per PeerConnection:
// the audio level (under the publisher's id levelID) is kept under the subscriber's id
// and the rest dropped, as they are hop by hop.
func (sc *scratch) header(h *rtp.Header, b *trackBinding, levelID uint8, seq uint16, ts uint32) {
	sc.hdr = *h
	sc.hdr.SSRC = b.ssrc
	sc.hdr.PayloadType = b.payloadType
	sc.hdr.SequenceNumber = seq
	sc.hdr.Timestamp = ts
	sc.hdr.Padding = false
	sc.hdr.PaddingSize = 0
	sc.hdr.Extension = false
	sc.hdr.ExtensionProfile = 0
	sc.hdr.Extensions = sc.ext[:0]
	if b.audioLevelID != 0 && levelID != 0 {
		if level := h.GetExtension(levelID); len(level) > 0 {
			_ = sc.hdr.SetExtension(b.audioLevelID, level)
		}
	}
	sc.ext = sc.hdr.Extensions[:0]
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
