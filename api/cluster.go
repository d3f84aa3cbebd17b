package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"webinaire/sfu"
	"webinaire/store"
)

// Defaults of ClusterParams.
const (
	// DefaultHeartbeatInterval is how often a node writes its load.
	DefaultHeartbeatInterval = time.Second
	// DefaultNodeTimeout is how old a node's last heartbeat may be before it is gone.
	DefaultNodeTimeout = 5 * time.Second
	// DefaultSeatHold is how long a join's seat stays reserved on a node for its
	// participant to arrive.
	DefaultSeatHold = 30 * time.Second
)

// goneNodeKept is how long the row of a gone node stays for the operators to see.
const goneNodeKept = time.Hour

// strandedBatch bounds the rooms of gone nodes placed again at each heartbeat.
const strandedBatch = 100

// forgetEvery is how many heartbeats apart the expired reservations and the rows of
// nodes long gone are deleted.
const forgetEvery = 30

// ClusterMedia is what a node of the cluster reads of its SFU (sfu.Server).
type ClusterMedia interface {
	// Load is what the node carries now.
	Load() sfu.Load
	// RoomIDs are the rooms open on the node.
	RoomIDs() []string
	// Room is an open room.
	Room(id string) (*sfu.Room, bool)
	// EdgeRooms are the open rooms that are edges of another node's.
	EdgeRooms() map[string]sfu.EdgeOf
}

// ClusterParams configure a Cluster.
type ClusterParams struct {
	// Store is the database every node shares. Required.
	Store *store.Store
	// Media is this node's SFU. Required.
	Media ClusterMedia
	// Self describes this node: ID, URL (its signalling base URL), MediaAddress, Roles
	// and Capacity are required; the load and times are the Cluster's.
	Self store.Node
	// HeartbeatInterval, NodeTimeout and SeatHold: 0 means the default.
	HeartbeatInterval, NodeTimeout, SeatHold time.Duration
	// Now tells the time; nil is the system clock.
	Now func() time.Time
	// Logger receives the cluster's logs; nil discards them.
	Logger *slog.Logger
}

// Cluster is this node's part in the cluster: it heartbeats its load into the database,
// places rooms for the joins it answers, closes the rooms it learns it lost, releases the
// rooms that closed here, and places again the rooms of gone nodes. The database is the
// only shared state: placements are conditional updates in short transactions.
type Cluster struct {
	p       ClusterParams
	log     *slog.Logger
	started time.Time
	cpu     cpuMeter
	packets rateMeter
	// placements counts the placement decisions, by outcome.
	placements placementCounts

	mu       sync.Mutex
	stop     context.CancelFunc
	done     chan struct{}
	failed   bool // the last heartbeat failed: logged once until one succeeds
	draining bool // the node takes no new room, see Drain

	// beatMu serialises the heartbeats: the loop's and Drain's share the meters.
	beatMu sync.Mutex
}

// NewCluster returns the node described by p; Start joins the cluster.
func NewCluster(p ClusterParams) (*Cluster, error) {
	switch {
	case p.Store == nil || p.Media == nil:
		return nil, errors.New("new cluster: store and media are required")
	case p.Self.ID == "" || p.Self.URL == "":
		return nil, errors.New("new cluster: the node's id and URL are required")
	case p.Self.Capacity < 1:
		return nil, fmt.Errorf("new cluster: capacity %d, want at least 1", p.Self.Capacity)
	}
	switch p.Self.Roles {
	case store.NodeRoleAPI, store.NodeRoleMedia, store.NodeRoleBoth:
	default:
		return nil, fmt.Errorf("new cluster: roles %q, want api, media or both", p.Self.Roles)
	}
	p.HeartbeatInterval = cmp.Or(p.HeartbeatInterval, DefaultHeartbeatInterval)
	p.NodeTimeout = cmp.Or(p.NodeTimeout, DefaultNodeTimeout)
	p.SeatHold = cmp.Or(p.SeatHold, DefaultSeatHold)
	if p.HeartbeatInterval < 0 || p.NodeTimeout <= p.HeartbeatInterval || p.SeatHold < 0 {
		return nil, errors.New("new cluster: want 0 < heartbeat interval < node timeout, and a seat hold not negative")
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Cluster{p: p, log: log, started: p.Now()}
	c.cpu.last, c.cpu.lastCPU = c.started, processCPU()
	return c, nil
}

// Node is this node's id.
func (c *Cluster) Node() string { return c.p.Self.ID }

// nodeID is this node's id in its cluster; empty when it serves every room itself.
func (s *Server) nodeID() string {
	if s.p.Cluster == nil {
		return ""
	}
	return s.p.Cluster.Node()
}

// Start writes the first heartbeat, then keeps the node in the cluster until ctx ends
// or Close is called: a heartbeat every interval, with the checks of the rooms.
func (c *Cluster) Start(ctx context.Context) error {
	if err := c.beat(ctx); err != nil {
		return fmt.Errorf("join the cluster: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return errors.New("cluster already started")
	}
	ctx, c.stop = context.WithCancel(ctx)
	c.done = make(chan struct{})
	// Owned by the Cluster: it ends when ctx ends or Close cancels it.
	go c.loop(ctx, c.done)
	return nil
}

// Drain makes the node take no new room from now on, while the rooms it runs go on and
// take their joins, until they have all closed or timeout has passed (or ctx ends). The
// node still heartbeats; Close, after, leaves the cluster and releases what is left.
func (c *Cluster) Drain(ctx context.Context, timeout time.Duration) {
	c.mu.Lock()
	c.draining = true
	c.mu.Unlock()
	if err := c.beat(ctx); err != nil {
		c.log.Warn("draining not written: new rooms may still come until the node leaves", "err", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(c.p.HeartbeatInterval)
	defer t.Stop()
	for len(c.p.Media.RoomIDs()) > 0 {
		c.log.Info("draining: waiting for the node's rooms to end", "rooms", len(c.p.Media.RoomIDs()))
		select {
		case <-ctx.Done():
			c.log.Info("draining over: the rooms left move to other nodes", "rooms", len(c.p.Media.RoomIDs()))
			return
		case <-t.C:
		}
	}
	c.log.Info("drained: no room left")
}

// Close stops the heartbeats and leaves the cluster: the node's row goes and its rooms
// are released, to be placed again at their next join.
func (c *Cluster) Close() error {
	c.mu.Lock()
	stop, done := c.stop, c.done
	c.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	<-done
	ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
	defer cancel()
	return c.p.Store.LeaveCluster(ctx, c.p.Self.ID)
}

func (c *Cluster) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(c.p.HeartbeatInterval)
	defer t.Stop()
	for beats := 1; ; beats++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := c.beat(ctx); err != nil {
			continue
		}
		c.checkRooms(ctx)
		c.placeStranded(ctx)
		if beats%forgetEvery == 0 {
			c.forgetExpired(ctx)
		}
	}
}

// beat writes this node's heartbeat with its load.
func (c *Cluster) beat(ctx context.Context) error {
	c.beatMu.Lock()
	defer c.beatMu.Unlock()
	now := c.p.Now()
	load := c.p.Media.Load()
	n := c.p.Self
	c.mu.Lock()
	if c.draining {
		n.Roles = store.NodeRoleDraining
	}
	c.mu.Unlock()
	n.Rooms, n.Participants = load.Rooms, load.Participants
	n.CPUPercent = c.cpu.percent(now, processCPU())
	n.PacketsPerSecond = c.packets.perSecond(now, load.Forwarded)
	n.StartedAt, n.HeartbeatAt = c.started, now
	err := c.p.Store.Heartbeat(ctx, n)
	c.mu.Lock()
	logIt := (err != nil) != c.failed
	c.failed = err != nil
	c.mu.Unlock()
	switch {
	case logIt && err != nil:
		c.log.Error("heartbeat not written: other nodes will take this node's rooms after the node timeout", "node", n.ID, "err", err)
	case logIt:
		c.log.Info("heartbeat written again", "node", n.ID)
	}
	return err
}

// checkRooms closes the rooms open here that the database places elsewhere (another node
// took them while this one was thought gone), and releases the rooms placed here that
// are not open, once their seats' hold is over: closed here, or never reached.
func (c *Cluster) checkRooms(ctx context.Context) {
	now := c.p.Now()
	open := c.p.Media.RoomIDs()
	mains := make([]string, 0, len(open))
	for _, id := range open {
		if !sfu.IsBreakoutRoom(id) {
			mains = append(mains, id)
		}
	}
	placed, err := c.p.Store.PlacementsOf(ctx, mains)
	if err != nil {
		c.log.Warn("placements of open rooms not read", "err", err)
		return
	}
	edges := c.p.Media.EdgeRooms()
	for _, id := range open {
		// A room of this node's own must be placed here, a breakout room where its main
		// room is placed; an edge room, on its origin at the epoch it opened for.
		p, placedSomewhere := placed[sfu.MainRoom(id)]
		node := ""
		if placedSomewhere && p.NodeID != nil {
			node = *p.NodeID
		}
		if e, isEdge := edges[id]; isEdge {
			if node == e.Origin && p.Epoch == e.Epoch {
				continue
			}
		} else if node == c.p.Self.ID {
			continue
		}
		r, ok := c.p.Media.Room(id)
		if !ok {
			continue
		}
		c.log.Warn("room runs on another node now: closed here", "room", id, "edge", r.Origin() != "")
		r.Move()
	}
	mine, err := c.p.Store.PlacementsOn(ctx, c.p.Self.ID)
	if err != nil {
		c.log.Warn("rooms placed on this node not read", "err", err)
		return
	}
	for _, p := range mine {
		if _, ok := c.p.Media.Room(p.RoomID); ok || now.Sub(p.PlacedAt) < c.p.SeatHold {
			continue
		}
		if err := c.p.Store.ReleaseRoom(ctx, p.RoomID, c.p.Self.ID, p.Epoch); err != nil {
			c.log.Warn("room not released", "room", p.RoomID, "err", err)
		}
	}
}

// placeStranded places again the rooms of gone nodes.
func (c *Cluster) placeStranded(ctx context.Context) {
	now := c.p.Now()
	rooms, err := c.p.Store.StrandedRooms(ctx, now.Add(-c.p.NodeTimeout), strandedBatch)
	if err != nil {
		c.log.Warn("rooms of gone nodes not read", "err", err)
		return
	}
	for _, room := range rooms {
		p, err := c.p.Store.PlaceRoom(ctx, store.PlaceRequest{Room: room, Now: now, NodeTimeout: c.p.NodeTimeout})
		if err != nil {
			c.placements.count(p, err)
			c.log.Warn("room of a gone node not placed again", "room", room, "err", err)
			continue
		}
		c.placements.count(p, nil)
		c.log.Info("room of a gone node placed again", "room", room, "node", p.Node.ID, "epoch", p.Epoch)
	}
}

// forgetExpired deletes the reservations that are over and the rows of nodes long gone.
func (c *Cluster) forgetExpired(ctx context.Context) {
	now := c.p.Now()
	if _, err := c.p.Store.ForgetExpired(ctx, now, now.Add(-goneNodeKept)); err != nil {
		c.log.Warn("expired reservations not forgotten", "err", err)
	}
}

// Place returns the node that runs room, placing it if needed, and reserves a seat there
// for participant (none when empty); a viewer, who only receives, gets a seat on an edge
// node of the room when the room's node is full. A breakout room is placed as its main
// room: with it, and never on an edge.
func (c *Cluster) Place(ctx context.Context, room, participant string, viewer bool) (store.Placement, error) {
	if main := sfu.MainRoom(room); main != room {
		room, viewer = main, false
	}
	p, err := c.p.Store.PlaceRoom(ctx, store.PlaceRequest{
		Room: room, Participant: participant, Hold: c.p.SeatHold, Now: c.p.Now(), NodeTimeout: c.p.NodeTimeout, Viewer: viewer,
	})
	c.placements.count(p, err)
	if err == nil && p.Moved {
		c.log.Info("room placed", "room", room, "node", p.Node.ID, "epoch", p.Epoch)
	}
	return p, err
}

// PlacementStats are the placement decisions of a node since it started.
type PlacementStats struct {
	// Placed is the rooms placed for the first time (epoch 1).
	Placed uint64
	// AlreadyPlaced is the requests that found their room on a live node.
	AlreadyPlaced uint64
	// Moved is the rooms placed again: their node was gone or they had closed.
	Moved uint64
	// Failed is the requests that placed nothing (no live node with room, database
	// error).
	Failed uint64
}

// Placements counts the placement decisions this node made; a nil Cluster made none.
func (c *Cluster) Placements() PlacementStats {
	if c == nil {
		return PlacementStats{}
	}
	return PlacementStats{
		Placed:        c.placements.placed.Load(),
		AlreadyPlaced: c.placements.already.Load(),
		Moved:         c.placements.moved.Load(),
		Failed:        c.placements.failed.Load(),
	}
}

// placementCounts counts placement decisions by outcome.
type placementCounts struct {
	placed, already, moved, failed atomic.Uint64
}

// count counts the outcome of one placement request.
func (pc *placementCounts) count(p store.Placement, err error) {
	switch {
	case err != nil:
		pc.failed.Add(1)
	case !p.Moved:
		pc.already.Add(1)
	case p.Epoch > 1:
		pc.moved.Add(1)
	default:
		pc.placed.Add(1)
	}
}

// cpuMeter turns the process's CPU time into a share of the host's CPUs between two
// heartbeats.
type cpuMeter struct {
	last    time.Time
	lastCPU time.Duration
}

// percent is the share of the host's CPUs, in percent, the process used from the last
// call to now, when it had used cpu in all.
func (m *cpuMeter) percent(now time.Time, cpu time.Duration) int {
	wall := now.Sub(m.last)
	used := cpu - m.lastCPU
	m.last, m.lastCPU = now, cpu
	if wall <= 0 || used < 0 {
		return 0
	}
	return int(100 * used / (wall * time.Duration(runtime.NumCPU())))
}

// rateMeter turns a count that only grows into a rate per second between two heartbeats.
type rateMeter struct {
	last  time.Time
	count uint64
}

// perSecond is the rate of the count from the last call to now, when it is count; 0 at
// the first call.
func (m *rateMeter) perSecond(now time.Time, count uint64) int64 {
	wall := now.Sub(m.last)
	first := m.last.IsZero()
	grown := count - m.count
	m.last, m.count = now, count
	if first || wall <= 0 || count < grown {
		return 0
	}
	return int64(float64(grown) / wall.Seconds())
}

// clockTicks is the unit of the CPU times in /proc/self/stat (USER_HZ, 100 on Linux).
const clockTicks = 100

// processCPU is the CPU time the process has used, user and system, from
// /proc/self/stat; 0 where there is none.
func processCPU() time.Duration {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	return parseProcStat(string(data))
}

// parseProcStat reads utime and stime, fields 14 and 15 of a /proc/<pid>/stat line,
// counting after the command name in parentheses, which may hold spaces.
func parseProcStat(line string) time.Duration {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(line[i+1:]) // from field 3, the state
	if len(f) < 13 {
		return 0
	}
	user, err1 := strconv.ParseInt(f[11], 10, 64)
	sys, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(user+sys) * time.Second / clockTicks
}
