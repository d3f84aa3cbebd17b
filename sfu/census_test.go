package sfu

import (
	"testing"

	"github.com/pion/rtcp"
	"github.com/stretchr/testify/require"
)

// Receiver reports are counted in the bucket of their fraction lost, cumulatively.
func TestLossCounts(t *testing.T) {
	var l lossCounts
	for _, f := range []uint8{0, 0, 2, 13, 128, 255} { // 0, 0, 0.8%, 5.1%, 50%, 99.6%
		l.observe(f)
	}
	st := l.stats()
	require.Equal(t, uint64(6), st.Count)
	require.InDelta(t, float64(0+0+2+13+128+255)/256, st.Sum, 1e-9)
	require.Equal(t, [LossBuckets]uint64{2, 3, 3, 3, 4, 4, 5, 6}, st.Buckets)
}

// A subscriber's NACKs and receiver reports are counted where its RTCP is read.
func TestSubscriberFeedbackIsCounted(t *testing.T) {
	sb, up, d, _ := rtcpSubscriber(t, newTestSigner(t), newFakeClock())

	raw, err := rtcp.Marshal([]rtcp.Packet{
		nackFor(1001, 5),
		&rtcp.ReceiverReport{SSRC: 9, Reports: []rtcp.ReceptionReport{{SSRC: 1001, FractionLost: 64}, {SSRC: 4242, FractionLost: 255}}},
	})
	require.NoError(t, err)
	sb.onRTCP(d, raw, new(scratch))
	require.Equal(t, uint64(1), up.stats.nacks.Load())
	loss := up.stats.loss.stats()
	require.Equal(t, uint64(1), loss.Count, "only the report about the track's own SSRC")
	require.InDelta(t, 0.25, loss.Sum, 1e-9)
}
