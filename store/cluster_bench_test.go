package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/store"
	"webinaire/store/storetest"
)

// BenchmarkPlaceRoom measures what a join costs the database for its placement: the
// placement transaction at the API (PlaceRoom, with a seat reserved) and the end of the
// reservation when the participant enters its node (TakeSeat). Ten live nodes, and 1000
// seats reserved by joins on their way, as during a burst:
//
//   - placed: a join of a room already placed on a live node (the common case): the room's
//     row locked, the node read, a seat reserved;
//   - new: the first join of a room: the candidate nodes locked, the reserved seats
//     counted, the placement inserted, a seat reserved;
//   - parallel: joins of 100 placed rooms from GOMAXPROCS goroutines at once.
//
// docs/cluster.md has the command and the figures.
func BenchmarkPlaceRoom(b *testing.B) {
	for _, driver := range storetest.Drivers {
		b.Run(driver, func(b *testing.B) {
			ctx := context.Background()
			s := storetest.Open(b, driver)
			now := time.Now()
			for i := range 10 {
				n := node(fmt.Sprintf("node-%d", i), i*10, now)
				n.Capacity = 1_000_000
				require.NoError(b, s.Heartbeat(ctx, n))
			}
			o := organizer(b, s, "bench")
			newRoom := func() string {
				w := &store.Webinar{OrganizerID: o.ID, Title: "W", Kind: store.KindMeeting, StartsAt: t0, DurationMinutes: 60}
				require.NoError(b, s.CreateWebinar(ctx, w, t0))
				return w.RoomID
			}
			var seq atomic.Int64
			join := func(room string) {
				p := fmt.Sprintf("p%d", seq.Add(1))
				_, err := s.PlaceRoom(ctx, store.PlaceRequest{Room: room, Participant: p, Hold: time.Hour, Now: now, NodeTimeout: time.Hour})
				require.NoError(b, err)
				require.NoError(b, s.TakeSeat(ctx, room, p, time.Time{}))
			}
			inFlight := newRoom()
			for i := range 1000 {
				_, err := s.PlaceRoom(ctx, store.PlaceRequest{Room: inFlight, Participant: fmt.Sprintf("f%d", i), Hold: time.Hour, Now: now, NodeTimeout: time.Hour})
				require.NoError(b, err)
			}
			b.Run("placed", func(b *testing.B) {
				room := newRoom()
				join(room)
				for b.Loop() {
					join(room)
				}
			})
			b.Run("new", func(b *testing.B) {
				rooms := make([]string, b.N)
				for i := range rooms {
					rooms[i] = newRoom()
				}
				b.ResetTimer()
				for _, room := range rooms {
					join(room)
				}
			})
			b.Run("parallel", func(b *testing.B) {
				rooms := make([]string, 100)
				for i := range rooms {
					rooms[i] = newRoom()
					join(rooms[i])
				}
				var next atomic.Int64
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						join(rooms[next.Add(1)%int64(len(rooms))])
					}
				})
			})
		})
	}
}
