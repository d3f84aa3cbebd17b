package recording

import (
	"errors"
	"io"
	"slices"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
)

// composite is the state of a broadcast's picture and sound, owned by its goroutine.
// Times are in milliseconds from the start of the stream fed to ffmpeg (epoch), one per
// attempt: video and audio are placed at the time their packets arrive, so that they
// stay in step whatever the publishers' clocks.
type composite struct {
	b *Broadcast

	main   *lane // the picture
	inset  *lane // the speaker's camera over a screen share
	slots  [AudioSlots]audioSlot
	chosen int64 // when the pictures were last chosen

	// Of the attempt running.
	w     *webmWriter
	epoch time.Time
	err   error // why feed stopped writing, if it did
}

// WebM track numbers of the stream fed to ffmpeg: the picture, the inset, then the audio
// slots.
const (
	mainTrack  = 1
	insetTrack = 2
	firstSlot  = 3
)

// lane is one video stream fed to ffmpeg: the frames of one track at a time, switched at
// a keyframe, or a placeholder picture while there is none.
type lane struct {
	track       uint64
	placeholder []byte
	every       int64 // the period of the placeholder, in ms
	stall       int64 // how long the track shown may send nothing before the placeholder replaces it, in ms
	named       bool  // the name of whoever is shown is written over it

	videos  map[*castTrack]*videoSource
	shown   *videoSource // the track whose frames are sent, nil while the placeholder is
	pending *videoSource // the track to show at its next keyframe
	askedAt int64        // when a keyframe of pending was last asked for

	// Of the attempt running.
	lastVideo int64 // time of the last frame written
	lastReal  int64 // time of the last frame of shown
}

// videoSource is a video track the composite may show.
type videoSource struct {
	t        *castTrack
	sb       *samplebuilder.SampleBuilder
	clock    clockMap
	anchored bool
}

// audioSlot is one of the microphones mixed: the track in it, and the end of what was
// written in it.
type audioSlot struct {
	t        *castTrack
	end      int64
	clock    clockMap
	anchored bool
}

// clockMap places a track's RTP timestamps on the stream's time: rtp0 is at base.
type clockMap struct {
	base int64
	rtp0 uint32
	rate int64 // in ticks per ms
}

// at is the time of RTP timestamp ts; a timestamp before rtp0 (within half the
// wrap-around) is before base.
func (m clockMap) at(ts uint32) int64 {
	if m.rate == 0 {
		return m.base
	}
	return m.base + int64(int32(ts-m.rtp0))/m.rate
}

func newComposite(b *Broadcast) *composite {
	return &composite{
		b: b,
		main: &lane{
			track: mainTrack, placeholder: b.placeholder, every: placeholderEvery, stall: videoStall, named: true,
			videos: make(map[*castTrack]*videoSource),
		},
		// ffmpeg holds the picture until it has the inset of the same time: the inset's
		// placeholder comes often, and a stalled inset gives way soon.
		inset: &lane{
			track: insetTrack, placeholder: b.insetPlaceholder, every: insetEvery, stall: insetStall,
			videos: make(map[*castTrack]*videoSource),
		},
	}
}

// nopWriteCloser lets the WebM writer write to ffmpeg's input, which the attempt closes.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// feed writes the stream to ffmpeg's input until the broadcast stops (true) or ffmpeg
// exits or stops reading (false).
func (c *composite) feed(in io.Writer, exited <-chan struct{}) bool {
	c.err = nil
	if err := c.begin(in); err != nil {
		c.err = err
		return false
	}
	tick := time.NewTicker(castTick)
	defer tick.Stop()
	for {
		var err error
		select {
		case <-c.b.stop:
			return true
		case <-c.b.room.Done():
			return true
		case <-exited:
			return false
		case p := <-c.b.packets:
			if p.track.video {
				err = errors.Join(c.video(c.main, p), c.video(c.inset, p))
			} else {
				err = c.audio(p)
			}
		case <-tick.C:
			err = c.tick()
		}
		if err != nil {
			c.err = err
			return false
		}
	}
}

// begin starts a new stream on in, at time 0 now: its header, a picture and a sound at 0
// so that they start together, and the choice of the picture.
func (c *composite) begin(in io.Writer) error {
	w, err := newWebMWriter(nopWriteCloser{in}, castTracks()...)
	if err != nil {
		return err
	}
	c.w, c.epoch = w, c.b.p.Clock()
	for i := range c.slots {
		c.slots[i].end, c.slots[i].anchored = 0, false
	}
	// The stream starts with pictures and sounds at 0, so that they start together.
	for _, l := range []*lane{c.main, c.inset} {
		if l.shown != nil { // the new stream starts at a keyframe
			l.pending, l.shown = l.shown, nil
			l.pending.sb = newVP8Builder()
		}
		l.askedAt, l.lastReal = -1000000, 0
		if err := c.put(l.track, true, 0, l.placeholder); err != nil {
			return err
		}
		l.lastVideo = 0
	}
	for i := range c.slots {
		if err := c.silence(i, 1); err != nil {
			return err
		}
	}
	c.choose(0)
	return nil
}

// now is the stream's time.
func (c *composite) now() int64 { return c.b.p.Clock().Sub(c.epoch).Milliseconds() }

// put writes a frame of a track (1 the video, 2... the audio slots) at ms.
func (c *composite) put(track uint64, key bool, ms int64, data []byte) error {
	// Blocks are timed within an int16 of their cluster: a cluster starts a little
	// before the frame, so that the audio written behind the video still fits.
	if c.w.cluster < 0 || ms < c.w.cluster || ms-c.w.cluster > 10000 {
		if err := c.w.openCluster(max(0, ms-2000)); err != nil {
			return err
		}
	}
	return c.w.writeBlock(track, key, ms, data)
}

// tick fills the audio slots with silence up to a little behind now, chooses what to
// show, and writes a placeholder where nothing is shown.
func (c *composite) tick() error {
	now := c.now()
	for i := range c.slots {
		s := &c.slots[i]
		if s.t != nil && s.t.ended.Load() {
			s.t, s.anchored = nil, false
		}
		if n := (now - fillDelay - s.end) / audioFrameMS; n > 0 {
			if err := c.silence(i, n); err != nil {
				return err
			}
		}
	}
	if now-c.chosen >= 250 {
		c.choose(now)
	}
	for _, l := range []*lane{c.main, c.inset} {
		if old := l.shown; old != nil && (old.t.ended.Load() || now-l.lastReal > l.stall) {
			// Ended or stalled (a camera turned off): the placeholder until a keyframe,
			// of the track chosen next or of this one.
			c.b.log.Debug("broadcast picture stalled", "track", l.track)
			l.shown = nil
			if l.pending == nil && !old.t.ended.Load() {
				l.pending, old.sb, l.askedAt = old, newVP8Builder(), -1000000
			}
			c.caption(l, "")
		}
		if l.shown == nil && now-l.lastVideo >= l.every {
			if err := c.put(l.track, true, now, l.placeholder); err != nil {
				return err
			}
			l.lastVideo = now
		}
	}
	return nil
}

// silence writes n frames of silence in slot i.
func (c *composite) silence(i int, n int64) error {
	s := &c.slots[i]
	for range n {
		if err := c.put(uint64(firstSlot+i), true, s.end, opusSilence); err != nil {
			return err
		}
		s.end += audioFrameMS
	}
	return nil
}

// choose picks the tracks to show: the latest screen share, else the active speaker's
// camera, else the one shown, else any camera; over a screen share, the inset shows the
// camera of the active speaker, else of the one who shares. A new choice is shown from
// its next keyframe, asked for now.
func (c *composite) choose(now int64) {
	c.chosen = now
	c.b.mu.Lock()
	c.b.tracks = slices.DeleteFunc(c.b.tracks, func(t *castTrack) bool { return t.ended.Load() })
	tracks := slices.Clone(c.b.tracks)
	c.b.mu.Unlock()
	speaker := c.b.room.ActiveSpeaker()
	var screen, spoken, first *castTrack
	cameras := map[string]*castTrack{}
	for _, t := range tracks {
		switch {
		case !t.video:
		case t.screen:
			screen = t
		default:
			if cameras[t.participant] == nil {
				cameras[t.participant] = t
			}
			if first == nil {
				first = t
			}
		}
	}
	spoken = cameras[speaker]
	var main, inset *castTrack
	switch {
	case screen != nil:
		main = screen
		inset = spoken
		if inset == nil {
			inset = cameras[screen.participant]
		}
	case spoken != nil:
		main = spoken
	case c.main.shown != nil && !c.main.shown.t.ended.Load():
		main = c.main.shown.t
	case c.main.pending != nil && !c.main.pending.t.ended.Load():
		main = c.main.pending.t
	default:
		main = first
	}
	c.want(c.main, main, now)
	c.want(c.inset, inset, now)
}

// want makes t the track lane l shows: at once when it shows it already, from its next
// keyframe otherwise; nil shows nothing (the placeholder) in the inset, and keeps what
// the picture shows.
func (c *composite) want(l *lane, t *castTrack, now int64) {
	for tr := range l.videos {
		if tr.ended.Load() {
			delete(l.videos, tr)
		}
	}
	if l.pending != nil && l.pending.t.ended.Load() {
		l.pending = nil
	}
	if t == nil {
		if l == c.inset && l.shown != nil {
			l.shown, l.lastVideo = nil, -1000000 // the placeholder at the next tick
		}
		l.pending = nil
		return
	}
	if l.shown != nil && l.shown.t == t {
		l.pending = nil
		return
	}
	if l.pending == nil || l.pending.t != t {
		src := l.videos[t]
		if src == nil {
			src = &videoSource{t: t}
			l.videos[t] = src
		}
		src.sb, src.anchored = newVP8Builder(), false
		l.pending = src
		l.askedAt = -1000000
	}
	if now-l.askedAt >= 1000 {
		l.askedAt = now
		c.b.sink.RequestKeyframe(t.id)
	}
}

// newVP8Builder assembles VP8 frames from packets.
func newVP8Builder() *samplebuilder.SampleBuilder {
	return samplebuilder.New(256, &codecs.VP8Packet{}, 90000)
}

// video takes a packet of a video track for lane l: the track shown writes its frames,
// the track to show waits for its keyframe, the others are left.
func (c *composite) video(l *lane, p castPacket) error {
	src := l.videos[p.track]
	if src == nil || (src != l.shown && src != l.pending) {
		return nil
	}
	src.sb.Push(&rtp.Packet{Header: p.hdr, Payload: p.payload})
	for s := src.sb.Pop(); s != nil; s = src.sb.Pop() {
		if len(s.Data) == 0 {
			continue
		}
		key := s.Data[0]&0x01 == 0 // RFC 6386 §9.1
		if src == l.pending {
			if !key {
				continue
			}
			l.shown, l.pending, src.anchored = src, nil, false
			c.caption(l, src.t.participant)
		}
		if src != l.shown {
			continue
		}
		now := c.now()
		ms := src.clock.at(s.PacketTimestamp)
		if !src.anchored || ms > now+1000 || ms < now-2000 {
			src.clock = clockMap{base: max(now, l.lastVideo+1), rtp0: s.PacketTimestamp, rate: 90}
			src.anchored = true
			ms = src.clock.base
		}
		ms = max(ms, l.lastVideo+1)
		if err := c.put(l.track, key, ms, s.Data); err != nil {
			return err
		}
		l.lastVideo, l.lastReal = ms, now
	}
	return nil
}

// caption shows the name of the participant whose picture lane l shows, "" none; only
// the main picture is named.
func (c *composite) caption(l *lane, participantID string) {
	if !l.named {
		return
	}
	name := ""
	if participantID != "" {
		for _, p := range c.b.room.Participants() {
			if p.ID == participantID {
				name = p.Name
			}
		}
	}
	if err := c.b.setCaption(name); err != nil {
		c.b.log.Warn("broadcast caption not written", "err", err)
	}
}

// audio takes a packet of a microphone: it goes in the track's slot, or a free one; a
// microphone with no slot is not heard.
func (c *composite) audio(p castPacket) error {
	i := -1
	for j := range c.slots {
		if c.slots[j].t == p.track {
			i = j
			break
		}
	}
	if i < 0 {
		for j := range c.slots {
			if c.slots[j].t == nil {
				i = j
				c.slots[j].t, c.slots[j].anchored = p.track, false
				break
			}
		}
	}
	if i < 0 || len(p.payload) == 0 {
		return nil
	}
	s := &c.slots[i]
	now := c.now()
	ms := s.clock.at(p.hdr.Timestamp)
	if !s.anchored || ms > now+500 || ms < now-1000 {
		// Placed at its arrival, after silence up to there.
		if n := (now - s.end) / audioFrameMS; n > 0 {
			if err := c.silence(i, n); err != nil {
				return err
			}
		}
		s.clock = clockMap{base: s.end, rtp0: p.hdr.Timestamp, rate: 48}
		s.anchored = true
		ms = s.end
	}
	if ms < s.end {
		return nil // late: its place is taken
	}
	if n := (ms - s.end) / audioFrameMS; n > 0 { // lost packets
		if err := c.silence(i, n); err != nil {
			return err
		}
	}
	if err := c.put(uint64(firstSlot+i), true, s.end, p.payload); err != nil {
		return err
	}
	s.end += audioFrameMS
	return nil
}
