package api_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"
	"webinaire/store"

	"github.com/stretchr/testify/require"

	"webinaire/store/pgtest"
)

type webinar struct {
	ID               string    `json:"id"`
	Title            string    `json:"title"`
	Description      string    `json:"description"`
	Kind             string    `json:"kind"`
	StartsAt         time.Time `json:"starts_at"`
	DurationMinutes  int       `json:"duration_minutes"`
	LobbyEnabled     bool      `json:"lobby_enabled"`
	RecordingAllowed bool      `json:"recording_allowed"`
	RoomID           string    `json:"room_id"`
}

type invitation struct {
	ID        string     `json:"id"`
	Role      string     `json:"role"`
	URL       string     `json:"url"`
	ICSURL    string     `json:"ics_url"`
	RevokedAt *time.Time `json:"revoked_at"`
}

var newWebinar = map[string]any{
	"title": "Séminaire RGPD", "description": "Ordre du jour; questions, réponses",
	"kind": "webinar", "starts_at": "2026-12-03T14:00:00+01:00", "duration_minutes": 90,
	"lobby_enabled": true, "recording_allowed": true,
}

// withoutLobby is newWebinar whose attendees join at once.
var withoutLobby = func() map[string]any {
	m := maps.Clone(newWebinar)
	m["lobby_enabled"] = false
	return m
}()

func createWebinar(b *browser, body map[string]any) webinar {
	b.T.Helper()
	resp := b.Do("POST", "/api/v1/webinars", body, nil)
	require.Equal(b.T, http.StatusCreated, resp.StatusCode)
	var w webinar
	decode(b.T, resp, &w)
	return w
}

func createInvitation(b *browser, webinarID, role string) invitation {
	b.T.Helper()
	resp := b.Do("POST", "/api/v1/webinars/"+webinarID+"/invitations", map[string]string{"role": role}, nil)
	require.Equal(b.T, http.StatusCreated, resp.StatusCode)
	var inv invitation
	decode(b.T, resp, &inv)
	return inv
}

func TestWebinarLifecycle(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		b := e.browser()
		b.Login(userOwner)

		w := createWebinar(b, newWebinar)
		require.Equal(t, "Séminaire RGPD", w.Title)
		require.Equal(t, time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC), w.StartsAt.UTC())
		require.True(t, w.LobbyEnabled)
		require.Len(t, w.RoomID, 32, "160-bit room id")

		resp := b.Do("GET", "/api/v1/webinars?limit=10", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var list struct {
			Items []webinar `json:"items"`
			Total int       `json:"total"`
		}
		decode(t, resp, &list)
		require.Equal(t, 1, list.Total)
		require.Equal(t, w.ID, list.Items[0].ID)

		resp = b.Do("PATCH", "/api/v1/webinars/"+w.ID, map[string]any{"title": "Nouveau titre", "duration_minutes": 30}, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var updated webinar
		decode(t, resp, &updated)
		require.Equal(t, "Nouveau titre", updated.Title)
		require.Equal(t, 30, updated.DurationMinutes)
		require.Equal(t, w.Description, updated.Description, "fields not sent are kept")
		require.Equal(t, w.RoomID, updated.RoomID)

		inv := createInvitation(b, w.ID, "attendee")
		require.True(t, strings.HasPrefix(inv.URL, e.base+"/join/"), inv.URL)

		// The invitation link works without an account.
		token := strings.TrimPrefix(inv.URL, e.base+"/join/")
		anon := e.browser()
		resp = anon.Do("GET", "/api/v1/invitations/"+token, nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var pub map[string]any
		decode(t, resp, &pub)
		require.Equal(t, "Nouveau titre", pub["title"])
		require.Equal(t, "attendee", pub["role"])
		require.Equal(t, true, pub["recording_allowed"])
		require.NotContains(t, pub, "room_id", "the room id is not handed out with the invitation details")

		resp = anon.Do("GET", "/join/"+token, nil, nil)
		readBody(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode)

		for _, path := range []string{"/api/v1/webinars/" + w.ID + "/invitation.ics?invitation=" + inv.ID, strings.TrimPrefix(inv.ICSURL, e.base)} {
			client := b
			if !strings.HasPrefix(path, "/api/v1/webinars/") {
				client = anon
			}
			resp = client.Do("GET", path, nil, nil)
			body := readBody(t, resp)
			require.Equal(t, http.StatusOK, resp.StatusCode, path)
			require.Equal(t, "text/calendar; charset=utf-8", resp.Header.Get("Content-Type"))
			require.Contains(t, resp.Header.Get("Content-Disposition"), "attachment")
			unfolded := strings.ReplaceAll(body, "\r\n ", "")
			require.Contains(t, unfolded, "BEGIN:VEVENT\r\n")
			require.Contains(t, unfolded, "DTSTART:20261203T130000Z\r\n")
			require.Contains(t, unfolded, "DTEND:20261203T133000Z\r\n")
			require.Contains(t, unfolded, "SUMMARY:Nouveau titre\r\n")
			require.Contains(t, unfolded, "URL:"+inv.URL+"\r\n")
			require.Contains(t, unfolded, `Ordre du jour\; questions\, réponses`)
			for _, line := range strings.Split(body, "\r\n") {
				require.LessOrEqual(t, len(line), 75, "folded at 75 octets: %q", line)
			}
		}

		resp = b.Do("DELETE", "/api/v1/webinars/"+w.ID+"/invitations/"+inv.ID, nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var revoked invitation
		decode(t, resp, &revoked)
		require.NotNil(t, revoked.RevokedAt)
		resp = anon.Do("GET", "/api/v1/invitations/"+token, nil, nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "a revoked link is dead")
		resp.Body.Close()

		resp = b.Do("DELETE", "/api/v1/webinars/"+w.ID, nil, nil)
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		resp.Body.Close()
		resp = b.Do("GET", "/api/v1/webinars/"+w.ID, nil, nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		resp.Body.Close()

		events, err := e.store.AuditEvents(context.Background(), 20)
		require.NoError(t, err)
		var actions []string
		for _, ev := range events {
			actions = append(actions, ev.Action)
			require.NotContains(t, ev.Detail, "Nouveau titre", "the audit trail holds no content")
		}
		require.Subset(t, actions, []string{"webinar.create", "webinar.update", "invitation.create", "invitation.revoke", "webinar.delete"})
	})
}

// TestAuthorizationMatrix calls every endpoint as each role: anonymous, another organizer,
// the owner and an administrator.
func TestAuthorizationMatrix(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		owner, other, admin, anon := e.browser(), e.browser(), e.browser(), e.browser()
		owner.Login(userOwner)
		other.Login(userOther)
		admin.Login(userAdmin)

		w := createWebinar(owner, newWebinar)
		inv := createInvitation(owner, w.ID, "moderator")
		inv2 := createInvitation(owner, w.ID, "presenter")
		token := strings.TrimPrefix(inv.URL, e.base+"/join/")
		wid := "/api/v1/webinars/" + w.ID
		om, _ := getMe(other)
		otherID := om.ID

		type row struct {
			method, path string
			body         any
			// want is the status for anonymous, other organizer, owner, administrator.
			want [4]int
		}
		const (
			ok = http.StatusOK
			cr = http.StatusCreated
			nc = http.StatusNoContent
			un = http.StatusUnauthorized
			fb = http.StatusForbidden
			nf = http.StatusNotFound
			cf = http.StatusConflict
		)
		rows := []row{
			{"GET", "/api/v1/me", nil, [4]int{un, ok, ok, ok}},
			{"GET", "/api/v1/webinars", nil, [4]int{un, ok, ok, ok}},
			{"POST", "/api/v1/webinars", newWebinar, [4]int{un, cr, cr, cr}},
			{"GET", wid, nil, [4]int{un, nf, ok, nf}},
			{"PATCH", wid, map[string]any{"title": "x"}, [4]int{un, nf, ok, nf}},
			{"GET", wid + "/invitations", nil, [4]int{un, nf, ok, nf}},
			{"POST", wid + "/invitations", map[string]string{"role": "attendee"}, [4]int{un, nf, cr, nf}},
			{"DELETE", wid + "/invitations/" + inv2.ID, nil, [4]int{un, nf, ok, nf}},
			{"GET", wid + "/invitation.ics", nil, [4]int{un, nf, ok, nf}},
			{"POST", wid + "/join", nil, [4]int{un, nf, ok, nf}},
			{"POST", wid + "/stream-key", nil, [4]int{un, nf, ok, nf}},
			{"DELETE", wid + "/stream-key", nil, [4]int{un, nf, nc, nf}},
			// WHIP and WHEP take a bearer token, never the session: a cookie is not enough.
			{"POST", "/api/v1/whip/" + w.ID, "v=0\r\n", [4]int{un, un, un, un}},
			{"DELETE", "/api/v1/whip/" + w.ID + "/sessions/x", nil, [4]int{un, un, un, un}},
			{"POST", "/api/v1/whep", "v=0\r\n", [4]int{un, un, un, un}},
			{"DELETE", "/api/v1/whep/sessions/x", nil, [4]int{un, un, un, un}},
			{"POST", wid + "/recording", nil, [4]int{un, nf, cf, nf}},
			{"DELETE", wid + "/recording", nil, [4]int{un, nf, cf, nf}},
			{"GET", wid + "/recordings", nil, [4]int{un, nf, ok, nf}},
			{"GET", "/api/v1/recordings/" + store.NewSecret() + "/files/01-video.webm", nil, [4]int{un, nf, nf, nf}},
			{"DELETE", "/api/v1/recordings/" + store.NewSecret(), nil, [4]int{un, nf, nf, nf}},
			{"POST", "/api/v1/recordings/" + store.NewSecret() + "/links", map[string]any{"audience": "public", "expires_in_days": 7}, [4]int{un, nf, nf, nf}},
			{"GET", "/api/v1/recordings/" + store.NewSecret() + "/links", nil, [4]int{un, nf, nf, nf}},
			{"DELETE", "/api/v1/recordings/" + store.NewSecret() + "/links/" + store.NewSecret(), nil, [4]int{un, nf, nf, nf}},
			// A share link is the right: no session needed, an unknown one is not found.
			{"GET", "/api/v1/shared/" + store.NewSecret(), nil, [4]int{nf, nf, nf, nf}},
			{"GET", "/api/v1/shared/" + store.NewSecret() + "/files/replay.webm", nil, [4]int{nf, nf, nf, nf}},
			{"POST", wid + "/participants/nobody/remove", nil, [4]int{un, nf, nf, nf}},
			{"POST", wid + "/participants/nobody/role", map[string]string{"role": "presenter"}, [4]int{un, nf, nf, nf}},
			{"GET", "/api/v1/admin/organizers", nil, [4]int{un, fb, fb, ok}},
			{"GET", "/api/v1/admin/organizers?email=camille.martin@example.org", nil, [4]int{un, fb, fb, ok}},
			{"POST", "/api/v1/admin/organizers/" + otherID + "/restriction", nil, [4]int{un, fb, fb, ok}},
			{"DELETE", "/api/v1/admin/organizers/" + otherID + "/restriction", nil, [4]int{un, fb, fb, ok}},
			{"POST", "/api/v1/admin/connection-log/search", map[string]string{"actor_id": otherID, "from": "2000-01-01T00:00:00Z", "to": "2999-01-01T00:00:00Z"}, [4]int{un, fb, fb, ok}},
			{"GET", "/api/v1/admin/ledger", nil, [4]int{un, fb, fb, ok}},
			{"GET", "/api/v1/admin/ledger/export", nil, [4]int{un, fb, fb, ok}},
			{"GET", "/api/v1/admin/retention", nil, [4]int{un, fb, fb, ok}},
			{"POST", "/api/v1/admin/retention/run", nil, [4]int{un, fb, fb, ok}},
			{"GET", "/api/v1/admin/nodes", nil, [4]int{un, fb, fb, ok}},
			{"GET", "/api/v1/me/export", nil, [4]int{un, ok, ok, ok}},
			{"PATCH", "/api/v1/me", map[string]string{"display_name": "Nom"}, [4]int{un, ok, ok, ok}},
			{"GET", "/api/v1/invitations/" + token, nil, [4]int{ok, ok, ok, ok}},
			{"GET", "/api/v1/invitations/" + token + "/invitation.ics", nil, [4]int{ok, ok, ok, ok}},
			{"POST", "/api/v1/invitations/" + token + "/join", map[string]string{"display_name": "Zoé"}, [4]int{ok, ok, ok, ok}},
			{"DELETE", wid, nil, [4]int{un, nf, nc, nf}},
		}
		roles := []*browser{anon, other, owner, admin}
		names := []string{"anonymous", "other organizer", "owner", "administrator"}
		for _, r := range rows {
			// The owner goes last so that a deletion does not hide what the others would get.
			for _, i := range []int{0, 1, 3, 2} {
				resp := roles[i].Do(r.method, r.path, r.body, nil)
				body := readBody(t, resp)
				require.Equal(t, r.want[i], resp.StatusCode, "%s %s as %s: %s", r.method, r.path, names[i], body)
			}
		}

		// What an organizer lists is his own.
		resp := other.Do("GET", "/api/v1/webinars", nil, nil)
		var list struct{ Total int }
		decode(t, resp, &list)
		require.Equal(t, 1, list.Total, "the other organizer sees only the webinar he created")

		resp = admin.Do("GET", "/api/v1/admin/organizers", nil, nil)
		var orgs struct {
			Items []struct{ Email string }
			Total int
		}
		decode(t, resp, &orgs)
		require.Equal(t, 3, orgs.Total)
	})
}

func TestCSRF(t *testing.T) {
	e := setup(t, "sqlite", options{})
	b := e.browser()
	b.Login(userOwner)
	for name, headers := range map[string]map[string]string{
		"no token":    {"X-CSRF-Token": ""},
		"wrong token": {"X-CSRF-Token": "0123456789"},
	} {
		resp := b.Do("POST", "/api/v1/webinars", newWebinar, headers)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, name)
		require.Equal(t, "csrf", problemOf(t, resp).Code, name)
	}
	// A browser on another site sends the cookie along (SameSite=Lax still allows some
	// top-level requests) and no token; the Fetch Metadata check refuses it even with a token.
	resp := b.Do("POST", "/api/v1/webinars", newWebinar, map[string]string{"Sec-Fetch-Site": "cross-site"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "cross_origin", problemOf(t, resp).Code)
	resp = b.Do("DELETE", "/api/v1/webinars/x", nil, map[string]string{"Origin": "https://evil.example"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp.Body.Close()

	resp = b.Do("GET", "/api/v1/webinars", nil, nil)
	var list struct{ Total int }
	decode(t, resp, &list)
	require.Equal(t, 0, list.Total, "no refused request created anything")
}

func TestBadInput(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		b := e.browser()
		b.Login(userOwner)
		w := createWebinar(b, newWebinar)

		cases := []struct {
			name, method, path string
			body               any
			headers            map[string]string
			status             int
			code               string
			fields             []string
		}{
			{"malformed JSON", "POST", "/api/v1/webinars", `{"title": "x",`, nil, 400, "malformed_json", nil},
			{"not an object", "POST", "/api/v1/webinars", `[1,2]`, nil, 400, "malformed_json", nil},
			{"two values", "POST", "/api/v1/webinars", `{"title":"a"} {"title":"b"}`, nil, 400, "malformed_json", nil},
			{"trailing bracket", "POST", "/api/v1/webinars", `{"title":"a"}]`, nil, 400, "malformed_json", nil},
			{"null", "POST", "/api/v1/webinars", `null`, nil, 400, "malformed_json", nil},
			{"null on update", "PATCH", "/api/v1/webinars/" + w.ID, `null`, nil, 400, "malformed_json", nil},
			{"key in another case", "POST", "/api/v1/webinars", `{"TITLE":"a"}`, nil, 400, "unknown_field", []string{"TITLE"}},
			{"key twice", "PATCH", "/api/v1/webinars/" + w.ID, `{"title":"a","title":"b"}`, nil, 400, "malformed_json", []string{"title"}},
			{"control character in description", "PATCH", "/api/v1/webinars/" + w.ID, map[string]any{"description": "a\u0000b"}, nil, 422, "validation", []string{"description"}},
			{"fractional seconds", "PATCH", "/api/v1/webinars/" + w.ID, map[string]any{"starts_at": "2026-12-03T14:00:00.5Z"}, nil, 422, "validation", []string{"starts_at"}},
			{"year before 2000 in UTC", "PATCH", "/api/v1/webinars/" + w.ID, map[string]any{"starts_at": "2000-01-01T00:30:00+01:00"}, nil, 422, "validation", []string{"starts_at"}},
			{"empty body", "POST", "/api/v1/webinars", ``, nil, 400, "malformed_json", nil},
			{"unknown field", "POST", "/api/v1/webinars", `{"title":"a","owner":"me"}`, nil, 400, "unknown_field", []string{"owner"}},
			{"wrong type", "POST", "/api/v1/webinars", `{"duration_minutes":"long"}`, nil, 400, "malformed_json", []string{"duration_minutes"}},
			{"wrong media type", "POST", "/api/v1/webinars", `title=x`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", nil},
			{"too large", "POST", "/api/v1/webinars", `{"description":"` + strings.Repeat("a", 70<<10) + `"}`, nil, 413, "body_too_large", nil},
			{"missing fields", "POST", "/api/v1/webinars", `{}`, nil, 422, "validation", []string{"title", "kind", "starts_at", "duration_minutes"}},
			{"bad values", "POST", "/api/v1/webinars", map[string]any{
				"title": "  ", "kind": "party", "starts_at": "tomorrow", "duration_minutes": 0, "description": strings.Repeat("é", 4001),
			}, nil, 422, "validation", []string{"title", "kind", "starts_at", "duration_minutes", "description"}},
			{"title with a line break", "PATCH", "/api/v1/webinars/" + w.ID, map[string]any{"title": "a\nb"}, nil, 422, "validation", []string{"title"}},
			{"title with a right-to-left override", "PATCH", "/api/v1/webinars/" + w.ID, map[string]any{"title": "Facture \u202Efdp.exe"}, nil, 422, "validation", []string{"title"}},
			{"title with a line separator", "PATCH", "/api/v1/webinars/" + w.ID, map[string]any{"title": "a\u2028b"}, nil, 422, "validation", []string{"title"}},
			{"title with an isolate", "POST", "/api/v1/webinars", map[string]any{
				"title": "a\u2067b", "kind": "meeting", "starts_at": "2026-12-03T14:00:00Z", "duration_minutes": 30,
			}, nil, 422, "validation", []string{"title"}},
			{"description with a paragraph separator", "PATCH", "/api/v1/webinars/" + w.ID, map[string]any{"description": "a\u2029b"}, nil, 422, "validation", []string{"description"}},
			{"description with an override", "POST", "/api/v1/webinars", map[string]any{
				"title": "a", "description": "line\n\u202Dback", "kind": "meeting", "starts_at": "2026-12-03T14:00:00Z", "duration_minutes": 30,
			}, nil, 422, "validation", []string{"description"}},
			{"bad role", "POST", "/api/v1/webinars/" + w.ID + "/invitations", map[string]string{"role": "owner"}, nil, 422, "validation", []string{"role"}},
			{"bad paging", "GET", "/api/v1/webinars?limit=1000&offset=-1", nil, nil, 422, "validation", []string{"limit", "offset"}},
			{"not a uuid", "GET", "/api/v1/webinars/../../etc", nil, nil, 404, "not_found", nil},
			{"unknown webinar", "GET", "/api/v1/webinars/00000000-0000-4000-8000-000000000000", nil, nil, 404, "not_found", nil},
			{"unknown route", "GET", "/api/v1/nothing", nil, nil, 404, "not_found", nil},
			{"wrong method", "PUT", "/api/v1/webinars", `{}`, nil, 405, "method_not_allowed", nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp := b.Do(tc.method, tc.path, tc.body, tc.headers)
				require.Equal(t, tc.status, resp.StatusCode)
				p := problemOf(t, resp)
				require.Equal(t, tc.code, p.Code)
				var fields []string
				for _, fe := range p.Errors {
					fields = append(fields, fe.Field)
					require.NotEmpty(t, fe.Detail)
				}
				require.ElementsMatch(t, tc.fields, fields)
			})
		}

		resp := b.Do("GET", "/api/v1/webinars/"+w.ID, nil, nil)
		var got webinar
		decode(t, resp, &got)
		require.Equal(t, newWebinar["title"], got.Title, "no failed request changed the webinar")
		resp = b.Do("GET", "/api/v1/webinars", nil, nil)
		var list struct{ Total int }
		decode(t, resp, &list)
		require.Equal(t, 1, list.Total, "no failed request created a webinar")
	})
}

// Text in any script, right-to-left included, keeps its line breaks and tabs: only the
// characters that reorder or break what others read are refused.
func TestTitleAndDescriptionKeepText(t *testing.T) {
	e := setup(t, "sqlite", options{})
	b := e.browser()
	b.Login(userOwner)
	body := map[string]any{
		"title": "Séminaire « RGPD » — שלום עולם — مرحبا", "description": "Ordre du jour :\n\t1. accueil\r\n\t2. questions",
		"kind": "meeting", "starts_at": "2026-12-03T14:00:00Z", "duration_minutes": 30,
	}
	w := createWebinar(b, body)
	require.Equal(t, body["title"], w.Title)
	require.Equal(t, body["description"], w.Description)
}

func TestPaging(t *testing.T) {
	e := setup(t, "sqlite", options{})
	b := e.browser()
	b.Login(userOwner)
	for i := range 5 {
		body := map[string]any{"title": fmt.Sprintf("W%d", i), "kind": "meeting", "starts_at": fmt.Sprintf("2026-12-0%dT10:00:00Z", 5-i), "duration_minutes": 30}
		createWebinar(b, body)
	}
	var titles []string
	for offset := 0; offset < 5; offset += 2 {
		resp := b.Do("GET", fmt.Sprintf("/api/v1/webinars?limit=2&offset=%d", offset), nil, nil)
		var page struct {
			Items []webinar
			Total int
		}
		decode(t, resp, &page)
		require.Equal(t, 5, page.Total)
		for _, w := range page.Items {
			titles = append(titles, w.Title)
		}
	}
	require.Equal(t, []string{"W4", "W3", "W2", "W1", "W0"}, titles, "by start time, each once")
}

func TestDatabaseGoesAway(t *testing.T) {
	var proxy *pgtest.Proxy
	e := setup(t, "postgres", options{proxy: &proxy})
	b := e.browser()
	b.Login(userOwner)
	w := createWebinar(b, newWebinar)

	proxy.Cut()
	resp := b.Do("GET", "/api/v1/webinars", nil, nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	p := problemOf(t, resp)
	require.Equal(t, "database_unavailable", p.Code)
	resp = b.Do("POST", "/api/v1/webinars", map[string]any{"title": "Pendant la panne", "kind": "meeting", "starts_at": "2026-12-01T10:00:00Z", "duration_minutes": 10}, nil)
	body := readBody(t, resp)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	for _, leak := range []string{"dial", "tcp", "127.0.0.1", "pgx", "sql", "EOF"} {
		require.NotContains(t, body, leak, "no database text reaches the client")
	}
	resp, err := http.Get(e.base + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "readiness follows the database")

	proxy.Restore()
	resp = b.Do("GET", "/api/v1/webinars", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list struct {
		Items []webinar
		Total int
	}
	decode(t, resp, &list)
	require.Equal(t, 1, list.Total, "what was there is still there, and nothing half-written appeared")
	require.Equal(t, w.ID, list.Items[0].ID)
}
