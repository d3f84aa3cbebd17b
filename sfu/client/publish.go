package client

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"webinaire/sfu/signal"
)

// Media is the synthetic media a client publishes.
type Media struct {
	// VideoBitrate is the video's bit rate, in bits per second of RTP payload; 0 means
	// 1,200,000.
	VideoBitrate int
	// FrameRate is the video's frames per second; 0 means 30.
	FrameRate int
	// KeyframeInterval is the time between two key frames, besides those asked for by
	// PLI or FIR; 0 means 3 seconds, a negative interval none but the first and those
	// asked for.
	KeyframeInterval time.Duration
	// NoAudio publishes video only.
	NoAudio bool
	// Screen publishes a screen share (video and its audio, labelled screen) instead of a
	// camera and a microphone.
	Screen bool
	// Pace spreads the packets of each video frame as a browser's paced sender does, at
	// 2.5 times VideoBitrate in bursts at least 5 ms apart, instead of writing them at
	// once; audio does not wait for them.
	Pace bool
}

// Synthetic media constants.
const (
	defaultVideoBitrate     = 1_200_000
	defaultFrameRate        = 30
	defaultKeyframeInterval = 3 * time.Second
	// maxPayload is the largest RTP payload of a video packet, as browsers send.
	maxPayload = 1200
	// keyframeWeight is the size of a key frame in interframes.
	keyframeWeight = 4
	// audioInterval is Opus's packet time; audioPayload its size at 32 kbit/s.
	audioInterval = 20 * time.Millisecond
	audioPayload  = 80
	videoClock    = 90000
	audioClock    = 48000
	// The size the key frames announce.
	videoWidth, videoHeight = 1280, 720
)

func (m Media) withDefaults() Media {
	if m.VideoBitrate <= 0 {
		m.VideoBitrate = defaultVideoBitrate
	}
	if m.FrameRate <= 0 {
		m.FrameRate = defaultFrameRate
	}
	if m.KeyframeInterval == 0 {
		m.KeyframeInterval = defaultKeyframeInterval
	}
	return m
}

// frameSizes are the payload sizes of an interframe and a key frame, such that the
// frames of one key frame interval (the default one when there is none) make the bit
// rate.
func (m Media) frameSizes() (inter, key int) {
	interval := m.KeyframeInterval
	if interval < 0 {
		interval = defaultKeyframeInterval
	}
	frames := int(interval.Seconds()*float64(m.FrameRate) + 0.5)
	frames = max(frames, 1)
	perInterval := float64(m.VideoBitrate) / 8 * interval.Seconds()
	inter = int(perInterval / float64(frames-1+keyframeWeight))
	inter = max(inter, vp8KeyHeaderSize+StampSize+1)
	return inter, inter * keyframeWeight
}

// SentStats counts what a published track sent.
type SentStats struct {
	// Kind is audio or video.
	Kind webrtc.RTPCodecType
	// Packets, Bytes and Keyframes count the RTP packets written, their payload bytes
	// and the key frames.
	Packets, Bytes, Keyframes uint64
	// KeyframeRequests counts the PLI and FIR received.
	KeyframeRequests uint64
}

// rtpWriter takes RTP packets: a webrtc.TrackLocalStaticRTP, which copies them before
// WriteRTP returns.
type rtpWriter interface {
	WriteRTP(p *rtp.Packet) error
}

// publisher writes one synthetic track. Its counters are atomic: the generator writes
// them, anybody reads them.
type publisher struct {
	track  rtpWriter
	kind   webrtc.RTPCodecType
	packet rtp.Packet
	buf    [maxPayload]byte
	seq    uint32 // the stamp's sequence number

	wantKey                             atomic.Bool
	packets, bytes, keyframes, requests atomic.Uint64
}

func (p *publisher) stats() SentStats {
	return SentStats{Kind: p.kind, Packets: p.packets.Load(), Bytes: p.bytes.Load(),
		Keyframes: p.keyframes.Load(), KeyframeRequests: p.requests.Load()}
}

// write sends the packet whose payload is p.buf[:n].
func (p *publisher) write(n int) {
	p.packet.Payload = p.buf[:n]
	if err := p.track.WriteRTP(&p.packet); err == nil {
		p.packets.Add(1)
		p.bytes.Add(uint64(n))
	}
	p.packet.SequenceNumber++
	p.seq++
}

// readRTCP reads the sender's RTCP until it stops, and notes keyframe requests.
func (p *publisher) readRTCP(s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.requests.Add(1)
				p.wantKey.Store(true)
			}
		}
	}
}

// Publish adds a camera (VP8) and a microphone (Opus) track, or a screen share, offers
// them, and sends synthetic media until Close. Every packet carries a Stamp after its
// codec header.
func (c *Client) Publish(ctx context.Context, m Media) error {
	m = m.withDefaults()
	videoLabel, audioLabel := signal.LabelCamera, signal.LabelMicrophone
	if m.Screen {
		videoLabel, audioLabel = signal.LabelScreen, signal.LabelScreen
	}
	video, err := c.addPublisher(webrtc.MimeTypeVP8, videoLabel, webrtc.RTPCodecTypeVideo)
	if err != nil {
		return err
	}
	var audio *publisher
	if !m.NoAudio {
		if audio, err = c.addPublisher(webrtc.MimeTypeOpus, audioLabel, webrtc.RTPCodecTypeAudio); err != nil {
			return err
		}
	}
	c.Negotiate(ctx)

	c.wg.Add(1)
	go func() { // owned by the client; ends when Close closes stop
		defer c.wg.Done()
		c.generate(m, video, audio)
	}()
	return nil
}

// addPublisher adds a track and the goroutine that reads its RTCP. A screen share is a
// stream of its own, as in a browser.
func (c *Client) addPublisher(mime string, label signal.Label, kind webrtc.RTPCodecType) (*publisher, error) {
	stream := "user"
	if label == signal.LabelScreen {
		stream = "screen"
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: mime}, string(label)+"-"+kind.String(), stream)
	if err != nil {
		return nil, fmt.Errorf("new %s track: %w", kind, err)
	}
	sender, err := c.AddTrack(track, label)
	if err != nil {
		return nil, err
	}
	p := &publisher{track: track, kind: kind}
	p.packet.Version = rtpVersion
	c.mu.Lock()
	c.publishers = append(c.publishers, p)
	c.mu.Unlock()
	c.wg.Add(1)
	go func() { // owned by the client; ends when the sender stops (Close)
		defer c.wg.Done()
		p.readRTCP(sender)
	}()
	return p, nil
}

// Sent returns the counters of the tracks the client publishes.
func (c *Client) Sent() []SentStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]SentStats, len(c.publishers))
	for i, p := range c.publishers {
		out[i] = p.stats()
	}
	return out
}

// generate writes the frames of video and the packets of audio (nil: none) on time until
// stop is closed, the video paced when m.Pace. It allocates nothing per packet once the
// queue of paced packets has grown to its largest.
func (c *Client) generate(m Media, video, audio *publisher) {
	interSize, keySize := m.frameSizes()
	frameInterval := time.Second / time.Duration(m.FrameRate)
	videoTick := time.NewTicker(frameInterval)
	defer videoTick.Stop()
	var audioC <-chan time.Time
	if audio != nil {
		audioTick := time.NewTicker(audioInterval)
		defer audioTick.Stop()
		audioC = audioTick.C
	}
	var paced *pacedVideo
	paceTimer := time.NewTimer(time.Hour) // armed when paced packets wait
	paceTimer.Stop()
	defer paceTimer.Stop()
	if m.Pace {
		paced = &pacedVideo{pacer: newPacer(m.VideoBitrate)}
	}
	// sendDue writes the paced packets due and arms the timer for the next one.
	sendDue := func() {
		if next, ok := paced.send(video, time.Duration(Monotonic())); ok {
			paceTimer.Reset(next - time.Duration(Monotonic()))
		}
	}
	var (
		frame     uint32
		pictureID uint16
		lastKey   time.Time
	)
	for {
		select {
		case <-c.stop:
			return
		case now := <-videoTick.C:
			asked := video.wantKey.Swap(false) // a PLI or FIR since the last frame
			key := asked || frame == 0 || m.KeyframeInterval > 0 && now.Sub(lastKey) >= m.KeyframeInterval
			size := interSize
			if key {
				size, lastKey = keySize, now
				video.keyframes.Add(1)
			}
			f := vp8Frame{timestamp: frame * uint32(videoClock/m.FrameRate), pictureID: pictureID, key: key, size: size}
			if paced == nil {
				writeVP8Frame(video, f)
			} else {
				paced.push(f, time.Duration(Monotonic()))
				sendDue()
			}
			frame++
			pictureID = (pictureID + 1) & 0x7fff
		case <-paceTimer.C:
			sendDue()
		case <-audioC:
			audio.packet.Timestamp += audioClock * uint32(audioInterval/time.Millisecond) / 1000
			audio.buf[0] = opusTOC
			putStamp(audio.buf[1:], Stamp{Seq: audio.seq, SentAt: Monotonic()})
			audio.packet.Marker = false
			audio.write(audioPayload)
		}
	}
}

// vp8Frame is a frame of synthetic VP8: its RTP timestamp, picture id, whether it is a
// key frame, and its size in bytes, its frame header included.
type vp8Frame struct {
	timestamp uint32
	pictureID uint16
	key       bool
	size      int
}

// packets is how the frame is cut: n packets of even sizes, each with a payload
// descriptor, of at most maxPayload bytes, each carrying chunk bytes of the frame but the
// last, which carries the rest.
func (f vp8Frame) packets() (n, chunk int) {
	per := maxPayload - vp8DescriptorSize
	n = (f.size + per - 1) / per
	return n, (f.size + n - 1) / n
}

// headerSize is the size of the headers of packet i: its descriptor, the frame header in
// the first, and the stamp.
func (f vp8Frame) headerSize(i int) int {
	switch {
	case i > 0:
		return vp8DescriptorSize + StampSize
	case f.key:
		return vp8DescriptorSize + vp8KeyHeaderSize + StampSize
	}
	return vp8DescriptorSize + vp8InterHeader + StampSize
}

// payloadSize is the size of the payload of packet i: its descriptor and its share of
// the frame, at least its headers.
func (f vp8Frame) payloadSize(i int) int {
	_, chunk := f.packets()
	return max(vp8DescriptorSize+min(chunk, f.size-i*chunk), f.headerSize(i))
}

// writeVP8Frame writes all the packets of frame f at once.
func writeVP8Frame(p *publisher, f vp8Frame) {
	n, _ := f.packets()
	for i := range n {
		writeVP8Packet(p, f, i)
	}
}

// writeVP8Packet writes packet i of frame f, stamped with the time of its writing.
func writeVP8Packet(p *publisher, f vp8Frame, i int) {
	n, _ := f.packets()
	start := i == 0
	putVP8Descriptor(p.buf[:], f.pictureID, start)
	at := vp8DescriptorSize
	if start {
		at += putVP8FrameHeader(p.buf[at:], f.key, videoWidth, videoHeight)
	}
	putStamp(p.buf[at:], Stamp{Seq: p.seq, SentAt: Monotonic()})
	at += StampSize
	end := f.payloadSize(i)
	clear(p.buf[at:end]) // the filler of the frame's data
	p.packet.Timestamp = f.timestamp
	p.packet.Marker = i == n-1
	p.write(end)
}
