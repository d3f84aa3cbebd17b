package sfu

import (
	"context"
	"encoding/json"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/codec"
	"webinaire/sfu/signal"
)

// waitFor is the bound of every wait on the network in these tests.
const waitFor = 20 * time.Second

// serverMsg is any message the server sends, as the tests read it.
type serverMsg struct {
	Type          string            `json:"type"`
	Code          string            `json:"code"`
	Message       string            `json:"message"`
	TrackID       string            `json:"track_id"`
	ParticipantID string            `json:"participant_id"`
	Name          string            `json:"name"`
	RoomID        string            `json:"room_id"`
	RoomKind      RoomKind          `json:"room_kind"`
	Role          Role              `json:"role"`
	Participants  []ParticipantInfo `json:"participants"`
	ICEServers    []ICEServer       `json:"ice_servers"`
	ActiveSpeaker string            `json:"active_speaker"`
	SessionToken  string            `json:"session_token"`
	// Collaboration.
	Chat         []chatEntry              `json:"chat"`
	Polls        []pollMessage            `json:"polls"`
	Hands        []string                 `json:"hands"`
	Locked       bool                     `json:"locked"`
	Spotlight    string                   `json:"spotlight"`
	ID           int                      `json:"id"`
	From         string                   `json:"from"`
	FromName     string                   `json:"from_name"`
	Text         string                   `json:"text"`
	To           string                   `json:"to"`
	Emoji        string                   `json:"emoji"`
	Queue        []string                 `json:"queue"`
	PollID       string                   `json:"poll_id"`
	Question     string                   `json:"question"`
	Options      []string                 `json:"options"`
	State        string                   `json:"state"`
	Published    bool                     `json:"published"`
	Results      []int                    `json:"results"`
	Voters       map[string][]string      `json:"voters"`
	MyVote       []int                    `json:"my_vote"`
	Voted        int                      `json:"voted"`
	ByModerator  bool                     `json:"by_moderator"`
	By           string                   `json:"by"`
	Waiting      []LobbyEntry             `json:"waiting"`
	Active       bool                     `json:"active"`
	Recording    bool                     `json:"recording"`
	Broadcasting bool                     `json:"broadcasting"`
	Error        string                   `json:"error"`
	Reason       string                   `json:"reason"`
	Participant  ParticipantInfo          `json:"participant"`
	Joined       []ParticipantInfo        `json:"joined"`
	Left         []string                 `json:"left"`
	Changes      []muteMessage            `json:"changes"`
	Added        []trackAdded             `json:"added"`
	Removed      []trackRemoved           `json:"removed"`
	Label        Label                    `json:"label"`
	Muted        bool                     `json:"muted"`
	SDP          string                   `json:"sdp"`
	Candidate    *webrtc.ICECandidateInit `json:"candidate"`
	// Breakout rooms.
	Open      bool                `json:"open"`
	MainRoom  string              `json:"main_room_id"`
	Rooms     []breakoutRoomState `json:"rooms"`
	Choose    bool                `json:"choose"`
	EndsAt    *time.Time          `json:"ends_at"`
	Assigned  string              `json:"assigned"`
	RoomName  string              `json:"room_name"`
	Main      bool                `json:"main"`
	Token     string              `json:"token"`
	Lang      string              `json:"lang"`
	Automatic bool                `json:"automatic"`
	Captions  []captionMessage    `json:"captions"`
	SlidesID  string              `json:"slides_id"`
	Page      int                 `json:"page"`
	Pages     int                 `json:"pages"`
	Slides    slidesMessage       `json:"slides"`
}

// recvTrack counts what a test client receives on one track.
type recvTrack struct {
	id, streamID string
	kind         webrtc.RTPCodecType
	ssrc         uint32
	mid          string
	packets      atomic.Int64
	keyframes    atomic.Int64
	firstIsKey   atomic.Bool
	// senderReports counts the server's sender reports about the track; lastReport is
	// the last one.
	senderReports atomic.Int64
	lastReport    atomic.Pointer[rtcp.SenderReport]
}

// testClient is a Pion client that joins through ServeConn over an in-memory
// connection, answers the server's offers (the polite peer), publishes synthetic VP8 and
// Opus, and counts what it receives.
type testClient struct {
	t        testing.TB
	conn     *memConn
	pc       *webrtc.PeerConnection
	serveErr chan error
	cancel   context.CancelFunc
	stop     chan struct{}
	wg       sync.WaitGroup

	negMu sync.Mutex // one negotiation step at a time

	mu      sync.Mutex
	msgs    []serverMsg
	changed chan struct{} // closed and replaced at every new message or track
	tracks  map[string]*recvTrack
	// observe, when set, sees every video packet of the tracks received after.
	observe func(*recvTrack, *rtp.Packet)
	remote  bool // remote description set
	cands   []webrtc.ICECandidateInit

	// holdOffers keeps the server's offers unanswered in heldOffers, to make glare.
	holdOffers bool
	heldOffers []string

	closing     atomic.Bool // errors after close are expected
	plis        atomic.Int64
	wantKey     atomic.Bool
	videoTracks []*webrtc.TrackLocalStaticSample
	audioTracks []*webrtc.TrackLocalStaticSample
}

// clientAPI builds the client's Pion API: default codecs and interceptors, loopback only,
// on networks (UDP over IPv4 when none is given).
func clientAPI(t testing.TB, networks ...webrtc.NetworkType) *webrtc.API {
	if len(networks) == 0 {
		networks = []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	}
	m := &webrtc.MediaEngine{}
	require.NoError(t, m.RegisterDefaultCodecs())
	ir := &interceptor.Registry{}
	require.NoError(t, webrtc.RegisterDefaultInterceptors(m, ir))
	require.NoError(t, webrtc.ConfigureSimulcastExtensionHeaders(m))
	require.NoError(t, m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio))
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(clientSettings(networks)))
}

// clientSettings are the settings of the clients' APIs: loopback only, on networks.
func clientSettings(networks []webrtc.NetworkType) webrtc.SettingEngine {
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes(networks)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// A packet received twice reaches the track: a test can ask for one again (NACK)
	// and see it come.
	se.DisableSRTPReplayProtection(true)
	return se
}

// connect opens a connection to srv and sends a join with token, without waiting.
func connect(t testing.TB, srv *testServer, token string) *testClient {
	t.Helper()
	return connectWith(t, srv, token, clientAPI(t))
}

// connectWith is connect with a PeerConnection made by api.
func connectWith(t testing.TB, srv *testServer, token string, api *webrtc.API) *testClient {
	t.Helper()
	serverEnd, clientEnd := newMemPipe()
	ctx, cancel := context.WithCancel(context.Background())
	c := &testClient{
		t:        t,
		conn:     clientEnd,
		serveErr: make(chan error, 1),
		cancel:   cancel,
		stop:     make(chan struct{}),
		changed:  make(chan struct{}),
		tracks:   make(map[string]*recvTrack),
	}
	go func() { c.serveErr <- srv.ServeConn(ctx, serverEnd) }() // owned by the client; ends with the session
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	c.pc = pc
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand != nil {
			c.send(map[string]any{"type": "candidate", "candidate": cand.ToJSON()})
		}
	})
	pc.OnTrack(c.onTrack)
	c.wg.Add(1)
	go func() { // owned by the client; ends when the connection closes
		defer c.wg.Done()
		c.readLoop()
	}()
	if token != "" {
		c.send(map[string]any{"type": "join", "token": token})
	}
	t.Cleanup(c.close)
	return c
}

// join connects and waits for the joined message.
func join(t testing.TB, srv *testServer, token string) *testClient {
	t.Helper()
	return joinWith(t, srv, token, clientAPI(t))
}

// joinWith is join with a PeerConnection made by api.
func joinWith(t testing.TB, srv *testServer, token string, api *webrtc.API) *testClient {
	t.Helper()
	c := connectWith(t, srv, token, api)
	m := c.waitMsg(func(m serverMsg) bool { return m.Type == signal.TypeJoined || m.Type == signal.TypeError })
	require.Equal(t, signal.TypeJoined, m.Type, "join refused: %s %s", m.Code, m.Message)
	return c
}

func (c *testClient) send(v any) {
	b, err := json.Marshal(v)
	require.NoError(c.t, err)
	c.sendRaw(b)
}

func (c *testClient) sendRaw(b []byte) {
	_ = c.conn.WriteMessage(context.Background(), b)
}

func (c *testClient) readLoop() {
	for {
		data, err := c.conn.ReadMessage(context.Background())
		if err != nil {
			c.notify()
			return
		}
		var m serverMsg
		if err := json.Unmarshal(data, &m); err != nil {
			c.t.Errorf("server sent bad JSON %q: %v", data, err)
			continue
		}
		switch m.Type {
		case signal.TypeOffer:
			c.mu.Lock()
			hold := c.holdOffers
			if hold {
				c.heldOffers = append(c.heldOffers, m.SDP)
			}
			c.mu.Unlock()
			if !hold {
				c.onOffer(m.SDP)
			}
		case signal.TypeAnswer:
			c.negMu.Lock()
			err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
			c.negMu.Unlock()
			if err != nil && !c.closing.Load() {
				c.failf("set answer: %v", err)
			}
			c.remoteSet()
		case signal.TypeCandidate:
			c.addCandidate(*m.Candidate)
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		c.mu.Unlock()
		c.notify()
	}
}

// onOffer answers a server offer, rolling its own offer back in glare (polite peer).
func (c *testClient) onOffer(sdp string) {
	c.negMu.Lock()
	defer c.negMu.Unlock()
	if c.closing.Load() {
		return
	}
	if c.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
		// A browser rolls back here; Pion cannot, so the tests never leave an offer of
		// their own pending when the server offers (see sendUnappliedOffer).
		c.failf("glare: the test client cannot roll back")
		return
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		c.failf("set offer: %v", err)
		return
	}
	answer, err := c.pc.CreateAnswer(nil)
	if err != nil {
		c.failf("create answer: %v", err)
		return
	}
	if err := c.pc.SetLocalDescription(answer); err != nil {
		c.failf("set answer: %v", err)
		return
	}
	c.send(map[string]any{"type": "answer", "sdp": answer.SDP})
	c.remoteSet()
}

// releaseOffers stops holding the server's offers and answers those held.
func (c *testClient) releaseOffers() {
	c.mu.Lock()
	c.holdOffers = false
	held := c.heldOffers
	c.heldOffers = nil
	c.mu.Unlock()
	for _, sdp := range held {
		c.onOffer(sdp)
	}
}

// failf reports a negotiation error, unless the session is over: the client closing,
// or its PeerConnection closed by the server's DTLS close after the session ended.
func (c *testClient) failf(format string, args ...any) {
	if c.closing.Load() || c.pc.ConnectionState() == webrtc.PeerConnectionStateClosed || c.pc.SignalingState() == webrtc.SignalingStateClosed {
		return
	}
	if _, _, closed := c.conn.closed(); closed {
		return
	}
	c.t.Errorf(format, args...)
}

func (c *testClient) remoteSet() {
	c.mu.Lock()
	c.remote = true
	cands := c.cands
	c.cands = nil
	c.mu.Unlock()
	for _, cand := range cands {
		_ = c.pc.AddICECandidate(cand)
	}
}

func (c *testClient) addCandidate(cand webrtc.ICECandidateInit) {
	c.mu.Lock()
	if !c.remote {
		c.cands = append(c.cands, cand)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if err := c.pc.AddICECandidate(cand); err != nil {
		c.failf("add candidate: %v", err)
	}
}

func (c *testClient) notify() {
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// offer sends an offer of the client's current transceivers, with labels.
func (c *testClient) offer(labels map[string]Label) {
	c.negMu.Lock()
	defer c.negMu.Unlock()
	offer, err := c.pc.CreateOffer(nil)
	require.NoError(c.t, err)
	require.NoError(c.t, c.pc.SetLocalDescription(offer))
	msg := map[string]any{"type": "offer", "sdp": offer.SDP}
	if labels != nil {
		msg["labels"] = labels
	}
	c.send(msg)
}

// sendUnappliedOffer sends an offer without setting it as the local description: what
// the server sees of a browser's offer that the browser then rolls back.
func (c *testClient) sendUnappliedOffer(labels map[string]Label) {
	c.negMu.Lock()
	defer c.negMu.Unlock()
	offer, err := c.pc.CreateOffer(nil)
	require.NoError(c.t, err)
	c.send(map[string]any{"type": "offer", "sdp": offer.SDP, "labels": labels})
}

// receiveOnly makes the client's first offer without tracks to send.
func (c *testClient) receiveOnly() {
	_, err := c.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	require.NoError(c.t, err)
	c.offer(nil)
}

// publish adds a VP8 camera and an Opus microphone (or a screen share when screen is
// set), offers them and starts sending frames every 20 ms. keyEvery is the period of
// keyframes in frames; 0 sends keyframes only first and when asked by a PLI.
func (c *testClient) publish(screen bool, keyEvery int) {
	c.offer(c.addMedia(screen, keyEvery))
}

// addMedia adds the tracks of publish and starts sending, without offering; it returns
// the labels to offer them with.
func (c *testClient) addMedia(screen bool, keyEvery int) map[string]Label {
	stream, videoID, audioID := "cam", "cam-video", "mic-audio"
	labels := map[string]Label{videoID: LabelCamera, audioID: LabelMicrophone}
	if screen {
		stream, videoID, audioID = "screen", "screen-video", "screen-audio"
		labels = map[string]Label{videoID: LabelScreen, audioID: LabelScreen}
	}
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, videoID, stream)
	require.NoError(c.t, err)
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, audioID, stream)
	require.NoError(c.t, err)
	for _, tr := range []webrtc.TrackLocal{video, audio} {
		sender, err := c.pc.AddTrack(tr)
		require.NoError(c.t, err)
		c.wg.Add(1)
		go func() { // owned by the client; ends when the sender stops
			defer c.wg.Done()
			for {
				pkts, _, err := sender.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if _, ok := p.(*rtcp.PictureLossIndication); ok {
						c.plis.Add(1)
						c.wantKey.Store(true)
					}
				}
			}
		}()
	}
	c.videoTracks = append(c.videoTracks, video)
	c.audioTracks = append(c.audioTracks, audio)

	c.wg.Add(1)
	go func() { // owned by the client; ends when the client closes
		defer c.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for frame := 0; ; frame++ {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			key := frame == 0 || (keyEvery > 0 && frame%keyEvery == 0) || c.wantKey.Swap(false)
			_ = video.WriteSample(media.Sample{Data: vp8Frame(key), Duration: 20 * time.Millisecond})
			_ = audio.WriteSample(media.Sample{Data: []byte{0xf8, 0xff, 0xfe}, Duration: 20 * time.Millisecond})
		}
	}()
	return labels
}

func (c *testClient) onTrack(remote *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	rt := &recvTrack{id: remote.ID(), streamID: remote.StreamID(), kind: remote.Kind(), ssrc: uint32(remote.SSRC())}
	if tr := receiver.RTPTransceiver(); tr != nil {
		rt.mid = tr.Mid()
	}
	c.mu.Lock()
	c.tracks[rt.id] = rt
	observe := c.observe
	c.mu.Unlock()
	c.notify()
	c.wg.Add(2)
	go func() { // owned by the client; ends when the track ends
		defer c.wg.Done()
		for {
			pkts, _, err := receiver.ReadRTCP()
			if err != nil {
				return
			}
			for _, pkt := range pkts {
				if sr, ok := pkt.(*rtcp.SenderReport); ok && sr.SSRC == rt.ssrc {
					rt.lastReport.Store(sr)
					rt.senderReports.Add(1)
					c.notify()
				}
			}
		}
	}()
	go func() { // owned by the client; ends when the track ends
		defer c.wg.Done()
		buf := make([]byte, 1500)
		for {
			n, _, err := remote.Read(buf)
			if err != nil {
				return
			}
			if remote.Kind() == webrtc.RTPCodecTypeVideo {
				var pkt rtp.Packet
				if pkt.Unmarshal(buf[:n]) == nil && codec.IsVP8Keyframe(pkt.Payload) {
					rt.keyframes.Add(1)
					if rt.packets.Load() == 0 {
						rt.firstIsKey.Store(true)
					}
				}
				if observe != nil {
					observe(rt, &pkt)
				}
			}
			rt.packets.Add(1)
			c.notify()
		}
	}()
}

// waitMsg waits for a message matching ok, among all received, and returns it.
func (c *testClient) waitMsg(ok func(serverMsg) bool) serverMsg {
	c.t.Helper()
	var found serverMsg
	c.waitUntil(func() bool {
		for _, m := range c.msgs {
			if ok(m) {
				found = m
				return true
			}
		}
		return false
	}, "message")
	return found
}

// waitError waits for an error message with code.
func (c *testClient) waitError(code string) serverMsg {
	c.t.Helper()
	return c.waitMsg(func(m serverMsg) bool { return m.Type == signal.TypeError && m.Code == code })
}

// waitUntil waits until cond, called under c.mu, holds.
func (c *testClient) waitUntil(cond func() bool, what string) {
	c.t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		done := cond()
		changed := c.changed
		c.mu.Unlock()
		if done {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			c.t.Fatalf("no %s in %s", what, waitFor)
		}
	}
}

// track returns the received track with that server id, waiting for it.
func (c *testClient) track(id string) *recvTrack {
	c.t.Helper()
	var rt *recvTrack
	c.waitUntil(func() bool { rt = c.tracks[id]; return rt != nil }, "track "+id)
	return rt
}

// tracksOf returns the ids of the tracks announced as added for participant and not
// removed since, from the tracks messages.
func (c *testClient) tracksOf(participant string) map[string]trackAdded {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tracksOfLocked(participant)
}

func (c *testClient) tracksOfLocked(participant string) map[string]trackAdded {
	out := map[string]trackAdded{}
	for _, m := range c.msgs {
		if m.Type != signal.TypeTracks {
			continue
		}
		for _, a := range m.Added {
			if a.ParticipantID == participant {
				out[a.ID] = a
			}
		}
		for _, r := range m.Removed {
			if r.ParticipantID == participant {
				delete(out, r.TrackID)
			}
		}
	}
	return out
}

// waitMedia waits until want tracks are announced for participant and each has
// received n packets; it returns them.
func (c *testClient) waitMedia(participant string, want int, n int64) map[string]trackAdded {
	c.t.Helper()
	var tracks map[string]trackAdded
	c.waitUntil(func() bool {
		tracks = c.tracksOfLocked(participant)
		if len(tracks) != want {
			return false
		}
		for id := range tracks {
			if rt := c.tracks[id]; rt == nil || rt.packets.Load() < n {
				return false
			}
		}
		return true
	}, "media of "+participant)
	return tracks
}

// waitClosed waits for the server to close the connection and returns the code,
// reason and what ServeConn returned.
func (c *testClient) waitClosed() (int, string, error) {
	c.t.Helper()
	select {
	case err := <-c.serveErr:
		c.serveErr <- err
		code, reason, ok := c.conn.closed()
		require.True(c.t, ok, "ServeConn returned without closing the connection")
		return code, reason, err
	case <-time.After(waitFor):
		c.t.Fatalf("connection not closed in %s", waitFor)
		return 0, "", nil
	}
}

// leave sends a leave message and waits for the end of the session.
func (c *testClient) leave() error {
	c.send(map[string]any{"type": "leave"})
	_, _, err := c.waitClosed()
	return err
}

// close ends the client: stops its media, its PeerConnection and its connection.
func (c *testClient) close() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	c.negMu.Lock()
	c.closing.Store(true)
	c.negMu.Unlock()
	_ = c.pc.GracefulClose()
	_ = c.conn.Close(signal.CloseNormal, "client closed")
	c.cancel()
	c.wg.Wait()
	select {
	case err := <-c.serveErr:
		c.serveErr <- err
	case <-time.After(waitFor):
		c.t.Errorf("ServeConn did not return in %s", waitFor)
	}
}
