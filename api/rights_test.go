package api_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/api"
	"webinaire/privacy"
	"webinaire/store"
)

type exportDoc struct {
	Account struct {
		ID          string `json:"id"`
		Email       string `json:"email"`
		DisplayName string `json:"display_name"`
	} `json:"account"`
	Webinars    []struct{ ID, Title string } `json:"webinars"`
	Invitations []struct {
		ID        string `json:"id"`
		WebinarID string `json:"webinar_id"`
		Role      string `json:"role"`
	} `json:"invitations"`
	ConnectionLog []struct {
		IP     string `json:"ip"`
		Port   int    `json:"port"`
		Action string `json:"action"`
	} `json:"connection_log"`
	AuditTrail []struct{ Action string } `json:"audit_trail"`
	Retention  map[string]struct{ Kept string }
}

func TestExportHoldsEverythingAboutThePersonAndNothingElse(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		me, other := e.browser(), e.browser()
		me.Login(userOwner)
		other.Login(userOther)
		w := createWebinar(me, newWebinar)
		createInvitation(me, w.ID, "attendee")
		theirs := createWebinar(other, map[string]any{"title": "Pas à moi", "kind": "meeting", "starts_at": "2026-12-01T10:00:00Z", "duration_minutes": 15})
		createInvitation(other, theirs.ID, "moderator")

		resp := me.Do("PATCH", "/api/v1/me", map[string]string{"display_name": "Camille M."}, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()
		resp = me.Do("PUT", "/api/v1/webinars/"+w.ID+"/broadcast/target", map[string]string{"url": "rtmp://peertube.example.org/live", "key": "secret-stream-key"}, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()

		resp = me.Do("GET", "/api/v1/me/export", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, resp.Header.Get("Content-Disposition"), "attachment")
		raw := readBody(t, resp)
		var x exportDoc
		require.NoError(t, json.Unmarshal([]byte(raw), &x))

		require.Equal(t, "camille.martin@example.org", x.Account.Email)
		require.Equal(t, "Camille M.", x.Account.DisplayName, "rectification is in the export")
		require.Len(t, x.Webinars, 1)
		require.Equal(t, w.ID, x.Webinars[0].ID)
		require.Len(t, x.Invitations, 1)
		require.Equal(t, w.ID, x.Invitations[0].WebinarID)
		require.NotEmpty(t, x.ConnectionLog, "the person's own connection log")
		require.Equal(t, "login", x.ConnectionLog[0].Action)
		require.Equal(t, "127.0.0.1", x.ConnectionLog[0].IP)
		require.NotZero(t, x.ConnectionLog[0].Port)
		require.NotEmpty(t, x.AuditTrail)
		require.Equal(t, "12 months", x.Retention[privacy.CategoryConnectionLog].Kept)

		for _, foreign := range []string{"Pas à moi", theirs.ID, "karim", "Benali"} {
			require.NotContains(t, raw, foreign, "nothing about anyone else")
		}
		require.NotContains(t, raw, w.RoomID, "no secret link or room id")
		require.Contains(t, raw, `"broadcast_url":"rtmp://peertube.example.org/live"`)
		require.NotContains(t, raw, "secret-stream-key", "nor the broadcast's key")
	})
}

func TestErasure(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		ctx := context.Background()
		me, other := e.browser(), e.browser()
		me.Login(userOwner)
		other.Login(userOther)
		m, _ := getMe(me)
		w := createWebinar(me, newWebinar)
		createInvitation(me, w.ID, "attendee")
		kept := createWebinar(other, newWebinar)

		resp := e.browser().Do("DELETE", "/api/v1/me", nil, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "anonymous erases nothing")
		resp.Body.Close()
		resp = me.Do("DELETE", "/api/v1/me", nil, map[string]string{"X-CSRF-Token": ""})
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "erasure needs the CSRF token")
		resp.Body.Close()

		resp = me.Do("DELETE", "/api/v1/me", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var out struct {
			Erased    bool      `json:"erased"`
			Entries   int       `json:"connection_log_entries"`
			KeptUntil time.Time `json:"connection_log_kept_until"`
			Reason    string    `json:"connection_log_reason"`
		}
		decode(t, resp, &out)
		require.True(t, out.Erased)
		require.Equal(t, 1, out.Entries)
		require.Contains(t, out.Reason, "17(3)(b)")
		require.True(t, out.KeptUntil.After(e.clock.Now().AddDate(0, 11, 27)), "kept about 12 months: %s", out.KeptUntil)

		_, status := getMe(me)
		require.Equal(t, http.StatusUnauthorized, status, "the session went with the account")
		_, err := e.store.Organizer(ctx, m.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = e.store.WebinarOf(ctx, m.ID, w.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		invs, err := e.store.ListInvitations(ctx, w.ID)
		require.NoError(t, err)
		require.Empty(t, invs)
		events, err := e.store.AuditEventsOf(ctx, m.ID)
		require.NoError(t, err)
		require.Empty(t, events, "the audit trail no longer points to the person")

		// Only the connection log still names the person: a legal obligation.
		log, err := e.store.ConnectionLog(ctx, store.ConnectionFilter{ActorID: m.ID})
		require.NoError(t, err)
		require.Len(t, log, 1)

		// The other organizer is untouched.
		resp = other.Do("GET", "/api/v1/webinars/"+kept.ID, nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()

		entries, err := api.LedgerOf(e.api).Entries(ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, entries, 1)
		require.Equal(t, privacy.CategoryAccounts, entries[0].Category)
		require.Contains(t, entries[0].Rule, "art. 17")
		require.Equal(t, api.LedgerOf(e.api).ObjectHash(m.ID), entries[0].ObjectHash)
		require.NotContains(t, entries[0].ObjectHash, m.ID, "the ledger holds no id in clear")
	})
}

func TestRestrictionOfProcessing(t *testing.T) {
	e := setup(t, "sqlite", options{})
	me, admin := e.browser(), e.browser()
	me.Login(userOwner)
	admin.Login(userAdmin)
	m, _ := getMe(me)
	w := createWebinar(me, newWebinar)

	resp := admin.Do("GET", "/api/v1/admin/organizers?email=CAMILLE.MARTIN@example.org", nil, nil)
	var found struct {
		Items []struct{ ID string }
		Total int
	}
	decode(t, resp, &found)
	require.Equal(t, 1, found.Total, "found by email, whatever the case")
	require.Equal(t, m.ID, found.Items[0].ID)

	resp = admin.Do("POST", "/api/v1/admin/organizers/"+m.ID+"/restriction", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()

	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/webinars"}, {"PATCH", "/api/v1/webinars/" + w.ID}, {"DELETE", "/api/v1/me"}, {"POST", "/api/v1/webinars"},
	} {
		resp := me.Do(r.method, r.path, map[string]any{"title": "x"}, nil)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "%s %s", r.method, r.path)
		require.Equal(t, "restricted", problemOf(t, resp).Code)
	}
	_, status := getMe(me)
	require.Equal(t, http.StatusOK, status, "the person can still see...")
	resp = me.Do("GET", "/api/v1/me/export", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "...and export the data")
	resp.Body.Close()

	resp = admin.Do("POST", "/api/v1/admin/organizers/"+m.ID+"/restriction", nil, nil)
	var again struct{ Changed bool }
	decode(t, resp, &again)
	require.False(t, again.Changed, "restricting twice changes nothing")

	resp = admin.Do("DELETE", "/api/v1/admin/organizers/"+m.ID+"/restriction", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	resp = me.Do("GET", "/api/v1/webinars", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "lifted")
	resp.Body.Close()

	resp = admin.Do("GET", "/api/v1/admin/ledger", nil, nil)
	var ledger struct {
		Items []struct{ Rule, Category string }
	}
	decode(t, resp, &ledger)
	require.Len(t, ledger.Items, 2, "the ledger records the restriction and its lifting, once each")
	require.Contains(t, ledger.Items[0].Rule, "restriction of processing (GDPR art. 18)")
	require.Contains(t, ledger.Items[1].Rule, "lifted")

	resp = admin.Do("GET", "/api/v1/admin/ledger/export?format=csv", nil, nil)
	rows, err := csv.NewReader(strings.NewReader(readBody(t, resp))).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3, "a header and two entries")
	require.Equal(t, "seq", rows[0][0])

	resp = admin.Do("POST", "/api/v1/admin/organizers/00000000-0000-4000-8000-000000000000/restriction", nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp.Body.Close()
}

func TestConnectionLogThroughProxies(t *testing.T) {
	// The test's requests come from 127.0.0.1, which is the trusted proxy here.
	e := setup(t, "sqlite", options{trustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	admin := e.browser()
	admin.Login(userAdmin)
	ctx := context.Background()

	// Log in with forwarding headers: the client is the first untrusted address from the right.
	cases := []struct {
		name    string
		headers map[string]string
		ip      string
		port    int
	}{
		{"Forwarded with port", map[string]string{"Forwarded": `for="198.51.100.7:51234";proto=https`}, "198.51.100.7", 51234},
		{"Forwarded IPv6", map[string]string{"Forwarded": `for="[2001:db8::7]:4711"`}, "2001:db8::7", 4711},
		{"X-Forwarded-For chain", map[string]string{"X-Forwarded-For": "203.0.113.9, 127.0.0.2"}, "203.0.113.9", 0},
		{"forged first hop", map[string]string{"X-Forwarded-For": "6.6.6.6, 192.0.2.44"}, "192.0.2.44", 0},
		{"client's own Forwarded passed along", map[string]string{"X-Forwarded-For": "198.51.100.8", "Forwarded": `for="6.6.6.6:1"`}, "198.51.100.8", 0},
		{"both headers agree", map[string]string{"X-Forwarded-For": "198.51.100.9", "Forwarded": `for="198.51.100.9:40000"`}, "198.51.100.9", 40000},
		// A trusted proxy that says nothing of the client: its own port is not the client's.
		{"no forwarding header", map[string]string{}, "127.0.0.1", 0},
		{"unreadable hop", map[string]string{"X-Forwarded-For": "not-an-address"}, "127.0.0.1", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			loginWithHeaders(t, b, tc.headers)
			m, _ := getMe(b)
			log, err := e.store.ConnectionLog(ctx, store.ConnectionFilter{ActorID: m.ID, IP: tc.ip})
			require.NoError(t, err)
			require.NotEmpty(t, log, "logged as %s", tc.ip)
			require.Equal(t, tc.port, log[len(log)-1].Port)
		})
	}

	// Someone who is not a trusted proxy cannot choose the address that is logged.
	untrusted := setup(t, "sqlite", options{})
	b := untrusted.browser()
	loginWithHeaders(t, b, map[string]string{"Forwarded": `for="198.51.100.99:1"`, "X-Forwarded-For": "198.51.100.99"})
	m, _ := getMe(b)
	log, err := untrusted.store.ConnectionLog(ctx, store.ConnectionFilter{ActorID: m.ID})
	require.NoError(t, err)
	require.Len(t, log, 1)
	require.Equal(t, "127.0.0.1", log[0].IP, "forged forwarding headers are ignored")
	require.NotEqual(t, 1, log[0].Port)

	// A legal request: search by address and time range; the search is itself recorded.
	from, to := e.clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339), e.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	search := map[string]string{"ip": "198.51.100.7", "from": from, "to": to}
	resp := admin.Do("POST", "/api/v1/admin/connection-log/search", search, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var res struct {
		Items []struct {
			IP, Action, ActorID string
			Port                int
		}
	}
	decode(t, resp, &res)
	require.Len(t, res.Items, 1)
	require.Equal(t, 51234, res.Items[0].Port)
	events, err := e.store.AuditEvents(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "connection_log.search", events[0].Action)
	require.NotContains(t, events[0].Detail, "198.51.100.7", "the audit trail keeps a keyed hash, not the address")

	resp = admin.Do("POST", "/api/v1/admin/connection-log/search", map[string]string{"ip": "not-an-ip", "actor_id": strings.Repeat("x", 129)}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	var fields []string
	for _, fe := range problemOf(t, resp).Errors {
		fields = append(fields, fe.Field)
	}
	require.ElementsMatch(t, []string{"ip", "actor_id", "from"}, fields)
	me := e.browser()
	me.Login(userOwner)
	resp = me.Do("POST", "/api/v1/admin/connection-log/search", search, nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "only administrators read the connection log")
	resp.Body.Close()
}

// A search of the connection log is written to the audit trail, so it is a POST with the
// session's CSRF token: a link or a form on another site that an administrator opens
// cannot make a search, nor put one of its choice in the audit trail.
func TestConnectionLogSearchNeedsAPostWithCSRF(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		admin := e.browser()
		admin.Login(userAdmin)
		m, _ := getMe(admin)
		ctx := context.Background()
		searches := func() int {
			events, err := e.store.AuditEvents(ctx, 100)
			require.NoError(t, err)
			n := 0
			for _, ev := range events {
				if ev.Action == "connection_log.search" {
					n++
				}
			}
			return n
		}
		from, to := e.clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339), e.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		query := url.Values{"ip": {"198.51.100.7"}, "actor_id": {m.ID}, "from": {from}, "to": {to}}.Encode()
		body := map[string]string{"actor_id": m.ID, "from": from, "to": to}

		for _, tc := range []struct {
			name, method, path string
			body               any
			headers            map[string]string
			status             int
		}{
			{"a link to the old address", "GET", "/api/v1/admin/connection-log?" + query, nil, nil, http.StatusNotFound},
			{"a link to the search", "GET", "/api/v1/admin/connection-log/search?" + query, nil, nil, http.StatusMethodNotAllowed},
			{"no CSRF token", "POST", "/api/v1/admin/connection-log/search", body, map[string]string{"X-CSRF-Token": ""}, http.StatusForbidden},
			{"a wrong CSRF token", "POST", "/api/v1/admin/connection-log/search", body, map[string]string{"X-CSRF-Token": "forged"}, http.StatusForbidden},
			{"a form of another site", "POST", "/api/v1/admin/connection-log/search", url.Values{"actor_id": {m.ID}, "from": {from}, "to": {to}}.Encode(),
				map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": "", "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, http.StatusForbidden},
		} {
			resp := admin.Do(tc.method, tc.path, tc.body, tc.headers)
			readBody(t, resp)
			require.Equal(t, tc.status, resp.StatusCode, tc.name)
			require.Zero(t, searches(), "%s: nothing written to the audit trail", tc.name)
		}

		resp := admin.Do("POST", "/api/v1/admin/connection-log/search", body, nil)
		var res struct {
			Items []struct{ ActorID, Action string } `json:"items"`
		}
		require.Equal(t, http.StatusOK, resp.StatusCode)
		decode(t, resp, &res)
		require.NotEmpty(t, res.Items)
		require.Equal(t, "login", res.Items[0].Action)
		require.Equal(t, 1, searches(), "the search is audited")
	})
}

// loginWithHeaders logs in through the development provider, sending headers with every
// request of the flow (as a reverse proxy would add them).
func loginWithHeaders(t *testing.T, b *browser, headers map[string]string) {
	t.Helper()
	b.Client.Transport = headerTransport{headers: headers, base: http.DefaultTransport}
	b.Login(userOwner)
}

type headerTransport struct {
	headers map[string]string
	base    http.RoundTripper
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.headers {
		r.Header.Set(k, v)
	}
	return h.base.RoundTrip(r)
}

// The export holds every recording of the person's webinars, with its share links but not
// their tokens, and what an administrator did to the account.
func TestExportHoldsTheRecordingsAndWhatWasDoneToTheAccount(t *testing.T) {
	e := setup(t, "sqlite", options{})
	me, admin := e.browser(), e.browser()
	me.Login(userOwner)
	admin.Login(userAdmin)
	w := createWebinar(me, withoutLobby)
	rec := shortRecording(t, e, me, w.ID, createInvitation(me, w.ID, "attendee"))
	resp := me.Do("POST", "/api/v1/recordings/"+rec.ID+"/links", map[string]any{"audience": "public", "expires_in_days": 7}, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var link struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}
	decode(t, resp, &link)
	m, _ := getMe(me)
	for _, path := range []string{"POST", "DELETE"} {
		resp = admin.Do(path, "/api/v1/admin/organizers/"+m.ID+"/restriction", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()
	}

	resp = me.Do("GET", "/api/v1/me/export", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	raw := readBody(t, resp)
	var x struct {
		Recordings []struct {
			ID         string     `json:"id"`
			WebinarID  string     `json:"webinar_id"`
			State      string     `json:"state"`
			StartedAt  time.Time  `json:"started_at"`
			EndedAt    *time.Time `json:"ended_at"`
			DurationMS int64      `json:"duration_ms"`
			SizeBytes  int64      `json:"size_bytes"`
			ExpiresAt  time.Time  `json:"expires_at"`
			ShareLinks []struct {
				Audience  string    `json:"audience"`
				ExpiresAt time.Time `json:"expires_at"`
			} `json:"share_links"`
		} `json:"recordings"`
		AuditTrail []struct {
			Action   string `json:"action"`
			ObjectID string `json:"object_id"`
		} `json:"audit_trail"`
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &x))
	require.Len(t, x.Recordings, 1, "the recording, not an empty list")
	got := x.Recordings[0]
	require.Equal(t, rec.ID, got.ID)
	require.Equal(t, w.ID, got.WebinarID)
	require.Equal(t, "ready", got.State)
	require.NotNil(t, got.EndedAt)
	require.Positive(t, got.DurationMS)
	require.Positive(t, got.SizeBytes)
	require.Equal(t, rec.ExpiresAt.UTC(), got.ExpiresAt)
	require.Len(t, got.ShareLinks, 1)
	require.Equal(t, "public", got.ShareLinks[0].Audience)
	require.NotContains(t, raw, link.ID, "a share link's token is a secret link")
	var about []string
	for _, a := range x.AuditTrail {
		if a.ObjectID == m.ID {
			about = append(about, a.Action)
		}
	}
	require.Equal(t, []string{"organizer.login", "organizer.restricted", "organizer.restriction_lifted"}, about,
		"the login, and what the administrator did to the account")
}

// Every deletion a person makes is an entry of the ledger: a webinar with its invitations
// and stream key, a stream key alone (once, when there was one).
func TestDeletionsOfWebinarsAndStreamKeysAreInTheLedger(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		ctx := context.Background()
		me := e.browser()
		me.Login(userOwner)
		entries := func() []store.LedgerEntry {
			t.Helper()
			list, err := e.store.LedgerEntries(ctx, 0, 100)
			require.NoError(t, err)
			return list
		}
		w := createWebinar(me, newWebinar)
		createInvitation(me, w.ID, "attendee")
		createInvitation(me, w.ID, "presenter")
		resp := me.Do("POST", "/api/v1/webinars/"+w.ID+"/stream-key", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()
		keyed := createWebinar(me, newWebinar)
		resp = me.Do("POST", "/api/v1/webinars/"+keyed.ID+"/stream-key", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()
		before := len(entries())

		resp = me.Do("DELETE", "/api/v1/webinars/"+w.ID, nil, nil)
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		resp.Body.Close()
		for range 2 {
			resp = me.Do("DELETE", "/api/v1/webinars/"+keyed.ID+"/stream-key", nil, nil)
			require.Equal(t, http.StatusNoContent, resp.StatusCode)
			resp.Body.Close()
		}

		added := entries()[before:]
		require.Len(t, added, 2, "the webinar, then the stream key once: clearing it again deletes nothing")
		require.Equal(t, privacy.CategoryAccounts, added[0].Category)
		require.Contains(t, added[0].Rule, "webinar deleted")
		require.EqualValues(t, 4, added[0].Count, "the webinar, two invitations, its stream key")
		require.Contains(t, added[1].Rule, "stream key deleted")
		require.EqualValues(t, 1, added[1].Count)
		for _, a := range added {
			require.NotContains(t, a.ObjectHash, w.ID, "a keyed hash, not the id")
			require.NotContains(t, a.ObjectHash, keyed.ID)
		}
	})
}
