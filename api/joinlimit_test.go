package api_test

import (
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// joinFrom asks to join with the invitation link url as a client at address (behind the
// trusted proxy) and returns the status and the problem code, if any.
func joinFrom(t *testing.T, b *browser, url, address string) (int, string, *http.Response) {
	t.Helper()
	resp := b.Do("POST", "/api/v1/invitations/"+invitationToken(url)+"/join", map[string]any{"display_name": "Zoé"}, map[string]string{"X-Forwarded-For": address})
	if resp.StatusCode == http.StatusOK {
		resp.Body.Close()
		return resp.StatusCode, "", resp
	}
	return resp.StatusCode, problemOf(t, resp).Code, resp
}

// setupJoins starts a server with o behind a trusted proxy on loopback, an owner
// logged in, an anonymous browser, a webinar and an attendee invitation to it.
func setupJoins(t *testing.T, o options) (*env, *browser, *browser, webinar, invitation) {
	t.Helper()
	o.trustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	e := setup(t, "sqlite", o)
	owner, anon := e.browser(), e.browser()
	owner.Login(userOwner)
	w := createWebinar(owner, newWebinar)
	return e, owner, anon, w, createInvitation(owner, w.ID, "attendee")
}

func TestJoinsPerAddressAreLimited(t *testing.T) {
	e, _, anon, _, inv := setupJoins(t, options{joinsPerAddress: 3})
	for i := range 3 {
		status, code, _ := joinFrom(t, anon, inv.URL, "198.51.100.7")
		require.Equal(t, http.StatusOK, status, "join %d: %s", i, code)
	}
	status, code, resp := joinFrom(t, anon, inv.URL, "198.51.100.7")
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, "too_many_joins_from_address", code)
	wait, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.Positive(t, wait)
	require.LessOrEqual(t, wait, 60)

	// Another client address is counted apart; an IPv6 address by its /64.
	status, _, _ = joinFrom(t, anon, inv.URL, "198.51.100.8")
	require.Equal(t, http.StatusOK, status)
	for i := range 3 {
		status, code, _ := joinFrom(t, anon, inv.URL, "2001:db8:1:2::"+strconv.Itoa(i+1))
		require.Equal(t, http.StatusOK, status, "join %d: %s", i, code)
	}
	_, code, _ = joinFrom(t, anon, inv.URL, "2001:db8:1:2:ffff::1")
	require.Equal(t, "too_many_joins_from_address", code, "the same /64")
	status, _, _ = joinFrom(t, anon, inv.URL, "2001:db8:1:3::1")
	require.Equal(t, http.StatusOK, status, "another /64")

	// A wrong invitation link counts too: guessing links is limited.
	_, code, _ = joinFrom(t, anon, "/j/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "198.51.100.9")
	require.Equal(t, "not_found", code)

	// A minute later the address may join again.
	e.clock.Advance(time.Minute)
	status, _, _ = joinFrom(t, anon, inv.URL, "198.51.100.7")
	require.Equal(t, http.StatusOK, status)
}

func TestJoinsPerInvitationAreLimited(t *testing.T) {
	_, owner, anon, w, inv := setupJoins(t, options{joinsPerInvitation: 2})
	other := createInvitation(owner, w.ID, "attendee")

	for i := range 2 {
		status, code, _ := joinFrom(t, anon, inv.URL, "198.51.100."+strconv.Itoa(10+i))
		require.Equal(t, http.StatusOK, status, "join %d: %s", i, code)
	}
	status, code, _ := joinFrom(t, anon, inv.URL, "198.51.100.20")
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, "too_many_joins_on_invitation", code, "from a new address too")
	status, _, _ = joinFrom(t, anon, other.URL, "198.51.100.21")
	require.Equal(t, http.StatusOK, status, "another invitation is counted apart")
	// The owner's own join is not an invitation's.
	require.Equal(t, "moderator", string(joinAsOwner(owner, w.ID).Role))
}
