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
