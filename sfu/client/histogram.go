package client

import (
	"math/bits"
	"time"
)

// Histogram counts durations in logarithmic buckets of 1/16 of a power of two
// (a relative error under 6.25%), from 1 µs to about 10 days. It is a fixed array:
// recording allocates nothing. The zero value is empty and ready. It is not safe for
// concurrent use.
type Histogram struct {
	counts [histBuckets]uint64
	total  uint64
	max    time.Duration
}

const (
	histSubBits = 4 // 16 buckets per power of two
	histSub     = 1 << histSubBits
	histUnit    = time.Microsecond
	// histBuckets covers every microsecond count up to 2^40 (about 12 days).
	histBuckets = (40 - histSubBits + 1) * histSub
)

// bucket is the index of the bucket of d: exact under 16 µs, then 16 per doubling.
func bucket(d time.Duration) int {
	v := uint64(d / histUnit)
	if v < histSub {
		return int(v)
	}
	exp := bits.Len64(v) - 1 - histSubBits // v >> exp is in [16, 32)
	i := (exp+1)*histSub + int(v>>uint(exp)) - histSub
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// bucketUpper is the largest duration of bucket i.
func bucketUpper(i int) time.Duration {
	if i < histSub {
		return time.Duration(i+1)*histUnit - 1
	}
	exp := i/histSub - 1
	v := uint64(i%histSub+histSub) << uint(exp)
	return time.Duration(v+(1<<uint(exp)))*histUnit - 1
}

// Record adds one duration; a negative one counts as 0.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucket(d)]++
	h.total++
	if d > h.max {
		h.max = d
	}
}

// Count is the number of durations recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest duration recorded.
func (h *Histogram) Max() time.Duration { return h.max }

// Merge adds the durations of o.
func (h *Histogram) Merge(o *Histogram) {
	for i, n := range o.counts {
		h.counts[i] += n
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// Quantile is the duration under which a fraction q (0 to 1) of the durations fall: the
// upper bound of its bucket, never more than Max. It is 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, n := range h.counts {
		seen += n
		if seen >= rank {
			return min(bucketUpper(i), h.max)
		}
	}
	return h.max
}
