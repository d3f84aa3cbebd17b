package recording

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu"
)

// memFile is a recording file in memory.
type memFile struct {
	bytes.Buffer
	closed bool
}

func (f *memFile) Close() error { f.closed = true; return nil }

// fuzzCodecs are the codecs FuzzTrackWriter records, by its first byte: the recorder
// takes VP8 and Opus and refuses the others.
var fuzzCodecs = []webrtc.RTPCodecParameters{vp8, opus,
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000}, PayloadType: 98},
	{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}, PayloadType: 102},
}

// FuzzTrackWriter records arbitrary packet sequences (lost, repeated, reordered, wrapping
// around, empty, cut frames) as a track of each codec. The writer never fails on what a
// publisher sends, and what it writes is WebM whose frames are not empty, no more than
// the packets, and starts with a key frame for video. The input is a codec (its first
// byte), then packets: a byte whose lowest bit is the marker, the sequence number (2
// bytes), the timestamp (4), a byte of length and the payload. Of the seeds in
// testdata/fuzz/FuzzTrackWriter, vp8-empty-frame-last is the packet that crashed the
// process.
func FuzzTrackWriter(f *testing.F) {
	f.Fuzz(func(t *testing.T, codec byte, data []byte) {
		c := fuzzCodecs[int(codec)%len(fuzzCodecs)]
		var file memFile
		var mu sync.Mutex
		var failures []error
		panics := &sfu.Panics{}
		w, err := newTrackWriter(c, func() (io.WriteCloser, error) { return &file, nil }, slogDiscard(), panics, func(err error) {
			mu.Lock()
			defer mu.Unlock()
			failures = append(failures, err)
		})
		if c.MimeType != webrtc.MimeTypeVP8 && c.MimeType != webrtc.MimeTypeOpus {
			require.ErrorIs(t, err, errCodec)
			return
		}
		require.NoError(t, err)
		packets := 0
		for len(data) >= 8 {
			h := rtp.Header{Version: 2, PayloadType: uint8(c.PayloadType), SSRC: 1, Marker: data[0]&1 != 0,
				SequenceNumber: binary.BigEndian.Uint16(data[1:3]), Timestamp: binary.BigEndian.Uint32(data[3:7])}
			n := min(int(data[7]), len(data)-8)
			payload := data[8 : 8+n]
			data = data[8+n:]
			if err := w.WriteRTP(&h, payload); err != nil {
				require.ErrorIs(t, err, ErrTooSlow)
			}
			packets++
		}
		w.Close()
		require.Zero(t, panics.Count(sfu.PartRecording))
		for _, err := range failures {
			require.True(t, errors.Is(err, ErrTooSlow), "the track failed: %v", err)
		}
		if file.Len() == 0 {
			return
		}
		require.True(t, file.closed)
		frames := 0
		for i, b := range webmBlocks(t, bytes.NewReader(file.Bytes())) {
			if i == 0 && c.MimeType == webrtc.MimeTypeVP8 {
				require.True(t, b.Keyframe, "a video file starts with a key frame")
			}
			for _, fr := range b.Data {
				require.NotEmpty(t, fr)
				frames++
			}
		}
		require.LessOrEqual(t, frames, packets)
	})
}
