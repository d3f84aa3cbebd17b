package main

import (
	"cmp"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/client"
	"webinaire/store/pgtest"
)

// cutProxy forwards TCP connections on loopback to a server, until it is cut: then the
// connections it carries are closed and new ones are closed as soon as they come, as
// when the server's host is out of reach, until it is restored.
type cutProxy struct {
	target string
	ln     net.Listener

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

// newCutProxy forwards a free port of 127.0.0.1 to target, until the test ends.
func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{target: target, ln: ln, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { _ = ln.Close(); p.setCut(true) })
	go p.serve() // owned by the test: ends when the listener closes
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.carry(c) // owned by the proxy: ends when either side closes, or at a cut
	}
}

func (p *cutProxy) carry(c net.Conn) {
	if !p.track(c) {
		_ = c.Close()
		return
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(s) {
		_ = c.Close()
		if s != nil {
			_ = s.Close()
		}
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(s, c); done <- struct{}{} }() // owned by carry
	go func() { _, _ = io.Copy(c, s); done <- struct{}{} }() // owned by carry
	<-done
	_ = c.Close()
	_ = s.Close()
	<-done
}

// track records a connection, false when the proxy is cut.
func (p *cutProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.cut {
		p.conns[c] = true
	}
	return !p.cut
}

// setCut cuts the proxy (closing what it carries) or restores it.
func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			_ = c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

// outageFor is how long the database stays out of reach in TestDatabaseOutage: 8 s by
// default, longer than the node timeout, so that the node's heartbeat is stale when the
// database comes back; WEBINAIRE_TEST_DB_OUTAGE sets another (60s, say).
func outageFor(t *testing.T) time.Duration {
	d, err := time.ParseDuration(cmp.Or(os.Getenv("WEBINAIRE_TEST_DB_OUTAGE"), "8s"))
	require.NoError(t, err, "WEBINAIRE_TEST_DB_OUTAGE")
	return d
}

// TestDatabaseOutage runs a node on a PostgreSQL database that goes out of reach for a
// while: the meeting's media goes on, /readyz says not ready, a new join gets 503 with
// Retry-After; once the database is back, the node is ready again, a join that retries
// enters, and the participants who were there never left.
func TestDatabaseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and cuts its database")
	}
	bin := buildBinary(t)
	db, err := url.Parse(pgtest.Shared(t).NewDatabase(t))
	require.NoError(t, err)
	proxy := newCutProxy(t, db.Host)
	db.Host = proxy.ln.Addr().String()
	n := startNode(t, bin, t.TempDir(), db.String(), "node-a", "WEBINAIRE_CLUSTER_NODE_TIMEOUT=2s")
	ev := newEvent(t, n, "meeting")
	ctx := t.Context()
	pub := enter(t, ev.owner.WSURL, ev.owner.Token)
	require.NoError(t, pub.Publish(ctx, client.Media{VideoBitrate: 150_000, KeyframeInterval: time.Second}))
	joinURL := n.base + "/api/v1/invitations/" + path.Base(ev.inv) + "/join"
	join := func() (int, joinAnswer) {
		var a joinAnswer
		return post(t, joinURL, map[string]string{"display_name": "Guest"}, &a), a
	}
	code, guest := join()
	require.Equal(t, http.StatusOK, code)
	viewer := watch(t, guest, ev.owner.ParticipantID)

	outage := outageFor(t)
	proxy.setCut(true)
	cutAt := time.Now()
	require.Eventually(t, func() bool { return status(t, n.base+"/readyz") == http.StatusServiceUnavailable },
		30*time.Second, 50*time.Millisecond, "/readyz says not ready without its database")
	resp, err := http.Post(joinURL, "application/json", strings.NewReader(`{"display_name": "Guest"}`))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "a join without the database")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	before := videoPackets(viewer, ev.owner.ParticipantID)
	time.Sleep(outage - time.Since(cutAt))
	require.Greater(t, videoPackets(viewer, ev.owner.ParticipantID), before+50, "the media went on without the database")

	proxy.setCut(false)
	require.Eventually(t, func() bool { return status(t, n.base+"/readyz") == http.StatusOK },
		30*time.Second, 50*time.Millisecond, "ready again once the database is back")
	var again joinAnswer
	require.Eventually(t, func() bool {
		code, again = join()
		return code == http.StatusOK
	}, 30*time.Second, 200*time.Millisecond, "a join that retries enters")
	watch(t, again, ev.owner.ParticipantID)
	for _, p := range []*participant{pub, viewer} {
		select {
		case <-p.Done():
			t.Fatalf("a participant was disconnected by the outage: %v", p.Err())
		default:
		}
	}
}

// videoPackets is the number of video packets p received from publisher.
func videoPackets(p *participant, publisher string) uint64 {
	var n uint64
	for _, s := range p.Received() {
		if s.ParticipantID == publisher && s.Kind == webrtc.RTPCodecTypeVideo {
			n += s.Packets
		}
	}
	return n
}
