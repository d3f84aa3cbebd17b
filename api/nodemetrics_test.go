package api_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// The node's rooms, participants, tracks, media feedback, placements and join calls are
// in /metrics, and joining and publishing move them.
func TestNodeMetrics(t *testing.T) {
	e := setup(t, "sqlite", options{metricsToken: metricsToken})
	m := metricsText(t, e)
	for _, want := range []string{
		"webinaire_rooms_open 0\n",
		`webinaire_participants{role="attendee"} 0`,
		`webinaire_participants{role="moderator"} 0`,
		`webinaire_participants{role="presenter"} 0`,
		"webinaire_lobby_participants 0\n",
		`webinaire_published_tracks{kind="audio"} 0`,
		`webinaire_published_tracks{kind="video"} 0`,
		"webinaire_keyframe_requests_total 0\n",
		"webinaire_nacks_received_total 0\n",
		`webinaire_receiver_loss_fraction_bucket{le="0.05"} 0`,
		"webinaire_receiver_loss_fraction_count 0\n",
		`webinaire_placements_total{outcome="placed"} 0`,
		`webinaire_placements_total{outcome="already_placed"} 0`,
		`webinaire_placements_total{outcome="moved"} 0`,
		`webinaire_placements_total{outcome="failed"} 0`,
		`webinaire_join_duration_seconds_count{route="invitation"} 0`,
		`webinaire_join_duration_seconds_count{route="owner"} 0`,
		`webinaire_join_duration_seconds_count{route="rejoin"} 0`,
	} {
		require.Contains(t, m, want)
	}

	owner := e.browser()
	owner.Login(userOwner)
	w := createWebinar(owner, map[string]any{"title": "Point", "kind": "meeting", "starts_at": "2026-12-03T14:00:00Z", "duration_minutes": 30})
	inv := createInvitation(owner, w.ID, "attendee")
	oj := joinAsOwner(owner, w.ID)
	o := connectRTC(t, e, oj)
	o.waitJoined()
	gj := joinAsGuest(e.browser(), inv.URL, "Zoé Martin")
	g := connectRTC(t, e, gj)
	g.waitJoined()
	o.publish()
	g.publish()
	g.waitMedia(oj.ParticipantID, 20)
	o.waitMedia(gj.ParticipantID, 20)

	m = metricsText(t, e)
	for _, want := range []string{
		"webinaire_rooms_open 1\n",
		`webinaire_participants{role="attendee"} 1`,
		`webinaire_participants{role="moderator"} 1`,
		`webinaire_published_tracks{kind="audio"} 2`,
		`webinaire_published_tracks{kind="video"} 2`,
		`webinaire_join_duration_seconds_count{route="invitation"} 1`,
		`webinaire_join_duration_seconds_count{route="owner"} 1`,
		`webinaire_join_duration_seconds_count{route="rejoin"} 0`,
	} {
		require.Contains(t, m, want)
	}
	require.NotContains(t, m, "webinaire_keyframe_requests_total 0\n", "the video subscribers asked for keyframes")

	// A guest of a webinar with a lobby waits there, counted apart.
	lw := createWebinar(owner, newWebinar)
	waiting := connectRTC(t, e, joinAsGuest(e.browser(), createInvitation(owner, lw.ID, "attendee").URL, "Camille Dubois"))
	wait := waiting.waitMsg(func(m signal.ServerMessage) bool {
		return m.Type == "lobby_wait" || m.Type == "joined" || m.Type == "error"
	})
	require.Equal(t, "lobby_wait", wait.Type)
	m = metricsText(t, e)
	require.Contains(t, m, "webinaire_lobby_participants 1\n")
	require.Contains(t, m, `webinaire_participants{role="attendee"} 1`, "who waits is not in the room yet")

	require.NotContains(t, m, w.RoomID, "no room id in the metrics")
	require.NotContains(t, m, "Zoé", "no name in the metrics")
}
