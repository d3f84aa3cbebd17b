package sfu

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"webinaire/sfu/signal"
)

// WHIP (RFC 9725) and WHEP sessions: members of a room whose signalling is one HTTP
// request carrying an SDP offer, answered with a complete SDP answer (no trickle ICE, no
// later renegotiation, no signalling message). A WHIP session publishes (a streaming
// encoder such as OBS Studio); a WHEP session receives one video and one audio track
// chosen when it answers. The API package serves the HTTP side; here they are members
// like the participants: seen in the room's list, counted against its caps, removable by
// a moderator, ended with their room.

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
	answer  string
	session *httpSession
}

// Answer is the SDP answer, with the server's ICE candidates.
func (h *HTTPSession) Answer() string { return h.answer }

// Done is closed once the session has ended.
func (h *HTTPSession) Done() <-chan struct{} { return h.session.done }

// Close ends the session (the WHIP or WHEP DELETE) and waits until it has.
func (h *HTTPSession) Close() {
	h.session.end(endCause{code: signal.CloseNormal, reason: "deleted"})
	<-h.session.done
}

// StartWHIP starts a publishing session for claims, whom the caller has authenticated,
// with the client's SDP offer. It returns once the answer is ready; the session then runs
// until Close, ICE fails, the participant is removed, or the room or the server closes.
func (s *Server) StartWHIP(ctx context.Context, c Claims, offer string, hooks SessionHooks) (*HTTPSession, error) {
	return s.startHTTP(ctx, c, offer, hooks, func(h *httpSession) httpMember {
		return &whipSession{httpSession: h}
	})
}

// StartWHEP starts a viewing session, as StartWHIP. The viewer receives the stream of a
// WHIP session in the room if there is one, else of a participant sharing a screen, else
// of the first one publishing video: that participant's video and audio, as they are
// when the session starts. It fails with ErrNothingToView when nobody publishes video.
func (s *Server) StartWHEP(ctx context.Context, c Claims, offer string, hooks SessionHooks) (*HTTPSession, error) {
	return s.startHTTP(ctx, c, offer, hooks, func(h *httpSession) httpMember {
		v := &whepSession{httpSession: h}
		v.sub = newSubscriber(v.member, nil)
		return v
	})
}

// httpSession is what a WHIP and a WHEP session share: a member whose PeerConnection is
// negotiated once, by the offer the session starts with, and that no signalling message
// reaches. Its session runs until end.
type httpSession struct {
	*member
	// cancel ends the session's context; set before the session is visible.
	cancel  context.CancelFunc
	endOnce sync.Once
	cause   endCause
	done    chan struct{} // closed once the session has ended
	cands   candidateFilter
}

// httpMember is a WHIP or a WHEP session, as the run they share sees it.
type httpMember interface {
	memberSession
	// prepare readies the PeerConnection, before the session enters the room.
	prepare()
	// answering is told that the offer is set, before the answer is made; an error
	// refuses the offer.
	answering() error
}

// httpAnswer is the SDP answer of a session, or why there is none.
type httpAnswer struct {
	sdp string
	err error
}

// startHTTP runs a WHIP or WHEP session, which side makes around the httpSession they
// share, and returns once the session has answered offer.
func (s *Server) startHTTP(ctx context.Context, c Claims, offer string, hooks SessionHooks, side func(*httpSession) httpMember) (*HTTPSession, error) {
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
	if len(offer) > signal.MaxMessageSize {
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

	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h := &httpSession{member: newMember(s, c), cancel: cancel, done: make(chan struct{})}
	h.cands = candidateFilter{policy: &s.candidates, log: h.log}
	m := side(h)
	h.session = m
	answers := make(chan httpAnswer, 1)
	go func() { // owned by the session; ends when the session ends
		defer s.sessions.Done()
		defer close(h.done)
		defer cancel()
		defer s.panics.Recover(PartParticipant, h.log, nil)
		defer context.AfterFunc(s.closing, cancel)()
		if hooks.Joined != nil {
			hooks.Joined(c)
		}
		err := h.run(sctx, api, m, offer, answers)
		if hooks.Left != nil {
			hooks.Left(c, err)
		}
	}()

	wait := time.NewTimer(httpAnswerTimeout)
	defer wait.Stop()
	var a httpAnswer
	select {
	case a = <-answers:
	case <-wait.C:
		a.err = fmt.Errorf("%w: no answer in time", ErrOfferRefused)
	case <-ctx.Done():
		a.err = ctx.Err()
	case <-h.done:
		select {
		case a = <-answers:
		default:
			a.err = fmt.Errorf("%w: the session ended before answering", ErrOfferRefused)
		}
	}
	session := &HTTPSession{answer: a.sdp, session: h}
	if a.err != nil {
		session.Close()
		return nil, a.err
	}
	return session, nil
}

// run answers offer, handing the answer to answers, then runs the session until ctx
// ends; it takes the member out of the room and returns why the session ended.
func (h *httpSession) run(ctx context.Context, api *webrtc.API, m httpMember, offer string, answers chan<- httpAnswer) error {
	h.start(ctx, api, m, offer, answers)
	<-ctx.Done()
	var endErr error
	if h.srv.closing.Err() != nil {
		endErr = ErrServerClosed
	}
	h.end(endCause{err: endErr, code: signal.CloseGoingAway, reason: "server shutting down"})
	h.leave()
	h.log.Info("participant left", "reason", h.cause.reason)
	return h.cause.err
}

// start answers offer, and hands the answer, or why there is none, to answers; a refusal
// or a panic ends the session.
func (h *httpSession) start(ctx context.Context, api *webrtc.API, m httpMember, offer string, answers chan<- httpAnswer) {
	defer h.srv.panics.Recover(PartParticipant, h.log, func() { h.end(internalFault) })
	sdp, err := h.answer(ctx, api, m, offer)
	answers <- httpAnswer{sdp: sdp, err: err}
	if err != nil {
		h.end(endCause{err: err, code: signal.CloseNormal, reason: "offer not answered"})
	}
}

// answer makes the PeerConnection, enters the room and answers offer, with every ICE
// candidate of the server.
func (h *httpSession) answer(ctx context.Context, api *webrtc.API, m httpMember, offer string) (string, error) {
	if err := h.openPeerConnection(api); err != nil {
		return "", fmt.Errorf("%w: %w", ErrOfferRefused, err)
	}
	h.pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		h.log.Debug("peer connection state", "state", st.String())
		// Nothing else tells that the client is gone.
		if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
			h.end(endCause{code: signal.CloseNormal, reason: "media connection ended"})
		}
	})
	m.prepare()
	if err := h.enter(); err != nil {
		if errors.Is(err, ErrTokenRevoked) {
			return "", err // removed while it started
		}
		return "", fmt.Errorf("%w: %w", ErrOfferRefused, err)
	}
	desc := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: h.cands.filterSDP(offer, nil)}
	if err := h.pc.SetRemoteDescription(desc); err != nil {
		h.log.Debug("client offer refused", "error", err)
		return "", ErrOfferRefused
	}
	h.described()
	if err := m.answering(); err != nil {
		return "", err
	}
	answer, err := h.pc.CreateAnswer(nil)
	if err != nil {
		h.log.Debug("answer not created", "error", err)
		return "", ErrOfferRefused
	}
	gathered := webrtc.GatheringCompletePromise(h.pc)
	if err := h.pc.SetLocalDescription(answer); err != nil {
		h.log.Debug("answer not set", "error", err)
		return "", ErrOfferRefused
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("%w: the session ended before answering", ErrOfferRefused)
	}
	local := h.pc.LocalDescription()
	if local == nil {
		return "", fmt.Errorf("%w: no local description", ErrOfferRefused)
	}
	return keepOfferedRole(local.SDP, h.pc.RemoteDescription()), nil
}

// sendRaw drops msg: an HTTP session has no signalling connection.
func (h *httpSession) sendRaw([]byte) {}

// end ends the session, once: the first cause wins. It never blocks.
func (h *httpSession) end(c endCause) {
	h.endOnce.Do(func() {
		h.cause = c
		h.cancel()
	})
}

// whipSession is a WHIP session: it publishes the tracks of its offer, and receives
// nothing.
type whipSession struct {
	*httpSession
}

// subscribe does nothing: a WHIP session publishes only.
func (w *whipSession) subscribe(*upTrack) {}

// prepare publishes the tracks the encoder sends, as a WHIP stream's.
func (w *whipSession) prepare() {
	w.pub.ingest = true
	w.pc.OnTrack(w.onTrack)
}

// answering accepts every offer Pion takes.
func (w *whipSession) answering() error { return nil }

// whepSession is a WHEP session: it receives the video and audio it is given when it
// answers (chooseView), and publishes nothing.
type whepSession struct {
	*httpSession

	mu       sync.Mutex
	viewable []*upTrack // the tracks published in the room before the answer
	fixed    bool       // the viewer has its tracks: it takes no more
}

// subscribe adds up to what the viewer may be given, until it has its tracks.
func (v *whepSession) subscribe(up *upTrack) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.fixed {
		v.viewable = append(v.viewable, up)
	}
}

// prepare starts the sender reports of what the viewer will receive.
func (v *whepSession) prepare() { v.sub.startReports() }

// answering chooses what the viewer receives and adds it to its PeerConnection, on the
// transceivers its offer made; ErrNothingToView when nobody publishes video.
func (v *whepSession) answering() error {
	v.mu.Lock()
	offered := v.viewable
	v.viewable, v.fixed = nil, true
	v.mu.Unlock()
	video, audio := chooseView(offered)
	if video == nil {
		v.end(endCause{err: ErrNothingToView, code: signal.CloseNormal, reason: "nothing published to view"})
		return ErrNothingToView
	}
	for _, up := range []*upTrack{video, audio} {
		if up != nil {
			v.sub.attach(up)
		}
	}
	v.sub.allocate()
	return nil
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
