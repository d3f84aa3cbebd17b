package sfu

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// The floor benchmarks measure what forwarding costs without the SFU: SRTP-encrypting
// a video packet for each subscriber (one context per subscriber, as each has its own
// keys) and sending it on loopback with the cheapest system calls, and nothing else (no
// parsing, no interceptors, no locks). The figure is the CPU time of the sending thread
// (user + system, getrusage RUSAGE_THREAD) per million datagrams sent: on loopback the
// kernel delivers each datagram into the receiving socket in the sender's system call,
// so delivery is charged to the sender, as it is to the SFU in measure.sh.
//
//	go test -run '^$' -bench BenchmarkFloor -benchtime 20000x ./sfu/
//
// Destinations are drained (a goroutine reads each socket; its CPU is not counted, but
// waking it is), drained by another process (as the load generator's subscribers are:
// waking a thread of another process costs the sender more), or never read (their
// buffers fill, and the kernel drops the datagrams in the sender's system call, without
// queueing or wake-up).

// floorPayload is the size of a video packet's payload.
const floorPayload = 1200

// floorDestinations is the number of subscribers of the fan-out.
const floorDestinations = 200

// floorProfiles are the SRTP profiles Pion offers, in its order of preference: between
// two Pion peers (measure.sh) the first, AES-256-GCM, is chosen.
var floorProfiles = []struct {
	name    string
	profile srtp.ProtectionProfile
}{
	{"aes256gcm", srtp.ProtectionProfileAeadAes256Gcm},
	{"aes128gcm", srtp.ProtectionProfileAeadAes128Gcm},
	{"aes128cm-sha1-80", srtp.ProtectionProfileAes128CmHmacSha1_80},
}

// floorSetup is a sender, its destinations and one SRTP context per destination.
type floorSetup struct {
	conn  *net.UDPConn
	pc    *ipv4.PacketConn
	dsts  []netip.AddrPort
	ctxs  []*srtp.Context
	hdrs  []rtp.Header
	plain []byte // one marshalled RTP packet
	// enc holds one encrypted packet per destination and frame packet.
	enc [][]byte
}

// floorRx is what becomes of the datagrams of the floor benchmarks.
type floorRx string

const (
	drainedHere      floorRx = "drained"           // read by goroutines of the benchmark
	drainedElsewhere floorRx = "drained-elsewhere" // read by another process
	unread           floorRx = "unread"            // dropped by the kernel, buffers full
)

// drainProcessEnv, set in its environment, makes the test binary a process that opens
// destinations and reads them (TestDrainProcess).
const drainProcessEnv = "SFU_DRAIN_PROCESS"

// TestDrainProcess is the process of the drained-elsewhere destinations: it opens
// floorDestinations UDP sockets on loopback, writes their ports, and reads them until
// its input ends. It does nothing in an ordinary test run.
func TestDrainProcess(t *testing.T) {
	if os.Getenv(drainProcessEnv) == "" {
		t.Skip("run by BenchmarkFloor")
	}
	var ports []int
	for range floorDestinations {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		defer c.Close()
		ports = append(ports, c.LocalAddr().(*net.UDPAddr).Port)
		go func() { // owned by the process; ends when the socket is closed as it ends
			buf := make([]byte, 65536)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	require.NoError(t, json.NewEncoder(os.Stdout).Encode(ports))
	_, _ = io.Copy(io.Discard, os.Stdin)
}

func newFloorSetup(b *testing.B, profile srtp.ProtectionProfile, rx floorRx, perDst int) *floorSetup {
	b.Helper()
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		return c
	}
	s := &floorSetup{conn: listen()}
	s.pc = ipv4.NewPacketConn(s.conn)
	keyLen, err := profile.KeyLen()
	if err != nil {
		b.Fatal(err)
	}
	saltLen, err := profile.SaltLen()
	if err != nil {
		b.Fatal(err)
	}
	var elsewhere []int
	if rx == drainedElsewhere {
		_, in := helperProcess(b, "TestDrainProcess", drainProcessEnv+"=1")
		if err := in.Decode(&elsewhere); err != nil {
			b.Fatal(err)
		}
	}
	for i := range floorDestinations {
		if rx == drainedElsewhere {
			s.dsts = append(s.dsts, netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(elsewhere[i])))
		} else {
			d := listen()
			s.dsts = append(s.dsts, d.LocalAddr().(*net.UDPAddr).AddrPort())
			if rx == drainedHere {
				go func() { // owned by the benchmark; ends when d is closed at cleanup
					buf := make([]byte, 65536)
					for {
						if _, err := d.Read(buf); err != nil {
							return
						}
					}
				}()
			}
		}
		key, salt := make([]byte, keyLen), make([]byte, saltLen)
		key[0], salt[0] = byte(i), byte(i>>8)
		ctx, err := srtp.CreateContext(key, salt, profile)
		if err != nil {
			b.Fatal(err)
		}
		s.ctxs = append(s.ctxs, ctx)
		s.hdrs = append(s.hdrs, rtp.Header{Version: 2, PayloadType: 96, SSRC: uint32(1000 + i), Timestamp: 1})
	}
	s.plain = make([]byte, 12+floorPayload)
	for range floorDestinations * perDst {
		s.enc = append(s.enc, make([]byte, 0, 12+floorPayload+64))
	}
	return s
}

// encrypt writes packet k (of the frame) for destination i into its buffer.
func (s *floorSetup) encrypt(b *testing.B, i, k, perDst int) []byte {
	h := &s.hdrs[i]
	h.SequenceNumber++
	n, err := h.MarshalTo(s.plain)
	if err != nil {
		b.Fatal(err)
	}
	binary.BigEndian.PutUint32(s.plain[n:], uint32(k)) // the payload follows the header
	out, err := s.ctxs[i].EncryptRTP(s.enc[i*perDst+k][:0], s.plain, h)
	if err != nil {
		b.Fatal(err)
	}
	s.enc[i*perDst+k] = out
	return out
}

// threadCPU is the CPU time of the calling OS thread, user + system, in seconds.
func threadCPU(b *testing.B) float64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// runFloor runs fanout b.N times on a locked thread and reports the thread's CPU
// seconds per million datagrams.
func runFloor(b *testing.B, datagramsPerOp int, fanout func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fanout() // warm up
	b.ResetTimer()
	start := threadCPU(b)
	for range b.N {
		fanout()
	}
	cpu := threadCPU(b) - start
	b.StopTimer()
	b.ReportMetric(cpu/float64(b.N*datagramsPerOp)*1e6, "cpu-s/Mpkt")
}

// BenchmarkFloor is the fan-out of one video packet to floorDestinations subscribers:
// by one sendmsg per datagram (what Pion does), through the server's batching socket
// (batchConn: a copy into its queue, sendmmsg at full batches and at release), or by
// sendmmsg batches of sendBatchSize straight from the encryption buffers; and
// encryption alone, without sending.
func BenchmarkFloor(b *testing.B) {
	for _, p := range floorProfiles {
		for _, rx := range []floorRx{drainedHere, drainedElsewhere, unread} {
			b.Run(fmt.Sprintf("%s/%s/sendmsg", p.name, rx), func(b *testing.B) {
				s := newFloorSetup(b, p.profile, rx, 1)
				runFloor(b, floorDestinations, func() {
					for i, dst := range s.dsts {
						_, _ = s.conn.WriteToUDPAddrPort(s.encrypt(b, i, 0, 1), dst)
					}
				})
			})
			b.Run(fmt.Sprintf("%s/%s/batchconn", p.name, rx), func(b *testing.B) {
				s := newFloorSetup(b, p.profile, rx, 1)
				batcher := newSendBatcher()
				c := batcher.wrap(s.conn)
				runFloor(b, floorDestinations, func() {
					batcher.hold()
					for i, dst := range s.dsts {
						_, _ = c.WriteToAddrPort(s.encrypt(b, i, 0, 1), dst)
					}
					batcher.release()
				})
			})
			b.Run(fmt.Sprintf("%s/%s/sendmmsg", p.name, rx), func(b *testing.B) {
				s := newFloorSetup(b, p.profile, rx, 1)
				ms := floorMessages(s, 1)
				runFloor(b, floorDestinations, func() {
					for i := range s.dsts {
						ms[i].Buffers[0] = s.encrypt(b, i, 0, 1)
					}
					writeAll(b, s.pc, ms)
				})
			})
		}
		b.Run(p.name+"/encrypt-only", func(b *testing.B) {
			s := newFloorSetup(b, p.profile, unread, 1)
			runFloor(b, floorDestinations, func() {
				for i := range s.dsts {
					s.encrypt(b, i, 0, 1)
				}
			})
		})
	}
}

// BenchmarkFloorFrame sends frames of several packets to each destination, encrypted
// with AES-256-GCM to drained destinations: sendmmsg with one message per datagram,
// or with one message per destination carrying the frame as UDP GSO segments
// (UDP_SEGMENT). GSO helps only when several datagrams go to one destination at once;
// a fan-out sends one packet to each, where it cannot.
func BenchmarkFloorFrame(b *testing.B) {
	for _, perDst := range []int{1, 2, 8} {
		b.Run(fmt.Sprintf("%dperdst/sendmmsg", perDst), func(b *testing.B) {
			s := newFloorSetup(b, srtp.ProtectionProfileAeadAes256Gcm, drainedHere, perDst)
			ms := floorMessages(s, perDst)
			runFloor(b, floorDestinations*perDst, func() {
				for i := range s.dsts {
					for k := range perDst {
						ms[i*perDst+k].Buffers[0] = s.encrypt(b, i, k, perDst)
					}
				}
				writeAll(b, s.pc, ms)
			})
		})
		b.Run(fmt.Sprintf("%dperdst/gso", perDst), func(b *testing.B) {
			s := newFloorSetup(b, srtp.ProtectionProfileAeadAes256Gcm, drainedHere, perDst)
			ms := floorMessages(s, 1)
			frames := make([][]byte, len(s.dsts))
			for i := range frames {
				frames[i] = make([]byte, 0, perDst*(12+floorPayload+64))
			}
			runFloor(b, floorDestinations*perDst, func() {
				for i := range s.dsts {
					frame := frames[i][:0]
					seg := 0
					for k := range perDst {
						p := s.encrypt(b, i, k, perDst)
						seg = len(p)
						frame = append(frame, p...)
					}
					frames[i] = frame
					ms[i].Buffers[0] = frame
					ms[i].OOB = udpSegment(ms[i].OOB[:0], seg)
				}
				writeAll(b, s.pc, ms)
			})
		})
	}
}

// floorMessages are the messages of one fan-out: perDst per destination.
func floorMessages(s *floorSetup, perDst int) []ipv4.Message {
	ms := make([]ipv4.Message, len(s.dsts)*perDst)
	for i := range ms {
		ms[i].Buffers = make([][]byte, 1)
		ms[i].Addr = net.UDPAddrFromAddrPort(s.dsts[i/perDst])
		ms[i].OOB = make([]byte, 0, unix.CmsgSpace(2))
	}
	return ms
}

// writeAll sends ms by sendmmsg calls of at most sendBatchSize messages.
func writeAll(b *testing.B, pc *ipv4.PacketConn, ms []ipv4.Message) {
	for len(ms) > 0 {
		n, err := pc.WriteBatch(ms[:min(len(ms), sendBatchSize)], 0)
		if err != nil {
			b.Fatal(err)
		}
		ms = ms[n:]
	}
}

// udpSegment appends to oob the control message that cuts a datagram into segments of
// size bytes (UDP GSO).
func udpSegment(oob []byte, size int) []byte {
	oob = oob[:unix.CmsgSpace(2)]
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], uint16(size))
	return oob
}
