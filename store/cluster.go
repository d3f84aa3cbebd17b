package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ErrNoNode: no live node takes rooms, or every one is full; nothing was written.
var ErrNoNode = errors.New("no node to place the room on")

// Node roles: a node serves the API, media (rooms), or both.
const (
	NodeRoleAPI   = "api"
	NodeRoleMedia = "media"
	NodeRoleBoth  = "both"
	// NodeRoleDraining is a node that is stopping: it keeps the rooms it runs, and their
	// joins, but takes no new room.
	NodeRoleDraining = "draining"
)

// Node is a process of the cluster as its last heartbeat described it.
type Node struct {
	// ID names the node, unique in the cluster.
	ID string `gorm:"primaryKey"`
	// URL is the node's signalling base URL (http or https, no path).
	URL string
	// MediaAddress is where the node receives media (host:port), for the operators.
	MediaAddress string
	// Roles is NodeRoleAPI, NodeRoleMedia or NodeRoleBoth; api nodes take no room.
	Roles string
	// Capacity is how many participants the node takes.
	Capacity int
	// Rooms and Participants are the node's load at its heartbeat.
	Rooms, Participants int
	// PacketsPerSecond is the media packets the node handed to subscribers per second
	// between its last two heartbeats.
	PacketsPerSecond int64
	// CPUPercent is the share of the host's CPU the process used since its last heartbeat.
	CPUPercent int
	// StartedAt is when the process started; HeartbeatAt its last heartbeat.
	StartedAt, HeartbeatAt time.Time
}

// TableName is the table of Node.
func (Node) TableName() string { return "cluster_nodes" }

// takesRooms tells whether rooms may be placed on n.
func (n Node) takesRooms() bool { return n.Roles != NodeRoleAPI }

// RoomPlacement says which node runs a room, at which epoch.
type RoomPlacement struct {
	RoomID string `gorm:"primaryKey"`
	// NodeID is the node, nil once the room has closed there.
	NodeID *string
	// Epoch goes up at every move of the room and never down.
	Epoch    int64
	PlacedAt time.Time
}

// SeatReservation is a seat a join reserved on a node, until its participant enters.
type SeatReservation struct {
	RoomID        string `gorm:"primaryKey"`
	ParticipantID string `gorm:"primaryKey"`
	NodeID        string
	Until         time.Time
}

// RoomEdge is an edge node of a room at one epoch of its placement: it receives the
// room's tracks from the room's node for the viewers placed on it.
type RoomEdge struct {
	RoomID   string `gorm:"primaryKey"`
	NodeID   string `gorm:"primaryKey"`
	Epoch    int64
	PlacedAt time.Time
}

// Placement is where a room runs: its node and the epoch of the placement.
type Placement struct {
	Room string
	// Node is where the participant goes: the room's node, or one of its edges.
	Node  Node
	Epoch int64
	// Origin, when Node is an edge of the room, is the room's node; zero otherwise.
	Origin Node
	// Moved tells that this call placed the room (a first placement or a move).
	Moved bool
}

// PlaceRequest asks where a room runs, placing it if it has no live node.
type PlaceRequest struct {
	Room string
	// Participant, when set, reserves a seat for it on the room's node until Now+Hold.
	Participant string
	Hold        time.Duration
	// Now is the time of the request; a node whose heartbeat is before Now-NodeTimeout
	// is gone.
	Now         time.Time
	NodeTimeout time.Duration
	// Viewer tells that the participant only receives: when the room's node has no
	// seat left, the seat is found on an edge node of the room.
	Viewer bool
}

// Heartbeat writes n's row: its address, roles and load at n.HeartbeatAt.
func (s *Store) Heartbeat(ctx context.Context, n Node) error {
	n.StartedAt, n.HeartbeatAt = n.StartedAt.UTC(), n.HeartbeatAt.UTC()
	err := s.conn(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "id"}},
		UpdateAll: true,
	}).Create(&n).Error
	return translate("heartbeat", err)
}

// LeaveCluster removes node id from the cluster: its row goes and its rooms are
// released, to be placed again at their next join.
func (s *Store) LeaveCluster(ctx context.Context, id string) error {
	return s.InTx(ctx, func(tx *Store) error {
		if err := tx.conn(ctx).Model(&RoomPlacement{}).Where("node_id = ?", id).Update("node_id", nil).Error; err != nil {
			return translate("release rooms of leaving node", err)
		}
		return translate("remove node", tx.conn(ctx).Delete(&Node{}, "id = ?", id).Error)
	})
}

// NodeByID returns the row of node id; ErrNotFound when it is not in the cluster.
func (s *Store) NodeByID(ctx context.Context, id string) (Node, error) {
	var n Node
	err := s.conn(ctx).Take(&n, "id = ?", id).Error
	return n, translate("node", err)
}

// Nodes lists the nodes of the cluster, gone ones included, by id.
func (s *Store) Nodes(ctx context.Context) ([]Node, error) {
	var ns []Node
	err := s.conn(ctx).Order("id").Find(&ns).Error
	return ns, translate("nodes", err)
}

// PlaceRoom returns the live node of req.Room, placing the room on the least loaded live
// node that takes rooms when it has none (first join, closed room, gone node): the
// epoch goes up at each placement. The load of a node is the participants it reported
// plus the seats reserved on it; a node at its capacity takes no new room. With
// req.Participant, a seat is reserved on the room's node in the same transaction.
//
// On PostgreSQL the room's row and the rows of the candidate nodes are locked for the
// transaction (SELECT ... FOR UPDATE): concurrent placements of one room agree, and
// placements of new rooms see each other's reservations. A first placement that races
// another is retried.
func (s *Store) PlaceRoom(ctx context.Context, req PlaceRequest) (Placement, error) {
	var err error
	for range 3 {
		var p Placement
		err = s.InTx(ctx, func(tx *Store) error {
			var e error
			p, e = tx.placeLocked(ctx, req)
			return e
		})
		if !errors.Is(err, ErrConflict) {
			return p, err
		}
	}
	return Placement{}, err
}

// forUpdate locks the rows q reads until the transaction ends, where the database has
// row locks; SQLite's write transactions are serialized whole.
func (s *Store) forUpdate(q *gorm.DB) *gorm.DB {
	if s.driver == DriverPostgres {
		return q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return q
}

// placeLocked is PlaceRoom inside its transaction.
func (s *Store) placeLocked(ctx context.Context, req PlaceRequest) (Placement, error) {
	now := req.Now.UTC()
	alive := now.Add(-req.NodeTimeout)
	var row RoomPlacement
	err := s.forUpdate(s.conn(ctx)).Take(&row, "room_id = ?", req.Room).Error
	found := err == nil
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return Placement{}, translate("room placement", err)
	}
	if found && row.NodeID != nil {
		var n Node
		err := s.conn(ctx).Take(&n, "id = ? AND heartbeat_at > ?", *row.NodeID, alive).Error
		switch {
		case err == nil && n.takesRooms() && req.Viewer:
			return s.seatForViewer(ctx, req, n, row.Epoch)
		case err == nil && n.takesRooms():
			return Placement{Room: req.Room, Node: n, Epoch: row.Epoch}, s.reserveSeat(ctx, req, n.ID)
		case err != nil && !errors.Is(err, gorm.ErrRecordNotFound):
			return Placement{}, translate("node of room", err)
		}
	}
	n, err := s.leastLoaded(ctx, now, alive, "", nil)
	if err != nil {
		return Placement{}, err
	}
	p := Placement{Room: req.Room, Node: n, Epoch: 1, Moved: true}
	if found {
		p.Epoch = row.Epoch + 1
		res := s.conn(ctx).Model(&RoomPlacement{}).
			Where("room_id = ? AND epoch = ?", req.Room, row.Epoch).
			Updates(map[string]any{"node_id": n.ID, "epoch": p.Epoch, "placed_at": now})
		if res.Error != nil {
			return Placement{}, translate("move room", res.Error)
		}
		if res.RowsAffected == 0 {
			return Placement{}, fmt.Errorf("move room: epoch %d changed: %w", row.Epoch, ErrConflict)
		}
	} else {
		id := n.ID
		if err := s.conn(ctx).Create(&RoomPlacement{RoomID: req.Room, NodeID: &id, Epoch: 1, PlacedAt: now}).Error; err != nil {
			return Placement{}, translate("place room", err)
		}
	}
	return p, s.reserveSeat(ctx, req, n.ID)
}

// seatForViewer reserves a viewer's seat on origin, the room's live node at epoch, or,
// when origin is full, on an edge of the room: one it has at this epoch with a seat
// left, else the least loaded other live node, which becomes one.
func (s *Store) seatForViewer(ctx context.Context, req PlaceRequest, origin Node, epoch int64) (Placement, error) {
	now := req.Now.UTC()
	reserved, err := s.SeatsReservedOn(ctx, origin.ID, now)
	if err != nil {
		return Placement{}, err
	}
	p := Placement{Room: req.Room, Node: origin, Epoch: epoch}
	if origin.Participants+int(reserved) < origin.Capacity {
		return p, s.reserveSeat(ctx, req, origin.ID)
	}
	var edges []string
	err = s.conn(ctx).Model(&RoomEdge{}).Where("room_id = ? AND epoch = ?", req.Room, epoch).Pluck("node_id", &edges).Error
	if err != nil {
		return Placement{}, translate("edges of room", err)
	}
	edge, err := s.leastLoaded(ctx, now, now.Add(-req.NodeTimeout), origin.ID, edges)
	if errors.Is(err, ErrNoNode) {
		// No edge has a seat either: the room's node takes the viewer beyond its
		// capacity, as it would without a cluster.
		return p, s.reserveSeat(ctx, req, origin.ID)
	}
	if err != nil {
		return Placement{}, err
	}
	if !slices.Contains(edges, edge.ID) {
		err := s.conn(ctx).Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "room_id"}, {Name: "node_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"epoch", "placed_at"}),
		}).Create(&RoomEdge{RoomID: req.Room, NodeID: edge.ID, Epoch: epoch, PlacedAt: now}).Error
		if err != nil {
			return Placement{}, translate("add edge", err)
		}
	}
	p.Node, p.Origin = edge, origin
	return p, s.reserveSeat(ctx, req, edge.ID)
}

// SeatsReservedOn counts the seats reserved on node at now.
func (s *Store) SeatsReservedOn(ctx context.Context, node string, now time.Time) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&SeatReservation{}).Where("node_id = ? AND until > ?", node, now.UTC()).Count(&n).Error
	return n, translate("reserved seats", err)
}

// EdgesOf lists the edge nodes of room at epoch.
func (s *Store) EdgesOf(ctx context.Context, room string, epoch int64) ([]string, error) {
	var edges []string
	err := s.conn(ctx).Model(&RoomEdge{}).Where("room_id = ? AND epoch = ?", room, epoch).Order("node_id").Pluck("node_id", &edges).Error
	return edges, translate("edges of room", err)
}

// leastLoaded picks the live node that takes rooms with the lowest share of its capacity
// in use (reported participants plus live reservations), then the lowest CPU, then the
// lowest id, but for the node except; a node among prefer with a seat left goes first.
// It fails with ErrNoNode when every one is full.
func (s *Store) leastLoaded(ctx context.Context, now, alive time.Time, except string, prefer []string) (Node, error) {
	var nodes []Node
	err := s.forUpdate(s.conn(ctx).Where("heartbeat_at > ? AND roles NOT IN ? AND id <> ?", alive, []string{NodeRoleAPI, NodeRoleDraining}, except).Order("id")).Find(&nodes).Error
	if err != nil {
		return Node{}, translate("live nodes", err)
	}
	var counts []struct {
		NodeID string
		N      int
	}
	err = s.conn(ctx).Model(&SeatReservation{}).Select("node_id, count(*) AS n").
		Where("until > ?", now).Group("node_id").Scan(&counts).Error
	if err != nil {
		return Node{}, translate("reserved seats", err)
	}
	reserved := make(map[string]int, len(counts))
	for _, c := range counts {
		reserved[c.NodeID] = c.N
	}
	type candidate struct {
		n    Node
		used int
	}
	var open, preferred []candidate
	for _, n := range nodes {
		if used := n.Participants + reserved[n.ID]; used < n.Capacity {
			open = append(open, candidate{n, used})
			if slices.Contains(prefer, n.ID) {
				preferred = append(preferred, candidate{n, used})
			}
		}
	}
	if len(preferred) > 0 {
		open = preferred
	}
	if len(open) == 0 {
		return Node{}, fmt.Errorf("%d live nodes, all full: %w", len(nodes), ErrNoNode)
	}
	best := slices.MinFunc(open, func(a, b candidate) int {
		// a.used/a.cap against b.used/b.cap, in integers.
		return cmp.Or(
			cmp.Compare(int64(a.used)*int64(b.n.Capacity), int64(b.used)*int64(a.n.Capacity)),
			cmp.Compare(a.n.CPUPercent, b.n.CPUPercent),
			cmp.Compare(a.n.ID, b.n.ID),
		)
	})
	return best.n, nil
}

// reserveSeat reserves a seat for req.Participant on node, when req names one.
func (s *Store) reserveSeat(ctx context.Context, req PlaceRequest, node string) error {
	if req.Participant == "" {
		return nil
	}
	err := s.conn(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "room_id"}, {Name: "participant_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"node_id", "until"}),
	}).Create(&SeatReservation{RoomID: req.Room, ParticipantID: req.Participant, NodeID: node, Until: req.Now.UTC().Add(req.Hold)}).Error
	return translate("reserve seat", err)
}

// TakeSeat ends the reservation of participant's seat in room at counted: it has entered,
// and the node's participants count it from its next heartbeat, by counted at the latest.
// Until then the seat stays reserved, so that placements never see it free; it may count
// twice for a moment, never not at all.
func (s *Store) TakeSeat(ctx context.Context, room, participant string, counted time.Time) error {
	err := s.conn(ctx).Model(&SeatReservation{}).
		Where("room_id = ? AND participant_id = ? AND until > ?", room, participant, counted.UTC()).
		Update("until", counted.UTC()).Error
	return translate("take seat", err)
}

// RoomPlacementOf returns the placement of room; ErrNotFound when it was never placed.
func (s *Store) RoomPlacementOf(ctx context.Context, room string) (RoomPlacement, error) {
	var p RoomPlacement
	err := s.conn(ctx).Take(&p, "room_id = ?", room).Error
	return p, translate("room placement", err)
}

// PlacementsOf returns the placements of the rooms named, by room id; a room never
// placed is absent.
func (s *Store) PlacementsOf(ctx context.Context, rooms []string) (map[string]RoomPlacement, error) {
	out := make(map[string]RoomPlacement, len(rooms))
	for chunk := range slices.Chunk(rooms, 500) {
		var ps []RoomPlacement
		if err := s.conn(ctx).Where("room_id IN ?", chunk).Find(&ps).Error; err != nil {
			return nil, translate("room placements", err)
		}
		for _, p := range ps {
			out[p.RoomID] = p
		}
	}
	return out, nil
}

// PlacementsOn lists the rooms placed on node.
func (s *Store) PlacementsOn(ctx context.Context, node string) ([]RoomPlacement, error) {
	var ps []RoomPlacement
	err := s.conn(ctx).Where("node_id = ?", node).Order("room_id").Find(&ps).Error
	return ps, translate("rooms of node", err)
}

// ReleaseRoom records that room, placed on node at epoch, has closed there: its next
// join places it again. A placement that has moved since is left alone.
func (s *Store) ReleaseRoom(ctx context.Context, room, node string, epoch int64) error {
	err := s.conn(ctx).Model(&RoomPlacement{}).
		Where("room_id = ? AND node_id = ? AND epoch = ?", room, node, epoch).
		Update("node_id", nil).Error
	return translate("release room", err)
}

// StrandedRooms lists up to limit rooms placed on nodes gone at alive (no heartbeat
// since), or no longer in the cluster.
func (s *Store) StrandedRooms(ctx context.Context, alive time.Time, limit int) ([]string, error) {
	var rooms []string
	err := s.conn(ctx).Model(&RoomPlacement{}).
		Where("node_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM cluster_nodes n WHERE n.id = room_placements.node_id AND n.heartbeat_at > ?)", alive.UTC()).
		Order("room_id").Limit(limit).Pluck("room_id", &rooms).Error
	return rooms, translate("stranded rooms", err)
}

// ForgetExpired deletes the seat reservations over at now, the edges of placements that
// are over, and the rows of nodes gone since before goneBefore, and returns how many rows
// went.
func (s *Store) ForgetExpired(ctx context.Context, now, goneBefore time.Time) (int64, error) {
	res := s.conn(ctx).Delete(&SeatReservation{}, "until <= ?", now.UTC())
	if res.Error != nil {
		return 0, translate("forget reservations", res.Error)
	}
	n := res.RowsAffected
	// The edges of a placement that is over: the room moved or closed since.
	res = s.conn(ctx).Delete(&RoomEdge{}, "NOT EXISTS (SELECT 1 FROM room_placements p WHERE p.room_id = room_edges.room_id AND p.epoch = room_edges.epoch AND p.node_id IS NOT NULL)")
	if res.Error != nil {
		return 0, translate("forget edges", res.Error)
	}
	n += res.RowsAffected
	res = s.conn(ctx).Delete(&Node{}, "heartbeat_at < ?", goneBefore.UTC())
	return n + res.RowsAffected, translate("forget gone nodes", res.Error)
}
