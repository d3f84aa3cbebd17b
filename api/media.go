package api

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"webinaire/sfu"
	"webinaire/store"
)

// DefaultTokenLifetime is how long a participant may come back with its session credential
// (sfu.Params.SessionLifetime) when Params.TokenLifetime is 0; TURN credentials last as long.
const DefaultTokenLifetime = sfu.DefaultSessionLifetime

// DefaultEntryTokenLifetime is how long a join token may be used to enter a room when
// Params.EntryTokenLifetime is 0. Once in, the participant comes back with the session
// credential the SFU gives it; every entry is checked against the database (MediaGate).
const DefaultEntryTokenLifetime = 5 * time.Minute

// rtcPath is the signalling endpoint: a WebSocket served by the SFU.
const rtcPath = "/api/v1/rtc"

// Limits of a guest's display name: what people see, and what fits in a join token.
const (
	maxGuestName      = 64  // characters
	maxGuestNameBytes = 128 // bytes of UTF-8, the SFU's limit
)

// logTimeout bounds the writing of a connection-log entry for the signalling endpoint.
const logTimeout = 5 * time.Second

var (
	errRejoinRefused       = problem(http.StatusUnauthorized, "rejoin_refused", "this token cannot come back into its room: join again")
	errNoMediaNode         = problem(http.StatusServiceUnavailable, "no_media_node", "no media node can take this room now; try again shortly")
	errParticipantNotFound = problem(http.StatusNotFound, "not_found", "the room is not open, or this participant is not in it")
	errWebSocketOrigin     = problem(http.StatusForbidden, "cross_origin", "a WebSocket opened by a page of another site is refused")
	errWebSocketRequired   = problem(http.StatusUpgradeRequired, "websocket_required", "open this endpoint as a WebSocket")
)

// TURNCredentials hands out the credentials of a TURN server for one participant.
type TURNCredentials interface {
	// Credentials are the ICE server participantID may use for ttl from now.
	Credentials(participantID string, now time.Time, ttl time.Duration) sfu.ICEServer
}

// joinJSON answers the join endpoints: what a client needs to connect to the SFU, on the
// node that runs the room.
type joinJSON struct {
	Token         string          `json:"token"`
	WSURL         string          `json:"ws_url"`
	WHEPURL       string          `json:"whep_url"`
	RoomID        string          `json:"room_id"`
	ParticipantID string          `json:"participant_id"`
	DisplayName   string          `json:"display_name"`
	Role          sfu.Role        `json:"role"`
	Kind          sfu.RoomKind    `json:"kind"`
	ExpiresAt     time.Time       `json:"expires_at"`
	ICEServers    []sfu.ICEServer `json:"ice_servers"`
}

// joinAsOwner hands the organizer of a webinar a moderator's token for its room.
func (s *Server) joinAsOwner(c *gin.Context) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	sess, _ := sessionOf(c)
	o := sess.Organizer
	name := o.DisplayName
	if name == "" {
		name = o.GivenName + " " + o.FamilyName
	}
	// A token without an invitation is the owner's: the connection log names him.
	s.issueJoin(c, w, sfu.RoleModerator, tokenName(name), "")
}

// joinWithInvitation hands the holder of an invitation link a token with the link's role,
// under the display name it chose. The invitation is looked up first: the body of a
// request without one is never read, nor waited for (the connection closes after the
// answer).
func (s *Server) joinWithInvitation(c *gin.Context) {
	// Counted and looked up before the body is read; a refusal closes the connection
	// rather than read a body nobody needs.
	if !s.allowJoinFrom(c) {
		c.Header("Connection", "close")
		return
	}
	inv, w, err := s.p.Store.InvitationByToken(c.Request.Context(), c.Param("token"))
	if err != nil {
		c.Header("Connection", "close")
		s.fail(c, err)
		return
	}
	if !s.allowJoinWith(c, inv.ID) {
		c.Header("Connection", "close")
		return
	}
	var in struct {
		DisplayName *string `json:"display_name"`
	}
	if p := decodeJSON(c, &in); p != nil {
		writeProblem(c, p)
		return
	}
	name, detail := guestName(in.DisplayName)
	if detail != "" {
		writeProblem(c, validationProblem([]FieldError{{Field: "display_name", Detail: detail}}))
		return
	}
	s.issueJoin(c, w, sfu.Role(inv.Role), name, inv.ID)
}

// issueJoin signs a token for a new participant of w's room, on the node that runs it,
// and answers it; invitation is the id of the invitation it comes from, empty for the
// owner.
func (s *Server) issueJoin(c *gin.Context, w store.Webinar, role sfu.Role, name, invitation string) {
	claims := s.newClaims(w, role, name, s.now())
	claims.Invitation = invitation
	s.answerJoin(c, claims)
}

// answerJoin places the room of claims, signs them for its node and answers the join:
// the token, the node's URLs, and TURN credentials for as long as the participant may
// stay.
func (s *Server) answerJoin(c *gin.Context, claims sfu.Claims) {
	node, ok := s.place(c, &claims)
	if !ok {
		return
	}
	token, err := s.p.Tokens.Sign(claims)
	if err != nil {
		s.fail(c, fmt.Errorf("sign join token for room %s: %w", claims.Room, err))
		return
	}
	now := s.now()
	until := s.sessionUntil(claims)
	ice := []sfu.ICEServer{}
	if s.p.TURN != nil {
		// As long as the participant may be in the room: its session may start at the
		// token's expiry and last the session lifetime.
		ice = append(ice, s.p.TURN.Credentials(claims.Participant, now, until.Sub(now)))
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, joinJSON{
		Token:         token,
		WSURL:         node.ws,
		WHEPURL:       node.whep,
		RoomID:        claims.Room,
		ParticipantID: claims.Participant,
		DisplayName:   claims.Name,
		Role:          claims.Role,
		Kind:          claims.Kind,
		ExpiresAt:     time.Unix(claims.Expiry.Unix(), 0).UTC(), // a token counts in seconds
		ICEServers:    ice,
	})
}

// nodeURLs are the endpoints of the node that runs a room: its base URL, its signalling
// WebSocket and its WHEP endpoint; self tells that the node is this process.
type nodeURLs struct {
	base, ws, whep string
	self           bool
}

// place finds the node of the room of claims, placing the room if it has none, reserves
// a seat there for the participant, and gives claims the node and the epoch. Outside a
// cluster, the node is this process. It answers c itself when it fails.
func (s *Server) place(c *gin.Context, claims *sfu.Claims) (nodeURLs, bool) {
	if s.p.Cluster == nil {
		return nodeURLs{base: s.p.BaseURL, ws: s.wsURL, whep: s.p.BaseURL + whepPath, self: true}, true
	}
	// An attendee of a webinar who enters without a lobby only receives: he may watch from
	// an edge node of the room when the room's node is full.
	viewer := claims.Kind == sfu.KindWebinar && claims.Role == sfu.RoleAttendee && !claims.Lobby
	p, err := s.p.Cluster.Place(c.Request.Context(), claims.Room, claims.Participant, viewer)
	switch {
	case errors.Is(err, store.ErrNoNode):
		c.Header("Retry-After", "5")
		writeProblem(c, errNoMediaNode)
		return nodeURLs{}, false
	case err != nil:
		s.fail(c, fmt.Errorf("place room %s: %w", claims.Room, err))
		return nodeURLs{}, false
	}
	claims.Node, claims.Epoch, claims.Origin = p.Node.ID, p.Epoch, p.Origin.ID
	base := strings.TrimSuffix(p.Node.URL, "/")
	ws := "ws" + strings.TrimPrefix(base, "http") // http → ws, https → wss
	return nodeURLs{base: base, ws: ws + rtcPath, whep: base + whepPath, self: p.Node.ID == s.p.Cluster.Node()}, true
}

// rejoin answers a participant coming back with its session credential (or its join
// token) when its node is gone or its room moved: a token of the same participant, role
// and expiry for the node that runs the room now, placing the room again if needed.
func (s *Server) rejoin(c *gin.Context) {
	if !s.allowJoinFrom(c) {
		c.Header("Connection", "close")
		return
	}
	var in struct {
		Token *string `json:"token"`
	}
	if p := decodeJSON(c, &in); p != nil {
		writeProblem(c, p)
		return
	}
	if in.Token == nil || *in.Token == "" {
		writeProblem(c, validationProblem([]FieldError{{Field: "token", Detail: "is required"}}))
		return
	}
	claims, err := s.p.Tokens.Verify(*in.Token, s.now())
	if err != nil {
		writeProblem(c, errRejoinRefused) // expired, revoked or not valid: join again
		return
	}
	w, err := s.p.Store.WebinarByRoom(c.Request.Context(), sfu.MainRoom(claims.Room))
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(c, errRejoinRefused)
		return
	} else if err != nil {
		s.fail(c, err)
		return
	}
	// Placed as the entry will see it: with the invitation's role now and the webinar's
	// lobby now, so that a viewer who may speak now, or must wait, is not sent to an edge.
	if claims.Invitation != "" {
		if inv, err := s.p.Store.Invitation(c.Request.Context(), w.ID, claims.Invitation); err == nil {
			claims.Role = sfu.Role(inv.Role)
		}
	}
	if role, err := s.p.Store.RoleIn(c.Request.Context(), claims.Room, claims.Participant, s.now()); err == nil && role != "" {
		claims.Role = sfu.Role(role) // given by a moderator: a viewer promoted goes to the room's node
	}
	claims.Lobby = entersLobby(w, claims.Role) && sfu.MainRoom(claims.Room) == claims.Room
	// The rest is checked by the node at the entry, as for any token.
	s.answerJoin(c, claims)
}

// sessionUntil is the latest a participant who enters with claims may still come back
// with its session credential: entering at the token's expiry, for the session lifetime.
func (s *Server) sessionUntil(claims sfu.Claims) time.Time {
	return claims.Expiry.Add(s.tokenLifetime)
}

// newClaims are the claims of a new participant of w's room.
func (s *Server) newClaims(w store.Webinar, role sfu.Role, name string, now time.Time) sfu.Claims {
	claims := sfu.Claims{
		Room:        w.RoomID,
		Participant: newParticipantID(),
		Name:        name,
		Role:        role,
		Kind:        roomKind(w),
		IssuedAt:    now,
		Expiry:      now.Add(s.entryLifetime),
		// Attendees of a webinar with a lobby wait there until a moderator admits them.
		Lobby: entersLobby(w, role),
	}
	return claims
}

// rtc serves the signalling protocol (docs/protocol.md) on a WebSocket: the SFU runs the
// session; the connection log gets the join and the leave, with the client's address.
func (s *Server) rtc(c *gin.Context) {
	if !s.sameOrigin(c.GetHeader("Origin")) {
		writeProblem(c, errWebSocketOrigin)
		return
	}
	if !headerHasToken(c.Request.Header, "Connection", "upgrade") || !headerHasToken(c.Request.Header, "Upgrade", "websocket") {
		c.Header("Upgrade", "websocket")
		writeProblem(c, errWebSocketRequired)
		return
	}
	if !s.allowMediaSession(c, "websocket") {
		return
	}
	conn, err := acceptWS(c.Writer, c.Request, s.originPattern)
	if err != nil {
		return // Accept has answered (a handshake that is not valid)
	}
	defer conn.finish()

	err = s.p.SFU.ServeConnWith(c.Request.Context(), conn, s.mediaHooks(c, "websocket", nil))
	s.log.Debug("signalling session ended", "reason", errText(err))
}

// mediaHooks write the connection-log entries of a media session that c starts: the join
// and the leave, with the client's address and port read from c now, for protocol. The
// actor is actor when not nil, else looked up at the join and kept for the leave. The
// hooks may run after c's handler has returned; they do not touch c.
func (s *Server) mediaHooks(c *gin.Context, protocol string, actor *mediaActor) sfu.SessionHooks {
	origin := s.connectionEvent(c, "", "", "", "", "")
	origin.Protocol = protocol
	ctx := context.WithoutCancel(c.Request.Context())
	var who mediaActor
	if actor != nil {
		who = *actor
	}
	return sfu.SessionHooks{
		Joined: func(cl sfu.Claims) {
			if actor == nil {
				who = s.actorOf(ctx, cl)
			}
			s.logMedia(ctx, origin, cl, who, "join")
		},
		Left: func(cl sfu.Claims, _ error) { s.logMedia(ctx, origin, cl, who, "leave") },
	}
}

// logMedia writes a connection-log entry of a media session that came from origin. It
// runs on the session's goroutine, holding no lock of the SFU: the participant waits for
// its joined message while the join is written, as an organizer waits for the login.
func (s *Server) logMedia(ctx context.Context, origin store.ConnectionEvent, cl sfu.Claims, actor mediaActor, action string) {
	e := origin
	e.At, e.ActorKind, e.ActorID, e.Action, e.WebinarID = s.now(), actor.kind, actor.id, action, actor.webinarID
	e.DisplayName = cl.Name
	if actor.kind == store.ActorOrganizer {
		e.DisplayName = "" // the organizer's id says who; as at login, no name is kept
	}
	ctx, cancel := context.WithTimeout(ctx, logTimeout)
	defer cancel()
	if err := s.p.Store.LogConnection(ctx, e); err != nil {
		s.log.Error("connection log not written", "action", action, "room", cl.Room, "participant", cl.Participant, "err", err)
	}
}

// removeParticipant disconnects a participant of the webinar's room and revokes its id
// there, so that its token cannot bring it back.
func (s *Server) removeParticipant(c *gin.Context) {
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	id := c.Param("participant")
	if !validParticipantID(id) {
		writeProblem(c, errParticipantNotFound)
		return
	}
	// Only someone the room has had: a made-up id revokes nothing.
	_, err := s.atRoom(c.Request.Context(), roomCommand{Room: w.RoomID, Action: commandRemove, Participant: id})
	s.moderated(c, w, id, "participant.remove", nil, err)
}

// setParticipantRole changes the role of a participant of the webinar's room.
func (s *Server) setParticipantRole(c *gin.Context) {
	var in struct {
		Role string `json:"role"`
	}
	if p := decodeJSON(c, &in); p != nil {
		writeProblem(c, p)
		return
	}
	role := sfu.Role(in.Role)
	switch role {
	case sfu.RoleAttendee, sfu.RolePresenter, sfu.RoleModerator, sfu.RoleCaptioner:
	default:
		writeProblem(c, validationProblem([]FieldError{{Field: "role", Detail: "must be attendee, presenter, moderator or captioner"}}))
		return
	}
	w, ok := s.ownWebinar(c)
	if !ok {
		return
	}
	id := c.Param("participant")
	err := sfu.ErrRoomClosed
	if validParticipantID(id) {
		_, err = s.atRoom(c.Request.Context(), roomCommand{Room: w.RoomID, Action: commandRole, Participant: id, Role: role})
	}
	s.moderated(c, w, id, "participant.role", map[string]string{"participant": id, "role": in.Role}, err)
}

// moderated answers a moderation request that got err from the SFU, and audits it when
// it was done.
func (s *Server) moderated(c *gin.Context, w store.Webinar, participant, action string, detail map[string]string, err error) {
	switch {
	case errors.Is(err, sfu.ErrRoomClosed), errors.Is(err, sfu.ErrParticipantNotFound):
		writeProblem(c, errParticipantNotFound)
		return
	case errors.Is(err, sfu.ErrWatchesElsewhere):
		writeProblem(c, errWatchesOnEdge)
		return
	case err != nil:
		s.fail(c, err)
		return
	}
	if detail == nil {
		detail = map[string]string{"participant": participant}
	}
	sess, _ := sessionOf(c)
	if err := s.p.Store.RecordAudit(c.Request.Context(), s.auditEvent(sess.OrganizerID, action, "webinar", w.ID, detail)); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// mediaActor is who a participant is for the connection log: an organizer or a guest,
// its id, and the webinar.
type mediaActor struct {
	kind, id, webinarID string
}

// actorOf is who the participant of cl is for the connection log, from the database that
// every node shares, whichever node signed the token: a token minted without an
// invitation is the webinar's organizer's (joinAsOwner), any other a guest's. When the
// webinar cannot be read, the participant is logged as a guest of the room.
func (s *Server) actorOf(ctx context.Context, cl sfu.Claims) mediaActor {
	a := mediaActor{kind: store.ActorGuest, id: cl.Participant, webinarID: cl.Room}
	ctx, cancel := context.WithTimeout(ctx, logTimeout)
	defer cancel()
	w, err := s.p.Store.WebinarByRoom(ctx, sfu.MainRoom(cl.Room)) // a breakout room is its main room's
	if err != nil {
		s.log.Warn("webinar of a media session not found for the connection log", "room", cl.Room, "err", err)
		return a
	}
	a.webinarID = w.ID
	if cl.Invitation == "" {
		a.kind, a.id = store.ActorOrganizer, w.OrganizerID
	}
	return a
}

// participantIDEncoding writes participant ids: lower-case base32, safe in SDP, URLs and logs.
var participantIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newParticipantID is a random participant id of 80 bits, 16 characters.
func newParticipantID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return strings.ToLower(participantIDEncoding.EncodeToString(b))
}

// validParticipantID tells whether id may be a participant id (the SFU's alphabet).
func validParticipantID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	return strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) < 0
}

// guestName checks the display name of a guest; it returns the name trimmed, or why not.
func guestName(in *string) (string, string) {
	if in == nil {
		return "", "is required"
	}
	name := strings.TrimSpace(*in)
	const rule = "1 to 64 characters (128 bytes in UTF-8), one line"
	switch {
	case name == "":
		return "", "must not be empty"
	case utf8.RuneCountInString(name) > maxGuestName || len(name) > maxGuestNameBytes:
		return "", "at most " + rule
	case strings.IndexFunc(name, badNameRune) >= 0:
		return "", rule + ": no control or text direction characters"
	}
	return name, ""
}

// badNameRune refuses, in a name shown to others, control characters, line and paragraph
// separators, the text direction overrides that make a name read as another, and the
// replacement character of invalid UTF-8.
func badNameRune(r rune) bool {
	switch {
	case unicode.IsControl(r), r == utf8.RuneError, r == '\u2028', r == '\u2029':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// tokenName makes an organizer's name fit in a join token: what badNameRune refuses
// becomes a space, and it is cut to 128 bytes at a character boundary.
func tokenName(name string) string {
	name = strings.Join(strings.FieldsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || badNameRune(r) }), " ")
	for len(name) > maxGuestNameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return strings.TrimSpace(name)
}

// sameOrigin tells whether a browser's Origin header names this server: the scheme, host
// and port of the base URL. No header (a client that is not a browser) is accepted.
func (s *Server) sameOrigin(origin string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Path != "" || u.RawQuery != "" {
		return false
	}
	base, _ := url.Parse(s.p.BaseURL) // checked by New
	return strings.EqualFold(u.Scheme, base.Scheme) && strings.EqualFold(hostPort(u), hostPort(base))
}

// hostPort is the host of u and its port, the scheme's default one when absent.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return u.Hostname() + ":" + port
}

// headerHasToken tells whether one of the comma-separated values of header h is token,
// compared without case.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// errText is an error's text for the log, empty for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// SessionEnded writes the audit entry of a room's session that has ended: how many chat
// messages, polls and votes it had. Their content was never kept; this is all that
// remains of them. It is the SFU's Params.OnRoomClosed.
func (s *Server) SessionEnded(st sfu.RoomStats) {
	ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
	defer cancel()
	w, err := s.p.Store.WebinarByRoom(ctx, sfu.MainRoom(st.Room))
	if err != nil {
		s.log.Warn("session end not audited: webinar of the room not found", "err", err)
		return
	}
	detail := map[string]int{"chat_messages": st.Messages, "polls": st.Polls, "votes": st.Votes}
	if sfu.IsBreakoutRoom(st.Room) {
		detail["breakout_room"] = 1 // one of the session's breakout rooms, counted apart
	}
	if st.Captions > 0 {
		detail["captions"] = st.Captions
	}
	if err := s.p.Store.RecordAudit(ctx, s.auditEvent("", "session.end", "webinar", w.ID, detail)); err != nil {
		s.log.Error("session end not audited", "webinar", w.ID, "err", err)
	}
}
