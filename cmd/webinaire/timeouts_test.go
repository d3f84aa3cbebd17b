package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/store"
)

// TestServeCutsSlowBodies: clients that send a body a byte at a time, with a real
// invitation so that the body is read, are cut at server.read_timeout.
func TestServeCutsSlowBodies(t *testing.T) {
	in := freshInstall(t)
	ctx := context.Background()
	o, err := in.st.UpsertOrganizer(ctx, store.Organizer{Issuer: "https://idp.example", Subject: "owner"}, time.Now())
	require.NoError(t, err)
	w := store.Webinar{OrganizerID: o.ID, Title: "Slow", Kind: store.KindMeeting, StartsAt: time.Now(), DurationMinutes: 30}
	require.NoError(t, in.st.CreateWebinar(ctx, &w, time.Now()))
	inv := store.Invitation{WebinarID: w.ID, Role: store.RoleAttendee}
	require.NoError(t, in.st.CreateInvitation(ctx, &inv, time.Now()))

	s := startServe(t, []string{"--listen", "127.0.0.1:0"}, append(in.env, "WEBINAIRE_SERVER_READ_TIMEOUT=1s", "WEBINAIRE_SERVER_WRITE_TIMEOUT=1s"))
	waitReady(t, s.base)
	u, err := url.Parse(s.base)
	require.NoError(t, err)

	conns := make([]net.Conn, 10)
	for i := range conns {
		conn, err := net.Dial("tcp", u.Host)
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		_, err = fmt.Fprintf(conn, "POST /api/v1/invitations/%s/join HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", inv.Token, u.Host)
		require.NoError(t, err)
		conns[i] = conn
		// Owned by the test; ends when the server has closed the connection, or at cleanup.
		go func() {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for range tick.C {
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}()
	}
	// Dripping on, the 100,000 bytes would take more than an hour and a half; the bound
	// only stops a hung test.
	for _, conn := range conns {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(60*time.Second)))
		got, err := io.ReadAll(conn)
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server kept a slow body's connection open; read %q", got)
		require.NotContains(t, string(got), "200 OK", "a token was handed out for a body never completed")
	}
}

// TestServeMetricsOnTheirOwnAddress: with metrics.listen, /metrics is served there, and
// not on the API's address, which has no token.
func TestServeMetricsOnTheirOwnAddress(t *testing.T) {
	in := freshInstall(t)
	s := startServe(t, []string{"--listen", "127.0.0.1:0"}, append(in.env, "WEBINAIRE_METRICS_LISTEN=127.0.0.1:0"))
	waitReady(t, s.base)
	m := regexp.MustCompile(`msg="metrics served on their own address" listen=(\S+)`).FindStringSubmatch(s.stderr.String())
	require.NotNil(t, m, "log:\n%s", s.stderr)

	resp, err := http.Get("http://" + m[1] + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), "webinaire_retention_scrape_error 0")
	require.Equal(t, http.StatusNotFound, status(t, s.base+"/metrics"))
	require.Equal(t, http.StatusNotFound, status(t, "http://"+m[1]+"/readyz"), "the metrics address serves nothing else")
}
