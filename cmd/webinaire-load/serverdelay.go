package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// delayMetric is the server's histogram of its forwarding delay: for each datagram sent,
// from its packet's arrival to the end of its fan-out.
const delayMetric = "webinaire_forward_delay_seconds"

// delayHistogram is the server's delay histogram at one moment: the cumulative counts
// by upper bound (seconds, increasing, +Inf excepted) and the count of every datagram.
type delayHistogram struct {
	bounds []float64
	cum    []uint64
	count  uint64
}

// serverDelay is the server's own forwarding delay in the window, quantiles given as the
// upper bound of the bucket they fall in, in milliseconds; -1 when above every bound.
// Unlike the added latency, it does not count the time packets wait in this process.
type serverDelay struct {
	// Count is the number of datagrams sent in the window.
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
}

// metricsReader reads the server's /metrics.
type metricsReader struct {
	url, token string
	hc         *http.Client
}

// delay reads the server's delay histogram.
func (m metricsReader) delay(ctx context.Context) (delayHistogram, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return delayHistogram{}, err
	}
	if m.token != "" {
		req.Header.Set("Authorization", "Bearer "+m.token)
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return delayHistogram{}, fmt.Errorf("read the server's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return delayHistogram{}, fmt.Errorf("read the server's metrics: %s", resp.Status)
	}
	return parseDelay(resp.Body)
}

// parseDelay reads the delay histogram from the Prometheus text of r.
func parseDelay(r io.Reader) (delayHistogram, error) {
	var h delayHistogram
	found := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch {
		case name == delayMetric+"_count":
			h.count, found = uint64(n), true
		case strings.HasPrefix(name, delayMetric+`_bucket{le="`):
			le := strings.TrimSuffix(strings.TrimPrefix(name, delayMetric+`_bucket{le="`), `"}`)
			if le == "+Inf" {
				continue
			}
			b, err := strconv.ParseFloat(le, 64)
			if err != nil {
				return delayHistogram{}, fmt.Errorf("bucket %q: %w", le, err)
			}
			h.bounds = append(h.bounds, b)
			h.cum = append(h.cum, uint64(n))
		}
	}
	if err := sc.Err(); err != nil {
		return delayHistogram{}, fmt.Errorf("read the server's metrics: %w", err)
	}
	if !found {
		return delayHistogram{}, fmt.Errorf("the server's metrics have no %s", delayMetric)
	}
	return h, nil
}

// since is what h counted after before, a reading of the same histogram.
func (h delayHistogram) since(before delayHistogram) delayHistogram {
	d := delayHistogram{bounds: h.bounds, cum: make([]uint64, len(h.cum)), count: h.count - before.count}
	for i := range h.cum {
		d.cum[i] = h.cum[i]
		if i < len(before.cum) {
			d.cum[i] -= before.cum[i]
		}
	}
	return d
}

// quantiles are h's quantiles.
func (h delayHistogram) quantiles() serverDelay {
	q := func(p float64) float64 {
		want := uint64(math.Ceil(p * float64(h.count)))
		for i, c := range h.cum {
			if c >= want {
				return h.bounds[i] * 1000
			}
		}
		return -1
	}
	if h.count == 0 {
		return serverDelay{}
	}
	return serverDelay{Count: h.count, P50: q(0.5), P99: q(0.99), P999: q(0.999)}
}
