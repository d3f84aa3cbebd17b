package sfu

import (
	"slices"
	"strings"
	"sync"

	"github.com/pion/webrtc/v4"
)

// publisher is what a member sends: the tracks its client publishes, their labels and
// mute state, and the goroutines that read them (see member.onTrack).
//
// Lock rule: mu guards every field but wg and ingest, which is set before the first
// track and never changes. ups also changes only with the room's mu
// held, so that the room's members and their published tracks change together: the
// methods named ...RoomLocked are called with room.mu held. Lock order: room.mu, then
// mu, then an upTrack's mu; nothing else is taken with mu held. wg.Add is called only
// with mu held and closed false, so that wg.Wait after close sees every reader.
type publisher struct {
	mu         sync.Mutex
	closed     bool                             // the session ended: no new track is read
	ups        []*upTrack                       // tracks received from the client, published or parked
	labels     map[string]Label                 // client's msid track id to label
	simulcast  map[*webrtc.RTPReceiver]*upTrack // tracks received as simulcast, by receiver
	muted      map[Label]bool
	forceMuted bool           // a moderator muted the microphone
	wg         sync.WaitGroup // the goroutines reading the incoming tracks, one per layer
	// ingest marks the tracks as a WHIP stream's, which WHEP viewers are given first.
	ingest bool
}

func newPublisher() publisher {
	return publisher{
		labels:    make(map[string]Label),
		simulcast: make(map[*webrtc.RTPReceiver]*upTrack),
		muted:     make(map[Label]bool),
	}
}

// close stops taking new tracks; the readers already started end with the
// PeerConnection, and wg.Wait waits for them.
func (pb *publisher) close() {
	pb.mu.Lock()
	pb.closed = true
	pb.mu.Unlock()
}

// setLabels keeps the labels the client gave with its offer, at most maxLabelsKept.
func (pb *publisher) setLabels(labels map[string]Label) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	for id, l := range labels {
		if _, ok := pb.labels[id]; ok || len(pb.labels) < maxLabelsKept {
			pb.labels[id] = l
		}
	}
}

// labelForLocked says what a client track carries: the label the client gave with its
// offer, else screen when its stream id says so, else camera or microphone.
func (pb *publisher) labelForLocked(remote *webrtc.TrackRemote) Label {
	if l, ok := pb.labels[remote.ID()]; ok {
		return l
	}
	if strings.Contains(strings.ToLower(remote.StreamID()), "screen") {
		return LabelScreen
	}
	if remote.Kind() == webrtc.RTPCodecTypeAudio {
		return LabelMicrophone
	}
	return LabelCamera
}

// forgetSimulcast forgets the receiver of a track that ended.
func (pb *publisher) forgetSimulcast(up *upTrack) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	for r, u := range pb.simulcast {
		if u == up {
			delete(pb.simulcast, r)
		}
	}
}

// setMuted records the client's own mute of label; unmuting the microphone lifts a
// moderator's mute.
func (pb *publisher) setMuted(label Label, muted bool) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	pb.muted[label] = muted
	if label == LabelMicrophone && !muted {
		pb.forceMuted = false // unmuting oneself lifts a moderator's mute
	}
	for _, up := range pb.ups {
		if up.label == label {
			up.muted.Store(muted)
			if label == LabelMicrophone && !muted {
				up.forceMuted.Store(false)
			}
		}
	}
}

// setForceMuted stops or resumes the forwarding of the microphone.
func (pb *publisher) setForceMuted(muted bool) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	pb.forceMuted = muted
	if muted {
		pb.muted[LabelMicrophone] = true
	}
	for _, up := range pb.ups {
		if up.label == LabelMicrophone {
			up.forceMuted.Store(muted)
			if muted {
				up.muted.Store(true)
			}
		}
	}
}

// published lists the published tracks.
func (pb *publisher) published() []*upTrack {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	var out []*upTrack
	for _, up := range pb.ups {
		if !up.isParked() {
			out = append(out, up)
		}
	}
	return out
}

// trackInfos describes the published tracks.
func (pb *publisher) trackInfos() []TrackInfo {
	out := []TrackInfo{}
	for _, up := range pb.published() {
		out = append(out, up.info())
	}
	return out
}

// addRoomLocked records a new track, published or parked.
func (pb *publisher) addRoomLocked(up *upTrack, publish bool) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	up.muted.Store(pb.muted[up.label])
	up.forceMuted.Store(pb.forceMuted && up.label == LabelMicrophone)
	pb.ups = append(pb.ups, up)
	up.setParked(!publish)
}

// removeRoomLocked forgets a track that ended.
func (pb *publisher) removeRoomLocked(up *upTrack) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	if i := slices.Index(pb.ups, up); i >= 0 {
		pb.ups = slices.Delete(pb.ups, i, i+1)
	}
}

// takeAllRoomLocked forgets every track, for leaving.
func (pb *publisher) takeAllRoomLocked() []*upTrack {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	ups := pb.ups
	pb.ups = nil
	return ups
}

// unparkRoomLocked publishes the parked tracks and returns them.
func (pb *publisher) unparkRoomLocked() []*upTrack {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	var out []*upTrack
	for _, up := range pb.ups {
		if up.isParked() {
			up.setParked(false)
			out = append(out, up)
		}
	}
	return out
}

// parkRoomLocked parks the published tracks and returns the subscriptions to drop.
func (pb *publisher) parkRoomLocked() []*downTrack {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	var out []*downTrack
	for _, up := range pb.ups {
		if !up.isParked() {
			out = append(out, up.setParked(true)...)
		}
	}
	return out
}
