package api

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       time.Duration
	}{
		{"plain", "15779 (webinaire) S 1 15776 9152 0 -1 4194304 126 0 0 0 250 75 0 0 20 0 1 0", 3250 * time.Millisecond},
		{"spaces and parentheses in the name", "42 (a (b) c) R 1 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0", 100 * time.Millisecond},
		{"cut short", "42 (x) R 1 1 1 0 -1 0 0 0 0 0 7", 0},
		{"no name", "42 x R", 0},
		{"not numbers", "42 (x) R 1 1 1 0 -1 0 0 0 0 0 a b 0 0", 0},
	} {
		require.Equal(t, tc.want, parseProcStat(tc.line), tc.name)
	}
}

func TestCPUMeter(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	m := cpuMeter{last: t0}
	cpus := time.Duration(runtime.NumCPU())
	// Half of every CPU for 2 s.
	require.Equal(t, 50, m.percent(t0.Add(2*time.Second), cpus*time.Second))
	require.Equal(t, 0, m.percent(t0.Add(3*time.Second), cpus*time.Second), "nothing used since")
	require.Equal(t, 0, m.percent(t0.Add(3*time.Second), cpus*2*time.Second), "no time passed")
	require.Equal(t, 100, m.percent(t0.Add(4*time.Second), cpus*3*time.Second), "every CPU for 1 s")
}
