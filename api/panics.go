package api

import (
	"github.com/prometheus/client_golang/prometheus"

	"webinaire/sfu"
)

// panicCollector exposes the panics recovered in the goroutines of participants, tracks,
// recordings and rooms: anything but 0 is a bug that ended one of them, and the log has
// its stack.
type panicCollector struct {
	panics *sfu.Panics
	desc   *prometheus.Desc
}

func newPanicCollector(panics *sfu.Panics) *panicCollector {
	return &panicCollector{
		panics: panics,
		desc:   prometheus.NewDesc("webinaire_recovered_panics_total", "Panics recovered at the top of a goroutine serving one participant, track, recording or room, which each ended that part only.", []string{"part"}, nil),
	}
}

// Describe sends the description of the metric.
func (p *panicCollector) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }

// Collect reads the counts.
func (p *panicCollector) Collect(ch chan<- prometheus.Metric) {
	for _, part := range sfu.Parts() {
		ch <- prometheus.MustNewConstMetric(p.desc, prometheus.CounterValue, float64(p.panics.Count(part)), string(part))
	}
}

// forwardCollector exposes what the media forwarding sent, dropped under overload and
// sent again on subscribers' requests.
type forwardCollector struct {
	sfu           *sfu.Server
	forwarded     *prometheus.Desc
	dropped       *prometheus.Desc
	retransmitted *prometheus.Desc
	delay         *prometheus.Desc
}

func newForwardCollector(s *sfu.Server) *forwardCollector {
	return &forwardCollector{
		sfu:           s,
		forwarded:     prometheus.NewDesc("webinaire_forward_packets_total", "Media packets handed to subscribers, each packet once per subscriber of its layer.", nil, nil),
		dropped:       prometheus.NewDesc("webinaire_forward_dropped_packets_total", "Packets not forwarded to a group of subscribers because the server could not keep up: its writer's queue was full, or the packet waited too long for its writer (late) or in the server's receive path before its reader got it (received_late, to every subscriber).", []string{"reason"}, nil),
		retransmitted: prometheus.NewDesc("webinaire_forward_retransmitted_packets_total", "Packets sent again to a subscriber that reported them lost (NACK).", nil, nil),
		delay:         prometheus.NewDesc("webinaire_forward_delay_seconds", "Time from a media packet's arrival at the node (the kernel's receive time) to the end of the fan-out that sent it to a group of subscribers, once per datagram sent: at most the time each datagram took to leave.", nil, nil),
	}
}

// Describe sends the descriptions of the metrics.
func (f *forwardCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- f.forwarded
	ch <- f.dropped
	ch <- f.retransmitted
	ch <- f.delay
}

// Collect reads the counts.
func (f *forwardCollector) Collect(ch chan<- prometheus.Metric) {
	s := f.sfu.ForwardStats()
	ch <- prometheus.MustNewConstMetric(f.forwarded, prometheus.CounterValue, float64(s.Forwarded))
	ch <- prometheus.MustNewConstMetric(f.dropped, prometheus.CounterValue, float64(s.QueueFull), "queue_full")
	ch <- prometheus.MustNewConstMetric(f.dropped, prometheus.CounterValue, float64(s.Late), "late")
	ch <- prometheus.MustNewConstMetric(f.dropped, prometheus.CounterValue, float64(s.ReceivedLate), "received_late")
	ch <- prometheus.MustNewConstMetric(f.retransmitted, prometheus.CounterValue, float64(s.Retransmitted))
	buckets := make(map[float64]uint64, sfu.DelayBuckets)
	for i, b := range sfu.DelayBounds() {
		buckets[b] = s.Delay.Buckets[i]
	}
	ch <- prometheus.MustNewConstHistogram(f.delay, s.Delay.Count, s.Delay.Sum, buckets)
}
