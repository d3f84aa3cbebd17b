// Package bwe estimates a subscriber's downlink bandwidth and shares it among the video
// tracks it receives: which simulcast layer of each it gets. Pure computations with the
// time passed in, no I/O.
//
// The estimate is the lower of two: the subscriber's own receive-side estimate when it
// sends one (REMB, which browsers compute from the packets' arrival times), and a
// loss-based estimate from its receiver reports, as in the loss-based part of Google's
// congestion control: above 10% loss it falls by half the loss rate, below 2% it grows
// by 8% at most once a second. Neither costs anything per forwarded packet.
package bwe

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"

	"webinaire/sfu/signal"
)

// Estimate bounds and timings.
const (
	// Initial is the estimate before any feedback, in bits/s.
	Initial = 1_500_000
	// Min and Max bound the estimate, in bits/s.
	Min = 100_000
	Max = 50_000_000
	// REMBFresh is how long a REMB counts.
	REMBFresh = 5 * time.Second
	// lossIncreaseEvery is the least time between two increases of the loss estimate.
	lossIncreaseEvery = time.Second
	// AllocateEvery is the least time between two allocations caused by feedback.
	AllocateEvery = 200 * time.Millisecond
	// AudioAllowance is what each received audio track is assumed to take, in bits/s.
	AudioAllowance = 64_000
)

// defaultLayerRate is assumed for a layer whose rate is not measured yet, by rank.
var defaultLayerRate = [...]int64{150_000, 500_000, 1_500_000, 2_500_000}

// Estimate is a subscriber's downlink estimate. The zero value is ready; it is safe
// for concurrent use.
type Estimate struct {
	mu           sync.Mutex
	loss         int64 // loss-based estimate; 0 means Initial
	remb         int64
	rembAt       time.Time
	lastIncrease time.Time
	lastAlloc    time.Time
}

// Value is the estimate at now, in bits/s.
func (b *Estimate) Value(now time.Time) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.valueLocked(now)
}

func (b *Estimate) valueLocked(now time.Time) int64 {
	v := b.loss
	if v == 0 {
		v = Initial
	}
	if b.remb > 0 && now.Sub(b.rembAt) < REMBFresh {
		v = min(v, b.remb)
	}
	return v
}

// OnREMB records a receiver estimate. Its bit rate is bounded before it becomes an
// integer: a REMB may say up to 2^81 bit/s, which an int64 cannot hold (the conversion
// would give a negative number, taken for the least estimate).
func (b *Estimate) OnREMB(bitrate float32, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := float64(bitrate)
	switch {
	case !(r >= Min): // NaN too
		r = Min
	case r > Max:
		r = Max
	}
	b.remb = int64(r)
	b.rembAt = now
}

// OnLoss records the fraction lost (out of 256) of a receiver report block.
func (b *Estimate) OnLoss(fractionLost uint8, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.loss == 0 {
		b.loss = Initial
	}
	loss := float64(fractionLost) / 256
	switch {
	case loss > 0.10:
		b.loss = max(int64(float64(b.loss)*(1-0.5*loss)), Min)
	case loss < 0.02 && now.Sub(b.lastIncrease) >= lossIncreaseEvery:
		b.loss = min(int64(float64(b.loss)*1.08), Max)
		b.lastIncrease = now
	}
}

// OnOverload lowers the estimate by a quarter: the server could not send the
// subscriber's video in time, and a lower layer carries fewer packets. The loss-based
// estimate grows back as usual.
func (b *Estimate) OnOverload(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.loss = max(int64(float64(b.valueLocked(now))*0.75), Min)
}

// Due tells whether an allocation caused by feedback may run at now, and if so counts
// it as run.
func (b *Estimate) Due(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.lastAlloc) < AllocateEvery {
		return false
	}
	b.lastAlloc = now
	return true
}

// Cap is the index of the best of a track's layers that a subscriber's request allows,
// -1 for none: the quality asked for (the protocol's signal.Quality*, the best when
// empty), and a tile up to 200 pixels high gets the lowest rank, up to 400
// the middle one. ranks are the layers' ranks of quality, lowest first.
func Cap(quality string, height int, ranks []int) int {
	best := len(ranks) - 1
	maxRank := math.MaxInt // any layer
	switch quality {
	case signal.QualityOff:
		return -1
	case signal.QualityLow:
		maxRank = 0
	case signal.QualityMedium:
		maxRank = 1
	}
	if height > 0 && height <= 200 {
		maxRank = min(maxRank, 0)
	} else if height > 0 && height <= 400 {
		maxRank = min(maxRank, 1)
	}
	for best > 0 && ranks[best] > maxRank {
		best--
	}
	return best
}

// Rates are the bit rates of a track's layers, lowest first: the measured one of each
// (measured[i], 0 when not measured), else one assumed from its rank; a lower layer never
// costs more than a higher one. live is the index of the best layer measured to carry
// packets, -1 when none is.
func Rates(measured []int64, ranks []int) (rates []int64, live int) {
	rates = make([]int64, len(measured))
	live = -1
	for i, r := range measured {
		if r > 0 {
			live = i
		} else {
			r = defaultLayerRate[min(ranks[i], len(defaultLayerRate)-1)]
		}
		rates[i] = r
	}
	for i := len(rates) - 2; i >= 0; i-- {
		rates[i] = min(rates[i], rates[i+1])
	}
	return rates, live
}

// Track is a received video track as the allocation sees it.
type Track struct {
	// Rates are the bit rates of its layers, lowest first (see Rates).
	Rates []int64
	// Cap is the best layer allowed (see Cap), -1 when the track is off.
	Cap int
	// Screen is a screen share, served first.
	Screen bool
	// Area is the tile's size in pixels asked for, larger served first; ID breaks ties.
	Area int
	ID   string
}

// Allocate shares budget (bits/s) among the tracks: screen shares first, then the
// largest tiles; everyone gets the lowest layer that fits, then the first get better
// ones, each up to its Cap. A track of several layers whose lowest does not fit is
// paused (-1); a screen share or a track of one layer is never paused for lack of
// bandwidth. It returns the layer index of each track, in the order given.
func Allocate(budget int64, tracks []Track) []int {
	order := make([]int, len(tracks))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		a, b := &tracks[i], &tracks[j]
		if a.Screen != b.Screen {
			if a.Screen {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(b.Area, a.Area), cmp.Compare(a.ID, b.ID))
	})
	picks := make([]int, len(tracks))
	for _, i := range order {
		t := &tracks[i]
		picks[i] = -1
		if t.Cap < 0 || len(t.Rates) == 0 {
			continue
		}
		if budget >= t.Rates[0] || t.Screen || len(t.Rates) == 1 {
			picks[i] = 0
			budget -= t.Rates[0]
		}
	}
	for _, i := range order {
		t := &tracks[i]
		for picks[i] >= 0 && picks[i] < t.Cap {
			extra := t.Rates[picks[i]+1] - t.Rates[picks[i]]
			if extra > budget {
				break
			}
			budget -= extra
			picks[i]++
		}
	}
	return picks
}
