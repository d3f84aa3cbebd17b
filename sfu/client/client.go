// Package client is a participant of the signalling protocol (docs/protocol.md) with a
// Pion PeerConnection: it joins, negotiates as the polite peer, publishes synthetic VP8
// and Opus (or tracks of its caller, AddTrack), and measures what it receives. The load
// generator and the tests, package sfu's among them, use it.
//
// The polite peer of perfect negotiation rolls back its own offer when the server's
// crosses it; Pion cannot roll back, so the client reports ErrGlare instead. A client
// whose only offer is its first one (Publish or Receive right after Join) never meets
// glare: the server offers only once it has answered that one.
//
// It imports Pion, the standard library and the protocol (package signal) only, not
// package sfu: it reads and writes the messages signal declares.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"webinaire/sfu/signal"
)

// Transport carries one JSON message per ReadMessage and WriteMessage: the client's end of
// a signalling connection (a WebSocket, or an in-memory pipe). ReadMessage is called from
// one goroutine, WriteMessage from several, one at a time; Close may come at any time
// and must make a pending ReadMessage return.
type Transport interface {
	// ReadMessage returns the next message.
	ReadMessage(ctx context.Context) ([]byte, error)
	// WriteMessage sends one message.
	WriteMessage(ctx context.Context, msg []byte) error
	// Close ends the connection with a WebSocket close code and a reason.
	Close(code int, reason string) error
}

// Errors.
var (
	// ErrClosed is returned by calls on a client whose connection has ended.
	ErrClosed = errors.New("signalling connection closed")
	// ErrGlare is reported (Params.OnError) when an offer of the server crosses one of the
	// client's. Perfect negotiation has the client roll its offer back, which Pion
	// (v4.2) cannot do: the session cannot renegotiate any more and must be joined again.
	ErrGlare = errors.New("the server's offer crossed the client's, which cannot roll back")
)

// ProtocolError is an error message of the server.
type ProtocolError struct {
	// Code is the stable code, such as token_invalid.
	Code string
	// Message is meant for people.
	Message string
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("server error %s: %s", e.Code, e.Message) }

// Interceptors chooses the RTP and RTCP interceptors of the clients of an API: the work
// done for every packet received and sent, beside SRTP.
type Interceptors int

const (
	// InterceptorsBrowser are Pion's defaults, as a browser has: NACK generation and
	// retransmission, RTCP sender and receiver reports, transport-wide congestion control
	// feedback, and the statistics interceptor.
	InterceptorsBrowser Interceptors = iota
	// InterceptorsReports are the RTCP sender and receiver reports only: the server's
	// loss-based bandwidth estimate reads the receiver reports, which are counted from
	// the raw RTP headers without allocating (reports.go). The offer and answer are the
	// same as InterceptorsBrowser's (the same codecs, feedback and header extensions),
	// but the client sends no NACK and no transport-wide feedback, and keeps no
	// statistics beside its own counters: a lost packet stays lost.
	InterceptorsReports
	// InterceptorsReportsNACK are InterceptorsReports with NACK generation and
	// retransmission: lost packets are asked for again, as a browser does.
	InterceptorsReportsNACK
)

// ParseInterceptors reads the name of a set of interceptors: browser, reports or
// reports+nack.
func ParseInterceptors(name string) (Interceptors, error) {
	for i, n := range interceptorNames {
		if n == name {
			return Interceptors(i), nil
		}
	}
	return 0, fmt.Errorf("unknown interceptors %q: want browser, reports or reports+nack", name)
}

var interceptorNames = [...]string{InterceptorsBrowser: "browser", InterceptorsReports: "reports", InterceptorsReportsNACK: "reports+nack"}

// String is the name ParseInterceptors reads.
func (i Interceptors) String() string {
	if i < 0 || int(i) >= len(interceptorNames) {
		return fmt.Sprintf("Interceptors(%d)", int(i))
	}
	return interceptorNames[i]
}

// APIParams configure the Pion API of clients.
type APIParams struct {
	// LoopbackOnly gathers loopback candidates only, without mDNS: a client on the
	// server's machine.
	LoopbackOnly bool
	// Networks are the network types candidates are gathered on; none means Pion's
	// default, or UDP4 alone with LoopbackOnly.
	Networks []webrtc.NetworkType
	// KeepDuplicates turns SRTP replay protection off: a packet received twice reaches the
	// track twice, so that a retransmission on the packet's own SSRC of one already
	// received (a NACK answered without RTX) can be seen.
	KeepDuplicates bool
	// PionLog receives Pion's own error logs (PION_LOG_* variables set other levels);
	// nil discards them.
	PionLog io.Writer
	// Interceptors are the RTP and RTCP interceptors; the zero value is
	// InterceptorsBrowser.
	Interceptors Interceptors
}

// NewAPI builds a Pion API with the default codecs, the audio level header extension,
// and the interceptors p asks for (by default NACK, RTCP reports, TWCC and statistics),
// as a browser has.
func NewAPI(p APIParams) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("register codecs: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := registerInterceptors(m, ir, p.Interceptors); err != nil {
		return nil, fmt.Errorf("register interceptors: %w", err)
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register audio level: %w", err)
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.Writer = io.Discard
	if p.PionLog != nil {
		lf.Writer = p.PionLog
	}
	se := webrtc.SettingEngine{LoggerFactory: lf}
	networks := p.Networks
	if p.LoopbackOnly {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		if len(networks) == 0 {
			networks = []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
		}
	}
	if len(networks) > 0 {
		se.SetNetworkTypes(networks)
	}
	se.DisableSRTPReplayProtection(p.KeepDuplicates)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// registerInterceptors adds the interceptors of set to ir, and their feedback and header
// extensions to m. Every set offers the same SDP.
func registerInterceptors(m *webrtc.MediaEngine, ir *interceptor.Registry, set Interceptors) error {
	switch set {
	case InterceptorsBrowser:
		return webrtc.RegisterDefaultInterceptors(m, ir)
	case InterceptorsReports, InterceptorsReportsNACK:
	default:
		return fmt.Errorf("unknown interceptors %d", int(set))
	}
	if set == InterceptorsReportsNACK {
		if err := webrtc.ConfigureNack(m, ir); err != nil {
			return err
		}
	} else {
		// NACK and PLI are offered with every video codec, as ConfigureNack does, without
		// the interceptors.
		m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
		m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack", Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
	}
	// Receiver reports from the raw headers (reports.go), sender reports by Pion's.
	ir.Add(reportsFactory{})
	sender, err := report.NewSenderInterceptor()
	if err != nil {
		return err
	}
	ir.Add(sender)
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return err
	}
	// Transport-wide congestion control is offered, as by the defaults, without the
	// interceptor that sends its feedback.
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, kind)
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, kind); err != nil {
			return err
		}
	}
	return nil
}

// Params are what New needs.
type Params struct {
	// Conn is the signalling connection, already open.
	Conn Transport
	// API makes the PeerConnection; nil means NewAPI(APIParams{}).
	API *webrtc.API
	// ICEServers are those of the join answer of the API (TURN).
	ICEServers []webrtc.ICEServer
	// RelayOnly uses relay candidates only (ICE transport policy relay): a client that
	// reaches nothing but the TURN servers of ICEServers.
	RelayOnly bool
	// Logger gets the client's warnings; nil discards them.
	Logger *slog.Logger
	// OnMessage, when set, sees every message of the server in order, from the reading
	// goroutine, after the client has handled it. It must not block for long.
	OnMessage func(signal.ServerMessage)
	// OnError, when set, is told of every negotiation step that failed while the session
	// was going on (not once it is ending).
	OnError func(error)
	// OnRTP, when set, sees every RTP packet received, once counted, from the goroutine
	// that reads its track; packet is valid during the call only. It must not block.
	OnRTP func(track *webrtc.TrackRemote, packet []byte)
}

// Client is one participant. New makes it, Start starts reading the connection, Join joins,
// Publish and Receive negotiate media, Leave and Close end it.
type Client struct {
	conn      Transport
	pc        *webrtc.PeerConnection
	log       *slog.Logger
	onMessage func(signal.ServerMessage)
	onError   func(error)
	onRTP     func(*webrtc.TrackRemote, []byte)
	createdAt int64

	stop    chan struct{} // closed by Close: the media generator stops
	done    chan struct{} // closed when the reading goroutine has ended
	readErr error         // why it ended; read after done
	wg      sync.WaitGroup
	closing atomic.Bool // Leave or Close was called: errors are expected
	closed  sync.Once

	joined chan signal.ServerMessage // the joined message, or the error answering the join

	negMu      sync.Mutex // one negotiation step at a time; guards the fields below
	needOffer  bool       // an offer of the client is due once stable
	restartICE bool       // the next offer restarts ICE
	labels     map[string]signal.Label

	mu          sync.Mutex
	remoteSet   bool // a remote description has been set
	cands       []webrtc.ICECandidateInit
	tracks      []*remoteTrack
	publishers  []*publisher
	connectedAt int64
	connected   chan struct{}
	failed      chan struct{}
}

// New makes a client on p.Conn. Its PeerConnection is made now; nothing is sent before
// Start and Join.
func New(p Params) (*Client, error) {
	api := p.API
	if api == nil {
		var err error
		if api, err = NewAPI(APIParams{}); err != nil {
			return nil, err
		}
	}
	config := webrtc.Configuration{ICEServers: p.ICEServers}
	if p.RelayOnly {
		config.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := api.NewPeerConnection(config)
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Client{
		conn:      p.Conn,
		pc:        pc,
		log:       log,
		onMessage: p.OnMessage,
		onError:   p.OnError,
		onRTP:     p.OnRTP,
		createdAt: Monotonic(),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		joined:    make(chan signal.ServerMessage, 1),
		labels:    make(map[string]signal.Label),
		connected: make(chan struct{}),
		failed:    make(chan struct{}),
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand != nil {
			_ = c.send(context.Background(), signal.CandidateMessage{Type: signal.TypeCandidate, Candidate: signal.Candidate(cand.ToJSON())})
		}
	})
	pc.OnConnectionStateChange(c.onConnectionState)
	pc.OnTrack(c.onTrack)
	return c, nil
}

// Start starts reading the connection. The reading goroutine ends when the connection
// does; ctx bounds each read.
func (c *Client) Start(ctx context.Context) {
	c.wg.Add(1)
	go func() { // owned by the client; ends when the connection ends (Close, or the server)
		defer c.wg.Done()
		defer close(c.done)
		c.readErr = c.readLoop(ctx)
	}()
}

// Done is closed when the connection has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is the error that ended the connection, once Done is closed: the transport's error
// at its close, which may carry the close code.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.readErr
	default:
		return nil
	}
}

// PeerConnection is the client's PeerConnection.
func (c *Client) PeerConnection() *webrtc.PeerConnection { return c.pc }

// Send sends one message, v marshalled as JSON.
func (c *Client) Send(ctx context.Context, v any) error {
	return c.send(ctx, v)
}

func (c *Client) send(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("marshal message: %w", err)
	}
	return c.conn.WriteMessage(ctx, b)
}

// Join sends join with token and waits for the server's joined message. An error message
// of the server comes back as a *ProtocolError.
func (c *Client) Join(ctx context.Context, token string) (signal.ServerMessage, error) {
	if err := c.send(ctx, signal.ClientMessage{Type: signal.TypeJoin, Token: token}); err != nil {
		return signal.ServerMessage{}, fmt.Errorf("send join: %w", err)
	}
	select {
	case m := <-c.joined:
		if m.Type == signal.TypeError {
			return m, &ProtocolError{Code: m.Code, Message: m.Message}
		}
		return m, nil
	case <-c.done:
		return signal.ServerMessage{}, fmt.Errorf("join: %w: %w", ErrClosed, c.readErr)
	case <-ctx.Done():
		return signal.ServerMessage{}, ctx.Err()
	}
}

func (c *Client) readLoop(ctx context.Context) error {
	joined := false
	for {
		data, err := c.conn.ReadMessage(ctx)
		if err != nil {
			return err
		}
		var m signal.ServerMessage
		if err := json.Unmarshal(data, &m); err != nil {
			c.fail(fmt.Errorf("server message not JSON: %w", err))
			continue
		}
		switch m.Type {
		case signal.TypeJoined, signal.TypeError:
			if !joined {
				joined = true
				c.joined <- m
			}
		case signal.TypeOffer:
			c.answer(ctx, m.SDP)
		case signal.TypeAnswer:
			c.applyAnswer(ctx, m.SDP)
		case signal.TypeCandidate:
			if m.Candidate != nil {
				c.addCandidate(webrtc.ICECandidateInit(*m.Candidate))
			}
		}
		if c.onMessage != nil {
			c.onMessage(m)
		}
	}
}

// fail reports a failed step, unless the session is ending: the client closing, or its
// PeerConnection closed (which Pion says in the step's error before its state shows it;
// a server closes it first when it ends a session).
func (c *Client) fail(err error) {
	if c.closing.Load() || c.pc.ConnectionState() == webrtc.PeerConnectionStateClosed || errors.Is(err, webrtc.ErrConnectionClosed) {
		return
	}
	c.log.Warn("negotiation step failed", "err", err)
	if c.onError != nil {
		c.onError(err)
	}
}

// negotiate makes an offer when the signalling state is stable, and otherwise remembers
// that one is due. It is called with negMu held.
func (c *Client) negotiate(ctx context.Context) {
	if c.pc.SignalingState() != webrtc.SignalingStateStable {
		c.needOffer = true
		return
	}
	c.needOffer = false
	var opts *webrtc.OfferOptions
	if c.restartICE {
		opts = &webrtc.OfferOptions{ICERestart: true}
		c.restartICE = false
	}
	offer, err := c.pc.CreateOffer(opts)
	if err == nil {
		err = c.pc.SetLocalDescription(offer)
	}
	if err != nil {
		c.fail(fmt.Errorf("offer: %w", err))
		return
	}
	labels := c.labels
	if len(labels) == 0 {
		labels = nil
	}
	if err := c.send(ctx, signal.ClientMessage{Type: signal.TypeOffer, SDP: offer.SDP, Labels: labels}); err != nil {
		c.fail(fmt.Errorf("send offer: %w", err))
	}
}

// answer applies an offer of the server and answers it.
func (c *Client) answer(ctx context.Context, sdp string) {
	c.negMu.Lock()
	defer c.negMu.Unlock()
	if c.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
		// Glare: the polite peer would roll its offer back here, but Pion cannot.
		c.fail(ErrGlare)
		return
	}
	// Inactive sections would stop Pion's transceivers for good (signal.KeepReceivers).
	offer := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: signal.KeepReceivers(sdp)}
	if err := c.pc.SetRemoteDescription(offer); err != nil {
		c.fail(fmt.Errorf("set offer: %w", err))
		return
	}
	c.flushCandidates()
	a, err := c.pc.CreateAnswer(nil)
	if err == nil {
		err = c.pc.SetLocalDescription(a)
	}
	if err != nil {
		c.fail(fmt.Errorf("answer: %w", err))
		return
	}
	if err := c.send(ctx, signal.ClientMessage{Type: signal.TypeAnswer, SDP: a.SDP}); err != nil {
		c.fail(fmt.Errorf("send answer: %w", err))
		return
	}
	if c.needOffer {
		c.negotiate(ctx)
	}
}

// applyAnswer applies the server's answer to the client's offer.
func (c *Client) applyAnswer(ctx context.Context, sdp string) {
	c.negMu.Lock()
	defer c.negMu.Unlock()
	if c.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		return // an answer to an offer rolled back
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		c.fail(fmt.Errorf("set answer: %w", err))
		return
	}
	c.flushCandidates()
	if c.needOffer {
		c.negotiate(ctx)
	}
}

// flushCandidates adds the candidates held until a remote description was set.
func (c *Client) flushCandidates() {
	c.mu.Lock()
	c.remoteSet = true
	cands := c.cands
	c.cands = nil
	c.mu.Unlock()
	for _, cand := range cands {
		if err := c.pc.AddICECandidate(cand); err != nil {
			c.fail(fmt.Errorf("add candidate: %w", err))
		}
	}
}

// addCandidate adds a candidate of the server, or holds it until a remote description is
// set. An empty candidate (the end of candidates) is ignored.
func (c *Client) addCandidate(cand webrtc.ICECandidateInit) {
	if cand.Candidate == "" {
		return
	}
	c.mu.Lock()
	if !c.remoteSet {
		c.cands = append(c.cands, cand)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if err := c.pc.AddICECandidate(cand); err != nil {
		c.fail(fmt.Errorf("add candidate: %w", err))
	}
}

// Negotiate offers the client's transceivers and tracks (AddTrack) now, or once the
// negotiation going on is over: what a browser does on negotiationneeded.
func (c *Client) Negotiate(ctx context.Context) {
	c.negMu.Lock()
	defer c.negMu.Unlock()
	c.negotiate(ctx)
}

// RestartICE offers with new ICE credentials, now or once the negotiation going on is
// over, as RTCPeerConnection.restartIce does.
func (c *Client) RestartICE(ctx context.Context) {
	c.negMu.Lock()
	defer c.negMu.Unlock()
	c.restartICE = true
	c.negotiate(ctx)
}

// AddTrack adds a track the caller writes, announced with label at the next offer
// (Negotiate). The caller reads the sender's RTCP if it wants it.
//
// The track goes on a sendonly m-line of its own, as the browser app sends its tracks.
// PeerConnection.AddTrack could take an idle m-line the server opened, and the server,
// a Pion peer as well, no longer receives on one that an offer of the client marked
// inactive (signal.KeepReceivers tells why).
func (c *Client) AddTrack(track webrtc.TrackLocal, label signal.Label) (*webrtc.RTPSender, error) {
	t, err := c.pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, fmt.Errorf("add track %s: %w", track.ID(), err)
	}
	sender := t.Sender()
	c.negMu.Lock()
	c.labels[track.ID()] = label
	c.negMu.Unlock()
	return sender, nil
}

// Receive offers to receive audio and video only: the first offer of a participant that
// does not publish (an attendee of a webinar).
func (c *Client) Receive(ctx context.Context) error {
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := c.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return fmt.Errorf("add %s transceiver: %w", kind, err)
		}
	}
	c.Negotiate(ctx)
	return nil
}

func (c *Client) onConnectionState(s webrtc.PeerConnectionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch s {
	case webrtc.PeerConnectionStateConnected:
		if c.connectedAt == 0 {
			c.connectedAt = Monotonic()
			close(c.connected)
		}
	case webrtc.PeerConnectionStateFailed:
		select {
		case <-c.failed:
		default:
			close(c.failed)
		}
	}
}

// Connected is closed once the PeerConnection is connected (ICE and DTLS).
func (c *Client) Connected() <-chan struct{} { return c.connected }

// Failed is closed if the PeerConnection fails.
func (c *Client) Failed() <-chan struct{} { return c.failed }

// CreatedAt is when the client was made, Monotonic nanoseconds.
func (c *Client) CreatedAt() int64 { return c.createdAt }

// ConnectedAt is when the PeerConnection connected first, Monotonic nanoseconds (0: not yet).
func (c *Client) ConnectedAt() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connectedAt
}

func (c *Client) onTrack(t *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	r := newRemoteTrack(t, receiver)
	c.mu.Lock()
	c.tracks = append(c.tracks, r)
	c.mu.Unlock()
	c.wg.Add(2)
	go func() { // owned by the client; ends when the track ends (its removal, or Close)
		defer c.wg.Done()
		r.run(c.onRTP)
	}()
	go func() { // owned by the client; ends when the receiver stops (the track's removal, or Close)
		defer c.wg.Done()
		r.readRTCP(receiver)
	}()
}

// Received returns the counters of every track received so far.
func (c *Client) Received() []TrackStats {
	c.mu.Lock()
	tracks := append([]*remoteTrack(nil), c.tracks...)
	c.mu.Unlock()
	out := make([]TrackStats, len(tracks))
	for i, t := range tracks {
		out[i] = t.snapshot()
	}
	return out
}

// Leave sends leave and waits until the server has closed the connection, or ctx ends.
func (c *Client) Leave(ctx context.Context) error {
	c.closing.Store(true)
	if err := c.send(ctx, signal.ClientMessage{Type: signal.TypeLeave}); err != nil {
		return fmt.Errorf("send leave: %w", err)
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the media, closes the PeerConnection and the connection (1000), and waits
// for the client's goroutines. It may be called more than once.
func (c *Client) Close() error {
	var err error
	c.closed.Do(func() {
		c.closing.Store(true)
		close(c.stop)
		err = c.pc.Close()
		_ = c.conn.Close(signal.CloseNormal, "")
		c.wg.Wait()
	})
	return err
}
