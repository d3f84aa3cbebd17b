package sfu

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/transport/v5"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// sendBatchSize is the most datagrams one sendmmsg system call sends.
const sendBatchSize = 64

// sendSlotSize is the room for one queued datagram: more than an RTP packet of an
// Ethernet MTU with its SRTP tag, a DTLS record or an SCTP packet. A larger datagram
// is sent on its own.
const sendSlotSize = 2048

// fanout brackets the writes of one packet to many subscribers: hold before the first
// write, release after the last. A forwarding goroutine calls them around its loop over
// the subscribers; the media sockets then send what the loop wrote together.
type fanout interface {
	hold()
	release()
}

// noFanout is the fanout of a track that is not sent on the server's sockets.
type noFanout struct{}

func (noFanout) hold()    {}
func (noFanout) release() {}

// SendStats count what the media sockets sent in batches.
type SendStats struct {
	// Batches is the number of sendmmsg calls made for queued datagrams.
	Batches uint64
	// Datagrams is the number of datagrams those calls sent.
	Datagrams uint64
	// Dropped is the number of queued datagrams the kernel refused (an unreachable
	// destination, no buffer space, a closed socket); each is lost as a failed sendmsg
	// would have lost it.
	Dropped uint64
	// Direct is the number of RTP packets the server encrypted and wrote itself
	// (direct.go), batched or not.
	Direct uint64
	// DirectConnections and PionConnections count the PeerConnections whose RTP was sent
	// directly and through Pion, once each when their DTLS came up.
	DirectConnections, PionConnections uint64
}

// sendBatcher gathers the datagrams the server's media sockets write while at least one
// fan-out holds it, and sends them with one sendmmsg per socket when the last write of a
// fan-out is done (release) or when a socket's batch is full. A write while no fan-out
// holds it goes out at once, so ICE, DTLS and RTCP written by other goroutines wait at
// most for the end of the fan-out in progress. Datagrams written by one goroutine keep
// their order, and release returns once what its fan-out wrote is sent; datagrams of
// different goroutines have no order, as with concurrent sendmsg.
type sendBatcher struct {
	holds atomic.Int32

	mu    sync.Mutex // serialises changes of conns
	conns atomic.Pointer[[]*batchConn]

	batches, datagrams, dropped    atomic.Uint64
	direct, directConns, pionConns atomic.Uint64
}

func newSendBatcher() *sendBatcher {
	b := &sendBatcher{}
	b.conns.Store(&[]*batchConn{})
	return b
}

// hold starts a fan-out: writes are queued until release.
func (b *sendBatcher) hold() { b.holds.Add(1) }

// release ends a fan-out and sends what every socket queued, whoever queued it.
func (b *sendBatcher) release() {
	b.holds.Add(-1)
	for _, c := range *b.conns.Load() {
		c.flush()
	}
}

// stats reads the counters.
func (b *sendBatcher) stats() SendStats {
	return SendStats{
		Batches: b.batches.Load(), Datagrams: b.datagrams.Load(), Dropped: b.dropped.Load(),
		Direct: b.direct.Load(), DirectConnections: b.directConns.Load(), PionConnections: b.pionConns.Load(),
	}
}

// wrap makes conn a batching socket of b.
func (b *sendBatcher) wrap(conn *net.UDPConn) *batchConn {
	c := &batchConn{UDPConn: conn, group: b}
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() != nil {
		c.w, c.v4 = ipv4.NewPacketConn(conn), true
	} else {
		c.w = ipv6.NewPacketConn(conn)
	}
	c.queue = newSendQueue()
	b.mu.Lock()
	defer b.mu.Unlock()
	old := *b.conns.Load()
	conns := append(append(make([]*batchConn, 0, len(old)+1), old...), c)
	b.conns.Store(&conns)
	return c
}

// forget takes a closed socket off the list release goes through.
func (b *sendBatcher) forget(c *batchConn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := *b.conns.Load()
	conns := make([]*batchConn, 0, len(old))
	for _, o := range old {
		if o != c {
			conns = append(conns, o)
		}
	}
	b.conns.Store(&conns)
}

// batchWriter is the sendmmsg of golang.org/x/net's ipv4 and ipv6 packet conns.
type batchWriter interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// batchConn is a UDP socket under an ICE UDP mux whose writes are queued while its
// sendBatcher is held. It is a transport.UDPConn (for the mux's Net) and an
// ice.AddrPortReaderWriter, which the mux uses for every read and write.
type batchConn struct {
	*net.UDPConn
	group *sendBatcher
	w     batchWriter
	v4    bool // an IPv4 socket: destinations are written as 4-byte addresses
	// arrivals, when set, notes when each published packet came in; rx is the control
	// buffer of the reads, which the mux's one reading goroutine makes.
	arrivals *arrivalTable
	rx       rxControl

	// sendMu is held by the one flush that swaps a batch out and sends it, so that
	// batches go out in the order they were filled. Writers queue under mu only and
	// do not wait for a system call.
	sendMu sync.Mutex
	mu     sync.Mutex // guards queue, inflight, free and closed
	queue  *sendQueue // the batch being filled, never nil
	// inflight counts the batches swapped out and not yet sent (0 or 1).
	inflight int
	free     []*sendQueue
	closed   bool
}

// sendQueue is one batch of datagrams with its preallocated buffers and addresses.
type sendQueue struct {
	msgs  []ipv4.Message
	addrs []net.UDPAddr
	bufs  []byte
	n     int
}

func newSendQueue() *sendQueue {
	q := &sendQueue{
		msgs:  make([]ipv4.Message, sendBatchSize),
		addrs: make([]net.UDPAddr, sendBatchSize),
		bufs:  make([]byte, sendBatchSize*sendSlotSize),
	}
	for i := range q.msgs {
		q.addrs[i].IP = make(net.IP, net.IPv6len)
		q.msgs[i].Buffers = make([][]byte, 1)
		q.msgs[i].Addr = &q.addrs[i]
	}
	return q
}

// add copies p for dst into the next slot; the queue is not full.
func (q *sendQueue) add(p []byte, dst netip.AddrPort, v4 bool) {
	i := q.n
	buf := q.bufs[i*sendSlotSize : i*sendSlotSize+len(p)]
	copy(buf, p)
	q.msgs[i].Buffers[0] = buf
	a := &q.addrs[i]
	ip := dst.Addr()
	if v4 && ip.Unmap().Is4() {
		b := ip.Unmap().As4()
		a.IP = a.IP[:net.IPv4len]
		copy(a.IP, b[:])
		a.Zone = ""
	} else {
		b := ip.As16()
		a.IP = a.IP[:net.IPv6len]
		copy(a.IP, b[:])
		a.Zone = ip.Zone()
	}
	a.Port = int(dst.Port())
	q.n++
}

// WriteToAddrPort queues p for dst while a fan-out holds the batch, and sends it at once
// otherwise, after what this goroutine queued before. A queued datagram is reported
// written; if the kernel refuses it later it is counted in SendStats.Dropped.
func (c *batchConn) WriteToAddrPort(p []byte, dst netip.AddrPort) (int, error) {
	if len(p) > sendSlotSize {
		c.flush() // what was queued goes first
		return c.UDPConn.WriteToUDPAddrPort(p, dst)
	}
	for {
		c.mu.Lock()
		held := c.group.holds.Load() > 0
		// Checked under mu: a release that came in between has flushed, and would not
		// see a datagram queued now.
		if c.closed || !held && c.queue.n == 0 && c.inflight == 0 {
			c.mu.Unlock()
			return c.UDPConn.WriteToUDPAddrPort(p, dst)
		}
		if c.queue.n == sendBatchSize {
			// Full: the writer that filled it is about to send it.
			c.mu.Unlock()
			c.flush()
			continue
		}
		c.queue.add(p, dst, c.v4)
		full := c.queue.n == sendBatchSize
		c.mu.Unlock()
		if full || !held {
			// Not held: queued behind a batch being sent, so as to go after it.
			c.flush()
		}
		return len(p), nil
	}
}

// WriteTo is WriteToAddrPort for a *net.UDPAddr.
func (c *batchConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	a, ok := addr.(*net.UDPAddr)
	if !ok {
		return c.UDPConn.WriteTo(p, addr)
	}
	return c.WriteToAddrPort(p, a.AddrPort())
}

// WriteToUDP is WriteToAddrPort for a *net.UDPAddr.
func (c *batchConn) WriteToUDP(p []byte, addr *net.UDPAddr) (int, error) {
	return c.WriteToAddrPort(p, addr.AddrPort())
}

// ReadFromAddrPort reads one datagram, and notes when it came if it is a packet of a
// published stream. One goroutine reads (the mux's).
func (c *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	if c.arrivals == nil {
		return c.UDPConn.ReadFromUDPAddrPort(p)
	}
	oob := c.rx.bytes()
	n, oobn, _, addr, err := c.UDPConn.ReadMsgUDPAddrPort(p, oob)
	if err == nil {
		c.arrivals.note(p[:n], oob[:oobn])
	}
	return n, addr, err
}

// Close drops what is queued and closes the socket.
func (c *batchConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.group.dropped.Add(uint64(c.queue.n))
	c.queue.n = 0
	c.mu.Unlock()
	c.group.forget(c)
	return c.UDPConn.Close()
}

// flush sends what is queued, and returns once what was queued before it was called
// has been handed to the kernel, by this call or by a flush already under way.
func (c *batchConn) flush() {
	c.mu.Lock()
	idle := c.queue.n == 0 && c.inflight == 0
	c.mu.Unlock()
	if idle {
		return
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.mu.Lock()
	if c.queue.n == 0 {
		c.mu.Unlock()
		return
	}
	full := c.swapLocked()
	c.inflight++
	c.mu.Unlock()
	c.send(full)
}

// swapLocked puts an empty batch in place of the queue and returns the queue, to be
// sent without the lock; c.mu is held.
func (c *batchConn) swapLocked() *sendQueue {
	full := c.queue
	if n := len(c.free); n > 0 {
		c.queue = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		c.queue = newSendQueue()
	}
	return full
}

// send writes q with as few sendmmsg calls as the kernel allows, then recycles it;
// c.sendMu is held. A
// call sends the datagrams before the first it fails on; that one is counted as dropped
// and the rest are sent by the next call.
func (c *batchConn) send(q *sendQueue) {
	ms := q.msgs[:q.n]
	for len(ms) > 0 {
		n, err := c.w.WriteBatch(ms, 0)
		n = max(0, min(n, len(ms)))
		c.group.batches.Add(1)
		c.group.datagrams.Add(uint64(n))
		ms = ms[n:]
		if err == nil {
			continue
		}
		if errors.Is(err, net.ErrClosed) {
			c.group.dropped.Add(uint64(len(ms)))
			break
		}
		if len(ms) > 0 {
			c.group.dropped.Add(1)
			ms = ms[1:]
		}
	}
	q.n = 0
	c.mu.Lock()
	c.inflight--
	c.free = append(c.free, q)
	c.mu.Unlock()
}

// batchNet is the network of the server's ICE UDP muxes: stdnet, with every UDP
// socket it listens on made a batchConn of one sendBatcher, noting its arrivals in one
// table.
type batchNet struct {
	transport.Net
	batcher  *sendBatcher
	arrivals *arrivalTable
}

// ListenUDP opens a UDP socket that batches its writes.
func (n batchNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	conn, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	udp, ok := conn.(*net.UDPConn)
	if !ok {
		return conn, nil
	}
	if a, ok := udp.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() != nil {
		if err := setDontFragment(udp); err != nil {
			_ = udp.Close()
			return nil, fmt.Errorf("set don't fragment: %w", err)
		}
	}
	if n.arrivals != nil {
		if err := setReceiveTimes(udp); err != nil {
			_ = udp.Close()
			return nil, fmt.Errorf("ask for receive times: %w", err)
		}
	}
	c := n.batcher.wrap(udp)
	c.arrivals = n.arrivals
	return c, nil
}
