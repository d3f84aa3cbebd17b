package codec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseVP8Descriptor(t *testing.T) {
	tests := []struct {
		name string
		p    []byte
		want vp8Fields
		ok   bool
	}{
		{"no extension", []byte{0x10, 0}, vp8Fields{pic: -1, tl0: -1}, true},
		{"short picture id", []byte{0x90, 0x80, 0x05, 0}, vp8Fields{pic: 2, tl0: -1}, true},
		{"long picture id and tl0", []byte{0x90, 0xc0, 0x81, 0x02, 0x07, 0}, vp8Fields{pic: 2, long: true, tl0: 4}, true},
		{"tl0 and tid", []byte{0x90, 0x60, 0x07, 0x40}, vp8Fields{pic: -1, tl0: 2}, true},
		{"truncated picture id", []byte{0x90, 0x80}, vp8Fields{pic: -1, tl0: -1}, false},
		{"truncated tl0", []byte{0x90, 0xc0, 0x81, 0x02}, vp8Fields{pic: 2, long: true, tl0: 4}, false},
		{"empty", nil, vp8Fields{pic: -1, tl0: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseVP8Descriptor(tt.p)
			require.Equal(t, tt.ok, ok)
			if ok {
				require.Equal(t, tt.want, got)
			}
		})
	}
}

func TestKeyframeDetection(t *testing.T) {
	tests := []struct {
		name string
		f    KeyframeFunc
		p    []byte
		want bool
	}{
		{"vp8 key", IsVP8Keyframe, []byte{0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}, true},
		{"vp8 key with picture id", IsVP8Keyframe, []byte{0x90, 0x80, 0x81, 0x02, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}, true},
		{"vp8 key with tl0 and tid", IsVP8Keyframe, []byte{0x90, 0x60, 0x05, 0x20, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}, true},
		{"vp8 inter", IsVP8Keyframe, []byte{0x10, 0x11, 0x02, 0x00, 0x9d, 0x01, 0x2a}, false},
		{"vp8 continuation", IsVP8Keyframe, []byte{0x00, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}, false},
		{"vp8 no start code", IsVP8Keyframe, []byte{0x10, 0x10, 0x02, 0x00, 0x00, 0x00, 0x00}, false},
		{"vp8 short", IsVP8Keyframe, []byte{0x90}, false},
		{"vp8 empty", IsVP8Keyframe, nil, false},
		{"vp9 key", IsVP9Keyframe, []byte{0x08}, true},
		{"vp9 inter", IsVP9Keyframe, []byte{0x48}, false},
		{"vp9 not a start", IsVP9Keyframe, []byte{0x00}, false},
		{"h264 idr", IsH264Keyframe, []byte{0x65}, true},
		{"h264 sps", IsH264Keyframe, []byte{0x67}, true},
		{"h264 slice", IsH264Keyframe, []byte{0x41}, false},
		{"h264 stap-a with sps", IsH264Keyframe, []byte{0x78, 0x00, 0x01, 0x09, 0x00, 0x02, 0x67, 0x42}, true},
		{"h264 stap-a without", IsH264Keyframe, []byte{0x78, 0x00, 0x01, 0x09, 0x00, 0x01, 0x41}, false},
		{"h264 stap-a truncated", IsH264Keyframe, []byte{0x78, 0x00, 0x09, 0x67}, false},
		{"h264 fu-a idr start", IsH264Keyframe, []byte{0x7c, 0x85}, true},
		{"h264 fu-a idr middle", IsH264Keyframe, []byte{0x7c, 0x05}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.f(tt.p))
		})
	}
	require.Nil(t, KeyframeDetector("video/AV1"))
	require.NotNil(t, KeyframeDetector("video/vp8"))
}
