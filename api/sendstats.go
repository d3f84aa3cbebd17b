package api

import (
	"github.com/prometheus/client_golang/prometheus"

	"webinaire/sfu"
)

// sendCollector exposes what the media server's sockets sent in batches (one sendmmsg
// per fan-out and socket) and the queued datagrams the kernel refused.
type sendCollector struct {
	sfu                         *sfu.Server
	batches, datagrams, dropped *prometheus.Desc
}

func newSendCollector(s *sfu.Server) *sendCollector {
	return &sendCollector{
		sfu:       s,
		batches:   prometheus.NewDesc("webinaire_media_send_batches_total", "sendmmsg calls the media sockets made for the datagrams of fan-outs.", nil, nil),
		datagrams: prometheus.NewDesc("webinaire_media_send_batched_datagrams_total", "Datagrams the media sockets sent in those batches.", nil, nil),
		dropped:   prometheus.NewDesc("webinaire_media_send_dropped_total", "Queued datagrams the kernel refused (unreachable destination, no buffer space, closed socket).", nil, nil),
	}
}

// Describe sends the descriptions of the metrics.
func (c *sendCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.batches
	ch <- c.datagrams
	ch <- c.dropped
}

// Collect reads the counts.
func (c *sendCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.sfu.SendStats()
	ch <- prometheus.MustNewConstMetric(c.batches, prometheus.CounterValue, float64(st.Batches))
	ch <- prometheus.MustNewConstMetric(c.datagrams, prometheus.CounterValue, float64(st.Datagrams))
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.Dropped))
}
