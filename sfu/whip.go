package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"webinaire/sfu/signal"
)

// WHIP (RFC 9725) and WHEP sessions: participants whose signalling is one HTTP request
// carrying an SDP offer, answered with a complete SDP answer (no trickle ICE, no later
// renegotiation). A WHIP session publishes (a streaming encoder such as OBS Studio); a
// WHEP session receives one video and one audio track chosen when it starts. The API
// package serves the HTTP side; here they are participants like the others, seen in the
// room's list, removable by a moderator, ended with their room.

// sessionMode is how a participant is signalled.
type sessionMode int

const (
	modeSocket sessionMode = iota // a signalling connection (docs/protocol.md)
	modeIngest                    // WHIP: publishes, receives nothing
	modeView                      // WHEP: receives the tracks attached at the answer
	modeRelay                     // an edge node's link: every layer of every track, hidden from the room (relay.go)
	modeRemote                    // on an edge node, a participant of the origin: no connection of its own (edge.go)
)

// codeNothingToView ends a WHEP session started in a room where nobody publishes: an
// error of the HTTP side, which a signalling connection never gets.
const codeNothingToView = "nothing_to_view"

// httpAnswerTimeout bounds the wait for an answer and its ICE candidates.
const httpAnswerTimeout = 10 * time.Second

// Errors of StartWHIP and StartWHEP.
var (
	// ErrOfferRefused is an SDP offer the server cannot answer.
	ErrOfferRefused = errors.New("sfu: offer refused")
	// ErrNothingToView is a WHEP request for a room where nobody publishes.
	ErrNothingToView = errors.New("sfu: nothing published in the room")
	// ErrLobby is a session whose claims send it to the lobby: an HTTP session cannot
	// wait there.
	ErrLobby = errors.New("sfu: an HTTP session cannot wait in the lobby")
)

// HTTPSession is a running WHIP or WHEP session.
type HTTPSession struct {
	answer string
	conn   *httpConn
	done   chan struct{}
}

// Answer is the SDP answer, with the server's ICE candidates.
func (h *HTTPSession) Answer() string { return h.answer }

// Done is closed once the session has ended.
func (h *HTTPSession) Done() <-chan struct{} { return h.done }

// Close ends the session (the WHIP or WHEP DELETE) and waits until it has.
func (h *HTTPSession) Close() {
	_ = h.conn.Close(signal.CloseNormal, "deleted")
	<-h.done
}

// StartWHIP starts a publishing session for claims, whom the caller has authenticated,
// with the client's SDP offer. It returns once the answer is ready; the session then runs
// until Close, ICE fails, the participant is removed, or the room or the server closes.
func (s *Server) StartWHIP(ctx context.Context, c Claims, offer string, hooks SessionHooks) (*HTTPSession, error) {
	return s.startHTTP(ctx, c, offer, modeIngest, hooks)
}

// StartWHEP starts a viewing session, as StartWHIP. The viewer receives the stream of a
// WHIP session in the room if there is one, else of a participant sharing a screen, else
// of the first one publishing video: that participant's video and audio, as they are
// when the session starts. It fails with ErrNothingToView when nobody publishes video.
func (s *Server) StartWHEP(ctx context.Context, c Claims, offer string, hooks SessionHooks) (*HTTPSession, error) {
	return s.startHTTP(ctx, c, offer, modeView, hooks)
}

func (s *Server) startHTTP(ctx context.Context, c Claims, offer string, mode sessionMode, hooks SessionHooks) (*HTTPSession, error) {
	if _, err := s.tokens.Sign(c); err != nil {
		return nil, err // invalid or revoked claims
	}
	c, err := s.admit(ctx, c)
	if err != nil {
		return nil, err
	}
	if c.Lobby {
		return nil, ErrLobby
	}
	msg, err := json.Marshal(map[string]string{"type": signal.TypeOffer, "sdp": offer})
	if err != nil {
		return nil, fmt.Errorf("sfu: encode offer: %w", err)
	}
	if len(msg) > signal.MaxMessageSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrOfferRefused, signal.MaxMessageSize)
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return nil, ErrServerClosed
	case !s.started:
		s.mu.Unlock()
		return nil, ErrNotStarted
	}
	s.sessions.Add(1)
	api := s.api
	s.mu.Unlock()

	conn := newHTTPConn(msg)
	p := newParticipant(s, conn, c)
	p.mode = mode
	h := &HTTPSession{conn: conn, done: make(chan struct{})}
	go func() { // owned by the session; ends when the participant's session ends
		defer s.sessions.Done()
		defer close(h.done)
		defer s.panics.Recover(PartParticipant, p.log, nil)
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		defer context.AfterFunc(s.closing, cancel)()
		if hooks.Joined != nil {
			hooks.Joined(c)
		}
		err := p.serve(sctx, api)
		if hooks.Left != nil {
			hooks.Left(c, err)
		}
	}()

	wait := time.NewTimer(httpAnswerTimeout)
	defer wait.Stop()
	fail := func(err error) (*HTTPSession, error) {
		h.Close()
		return nil, err
	}
	select {
	case <-conn.answered:
	case code := <-conn.failed:
		switch code {
		case codeNothingToView:
			return fail(ErrNothingToView)
		case signal.CodeTokenRevoked:
			return fail(ErrTokenRevoked) // removed while it started
		}
		return fail(ErrOfferRefused)
	case <-h.done:
		return nil, fmt.Errorf("%w: the session ended before answering", ErrOfferRefused)
	case <-wait.C:
		return fail(fmt.Errorf("%w: no answer in time", ErrOfferRefused))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	select {
	case <-webrtc.GatheringCompletePromise(p.pc):
	case <-wait.C:
		return fail(fmt.Errorf("%w: ICE gathering did not complete", ErrOfferRefused))
	}
	local := p.pc.LocalDescription()
	if local == nil {
		return fail(fmt.Errorf("%w: no local description", ErrOfferRefused))
	}
	h.answer = local.SDP
	return h, nil
}

// httpConn is the Conn of an HTTP session: it hands the participant the offer and
// watches what the participant would send for its answer or a refusal.
type httpConn struct {
	in       chan []byte
	answered chan struct{}
	failed   chan string
	once     sync.Once
	closed   chan struct{}
	close    sync.Once
}

func newHTTPConn(offer []byte) *httpConn {
	c := &httpConn{
		in:       make(chan []byte, 1),
		answered: make(chan struct{}),
		failed:   make(chan string, 1),
		closed:   make(chan struct{}),
	}
	c.in <- offer
	return c
}

func (c *httpConn) ReadMessage(ctx context.Context) ([]byte, error) {
	select {
	case m := <-c.in:
		return m, nil
	case <-c.closed:
		return nil, errors.New("sfu: session deleted")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *httpConn) WriteMessage(_ context.Context, msg []byte) error {
	var m signal.ErrorMessage // its type and, of an error, its code
	if json.Unmarshal(msg, &m) != nil {
		return nil
	}
	switch m.Type {
	case signal.TypeAnswer:
		c.once.Do(func() { close(c.answered) })
	case signal.TypeError:
		select {
		case c.failed <- m.Code:
		default:
		}
	}
	return nil
}

func (c *httpConn) Close(int, string) error {
	c.close.Do(func() { close(c.closed) })
	return nil
}

// attachViewTracks chooses what a WHEP viewer receives and adds it to its
// PeerConnection before the answer, on the transceivers its offer made.
func (p *participant) attachViewTracks() bool {
	offered := p.sub.takeViewable()
	video, audio := chooseView(offered)
	if video == nil {
		return false
	}
	for _, up := range []*upTrack{video, audio} {
		if up == nil {
			continue
		}
		d := newDownTrack(up, p)
		p.sub.mu.Lock()
		p.sub.downs[up] = d
		p.sub.mu.Unlock()
		if !up.addDown(d) {
			p.sub.mu.Lock()
			delete(p.sub.downs, up)
			p.sub.mu.Unlock()
			continue
		}
		sender, err := p.pc.AddTrack(d)
		if err != nil {
			p.log.Debug("track not added", "track", up.id, "error", err)
			p.dropDown(d)
			continue
		}
		d.sender = sender
		p.readRTCP(d, sender)
	}
	p.allocate()
	return true
}

// chooseView picks a viewer's video and audio among the published tracks: those of a
// WHIP publisher, else of someone sharing a screen, else of the first with a video.
func chooseView(ups []*upTrack) (video, audio *upTrack) {
	owner := ""
	for _, pick := range []func(*upTrack) bool{
		func(u *upTrack) bool { return u.ingest && u.kind == webrtc.RTPCodecTypeVideo },
		func(u *upTrack) bool { return u.label == LabelScreen && u.kind == webrtc.RTPCodecTypeVideo },
		func(u *upTrack) bool { return u.kind == webrtc.RTPCodecTypeVideo },
	} {
		for _, u := range ups {
			if pick(u) {
				owner, video = u.owner, u
				break
			}
		}
		if video != nil {
			break
		}
	}
	for _, u := range ups {
		if u.owner != owner || u.kind != webrtc.RTPCodecTypeAudio {
			continue
		}
		// The audio that goes with the video: the screen's with a screen, else the
		// microphone.
		if audio == nil || (u.label == video.label) {
			audio = u
		}
	}
	return video, audio
}
