package api_test

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"webinaire/sfu"
)

// The panics the media server recovers are counted in /metrics by part.
func TestRecoveredPanicsInMetrics(t *testing.T) {
	e := setup(t, "sqlite", options{metricsToken: metricsToken})
	m := metricsText(t, e)
	for _, part := range sfu.Parts() {
		require.Contains(t, m, `webinaire_recovered_panics_total{part="`+string(part)+`"} 0`)
	}
	done := make(chan struct{})
	go func() { // owned by the test; ends with the panic it recovers
		defer close(done)
		defer e.sfu.Panics().Recover(sfu.PartRecording, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		panic("forced by the test")
	}()
	<-done
	m = metricsText(t, e)
	require.Contains(t, m, `webinaire_recovered_panics_total{part="recording"} 1`)
	require.Contains(t, m, `webinaire_recovered_panics_total{part="track"} 0`)
}

// What the media forwarding drops and sends again is counted in /metrics.
func TestForwardingInMetrics(t *testing.T) {
	e := setup(t, "sqlite", options{metricsToken: metricsToken})
	m := metricsText(t, e)
	for _, want := range []string{
		`webinaire_forward_dropped_packets_total{reason="queue_full"} 0`,
		`webinaire_forward_dropped_packets_total{reason="late"} 0`,
		`webinaire_forward_dropped_packets_total{reason="received_late"} 0`,
		`webinaire_forward_retransmitted_packets_total 0`,
		`webinaire_forward_packets_total 0`,
		`webinaire_forward_delay_seconds_bucket{le="0.1"} 0`,
		"webinaire_forward_delay_seconds_count 0\n",
	} {
		require.Contains(t, m, want)
	}
}

// The media sockets' batches and refused datagrams are counted in /metrics.
func TestSendStatsInMetrics(t *testing.T) {
	e := setup(t, "sqlite", options{metricsToken: metricsToken})
	m := metricsText(t, e)
	st := e.sfu.SendStats()
	require.Contains(t, m, fmt.Sprintf("webinaire_media_send_batches_total %d\n", st.Batches))
	require.Contains(t, m, fmt.Sprintf("webinaire_media_send_batched_datagrams_total %d\n", st.Datagrams))
	require.Contains(t, m, fmt.Sprintf("webinaire_media_send_dropped_total %d\n", st.Dropped))
	require.Contains(t, m, fmt.Sprintf("webinaire_media_send_direct_packets_total %d\n", st.Direct))
	require.Contains(t, m, fmt.Sprintf("webinaire_media_send_connections_total{way=\"direct\"} %d\n", st.DirectConnections))
}
