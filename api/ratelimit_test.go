package api

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRateLimiterKeepsItsMemoryBounded: however many clients come, the limiter tracks at
// most its maxKeys, and a client it tracks keeps its empty bucket.
func TestRateLimiterKeepsItsMemoryBounded(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	l := newRateLimiter[netip.Prefix](func() time.Time { return now }, 2, time.Minute, 64)
	drained := netip.MustParsePrefix("192.0.2.1/32")
	for range 2 {
		ok, _ := l.allow(drained)
		require.True(t, ok)
	}
	ok, wait := l.allow(drained)
	require.False(t, ok)
	require.Equal(t, time.Minute, wait)

	for i := range 10_000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		ok, _ := l.allow(netip.PrefixFrom(a, 32))
		require.True(t, ok, "a new client has a full bucket")
		require.LessOrEqual(t, len(l.buckets), 64)
	}

	// Refilled at one token a minute, up to the burst.
	now = now.Add(90 * time.Second)
	l2 := newRateLimiter[netip.Prefix](func() time.Time { return now }, 2, time.Minute, 64)
	for range 2 {
		ok, _ := l2.allow(drained)
		require.True(t, ok)
	}
	now = now.Add(time.Minute)
	ok, _ = l2.allow(drained)
	require.True(t, ok)
	ok, wait = l2.allow(drained)
	require.False(t, ok)
	require.Equal(t, time.Minute, wait)
}
