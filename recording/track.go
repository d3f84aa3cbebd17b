package recording

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"webinaire/sfu"
)

// queueLen is the number of packets a track may have waiting for the disk; a track whose
// queue fills up stops recording (ErrTooSlow): the media path never waits for storage.
const queueLen = 2048

// ErrTooSlow is a track whose storage could not keep up.
var ErrTooSlow = errors.New("recording: storage too slow, packets dropped")

// ErrInternal is a track that stopped recording on a fault of the server (a panic
// recovered in its writer).
var ErrInternal = errors.New("recording: internal error")

// Errors of unsupported tracks.
var errCodec = errors.New("recording: codec not recorded")

// trackWriter writes one track to a WebM file. WriteRTP queues the packet; one goroutine
// (run) turns packets into frames and writes them, so that a slow or full disk never
// holds up the media path.
type trackWriter struct {
	kind   webrtc.RTPCodecType
	create func() (io.WriteCloser, error) // opens the file, at the first frame
	log    *slog.Logger
	panics *sfu.Panics
	failed func(error) // reports that the track stopped recording

	queue chan packet
	done  chan struct{}

	mu         sync.Mutex
	stopped    bool // no more packets are queued: closed or failed
	overflowed bool // stopped because the queue was full

	// Owned by run.
	builder   *samplebuilder.SampleBuilder
	block     *webmWriter
	firstTS   uint32
	haveFirst bool
	lastMS    int64
	frames    int
}

type packet struct {
	hdr     rtp.Header
	payload []byte
}

func newTrackWriter(codec webrtc.RTPCodecParameters, create func() (io.WriteCloser, error), log *slog.Logger, panics *sfu.Panics, failed func(error)) (*trackWriter, error) {
	w := &trackWriter{create: create, log: log, panics: panics, failed: failed, queue: make(chan packet, queueLen), done: make(chan struct{})}
	switch {
	case strings.EqualFold(codec.MimeType, webrtc.MimeTypeVP8):
		w.kind = webrtc.RTPCodecTypeVideo
		w.builder = samplebuilder.New(256, &codecs.VP8Packet{}, codec.ClockRate)
	case strings.EqualFold(codec.MimeType, webrtc.MimeTypeOpus):
		w.kind = webrtc.RTPCodecTypeAudio
	default:
		return nil, fmt.Errorf("%w: %s", errCodec, codec.MimeType)
	}
	go w.run() // owned by the track writer; ends when the queue is closed
	return w, nil
}

// WriteRTP queues a copy of the packet; it never blocks.
func (w *trackWriter) WriteRTP(h *rtp.Header, payload []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return nil
	}
	p := packet{hdr: *h, payload: append([]byte(nil), payload...)}
	p.hdr.Extensions = nil
	select {
	case w.queue <- p:
		return nil
	default:
		// run reports it once it has written what is queued, off the media path.
		w.overflowed = true
		w.stopLocked()
		return ErrTooSlow
	}
}

// Close ends the track: what is queued is written, then the file is closed.
func (w *trackWriter) Close() {
	w.mu.Lock()
	w.stopLocked()
	w.mu.Unlock()
	<-w.done
}

func (w *trackWriter) stopLocked() {
	if !w.stopped {
		w.stopped = true
		close(w.queue)
	}
}

func (w *trackWriter) run() {
	defer close(w.done)
	defer w.panics.Recover(sfu.PartRecording, w.log, w.abort)
	var err error
	for p := range w.queue {
		if err != nil {
			continue // drain after a failure
		}
		err = w.handle(p)
		if err != nil {
			w.log.Warn("track recording stopped", "err", err)
			w.mu.Lock()
			w.stopLocked()
			w.mu.Unlock()
			w.failed(err)
		}
	}
	if err == nil && w.builder != nil {
		// The last frame waits in the builder for the next one: write it.
		w.builder.Flush()
		for sample := w.builder.Pop(); sample != nil && err == nil; sample = w.builder.Pop() {
			err = w.writeSample(sample)
		}
	}
	if cerr := w.closeFile(); cerr != nil && err == nil {
		w.failed(fmt.Errorf("close recording: %w", cerr))
	}
	w.mu.Lock()
	overflowed := w.overflowed
	w.mu.Unlock()
	if overflowed {
		w.failed(ErrTooSlow)
	}
}

// abort ends a track whose writer panicked: nothing more is queued, what was written is
// kept and closed, and the recording is told.
func (w *trackWriter) abort() {
	w.mu.Lock()
	w.stopLocked()
	w.mu.Unlock()
	_ = w.closeFile()
	w.failed(ErrInternal)
}

// closeFile closes the file, once, if it was opened.
func (w *trackWriter) closeFile() error {
	if w.block == nil {
		return nil
	}
	b := w.block
	w.block = nil
	return b.Close()
}

func (w *trackWriter) handle(p packet) error {
	if w.kind == webrtc.RTPCodecTypeAudio {
		return w.writeFrame(p.payload, p.hdr.Timestamp, true, 48)
	}
	pkt := &rtp.Packet{Header: p.hdr, Payload: p.payload}
	w.builder.Push(pkt)
	for {
		sample := w.builder.Pop()
		if sample == nil {
			return nil
		}
		if err := w.writeSample(sample); err != nil {
			return err
		}
	}
}

// writeSample writes a VP8 frame the sample builder assembled; bit 0 of its frame tag
// is clear on a key frame (RFC 6386 §9.1).
func (w *trackWriter) writeSample(s *media.Sample) error {
	key := len(s.Data) > 0 && s.Data[0]&0x01 == 0
	return w.writeFrame(s.Data, s.PacketTimestamp, key, 90)
}

// writeFrame writes one frame at its RTP timestamp; perMS is the clock rate in kHz.
// An empty frame (a packet that is a payload descriptor and nothing else) is left out:
// it has nothing to play.
func (w *trackWriter) writeFrame(data []byte, ts uint32, key bool, perMS int64) error {
	if len(data) == 0 {
		return nil
	}
	if w.block == nil {
		if w.kind == webrtc.RTPCodecTypeVideo && !key {
			return nil // a video file starts with a keyframe
		}
		if err := w.open(data); err != nil {
			return err
		}
	}
	if !w.haveFirst {
		w.firstTS, w.haveFirst = ts, true
	}
	ms := int64(ts-w.firstTS) / perMS
	if ms < w.lastMS {
		ms = w.lastMS // a late frame keeps the order of the file
	}
	w.lastMS = ms
	if err := w.block.write(key, ms, data, w.kind == webrtc.RTPCodecTypeVideo); err != nil {
		return err
	}
	w.frames++
	return nil
}

// open creates the file and its WebM header: VP8 with the first keyframe's size, or Opus.
func (w *trackWriter) open(first []byte) error {
	f, err := w.create()
	if err != nil {
		return err
	}
	var entry webm.TrackEntry
	if w.kind == webrtc.RTPCodecTypeVideo {
		width, height := vp8Size(first)
		entry = webm.TrackEntry{
			Name: "video", TrackNumber: 1, TrackUID: 1, CodecID: "V_VP8", TrackType: 1,
			Video: &webm.Video{PixelWidth: uint64(width), PixelHeight: uint64(height)},
		}
	} else {
		entry = webm.TrackEntry{
			Name: "audio", TrackNumber: 1, TrackUID: 1, CodecID: "A_OPUS", TrackType: 2,
			CodecPrivate: opusHead(), CodecDelay: 6500000, SeekPreRoll: 80000000,
			Audio: &webm.Audio{SamplingFrequency: 48000, Channels: 2},
		}
	}
	block, err := newWebMWriter(f, entry)
	if err != nil {
		_ = f.Close()
		return err
	}
	w.block = block
	return nil
}

// vp8Size reads the width and height of a VP8 keyframe (RFC 6386 §9.1).
func vp8Size(frame []byte) (width, height uint16) {
	if len(frame) < 10 {
		return 0, 0
	}
	return binary.LittleEndian.Uint16(frame[6:8]) & 0x3fff, binary.LittleEndian.Uint16(frame[8:10]) & 0x3fff
}

// opusHead is the Opus identification header WebM keeps as the codec's private data
// (RFC 7845 §5.1): stereo, 3840 samples of pre-skip, 48 kHz.
func opusHead() []byte {
	h := []byte("OpusHead")
	h = append(h, 1, 2)
	h = binary.LittleEndian.AppendUint16(h, 3840)
	h = binary.LittleEndian.AppendUint32(h, 48000)
	h = append(h, 0, 0, 0)
	return h
}
