package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// TestAutomaticCaptionsFromTheSpeechService: with a speech-to-text service configured, the
// owner turns a room's automatic captions on; the room's audio reaches the service, whose
// text reaches the participants as automatic captions; then off. Without a service, the
// captions cannot be turned on.
func TestAutomaticCaptionsFromTheSpeechService(t *testing.T) {
	var frames atomic.Int64
	stt := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		for {
			typ, _, err := conn.Read(r.Context())
			if err != nil {
				return
			}
			if typ == websocket.MessageBinary && frames.Add(1) == 1 {
				_ = conn.Write(r.Context(), websocket.MessageText, []byte(`{"text":"texte de la machine"}`))
			}
		}
	}))
	defer stt.Close()

	e := setup(t, "sqlite", options{sttURL: "ws" + strings.TrimPrefix(stt.URL, "http")})
	owner, anon := e.browser(), e.browser()
	owner.Login(userOwner)
	w := createWebinar(owner, withoutLobby)
	path := "/api/v1/webinars/" + w.ID + "/captions"
	resp := owner.Do("POST", path, nil, nil)
	require.Equal(t, "room_not_open", problemOf(t, resp).Code)

	o := connectRTC(t, e, joinAsOwner(owner, w.ID))
	o.waitJoined()
	o.publish()
	g := connectRTC(t, e, joinAsGuest(anon, createInvitation(owner, w.ID, "attendee").URL, "Zoé Martin"))
	g.waitJoined()

	resp = owner.Do("POST", path, nil, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	resp = owner.Do("POST", path, nil, nil)
	require.Equal(t, "captions_active", problemOf(t, resp).Code)
	got := g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "caption" && m.Text == "texte de la machine" })
	require.True(t, got.Automatic)
	require.Positive(t, frames.Load(), "the room's audio reached the service")
	resp = owner.Do("DELETE", path, nil, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp = owner.Do("DELETE", path, nil, nil)
	require.Equal(t, "captions_inactive", problemOf(t, resp).Code)

	off := setup(t, "sqlite", options{})
	offOwner := off.browser()
	offOwner.Login(userOwner)
	w2 := createWebinar(offOwner, withoutLobby)
	resp = offOwner.Do("POST", "/api/v1/webinars/"+w2.ID+"/captions", nil, nil)
	require.Equal(t, "captions_not_configured", problemOf(t, resp).Code)
}
