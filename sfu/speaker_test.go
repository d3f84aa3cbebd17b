package sfu

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

func TestSpeakerDetector(t *testing.T) {
	clock := newFakeClock()
	var d speakerDetector
	track := func(owner string) *upTrack {
		u := &upTrack{owner: owner}
		return u
	}
	alice, bob := track("alice"), track("bob")
	require.Empty(t, d.update(alice, 100, clock.Now()), "silence names nobody")
	require.Equal(t, "alice", d.update(alice, 30, clock.Now()))
	require.Empty(t, d.update(bob, 28, clock.Now()), "bob is barely louder while alice speaks")
	require.Equal(t, "bob", d.update(bob, 20, clock.Now()), "bob is clearly louder")
	require.Equal(t, "alice", d.update(bob, 90, clock.Now()), "bob falls silent: alice, still speaking, takes over")
	require.Empty(t, d.update(alice, 40, clock.Now()), "no change, no message")
	alice.muted.Store(true)
	require.Equal(t, "bob", d.update(bob, 50, clock.Now()), "a muted track does not count")
	alice.muted.Store(false)
	clock.Advance(levelFresh + time.Second)
	d.forget(bob)
	require.Equal(t, "alice", d.update(alice, 59, clock.Now()), "old levels do not count")
	require.Equal(t, "alice", d.activeSpeaker())
}

// speak publishes Opus with a constant audio level (in -dBov) that can be changed.
func (c *testClient) speak(level *atomic.Int32) {
	audio, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "mic-audio", "cam")
	require.NoError(c.t, err)
	sender, err := c.AddTrack(audio, LabelMicrophone)
	require.NoError(c.t, err)
	var ext uint8
	for _, e := range sender.GetParameters().HeaderExtensions {
		if e.URI == sdp.AudioLevelURI {
			ext = uint8(e.ID)
		}
	}
	require.NotZero(c.t, ext)
	c.Negotiate(context.Background())
	c.wg.Add(1)
	go func() { // owned by the client; ends when the client closes
		defer c.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: []byte{0xf8, 0xff, 0xfe}}
			_ = pkt.Header.SetExtension(ext, []byte{0x80 | byte(level.Load())})
			_ = audio.WriteRTP(pkt)
		}
	}()
}

func TestActiveSpeakerFollowsTheLoudest(t *testing.T) {
	srv := newTestServer(t)
	var aliceLevel, bobLevel atomic.Int32
	aliceLevel.Store(25)
	bobLevel.Store(127)
	alice := join(t, srv, srv.token(t, "talk", "alice", RoleAttendee, KindMeeting))
	alice.speak(&aliceLevel)
	bob := join(t, srv, srv.token(t, "talk", "bob", RoleAttendee, KindMeeting))
	bob.speak(&bobLevel)
	carol := join(t, srv, srv.token(t, "talk", "carol", RoleAttendee, KindMeeting))
	carol.receiveOnly()

	speaker := func(id string) func(signal.ServerMessage) bool {
		return func(m signal.ServerMessage) bool { return m.Type == signal.TypeActiveSpeaker && m.ParticipantID == id }
	}
	carol.waitMsg(speaker("alice"))
	aliceLevel.Store(127)
	bobLevel.Store(20)
	carol.waitMsg(speaker("bob"))

	dave := join(t, srv, srv.token(t, "talk", "dave", RoleAttendee, KindMeeting))
	joined := dave.waitMsg(func(m signal.ServerMessage) bool { return m.Type == signal.TypeJoined })
	require.Equal(t, "bob", joined.ActiveSpeaker, "a newcomer is told who speaks")
}
