package sfu

import (
	"testing"

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
