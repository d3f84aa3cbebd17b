package sfu

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"

	"webinaire/sfu/signal"
)

// Defaults of Params.
const (
	// DefaultEmptyRoomGrace is how long an empty room stays open for someone to come back.
	DefaultEmptyRoomGrace = 30 * time.Second
	// DefaultJoinTimeout is how long a new connection has to send its join message.
	DefaultJoinTimeout = 10 * time.Second
	// DefaultMaxMeetingParticipants is the cap on the participants of a meeting.
	DefaultMaxMeetingParticipants = 100
	// DefaultMaxWebinarParticipants is the cap on the participants of a webinar.
	DefaultMaxWebinarParticipants = 1000
	// DefaultMaxLobby is the cap on the participants waiting in a room's lobby.
	DefaultMaxLobby = 200
)

// flushTimeout bounds the time spent writing the last messages of a session.
const flushTimeout = 2 * time.Second

// sendQueueLen is the number of messages waiting for a slow connection before the
// server gives up on it.
const sendQueueLen = 512

// Params configure a Server.
type Params struct {
	// Logger receives the server's logs; nil discards them. Pion's own logs go to it at
	// debug level.
	Logger *slog.Logger
	// Tokens checks join tokens and keeps the revocations. Required.
	Tokens *TokenSigner
	// Gate checks every entry against the shared state (invitation, webinar, removals);
	// nil admits whatever a valid token says, with this process's revocations only.
	Gate Gate
	// SessionLifetime is how long the session credential given at an entry lets its
	// participant come back; 0 means DefaultSessionLifetime. A removal lasts as long.
	SessionLifetime time.Duration
	// WebRTC configures the media transport.
	WebRTC WebRTCConfig
	// EmptyRoomGrace is how long a room stays open once its last participant has left;
	// 0 means DefaultEmptyRoomGrace.
	EmptyRoomGrace time.Duration
	// JoinTimeout is how long a new connection has to send its join message; 0 means
	// DefaultJoinTimeout.
	JoinTimeout time.Duration
	// MaxMeetingParticipants and MaxWebinarParticipants cap the participants of a room
	// of each kind; moderators come in beyond the cap. 0 means the default.
	MaxMeetingParticipants, MaxWebinarParticipants int
	// MaxLobby caps the participants waiting in a room's lobby; 0 means DefaultMaxLobby.
	MaxLobby int
	// Clock tells the time; nil is the system clock.
	Clock Clock
	// OnRoomClosed, when set, receives the counts of a room's chat messages, polls and
	// votes once it has closed and dropped them (for the audit). It is called outside
	// the room's locks, on the goroutine that closed the room, and may take a moment
	// (a database write).
	OnRoomClosed func(RoomStats)
	// Panics counts the panics recovered in the goroutines of participants, tracks and
	// rooms; nil makes a counter of the server's own (see Server.Panics).
	Panics *Panics
	// SpreadAbove is the number of subscribers of one layer of a track above which its
	// packets are written by several writer goroutines instead of its reader alone; 0
	// means DefaultSpreadAbove.
	SpreadAbove int
	// MaxWritersPerTrack bounds the writers of one layer; 0 means twice GOMAXPROCS.
	MaxWritersPerTrack int
	// Origins links the edge rooms of this node to their origins (edge.go); nil
	// refuses the tokens that name an origin.
	Origins OriginDialer
}

// Server is the SFU: it holds the rooms and runs one session per connection. A room
// opens when its first participant joins and closes once it has been empty for the
// grace period.
type Server struct {
	log    *slog.Logger
	tokens *TokenSigner
	gate   Gate
	// sessionLifetime is Params.SessionLifetime.
	sessionLifetime time.Duration
	cfg             WebRTCConfig
	grace           time.Duration
	joinTimeout     time.Duration
	clock           Clock
	// candidates is where clients' candidates may point, see candidateFilter.
	candidates addrPolicy
	// maxParticipants is the cap on participants by room kind; maxLobby on the lobby.
	maxParticipants map[RoomKind]int
	maxLobby        int
	// onRoomClosed is Params.OnRoomClosed.
	onRoomClosed func(RoomStats)
	panics       *Panics
	// spread says when fan-outs are spread over writers; forwarding counts drops and
	// retransmissions.
	spread     spreadConfig
	forwarding forwardStats
	// batcher batches the writes of every fan-out on the media sockets.
	batcher *sendBatcher
	// arrivals notes when the published packets come off the media sockets.
	arrivals *arrivalTable
	// origins is Params.Origins.
	origins OriginDialer
	// slidesBytes is the size of the presented PDFs all rooms hold now, at most
	// MaxSlidesMemory.
	slidesBytes atomic.Int64
	// trackSeq numbers the tracks published here: a participant who comes back never
	// publishes under the id of a track of his that an edge, or a subscriber, still
	// holds.
	trackSeq atomic.Uint64

	// closing ends when Close is called: it cuts the sessions still waiting for
	// their join message.
	closing     context.Context
	stopClosing context.CancelFunc

	mu       sync.Mutex
	started  bool
	closed   bool
	mux      ice.UDPMux
	api      *webrtc.API
	media    *mediaAPI
	rooms    map[string]*Room
	sessions sync.WaitGroup
}

// New returns a server configured by p; Start opens its media port.
func New(p Params) (*Server, error) {
	if p.Tokens == nil {
		return nil, errors.New("sfu: Params.Tokens is required")
	}
	if p.EmptyRoomGrace < 0 || p.JoinTimeout < 0 || p.SessionLifetime < 0 || p.SessionLifetime > MaxTokenLifetime {
		return nil, errors.New("sfu: negative duration in Params")
	}
	if p.SpreadAbove < 0 || p.MaxWritersPerTrack < 0 {
		return nil, errors.New("sfu: negative SpreadAbove or MaxWritersPerTrack in Params")
	}
	if p.MaxMeetingParticipants < 0 || p.MaxWebinarParticipants < 0 || p.MaxLobby < 0 {
		return nil, errors.New("sfu: negative cap in Params")
	}
	if p.WebRTC.UDPPort < 0 || p.WebRTC.UDPPort > 65535 {
		return nil, fmt.Errorf("sfu: UDP port %d out of range", p.WebRTC.UDPPort)
	}
	own, err := hostAddrs()
	if err != nil {
		return nil, err
	}
	for _, ip := range p.WebRTC.NAT1To1IPs {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, fmt.Errorf("sfu: NAT 1:1 address %q is not an IP address", ip)
		}
		own[a.Unmap().WithZone("")] = true
	}
	s := &Server{
		log:             p.Logger,
		tokens:          p.Tokens,
		gate:            p.Gate,
		sessionLifetime: p.SessionLifetime,
		cfg:             p.WebRTC,
		grace:           p.EmptyRoomGrace,
		joinTimeout:     p.JoinTimeout,
		clock:           p.Clock,
		rooms:           make(map[string]*Room),
		onRoomClosed:    p.OnRoomClosed,
		panics:          p.Panics,
		spread:          spreadConfig{above: p.SpreadAbove, maxWriters: p.MaxWritersPerTrack},
		candidates: addrPolicy{
			local:   p.WebRTC.IncludeLoopback,
			private: p.WebRTC.AllowPrivateCandidates,
			own:     own,
			exempt:  p.WebRTC.Relays,
		},
		maxParticipants: map[RoomKind]int{
			KindMeeting: cmp.Or(p.MaxMeetingParticipants, DefaultMaxMeetingParticipants),
			KindWebinar: cmp.Or(p.MaxWebinarParticipants, DefaultMaxWebinarParticipants),
		},
		maxLobby: cmp.Or(p.MaxLobby, DefaultMaxLobby),
		batcher:  newSendBatcher(),
		origins:  p.Origins,
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.grace == 0 {
		s.grace = DefaultEmptyRoomGrace
	}
	if s.joinTimeout == 0 {
		s.joinTimeout = DefaultJoinTimeout
	}
	if s.sessionLifetime == 0 {
		s.sessionLifetime = DefaultSessionLifetime
	}
	if s.clock == nil {
		s.clock = systemClock{}
	}
	s.arrivals = newArrivalTable(s.clock)
	if s.panics == nil {
		s.panics = &Panics{}
	}
	s.closing, s.stopClosing = context.WithCancel(context.Background())
	return s, nil
}

// Start opens the UDP port for media. ServeConn refuses connections before it.
func (s *Server) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	if s.started {
		return errors.New("sfu: server already started")
	}
	n, err := stdnet.NewNet()
	if err != nil {
		return fmt.Errorf("open media port %d: %w", s.cfg.UDPPort, err)
	}
	opts := []ice.UDPMuxFromPortOption{
		ice.UDPMuxFromPortWithNet(batchNet{Net: n, batcher: s.batcher, arrivals: s.arrivals}),
		ice.UDPMuxFromPortWithLogger(pionLoggerFactory{log: s.log}.NewLogger("udpmux")),
		ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4, ice.NetworkTypeUDP6),
	}
	if s.cfg.IncludeLoopback {
		opts = append(opts, ice.UDPMuxFromPortWithLoopback())
	}
	mux, err := ice.NewMultiUDPMuxFromPort(s.cfg.UDPPort, opts...)
	if err != nil {
		return fmt.Errorf("open media port %d: %w", s.cfg.UDPPort, err)
	}
	media, err := newMediaAPI(s.cfg, mux, s.log)
	if err != nil {
		_ = mux.Close()
		return err
	}
	s.mux, s.media, s.api, s.started = mux, media, media.api, true
	s.log.Info("sfu started", "udp_port", s.cfg.UDPPort, "addresses", len(mux.GetListenAddresses()))
	return nil
}

// UDPAddrs are the local addresses media is received on.
func (s *Server) UDPAddrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mux == nil {
		return nil
	}
	return s.mux.GetListenAddresses()
}

// Close closes every room, waits for the sessions to end and closes the media port.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()

	for _, r := range rooms {
		r.close(endCause{err: ErrServerClosed, code: signal.CloseGoingAway, reason: "server shutting down", errCode: signal.CodeServerClosing})
	}
	s.stopClosing()
	s.sessions.Wait()
	if s.mux != nil {
		return s.mux.Close()
	}
	return nil
}

// SendStats counts the datagrams the media sockets sent in batches, and those the
// kernel refused.
func (s *Server) SendStats() SendStats { return s.batcher.stats() }

// Panics counts the panics the server recovered, by part.
func (s *Server) Panics() *Panics { return s.panics }

// ForwardStats are the counts of the forwarding since the server started: packets
// dropped under overload, packets sent again, the feedback of subscribers.
func (s *Server) ForwardStats() ForwardStats {
	return ForwardStats{
		Forwarded:        s.forwarding.forwarded.Load(),
		QueueFull:        s.forwarding.queueFull.Load(),
		Late:             s.forwarding.late.Load(),
		ReceivedLate:     s.forwarding.receivedLate.Load(),
		Retransmitted:    s.forwarding.retransmitted.Load(),
		KeyframeRequests: s.forwarding.keyframeRequests.Load(),
		NACKs:            s.forwarding.nacks.Load(),
		Loss:             s.forwarding.loss.stats(),
		Delay:            s.forwarding.delay.stats(),
	}
}

// Room returns the open room with that id.
func (s *Server) Room(id string) (*Room, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[id]
	return r, ok
}

// ServeConn runs one participant on conn until it leaves, is removed, the room or the
// server closes, or ctx ends; it closes conn before returning. The first message must be
// a join with a valid token. It returns nil when the participant left or the connection
// dropped, the token error (ErrTokenInvalid, ErrTokenExpired, ErrTokenRevoked) or the
// Gate's (ErrInvitationRevoked, ErrRoomGone...) when the join was refused, and otherwise why the session ended (ErrRemoved, ErrReplaced,
// ErrRoomClosed, ErrServerClosed, ErrRateLimited, ErrSlowConsumer, ctx's error...).
func (s *Server) ServeConn(ctx context.Context, conn Conn) error {
	return s.ServeConnWith(ctx, conn, SessionHooks{})
}

// SessionHooks let the caller of ServeConnWith follow a session: Joined is called once the
// join token is accepted, Left when the session ends after a join, with the token's claims
// and the reason (nil when the participant left). They run on the session's goroutine and
// must not block.
type SessionHooks struct {
	Joined func(Claims)
	Left   func(Claims, error)
}

// ServeConnWith is ServeConn with hooks.
func (s *Server) ServeConnWith(ctx context.Context, conn Conn, hooks SessionHooks) error {
	return s.session(ctx, conn, func(ctx context.Context, api *webrtc.API) error {
		claims, err := s.awaitJoin(ctx, conn)
		if err != nil {
			return err
		}
		if hooks.Joined != nil {
			hooks.Joined(claims)
		}
		p := newParticipant(s, conn, claims)
		p.sessionToken = s.sessionCredential(claims)
		err = p.serve(ctx, api)
		if hooks.Left != nil {
			hooks.Left(claims, err)
		}
		return err
	})
}

// session runs serve as one session on conn: counted in (enter) and out, a panic
// answered as an internal error, and ctx ended when the server closes.
func (s *Server) session(ctx context.Context, conn Conn, serve func(context.Context, *webrtc.API) error) (err error) {
	api, err := s.enter(conn)
	if err != nil {
		return err
	}
	defer s.sessions.Done()
	defer s.panics.Recover(PartParticipant, s.log, func() {
		_ = conn.Close(signal.CloseInternalError, "internal error")
		err = ErrInternal
	})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.closing, cancel)()
	return serve(ctx, api)
}

// enter counts a new session in, and returns the API its PeerConnection is made with;
// it refuses the session, closing conn, when the server is not serving. The session
// calls s.sessions.Done when it ends.
func (s *Server) enter(conn Conn) (*webrtc.API, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		_ = conn.Close(signal.CloseGoingAway, "server shutting down")
		return nil, ErrServerClosed
	case !s.started:
		_ = conn.Close(signal.CloseInternalError, "server not started")
		return nil, ErrNotStarted
	}
	s.sessions.Add(1)
	return s.api, nil
}

// awaitJoin reads the first message, which must be a join with a valid token. On
// failure it tells the client why and closes conn.
func (s *Server) awaitJoin(ctx context.Context, conn Conn) (Claims, error) {
	refuse := func(code, msg string, closeCode int, err error) (Claims, error) {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
		defer cancel()
		_ = conn.WriteMessage(wctx, encode(signal.ErrorMessage{Type: signal.TypeError, Code: code, Message: msg}))
		_ = conn.Close(closeCode, msg)
		return Claims{}, err
	}
	rctx, cancel := context.WithTimeout(ctx, s.joinTimeout)
	data, err := conn.ReadMessage(rctx)
	cancel()
	if err != nil {
		switch {
		case s.closing.Err() != nil:
			_ = conn.Close(signal.CloseGoingAway, "server shutting down")
			return Claims{}, ErrServerClosed
		case ctx.Err() != nil:
			_ = conn.Close(signal.CloseGoingAway, "server shutting down")
			return Claims{}, ctx.Err()
		case rctx.Err() != nil:
			return refuse(signal.CodeJoinTimeout, "no join message in time", signal.ClosePolicyViolation, ErrJoinTimeout)
		}
		_ = conn.Close(signal.CloseNormal, "")
		return Claims{}, nil
	}
	m, err := signal.DecodeClient(data)
	switch {
	case errors.Is(err, ErrMessageTooLarge):
		return refuse(signal.CodeTooLarge, "message too large", signal.ClosePolicyViolation, err)
	case err != nil || m.Type != signal.TypeJoin:
		return refuse(signal.CodeJoinRequired, "the first message must be a join with a token", signal.ClosePolicyViolation, fmt.Errorf("first message: %w", ErrMalformedMessage))
	}
	claims, err := s.tokens.Verify(m.Token, s.clock.Now())
	switch {
	case errors.Is(err, ErrTokenExpired):
		return refuse(signal.CodeTokenExpired, "the join token has expired", signal.CloseUnauthorized, err)
	case errors.Is(err, ErrTokenRevoked):
		return refuse(signal.CodeTokenRevoked, "this participant was removed from the room", signal.CloseUnauthorized, err)
	case err != nil:
		return refuse(signal.CodeTokenInvalid, "the join token is not valid", signal.CloseUnauthorized, err)
	}
	admitted, err := s.admit(ctx, claims)
	switch {
	case errors.Is(err, ErrTokenRevoked):
		return refuse(signal.CodeTokenRevoked, "this participant was removed from the room", signal.CloseUnauthorized, err)
	case errors.Is(err, ErrInvitationRevoked):
		return refuse(signal.CodeInvitationRevoked, "the invitation was revoked", signal.CloseUnauthorized, err)
	case errors.Is(err, ErrRoomGone):
		return refuse(signal.CodeRoomGone, "this room no longer exists", signal.CloseUnauthorized, err)
	case errors.Is(err, ErrRoomMoved):
		return refuse(signal.CodeRoomMoved, "this room runs on another node: ask where", signal.CloseRoomMoved, err)
	case errors.Is(err, ErrTokenInvalid):
		return refuse(signal.CodeTokenInvalid, "the join token is not valid", signal.CloseUnauthorized, err)
	case err != nil:
		s.log.Error("entry not checked", "room", claims.Room, "err", err)
		return refuse(signal.CodeUnavailable, "the server cannot check this entry now; try again", signal.CloseTryAgainLater, err)
	}
	return admitted, nil
}

// iceServersFor are the ICE servers of the joined message of c's holder.
func (s *Server) iceServersFor(c Claims) []ICEServer {
	ice := append([]ICEServer{}, s.cfg.ICEServers...)
	if s.cfg.ICEServersFor != nil {
		// As long as the session credential of this entry lets the participant come back.
		ice = append(ice, s.cfg.ICEServersFor(c.Participant, s.clock.Now().Add(s.revocationSpan()))...)
	}
	return ice
}

// join adds p to its room, or its lobby, opening the room if needed. It returns the
// room, the member p replaces if any, what p must subscribe to, and whether p waits in
// the lobby.
func (s *Server) join(p *member) (*Room, *member, []*upTrack, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, nil, false, ErrServerClosed
	}
	var main *Room
	var role Role
	if IsBreakoutRoom(p.claims.Room) {
		// Only while its main room has it open, and for those it admits.
		main = s.rooms[MainRoom(p.claims.Room)]
		if main == nil || main.parent != nil {
			return nil, nil, nil, false, fmt.Errorf("breakout room %s: %w", p.claims.Room, ErrRoomGone)
		}
		var err error
		if _, role, err = main.admitToBreakout(p, p.claims.Room); err != nil {
			return nil, nil, nil, false, err
		}
	}
	r, ok := s.rooms[p.claims.Room]
	switch {
	case !ok && p.claims.Origin != "" && s.origins == nil:
		return nil, nil, nil, false, ErrNoOrigin
	case !ok:
		kind := p.claims.Kind
		if main != nil {
			kind = KindMeeting // a group that talks, whatever its main room
		}
		r = newRoom(s, p.claims.Room, kind)
		r.parent = main
		r.origin, r.originEpoch = p.claims.Origin, p.claims.Epoch
		s.rooms[r.id] = r
		s.log.Info("room opened", "room", r.id, "kind", r.kind, "origin", r.origin)
		if r.origin != "" {
			// Owned by the room: ends when the room closes, or closes it when the link
			// ends; Close waits for it with the sessions.
			s.sessions.Add(1)
			go func() {
				defer s.sessions.Done()
				r.runEdge(s.origins)
			}()
		}
	case r.origin != p.claims.Origin:
		// The room is this node's own and the token sends its holder to an edge, or the
		// other way round: the placement changed since the token was made.
		return nil, nil, nil, false, ErrRoomMoved
	}
	if main != nil {
		r.mu.Lock()
		r.roles[p.id] = role
		r.mu.Unlock()
	}
	replaced, ups, waiting, err := r.add(p)
	if err != nil {
		return nil, nil, nil, false, err
	}
	if main == nil {
		main = r
	}
	main.mu.Lock()
	open := main.brk != nil
	main.mu.Unlock()
	if open && !waiting {
		main.sendBreakouts(p)
	}
	return r, replaced, ups, waiting, nil
}

// forget removes r from the open rooms, if it is still the room with its id.
// s.mu must be held.
func (s *Server) forgetLocked(r *Room) {
	if s.rooms[r.id] == r {
		delete(s.rooms, r.id)
	}
}
