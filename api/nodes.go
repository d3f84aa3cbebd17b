package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// nodeJSON is a node of the cluster as the administrators' page shows it.
type nodeJSON struct {
	ID               string    `json:"id"`
	URL              string    `json:"url"`
	MediaAddress     string    `json:"media_address"`
	Roles            string    `json:"roles"`
	Capacity         int       `json:"capacity"`
	Rooms            int       `json:"rooms"`
	Participants     int       `json:"participants"`
	PacketsPerSecond int64     `json:"packets_per_second"`
	CPUPercent       int       `json:"cpu_percent"`
	StartedAt        time.Time `json:"started_at"`
	HeartbeatAt      time.Time `json:"heartbeat_at"`
	// Alive tells that the last heartbeat is within the node timeout: rooms may be
	// placed on the node.
	Alive bool `json:"alive"`
}

// listNodes answers the nodes of the cluster with the load of their last heartbeat,
// gone ones included until they are forgotten, by id.
func (s *Server) listNodes(c *gin.Context) {
	nodes, err := s.p.Store.Nodes(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	timeout := DefaultNodeTimeout
	if s.p.Cluster != nil {
		timeout = s.p.Cluster.p.NodeTimeout
	}
	now := s.now()
	out := make([]nodeJSON, len(nodes))
	for i, n := range nodes {
		out[i] = nodeJSON{
			ID: n.ID, URL: n.URL, MediaAddress: n.MediaAddress, Roles: n.Roles, Capacity: n.Capacity,
			Rooms: n.Rooms, Participants: n.Participants, PacketsPerSecond: n.PacketsPerSecond,
			CPUPercent: n.CPUPercent, StartedAt: n.StartedAt.UTC(), HeartbeatAt: n.HeartbeatAt.UTC(),
			Alive: now.Sub(n.HeartbeatAt) < timeout,
		}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"nodes": out})
}
