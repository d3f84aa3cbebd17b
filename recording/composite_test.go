package recording

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"webinaire/sfu"
)

// castRoomFake is a room as the composite sees it: who speaks, who is there.
type castRoomFake struct {
	speaker string
	people  []sfu.ParticipantInfo
	done    chan struct{}
}

func (r *castRoomFake) Done() <-chan struct{}                 { return r.done }
func (r *castRoomFake) ActiveSpeaker() string                 { return r.speaker }
func (r *castRoomFake) Participants() []sfu.ParticipantInfo   { return r.people }
func (r *castRoomFake) SetBroadcasting(bool) error            { return nil }
func (r *castRoomFake) BroadcastTrouble(string, string) error { return nil }

// castSinkFake records the keyframes asked for.
type castSinkFake struct{ asked []string }

func (s *castSinkFake) RequestKeyframe(id string) { s.asked = append(s.asked, id) }
func (s *castSinkFake) Close()                    {}

// compositeBench is a composite writing into out, on a clock the test moves.
type compositeBench struct {
	c    *composite
	b    *Broadcast
	room *castRoomFake
	sink *castSinkFake
	out  *bytes.Buffer
	at   time.Duration // the clock, from the start of the stream
}

var (
	placeholderTest = []byte{0x50, 0x01, 0x00}
	insetTest       = []byte{0x50, 0x02, 0x00}
)

func newCompositeBench(t *testing.T) *compositeBench {
	t.Helper()
	start := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	cb := &compositeBench{room: &castRoomFake{done: make(chan struct{})}, sink: &castSinkFake{}, out: &bytes.Buffer{}}
	dir := t.TempDir()
	cb.b = &Broadcast{
		p:    BroadcastParams{Dir: dir, Clock: func() time.Time { return start.Add(cb.at) }},
		room: cb.room, sink: cb.sink, log: slogDiscard(),
		placeholder: placeholderTest, insetPlaceholder: insetTest, caption: filepath.Join(dir, "caption.txt"),
	}
	cb.c = newComposite(cb.b)
	require.NoError(t, cb.c.begin(cb.out))
	return cb
}

// track adds a track of participant, as the SFU would.
func (cb *compositeBench) track(participant, id string, video, screen bool) *castTrack {
	t := &castTrack{b: cb.b, id: id, participant: participant, video: video, screen: screen}
	cb.b.tracks = append(cb.b.tracks, t)
	return t
}

// castFrame is a frame of the stream fed to ffmpeg.
type castFrame struct {
	track uint64
	ms    int64
	key   bool
	data  []byte
}

// frames reads the stream written so far.
func (cb *compositeBench) frames(t *testing.T) []castFrame {
	t.Helper()
	var file struct {
		Segment struct {
			Cluster []struct {
				Timecode    uint64       `ebml:"Timecode"`
				SimpleBlock []ebml.Block `ebml:"SimpleBlock"`
			} `ebml:"Cluster"`
		} `ebml:"Segment"`
	}
	require.NoError(t, ebml.Unmarshal(bytes.NewReader(cb.out.Bytes()), &file))
	var out []castFrame
	for _, c := range file.Segment.Cluster {
		for _, b := range c.SimpleBlock {
			out = append(out, castFrame{b.TrackNumber, int64(c.Timecode) + int64(b.Timecode), b.Keyframe, b.Data[0]})
		}
	}
	return out
}

// of keeps the frames of one track.
func of(frames []castFrame, track uint64) []castFrame {
	var out []castFrame
	for _, f := range frames {
		if f.track == track {
			out = append(out, f)
		}
	}
	return out
}

func TestCompositeKeepsEachMicrophoneInPlace(t *testing.T) {
	cb := newCompositeBench(t)
	mic := cb.track("alice", "a", false, false)
	voice := bytes.Repeat([]byte{0x78}, 40)
	const ts0 = 4_000_000_000 // near the wrap-around of RTP timestamps
	send := func(at time.Duration, ts uint32) {
		cb.at = at
		require.NoError(t, cb.c.audio(castPacket{track: mic, hdr: rtp.Header{Timestamp: ts}, payload: voice}))
	}
	send(500*time.Millisecond, ts0)         // silence until then, the packet at its arrival
	send(530*time.Millisecond, ts0+960)     // the next one, 20 ms later on its clock
	send(575*time.Millisecond, ts0+3*960)   // one lost: silence in its place
	send(580*time.Millisecond, ts0+2*960)   // the lost one, late: its place is taken
	send(3*time.Second, ts0+120000)         // 2.5 s later on its clock: silence between
	send(3020*time.Millisecond, ts0+120960) //
	send(4*time.Second, 12345)              // a clock far from the last: placed at its arrival
	cb.at = 4500 * time.Millisecond
	require.NoError(t, cb.c.tick())

	slot := of(cb.frames(t), firstSlot)
	for i, f := range slot {
		require.Equal(t, int64(20*i), f.ms, "frame %d: one every 20 ms, no gap, no overlap", i)
	}
	voiced := map[int64]bool{}
	for _, f := range slot {
		if bytes.Equal(f.data, voice) {
			voiced[f.ms] = true
		} else {
			require.Equal(t, opusSilence, f.data)
		}
	}
	require.Equal(t, map[int64]bool{500: true, 520: true, 560: true, 3000: true, 3020: true, 4000: true}, voiced)
	require.Equal(t, int64(4500-fillDelay), slot[len(slot)-1].ms+audioFrameMS, "silence up to a little behind the clock")

	other := of(cb.frames(t), firstSlot+1)
	require.Len(t, other, (4500-fillDelay)/audioFrameMS, "an empty slot is silence, from 0")
	require.Equal(t, mic, cb.c.slots[0].t)
	mic.Close()
	require.NoError(t, cb.c.tick())
	require.Nil(t, cb.c.slots[0].t, "an ended track frees its slot")
}

func TestCompositeTakesAMicrophoneOnlyWhenASlotIsFree(t *testing.T) {
	cb := newCompositeBench(t)
	var mics []*castTrack
	for i := range AudioSlots + 1 {
		mics = append(mics, cb.track(string(rune('a'+i)), string(rune('a'+i)), false, false))
	}
	cb.at = 100 * time.Millisecond
	for i, m := range mics {
		require.NoError(t, cb.c.audio(castPacket{track: m, hdr: rtp.Header{Timestamp: uint32(i)}, payload: []byte{1, 2}}))
	}
	for i := range AudioSlots {
		require.Equal(t, mics[i], cb.c.slots[i].t)
	}
	for _, f := range cb.frames(t) {
		require.Less(t, f.track, uint64(firstSlot+AudioSlots))
	}
	mics[2].Close()
	require.NoError(t, cb.c.tick())
	require.NoError(t, cb.c.audio(castPacket{track: mics[AudioSlots], hdr: rtp.Header{Timestamp: 960}, payload: []byte{1, 2}}))
	require.Equal(t, mics[AudioSlots], cb.c.slots[2].t, "the seventh takes the slot that freed")
}

// vp8Packets is one VP8 frame in one packet: a keyframe or an interframe (RFC 6386 §9.1,
// bit 0 of the frame tag), the end of its frame.
func vp8Packet(seq uint16, ts uint32, key bool) castPacket {
	tag := byte(0x51)
	if key {
		tag = 0x50
	}
	return castPacket{hdr: rtp.Header{SequenceNumber: seq, Timestamp: ts, Marker: true}, payload: []byte{0x10, tag, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x10, 0x00, 0x10, 0x00}}
}

func TestCompositeShowsTheSpeakerFromItsKeyframe(t *testing.T) {
	cb := newCompositeBench(t)
	cb.room.people = []sfu.ParticipantInfo{{ID: "alice", Name: "Alice Martin"}, {ID: "bob", Name: "Bob Durand"}}
	alice := cb.track("alice", "a-cam", true, false)
	bob := cb.track("bob", "b-cam", true, false)
	caption := func() string {
		b, err := os.ReadFile(cb.b.caption)
		require.NoError(t, err)
		return string(b)
	}
	video := func() []castFrame { return of(cb.frames(t), mainTrack) }
	inset := func() []castFrame { return of(cb.frames(t), insetTrack) }
	seq := map[*castTrack]uint16{}
	send := func(tr *castTrack, at time.Duration, ts uint32, key bool) {
		cb.at = at
		p := vp8Packet(seq[tr], ts, key)
		seq[tr]++
		p.track = tr
		require.NoError(t, cb.c.video(cb.c.main, p))
		require.NoError(t, cb.c.video(cb.c.inset, p))
	}

	cb.room.speaker = "bob"
	cb.at = 300 * time.Millisecond
	require.NoError(t, cb.c.tick())
	require.Equal(t, []string{"b-cam"}, cb.sink.asked, "a keyframe is asked of the speaker")
	require.Len(t, video(), 1, "the placeholder only, at 0")

	send(bob, 310*time.Millisecond, 1000, false)
	send(bob, 340*time.Millisecond, 4000, false)
	require.Len(t, video(), 1, "no interframe before the keyframe")
	send(bob, 370*time.Millisecond, 7000, true)
	send(bob, 400*time.Millisecond, 10000, false) // ends the keyframe's frame
	send(alice, 410*time.Millisecond, 50000, true)
	send(alice, 420*time.Millisecond, 53000, false)
	frames := video()
	require.Len(t, frames, 2, "Bob's keyframe, not Alice's frames")
	require.True(t, frames[1].key)
	require.Equal(t, "Bob Durand", caption())
	send(bob, 430*time.Millisecond, 13000, false)
	frames = video()
	require.Len(t, frames, 3)
	require.Equal(t, frames[1].ms+(10000-7000)/90, frames[2].ms, "placed by the publisher's clock")

	// Alice speaks: Bob stays until her keyframe.
	cb.room.speaker = "alice"
	cb.at = 700 * time.Millisecond
	require.NoError(t, cb.c.tick())
	require.Equal(t, []string{"b-cam", "a-cam"}, cb.sink.asked)
	send(alice, 710*time.Millisecond, 56000, false)
	send(bob, 720*time.Millisecond, 16000, false)
	require.Len(t, video(), 4, "Bob goes on meanwhile")
	send(alice, 730*time.Millisecond, 59000, true)
	send(alice, 760*time.Millisecond, 62000, false)
	require.Len(t, video(), 5)
	require.Equal(t, "Alice Martin", caption())

	// Bob shares his screen: it is shown, whoever speaks, with Alice, who speaks, in the
	// inset.
	screen := cb.track("bob", "b-screen", true, true)
	cb.at = time.Second
	require.NoError(t, cb.c.tick())
	require.Contains(t, cb.sink.asked, "b-screen")
	for _, f := range inset() {
		require.Equal(t, insetTest, f.data, "the inset's placeholder only, every half second")
	}
	placeholders := len(inset())
	send(screen, 1010*time.Millisecond, 100, true)
	send(screen, 1040*time.Millisecond, 3100, false)
	require.Equal(t, "Bob Durand", caption(), "the name is the main picture's")
	send(alice, 1050*time.Millisecond, 65000, true)
	send(alice, 1080*time.Millisecond, 68000, false)
	insetFrames := inset()
	require.Len(t, insetFrames, placeholders+1, "then Alice's keyframe")
	require.True(t, insetFrames[placeholders].key)
	require.NotEqual(t, insetTest, insetFrames[placeholders].data)

	// The share ends: no inset.
	screen.Close()
	cb.at = 1300 * time.Millisecond
	require.NoError(t, cb.c.tick())
	require.Equal(t, insetTest, inset()[len(inset())-1].data, "the inset's placeholder again")

	// The picture stalls: the placeholder, no name, until a keyframe.
	cb.room.speaker = "nobody"
	before := len(video())
	cb.at = 1300*time.Millisecond + videoStall*time.Millisecond + 100*time.Millisecond
	require.NoError(t, cb.c.tick())
	frames = video()
	require.Len(t, frames, before+1)
	require.Equal(t, placeholderTest, frames[len(frames)-1].data)
	require.Equal(t, " ", caption())
	for _, track := range [][]castFrame{video(), inset()} {
		for i := 1; i < len(track); i++ {
			require.Greater(t, track[i].ms, track[i-1].ms, "video times go up")
		}
	}
}
