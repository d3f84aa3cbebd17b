package api_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/api"
	"webinaire/api/wsclient"
	"webinaire/sfu"
	"webinaire/sfu/client"
	"webinaire/sfu/signal"
	"webinaire/store"
)

// rtcWait bounds every wait on the network in these tests.
const rtcWait = 20 * time.Second

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
		require.WithinDuration(t, time.Now().Add(api.DefaultEntryTokenLifetime), j.ExpiresAt, 5*time.Second)
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
		require.Equal(t, inv.ID, claims.Invitation, "every entry checks the invitation")
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

func TestMediaThroughTheSignallingEndpoint(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{})
		start := time.Now().Add(-time.Second)
		owner, anon := e.browser(), e.browser()
		owner.Login(userOwner)
		me, _ := getMe(owner)
		w := createWebinar(owner, map[string]any{"title": "Point", "kind": "meeting", "starts_at": "2026-12-03T14:00:00Z", "duration_minutes": 30})
		inv := createInvitation(owner, w.ID, "attendee")

		oj := joinAsOwner(owner, w.ID)
		gj := joinAsGuest(anon, inv.URL, "Zoé Martin")
		o := connectRTC(t, e, oj)
		o.waitJoined()
		g := connectRTC(t, e, gj)
		joined := g.waitJoined()
		require.Equal(t, signal.KindMeeting, joined.RoomKind)
		require.Equal(t, signal.RoleAttendee, joined.Role)
		o.publish()
		g.publish()
		// Each receives the other's camera and microphone.
		o.waitMedia(gj.ParticipantID, 20)
		g.waitMedia(oj.ParticipantID, 20)

		// The connection log has the joins, with the client's address and port.
		ctx := context.Background()
		entries := func(actor string) []store.ConnectionEvent {
			list, err := e.store.ConnectionLog(ctx, store.ConnectionFilter{ActorID: actor, From: start, To: time.Now().Add(time.Minute), Limit: 10})
			require.NoError(t, err)
			return list
		}
		ol, gl := entries(me.ID), entries(gj.ParticipantID)
		require.Len(t, ol, 2, "the owner's login and join")
		require.Equal(t, "login", ol[0].Action)
		oe := ol[1]
		require.Equal(t, store.ConnectionEvent{
			ID: oe.ID, At: oe.At, ActorKind: "organizer", ActorID: me.ID, IP: "127.0.0.1", Port: o.localPort,
			Action: "join", WebinarID: w.ID, Protocol: "websocket",
		}, oe)
		require.Len(t, gl, 1)
		ge := gl[0]
		require.Equal(t, store.ConnectionEvent{
			ID: ge.ID, At: ge.At, ActorKind: "guest", ActorID: gj.ParticipantID, DisplayName: "Zoé Martin",
			IP: "127.0.0.1", Port: g.localPort, Action: "join", WebinarID: w.ID, Protocol: "websocket",
		}, ge)
		require.NotZero(t, ge.Port)
		require.NotEqual(t, oe.Port, ge.Port)

		// Leaving writes the leaves, from the same connections.
		require.Equal(t, websocket.StatusNormalClosure, g.leave())
		require.Equal(t, websocket.StatusNormalClosure, o.leave())
		for _, who := range []struct {
			actor string
			port  int
		}{{me.ID, o.localPort}, {gj.ParticipantID, g.localPort}} {
			var list []store.ConnectionEvent
			require.Eventually(t, func() bool {
				list = entries(who.actor)
				return len(list) > 0 && list[len(list)-1].Action == "leave"
			}, rtcWait, 10*time.Millisecond, "a leave entry for %s", who.actor)
			leave := list[len(list)-1]
			require.Equal(t, "127.0.0.1", leave.IP)
			require.Equal(t, who.port, leave.Port)
			require.Equal(t, w.ID, leave.WebinarID)
		}
		for _, port := range []int{o.localPort, g.localPort} {
			require.NotContains(t, e.logs.String(), "127.0.0.1:"+strconv.Itoa(port), "no client address in the ordinary log")
		}
	})
}

func TestModeration(t *testing.T) {
	e := setup(t, "sqlite", options{})
	owner, other, anon := e.browser(), e.browser(), e.browser()
	owner.Login(userOwner)
	other.Login(userOther)
	w := createWebinar(owner, withoutLobby)
	inv := createInvitation(owner, w.ID, "attendee")
	wid := "/api/v1/webinars/" + w.ID
	gj := joinAsGuest(anon, inv.URL, "Zoé Martin")

	// Nobody is there yet.
	resp := owner.Do("POST", wid+"/participants/"+gj.ParticipantID+"/role", map[string]string{"role": "presenter"}, nil)
	require.Equal(t, http.StatusNotFound, problemOf(t, resp).Status, "the room is not open")

	oj := joinAsOwner(owner, w.ID)
	o := connectRTC(t, e, oj)
	o.waitJoined()
	g := connectRTC(t, e, gj)
	g.waitJoined()

	// Roles.
	resp = owner.Do("POST", wid+"/participants/"+gj.ParticipantID+"/role", map[string]string{"role": "presenter"}, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp.Body.Close()
	m := g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "role" })
	require.Equal(t, gj.ParticipantID, m.ParticipantID)
	require.Equal(t, signal.RolePresenter, m.Role)
	resp = owner.Do("POST", wid+"/participants/"+gj.ParticipantID+"/role", map[string]string{"role": "host"}, nil)
	require.Equal(t, "validation", problemOf(t, resp).Code)
	resp = owner.Do("POST", wid+"/participants/nobody/role", map[string]string{"role": "attendee"}, nil)
	require.Equal(t, "not_found", problemOf(t, resp).Code)

	// Another organizer cannot act on the room.
	resp = other.Do("POST", wid+"/participants/"+gj.ParticipantID+"/remove", nil, nil)
	require.Equal(t, "not_found", problemOf(t, resp).Code)
	resp = other.Do("POST", wid+"/participants/"+gj.ParticipantID+"/role", map[string]string{"role": "attendee"}, nil)
	require.Equal(t, "not_found", problemOf(t, resp).Code)

	// Removing: the guest's WebSocket is closed, and its token is refused from then on.
	resp = owner.Do("POST", wid+"/participants/"+gj.ParticipantID+"/remove", nil, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp.Body.Close()
	require.Equal(t, websocket.StatusCode(signal.CloseRemoved), g.waitClosed())
	require.Equal(t, "removed", g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "error" }).Code)
	o.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == "participant_left" && m.ParticipantID == gj.ParticipantID
	})

	again := connectRTC(t, e, gj)
	require.Equal(t, "token_revoked", again.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "error" }).Code)
	require.Equal(t, websocket.StatusCode(signal.CloseUnauthorized), again.waitClosed())

	resp = owner.Do("POST", wid+"/participants/"+gj.ParticipantID+"/remove", nil, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, "someone the room has had may be removed again")
	resp.Body.Close()
	resp = owner.Do("POST", wid+"/participants/neverinthisroom/remove", nil, nil)
	require.Equal(t, "not_found", problemOf(t, resp).Code, "never in the room")
	resp = owner.Do("POST", wid+"/participants/not%20an%20id/remove", nil, nil)
	require.Equal(t, "not_found", problemOf(t, resp).Code)

	audit, err := e.store.AuditEvents(context.Background(), 100)
	require.NoError(t, err)
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action)
	}
	require.Contains(t, actions, "participant.remove")
	require.Contains(t, actions, "participant.role")
}

func TestClosingTheSFUEndsTheSessions(t *testing.T) {
	e := setup(t, "sqlite", options{})
	owner, anon := e.browser(), e.browser()
	owner.Login(userOwner)
	w := createWebinar(owner, withoutLobby)
	inv := createInvitation(owner, w.ID, "attendee")
	gj := joinAsGuest(anon, inv.URL, "Zoé Martin")
	g := connectRTC(t, e, gj)
	g.waitJoined()

	require.NoError(t, e.sfu.Close(), "what serve does at shutdown")
	require.Equal(t, websocket.StatusGoingAway, g.waitClosed())
	require.Equal(t, "server_closing", g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "error" }).Code)
	// Close returns once the sessions have ended, their leaves written.
	list, err := e.store.ConnectionLog(context.Background(), store.ConnectionFilter{ActorID: gj.ParticipantID, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, []string{"join", "leave"}, []string{list[0].Action, list[1].Action})

	c := connectRTC(t, e, gj)
	require.Equal(t, websocket.StatusGoingAway, c.waitClosed(), "a closed SFU takes no new session")
}

func TestSignallingEndpointRefusals(t *testing.T) {
	e := setup(t, "sqlite", options{})
	owner := e.browser()
	owner.Login(userOwner)
	w := createWebinar(owner, newWebinar)
	j := joinAsOwner(owner, w.ID)
	ctx := context.Background()

	t.Run("another origin", func(t *testing.T) {
		for _, origin := range []string{"http://evil.example", "https://" + strings.TrimPrefix(e.base, "http://"), "null"} {
			ws, resp, err := websocket.Dial(ctx, j.WSURL, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
			require.Error(t, err, origin)
			require.Nil(t, ws)
			require.Equal(t, http.StatusForbidden, resp.StatusCode, origin)
		}
		// A client that is not a browser sends no Origin.
		ws, _, err := websocket.Dial(ctx, j.WSURL, nil)
		require.NoError(t, err)
		ws.CloseNow()
	})

	t.Run("not a WebSocket", func(t *testing.T) {
		resp := owner.Do("GET", "/api/v1/rtc", nil, nil)
		require.Equal(t, "websocket_required", problemOf(t, resp).Code)
		require.Equal(t, http.StatusUpgradeRequired, resp.StatusCode)
	})

	t.Run("a first message that is not a join", func(t *testing.T) {
		c := connectRTC(t, e, joinAnswer{WSURL: j.WSURL})
		c.sendRaw(websocket.MessageText, []byte("hello"))
		require.Equal(t, "join_required", c.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "error" }).Code)
		require.Equal(t, websocket.StatusPolicyViolation, c.waitClosed())
	})

	t.Run("a bad token", func(t *testing.T) {
		c := connectRTC(t, e, joinAnswer{WSURL: j.WSURL, Token: j.Token + "x"})
		require.Equal(t, "token_invalid", c.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "error" }).Code)
		require.Equal(t, websocket.StatusCode(signal.CloseUnauthorized), c.waitClosed())
	})

	t.Run("an oversized message", func(t *testing.T) {
		c := connectRTC(t, e, j)
		c.waitJoined()
		big, _ := json.Marshal(map[string]string{"type": "mute", "label": strings.Repeat("x", signal.MaxMessageSize)})
		c.sendRaw(websocket.MessageText, big)
		require.Equal(t, websocket.StatusMessageTooBig, c.waitClosed())
	})

	t.Run("a binary message", func(t *testing.T) {
		c := connectRTC(t, e, j)
		c.waitJoined()
		c.sendRaw(websocket.MessageBinary, []byte(`{"type":"leave"}`))
		require.Equal(t, websocket.StatusUnsupportedData, c.waitClosed())
	})
}

// rtcClient is a participant: an sfu/client over the server's signalling WebSocket. It
// keeps every message the server sends, for the tests to wait on.
type rtcClient struct {
	t *testing.T
	*client.Client
	ws        *wsclient.Conn
	localPort int // the WebSocket's source port

	mu      sync.Mutex
	msgs    []signal.ServerMessage
	changed chan struct{} // closed and replaced at each message
}

// connectRTC opens the signalling WebSocket with the page's origin and sends a join with
// j's token, when there is one.
func connectRTC(t *testing.T, e *env, j joinAnswer) *rtcClient {
	t.Helper()
	c := &rtcClient{t: t, changed: make(chan struct{})}
	dialer := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dialer.DialContext(ctx, network, addr)
		if err == nil {
			c.localPort = conn.LocalAddr().(*net.TCPAddr).Port
		}
		return conn, err
	}}}
	ws, err := wsclient.Dial(context.Background(), j.WSURL, http.Header{"Origin": {e.base}}, hc)
	require.NoError(t, err)
	c.ws = ws
	api, err := client.NewAPI(client.APIParams{LoopbackOnly: true})
	require.NoError(t, err)
	c.Client, err = client.New(client.Params{
		Conn:      ws,
		API:       api,
		OnMessage: c.record,
		OnError:   func(err error) { t.Errorf("negotiation: %v", err) },
	})
	require.NoError(t, err)
	c.Start(context.Background())
	t.Cleanup(func() { _ = c.Close() })
	if j.Token != "" {
		_ = c.Send(context.Background(), map[string]any{"type": "join", "token": j.Token}) // a closed connection shows in waitClosed
	}
	return c
}

func (c *rtcClient) record(m signal.ServerMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m)
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *rtcClient) sendRaw(typ websocket.MessageType, b []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), rtcWait)
	defer cancel()
	_ = c.ws.WebSocket().Write(ctx, typ, b) // a closed connection shows in waitClosed
}

// publish publishes a camera and a microphone.
func (c *rtcClient) publish() {
	require.NoError(c.t, c.Publish(context.Background(), client.Media{VideoBitrate: 150_000, KeyframeInterval: time.Second}))
}

// waitMsg waits for a message matching ok and returns it.
func (c *rtcClient) waitMsg(ok func(signal.ServerMessage) bool) signal.ServerMessage {
	c.t.Helper()
	deadline := time.NewTimer(rtcWait)
	defer deadline.Stop()
	for seen := 0; ; {
		c.mu.Lock()
		msgs, changed := c.msgs, c.changed
		c.mu.Unlock()
		for ; seen < len(msgs); seen++ {
			if ok(msgs[seen]) {
				return msgs[seen]
			}
		}
		select {
		case <-changed:
		case <-deadline.C:
			c.t.Fatalf("no such message in %s", rtcWait)
		}
	}
}

// waitJoined waits for the joined message.
func (c *rtcClient) waitJoined() signal.ServerMessage {
	c.t.Helper()
	m := c.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "joined" || m.Type == "error" })
	require.Equal(c.t, "joined", m.Type, "join refused: %s %s", m.Code, m.Message)
	return m
}

// waitMedia waits until n packets of video and n of audio have come from participant.
func (c *rtcClient) waitMedia(participant string, n uint64) {
	c.t.Helper()
	require.Eventually(c.t, func() bool {
		var video, audio uint64
		for _, s := range c.Received() {
			if s.ParticipantID != participant {
				continue
			}
			switch s.Kind {
			case webrtc.RTPCodecTypeVideo:
				video += s.Packets
			case webrtc.RTPCodecTypeAudio:
				audio += s.Packets
			}
		}
		return video >= n && audio >= n
	}, rtcWait, 10*time.Millisecond, "media of %s", participant)
}

// waitClosed waits for the server to close the WebSocket and returns its close code.
func (c *rtcClient) waitClosed() websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.Done():
	case <-time.After(rtcWait):
		c.t.Fatalf("no close in %s", rtcWait)
	}
	return websocket.CloseStatus(c.Err())
}

// leave sends a leave message and returns the code the server closes with.
func (c *rtcClient) leave() websocket.StatusCode {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), rtcWait)
	defer cancel()
	require.NoError(c.t, c.Leave(ctx))
	return c.waitClosed()
}
