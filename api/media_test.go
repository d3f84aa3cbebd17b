package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/sfu"
)

// joinAnswer is the answer of the join endpoints.
type joinAnswer struct {
	Token         string          `json:"token"`
	WSURL         string          `json:"ws_url"`
	RoomID        string          `json:"room_id"`
	ParticipantID string          `json:"participant_id"`
	DisplayName   string          `json:"display_name"`
	Role          string          `json:"role"`
	Kind          string          `json:"kind"`
	ExpiresAt     time.Time       `json:"expires_at"`
	ICEServers    []sfu.ICEServer `json:"ice_servers"`
}

// joinAsOwner asks for the owner's token of webinar id.
func joinAsOwner(b *browser, id string) joinAnswer {
	b.T.Helper()
	resp := b.Do("POST", "/api/v1/webinars/"+id+"/join", nil, nil)
	require.Equal(b.T, http.StatusOK, resp.StatusCode)
	var j joinAnswer
	decode(b.T, resp, &j)
	return j
}

// joinAsGuest asks for a token with the invitation link url, under name.
func joinAsGuest(b *browser, url, name string) joinAnswer {
	b.T.Helper()
	resp := b.Do("POST", "/api/v1/invitations/"+invitationToken(url)+"/join", map[string]any{"display_name": name}, nil)
	require.Equal(b.T, http.StatusOK, resp.StatusCode)
	var j joinAnswer
	decode(b.T, resp, &j)
	return j
}

// invitationToken is the token of an invitation link.
func invitationToken(url string) string { return url[strings.LastIndex(url, "/")+1:] }

func TestJoinTokens(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		owner, anon, admin := e.browser(), e.browser(), e.browser()
		owner.Login(userOwner)
		admin.Login(userAdmin)
		w := createWebinar(owner, newWebinar)

		// The owner: a moderator of the webinar's room, under the organizer's name.
		resp := owner.Do("POST", "/api/v1/webinars/"+w.ID+"/join", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		raw := readBody(t, resp)
		require.Contains(t, raw, `"ice_servers":[]`, "no ICE server is handed out, not even a public STUN server")
		var j joinAnswer
		require.NoError(t, json.Unmarshal([]byte(raw), &j))
		require.Equal(t, "ws://"+strings.TrimPrefix(e.base, "http://")+"/api/v1/rtc", j.WSURL)
		require.Equal(t, w.RoomID, j.RoomID)
		require.Equal(t, "moderator", j.Role)
		require.Equal(t, "webinar", j.Kind)
		require.Equal(t, "Camille Martin", j.DisplayName)
		require.WithinDuration(t, time.Now().Add(2*time.Hour), j.ExpiresAt, 5*time.Second)
		claims, err := e.tokens.Verify(j.Token, time.Now())
		require.NoError(t, err, "the SFU accepts the token")
		require.Equal(t, sfu.Claims{
			Room: w.RoomID, Participant: j.ParticipantID, Name: "Camille Martin",
			Role: sfu.RoleModerator, Kind: sfu.KindWebinar, IssuedAt: claims.IssuedAt, Expiry: j.ExpiresAt.Local(),
		}, claims)
		again := joinAsOwner(owner, w.ID)
		require.NotEqual(t, j.ParticipantID, again.ParticipantID, "each join is a new participant")

		// A guest with an attendee link: an attendee, under the name it typed.
		inv := createInvitation(owner, w.ID, "attendee")
		g := joinAsGuest(anon, inv.URL, "  Zoé Martin ")
		require.Equal(t, "attendee", g.Role)
		require.Equal(t, "Zoé Martin", g.DisplayName)
		claims, err = e.tokens.Verify(g.Token, time.Now())
		require.NoError(t, err)
		require.Equal(t, sfu.RoleAttendee, claims.Role)
		require.Equal(t, "Zoé Martin", claims.Name)
		require.Equal(t, w.RoomID, claims.Room)
		require.Equal(t, sfu.KindWebinar, claims.Kind)
		p := createInvitation(owner, w.ID, "presenter")
		require.Equal(t, "presenter", joinAsGuest(anon, p.URL, "Dr Durand").Role)

		// The display name.
		path := "/api/v1/invitations/" + invitationToken(inv.URL) + "/join"
		for _, tc := range []struct {
			name   string
			body   any
			status int
		}{
			{"missing", map[string]any{}, http.StatusUnprocessableEntity},
			{"null", map[string]any{"display_name": nil}, http.StatusUnprocessableEntity},
			{"blank", map[string]any{"display_name": "   "}, http.StatusUnprocessableEntity},
			{"65 characters", map[string]any{"display_name": strings.Repeat("a", 65)}, http.StatusUnprocessableEntity},
			{"64 characters", map[string]any{"display_name": strings.Repeat("é", 64)}, http.StatusOK},
			{"over 128 bytes", map[string]any{"display_name": strings.Repeat("日", 43)}, http.StatusUnprocessableEntity},
			{"two lines", map[string]any{"display_name": "Zoé\nMartin"}, http.StatusUnprocessableEntity},
			{"text direction override", map[string]any{"display_name": "Zoé \u202eexe.nitram"}, http.StatusUnprocessableEntity},
			{"not a string", map[string]any{"display_name": 42}, http.StatusBadRequest},
			{"unknown field", map[string]any{"name": "Zoé"}, http.StatusBadRequest},
		} {
			resp := anon.Do("POST", path, tc.body, nil)
			if tc.status == http.StatusOK {
				require.Equal(t, tc.status, resp.StatusCode, tc.name)
				resp.Body.Close()
				continue
			}
			pb := problemOf(t, resp)
			require.Equal(t, tc.status, pb.Status, tc.name)
			if tc.status == http.StatusUnprocessableEntity {
				require.Equal(t, "validation", pb.Code, tc.name)
				require.Equal(t, "display_name", pb.Errors[0].Field, tc.name)
			}
		}

		// A revoked or unknown link gives nothing.
		resp = owner.Do("DELETE", "/api/v1/webinars/"+w.ID+"/invitations/"+inv.ID, nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()
		for _, token := range []string{invitationToken(inv.URL), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} {
			resp = anon.Do("POST", "/api/v1/invitations/"+token+"/join", map[string]any{"display_name": "Zoé"}, nil)
			require.Equal(t, "not_found", problemOf(t, resp).Code)
		}

		// A meeting gives meeting tokens.
		m := createWebinar(owner, map[string]any{"title": "Point", "kind": "meeting", "starts_at": "2026-12-03T14:00:00Z", "duration_minutes": 30})
		require.Equal(t, "meeting", joinAsOwner(owner, m.ID).Kind)

		// A restricted account may not join its webinars any more.
		me, _ := getMe(owner)
		resp = admin.Do("POST", "/api/v1/admin/organizers/"+me.ID+"/restriction", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()
		resp = owner.Do("POST", "/api/v1/webinars/"+w.ID+"/join", nil, nil)
		require.Equal(t, "restricted", problemOf(t, resp).Code)

		require.NotContains(t, e.logs.String(), j.Token[:20], "a join token never reaches the log")
		require.NotContains(t, e.logs.String(), g.Token[:20])
	})
}
