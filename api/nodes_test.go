package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/store"
)

// The administrators list the nodes of the cluster with the load of their last
// heartbeat, and whether they are alive; nobody else does.
func TestAdminListsNodes(t *testing.T) {
	e := setup(t, "sqlite", options{})
	now := e.clock.Now()
	for _, n := range []store.Node{
		{ID: "node-a", URL: "https://a.example.org", MediaAddress: "192.0.2.1:7882", Roles: store.NodeRoleBoth, Capacity: 500,
			Rooms: 2, Participants: 31, PacketsPerSecond: 4200, CPUPercent: 37, StartedAt: now.Add(-time.Hour), HeartbeatAt: now},
		{ID: "node-b", URL: "https://b.example.org", MediaAddress: "192.0.2.2:7882", Roles: store.NodeRoleMedia, Capacity: 500,
			StartedAt: now.Add(-2 * time.Hour), HeartbeatAt: now.Add(-time.Hour)},
	} {
		require.NoError(t, e.store.Heartbeat(context.Background(), n))
	}

	organizer := e.browser()
	organizer.Login(userOwner)
	resp := organizer.Do("GET", "/api/v1/admin/nodes", nil, nil)
	require.Equal(t, "forbidden", problemOf(t, resp).Code)

	admin := e.browser()
	admin.Login(userAdmin)
	resp = admin.Do("GET", "/api/v1/admin/nodes", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	var got struct {
		Nodes []struct {
			ID               string    `json:"id"`
			URL              string    `json:"url"`
			Rooms            int       `json:"rooms"`
			Participants     int       `json:"participants"`
			PacketsPerSecond int64     `json:"packets_per_second"`
			CPUPercent       int       `json:"cpu_percent"`
			HeartbeatAt      time.Time `json:"heartbeat_at"`
			Alive            bool      `json:"alive"`
		} `json:"nodes"`
	}
	decode(t, resp, &got)
	require.Len(t, got.Nodes, 2)
	a, b := got.Nodes[0], got.Nodes[1]
	require.Equal(t, "node-a", a.ID)
	require.Equal(t, "https://a.example.org", a.URL)
	require.Equal(t, 2, a.Rooms)
	require.Equal(t, 31, a.Participants)
	require.Equal(t, int64(4200), a.PacketsPerSecond)
	require.Equal(t, 37, a.CPUPercent)
	require.True(t, now.Equal(a.HeartbeatAt), "heartbeat %s, want %s", a.HeartbeatAt, now)
	require.True(t, a.Alive)
	require.Equal(t, "node-b", b.ID)
	require.False(t, b.Alive, "silent for an hour: gone")
}
