package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"webinaire/api/apitest"
	"webinaire/api/wsclient"
	"webinaire/recording/recordingtest"
	"webinaire/sfu"
	"webinaire/sfu/client"
	"webinaire/sfu/signal"
	"webinaire/store"
	"webinaire/store/pgtest"
)

// clusterNode is a `webinaire serve` process of a cluster test.
type clusterNode struct {
	id   string
	cmd  *exec.Cmd
	base string
	logs *syncBuffer
	// dir is the node's working folder (its recordings, slides and files); db the URL
	// of the cluster's database.
	dir, db string
	// signer reads the tokens the node hands out (the cluster's shared key).
	signer *sfu.TokenSigner
	// env is the node's environment, as the commands run for it take it.
	env []string
}

// wsOf is the signalling endpoint of n.
func wsOf(n *clusterNode) string {
	return strings.Replace(n.base, "http://", "ws://", 1) + "/api/v1/rtc"
}

// joinAnswer is what the join endpoints answer, as a client reads it.
type joinAnswer struct {
	Token         string `json:"token"`
	WSURL         string `json:"ws_url"`
	WHEPURL       string `json:"whep_url"`
	RoomID        string `json:"room_id"`
	ParticipantID string `json:"participant_id"`
}

// post sends body as JSON to u and decodes the answer into out; it returns the status.
func post(t *testing.T, u string, body, out any) int {
	t.Helper()
	data, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post(u, "application/json", bytes.NewReader(data))
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// participant is a Pion client in a room of the cluster.
type participant struct {
	*client.Client
	joined signal.ServerMessage

	mu       sync.Mutex
	slidesID string                 // the slides presented, as the last slides message said
	messages []signal.ServerMessage // every message the server sent after joined
}

// waitMsg waits until the server has sent p a message for which match is true.
func (p *participant) waitMsg(t *testing.T, what string, match func(signal.ServerMessage) bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return slices.ContainsFunc(p.messages, match)
	}, 30*time.Second, 20*time.Millisecond, "%s", what)
}

// slides is the id of the slides presented in the room, as p was last told.
func (p *participant) slides() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.slidesID
}

// enter opens ws_url and joins with token; it fails the test with the server's error.
func enter(t *testing.T, wsURL, token string) *participant {
	t.Helper()
	p, err := tryEnter(t, wsURL, token)
	require.NoError(t, err)
	return p
}

// tryEnter opens ws_url and joins with token.
func tryEnter(t *testing.T, wsURL, token string) (*participant, error) {
	t.Helper()
	ctx := t.Context()
	ws, err := wsclient.Dial(ctx, wsURL, nil, nil)
	if err != nil {
		return nil, err
	}
	api, err := client.NewAPI(client.APIParams{LoopbackOnly: true})
	require.NoError(t, err)
	p := &participant{}
	c, err := client.New(client.Params{Conn: ws, API: api, OnMessage: func(m signal.ServerMessage) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.messages = append(p.messages, m)
		if m.Type == signal.TypeSlides {
			p.slidesID = m.SlidesID
		}
	}})
	require.NoError(t, err)
	c.Start(ctx)
	t.Cleanup(func() { _ = c.Close() })
	joined, err := c.Join(ctx, token)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	p.Client, p.joined = c, joined
	return p, nil
}

// watch enters with join answer a, receives, and waits for the media of publisher.
func watch(t *testing.T, a joinAnswer, publisher string) *participant {
	t.Helper()
	p := enter(t, a.WSURL, a.Token)
	require.NoError(t, p.Receive(t.Context()))
	p.waitMediaFrom(t, publisher)
	return p
}

// refusedWith is the code of the server's refusal of a join, empty if it was not one.
func refusedWith(err error) string {
	var pe *client.ProtocolError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// waitMediaFrom waits until p has received video and audio packets from publisher.
func (p *participant) waitMediaFrom(t *testing.T, publisher string) {
	t.Helper()
	require.Eventually(t, func() bool {
		var video, audio uint64
		for _, s := range p.Received() {
			if s.ParticipantID != publisher {
				continue
			}
			if s.Kind == webrtc.RTPCodecTypeVideo {
				video += s.Packets
			} else {
				audio += s.Packets
			}
		}
		return video >= 20 && audio >= 20
	}, 30*time.Second, 20*time.Millisecond, "media of %s", publisher)
}

// TestClusterOfTwoNodes runs two nodes on one PostgreSQL database: both register, a room
// is placed on one of them, a join through the other's API is sent to it and the media
// flows there, tokens of another node or of a stale epoch are refused, and once the room's
// node is killed (SIGKILL) the room is placed again on the survivor, where its participants
// come back with their session credentials. A node cut off (SIGSTOP) for longer than the
// node timeout loses its room to the other, and closes it when it wakes up.
func TestClusterOfTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts two servers")
	}
	const timeout = 2 * time.Second
	nodes, st := startCluster(t, []string{"node-a", "node-b"}, "WEBINAIRE_CLUSTER_NODE_TIMEOUT="+timeout.String())
	ctx := t.Context()
	registered, err := st.Nodes(ctx)
	require.NoError(t, err)
	require.Len(t, registered, 2, "both nodes heartbeat before they are ready")
	for _, n := range registered {
		require.Equal(t, nodes[n.ID].base, n.URL, "node %s advertises its own URL", n.ID)
		require.Equal(t, store.NodeRoleBoth, n.Roles)
		require.Equal(t, DefaultNodeCapacity, n.Capacity)
		require.NotEmpty(t, n.MediaAddress)
	}

	// The organizer, on node a, makes a meeting and an invitation, and joins.
	ev := newEvent(t, nodes["node-a"], "meeting")
	inv, owner := ev.inv, ev.owner
	placed, err := st.RoomPlacementOf(ctx, owner.RoomID)
	require.NoError(t, err, "the first join placed the room")
	require.NotNil(t, placed.NodeID)
	require.Equal(t, int64(1), placed.Epoch)
	home, other := nodes[*placed.NodeID], nodes["node-a"]
	if home == other {
		other = nodes["node-b"]
	}
	require.Equal(t, wsOf(home), owner.WSURL, "the join answer names the room's node")
	require.Equal(t, home.base+"/api/v1/whep", owner.WHEPURL)

	// The guest joins through the other node's API: it is sent to the room's node.
	var guest joinAnswer
	require.Equal(t, http.StatusOK, post(t, other.base+"/api/v1/invitations/"+path.Base(inv)+"/join", map[string]string{"display_name": "Guest"}, &guest))
	require.Equal(t, wsOf(home), guest.WSURL, "a join through another node is sent to the room's node")

	pub := enter(t, owner.WSURL, owner.Token)
	require.NoError(t, pub.Publish(ctx, client.Media{VideoBitrate: 150_000, KeyframeInterval: time.Second}))
	viewer := watch(t, guest, owner.ParticipantID)

	// Tokens signed for the room on another node, or at another epoch, are refused.
	forged := func(node string, epoch int64) string {
		tok, err := home.signer.Sign(sfu.Claims{
			Room: owner.RoomID, Participant: "forged" + node + string(rune('0'+epoch)), Role: sfu.RoleAttendee,
			Expiry: time.Now().Add(time.Minute), Node: node, Epoch: epoch,
		})
		require.NoError(t, err)
		return tok
	}
	for name, tc := range map[string]struct {
		ws, token string
	}{
		"the room's node, a later epoch":        {wsOf(home), forged(home.id, 2)},
		"the room's node, no epoch":             {wsOf(home), forged(home.id, 0)},
		"the other node, with its own name":     {wsOf(other), forged(other.id, 1)},
		"the other node, with the room's token": {wsOf(other), guest.Token},
	} {
		_, err := tryEnter(t, tc.ws, tc.token)
		require.Equal(t, "room_moved", refusedWith(err), "%s: %v", name, err)
	}

	// The room's node stops answering (SIGSTOP) for longer than the node timeout: a rejoin
	// through the other node places the room there. When the first node wakes up, it finds
	// the room placed elsewhere and closes it (room_moved): only the current epoch serves.
	require.NoError(t, home.cmd.Process.Signal(syscall.SIGSTOP))
	moved := waitPlacedOn(t, other, viewer.joined.SessionToken, 2)
	require.NoError(t, home.cmd.Process.Signal(syscall.SIGCONT))
	for _, p := range []*participant{pub, viewer} {
		select {
		case <-p.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("the woken node did not close the room it lost")
		}
		require.Equal(t, websocket.StatusCode(signal.CloseRoomMoved), websocket.CloseStatus(p.Err()))
	}
	_, err = tryEnter(t, wsOf(home), viewer.joined.SessionToken)
	require.Equal(t, "room_moved", refusedWith(err), "the session credential of the old epoch: %v", err)
	require.Equal(t, guest.ParticipantID, moved.ParticipantID, "the same participant comes back")
	pub, viewer = comeBack(t, other, pub, moved)

	// SIGKILL the room's node: after the node timeout, the room is placed again on the
	// survivor, and its participants come back there.
	require.NoError(t, other.cmd.Process.Kill())
	_, _ = other.cmd.Process.Wait()
	killedAt := time.Now()
	moved = waitPlacedOn(t, home, viewer.joined.SessionToken, 3)
	t.Logf("room placed again %s after the kill (node timeout %s)", time.Since(killedAt).Round(10*time.Millisecond), timeout)
	comeBack(t, home, pub, moved)
}

// startCluster starts the nodes ids, one after the other (the first makes the shared
// keys and applies the migrations), on a new PostgreSQL database, with env added to
// their environment; it returns them by id, and the database.
func startCluster(t *testing.T, ids []string, env ...string) (map[string]*clusterNode, *store.Store) {
	t.Helper()
	bin := buildBinary(t)
	shared := t.TempDir()
	db := pgtest.Shared(t).NewDatabase(t)
	nodes := map[string]*clusterNode{}
	for _, id := range ids {
		nodes[id] = startNode(t, bin, shared, db, id, env...)
	}
	st, err := store.Open(store.Config{Driver: store.DriverPostgres, URL: db, MaxOpenConns: 2}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return nodes, st
}

// startNode starts node id of a cluster on database db, sharing the keys in shared,
// with env added to its environment.
func startNode(t *testing.T, bin, shared, db, id string, env ...string) *clusterNode {
	t.Helper()
	tokenKeyFile := filepath.Join(shared, "token.key")
	env = append(append([]string{
		"WEBINAIRE_DATABASE_DRIVER=postgres", "WEBINAIRE_DATABASE_URL=" + db,
		"WEBINAIRE_MEDIA_TOKEN_KEY_FILE=" + tokenKeyFile,
		"WEBINAIRE_MEDIA_JOINS_PER_ADDRESS_PER_MINUTE=10000",
		"WEBINAIRE_CLUSTER_NODE_ID=" + id,
		"WEBINAIRE_CLUSTER_HEARTBEAT_INTERVAL=200ms",
	}, ledgerEnv(shared)...), env...)
	dir := t.TempDir()
	cmd, base, logs := startBinary(t, bin, dir, "127.0.0.1:0", env...)
	key, err := loadTokenKey(tokenKeyFile)
	require.NoError(t, err)
	signer, err := sfu.NewTokenSigner(key)
	require.NoError(t, err)
	env = append(env, "WEBINAIRE_RECORDINGS_DIR="+filepath.Join(dir, "data", "recordings")) // serve's, relative to its folder
	return &clusterNode{id: id, cmd: cmd, base: base, logs: logs, signer: signer, dir: dir, db: db, env: env}
}

// event is a webinar of a cluster test: its id, an attendee invitation's URL, the owner's
// join answer and the owner's browser, logged in.
type event struct {
	id, inv string
	owner   joinAnswer
	browser *apitest.Browser
}

// newEvent has the demo organizer, through n, make a webinar of kind and an attendee
// invitation, and join it.
func newEvent(t *testing.T, n *clusterNode, kind string) event {
	t.Helper()
	b := apitest.NewBrowser(t, n.base, nil)
	b.Login("dev-karim-benali")
	resp := b.Do("POST", "/api/v1/webinars", map[string]any{
		"title": "Spread", "kind": kind, "starts_at": "2026-12-03T14:00:00Z", "duration_minutes": 30,
	}, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var w struct{ ID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&w))
	resp = b.Do("POST", "/api/v1/webinars/"+w.ID+"/invitations", map[string]string{"role": "attendee"}, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var inv struct{ URL string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&inv))
	resp = b.Do("POST", "/api/v1/webinars/"+w.ID+"/join", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var owner joinAnswer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&owner))
	return event{id: w.ID, inv: inv.URL, owner: owner, browser: b}
}

// publishedMeeting makes a meeting through node-a of a cluster of two, whose owner enters
// and publishes: it returns the meeting, the node of its room, the other node, and the
// owner's client.
func publishedMeeting(t *testing.T, nodes map[string]*clusterNode, st *store.Store) (event, *clusterNode, *clusterNode, *participant) {
	t.Helper()
	ev := newEvent(t, nodes["node-a"], "meeting")
	placed, err := st.RoomPlacementOf(t.Context(), ev.owner.RoomID)
	require.NoError(t, err)
	home, other := nodes[*placed.NodeID], nodes["node-a"]
	if home == other {
		other = nodes["node-b"]
	}
	pub := enter(t, ev.owner.WSURL, ev.owner.Token)
	require.NoError(t, pub.Publish(t.Context(), client.Media{VideoBitrate: 150_000, KeyframeInterval: time.Second}))
	return ev, home, other, pub
}

// waitPlacedOn asks n, with the session credential of a participant, where its room is
// until the answer is n itself, and checks the room's epoch there.
func waitPlacedOn(t *testing.T, n *clusterNode, sessionToken string, epoch int64) joinAnswer {
	t.Helper()
	var moved joinAnswer
	require.Eventually(t, func() bool {
		moved = joinAnswer{}
		return post(t, n.base+"/api/v1/rejoin", map[string]string{"token": sessionToken}, &moved) == http.StatusOK &&
			moved.WSURL == wsOf(n)
	}, 30*time.Second, 50*time.Millisecond, "the room is placed again on %s", n.id)
	claims, err := n.signer.Verify(moved.Token, time.Now())
	require.NoError(t, err)
	require.Equal(t, n.id, claims.Node)
	require.Equal(t, epoch, claims.Epoch, "each move bumps the epoch")
	return moved
}

// comeBack brings the publisher and the viewer back into their room on n, the viewer
// with its rejoin answer, and waits for the media to flow again.
func comeBack(t *testing.T, n *clusterNode, pub *participant, viewer joinAnswer) (*participant, *participant) {
	t.Helper()
	ctx := t.Context()
	var back joinAnswer
	require.Equal(t, http.StatusOK, post(t, n.base+"/api/v1/rejoin", map[string]string{"token": pub.joined.SessionToken}, &back))
	require.Equal(t, wsOf(n), back.WSURL)
	pub2 := enter(t, back.WSURL, back.Token)
	require.NoError(t, pub2.Publish(ctx, client.Media{VideoBitrate: 150_000, KeyframeInterval: time.Second}))
	viewer2 := watch(t, viewer, pub.joined.ParticipantID)
	require.Equal(t, viewer.ParticipantID, viewer2.joined.ParticipantID)
	return pub2, viewer2
}

// TestSingleNodeNeedsNoClusterConfiguration checks the embedded default: one node, named
// after the host, whose joins are sent to itself.
func TestSingleNodeNeedsNoClusterConfiguration(t *testing.T) {
	cfg, err := LoadConfig("", nil)
	require.NoError(t, err)
	require.Equal(t, ClusterConfig{
		Capacity: DefaultNodeCapacity, Roles: store.NodeRoleBoth,
		HeartbeatInterval: Duration(time.Second), NodeTimeout: Duration(5 * time.Second), SeatHold: Duration(30 * time.Second),
	}, cfg.Cluster)
	require.NotEmpty(t, nodeName(""))
	require.Equal(t, "n1", nodeName("n1"))
}

// TestDrainOnSIGTERM stops the node of a meeting with SIGTERM: it drains first, for
// cluster.drain_timeout, taking no new room while its meeting goes on and takes its joins;
// then its participants are told the server goes away (1001), come back through rejoin
// on the other node, where the media flows again, and the node exits cleanly.
func TestDrainOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts two servers")
	}
	nodes, st := startCluster(t, []string{"node-a", "node-b"}, "WEBINAIRE_CLUSTER_NODE_TIMEOUT=2s",
		"WEBINAIRE_CLUSTER_DRAIN_TIMEOUT=4s", "WEBINAIRE_SERVER_SHUTDOWN_TIMEOUT=20s")
	ctx := t.Context()
	ev, home, other, pub := publishedMeeting(t, nodes, st)
	var guest joinAnswer
	require.Equal(t, http.StatusOK, post(t, other.base+"/api/v1/invitations/"+path.Base(ev.inv)+"/join", map[string]string{"display_name": "Guest"}, &guest))
	viewer := watch(t, guest, ev.owner.ParticipantID)

	require.NoError(t, home.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool {
		n, err := st.NodeByID(ctx, home.id)
		return err == nil && n.Roles == store.NodeRoleDraining
	}, 10*time.Second, 20*time.Millisecond, "the stopping node says it drains")

	// While it drains, a new meeting goes to the other node, and the running one still
	// takes its joins where it is.
	second := newEvent(t, other, "meeting")
	p2, err := st.RoomPlacementOf(ctx, second.owner.RoomID)
	require.NoError(t, err)
	require.Equal(t, other.id, *p2.NodeID, "no new room on a draining node")
	var late joinAnswer
	require.Equal(t, http.StatusOK, post(t, other.base+"/api/v1/invitations/"+path.Base(ev.inv)+"/join", map[string]string{"display_name": "Late"}, &late))
	require.Equal(t, wsOf(home), late.WSURL, "the running meeting stays on its node while it drains")
	lateViewer := watch(t, late, ev.owner.ParticipantID)

	// The drain is over: everyone is told the server goes away, and comes back elsewhere.
	for _, p := range []*participant{pub, viewer, lateViewer} {
		select {
		case <-p.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("the participants of the stopping node were not told to go")
		}
		require.Equal(t, websocket.StatusCode(signal.CloseGoingAway), websocket.CloseStatus(p.Err()))
	}
	moved := waitPlacedOn(t, other, viewer.joined.SessionToken, 2)
	comeBack(t, other, pub, moved)
	require.NoError(t, home.cmd.Wait(), "the node exits cleanly")
}

// TestRecordingThroughAnotherNode: the owner, whose requests reach a node that does not
// run the room (as behind the public Service of API nodes), starts and stops the
// recording: the room's node records, and the recording is finalized and listed.
func TestRecordingThroughAnotherNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts two servers")
	}
	recordingtest.Tool(t, "ffprobe")
	nodes, st := startCluster(t, []string{"node-a", "node-b"}, "WEBINAIRE_CLUSTER_NODE_TIMEOUT=2s")
	ev, home, other, pub := publishedMeeting(t, nodes, st)

	owner := *ev.browser // the owner's session, its requests sent to the other node
	owner.Base = other.base
	rec := recordThrough(t, owner, ev, pub, st)
	require.Contains(t, home.logs.String(), "room command run for another node")

	// The files are in the room's node's folder (no S3): listed, downloaded whole and in
	// part, and shared, through the other node too, byte for byte as the room's node
	// serves them.
	atHome := owner
	atHome.Base = home.base
	files := func(b apitest.Browser) []string {
		t.Helper()
		resp := b.Do("GET", "/api/v1/webinars/"+ev.id+"/recordings", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var list struct{ Items []struct{ Files []string } }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
		require.Len(t, list.Items, 1)
		return list.Items[0].Files
	}
	require.Equal(t, []string{"replay.webm"}, files(atHome))
	require.Equal(t, []string{"replay.webm"}, files(owner), "listed through the other node")
	file := "/api/v1/recordings/" + rec.ID + "/files/replay.webm"
	whole := readAll(t, atHome.Do("GET", file, nil, nil), http.StatusOK)
	require.Equal(t, whole, readAll(t, owner.Do("GET", file, nil, nil), http.StatusOK), "downloaded through the other node")
	part := owner.Do("GET", file, nil, map[string]string{"Range": "bytes=100-199"})
	require.Equal(t, fmt.Sprintf("bytes 100-199/%d", len(whole)), part.Header.Get("Content-Range"))
	require.Equal(t, whole[100:200], readAll(t, part, http.StatusPartialContent), "a range, as a player asks")
	require.Equal(t, "video/webm", part.Header.Get("Content-Type"))
	stranger := apitest.NewBrowser(t, other.base, nil)
	require.Equal(t, http.StatusUnauthorized, stranger.Do("GET", file, nil, nil).StatusCode, "the other node checks the session")
	resp := owner.Do("POST", "/api/v1/recordings/"+rec.ID+"/links", map[string]any{"audience": "public", "expires_in_days": 1}, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var link struct{ ID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&link))
	shared := readAll(t, stranger.Do("GET", "/api/v1/shared/"+link.ID, nil, nil), http.StatusOK)
	require.Contains(t, string(shared), `"files":["replay.webm"]`, "the replay page's description")
	require.Equal(t, whole, readAll(t, stranger.Do("GET", "/api/v1/shared/"+link.ID+"/files/replay.webm", nil, nil), http.StatusOK), "played through a share link")

	// The room's node serves its files to the bearer of a file token signed with the
	// cluster's key, for that node, that recording and that file only, once.
	internal := "/internal/v1/recordings/" + rec.ID + "/files/replay.webm"
	fileToken := func(node, file string) map[string]string {
		token, err := home.signer.SignFor("webinaire-recording-file-v1.", map[string]any{
			"recording": rec.ID, "file": file, "node": node, "exp": time.Now().Add(30 * time.Second).Unix(), "nonce": rand.Text(),
		})
		require.NoError(t, err)
		return map[string]string{"Authorization": "Bearer " + token}
	}
	nodeClient := apitest.NewBrowser(t, home.base, nil)
	good := fileToken(home.id, "replay.webm")
	require.Equal(t, whole, readAll(t, nodeClient.Do("GET", internal, nil, good), http.StatusOK))
	for what, h := range map[string]map[string]string{
		"the same token again":   good,
		"no token":               nil,
		"a join token":           {"Authorization": "Bearer " + ev.owner.Token},
		"a token for other node": fileToken(other.id, "replay.webm"),
		"a token for other file": fileToken(home.id, "manifest.json"),
	} {
		resp := nodeClient.Do("GET", internal, nil, h)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, what)
		resp.Body.Close()
	}

	// A live broadcast too, to a target that takes nothing: started on the room's node,
	// its state read and it stopped, all through the other node.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, l.Close()) // nothing listens there now
	resp = owner.Do("PUT", "/api/v1/webinars/"+ev.id+"/broadcast/target", map[string]string{"url": "rtmp://" + l.Addr().String() + "/live", "key": "cle-de-flux"}, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp = owner.Do("POST", "/api/v1/webinars/"+ev.id+"/broadcast", nil, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "the broadcast starts on the room's node")
	var cast struct{ State string }
	require.Eventually(t, func() bool {
		resp := owner.Do("GET", "/api/v1/webinars/"+ev.id+"/broadcast", nil, nil)
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&cast) == nil && cast.State == "retrying"
	}, 30*time.Second, 100*time.Millisecond, "the room's node says it retries the refused target")
	resp = owner.Do("DELETE", "/api/v1/webinars/"+ev.id+"/broadcast", nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
}

// recordThrough has the owner, through the node its browser talks to, allow recording
// (once), start recording the meeting that pub publishes in, and stop after some media:
// it returns the recording once it is finalized on the room's node.
func recordThrough(t *testing.T, owner apitest.Browser, ev event, pub *participant, st *store.Store) store.Recording {
	t.Helper()
	ctx := t.Context()
	resp := owner.Do("PATCH", "/api/v1/webinars/"+ev.id, map[string]any{"recording_allowed": true}, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp = owner.Do("POST", "/api/v1/webinars/"+ev.id+"/recording", nil, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "started through a node that does not run the room")
	var rec struct{ ID, State string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rec))
	require.Equal(t, "recording", rec.State)
	resp = owner.Do("POST", "/api/v1/webinars/"+ev.id+"/recording", nil, nil)
	require.Equal(t, http.StatusConflict, resp.StatusCode, "a second start is refused by the room's node")
	// Some media in the files: a second of the publisher's packets after the start.
	sent := func() (n uint64) {
		for _, s := range pub.Sent() {
			n += s.Packets
		}
		return n
	}
	from := sent()
	require.Eventually(t, func() bool { return sent() > from+50 }, 30*time.Second, 20*time.Millisecond)
	resp = owner.Do("DELETE", "/api/v1/webinars/"+ev.id+"/recording", nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "stopped through the other node too")
	var done store.Recording
	require.Eventually(t, func() bool {
		r, err := st.RecordingByID(ctx, rec.ID)
		done = r
		return err == nil && r.State == store.RecordingReady
	}, 60*time.Second, 100*time.Millisecond, "the recording is finalized on the room's node")
	return done
}

// TestRecordingDeletedThroughAnotherNode: a recording made on the room's node, without
// S3, is deleted through the other node (by its owner, by the retention sweep that node
// runs): its files go from the room's node's folder, then its row, with a ledger entry.
// While the room's node does not answer, nothing is deleted: the owner gets 503, the
// sweep leaves the recording for its next run, the ledger says nothing.
func TestRecordingDeletedThroughAnotherNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts two servers")
	}
	recordingtest.Tool(t, "ffprobe")
	nodes, st := startCluster(t, []string{"node-a", "node-b"}, "WEBINAIRE_CLUSTER_NODE_TIMEOUT=2s")
	ctx := t.Context()
	ev, home, other, pub := publishedMeeting(t, nodes, st)
	owner := *ev.browser // the owner's session, its requests sent to the other node
	owner.Base = other.base
	byOwner := recordThrough(t, owner, ev, pub, st)
	bySweep := recordThrough(t, owner, ev, pub, st)
	for _, r := range []store.Recording{byOwner, bySweep} {
		require.Equal(t, home.id, r.NodeID, "recorded on the room's node")
	}

	// A piece of each replay, as the other node passes it on: in the room's node's folder.
	marker := func(r store.Recording) []byte {
		whole := readAll(t, owner.Do("GET", "/api/v1/recordings/"+r.ID+"/files/replay.webm", nil, nil), http.StatusOK)
		require.Greater(t, len(whole), 2048)
		return whole[len(whole)/2 : len(whole)/2+1024]
	}
	ownerMarker, sweepMarker := marker(byOwner), marker(bySweep)
	require.True(t, holds(t, home.dir, ownerMarker))
	require.True(t, holds(t, home.dir, sweepMarker))
	require.False(t, holds(t, other.dir, ownerMarker), "nothing in the other node's folder")

	// The sweep's recording is past its date; the retention sweeps run on the other node.
	require.NoError(t, st.ExecForTest(ctx, `UPDATE recordings SET expires_at = now() - interval '1 day' WHERE id = ?`, bySweep.ID))
	retention := func() string {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(ctx, []string{"retention", "run"}, other.env, &out, &errOut)
		require.Equal(t, 0, code, "%s", errOut.String())
		return out.String()
	}
	deletions := func() (n int64) {
		t.Helper()
		require.NoError(t, st.QueryForTest(ctx, &n, `SELECT count(*) FROM deletion_ledger WHERE category = 'recordings'`))
		return n
	}
	rows := func() (ids []string) {
		t.Helper()
		list, err := st.RecordingsOfWebinar(ctx, ev.id)
		require.NoError(t, err)
		for _, r := range list {
			ids = append(ids, r.ID)
		}
		return ids
	}

	// The room's node stops answering (its process stopped, its heartbeat late).
	require.NoError(t, home.cmd.Process.Signal(syscall.SIGSTOP))
	stopped := true
	t.Cleanup(func() {
		if stopped {
			_ = home.cmd.Process.Signal(syscall.SIGCONT)
		}
	})
	resp := owner.Do("DELETE", "/api/v1/recordings/"+byOwner.ID, nil, nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	var problem struct{ Code string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&problem))
	require.Equal(t, "recording_node_unavailable", problem.Code)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	resp = owner.Do("DELETE", "/api/v1/webinars/"+ev.id, nil, nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the webinar waits for its recordings")
	resp.Body.Close()
	out := retention()
	require.Contains(t, out, "Left for the next run:\nrecordings: 1 (recording files kept by a node that does not answer; left for the next run)\n  "+bySweep.ID+"\n")
	require.Contains(t, out, "\nrecordings: 0\n")
	require.ElementsMatch(t, []string{byOwner.ID, bySweep.ID}, rows(), "nothing is deleted")
	require.Zero(t, deletions(), "and the ledger says nothing")
	resp = owner.Do("GET", "/api/v1/webinars/"+ev.id, nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the webinar is there")
	resp.Body.Close()

	// It answers again: the deletions go through, where the files are.
	require.NoError(t, home.cmd.Process.Signal(syscall.SIGCONT))
	stopped = false
	require.Eventually(t, func() bool {
		resp := owner.Do("DELETE", "/api/v1/recordings/"+byOwner.ID, nil, nil)
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent
	}, 30*time.Second, 200*time.Millisecond, "deleted once the room's node answers")
	require.False(t, holds(t, home.dir, ownerMarker), "the files are gone from the room's node")
	require.NoDirExists(t, filepath.Join(home.dir, "data", "recordings", byOwner.ID))
	require.Equal(t, []string{bySweep.ID}, rows())
	require.EqualValues(t, 1, deletions())
	require.Contains(t, home.logs.String(), "recording files deleted for another node")

	out = retention()
	require.Contains(t, out, "\nrecordings: 1\n")
	require.NotContains(t, out, "Left for the next run")
	require.False(t, holds(t, home.dir, sweepMarker))
	require.Empty(t, rows())
	require.EqualValues(t, 2, deletions())
}

// holds tells whether a file under dir holds marker.
func holds(t *testing.T, dir string, marker []byte) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) || found {
			return nil // gone meanwhile, or found already
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		found = bytes.Contains(b, marker)
		return err
	})
	require.NoError(t, err)
	return found
}

// TestNodeTokensAreGoodOnce replays what another node of the cluster sends: a command
// token signed with the cluster's key is run once and refused when presented again; a
// relay token and a deletion token of a recording's files likewise.
func TestNodeTokensAreGoodOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts a server")
	}
	nodes, _ := startCluster(t, []string{"node-a"})
	n := nodes["node-a"]
	call := func(method, path, token string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, n.base+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	// A removal in a room that is not open: accepted as a command (the participant is
	// not found), then refused as a token used already.
	room := strings.Repeat("r", 32)
	cmd, err := n.signer.SignFor("webinaire-command-v1.", map[string]any{
		"room": room, "node": n.id, "action": "remove", "participant": "p1",
		"exp": time.Now().Add(time.Minute).Unix(), "nonce": "n1",
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, call("POST", "/internal/v1/rooms/"+room+"/commands", cmd), "the command is taken")
	require.Equal(t, http.StatusUnauthorized, call("POST", "/internal/v1/rooms/"+room+"/commands", cmd), "presented again: refused")

	relay, err := n.signer.SignRelay(sfu.RelayClaims{Room: room, Kind: sfu.KindWebinar, Origin: n.id, Edge: "node-b", Epoch: 1,
		Expiry: time.Now().Add(time.Minute).Unix()})
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, call("GET", "/internal/v1/relay/"+room, relay), "the relay token is taken (the room is not placed here)")
	require.Equal(t, http.StatusUnauthorized, call("GET", "/internal/v1/relay/"+room, relay), "presented again: refused")

	// The deletion of a recording's files (none here: deleting nothing is done), for this
	// node and that recording, once; a file token is not one.
	rec := store.NewSecret()
	claims := map[string]any{"recording": rec, "node": n.id, "exp": time.Now().Add(time.Minute).Unix(), "nonce": "n2"}
	del, err := n.signer.SignFor("webinaire-recording-delete-v1.", claims)
	require.NoError(t, err)
	files := "/internal/v1/recordings/" + rec + "/files"
	require.Equal(t, http.StatusNoContent, call("DELETE", files, del), "the deletion is done")
	require.Equal(t, http.StatusUnauthorized, call("DELETE", files, del), "presented again: refused")
	claims["nonce"], claims["node"] = "n3", "node-b"
	elsewhere, err := n.signer.SignFor("webinaire-recording-delete-v1.", claims)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, call("DELETE", files, elsewhere), "for another node: refused")
	claims["nonce"], claims["node"] = "n4", n.id
	file, err := n.signer.SignFor("webinaire-recording-file-v1.", claims)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, call("DELETE", files, file), "a file token: refused")
}

// readAll reads the body of resp, which must have status.
func readAll(t *testing.T, resp *http.Response, status int) []byte {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, status, resp.StatusCode, "%s", body)
	return body
}
