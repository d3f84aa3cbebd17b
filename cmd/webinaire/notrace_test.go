package main

import (
	"encoding/json"
	"net/http"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"webinaire/api/apitest"
	"webinaire/sfu/client"
	"webinaire/sfu/signal"
)

// TestEdgeChatAndPollLeaveNoTrace holds a webinar over two nodes: the owner on the room's
// node, an attendee on an edge of it. The owner writes in the chat and opens a poll; the
// attendee, through the edge, writes to the moderators and votes. Each side receives what
// the other sent. Once the owner ends the session, a marker sent in every one of them is
// in no row of any table of the cluster's PostgreSQL database, no file of either node and
// no line of either node's log; the end is audited with counts only.
func TestEdgeChatAndPollLeaveNoTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts two servers")
	}
	const marker = "zq7-edge-marker-81d3"
	nodes, st := startCluster(t, []string{"node-a", "node-b"}, "WEBINAIRE_CLUSTER_CAPACITY=1", "WEBINAIRE_LOG_LEVEL=debug")
	ctx := t.Context()
	ev := newEvent(t, nodes["node-a"], "webinar")
	placed, err := st.RoomPlacementOf(ctx, ev.owner.RoomID)
	require.NoError(t, err)
	origin, edge := nodes["node-a"], nodes["node-b"]
	if *placed.NodeID != origin.id {
		origin, edge = edge, origin
	}
	owner := enter(t, ev.owner.WSURL, ev.owner.Token)
	require.NoError(t, owner.Publish(ctx, client.Media{VideoBitrate: 150_000, KeyframeInterval: time.Second}))
	require.Eventually(t, func() bool {
		row, err := st.NodeByID(ctx, origin.id)
		return err == nil && row.Participants == 1
	}, 30*time.Second, 20*time.Millisecond, "the owner counted on the room's node")

	var a joinAnswer
	require.Equal(t, http.StatusOK, post(t, origin.base+"/api/v1/invitations/"+path.Base(ev.inv)+"/join", map[string]string{"display_name": "Zoé Martin"}, &a))
	require.Equal(t, wsOf(edge), a.WSURL, "the room's node full, the attendee is sent to the edge")
	viewer := watch(t, a, ev.owner.ParticipantID)

	send := func(p *participant, m map[string]any) {
		t.Helper()
		require.NoError(t, p.Send(ctx, m))
	}
	send(owner, map[string]any{"type": signal.TypeChat, "text": "public " + marker})
	viewer.waitMsg(t, "the owner's chat reaches the edge", func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeChat && m.Text == "public "+marker
	})
	send(viewer, map[string]any{"type": signal.TypeChat, "text": "private " + marker, "to": "moderators"})
	owner.waitMsg(t, "the edge viewer's private chat reaches the owner", func(m signal.ServerMessage) bool {
		return m.Type == signal.TypeChat && m.Text == "private "+marker
	})
	send(owner, map[string]any{"type": signal.TypePollCreate, "question": "Q " + marker, "options": []string{"yes", marker}})
	owner.waitMsg(t, "the poll is made", func(m signal.ServerMessage) bool { return m.Type == signal.TypePoll })
	send(owner, map[string]any{"type": signal.TypePollOpen, "poll_id": "poll-1"})
	viewer.waitMsg(t, "the poll reaches the edge", func(m signal.ServerMessage) bool { return m.Type == signal.TypePoll })
	send(viewer, map[string]any{"type": signal.TypeVote, "poll_id": "poll-1", "choices": []int{1}})
	owner.waitMsg(t, "the edge viewer's vote is counted", func(m signal.ServerMessage) bool {
		return m.Type == signal.TypePoll && m.Voted == 1
	})

	send(owner, map[string]any{"type": signal.TypeEndSession})
	for _, p := range []*participant{owner, viewer} {
		select {
		case <-p.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("the session did not end")
		}
	}
	require.Equal(t, websocket.StatusCode(signal.CloseRoomClosed), websocket.CloseStatus(viewer.Err()), "the edge's viewer is told the room closed")

	// Both rooms closed, then the one end of the session audited, by the room's node:
	// the edge's room holds copies and counts nothing.
	for _, n := range []*clusterNode{origin, edge} {
		require.Eventually(t, func() bool { return strings.Contains(n.logs.String(), `msg="room closed"`) },
			30*time.Second, 20*time.Millisecond, "the room closed on %s", n.id)
	}
	var ends []map[string]int
	require.Eventually(t, func() bool {
		events, err := st.AuditEvents(ctx, 100)
		require.NoError(t, err)
		ends = nil
		for _, e := range events {
			if e.Action == "session.end" && e.ObjectID == ev.id {
				var counts map[string]int
				require.NoError(t, json.Unmarshal([]byte(e.Detail), &counts))
				ends = append(ends, counts)
			}
		}
		return len(ends) > 0
	}, 30*time.Second, 20*time.Millisecond, "the end of the session is audited")
	require.Len(t, ends, 1, "one end of the session, not one per node")
	counts := ends[0]
	require.Equal(t, map[string]int{"chat_messages": 2, "polls": 1, "votes": 1}, counts, "counts, never content")

	require.False(t, apitest.FindInPostgres(t, origin.db, marker), "no row of the cluster's database holds the marker")
	for _, n := range []*clusterNode{origin, edge} {
		require.False(t, apitest.FindInFiles(t, n.dir, marker), "no file of %s holds the marker", n.id)
		require.NotContains(t, n.logs.String(), marker, "no log line of %s", n.id)
		require.Contains(t, n.logs.String(), "level=DEBUG", "%s logged at the debug level", n.id)
	}
	require.True(t, apitest.FindInPostgres(t, origin.db, ev.id), "the search finds what is stored")
}
