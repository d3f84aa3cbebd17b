package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"webinaire/sfu"
	"webinaire/sfu/client"
	"webinaire/sfu/signal"
)

// TestWebinarLargerThanOneNode runs three nodes of two seats each on one PostgreSQL
// database. A webinar's speaker and its first attendee fill the room's node; the next
// attendees are sent to an edge of the room, which links to the room's node once and
// relays the speaker's media to them, and once it is full to a second edge. The owner
// removes a viewer of an edge through that edge's API. Killed (SIGKILL), the first edge
// loses its viewers, who come back through rejoin to the other edge; then the room's node
// is killed, and the room, its owner and that viewer come back on the last node.
func TestWebinarLargerThanOneNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts three servers")
	}
	nodes, st := startCluster(t, []string{"node-a", "node-b", "node-c"}, "WEBINAIRE_CLUSTER_CAPACITY=2", "WEBINAIRE_CLUSTER_NODE_TIMEOUT=2s")
	ctx := t.Context()

	ev := newEvent(t, nodes["node-a"], "webinar")
	inv, owner := ev.inv, ev.owner
	placed, err := st.RoomPlacementOf(ctx, owner.RoomID)
	require.NoError(t, err)
	origin := nodes[*placed.NodeID]
	pub := enter(t, owner.WSURL, owner.Token)
	require.NoError(t, pub.Publish(ctx, client.Media{VideoBitrate: 150_000, KeyframeInterval: time.Second}))
	// Each participant counted by its node's heartbeat, its seat no longer reserved
	// besides, before the next join: the placements below see every seat once.
	counted := func(n *clusterNode, participants int) {
		t.Helper()
		require.Eventually(t, func() bool {
			row, err := st.NodeByID(ctx, n.id)
			reserved, err2 := st.SeatsReservedOn(ctx, n.id, time.Now())
			return err == nil && err2 == nil && row.Participants == participants && reserved == 0
		}, 30*time.Second, 20*time.Millisecond, "%d participants counted on %s", participants, n.id)
	}
	counted(origin, 1)
	nodeOf := func(a joinAnswer) *clusterNode {
		for _, n := range nodes {
			if wsOf(n) == a.WSURL {
				return n
			}
		}
		t.Fatalf("join answer for no node: %s", a.WSURL)
		return nil
	}

	attend := func(name string) (joinAnswer, sfu.Claims) {
		t.Helper()
		var a joinAnswer
		require.Equal(t, http.StatusOK, post(t, origin.base+"/api/v1/invitations/"+path.Base(inv)+"/join", map[string]string{"display_name": name}, &a))
		claims, err := origin.signer.Verify(a.Token, time.Now())
		require.NoError(t, err)
		return a, claims
	}
	first, claims := attend("First")
	require.Equal(t, wsOf(origin), first.WSURL, "the room's node has a seat for the first attendee")
	require.Empty(t, claims.Origin)
	v1 := watch(t, first, owner.ParticipantID)
	counted(origin, 2)

	var viewers []*participant
	var answers []joinAnswer
	var edge *clusterNode
	for _, name := range []string{"Second", "Third"} {
		a, claims := attend(name)
		if edge == nil {
			edge = nodeOf(a)
		}
		require.NotEqual(t, origin, edge, "%s is sent to an edge", name)
		require.Equal(t, wsOf(edge), a.WSURL, "%s fills the room's first edge", name)
		require.Equal(t, edge.id, claims.Node)
		require.Equal(t, origin.id, claims.Origin)
		v := watch(t, a, owner.ParticipantID)
		counted(edge, len(viewers)+1)
		var speaker bool
		for _, p := range v.joined.Participants {
			speaker = speaker || p.ID == owner.ParticipantID
		}
		require.True(t, speaker || len(v.joined.Participants) == 0, "the speaker is listed on the edge")
		viewers = append(viewers, v)
		answers = append(answers, a)
	}
	fourth, claims := attend("Fourth")
	second := nodeOf(fourth)
	require.NotContains(t, []*clusterNode{origin, edge}, second, "the first edge full, the fourth attendee goes to another")
	require.Equal(t, origin.id, claims.Origin)
	v4 := watch(t, fourth, owner.ParticipantID)
	// The owner presents a PDF through the edge node's API (passed on to the room's
	// node); the edge's viewer is told, and downloads it through the edge too.
	pdf := []byte("%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" +
		"2 0 obj << /Type /Pages /Count 1 /Kids [3 0 R] >> endobj\n" +
		"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >> endobj\n" +
		"trailer << /Root 1 0 R >>\n%%EOF\n")
	slidesCall := func(method, token string, body []byte) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, edge.base+"/api/v1/slides", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/pdf")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, data
	}
	resp, data := slidesCall("POST", pub.joined.SessionToken, pdf)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "presented through the edge: %s", data)
	var presented struct {
		SlidesID string `json:"slides_id"`
	}
	require.NoError(t, json.Unmarshal(data, &presented))
	require.Eventually(t, func() bool { return viewers[0].slides() == presented.SlidesID }, 30*time.Second, 20*time.Millisecond, "the edge's viewer is told of the slides")
	req, err := http.NewRequestWithContext(ctx, "GET", edge.base+"/api/v1/slides/"+presented.SlidesID, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+viewers[0].joined.SessionToken)
	got, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	file, err := io.ReadAll(got.Body)
	_ = got.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, got.StatusCode)
	require.Equal(t, pdf, file, "the edge's viewer downloads the slides from the room's node")

	edges, err := st.EdgesOf(ctx, owner.RoomID, placed.Epoch)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{edge.id, second.id}, edges)
	require.Equal(t, 2, strings.Count(origin.logs.String(), "edge linked"), "one link per edge, whatever its viewers")

	// The owner, through the edge node's API, removes a viewer of the edge: the room's
	// node does it, and the edge ends his session.
	removeVia := *ev.browser // the owner's session, sent to the edge node
	removeVia.Base = edge.base
	resp = removeVia.Do("POST", "/api/v1/webinars/"+ev.id+"/participants/"+answers[1].ParticipantID+"/remove", nil, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	select {
	case <-viewers[1].Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the removed viewer is still in the edge's room")
	}
	require.Equal(t, websocket.StatusCode(signal.CloseRemoved), websocket.CloseStatus(viewers[1].Err()))
	_, err = tryEnter(t, answers[1].WSURL, viewers[1].joined.SessionToken)
	require.Equal(t, "token_revoked", refusedWith(err), "the removed viewer cannot come back: %v", err)
	viewers, answers = viewers[:1], answers[:1]

	// The owner makes the second edge's viewer a presenter: its edge sends it to the
	// room's node (room_moved), where it comes back through rejoin as a presenter.
	resp = ev.browser.Do("POST", "/api/v1/webinars/"+ev.id+"/participants/"+fourth.ParticipantID+"/role", map[string]string{"role": "presenter"}, nil)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	select {
	case <-v4.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the promoted viewer was not sent to the room's node")
	}
	require.Equal(t, websocket.StatusCode(signal.CloseRoomMoved), websocket.CloseStatus(v4.Err()))
	promoted := waitPlacedOn(t, origin, v4.joined.SessionToken, placed.Epoch)
	speaker := enter(t, promoted.WSURL, promoted.Token)
	require.Equal(t, signal.RolePresenter, speaker.joined.Role, "back on the room's node as a presenter")
	require.NoError(t, speaker.Publish(ctx, client.Media{VideoBitrate: 100_000, KeyframeInterval: time.Second}))
	v1.waitMediaFrom(t, fourth.ParticipantID)

	// The first edge dies: its viewers come back through rejoin, to the other edge, which
	// has a seat left.
	require.NoError(t, edge.cmd.Process.Kill())
	_, _ = edge.cmd.Process.Wait()
	var moved []*participant
	for i, v := range viewers {
		select {
		case <-v.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("the viewers of the killed edge were not disconnected")
		}
		back := waitPlacedOn(t, second, v.joined.SessionToken, placed.Epoch)
		require.Equal(t, answers[i].ParticipantID, back.ParticipantID)
		moved = append(moved, watch(t, back, owner.ParticipantID))
	}

	// Then the room's node dies: the last node left takes the room at the next epoch;
	// the owner comes back there and publishes, the viewer of the edge comes back there too
	// and receives again.
	require.NoError(t, origin.cmd.Process.Kill())
	_, _ = origin.cmd.Process.Wait()
	for _, p := range append([]*participant{pub}, moved...) {
		select {
		case <-p.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("a participant of the dead room's node or of its edge was not disconnected")
		}
	}
	require.Equal(t, websocket.StatusCode(signal.CloseRoomMoved), websocket.CloseStatus(moved[0].Err()), "the edge's viewer is told to ask where the room is")
	back := waitPlacedOn(t, second, pub.joined.SessionToken, placed.Epoch+1)
	owner2 := enter(t, back.WSURL, back.Token)
	require.NoError(t, owner2.Publish(ctx, client.Media{VideoBitrate: 150_000, KeyframeInterval: time.Second}))
	viewerBack := waitPlacedOn(t, second, moved[0].joined.SessionToken, placed.Epoch+1)
	require.Equal(t, answers[0].ParticipantID, viewerBack.ParticipantID)
	watch(t, viewerBack, owner.ParticipantID)
}
