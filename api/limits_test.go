package api_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/api/wsclient"
	"webinaire/recording"
	"webinaire/sfu/signal"
	"webinaire/store"
)

// generous bounds a wait on the server in these tests: only a hung test reaches it.
const generous = 30 * time.Second

// rawRequest opens a TCP connection to the server and sends head, a request's line and
// headers ending with the blank line, and nothing more.
func rawRequest(t *testing.T, e *env, head string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", e.http.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	_, err = io.WriteString(conn, head)
	require.NoError(t, err)
	return conn
}

// postHead is the head of a POST of a JSON body of length bytes to path, with more headers.
func postHead(path string, length int, more ...string) string {
	h := "POST " + path + " HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n", length)
	for _, m := range more {
		h += m + "\r\n"
	}
	return h + "\r\n"
}

// waitClosedByServer reads conn until the server closes it, within a generous bound, and
// returns what it read.
func waitClosedByServer(t *testing.T, conn net.Conn) string {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(generous)))
	got, err := io.ReadAll(conn)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server kept the connection open; read %q", got)
	return string(got)
}

// TestJoinLooksTheInvitationUpBeforeReadingTheBody: a request for an unknown invitation is
// answered without waiting for a body that does not come.
func TestJoinLooksTheInvitationUpBeforeReadingTheBody(t *testing.T) {
	e := setup(t, "sqlite", options{})
	conn := rawRequest(t, e, postHead("/api/v1/invitations/"+store.NewSecret()+"/join", 100))
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(generous)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "no answer while the body is missing")
	defer resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestRequestsInProgressPerClientAddress: a client address has at most
// MaxRequestsPerClient requests in progress; behind a trusted proxy it is the client's
// address that counts, not the proxy's, and an IPv6 client counts by its /64.
func TestRequestsInProgressPerClientAddress(t *testing.T) {
	e := setup(t, "sqlite", options{maxRequests: 2, trustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	owner := e.browser()
	owner.Login(userOwner)
	w := createWebinar(owner, withoutLobby)
	join := "/api/v1/invitations/" + invitationToken(createInvitation(owner, w.ID, "attendee").URL) + "/join"

	// Two requests of one client, held in progress by bodies that do not come.
	held := []net.Conn{
		rawRequest(t, e, postHead(join, 100, "X-Forwarded-For: 2001:db8:1:2::7")),
		rawRequest(t, e, postHead(join, 100, "X-Forwarded-For: 2001:db8:1:2:ffff::1")),
	}
	from := func(addr string) int {
		return owner.Do("GET", "/healthz", nil, map[string]string{"X-Forwarded-For": addr}).StatusCode
	}
	require.Eventually(t, func() bool { return from("2001:db8:1:2::9") == http.StatusTooManyRequests }, generous, 10*time.Millisecond,
		"a third request of the same /64 is refused")
	resp := owner.Do("GET", "/healthz", nil, map[string]string{"X-Forwarded-For": "2001:db8:1:2::9"})
	require.Equal(t, "too_many_requests", problemOf(t, resp).Code)
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
	require.Equal(t, http.StatusOK, from("2001:db8:1:3::9"), "another client behind the same proxy")
	require.Equal(t, http.StatusOK, from("198.51.100.7"))

	held[0].Close()
	require.Eventually(t, func() bool { return from("2001:db8:1:2::9") == http.StatusOK }, generous, 10*time.Millisecond,
		"a request that ends makes room")
}

// TestLongAnswersOutliveTheWriteTimeout: a signalling WebSocket and a recording's download
// go on past the server's read and write timeouts, as long as the client is there.
func TestLongAnswersOutliveTheWriteTimeout(t *testing.T) {
	e := setup(t, "sqlite", options{readTimeout: time.Second, writeTimeout: time.Second})
	owner, anon := e.browser(), e.browser()
	owner.Login(userOwner)
	w := createWebinar(owner, withoutLobby)
	o := connectRTC(t, e, joinAsOwner(owner, w.ID))
	o.waitJoined()

	// A finished recording of 64 MiB, more than the sockets between test and server hold.
	ctx := t.Context()
	row, err := e.store.CreateRecording(ctx, w.ID, "", time.Now(), time.Now().Add(time.Hour))
	require.NoError(t, err)
	dir, err := e.recordings.Dir(row.ID)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o750))
	const size = 64 << 20
	require.NoError(t, os.WriteFile(filepath.Join(dir, "replay.webm"), make([]byte, size), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, recording.ManifestName), []byte(`{"tracks":[],"replay":"replay.webm"}`), 0o600))
	row.State = store.RecordingReady
	require.NoError(t, e.store.FinishRecording(ctx, row))
	download := owner.Do("GET", "/api/v1/recordings/"+row.ID+"/files/replay.webm", nil, nil)
	require.Equal(t, http.StatusOK, download.StatusCode)
	defer download.Body.Close()
	// The client reads at its pace, a piece at a time, until the server's timeouts have
	// passed, then the rest at once.
	type result struct {
		n            int64
		err          error
		beforeTheEnd bool // the timeouts passed before the download ended
	}
	timeoutsPassed, downloaded := make(chan struct{}), make(chan result, 1)
	go func() { // owned by the test; ends with the download
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		buf := make([]byte, 32<<10)
		var r result
		for {
			if !r.beforeTheEnd {
				select {
				case <-tick.C:
				case <-timeoutsPassed:
					r.beforeTheEnd = true
				}
			}
			n, err := download.Body.Read(buf)
			r.n += int64(n)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					r.err = err
				}
				downloaded <- r
				return
			}
		}
	}()

	// A connection opened now and left silent is cut at the read timeout: once it is,
	// both the WebSocket and the download have lived longer than the server's timeouts.
	canary := rawRequest(t, e, postHead("/api/v1/invitations/x/join", 0)[:20])
	waitClosedByServer(t, canary)
	close(timeoutsPassed)

	g := connectRTC(t, e, joinAsGuest(anon, createInvitation(owner, w.ID, "attendee").URL, "Zoé Martin"))
	g.waitJoined()
	require.NoError(t, o.Send(context.Background(), map[string]any{"type": "chat", "text": "still here"}))
	g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "chat" && m.Text == "still here" })

	r := <-downloaded
	require.NoError(t, r.err, "the download was cut")
	require.True(t, r.beforeTheEnd, "the download ended before the timeouts passed: it proves nothing")
	require.Equal(t, int64(size), r.n)
}

// TestMediaSessionsPerClientAddress: one client address opens so many media sessions at
// once, then one per interval; beyond, it is refused with too_many_sessions rather than
// served without its connection-log entries. Others are not held back.
func TestMediaSessionsPerClientAddress(t *testing.T) {
	e := setup(t, "sqlite", options{sessionBurst: 2, sessionsPerHour: 60, trustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	owner, anon := e.browser(), e.browser()
	owner.Login(userOwner)
	w := createWebinar(owner, withoutLobby)
	inv := createInvitation(owner, w.ID, "attendee")
	start := time.Now().Add(-time.Minute)
	var served []string
	for _, name := range []string{"Zoé Martin", "Karim B."} {
		j := joinAsGuest(anon, inv.URL, name)
		connectRTC(t, e, j).waitJoined()
		served = append(served, j.ParticipantID)
	}

	wsURL := strings.Replace(e.base, "http://", "ws://", 1) + "/api/v1/rtc"
	dial := func(forwardedFor string) error {
		h := http.Header{"Origin": {e.base}}
		if forwardedFor != "" {
			h.Set("X-Forwarded-For", forwardedFor)
		}
		conn, err := wsclient.Dial(t.Context(), wsURL, h, nil)
		if err == nil {
			_ = conn.Close(1000, "")
		}
		return err
	}
	resp := anon.Do("GET", "/api/v1/rtc", nil, map[string]string{"Origin": e.base, "Connection": "Upgrade", "Upgrade": "websocket"})
	require.Equal(t, "too_many_sessions", problemOf(t, resp).Code, "a third WebSocket")
	require.Equal(t, "60", resp.Header.Get("Retry-After"))
	resp = anon.Do("POST", "/api/v1/whep", "v=0\r\n", map[string]string{"Authorization": "Bearer " + joinAsGuest(anon, inv.URL, "Viewer").Token, "Content-Type": "application/sdp"})
	require.Equal(t, "too_many_sessions", problemOf(t, resp).Code, "a WHEP session")

	require.NoError(t, dial("198.51.100.7"), "another client behind the same proxy")
	e.clock.Advance(time.Minute)
	require.NoError(t, dial(""), "one more a minute later")
	require.ErrorContains(t, dial(""), "status 429", "and no more")

	// The sessions served are in the connection log, each with its join.
	for _, id := range served {
		list, err := e.store.ConnectionLog(t.Context(), store.ConnectionFilter{ActorID: id, From: start, To: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		require.NotEmpty(t, list, "participant %s", id)
		require.Equal(t, "join", list[0].Action)
	}
}
