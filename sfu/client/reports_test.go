package client

import (
	"testing"

	"github.com/pion/rtcp"
	"github.com/stretchr/testify/require"
)

func TestRecvStatsReport(t *testing.T) {
	for _, tc := range []struct {
		name string
		seqs []uint16
		// want after the packets: fraction lost (of 256), total lost, extended highest
		fraction uint8
		lost     uint32
		highest  uint32
	}{
		{"in order", []uint16{10, 11, 12, 13}, 0, 0, 13},
		{"one of four lost", []uint16{10, 11, 13}, 64, 1, 13},
		{"reordered", []uint16{10, 12, 11, 13}, 0, 0, 13},
		{"across the wrap", []uint16{65534, 65535, 0, 2}, 51, 1, 65536 + 2},
		// A duplicate: one more received than expected, -1 lost in 24 bits.
		{"duplicate from the previous cycle", []uint16{65535, 0, 1, 65535}, 0, 0xffffff, 65536 + 1},
		{"half lost", []uint16{0, 2, 4, 6}, 109, 3, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := recvStats{}
			for _, seq := range tc.seqs {
				s.add(seq, 0, 0)
			}
			var r rtcp.ReceptionReport
			s.report(&r)
			require.Equal(t, tc.fraction, r.FractionLost, "fraction lost")
			require.Equal(t, tc.lost, r.TotalLost, "total lost")
			require.Equal(t, tc.highest, r.LastSequenceNumber, "highest")
		})
	}
}

func TestRecvStatsFractionIsPerInterval(t *testing.T) {
	s := recvStats{}
	for seq := uint16(0); seq < 10; seq += 2 { // 0..8: 5 of 9
		s.add(seq, 0, 0)
	}
	var r rtcp.ReceptionReport
	s.report(&r)
	require.Equal(t, uint8(4*256/9), r.FractionLost)
	for seq := uint16(9); seq < 20; seq++ { // 9..19: nothing lost
		s.add(seq, 0, 0)
	}
	s.report(&r)
	require.Zero(t, r.FractionLost, "the second interval lost nothing")
	require.Equal(t, uint32(4), r.TotalLost, "the total still counts the first")
}

func TestRecvStatsJitter(t *testing.T) {
	const ms = 1_000_000 // nanoseconds
	// 90 kHz: one frame each 33 ms, timestamps 3000 apart. Sent and received evenly:
	// no jitter.
	s := recvStats{clockRate: 90000}
	for i := range 50 {
		s.add(uint16(i), uint32(i*2970), int64(i*33*ms))
	}
	var r rtcp.ReceptionReport
	s.report(&r)
	require.Zero(t, r.Jitter)
	// Every other packet 10 ms late: the transit differs by 900 units each time, and the
	// estimate converges towards it.
	s = recvStats{clockRate: 90000}
	for i := range 200 {
		late := int64(0)
		if i%2 == 1 {
			late = 10 * ms
		}
		s.add(uint16(i), uint32(i*2970), int64(i*33*ms)+late)
	}
	s.report(&r)
	require.InDelta(t, 900, float64(r.Jitter), 10)
}

func TestReportsCountingDoesNotAllocate(t *testing.T) {
	s := recvStats{clockRate: 90000}
	var seq uint16
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		s.add(seq, uint32(seq)*3000, Monotonic())
	})
	require.Zero(t, allocs)
}
