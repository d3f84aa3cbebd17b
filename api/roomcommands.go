package api

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"webinaire/sfu"
	"webinaire/store"
)

// A moderation that the owner asks of any node (remove a participant, change a role,
// remove an invitation's participants, close the room of a webinar that is gone) acts on
// the room where it runs: here when it is open here, else on the node it is placed on,
// which this node asks over that node's internal endpoint with a command token signed
// with the cluster's shared key. So a right taken away through any node is gone at once
// from the room, wherever it runs; the database refuses the way back on every node.

// commandPath is where a node asks another to act on a room it runs:
// POST /internal/v1/rooms/{room}/commands, the command in the bearer token.
const commandPath = "/internal/v1/rooms/"

// commandPurpose keys the MAC of command tokens: they are neither join nor relay tokens.
const commandPurpose = "webinaire-command-v1."

// commandLifetime bounds a command token's validity: it is made for one call.
const commandLifetime = time.Minute

// commandTimeout bounds a call to another node.
const commandTimeout = 10 * time.Second

// The actions of a room command.
const (
	commandRemove         = "remove"
	commandRole           = "role"
	commandRemoveInvitees = "remove_invitees"
	commandClose          = "close"
	commandRecordStart    = "record_start"
	commandRecordStop     = "record_stop"
	commandCastStart      = "broadcast_start"
	commandCastStop       = "broadcast_stop"
	commandCastState      = "broadcast_state"
)

// forwardedClientKey keys, in the gin context of a command another node passed on, the
// address of the client who asked it, for the connection log.
const forwardedClientKey = "webinaire.forwardedClient"

// roomCommand is an action on a room, the claims of a command token.
type roomCommand struct {
	Room string `json:"room"`
	// Node is the node that must run it.
	Node        string   `json:"node"`
	Action      string   `json:"action"`
	Participant string   `json:"participant,omitempty"`
	Role        sfu.Role `json:"role,omitempty"`
	Invitation  string   `json:"invitation,omitempty"`
	// Webinar and Organizer are the webinar and its owner who asked, for the actions on
	// recordings; Client is that owner's address and port, for the connection log.
	Webinar   string `json:"webinar,omitempty"`
	Organizer string `json:"organizer,omitempty"`
	Client    string `json:"client,omitempty"`
	// Expiry, in Unix seconds.
	Expiry int64 `json:"exp"`
	// Nonce makes each token unique: the node that runs it runs it once.
	Nonce string `json:"nonce"`
}

// commandResult is what a command did.
type commandResult struct {
	// Removed is the participants a remove_invitees removed.
	Removed int `json:"removed"`
}

var (
	errCommandToken  = problem(http.StatusUnauthorized, "command_token", "a valid command token is required")
	errWatchesOnEdge = problem(http.StatusConflict, "participant_on_edge", "this participant watches from an edge node of the cluster and cannot be given a role that speaks")
)

// atRoom runs cmd on its room: here when the room is open here, else on the node that
// runs it. sfu.ErrRoomClosed when it runs nowhere.
func (s *Server) atRoom(ctx context.Context, cmd roomCommand) (commandResult, error) {
	if room, open := s.p.SFU.Room(cmd.Room); open && room.Origin() == "" {
		return runCommand(room, cmd)
	}
	node, err := s.roomNode(ctx, cmd.Room)
	if err != nil || node.ID == "" {
		return commandResult{}, cmp.Or(err, sfu.ErrRoomClosed)
	}
	return s.sendCommand(ctx, node, cmd)
}

// roomNode is the live placement of room on another node of the cluster: the zero Node
// when the room is not placed, or is placed here (and not open), or there is no cluster.
func (s *Server) roomNode(ctx context.Context, room string) (store.Node, error) {
	if s.p.Cluster == nil {
		return store.Node{}, nil
	}
	p, err := s.p.Store.RoomPlacementOf(ctx, room)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Node{}, nil
	case err != nil:
		return store.Node{}, err
	case p.NodeID == nil || *p.NodeID == s.p.Cluster.Node():
		return store.Node{}, nil
	}
	n, err := s.p.Store.NodeByID(ctx, *p.NodeID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Node{}, nil // gone: its rooms are closed with it
	}
	return n, err
}

// sendCommand asks node to run cmd.
func (s *Server) sendCommand(ctx context.Context, node store.Node, cmd roomCommand) (commandResult, error) {
	resp, err := s.postCommand(ctx, node, cmd)
	if err != nil {
		return commandResult{}, err
	}
	defer resp.Body.Close()
	var out commandResult
	switch resp.StatusCode {
	case http.StatusOK:
		err = json.NewDecoder(io.LimitReader(resp.Body, 4<<10)).Decode(&out)
		return out, err
	case http.StatusNotFound:
		return out, sfu.ErrParticipantNotFound
	case http.StatusConflict:
		return out, sfu.ErrWatchesElsewhere
	}
	return out, fmt.Errorf("command to %s: status %d", node.ID, resp.StatusCode)
}

// postCommand sends cmd to node; the caller closes the answer's body. ctx bounds the call
// with the answer's body read, up to commandTimeout.
func (s *Server) postCommand(ctx context.Context, node store.Node, cmd roomCommand) (*http.Response, error) {
	cmd.Node, cmd.Expiry, cmd.Nonce = node.ID, s.now().Add(commandLifetime).Unix(), rand.Text()
	token, err := s.p.Tokens.SignFor(commandPurpose, cmd)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	req, err := nodeRequest(ctx, http.MethodPost, node, commandPath+cmd.Room+"/commands", token)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("command to %s: %w", node.ID, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("command to %s: %w", node.ID, err)
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

// nodeRequest is a request to the internal endpoint path of node n, with the one-use
// token signed for it.
func nodeRequest(ctx context.Context, method string, n store.Node, path, token string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(n.URL, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return req, nil
}

// cancelOnClose ends a call's context once its answer's body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// forwardToRoom asks the node that runs the room of cmd to answer c: the owner's request
// on a recording of a room that runs elsewhere. The answer goes to c as that node gave
// it. False when the room runs on no other node (c is not answered).
func (s *Server) forwardToRoom(c *gin.Context, cmd roomCommand) bool {
	ctx := c.Request.Context()
	node, err := s.roomNode(ctx, cmd.Room)
	if err != nil {
		s.fail(c, err)
		return true
	}
	if node.ID == "" {
		return false
	}
	ip, port := s.clientAddr(c.Request)
	cmd.Client = netip.AddrPortFrom(ip, uint16(port)).String() //nolint:gosec // a port
	resp, err := s.postCommand(ctx, node, cmd)
	if err != nil {
		s.fail(c, fmt.Errorf("pass %s of room %s on to node %s: %w", cmd.Action, cmd.Room, node.ID, err))
		return true
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		s.fail(c, fmt.Errorf("answer of node %s: %w", node.ID, err))
		return true
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		c.Header("Retry-After", ra)
	}
	c.Data(resp.StatusCode, resp.Header.Get("Content-Type"), body)
	return true
}

// answerElsewhere has the node that runs the room of w answer c with action, for the
// webinar's owner organizerID, when elsewhere is set (the request did not come from
// another node); otherwise, or when the room runs on no other node, c gets notHere.
func (s *Server) answerElsewhere(c *gin.Context, elsewhere bool, w store.Webinar, organizerID, action string, notHere *Problem) {
	if !elsewhere || !s.forwardToRoom(c, roomCommand{Room: w.RoomID, Action: action, Webinar: w.ID, Organizer: organizerID}) {
		writeProblem(c, notHere)
	}
}

// proxiedHeader marks a request one node passed on to another, which does not pass it on
// again.
const proxiedHeader = "X-Webinaire-Proxied"

// proxyToRoom passes c's request on, as it is, to the node that runs room (a participant's
// request about its room's slides, reaching a node that does not run it) and its answer
// back. False when the room runs on no other node, or the request was passed on already
// (c is not answered).
func (s *Server) proxyToRoom(c *gin.Context, room string) bool {
	if c.GetHeader(proxiedHeader) != "" {
		return false
	}
	node, err := s.roomNode(c.Request.Context(), sfu.MainRoom(room))
	if err != nil {
		s.fail(c, err)
		return true
	}
	if node.ID == "" {
		return false
	}
	target, err := url.Parse(node.URL)
	if err != nil {
		s.fail(c, fmt.Errorf("url of node %s: %w", node.ID, err))
		return true
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	director := proxy.Director
	proxy.Director = func(r *http.Request) {
		director(r)
		r.Host = target.Host
		r.Header.Set(proxiedHeader, s.p.Cluster.Node())
	}
	proxy.ErrorHandler = func(_ http.ResponseWriter, _ *http.Request, err error) {
		s.log.Warn("request not passed on to the room's node", "node", node.ID, "err", err)
		c.Header("Retry-After", "5")
		writeProblem(c, errNoMediaNode)
	}
	proxy.ServeHTTP(c.Writer, c.Request)
	c.Abort()
	return true
}

// spendNodeToken tells whether token, a one-use token that one node made for another
// (nonce and expiry, in Unix seconds, are its claims), may be used now, and records its
// use: not expired, made for one call (commandLifetime), not used already. Call it once
// the token's signature and its other claims are checked.
func (s *Server) spendNodeToken(token, nonce string, expiry int64) bool {
	now := s.now()
	return nonce != "" && now.Unix() < expiry && expiry <= now.Add(commandLifetime).Unix()+1 &&
		s.p.Tokens.Spend(token, time.Unix(expiry, 0), now) == nil
}

// runCommand runs cmd on room, open here.
func runCommand(room *sfu.Room, cmd roomCommand) (commandResult, error) {
	switch cmd.Action {
	case commandRemove:
		return commandResult{}, room.Remove(cmd.Participant)
	case commandRole:
		return commandResult{}, room.SetRole(cmd.Participant, cmd.Role)
	case commandRemoveInvitees:
		return commandResult{Removed: room.RemoveInvitees(cmd.Invitation)}, nil
	case commandClose:
		_ = room.Close() // closing a room that has just closed is no error
		return commandResult{}, nil
	}
	return commandResult{}, fmt.Errorf("room command %q: %w", cmd.Action, sfu.ErrMalformedMessage)
}

// roomCommandHandler runs another node's command on a room open here.
func (s *Server) roomCommandHandler(c *gin.Context) {
	token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	var cmd roomCommand
	if !ok || s.p.Cluster == nil || s.p.Tokens.VerifyFor(commandPurpose, token, &cmd) != nil ||
		cmd.Room != c.Param("room") || cmd.Node != s.p.Cluster.Node() || !s.spendNodeToken(token, cmd.Nonce, cmd.Expiry) {
		writeProblem(c, errCommandToken)
		return
	}
	switch cmd.Action {
	case commandRecordStart, commandRecordStop, commandCastStart, commandCastStop, commandCastState:
		s.runRecordingCommand(c, cmd)
		return
	}
	room, open := s.p.SFU.Room(cmd.Room)
	if !open || room.Origin() != "" {
		writeProblem(c, errParticipantNotFound)
		return
	}
	out, err := runCommand(room, cmd)
	switch {
	case errors.Is(err, sfu.ErrParticipantNotFound), errors.Is(err, sfu.ErrRoomClosed):
		writeProblem(c, errParticipantNotFound)
	case errors.Is(err, sfu.ErrWatchesElsewhere):
		writeProblem(c, errWatchesOnEdge)
	case err != nil:
		s.fail(c, err)
	default:
		if cmd.Action == commandCastState {
			s.log.Debug("room command run for another node", "room", cmd.Room, "action", cmd.Action)
		} else {
			s.log.Info("room command run for another node", "room", cmd.Room, "action", cmd.Action)
		}
		c.JSON(http.StatusOK, out)
	}
}

// runRecordingCommand starts or stops, here, the recording or the live broadcast of a
// room that runs here, as another node's owner asked it: answered as that node's client
// would have been.
func (s *Server) runRecordingCommand(c *gin.Context, cmd roomCommand) {
	w, err := s.p.Store.WebinarOf(c.Request.Context(), cmd.Organizer, cmd.Webinar)
	if err != nil || w.RoomID != cmd.Room {
		writeProblem(c, errNotFound)
		return
	}
	if client, err := netip.ParseAddrPort(cmd.Client); err == nil {
		c.Set(forwardedClientKey, client)
	}
	if cmd.Action == commandCastState {
		s.log.Debug("room command run for another node", "room", cmd.Room, "action", cmd.Action)
	} else {
		s.log.Info("room command run for another node", "room", cmd.Room, "action", cmd.Action)
	}
	switch cmd.Action {
	case commandRecordStart:
		s.recordStart(c, w, cmd.Organizer, false)
	case commandRecordStop:
		s.recordStop(c, w, cmd.Organizer, false)
	case commandCastStart:
		target, err := s.p.Store.BroadcastTargetOf(c.Request.Context(), cmd.Organizer, w.ID)
		switch {
		case errors.Is(err, store.ErrNoBroadcastTarget):
			s.castStart(c, w, nil, cmd.Organizer, false)
		case err != nil:
			s.fail(c, err)
		default:
			s.castStart(c, w, &target, cmd.Organizer, false)
		}
	case commandCastStop:
		s.castStop(c, w, cmd.Organizer, false)
	case commandCastState:
		target, err := s.p.Store.BroadcastTargetOf(c.Request.Context(), cmd.Organizer, w.ID)
		var t *store.BroadcastTarget
		if err == nil {
			t = &target
		} else if !errors.Is(err, store.ErrNoBroadcastTarget) {
			s.fail(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, s.broadcastState(w.ID, t))
	}
}
