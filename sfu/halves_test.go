package sfu

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A subscriber's dropped downTrack is negotiated away only when it was offered, and
// once; after close nothing changes any more.
func TestSubscriberDrop(t *testing.T) {
	var pli plis
	up := newTestUpTrack(vp8Codec, newFakeClock(), &pli, 0)
	tests := []struct {
		name        string
		offered     bool // the downTrack was offered already
		closed      bool
		twice       bool
		wantKick    bool
		wantRemoves int
		wantAdds    int
	}{
		{name: "waiting to be offered", wantKick: false, wantRemoves: 0, wantAdds: 0},
		{name: "offered", offered: true, wantKick: true, wantRemoves: 1},
		{name: "dropped twice", offered: true, twice: true, wantKick: false, wantRemoves: 1},
		{name: "closed", offered: true, closed: true, wantKick: false, wantRemoves: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := newSubscriber(nil, nil)
			d := newDownTrack(up, nil)
			sb.downs[up] = d
			sb.pendingAdd = []*downTrack{d}
			if tt.offered {
				adds, _ := sb.takePending()
				require.Equal(t, []*downTrack{d}, adds)
			}
			if tt.closed {
				require.Equal(t, []*downTrack{d}, sb.close(), "close hands back the downTracks")
			}
			kick := sb.drop(d)
			if tt.twice {
				require.True(t, kick, "the first drop of an offered track is negotiated")
				kick = sb.drop(d)
			}
			require.Equal(t, tt.wantKick, kick, "got kick %v, want %v", kick, tt.wantKick)
			adds, removes := sb.takePending()
			require.Len(t, removes, tt.wantRemoves)
			require.Len(t, adds, tt.wantAdds)
			require.Nil(t, sb.find(up.id), "the track is no longer received")
		})
	}
}

// A moderator's mute holds the microphone tracks the publisher has and those it adds
// later, until the participant unmutes itself; the camera is left alone.
func TestPublisherForceMute(t *testing.T) {
	clock := newFakeClock()
	var pli plis
	track := func(id string, label Label) *upTrack {
		return newUpTrack(upTrackParams{ID: id, StreamID: "pub~user", Owner: "pub", Label: label, Codec: opusCodec, SSRC: 1, Clock: clock, WriteRTCP: pli.write, Logger: testLogger()})
	}
	pb := newPublisher()
	mic, camera := track("pub~1", LabelMicrophone), track("pub~2", LabelCamera)
	pb.addRoomLocked(mic, true)
	pb.addRoomLocked(camera, true)

	pb.setForceMuted(true)
	require.True(t, mic.forceMuted.Load())
	require.True(t, mic.muted.Load(), "shown muted")
	require.False(t, camera.forceMuted.Load())
	require.False(t, camera.muted.Load())

	later := track("pub~3", LabelMicrophone)
	pb.addRoomLocked(later, true)
	require.True(t, later.forceMuted.Load(), "a microphone added later is muted too")
	require.Equal(t, []*upTrack{mic, camera, later}, pb.published())

	pb.setMuted(LabelMicrophone, false)
	for _, up := range []*upTrack{mic, later} {
		require.False(t, up.forceMuted.Load(), "unmuting oneself lifts the moderator's mute")
		require.False(t, up.muted.Load())
	}
	again := track("pub~4", LabelMicrophone)
	pb.addRoomLocked(again, true)
	require.False(t, again.forceMuted.Load())

	require.Equal(t, []*downTrack(nil), pb.parkRoomLocked(), "no subscription to drop")
	require.Empty(t, pb.published(), "every track parked")
	require.Len(t, pb.unparkRoomLocked(), 4)
	require.Len(t, pb.takeAllRoomLocked(), 4)
	require.Empty(t, pb.published())
}
