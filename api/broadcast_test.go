package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/recording/recordingtest"
	"webinaire/sfu/signal"
	"webinaire/store"
)

type broadcastOut struct {
	TargetURL *string `json:"target_url"`
	State     string  `json:"state"`
	Reason    string  `json:"reason"`
	Error     string  `json:"error"`
	Attempts  int     `json:"attempts"`
}

func getBroadcast(b *browser, webinarID string) (broadcastOut, string) {
	b.T.Helper()
	resp := b.Do("GET", "/api/v1/webinars/"+webinarID+"/broadcast", nil, nil)
	require.Equal(b.T, http.StatusOK, resp.StatusCode)
	raw := readBody(b.T, resp)
	var out broadcastOut
	require.NoError(b.T, json.Unmarshal([]byte(raw), &out))
	return out, raw
}

// The owner sets a target, starts the broadcast from the room, sees why the target does
// not take it, and stops it; the room and its lobby are told, the key never comes back,
// each step is audited and logged.
func TestBroadcastFromTheRoom(t *testing.T) {
	recordingtest.Tool(t, "ffmpeg")
	e := setup(t, "sqlite", options{metricsToken: metricsToken})
	owner, other, anon := e.browser(), e.browser(), e.browser()
	owner.Login(userOwner)
	other.Login(userOther)
	start := time.Now().Add(-time.Minute)
	w := createWebinar(owner, withoutLobby)
	path := "/api/v1/webinars/" + w.ID + "/broadcast"

	got, _ := getBroadcast(owner, w.ID)
	require.Equal(t, broadcastOut{State: "off"}, got)
	resp := owner.Do("POST", path, nil, nil)
	require.Equal(t, "no_broadcast_target", problemOf(t, resp).Code)

	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"not rtmp":     {map[string]any{"url": "https://peertube.example/live", "key": "k"}, "url"},
		"empty key":    {map[string]any{"url": "rtmp://peertube.example/live", "key": ""}, "key"},
		"key with a /": {map[string]any{"url": "rtmp://peertube.example/live", "key": "a/b"}, "key"},
		"long url":     {map[string]any{"url": "rtmp://x/" + strings.Repeat("a", 600), "key": "k"}, "url"},
	} {
		resp := owner.Do("PUT", path+"/target", tc.body, nil)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, name)
		p := problemOf(t, resp)
		require.Len(t, p.Errors, 1, name)
		require.Equal(t, tc.field, p.Errors[0].Field, name)
	}
	const key = "3f5c-secret-stream-key"
	target := "rtmp://" + freePort(t) + "/live" // nothing listens there
	resp = other.Do("PUT", path+"/target", map[string]any{"url": target, "key": key}, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "another organizer's webinar")
	resp = owner.Do("PUT", path+"/target", map[string]any{"url": target, "key": key}, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, readBody(t, resp), key, "the key is not returned")
	got, raw := getBroadcast(owner, w.ID)
	require.NotContains(t, raw, key, "nor ever after")
	require.Equal(t, target, *got.TargetURL)
	require.Equal(t, "off", got.State)

	resp = owner.Do("POST", path, nil, nil)
	require.Equal(t, "room_not_open", problemOf(t, resp).Code)
	oj := joinAsOwner(owner, w.ID)
	o := connectRTC(t, e, oj)
	o.waitJoined()
	o.publish()
	inv := createInvitation(owner, w.ID, "attendee")
	g := connectRTC(t, e, joinAsGuest(anon, inv.URL, "Zoé Martin"))
	g.waitJoined()
	require.NoError(t, g.Receive(t.Context()))

	resp = other.Do("POST", path, nil, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "another organizer's webinar")
	resp = owner.Do("POST", path, nil, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "broadcast" && m.Active })
	late := connectRTC(t, e, joinAsGuest(anon, inv.URL, "Late"))
	require.True(t, late.waitJoined().Broadcasting, "someone joining is told at once")
	resp = owner.Do("POST", path, nil, nil)
	require.Equal(t, "broadcast_active", problemOf(t, resp).Code)

	// The target refuses: the moderator is told why, the API says so, the meeting goes on.
	trouble := o.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "broadcast" && m.Error != "" })
	require.Contains(t, trouble.Error, "refused the connection")
	require.Equal(t, "refused", trouble.Reason)
	require.NotContains(t, trouble.Error, key)
	require.Eventually(t, func() bool {
		got, _ = getBroadcast(owner, w.ID)
		return got.State == "retrying"
	}, 30*time.Second, 50*time.Millisecond)
	require.Contains(t, got.Error, "refused the connection")
	require.Equal(t, "refused", got.Reason)
	m := metricsText(t, e)
	require.Contains(t, m, "webinaire_broadcasts 1\n")
	require.Regexp(t, `webinaire_broadcast_target_failures_total\{reason="refused"\} [1-9]`, m)
	g.waitMedia(oj.ParticipantID, 50)

	resp = owner.Do("DELETE", path, nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	g.waitMsg(func(m signal.ServerMessage) bool { return m.Type == "broadcast" && !m.Active })
	require.Eventually(t, func() bool {
		got, _ = getBroadcast(owner, w.ID)
		return got.State == "off"
	}, 30*time.Second, 50*time.Millisecond)
	resp = owner.Do("DELETE", path, nil, nil)
	require.Equal(t, "not_broadcasting", problemOf(t, resp).Code)

	resp = owner.Do("DELETE", path+"/target", nil, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	got, _ = getBroadcast(owner, w.ID)
	require.Nil(t, got.TargetURL)

	events, err := e.store.AuditEvents(context.Background(), 50)
	require.NoError(t, err)
	var actions []string
	for _, ev := range events {
		if ev.ObjectID == w.ID && strings.HasPrefix(ev.Action, "broadcast") {
			actions = append(actions, ev.Action)
			require.NotContains(t, ev.Detail, key)
		}
	}
	require.ElementsMatch(t, []string{"broadcast_target.set", "broadcast.start", "broadcast.stop", "broadcast_target.delete"}, actions)
	list, err := e.store.ConnectionLog(context.Background(), store.ConnectionFilter{From: start, To: time.Now().Add(time.Minute), Limit: 100})
	require.NoError(t, err)
	var logged []string
	for _, c := range list {
		if strings.HasPrefix(c.Action, "broadcast") {
			logged = append(logged, c.Action)
			require.Equal(t, w.ID, c.WebinarID)
		}
	}
	require.ElementsMatch(t, []string{"broadcast.start", "broadcast.stop"}, logged)
}

// A node encodes at most media.max_broadcasts broadcasts at once; one ending makes room.
func TestBroadcastsOfANodeAreBounded(t *testing.T) {
	recordingtest.Tool(t, "ffmpeg")
	e := setup(t, "sqlite", options{maxBroadcasts: 1})
	owner := e.browser()
	owner.Login(userOwner)
	var paths []string
	for range 2 {
		w := createWebinar(owner, withoutLobby)
		path := "/api/v1/webinars/" + w.ID + "/broadcast"
		resp := owner.Do("PUT", path+"/target", map[string]any{"url": "rtmp://" + freePort(t) + "/live", "key": "k"}, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		connectRTC(t, e, joinAsOwner(owner, w.ID)).waitJoined()
		paths = append(paths, path)
	}
	resp := owner.Do("POST", paths[0], nil, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	resp = owner.Do("POST", paths[1], nil, nil)
	require.Equal(t, "too_many_broadcasts", problemOf(t, resp).Code)
	resp = owner.Do("DELETE", paths[0], nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Eventually(t, func() bool {
		resp := owner.Do("POST", paths[1], nil, nil)
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusCreated
	}, 30*time.Second, 100*time.Millisecond, "room once the first has ended")
}
