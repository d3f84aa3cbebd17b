package sfu

import (
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// Census counts what the open rooms hold now, for monitoring.
type Census struct {
	// Rooms is the number of open rooms.
	Rooms int
	// Participants counts the participants in the rooms by role, those in a lobby
	// excepted.
	Participants map[Role]int
	// Lobby is the number of participants waiting in a lobby.
	Lobby int
	// Tracks counts the published tracks by kind ("audio", "video"); parked tracks
	// (a demoted publisher's) are not counted. An edge room's tracks, relayed from its
	// origin, count on the edge too.
	Tracks map[string]int
	// EdgeRooms is the number of open rooms that are edges of another node's (edge.go);
	// Relays the number of edge nodes linked to this node's rooms (relay.go), and
	// RelayedLayers the layers of tracks they receive, each a stream sent once per link.
	EdgeRooms, Relays, RelayedLayers int
}

// Census counts the open rooms, their participants by role and in lobbies, and their
// published tracks by kind. It takes each room's lock in turn, not the forwarding's.
func (s *Server) Census() Census {
	rooms := s.openRooms()
	c := Census{
		Rooms:        len(rooms),
		Participants: map[Role]int{RoleModerator: 0, RolePresenter: 0, RoleAttendee: 0, RoleCaptioner: 0},
		Tracks: map[string]int{
			webrtc.RTPCodecTypeAudio.String(): 0,
			webrtc.RTPCodecTypeVideo.String(): 0,
		},
	}
	for _, r := range rooms {
		r.mu.Lock()
		c.Lobby += len(r.waiting)
		if r.origin != "" {
			c.EdgeRooms++
		}
		for _, p := range r.participants {
			if p.mode == modeRelay {
				c.Relays++
				c.RelayedLayers += p.sub.relayedCount()
			}
			if p.mode == modeRelay || p.mode == modeRemote {
				continue // counted where they are connected
			}
			c.Participants[p.role]++
			for _, up := range p.pub.published() {
				c.Tracks[up.kind.String()]++
			}
		}
		r.mu.Unlock()
	}
	return c
}

// LossBuckets is the number of buckets of LossStats.
const LossBuckets = 8

// LossBounds are the upper bounds of the buckets of LossStats, as fractions of the
// packets lost; the last bucket, 1, takes every report.
func LossBounds() [LossBuckets]float64 {
	return [LossBuckets]float64{0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1}
}

// LossStats is a histogram of the fractions lost that subscribers' receiver reports
// gave: Buckets[i] counts the reports whose fraction is at most LossBounds[i]
// (cumulative, as Prometheus wants them).
type LossStats struct {
	// Count is the number of reports.
	Count uint64
	// Sum is the sum of their fractions lost.
	Sum float64
	// Buckets are the cumulative counts, by LossBounds.
	Buckets [LossBuckets]uint64
}

// lossCounts counts receiver reports by fraction lost: one atomic add per report and
// bucket.
type lossCounts struct {
	// buckets count the reports per bucket, not cumulative.
	buckets [LossBuckets]atomic.Uint64
	// sum is the sum of the fractions lost, in 1/256ths as reports carry them.
	sum atomic.Uint64
}

// observe counts one report's fraction lost, in 1/256ths.
func (l *lossCounts) observe(fraction uint8) {
	f, bounds := float64(fraction)/256, LossBounds()
	i := 0
	for i < LossBuckets-1 && f > bounds[i] {
		i++
	}
	l.buckets[i].Add(1)
	l.sum.Add(uint64(fraction))
}

// stats reads the counts, made cumulative.
func (l *lossCounts) stats() LossStats {
	var st LossStats
	for i := range l.buckets {
		st.Count += l.buckets[i].Load()
		st.Buckets[i] = st.Count
	}
	st.Sum = float64(l.sum.Load()) / 256
	return st
}
