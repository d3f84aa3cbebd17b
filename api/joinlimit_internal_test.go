package api

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The limiter follows at most maxKeys keys: beyond, a new key goes through unlimited
// (and it says so once); a key whose bucket is full again is forgotten.
func TestKeyedLimiterMemoryIsBounded(t *testing.T) {
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	fulls := 0
	l := newKeyedLimiter(2, 10, func() { fulls++ })
	for i := range 10 {
		for range 2 {
			_, ok := l.allow(strconv.Itoa(i), now)
			require.True(t, ok)
		}
		wait, ok := l.allow(strconv.Itoa(i), now)
		require.False(t, ok)
		require.Equal(t, 30*time.Second, wait, "one token every 30 s at 2 a minute")
	}
	require.Equal(t, 10, l.size())
	for range 5 {
		_, ok := l.allow("new", now)
		require.True(t, ok, "a key beyond the table is not limited")
	}
	require.Equal(t, 10, l.size())
	require.Equal(t, 1, fulls, "said once")

	// Half a minute later each key has one token back: none is forgotten yet.
	now = now.Add(30 * time.Second)
	_, ok := l.allow("0", now)
	require.True(t, ok)
	_, ok = l.allow("0", now)
	require.False(t, ok)
	// A minute later the table sweeps the full buckets away and follows new keys again.
	now = now.Add(time.Minute)
	_, ok = l.allow("new", now)
	require.True(t, ok)
	require.Equal(t, 1, l.size())
	_, ok = l.allow("new", now)
	require.True(t, ok)
	_, ok = l.allow("new", now)
	require.False(t, ok, "now followed, and limited")
}
