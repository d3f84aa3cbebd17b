package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"

	"webinaire/sfu"
	"webinaire/store"
)

// relayPath is where an edge node links to a room of this node (sfu.ServeRelay): a
// WebSocket of the signalling protocol, authenticated by a relay token that the edge
// signs with the cluster's shared token key. It is for the nodes only: the clients never
// get a relay token.
const relayPath = "/internal/v1/relay/"

// relayTokenLifetime is how long a relay token made for one dial is good for.
const relayTokenLifetime = time.Minute

var (
	errRelayToken = problem(http.StatusUnauthorized, "relay_token", "a valid relay token is required")
	errRelayMoved = problem(http.StatusConflict, "room_moved", "the room does not run on this node at that epoch")
)

// relay serves an edge node's link to a room placed on this node.
func (s *Server) relay(c *gin.Context) {
	if s.p.Cluster == nil {
		writeProblem(c, errNotFound)
		return
	}
	token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok {
		writeProblem(c, errRelayToken)
		return
	}
	claims, err := s.p.Tokens.VerifyRelay(token, s.now())
	if err != nil || claims.Room != c.Param("room") || claims.Origin != s.p.Cluster.Node() || claims.Edge == claims.Origin {
		writeProblem(c, errRelayToken)
		return
	}
	ctx := c.Request.Context()
	p, err := s.p.Store.RoomPlacementOf(ctx, claims.Room)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeProblem(c, errRelayMoved)
		return
	case err != nil:
		s.fail(c, fmt.Errorf("placement of relayed room %s: %w", claims.Room, err))
		return
	case p.NodeID == nil || *p.NodeID != claims.Origin || p.Epoch != claims.Epoch:
		writeProblem(c, errRelayMoved)
		return
	}
	edge, err := s.p.Store.NodeByID(ctx, claims.Edge)
	if err != nil {
		writeProblem(c, errRelayToken) // a token of a node that is not in the cluster
		return
	}
	ws, err := websocket.Accept(c.Writer, c.Request, &websocket.AcceptOptions{
		OriginPatterns:  []string{s.originPattern},
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return // Accept has answered (a handshake that is not valid)
	}
	conn := newWSConn(ws, sfu.MaxRelayMessageSize)
	defer conn.finish()
	s.log.Info("edge linked", "room", claims.Room, "edge", claims.Edge)
	err = s.p.SFU.ServeRelay(ctx, conn, sfu.RelayParams{Room: claims.Room, Kind: claims.Kind, Edge: claims.Edge, EdgeAddr: mediaIP(edge.MediaAddress)})
	s.log.Info("edge link ended", "room", claims.Room, "edge", claims.Edge, "reason", errText(err))
}

// DialOrigin links an edge room of this node to its origin (sfu.OriginDialer): a relay
// token for the room's current epoch, and a WebSocket to the origin's relay endpoint.
func (s *Server) DialOrigin(ctx context.Context, origin, room string, kind sfu.RoomKind) (sfu.Conn, netip.Addr, error) {
	if s.p.Cluster == nil {
		return nil, netip.Addr{}, sfu.ErrNoOrigin
	}
	n, err := s.p.Store.NodeByID(ctx, origin)
	if err != nil {
		return nil, netip.Addr{}, fmt.Errorf("origin node %s: %w", origin, err)
	}
	p, err := s.p.Store.RoomPlacementOf(ctx, room)
	if err != nil {
		return nil, netip.Addr{}, fmt.Errorf("placement of room %s: %w", room, err)
	}
	if p.NodeID == nil || *p.NodeID != origin {
		return nil, netip.Addr{}, fmt.Errorf("room %s is not on %s: %w", room, origin, sfu.ErrRoomMoved)
	}
	token, err := s.p.Tokens.SignRelay(sfu.RelayClaims{
		Room: room, Kind: kind, Origin: origin, Edge: s.p.Cluster.Node(), Epoch: p.Epoch,
		Expiry: s.now().Add(relayTokenLifetime).Unix(),
	})
	if err != nil {
		return nil, netip.Addr{}, fmt.Errorf("sign relay token: %w", err)
	}
	base := strings.TrimSuffix(n.URL, "/")
	url := "ws" + strings.TrimPrefix(base, "http") + relayPath + room
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPHeader:      http.Header{"Authorization": {"Bearer " + token}},
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, netip.Addr{}, fmt.Errorf("dial origin %s (status %d): %w", origin, status, err)
	}
	return newWSConn(ws, sfu.MaxRelayMessageSize), mediaIP(n.MediaAddress), nil
}

// mediaIP is the IP address of a node's media address ("host:port" or a host); invalid
// when it is a name or empty.
func mediaIP(addr string) netip.Addr {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
