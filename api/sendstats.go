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
	direct, connections         *prometheus.Desc
}

func newSendCollector(s *sfu.Server) *sendCollector {
	return &sendCollector{
		sfu:       s,
		batches:   prometheus.NewDesc("webinaire_media_send_batches_total", "sendmmsg calls the media sockets made for the datagrams of fan-outs.", nil, nil),
		datagrams: prometheus.NewDesc("webinaire_media_send_batched_datagrams_total", "Datagrams the media sockets sent in those batches.", nil, nil),
		dropped:   prometheus.NewDesc("webinaire_media_send_dropped_total", "Queued datagrams the kernel refused (unreachable destination, no buffer space, closed socket).", nil, nil),
		direct:    prometheus.NewDesc("webinaire_media_send_direct_packets_total", "RTP packets the server encrypted and wrote to its media sockets itself, without Pion's SRTP session and ICE connection.", nil, nil),
		connections: prometheus.NewDesc("webinaire_media_send_connections_total",
			"Media connections by how their RTP is sent, counted when their DTLS comes up: direct, or through Pion (keys not known here); none with media.direct_send off.", []string{"way"}, nil),
	}
}

// Describe sends the descriptions of the metrics.
func (c *sendCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.batches
	ch <- c.datagrams
	ch <- c.dropped
	ch <- c.direct
	ch <- c.connections
}

// Collect reads the counts.
func (c *sendCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.sfu.SendStats()
	ch <- prometheus.MustNewConstMetric(c.batches, prometheus.CounterValue, float64(st.Batches))
	ch <- prometheus.MustNewConstMetric(c.datagrams, prometheus.CounterValue, float64(st.Datagrams))
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(c.direct, prometheus.CounterValue, float64(st.Direct))
	ch <- prometheus.MustNewConstMetric(c.connections, prometheus.CounterValue, float64(st.DirectConnections), "direct")
	ch <- prometheus.MustNewConstMetric(c.connections, prometheus.CounterValue, float64(st.PionConnections), "pion")
}
