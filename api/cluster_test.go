package api

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/sfu"
	"webinaire/store"
	"webinaire/store/storetest"
)

// stillMedia is an SFU with no room open and a fixed load.
type stillMedia struct{ load sfu.Load }

func (m stillMedia) Load() sfu.Load                   { return m.load }
func (m stillMedia) RoomIDs() []string                { return nil }
func (m stillMedia) EdgeRooms() map[string]sfu.EdgeOf { return nil }
func (m stillMedia) Room(string) (*sfu.Room, bool)    { return nil, false }

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// storeWithWebinar opens a SQLite store holding one organizer's meeting.
func storeWithWebinar(t *testing.T) (*store.Store, *store.Webinar) {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, store.DriverSQLite)
	o, err := st.UpsertOrganizer(ctx, store.Organizer{Issuer: "https://idp.example", Subject: "o", Email: "o@example.org"}, time.Now())
	require.NoError(t, err)
	w := &store.Webinar{OrganizerID: o.ID, Title: "W", Kind: store.KindMeeting, StartsAt: time.Now(), DurationMinutes: 30}
	require.NoError(t, st.CreateWebinar(ctx, w, time.Now()))
	return st, w
}

// The heartbeat carries the load; a room placed on a node and never opened there is
// released once its seats' hold is over; the rooms of a node gone silent are placed
// again on a live one by the sweep, with the next epoch. The heartbeats are driven by
// hand, on a clock the test moves.
func TestClusterHeartbeatReleaseAndSweep(t *testing.T) {
	ctx := context.Background()
	st, w := storeWithWebinar(t)

	clk := &testClock{now: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
	node := func(id string, participants int) *Cluster {
		c, err := NewCluster(ClusterParams{
			Store: st, Media: stillMedia{sfu.Load{Rooms: 1, Participants: participants}},
			Self:              store.Node{ID: id, URL: "http://" + id + ".example.org", Roles: store.NodeRoleBoth, Capacity: 100},
			HeartbeatInterval: time.Second, NodeTimeout: 5 * time.Second, SeatHold: 30 * time.Second,
			Now: clk.Now,
		})
		require.NoError(t, err)
		return c
	}
	a, b := node("a", 3), node("b", 40)
	require.NoError(t, a.beat(ctx))
	require.NoError(t, b.beat(ctx))
	nodes, err := st.Nodes(ctx)
	require.NoError(t, err)
	require.Len(t, nodes, 2)
	require.Equal(t, 3, nodes[0].Participants, "the heartbeat carries the load")
	require.Zero(t, nodes[0].PacketsPerSecond, "no rate at the first heartbeat")
	require.Equal(t, clk.Now(), nodes[0].HeartbeatAt.UTC())

	p, err := b.Place(ctx, w.RoomID, "p1", false)
	require.NoError(t, err)
	require.Equal(t, "a", p.Node.ID, "the least loaded node, whichever node's API places")
	_, err = b.Place(ctx, w.RoomID, "p1b", false)
	require.NoError(t, err)
	require.Equal(t, PlacementStats{Placed: 1, AlreadyPlaced: 1}, b.Placements(), "a first placement, then the room found on its node")

	// Nobody arrives on a: the placement stays for the seat hold, then goes.
	clk.Advance(29 * time.Second)
	require.NoError(t, a.beat(ctx))
	require.NoError(t, b.beat(ctx))
	a.checkRooms(ctx)
	placement := func() store.RoomPlacement {
		p, err := st.RoomPlacementOf(ctx, w.RoomID)
		require.NoError(t, err)
		return p
	}
	got := placement()
	require.Equal(t, "a", *got.NodeID, "within the hold")
	clk.Advance(2 * time.Second)
	a.checkRooms(ctx)
	got = placement()
	require.Nil(t, got.NodeID, "released once the hold is over")

	// Placed on a again; a goes silent; b's sweep moves the room once a is gone.
	p, err = b.Place(ctx, w.RoomID, "p2", false)
	require.NoError(t, err)
	require.Equal(t, "a", p.Node.ID)
	require.Equal(t, int64(2), p.Epoch)
	require.Equal(t, PlacementStats{Placed: 1, AlreadyPlaced: 1, Moved: 1}, b.Placements(), "placed again after its release")
	require.NoError(t, a.beat(ctx)) // its last
	for range 4 {
		clk.Advance(time.Second)
		require.NoError(t, b.beat(ctx))
		b.placeStranded(ctx)
	}
	got = placement()
	require.Equal(t, "a", *got.NodeID, "a is not gone before the node timeout")
	clk.Advance(time.Second)
	require.NoError(t, b.beat(ctx))
	b.placeStranded(ctx)
	got = placement()
	require.Equal(t, "b", *got.NodeID, "placed again on the live node")
	require.Equal(t, int64(3), got.Epoch)
	require.Equal(t, uint64(2), b.Placements().Moved, "the sweep's placements are counted")
	require.Zero(t, a.Placements().Placed+a.Placements().Moved, "a node counts its own decisions")

	// b leaves the cluster: its row goes and its rooms are released.
	require.NoError(t, b.Start(ctx))
	require.NoError(t, b.Close())
	got = placement()
	require.Nil(t, got.NodeID)
	nodes, err = st.Nodes(ctx)
	require.NoError(t, err)
	require.Len(t, nodes, 1)
	require.Equal(t, "a", nodes[0].ID)
}

func TestRateMeter(t *testing.T) {
	var m rateMeter
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	require.Zero(t, m.perSecond(t0, 1000), "first call")
	require.Equal(t, int64(500), m.perSecond(t0.Add(2*time.Second), 2000))
	require.Zero(t, m.perSecond(t0.Add(2*time.Second), 3000), "no time elapsed")
	require.Equal(t, int64(0), m.perSecond(t0.Add(3*time.Second), 3000))
}

// roomsMedia is an SFU with rooms open; it notes the rooms the cluster looks up, to close
// them when they are placed elsewhere, or to release the placements of rooms not open.
type roomsMedia struct {
	stillMedia
	open   []string
	mu     sync.Mutex
	looked []string
}

func (m *roomsMedia) RoomIDs() []string { return m.open }

func (m *roomsMedia) EdgeRooms() map[string]sfu.EdgeOf { return nil }
func (m *roomsMedia) Room(id string) (*sfu.Room, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.looked = append(m.looked, id)
	return nil, false
}

// A breakout room is placed as its main room: on its node, at its epoch, with no placement
// of its own; a node that runs both keeps the breakout room open.
func TestBreakoutRoomIsPlacedWithItsMainRoom(t *testing.T) {
	ctx := context.Background()
	st, w := storeWithWebinar(t)
	breakout := w.RoomID + ".br.q3kd5x7m2a4b6c8e9f0g1h2j3k"
	require.True(t, sfu.IsBreakoutRoom(breakout))

	media := &roomsMedia{open: []string{w.RoomID, breakout}}
	var nodes []*Cluster
	for _, id := range []string{"a", "b"} {
		c, err := NewCluster(ClusterParams{
			Store: st, Media: media,
			Self: store.Node{ID: id, URL: "http://" + id + ".example.org", Roles: store.NodeRoleBoth, Capacity: 100},
		})
		require.NoError(t, err)
		require.NoError(t, c.beat(ctx))
		nodes = append(nodes, c)
	}
	main, err := nodes[1].Place(ctx, w.RoomID, "p1", false)
	require.NoError(t, err)
	got, err := nodes[1].Place(ctx, breakout, "p2", false)
	require.NoError(t, err)
	require.Equal(t, main.Node.ID, got.Node.ID, "the breakout room goes where its main room is")
	require.Equal(t, main.Epoch, got.Epoch)
	_, err = st.RoomPlacementOf(ctx, breakout)
	require.ErrorIs(t, err, store.ErrNotFound, "no placement of its own")

	var here *Cluster
	for _, c := range nodes {
		if c.Node() == main.Node.ID {
			here = c
		}
	}
	here.checkRooms(ctx)
	require.NotContains(t, media.looked, breakout, "the breakout room is not closed on the node that runs its main room")
}
