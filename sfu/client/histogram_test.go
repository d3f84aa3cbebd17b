package client

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHistogramBuckets(t *testing.T) {
	// Every duration falls in a bucket whose bounds hold it, within 1/16 of it.
	prev := -1
	for d := time.Duration(0); d < 10*time.Second; d = d*17/16 + time.Microsecond {
		i := bucket(d)
		require.GreaterOrEqual(t, i, prev, "buckets grow with the duration")
		prev = i
		upper := bucketUpper(i)
		require.GreaterOrEqual(t, upper, d, "%s in bucket %d", d, i)
		if i > 0 {
			require.Less(t, bucketUpper(i-1), d.Truncate(time.Microsecond), "%s not in bucket %d", d, i-1)
		}
		require.LessOrEqual(t, float64(upper-d), float64(d)/16+float64(time.Microsecond), "%s: upper bound %s", d, upper)
	}
	require.Equal(t, histBuckets-1, bucket(1<<62), "the largest durations share the last bucket")
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	require.Zero(t, h.Quantile(0.5), "empty")
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * 10 * time.Microsecond) // 10 µs to 10 ms
	}
	h.Record(-time.Second) // a clock that went back counts as 0
	require.Equal(t, uint64(1001), h.Count())
	require.Equal(t, 10*time.Millisecond, h.Max())
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5 * time.Millisecond}, {0.95, 9500 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {1, 10 * time.Millisecond}} {
		got := h.Quantile(tc.q)
		require.InDelta(t, float64(tc.want), float64(got), float64(tc.want)/16, "p%.0f: got %s, want about %s", tc.q*100, got, tc.want)
		require.GreaterOrEqual(t, got, tc.want-10*time.Microsecond, "p%.0f is an upper bound", tc.q*100)
	}
	require.Less(t, h.Quantile(0), time.Microsecond, "the smallest is the clamped negative one")

	var sum Histogram
	sum.Merge(&h)
	sum.Merge(&h)
	require.Equal(t, 2*h.Count(), sum.Count())
	require.Equal(t, h.Quantile(0.5), sum.Quantile(0.5))
	require.Equal(t, h.Max(), sum.Max())
}

func TestHistogramRecordDoesNotAllocate(t *testing.T) {
	var h Histogram
	allocs := testing.AllocsPerRun(1000, func() { h.Record(1234 * time.Microsecond) })
	require.Zero(t, allocs)
}
