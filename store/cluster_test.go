package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/store"
)

// node is a node of capacity 10 with its heartbeat at at.
func node(id string, participants int, at time.Time) store.Node {
	return store.Node{
		ID: id, URL: "http://" + id + ".example.org", Roles: store.NodeRoleBoth, Capacity: 10,
		Participants: participants, StartedAt: t0, HeartbeatAt: at,
	}
}

// rooms makes n webinars of one organizer and returns their room ids.
func rooms(t *testing.T, s *store.Store, n int) []string {
	t.Helper()
	o := organizer(t, s, "owner")
	var ids []string
	for range n {
		w := &store.Webinar{OrganizerID: o.ID, Title: "W", Kind: store.KindMeeting, StartsAt: t0, DurationMinutes: 60}
		require.NoError(t, s.CreateWebinar(context.Background(), w, t0))
		ids = append(ids, w.RoomID)
	}
	return ids
}

func TestPlacement(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const timeout = 5 * time.Second
		now := t0.Add(time.Hour)
		room := rooms(t, s, 3)
		req := func(room, participant string, at time.Time) store.PlaceRequest {
			return store.PlaceRequest{Room: room, Participant: participant, Hold: 30 * time.Second, Now: at, NodeTimeout: timeout}
		}

		_, err := s.PlaceRoom(ctx, req(room[0], "p1", now))
		require.ErrorIs(t, err, store.ErrNoNode, "no node yet")

		require.NoError(t, s.Heartbeat(ctx, node("a", 2, now)))
		require.NoError(t, s.Heartbeat(ctx, node("b", 3, now)))
		api := node("front", 0, now)
		api.Roles = store.NodeRoleAPI
		require.NoError(t, s.Heartbeat(ctx, api))

		p, err := s.PlaceRoom(ctx, req(room[0], "p1", now))
		require.NoError(t, err)
		require.Equal(t, "a", p.Node.ID, "the least loaded node (2 of 10 against 3 of 10)")
		require.Equal(t, int64(1), p.Epoch)
		require.True(t, p.Moved)

		// a: 2 reported + 1 reserved = 3, as b; the lower id wins a tie. One more seat on a
		// sends the next room to b, although a's reported load has not changed.
		p, err = s.PlaceRoom(ctx, req(room[0], "p2", now))
		require.NoError(t, err)
		require.Equal(t, "a", p.Node.ID, "a placed room stays where it is")
		require.False(t, p.Moved)
		p, err = s.PlaceRoom(ctx, req(room[1], "q1", now))
		require.NoError(t, err)
		require.Equal(t, "b", p.Node.ID, "a has 2 reported + 2 reserved seats, b 3")

		require.NoError(t, s.TakeSeat(ctx, room[0], "p1", now))
		require.NoError(t, s.TakeSeat(ctx, room[0], "p2", now))

		// a stops its heartbeat: gone after the timeout, its room moves to b at the next join.
		later := now.Add(timeout + time.Second)
		require.NoError(t, s.Heartbeat(ctx, node("b", 3, later)))
		stranded, err := s.StrandedRooms(ctx, later.Add(-timeout), 10)
		require.NoError(t, err)
		require.Equal(t, []string{room[0]}, stranded)
		p, err = s.PlaceRoom(ctx, req(room[0], "p3", later))
		require.NoError(t, err)
		require.Equal(t, "b", p.Node.ID)
		require.Equal(t, int64(2), p.Epoch, "a move bumps the epoch")
		require.True(t, p.Moved)
		stranded, err = s.StrandedRooms(ctx, later.Add(-timeout), 10)
		require.NoError(t, err)
		require.Empty(t, stranded)

		// Released where it closed, it is placed again with the next epoch.
		require.NoError(t, s.ReleaseRoom(ctx, room[0], "a", 2), "a stale release")
		got, err := s.RoomPlacementOf(ctx, room[0])
		require.NoError(t, err)
		require.Equal(t, "b", *got.NodeID, "a release of another node or epoch changes nothing")
		require.NoError(t, s.ReleaseRoom(ctx, room[0], "b", 2))
		got, err = s.RoomPlacementOf(ctx, room[0])
		require.NoError(t, err)
		require.Nil(t, got.NodeID)
		p, err = s.PlaceRoom(ctx, req(room[0], "", later))
		require.NoError(t, err)
		require.Equal(t, int64(3), p.Epoch)

		// b full (3 reported + 7 reserved): no room goes there.
		full := node("b", 10, later)
		require.NoError(t, s.Heartbeat(ctx, full))
		_, err = s.PlaceRoom(ctx, req(room[2], "r1", later))
		require.ErrorIs(t, err, store.ErrNoNode, "the only live node is full")

		byRoom, err := s.PlacementsOf(ctx, room)
		require.NoError(t, err)
		require.Len(t, byRoom, 2, "room 2 was never placed")
		on, err := s.PlacementsOn(ctx, "b")
		require.NoError(t, err)
		require.Len(t, on, 2)

		require.NoError(t, s.LeaveCluster(ctx, "b"))
		on, err = s.PlacementsOn(ctx, "b")
		require.NoError(t, err)
		require.Empty(t, on, "a node leaving releases its rooms")
		ns, err := s.Nodes(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"a", "front"}, []string{ns[0].ID, ns[1].ID})

		n, err := s.ForgetExpired(ctx, later.Add(time.Minute), later)
		require.NoError(t, err)
		require.Equal(t, int64(6), n, "a and front, gone; the reservations p1, p2 (taken), q1 and p3, over")
	})
}

// Concurrent first joins of one room agree on its node and epoch, and concurrent
// placements of new rooms see each other's reservations.
func TestConcurrentPlacements(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := t0.Add(time.Hour)
		for _, id := range []string{"a", "b"} {
			n := node(id, 0, now)
			n.Capacity = 100
			require.NoError(t, s.Heartbeat(ctx, n))
		}
		room := rooms(t, s, 17)
		place := func(n int, roomOf func(i int) string) []store.Placement {
			got, errs := make([]store.Placement, n), make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					got[i], errs[i] = s.PlaceRoom(ctx, store.PlaceRequest{
						Room: roomOf(i), Participant: fmt.Sprintf("p%d", i), Hold: time.Minute, Now: now, NodeTimeout: time.Minute,
					})
				})
			}
			wg.Wait()
			for _, err := range errs {
				require.NoError(t, err)
			}
			return got
		}
		seats := map[string]int{}
		first := place(8, func(int) string { return room[0] })
		for _, p := range first {
			require.Equal(t, first[0].Node.ID, p.Node.ID, "every join of the room on one node")
			require.Equal(t, int64(1), p.Epoch, "placed once")
			seats[p.Node.ID]++
		}
		for _, p := range place(16, func(i int) string { return room[i+1] }) {
			seats[p.Node.ID]++
		}
		require.Equal(t, map[string]int{"a": 12, "b": 12}, seats, "the reserved seats spread the rooms evenly")
	})
}

// TestViewersGoToEdges: viewers take the room's node while it has a seat, then fill an
// edge of the room before another becomes one; a participant who publishes always goes
// to the room's node; with every edge full, the room's node takes viewers beyond its
// capacity. A move of the room starts its edges again.
func TestViewersGoToEdges(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const timeout = 5 * time.Second
		now := t0.Add(time.Hour)
		room := rooms(t, s, 1)[0]
		seat := func(participant string, viewer bool) store.Placement {
			t.Helper()
			p, err := s.PlaceRoom(ctx, store.PlaceRequest{Room: room, Participant: participant, Hold: time.Minute, Now: now, NodeTimeout: timeout, Viewer: viewer})
			require.NoError(t, err)
			return p
		}
		small := func(id string, capacity int) store.Node {
			n := node(id, 0, now)
			n.Capacity = capacity
			return n
		}
		require.NoError(t, s.Heartbeat(ctx, small("a", 2)))
		require.NoError(t, s.Heartbeat(ctx, small("b", 2)))
		require.NoError(t, s.Heartbeat(ctx, small("c", 3)))

		p := seat("speaker", false)
		require.Equal(t, "a", p.Node.ID)
		require.Empty(t, p.Origin.ID)
		p = seat("v1", true)
		require.Equal(t, "a", p.Node.ID, "the room's node has a seat left")
		require.Empty(t, p.Origin.ID)

		var got []string
		for _, v := range []string{"v2", "v3", "v4", "v5", "v6"} {
			p = seat(v, true)
			require.Equal(t, "a", p.Origin.ID, "viewer %s on an edge of a", v)
			require.Equal(t, int64(1), p.Epoch)
			got = append(got, p.Node.ID)
		}
		require.Equal(t, []string{"b", "b", "c", "c", "c"}, got, "b filled before c is taken")
		edges, err := s.EdgesOf(ctx, room, 1)
		require.NoError(t, err)
		require.Equal(t, []string{"b", "c"}, edges)

		p = seat("presenter", false)
		require.Equal(t, "a", p.Node.ID, "a publisher goes to the room's node, full or not")
		require.Empty(t, p.Origin.ID)
		p = seat("v7", true)
		require.Equal(t, "a", p.Node.ID, "every edge full: the room's node takes the viewer")
		require.Empty(t, p.Origin.ID)

		// The room moves (a gone): its edges of epoch 1 are not those of epoch 2.
		later := now.Add(timeout + time.Second)
		require.NoError(t, s.Heartbeat(ctx, node("b", 0, later)))
		require.NoError(t, s.Heartbeat(ctx, node("c", 0, later)))
		p, err = s.PlaceRoom(ctx, store.PlaceRequest{Room: room, Now: later, NodeTimeout: timeout, Viewer: true})
		require.NoError(t, err)
		require.Equal(t, int64(2), p.Epoch)
		edges, err = s.EdgesOf(ctx, room, 2)
		require.NoError(t, err)
		require.Empty(t, edges)
		_, err = s.ForgetExpired(ctx, later, t0)
		require.NoError(t, err)
		edges, err = s.EdgesOf(ctx, room, 1)
		require.NoError(t, err)
		require.Empty(t, edges, "the edges of epoch 1 forgotten")
	})
}

// TestSeatStaysReservedUntilCounted: a participant who entered keeps its seat reserved
// until the node's heartbeat has counted it, so that a full node is never seen free.
func TestSeatStaysReservedUntilCounted(t *testing.T) {
	eachDriver(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := t0.Add(time.Hour)
		room := rooms(t, s, 2)
		one := node("a", 0, now)
		one.Capacity = 1
		require.NoError(t, s.Heartbeat(ctx, one))
		place := func(room, participant string, at time.Time) error {
			_, err := s.PlaceRoom(ctx, store.PlaceRequest{Room: room, Participant: participant, Hold: time.Minute, Now: at, NodeTimeout: time.Hour})
			return err
		}
		require.NoError(t, place(room[0], "p1", now))
		require.NoError(t, s.TakeSeat(ctx, room[0], "p1", now.Add(2*time.Second)), "p1 enters; the heartbeat has not counted it yet")
		require.ErrorIs(t, place(room[1], "q1", now.Add(time.Second)), store.ErrNoNode, "its seat is still taken")
		require.NoError(t, s.Heartbeat(ctx, node("a", 1, now.Add(time.Second))))
		one.Participants, one.HeartbeatAt = 0, now.Add(3*time.Second)
		require.NoError(t, s.Heartbeat(ctx, one))
		require.NoError(t, place(room[1], "q1", now.Add(3*time.Second)), "p1 left, and its reservation is over")
	})
}
