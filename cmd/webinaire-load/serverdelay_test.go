package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// delayText is a /metrics text with the delay histogram: count fan-outs, cum of them up
// to 10 ms, 100 ms and 1 s.
func delayText(count int, cum ...int) string {
	var b strings.Builder
	b.WriteString("# HELP webinaire_forward_delay_seconds ...\nwebinaire_forward_packets_total 12\n")
	for i, le := range []string{"0.01", "0.1", "1"} {
		b.WriteString(`webinaire_forward_delay_seconds_bucket{le="` + le + `"} ` + strconv.Itoa(cum[i]) + "\n")
	}
	b.WriteString(`webinaire_forward_delay_seconds_bucket{le="+Inf"} ` + strconv.Itoa(count) + "\n")
	b.WriteString("webinaire_forward_delay_seconds_sum 3.5\nwebinaire_forward_delay_seconds_count " + strconv.Itoa(count) + "\n")
	return b.String()
}

func TestServerDelayInTheWindow(t *testing.T) {
	before, err := parseDelay(strings.NewReader(delayText(100, 50, 90, 100)))
	require.NoError(t, err)
	// In the window: 1000 fan-outs, 500 up to 10 ms, 490 more up to 100 ms, 6 more up
	// to 1 s and 4 beyond.
	after, err := parseDelay(strings.NewReader(delayText(1100, 550, 1080, 1096)))
	require.NoError(t, err)
	got := after.since(before).quantiles()
	require.Equal(t, serverDelay{Count: 1000, P50: 10, P99: 100, P999: -1}, got)

	_, err = parseDelay(strings.NewReader("webinaire_forward_packets_total 12\n"))
	require.Error(t, err, "a server without the histogram")
	require.Equal(t, serverDelay{}, delayHistogram{}.quantiles(), "no fan-out")
}
