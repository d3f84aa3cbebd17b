package sfu

import (
	"errors"
	"maps"
	"slices"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"webinaire/sfu/signal"
)

// A sink receives the media of a room as RTP packets, in the process, without a
// PeerConnection: the recorder is one. It is a subscriber like the others as far as the
// tracks go (keyframe at the start, layer switches on keyframes, continuous numbering),
// always on the best simulcast layer, and invisible to the participants.

// Sink is told of every track published in the room while it is attached.
type Sink interface {
	// AddTrack is called for each track, with the publisher's id and the negotiated
	// codec; it returns where the track's packets go, or nil to leave the track out.
	AddTrack(participantID string, track TrackInfo, codec webrtc.RTPCodecParameters) SinkTrack
}

// SinkTrack receives the packets of one track.
type SinkTrack interface {
	// WriteRTP is called for every packet, in order, on one of the track's media
	// goroutines (its reader, or a writer when the fan-out is spread); for video the
	// first is the start of a keyframe. It must not block. h and payload are reused once
	// it returns.
	WriteRTP(h *rtp.Header, payload []byte) error
	// Close is called once, when the track ends or the sink is detached.
	Close()
}

// SinkHandle is an attached sink.
type SinkHandle struct {
	room *Room
	sink Sink

	mu     sync.Mutex
	closed bool
	downs  map[*upTrack]*downTrack
	tracks map[*downTrack]SinkTrack
}

// AddSink attaches s to the room: it gets the tracks published now and those to come,
// until Close or the room closes.
func (r *Room) AddSink(s Sink) (*SinkHandle, error) {
	h := &SinkHandle{room: r, sink: s, downs: map[*upTrack]*downTrack{}, tracks: map[*downTrack]SinkTrack{}}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrRoomClosed
	}
	r.sinks = append(r.sinks, h)
	var ups []*upTrack
	for _, p := range r.participants {
		ups = append(ups, p.pub.published()...)
	}
	slides, presenting := r.currentSlidesLocked()
	r.mu.Unlock()
	if ss, ok := s.(SlidesSink); ok && presenting {
		ss.Slides(slides)
	}
	for _, up := range ups {
		h.subscribe(up)
	}
	return h, nil
}

// Close detaches the sink: every SinkTrack is closed.
func (h *SinkHandle) Close() {
	r := h.room
	r.mu.Lock()
	if i := slices.Index(r.sinks, h); i >= 0 {
		r.sinks = slices.Delete(r.sinks, i, i+1)
	}
	r.mu.Unlock()
	h.mu.Lock()
	h.closed = true
	downs := slices.Collect(maps.Values(h.downs))
	h.mu.Unlock()
	for _, d := range downs {
		h.drop(d)
	}
}

// subscribe makes the sink receive up.
func (h *SinkHandle) subscribe(up *upTrack) {
	h.mu.Lock()
	if h.closed || h.downs[up] != nil {
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	st := h.sink.AddTrack(up.owner, up.info(), up.codec)
	if st == nil {
		return
	}
	d := newDownTrack(up, nil)
	d.sink = h
	d.binding.Store(&trackBinding{id: "sink", ssrc: 1, payloadType: uint8(up.codec.PayloadType), writer: sinkWriter{st}})
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		st.Close()
		return
	}
	h.downs[up] = d
	h.tracks[d] = st
	h.mu.Unlock()
	if !up.addDown(d) {
		h.drop(d)
		return
	}
	h.best(d)
}

// best moves d to the track's best layer.
func (h *SinkHandle) best(d *downTrack) {
	if layers := d.up.layerList(); len(layers) > 0 {
		d.up.setTarget(d, layers[len(layers)-1])
	}
}

// drop stops the sink's copy of a track and closes its SinkTrack.
func (h *SinkHandle) drop(d *downTrack) {
	d.up.removeDown(d)
	h.mu.Lock()
	st := h.tracks[d]
	delete(h.tracks, d)
	if h.downs[d.up] == d {
		delete(h.downs, d.up)
	}
	h.mu.Unlock()
	if st != nil {
		st.Close()
	}
}

// sinkWriter is the webrtc.TrackLocalWriter of a sink's downTrack.
type sinkWriter struct{ st SinkTrack }

func (w sinkWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if err := w.st.WriteRTP(h, payload); err != nil {
		return 0, err
	}
	return len(payload), nil
}

func (w sinkWriter) Write([]byte) (int, error) {
	return 0, errors.New("sfu: a sink takes RTP packets only")
}

// drop takes the subscriber's copy of a track away: a participant renegotiates, a sink
// closes its SinkTrack.
func (d *downTrack) drop() {
	if d.sink != nil {
		d.sink.drop(d)
		return
	}
	d.subscriber.dropDown(d)
}

// SetRecording tells everyone in the room, and everyone who joins after, whether the
// session is being recorded. A recorder calls it with true before it writes anything,
// and with false once it has stopped.
func (r *Room) SetRecording(on bool) error {
	return r.setNotice(&r.recording, signal.TypeRecording, on, "")
}

// RecordingFailed says that the recording stopped early, and why: the moderators are told
// the reason (a full disk, failing storage), the others only that it stopped.
func (r *Room) RecordingFailed(reason string) error {
	return r.setNotice(&r.recording, signal.TypeRecording, false, reason)
}

// SetBroadcasting tells everyone in the room, and everyone who joins after, whether the
// session is being broadcast live. A broadcast calls it with true before its first frame
// leaves, and with false once it has stopped.
func (r *Room) SetBroadcasting(on bool) error {
	return r.setNotice(&r.broadcasting, signal.TypeBroadcast, on, "")
}

// BroadcastTrouble tells the moderators why the broadcast's target does not take the
// stream (unreachable, refused key), as a code (reason) and in words (text): the
// broadcast goes on trying, and the room is still told that it is on, since it starts
// again as soon as the target answers.
func (r *Room) BroadcastTrouble(reason, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrRoomClosed
	}
	msg := encode(signal.NoticeMessage{Type: signal.TypeBroadcast, Active: r.broadcasting, Reason: reason, Error: text})
	for _, o := range r.participants {
		if o.role == RoleModerator {
			o.session.sendRaw(msg)
		}
	}
	return nil
}

// setNotice sets a state the whole room is told of (recording, broadcasting), and tells
// it; reason, when not empty, goes to the moderators only.
func (r *Room) setNotice(state *bool, typ string, on bool, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrRoomClosed
	}
	if *state == on {
		return nil
	}
	*state = on
	msg := encode(signal.NoticeMessage{Type: typ, Active: on})
	withReason := msg
	if reason != "" {
		withReason = encode(signal.NoticeMessage{Type: typ, Active: on, Error: reason})
	}
	for _, o := range r.participants {
		if o.role == RoleModerator {
			o.session.sendRaw(withReason)
		} else {
			o.session.sendRaw(msg)
		}
	}
	for _, w := range r.waiting {
		w.session.sendRaw(msg)
	}
	return nil
}

// Recording tells whether the session is being recorded.
func (r *Room) Recording() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recording
}

// Broadcasting tells whether the session is being broadcast live.
func (r *Room) Broadcasting() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.broadcasting
}

// ActiveSpeaker is the participant id of the room's active speaker, "" before anyone
// spoke.
func (r *Room) ActiveSpeaker() string { return r.speakers.activeSpeaker() }

// RequestKeyframe asks the publisher of the sink's track trackID for a keyframe (a
// compositor switching to it); it does nothing for audio or a track the sink does not
// receive.
func (h *SinkHandle) RequestKeyframe(trackID string) {
	h.mu.Lock()
	var d *downTrack
	for up, dt := range h.downs {
		if up.id == trackID {
			d = dt
			break
		}
	}
	h.mu.Unlock()
	if d != nil {
		d.up.requestKeyframe(d)
	}
}
