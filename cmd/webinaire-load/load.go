package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"webinaire/api/wsclient"
	"webinaire/sfu/client"
	"webinaire/sfu/signal"
)

// loadParams are what a load run needs.
type loadParams struct {
	// Server is the base URL of the server.
	Server string
	// PublisherInvitation and SubscriberInvitation are invitation links or tokens: a
	// presenter's for the publishers, an attendee's for the subscribers.
	PublisherInvitation, SubscriberInvitation string
	Publishers, Subscribers                   int
	// Ramp is how many subscribers join per second.
	Ramp float64
	// Warmup is the time between the last join and the measured window; Window its length.
	Warmup, Window time.Duration
	// Interval is the length of the parts of the window whose latency is reported apart.
	Interval time.Duration
	// JoinTimeout bounds each participant's join.
	JoinTimeout time.Duration
	Media       client.Media
	// ServerPID, when not 0, is the server's process: its CPU time is read around the window.
	ServerPID int
	// NodePIDs are the processes of the nodes of a cluster by the host and port their
	// join answers name (as JoinedByNode counts them): the CPU time of each is read
	// around the window and reported with the figures of its participants.
	NodePIDs map[string]int
	// ServerMetrics, when set, is the URL of the server's /metrics, read with the bearer
	// token MetricsToken around the window for its forwarding delay.
	ServerMetrics, MetricsToken string
	Logger                      *slog.Logger
	// PionLog receives Pion's own logs; nil discards them.
	PionLog io.Writer
	// ReceiverInterceptors are the interceptors of the subscribers; the publishers (every
	// participant of a meeting) have a browser's.
	ReceiverInterceptors client.Interceptors
}

// participant is one simulated participant and the times of its join, Monotonic
// nanoseconds.
type participant struct {
	name      string
	publisher bool
	c         *client.Client
	// node is the host and port of the node its join answer sent it to.
	node string

	start, apiDone, wsJoined, connected int64
	err                                 error
}

// loadRun is a run in progress: its participants and what they share.
type loadRun struct {
	p        loadParams
	pubAPI   *webrtc.API // the publishers'
	subAPI   *webrtc.API // the subscribers'
	hc       *http.Client
	negErrs  atomic.Int64
	mu       sync.Mutex
	everyone []*participant
}

// joinAnswer is the part of the join endpoints' answer a participant needs.
type joinAnswer struct {
	Token      string             `json:"token"`
	WSURL      string             `json:"ws_url"`
	Role       string             `json:"role"`
	Kind       string             `json:"kind"`
	ICEServers []webrtc.ICEServer `json:"ice_servers"`
}

// join makes one participant join: the API's join endpoint, the signalling WebSocket,
// the offer (its media, or receive-only), until its PeerConnection is connected. The
// client reads its connection until runCtx ends or Close.
func (l *loadRun) join(runCtx context.Context, p *participant, invitation string) error {
	ctx, cancel := context.WithTimeout(runCtx, l.p.JoinTimeout)
	defer cancel()
	p.start = client.Monotonic()
	hc := &apiClient{base: l.p.Server, hc: l.hc}
	var ans joinAnswer
	path := "/api/v1/invitations/" + invitationToken(invitation) + "/join"
	if err := hc.call(ctx, http.MethodPost, path, map[string]string{"display_name": p.name}, &ans, http.StatusOK); err != nil {
		return err
	}
	p.apiDone = client.Monotonic()
	// The answer names the node of the participant, the room's or an edge of it: it
	// too must be on loopback.
	node, err := loopbackHost(ans.WSURL)
	if err != nil {
		return fmt.Errorf("join answer: %w", err)
	}
	p.node = node
	if p.publisher && ans.Kind == "webinar" && ans.Role == "attendee" {
		return fmt.Errorf("a publisher needs a presenter's invitation in a webinar, got an attendee's")
	}
	ws, err := wsclient.Dial(ctx, ans.WSURL, nil, nil)
	if err != nil {
		return err
	}
	api := l.subAPI
	if p.publisher {
		api = l.pubAPI
	}
	c, err := client.New(client.Params{
		Conn: ws, API: api, ICEServers: ans.ICEServers, Logger: l.p.Logger,
		OnError: func(error) { l.negErrs.Add(1) },
	})
	if err != nil {
		_ = ws.Close(signal.CloseNormal, "")
		return err
	}
	p.c = c
	c.Start(runCtx)
	if _, err := c.Join(ctx, ans.Token); err != nil {
		return err
	}
	p.wsJoined = client.Monotonic()
	if p.publisher {
		err = c.Publish(ctx, l.p.Media)
	} else {
		err = c.Receive(ctx)
	}
	if err != nil {
		return err
	}
	select {
	case <-c.Connected():
		p.connected = c.ConnectedAt()
		return nil
	case <-c.Failed():
		return errors.New("ICE or DTLS failed")
	case <-c.Done():
		return fmt.Errorf("the server closed the connection: %w", c.Err())
	case <-ctx.Done():
		return fmt.Errorf("not connected in %s: %w", l.p.JoinTimeout, ctx.Err())
	}
}

// runLoad joins the publishers, then the subscribers at the ramp's rate, lets the media
// settle, measures a window and leaves.
func runLoad(ctx context.Context, p loadParams) (*report, error) {
	pubAPI, err := client.NewAPI(client.APIParams{LoopbackOnly: true, PionLog: p.PionLog})
	if err != nil {
		return nil, err
	}
	subAPI, err := client.NewAPI(client.APIParams{LoopbackOnly: true, PionLog: p.PionLog, Interceptors: p.ReceiverInterceptors})
	if err != nil {
		return nil, err
	}
	if p.Interval <= 0 {
		p.Interval = time.Second
	}
	l := &loadRun{
		p:      p,
		pubAPI: pubAPI,
		subAPI: subAPI,
		hc: &http.Client{Timeout: p.JoinTimeout, Transport: &http.Transport{
			MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second,
		}},
	}
	defer l.closeAll()

	var wg sync.WaitGroup
	start := func(p *participant, invitation string) {
		l.mu.Lock()
		l.everyone = append(l.everyone, p)
		l.mu.Unlock()
		wg.Add(1)
		go func() { // owned by runLoad; ends when the participant has joined or failed to
			defer wg.Done()
			if err := l.join(ctx, p, invitation); err != nil {
				p.err = err
				l.p.Logger.Warn("join failed", "participant", p.name, "err", err)
			}
		}()
	}
	for i := range p.Publishers {
		start(&participant{name: fmt.Sprintf("load-pub-%d", i+1), publisher: true}, p.PublisherInvitation)
	}
	wg.Wait() // the publishers are there before the subscribers come
	interval := time.Duration(float64(time.Second) / p.Ramp)
	tick := time.NewTicker(interval)
	for i := range p.Subscribers {
		if i > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		start(&participant{name: fmt.Sprintf("load-sub-%d", i+1)}, p.SubscriberInvitation)
	}
	tick.Stop()
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	p.Logger.Info("joined; warming up", "participants", len(l.everyone), "warmup", p.Warmup)
	if !sleep(ctx, p.Warmup) {
		return nil, ctx.Err()
	}

	// The measured window.
	before := l.snapshot()
	var discard client.Histogram
	l.takeLatency(&discard, &discard, nil) // what came before the window
	metrics := metricsReader{url: p.ServerMetrics, token: p.MetricsToken, hc: l.hc}
	// A server of before the delay histogram has none: the report then has no delay.
	var delayBefore delayHistogram
	delayRead := false
	if p.ServerMetrics != "" {
		if delayBefore, err = metrics.delay(ctx); err != nil {
			p.Logger.Warn("the server's forwarding delay is not measured", "err", err)
		}
		delayRead = err == nil
	}
	cpu := cpuMeter{pid: p.ServerPID, nodes: p.NodePIDs}
	if err := cpu.start(); err != nil {
		return nil, err
	}
	p.Logger.Info("measuring", "window", p.Window)
	lat, ok := l.measureLatency(ctx, p.Window, p.Interval)
	if !ok {
		return nil, ctx.Err()
	}
	after := l.snapshot()
	if err := cpu.stop(); err != nil {
		return nil, err
	}
	var delay *serverDelay
	if delayRead {
		delayAfter, err := metrics.delay(ctx)
		if err != nil {
			return nil, err
		}
		d := delayAfter.since(delayBefore).quantiles()
		delay = &d
	}
	return l.report(before, after, lat, cpu, delay), nil
}

// windowLatency is the added latency of the packets received in the window, by kind, by
// the node its receivers were on, and of every interval of the window.
type windowLatency struct {
	video, audio client.Histogram
	byNode       map[string]*client.Histogram
	intervals    []latencyInterval
	elapsed      time.Duration
}

// measureLatency waits for the window to pass, taking the receivers' latency histograms at
// the end of every interval (the last one may be shorter); it tells whether the whole
// window passed.
func (l *loadRun) measureLatency(ctx context.Context, window, interval time.Duration) (*windowLatency, bool) {
	w := &windowLatency{byNode: map[string]*client.Histogram{}}
	began := time.Now()
	for end := interval; ; end += interval {
		end = min(end, window)
		if !sleep(ctx, time.Until(began.Add(end))) {
			return nil, false
		}
		var video, audio, both client.Histogram
		l.takeLatency(&video, &audio, w.byNode)
		both.Merge(&video)
		both.Merge(&audio)
		w.video.Merge(&video)
		w.audio.Merge(&audio)
		w.intervals = append(w.intervals, latencyInterval{End: end.Seconds(), quantiles: histQuantiles(&both)})
		if end == window {
			w.elapsed = time.Since(began)
			return w, true
		}
	}
}

// sleep waits d, or less if ctx ends; it tells whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// joined are the participants whose join succeeded.
func (l *loadRun) joined() []*participant {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*participant
	for _, p := range l.everyone {
		if p.err == nil && p.c != nil {
			out = append(out, p)
		}
	}
	return out
}

// takeLatency adds the latency histograms of every participant to video and audio, and
// to its node's in byNode when not nil, and empties them.
func (l *loadRun) takeLatency(video, audio *client.Histogram, byNode map[string]*client.Histogram) {
	if byNode == nil {
		for _, p := range l.joined() {
			p.c.TakeLatency(video, audio)
		}
		return
	}
	// Taken by node first, then added up: a histogram is a few kilobytes.
	type kinds struct{ video, audio client.Histogram }
	nodes := map[string]*kinds{}
	for _, p := range l.joined() {
		k := nodes[p.node]
		if k == nil {
			k = &kinds{}
			nodes[p.node] = k
		}
		p.c.TakeLatency(&k.video, &k.audio)
	}
	for node, k := range nodes {
		video.Merge(&k.video)
		audio.Merge(&k.audio)
		h := byNode[node]
		if h == nil {
			h = &client.Histogram{}
			byNode[node] = h
		}
		h.Merge(&k.video)
		h.Merge(&k.audio)
	}
}

// totals are the counters of all participants at one moment.
type totals struct {
	sent, sentVideo, sentAudio   uint64
	recv, recvVideo, recvAudio   uint64
	recvBytes, expected, lost    uint64
	expectedVideo, expectedAudio uint64
	lostVideo, lostAudio         uint64
	keyframeRequests, keyframes  uint64
	participants                 int
	// received counts the packets each participant received.
	received map[*participant]uint64
	// byNode are what the participants of each node received.
	byNode map[string]*nodeTotals
}

// nodeTotals are the counters of what the participants of one node received.
type nodeTotals struct {
	recv, expected, lost uint64
}

func (l *loadRun) snapshot() *totals {
	t := &totals{received: make(map[*participant]uint64), byNode: make(map[string]*nodeTotals)}
	for _, p := range l.joined() {
		t.participants++
		n := t.byNode[p.node]
		if n == nil {
			n = &nodeTotals{}
			t.byNode[p.node] = n
		}
		for _, s := range p.c.Sent() {
			t.sent += s.Packets
			t.keyframes += s.Keyframes
			t.keyframeRequests += s.KeyframeRequests
			if s.Kind == webrtc.RTPCodecTypeVideo {
				t.sentVideo += s.Packets
			} else {
				t.sentAudio += s.Packets
			}
		}
		for _, s := range p.c.Received() {
			t.recv += s.Packets
			t.recvBytes += s.Bytes
			t.expected += s.Expected
			t.lost += s.Lost
			t.received[p] += s.Packets
			n.recv += s.Packets
			n.expected += s.Expected
			n.lost += s.Lost
			if s.Kind == webrtc.RTPCodecTypeVideo {
				t.recvVideo += s.Packets
				t.expectedVideo += s.Expected
				t.lostVideo += s.Lost
			} else {
				t.recvAudio += s.Packets
				t.expectedAudio += s.Expected
				t.lostAudio += s.Lost
			}
		}
	}
	return t
}

// closeAll ends every participant at once.
func (l *loadRun) closeAll() {
	l.mu.Lock()
	everyone := l.everyone
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range everyone {
		if p.c == nil {
			continue
		}
		wg.Add(1)
		go func() { // owned by closeAll; ends when the client is closed
			defer wg.Done()
			_ = p.c.Close()
		}()
	}
	wg.Wait()
}

// cpuMeter measures the CPU time of the server (when pid is not 0), of the nodes of a
// cluster, and of this process over the window.
type cpuMeter struct {
	pid           int
	nodes         map[string]int
	before, after cpuReading
}

// cpuReading is one reading of the CPU times.
type cpuReading struct {
	self, selfWait, server, serverWait time.Duration
	nodes                              map[string]time.Duration
}

// read is the CPU time and run-queue wait of this process and of the server (0 without pid).
func (m *cpuMeter) read() (r cpuReading, err error) {
	r.self = selfCPU()
	r.selfWait, _ = processWait(os.Getpid()) // 0 without schedstats
	if m.pid != 0 {
		if r.server, err = processCPU(m.pid); err != nil {
			return r, err
		}
		r.serverWait, _ = processWait(m.pid)
	}
	r.nodes = make(map[string]time.Duration, len(m.nodes))
	for node, pid := range m.nodes {
		if r.nodes[node], err = processCPU(pid); err != nil {
			return r, err
		}
	}
	return r, nil
}

func (m *cpuMeter) start() (err error) {
	m.before, err = m.read()
	return err
}

func (m *cpuMeter) stop() (err error) {
	m.after, err = m.read()
	return err
}
