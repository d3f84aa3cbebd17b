package sfu

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"
)

// A panic in the goroutine reading one track ends that track only: its publisher stays,
// with its other track, in its room; another room's media keeps flowing; the panic is
// counted and logged with ids, without the publisher's name.
func TestAPanicInATrackEndsThatTrackOnly(t *testing.T) {
	testHookLayerRun = func(l *layer) {
		if l.up.owner == "victim" && l.up.kind == webrtc.RTPCodecTypeVideo {
			panic("forced by the test")
		}
	}
	t.Cleanup(func() { testHookLayerRun = nil }) // after the server's cleanup: its goroutines have ended
	var logs lockedBuffer
	srv := newTestServer(t, func(p *Params) {
		p.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})

	// Room b: media flowing before the panic.
	other := join(t, srv, srv.token(t, "b", "other", RolePresenter, KindMeeting))
	other.publish(false, 10)
	watcherB := join(t, srv, srv.token(t, "b", "watcher-b", RoleAttendee, KindMeeting))
	watcherB.receiveOnly()
	flowing := watcherB.waitMedia("other", 2, 10)

	// Room a: the victim's camera panics as it starts; its microphone goes on.
	victim := join(t, srv, srv.token(t, "a", "victim", RolePresenter, KindMeeting))
	watcherA := join(t, srv, srv.token(t, "a", "watcher-a", RoleAttendee, KindMeeting))
	watcherA.receiveOnly()
	victim.publish(false, 10)
	require.Eventually(t, func() bool { return srv.Panics().Count(PartTrack) == 1 }, waitFor, 10e6, "the panic is recovered and counted")
	tracks := watcherA.waitMedia("victim", 1, 50)
	for _, tr := range tracks {
		require.Equal(t, "audio", tr.Kind, "the microphone is still forwarded")
	}
	room, ok := srv.Room("a")
	require.True(t, ok)
	require.Len(t, room.Participants(), 2, "the victim is still in its room")
	for _, p := range room.Participants() {
		if p.ID == "victim" {
			require.Len(t, p.Tracks, 1, "with its microphone only")
		}
	}

	// Room b's media keeps flowing after the panic.
	before := map[string]uint64{}
	for id := range flowing {
		before[id] = watcherB.track(id).Packets
	}
	watcherB.waitUntil(func() bool {
		for id, n := range before {
			if s, _ := watcherB.receivedTrack(id); s.Packets < n+50 {
				return false
			}
		}
		return true
	}, "more media in room b")
	for _, part := range []Part{PartParticipant, PartRecording, PartRoom} {
		require.Zero(t, srv.Panics().Count(part), part)
	}

	log := logs.String()
	var line string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "panic recovered") {
			line = l
		}
	}
	require.Contains(t, line, "part=track")
	require.Contains(t, line, "participant=victim")
	require.Contains(t, line, "track=victim~")
	require.Contains(t, line, "panic=string", "a panic value that is not a runtime error is logged by its type only")
	require.NotContains(t, log, "Name of victim", "no display name in the logs")
	require.NotContains(t, log, "forced by the test")
}
