package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"webinaire/privacy"
	"webinaire/sfu"
	"webinaire/store"
)

// WHIP (RFC 9725) and WHEP, the HTTP side (docs/whip.md): one POST carries a complete SDP
// offer and gets a complete answer and the session's URL; a DELETE on that URL ends the
// session. No trickle ICE, no renegotiation. A WHIP encoder authenticates with its
// webinar's stream key, a WHEP player with a join token; neither uses the session cookie.

// Paths of the WHIP and WHEP endpoints.
const (
	whipPath = "/api/v1/whip" // + /{webinar id}, its sessions under /sessions/{session}
	whepPath = "/api/v1/whep" // its sessions under /sessions/{session}
)

const (
	// maxOfferBytes bounds an SDP offer: an encoder's is a few kilobytes, and the SFU
	// takes at most signal.MaxMessageSize once it is wrapped in a JSON message.
	maxOfferBytes = 32 << 10
	// maxStreamsPerWebinar is how many WHIP sessions a webinar may have at once: one
	// stream key is one encoder, and WHEP viewers are shown one stream. A second
	// encoder is a mistake or a leaked key; an encoder that reconnects after a network
	// failure gets in once its dead session has ended (ICE failure, or a DELETE).
	maxStreamsPerWebinar = 1
	// whipName is the display name of a WHIP publisher in its room: a name of the
	// protocol, the same in every language.
	whipName = "WHIP"
	// streamKeyBytes is how much randomness a stream key holds.
	streamKeyBytes = 32
)

var (
	errInvalidToken     = problem(http.StatusUnauthorized, "invalid_token", "send a valid stream key (WHIP) or join token (WHEP) as Authorization: Bearer")
	errOfferType        = problem(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the offer as application/sdp")
	errOfferRefused     = problem(http.StatusBadRequest, "offer_refused", "the SDP offer cannot be answered: it is malformed, or offers no codec or direction the server takes")
	errNothingToView    = problem(http.StatusConflict, "nothing_to_view", "nobody publishes video in this room yet; try again later")
	errStreamBusy       = problem(http.StatusConflict, "stream_busy", "another encoder is streaming with this webinar's stream key")
	errWHEPLobby        = problem(http.StatusForbidden, "lobby_required", "this token's holder must wait in the lobby, which a player cannot do; use a presenter's or moderator's link")
	errRoomMoved        = problem(http.StatusConflict, "room_moved", "the room runs on another node now: join again for its URLs")
	errMediaUnavailable = problem(http.StatusServiceUnavailable, "media_unavailable", "the media server is not running; try again shortly")
	errSessionNotFound  = problem(http.StatusNotFound, "not_found", "no such session: it has ended, or never was")
)

// streamKeyJSON is the answer of POST /api/v1/webinars/{id}/stream-key, the one time the
// key is shown.
type streamKeyJSON struct {
	StreamKey string `json:"stream_key"`
	WHIPURL   string `json:"whip_url"`
}

// createStreamKey makes a new stream key for the webinar, replacing the one it had, and
// ends the WHIP sessions started with the old one.
func (s *Server) createStreamKey(c *gin.Context) {
	b := make([]byte, streamKeyBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	key := base64.RawURLEncoding.EncodeToString(b)
	id, ok := s.changeStreamKey(c, "stream_key.create", func(ctx context.Context, tx *store.Store, organizerID string) error {
		return tx.SetStreamKey(ctx, organizerID, c.Param("id"), key)
	})
	if !ok {
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, streamKeyJSON{StreamKey: key, WHIPURL: s.p.BaseURL + whipPath + "/" + id})
}

// deleteStreamKey turns WHIP off for the webinar and ends its WHIP sessions.
func (s *Server) deleteStreamKey(c *gin.Context) {
	_, ok := s.changeStreamKey(c, "stream_key.delete", func(ctx context.Context, tx *store.Store, organizerID string) error {
		had, err := tx.ClearStreamKey(ctx, organizerID, c.Param("id"))
		if err != nil || !had {
			return err
		}
		return s.p.Ledger.Record(ctx, tx, privacy.Entry{
			Rule: "stream key deleted by the organizer", Category: privacy.CategoryAccounts, ObjectID: c.Param("id"), Count: 1,
			Stores: []string{privacy.StoreDatabase}, At: s.now(),
		})
	})
	if ok {
		c.Status(http.StatusNoContent)
	}
}

// changeStreamKey runs change on the webinar of the path for its owner, audits it as
// action, and ends the webinar's WHIP sessions; it returns the webinar's id, or false
// once it has answered with a problem.
func (s *Server) changeStreamKey(c *gin.Context, action string, change func(ctx context.Context, tx *store.Store, organizerID string) error) (string, bool) {
	sess, _ := sessionOf(c)
	ctx := c.Request.Context()
	id := c.Param("id")
	err := s.p.Store.InTx(ctx, func(tx *store.Store) error {
		if err := change(ctx, tx, sess.OrganizerID); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, action, "webinar", id, nil))
	})
	if err != nil {
		s.fail(c, err)
		return "", false
	}
	s.streams.endStreams(func(e *httpSession) bool { return e.webinarID == id })
	return id, true
}

// startWHIP starts a WHIP session: an encoder publishing in the webinar's room as a
// presenter, on behalf of the webinar's organizer.
func (s *Server) startWHIP(c *gin.Context) {
	key, ok := bearerToken(c.Request)
	if !ok {
		refuseBearer(c, false)
		return
	}
	ctx := c.Request.Context()
	w, err := s.p.Store.WebinarByStreamKey(ctx, c.Param("id"), key)
	if errors.Is(err, store.ErrNotFound) {
		refuseBearer(c, true) // no such webinar, no key, or another key: the same answer
		return
	} else if err != nil {
		s.fail(c, err)
		return
	}
	owner, err := s.p.Store.Organizer(ctx, w.OrganizerID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if owner.RestrictedAt != nil {
		writeProblem(c, errRestricted)
		return
	}
	offer, p := readOffer(c)
	if p != nil {
		writeProblem(c, p)
		return
	}
	s.answerWithin(c.Writer)
	claims := s.newClaims(w, sfu.RolePresenter, whipName, s.now())
	node, ok := s.place(c, &claims)
	if !ok {
		return
	}
	if !node.self {
		// The room runs on another node: the encoder sends its offer there, as WHIP allows.
		c.Redirect(http.StatusTemporaryRedirect, node.base+whipPath+"/"+w.ID)
		return
	}
	entry := &httpSession{protocol: "whip", webinarID: w.ID, organizerID: w.OrganizerID, bearer: sha256.Sum256([]byte(key))}
	if !s.streams.reserve(entry) {
		c.Header("Retry-After", "5")
		writeProblem(c, errStreamBusy)
		return
	}
	actor := mediaActor{kind: store.ActorOrganizer, id: w.OrganizerID, webinarID: w.ID}
	session, err := s.p.SFU.StartWHIP(ctx, claims, offer, s.mediaHooks(c, "whip", &actor))
	if err != nil {
		s.streams.release(entry)
	}
	s.answerOffer(c, entry, session, err, whipPath+"/"+w.ID+"/sessions/")
}

// startWHEP starts a WHEP session: the holder of a join token watching the room's stream.
func (s *Server) startWHEP(c *gin.Context) {
	token, ok := bearerToken(c.Request)
	if !ok {
		refuseBearer(c, false)
		return
	}
	claims, err := s.p.Tokens.Verify(token, s.now())
	if err != nil {
		refuseBearer(c, true)
		return
	}
	offer, p := readOffer(c)
	if p != nil {
		writeProblem(c, p)
		return
	}
	s.answerWithin(c.Writer)
	if !s.allowMediaSession(c, "whep") {
		return
	}
	entry := &httpSession{protocol: "whep", bearer: sha256.Sum256([]byte(token))}
	session, err := s.p.SFU.StartWHEP(c.Request.Context(), claims, offer, s.mediaHooks(c, "whep", nil))
	s.answerOffer(c, entry, session, err, whepPath+"/sessions/")
}

// answerOffer answers the POST that started session (or failed with err): 201 with the
// SDP answer and the session's URL, location followed by its id.
func (s *Server) answerOffer(c *gin.Context, entry *httpSession, session *sfu.HTTPSession, err error, location string) {
	switch {
	case err == nil:
	case errors.Is(err, sfu.ErrOfferRefused):
		writeProblem(c, errOfferRefused)
		return
	case errors.Is(err, sfu.ErrLobby):
		writeProblem(c, errWHEPLobby)
		return
	case errors.Is(err, sfu.ErrNothingToView):
		c.Header("Retry-After", "5")
		writeProblem(c, errNothingToView)
		return
	case errors.Is(err, sfu.ErrTokenInvalid), errors.Is(err, sfu.ErrTokenExpired), errors.Is(err, sfu.ErrTokenRevoked),
		errors.Is(err, sfu.ErrInvitationRevoked), errors.Is(err, sfu.ErrRoomGone):
		// The Gate's refusals too: what the token was minted from no longer holds.
		refuseBearer(c, true)
		return
	case errors.Is(err, sfu.ErrRoomMoved):
		writeProblem(c, errRoomMoved)
		return
	case errors.Is(err, sfu.ErrNotStarted), errors.Is(err, sfu.ErrServerClosed):
		c.Header("Retry-After", "5")
		writeProblem(c, errMediaUnavailable)
		return
	case c.Request.Context().Err() != nil:
		c.Abort() // the client went away
		return
	default:
		s.fail(c, err)
		return
	}
	entry.session = session
	id, ok := s.streams.add(entry)
	if !ok {
		// The stream key changed (or the webinar went, or its organizer was restricted)
		// while the session started: it must not outlive its right to stream.
		session.Close()
		refuseBearer(c, true)
		return
	}
	c.Header("Location", location+id)
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusCreated, "application/sdp", []byte(session.Answer()))
}

// stopWHIP is the WHIP DELETE: it ends the session, with the stream key that started it.
func (s *Server) stopWHIP(c *gin.Context) { s.stopSession(c, "whip", c.Param("id")) }

// stopWHEP is the WHEP DELETE: it ends the session, with the join token that started it.
func (s *Server) stopWHEP(c *gin.Context) { s.stopSession(c, "whep", "") }

func (s *Server) stopSession(c *gin.Context, protocol, webinarID string) {
	token, ok := bearerToken(c.Request)
	if !ok {
		refuseBearer(c, false)
		return
	}
	entry := s.streams.get(c.Param("session"))
	if entry == nil || entry.protocol != protocol || entry.webinarID != webinarID {
		writeProblem(c, errSessionNotFound)
		return
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], entry.bearer[:]) != 1 {
		refuseBearer(c, true)
		return
	}
	s.streams.end(entry)
	c.Status(http.StatusOK)
}

// readOffer reads the SDP offer of a WHIP or WHEP POST.
func readOffer(c *gin.Context) (string, *Problem) {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/sdp" {
		return "", errOfferType
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxOfferBytes)
	data, p := readBody(c, errOfferRefused)
	if p != nil {
		return "", p
	}
	return string(data), nil
}

// bearerToken is the token of an Authorization: Bearer header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// refuseBearer answers 401 with the challenge of RFC 6750; presented says whether a token
// was sent (and refused).
func refuseBearer(c *gin.Context, presented bool) {
	challenge := `Bearer realm="webinaire"`
	if presented {
		challenge += `, error="invalid_token"`
	}
	c.Header("WWW-Authenticate", challenge)
	writeProblem(c, errInvalidToken)
}

// httpSessions are the running WHIP and WHEP sessions of this process, by the id in their
// URL, the WHIP sessions being started, and how many WHIP sessions each webinar has.
type httpSessions struct {
	mu       sync.Mutex
	byID     map[string]*httpSession
	starting map[*httpSession]bool // WHIP sessions reserved, not running yet
	streams  map[string]int        // webinar id → WHIP sessions running or starting
}

// httpSession is one WHIP or WHEP session.
type httpSession struct {
	protocol    string // "whip" or "whep"
	webinarID   string // WHIP: the webinar whose stream key started it
	organizerID string // WHIP: that webinar's organizer
	// bearer is the SHA-256 of the token that started the session; its DELETE must
	// bring the same.
	bearer    [sha256.Size]byte
	session   *sfu.HTTPSession
	id        string
	cancelled bool // WHIP: ended by endStreams while starting (under httpSessions.mu)
	forgot    sync.Once
}

func newHTTPSessions() *httpSessions {
	return &httpSessions{byID: make(map[string]*httpSession), starting: make(map[*httpSession]bool), streams: make(map[string]int)}
}

// reserve takes one of the WHIP session's webinar's places, if one is free; release
// gives it back if the session does not start.
func (h *httpSessions) reserve(e *httpSession) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.streams[e.webinarID] >= maxStreamsPerWebinar {
		return false
	}
	h.streams[e.webinarID]++
	h.starting[e] = true
	return true
}

func (h *httpSessions) release(e *httpSession) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.starting, e)
	h.releaseLocked(e.webinarID)
}

func (h *httpSessions) releaseLocked(webinarID string) {
	if h.streams[webinarID]--; h.streams[webinarID] <= 0 {
		delete(h.streams, webinarID)
	}
}

// add records a started session under a new unguessable id, and forgets it (giving its
// WHIP place back) once it has ended. A WHIP session that endStreams cancelled while it
// started is not added: false, and its place is given back.
func (h *httpSessions) add(e *httpSession) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.protocol == "whip" {
		delete(h.starting, e)
		if e.cancelled {
			h.releaseLocked(e.webinarID)
			return "", false
		}
	}
	e.id = store.NewSecret()
	h.byID[e.id] = e
	go func() { // owned by the session; ends when it does (at the latest when the SFU closes)
		<-e.session.Done()
		h.forget(e)
	}()
	return e.id, true
}

// forget removes an ended session, once, and gives its WHIP place back.
func (h *httpSessions) forget(e *httpSession) {
	e.forgot.Do(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.byID, e.id)
		if e.protocol == "whip" {
			h.releaseLocked(e.webinarID)
		}
	})
}

// end ends a session and forgets it before returning: the next request sees it gone.
func (h *httpSessions) end(e *httpSession) {
	e.session.Close()
	h.forget(e)
}

// get is the running session id, or nil: one that has ended is gone, even before its
// watcher has forgotten it.
func (h *httpSessions) get(id string) *httpSession {
	h.mu.Lock()
	e := h.byID[id]
	h.mu.Unlock()
	if e == nil {
		return nil
	}
	select {
	case <-e.session.Done():
		h.forget(e)
		return nil
	default:
		return e
	}
}

// endStreams ends the WHIP sessions that match, those starting included (they will not
// be added), and returns once the running ones have ended.
func (h *httpSessions) endStreams(match func(*httpSession) bool) {
	h.mu.Lock()
	for e := range h.starting {
		if match(e) {
			e.cancelled = true
		}
	}
	var running []*httpSession
	for _, e := range h.byID {
		if e.protocol == "whip" && match(e) {
			running = append(running, e)
		}
	}
	h.mu.Unlock()
	for _, e := range running {
		h.end(e)
	}
}
