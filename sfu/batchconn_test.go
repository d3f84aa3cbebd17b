package sfu

import (
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/pion/transport/v5/stdnet"
	"github.com/stretchr/testify/require"
)

// batchSetup is a batching socket and receivers on one loopback address.
type batchSetup struct {
	b    *sendBatcher
	conn *batchConn
	dsts []*net.UDPConn
}

// newBatchSetup opens a batching socket on ip and n receivers beside it.
func newBatchSetup(t *testing.T, ip string, n int) batchSetup {
	t.Helper()
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
		require.NoError(t, err)
		return c
	}
	b := newSendBatcher()
	s := batchSetup{b: b, conn: b.wrap(listen())}
	t.Cleanup(func() { _ = s.conn.Close() })
	for range n {
		d := listen()
		t.Cleanup(func() { _ = d.Close() })
		s.dsts = append(s.dsts, d)
	}
	return s
}

// addr is the address of receiver i.
func (s batchSetup) addr(i int) netip.AddrPort {
	return s.dsts[i].LocalAddr().(*net.UDPAddr).AddrPort()
}

// datagram is a payload naming its writer and its number.
func datagram(writer, seq int) []byte {
	p := make([]byte, 100)
	binary.BigEndian.PutUint32(p, uint32(writer))
	binary.BigEndian.PutUint32(p[4:], uint32(seq))
	return p
}

// receive reads one datagram from c and returns its writer and number.
func receive(t *testing.T, c *net.UDPConn) (writer, seq int) {
	t.Helper()
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	require.NoError(t, err)
	require.Equal(t, 100, n)
	return int(binary.BigEndian.Uint32(buf)), int(binary.BigEndian.Uint32(buf[4:]))
}

func (s batchSetup) queued() int {
	s.conn.mu.Lock()
	defer s.conn.mu.Unlock()
	return s.conn.queue.n
}

func testBatchReachesEveryDestinationInOrder(t *testing.T, ip string) {
	s := newBatchSetup(t, ip, 5)
	const rounds = 3
	s.b.hold()
	for seq := range rounds {
		for i := range s.dsts {
			n, err := s.conn.WriteToAddrPort(datagram(i, seq), s.addr(i))
			require.NoError(t, err)
			require.Equal(t, 100, n)
		}
	}
	require.Equal(t, rounds*len(s.dsts), s.queued(), "datagrams queued while held")
	require.Equal(t, SendStats{}, s.b.stats(), "nothing sent while held")
	s.b.release()
	require.Zero(t, s.queued())
	require.Equal(t, SendStats{Batches: 1, Datagrams: rounds * 5}, s.b.stats())
	for i, d := range s.dsts {
		for seq := range rounds {
			gotWriter, gotSeq := receive(t, d)
			require.Equal(t, i, gotWriter, "receiver %d got a datagram of %d", i, gotWriter)
			require.Equal(t, seq, gotSeq, "receiver %d: got datagram %d, want %d", i, gotSeq, seq)
		}
	}
}

func TestBatchReachesEveryDestinationInOrder(t *testing.T) {
	testBatchReachesEveryDestinationInOrder(t, "127.0.0.1")
}

func TestBatchIPv6(t *testing.T) {
	if c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		_ = c.Close()
	}
	testBatchReachesEveryDestinationInOrder(t, "::1")
}

func TestWriteWithoutHoldGoesOutAtOnce(t *testing.T) {
	s := newBatchSetup(t, "127.0.0.1", 1)
	_, err := s.conn.WriteTo(datagram(0, 7), net.UDPAddrFromAddrPort(s.addr(0)))
	require.NoError(t, err)
	require.Zero(t, s.queued())
	require.Equal(t, SendStats{}, s.b.stats(), "sent by sendmsg, not in a batch")
	_, seq := receive(t, s.dsts[0])
	require.Equal(t, 7, seq)

	// After a fan-out, writes go out at once again.
	s.b.hold()
	s.b.release()
	_, err = s.conn.WriteToAddrPort(datagram(0, 8), s.addr(0))
	require.NoError(t, err)
	require.Zero(t, s.queued())
	_, seq = receive(t, s.dsts[0])
	require.Equal(t, 8, seq)
}

func TestFullBatchIsSent(t *testing.T) {
	s := newBatchSetup(t, "127.0.0.1", 1)
	s.b.hold()
	for seq := range sendBatchSize + 1 {
		_, err := s.conn.WriteToAddrPort(datagram(0, seq), s.addr(0))
		require.NoError(t, err)
	}
	require.Equal(t, SendStats{Batches: 1, Datagrams: sendBatchSize}, s.b.stats(), "the full batch went out while held")
	require.Equal(t, 1, s.queued())
	s.b.release()
	require.Equal(t, SendStats{Batches: 2, Datagrams: sendBatchSize + 1}, s.b.stats())
	for want := range sendBatchSize + 1 {
		_, seq := receive(t, s.dsts[0])
		require.Equal(t, want, seq)
	}
}

func TestHeldUntilTheLastFanoutEnds(t *testing.T) {
	s := newBatchSetup(t, "127.0.0.1", 1)
	s.b.hold()
	s.b.hold()
	_, err := s.conn.WriteToAddrPort(datagram(0, 0), s.addr(0))
	require.NoError(t, err)
	s.b.release() // one fan-out ends: what was queued goes out
	require.Equal(t, SendStats{Batches: 1, Datagrams: 1}, s.b.stats())
	_, err = s.conn.WriteToAddrPort(datagram(0, 1), s.addr(0))
	require.NoError(t, err)
	require.Equal(t, 1, s.queued(), "queued: a fan-out still holds the batch")
	s.b.release()
	require.Equal(t, SendStats{Batches: 2, Datagrams: 2}, s.b.stats())
}

func TestUnreachableDestinationDoesNotLoseTheOthers(t *testing.T) {
	s := newBatchSetup(t, "127.0.0.1", 2)
	bad := []netip.AddrPort{
		netip.MustParseAddrPort("127.0.0.1:0"),          // port 0: EINVAL
		netip.MustParseAddrPort("[::1]:9"),              // IPv6 on an IPv4 socket: EAFNOSUPPORT
		netip.MustParseAddrPort("[2001:db8::1]:9"),      // the same, off loopback
		netip.MustParseAddrPort("[::ffff:127.0.0.1]:0"), // mapped, still port 0
	}
	s.b.hold()
	for seq, dst := range bad {
		_, err := s.conn.WriteToAddrPort(datagram(0, seq), s.addr(0))
		require.NoError(t, err)
		for range 2 { // two in a row
			_, err = s.conn.WriteToAddrPort(datagram(9, seq), dst)
			require.NoError(t, err)
		}
		_, err = s.conn.WriteToAddrPort(datagram(1, seq), s.addr(1))
		require.NoError(t, err)
	}
	_, err := s.conn.WriteToAddrPort(datagram(9, 0), bad[0]) // the last of the batch
	require.NoError(t, err)
	s.b.release()
	got := s.b.stats()
	require.Equal(t, uint64(2*len(bad)+1), got.Dropped, "got %+v", got)
	require.Equal(t, uint64(2*len(bad)), got.Datagrams, "got %+v", got)
	for i, d := range s.dsts {
		for want := range bad {
			w, seq := receive(t, d)
			require.Equal(t, i, w)
			require.Equal(t, want, seq)
		}
	}
}

func TestConcurrentFanouts(t *testing.T) {
	const writers, rounds, receivers = 4, 50, 6
	s := newBatchSetup(t, "127.0.0.1", receivers)
	// Receivers drain while the writers write, and check each writer's order.
	var readers sync.WaitGroup
	errs := make(chan string, receivers)
	for _, d := range s.dsts {
		readers.Add(1)
		go func() { // owned by the test; ends after writers*rounds datagrams
			defer readers.Done()
			next := make([]int, writers)
			buf := make([]byte, 2048)
			for range writers * rounds {
				n, err := d.Read(buf)
				if err != nil || n != 100 {
					errs <- "read failed"
					return
				}
				w, seq := int(binary.BigEndian.Uint32(buf)), int(binary.BigEndian.Uint32(buf[4:]))
				if seq != next[w] {
					errs <- "out of order"
					return
				}
				next[w]++
			}
		}()
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() { // owned by the test; ends after its rounds
			defer wg.Done()
			for seq := range rounds {
				s.b.hold()
				for i := range s.dsts {
					if _, err := s.conn.WriteToAddrPort(datagram(w, seq), s.addr(i)); err != nil {
						errs <- err.Error()
					}
				}
				s.b.release()
			}
		}()
	}
	wg.Wait()
	readers.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	got := s.b.stats()
	require.Equal(t, uint64(writers*rounds*receivers), got.Datagrams)
	require.Zero(t, got.Dropped)
	require.Zero(t, s.queued())
}

func TestBatchDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sendmmsg's buffers come from a sync.Pool, which the race detector empties at random")
	}
	s := newBatchSetup(t, "127.0.0.1", 4)
	p := datagram(0, 0)
	dsts := []netip.AddrPort{s.addr(0), s.addr(1), s.addr(2), s.addr(3)}
	fan := func() {
		s.b.hold()
		for _, d := range dsts {
			_, _ = s.conn.WriteToAddrPort(p, d)
		}
		s.b.release()
	}
	// Drain so that the receivers' buffers never fill.
	for _, d := range s.dsts {
		go func() { // owned by the test; ends when the receiver is closed at cleanup
			buf := make([]byte, 2048)
			for {
				if _, err := d.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	fan() // warm the spare batch and x/net's buffers
	require.Zero(t, testing.AllocsPerRun(1000, fan))
}

// TestMuxWritesThroughTheBatch checks the path Pion takes: an ICE UDP mux made over
// batchNet writes through the batch for a conn of its own.
func TestMuxWritesThroughTheBatch(t *testing.T) {
	b := newSendBatcher()
	mux := loopbackMux(t, b)
	addrs := mux.GetListenAddresses()
	require.Len(t, addrs, 1)
	require.Len(t, *b.conns.Load(), 1)
	if runtime.GOOS == "linux" {
		df, err := dontFragment((*b.conns.Load())[0].UDPConn)
		require.NoError(t, err)
		require.True(t, df, "IPv4 media sockets send with Don't Fragment")
	}

	conn, err := mux.GetConn("ufrag", addrs[0])
	require.NoError(t, err)
	dst, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = dst.Close() })

	b.hold()
	_, err = conn.WriteTo(datagram(0, 1), dst.LocalAddr())
	require.NoError(t, err)
	require.Equal(t, SendStats{}, b.stats(), "held")
	b.release()
	require.Equal(t, SendStats{Batches: 1, Datagrams: 1}, b.stats())
	_, seq := receive(t, dst)
	require.Equal(t, 1, seq)

	require.NoError(t, mux.Close())
	require.Empty(t, *b.conns.Load(), "closed sockets are forgotten")
}

// TestMediaThroughTheBatch runs a meeting over the server's batching sockets.
func TestMediaThroughTheBatch(t *testing.T) {
	srv := newTestServer(t)
	alice := join(t, srv, srv.token(t, "r1", "alice", RoleAttendee, KindMeeting))
	alice.publish(false, 25)
	bob := join(t, srv, srv.token(t, "r1", "bob", RoleAttendee, KindMeeting))
	bob.receiveOnly()
	carol := join(t, srv, srv.token(t, "r1", "carol", RoleAttendee, KindMeeting))
	carol.receiveOnly()
	bob.waitMedia("alice", 2, 30)
	carol.waitMedia("alice", 2, 30)
	got := srv.SendStats()
	require.Positive(t, got.Batches, "got %+v", got)
	require.GreaterOrEqual(t, got.Datagrams, got.Batches, "got %+v", got)
	require.Zero(t, got.Dropped, "got %+v", got)
}

// loopbackMux is an ICE UDP mux on 127.0.0.1 whose socket batches through b.
func loopbackMux(t *testing.T, b *sendBatcher) *ice.MultiUDPMuxDefault {
	t.Helper()
	n, err := stdnet.NewNet()
	require.NoError(t, err)
	mux, err := ice.NewMultiUDPMuxFromPort(0, ice.UDPMuxFromPortWithNet(batchNet{Net: n, batcher: b}),
		ice.UDPMuxFromPortWithLoopback(), ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4),
		ice.UDPMuxFromPortWithIPFilter(func(ip net.IP) bool { return ip.IsLoopback() }))
	require.NoError(t, err)
	t.Cleanup(func() { _ = mux.Close() })
	return mux
}
