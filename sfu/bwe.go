package sfu

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"webinaire/sfu/signal"
)

// Bandwidth estimation of a subscriber's downlink, and the choice of simulcast layers it
// allows.
//
// The estimate is the lower of two: the subscriber's own receive-side estimate when it
// sends one (REMB, which browsers compute from the packets' arrival times), and a
// loss-based estimate from its receiver reports, as in the loss-based part of Google's
// congestion control: above 10% loss it falls by half the loss rate, below 2% it grows
// by 8% at most once a second. Neither costs anything per forwarded packet.
const (
	initialEstimate = 1_500_000  // bits/s, before any feedback
	minEstimate     = 100_000    // bits/s
	maxEstimate     = 50_000_000 // bits/s
	// rembFresh is how long a REMB counts.
	rembFresh = 5 * time.Second
	// lossIncreaseEvery is the least time between two increases of the loss estimate.
	lossIncreaseEvery = time.Second
	// allocateEvery is the least time between two allocations caused by feedback.
	allocateEvery = 200 * time.Millisecond
	// audioAllowance is what each received audio track is assumed to take.
	audioAllowance = 64_000 // bits/s
)

// defaultLayerRate is assumed for a layer whose rate is not measured yet, by rank.
var defaultLayerRate = [...]int64{150_000, 500_000, 1_500_000, 2_500_000}

// bandwidthEstimate is a subscriber's downlink estimate.
type bandwidthEstimate struct {
	mu           sync.Mutex
	loss         int64 // loss-based estimate; 0 means initialEstimate
	remb         int64
	rembAt       time.Time
	lastIncrease time.Time
	lastAlloc    time.Time
}

// value is the estimate now, in bits/s.
func (b *bandwidthEstimate) value(now time.Time) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.valueLocked(now)
}

func (b *bandwidthEstimate) valueLocked(now time.Time) int64 {
	v := b.loss
	if v == 0 {
		v = initialEstimate
	}
	if b.remb > 0 && now.Sub(b.rembAt) < rembFresh {
		v = min(v, b.remb)
	}
	return v
}

// onREMB records a receiver estimate. Its bit rate is bounded before it becomes an
// integer: a REMB may say up to 2^81 bit/s, which an int64 cannot hold (the conversion
// would give a negative number, taken for the least estimate).
func (b *bandwidthEstimate) onREMB(bitrate float32, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := float64(bitrate)
	switch {
	case !(r >= minEstimate): // NaN too
		r = minEstimate
	case r > maxEstimate:
		r = maxEstimate
	}
	b.remb = int64(r)
	b.rembAt = now
}

// onLoss records the fraction lost (out of 256) of a receiver report block.
func (b *bandwidthEstimate) onLoss(fractionLost uint8, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.loss == 0 {
		b.loss = initialEstimate
	}
	loss := float64(fractionLost) / 256
	switch {
	case loss > 0.10:
		b.loss = max(int64(float64(b.loss)*(1-0.5*loss)), minEstimate)
	case loss < 0.02 && now.Sub(b.lastIncrease) >= lossIncreaseEvery:
		b.loss = min(int64(float64(b.loss)*1.08), maxEstimate)
		b.lastIncrease = now
	}
}

// onOverload lowers the estimate by a quarter: the server could not send the
// subscriber's video in time, and a lower layer carries fewer packets. The loss-based
// estimate grows back as usual.
func (b *bandwidthEstimate) onOverload(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.loss = max(int64(float64(b.valueLocked(now))*0.75), minEstimate)
}

// due tells whether an allocation caused by feedback may run now.
func (b *bandwidthEstimate) due(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.lastAlloc) < allocateEvery {
		return false
	}
	b.lastAlloc = now
	return true
}

// onFeedback takes the RTCP a subscriber sends about one track: REMB and receiver
// reports feed the estimate, which may change the layers.
func (p *participant) onFeedback(d *downTrack, pkt rtcp.Packet) {
	now := p.srv.clock.Now()
	switch fb := pkt.(type) {
	case *rtcp.ReceiverEstimatedMaximumBitrate:
		p.bwe.onREMB(fb.Bitrate, now)
	case *rtcp.ReceiverReport:
		b := d.binding.Load()
		if b == nil {
			return
		}
		for _, r := range fb.Reports {
			if r.SSRC == b.ssrc {
				d.up.stats.loss.observe(r.FractionLost)
				p.bwe.onLoss(r.FractionLost, now)
			}
		}
	default:
		return
	}
	if p.bwe.due(now) {
		p.allocate()
	}
}

// onOverload is told that video packets for the participant were dropped because the
// server could not keep up: its estimate falls, which may move it to lower layers.
func (p *participant) onOverload() {
	now := p.srv.clock.Now()
	p.bwe.onOverload(now)
	if p.bwe.due(now) {
		p.allocate()
	}
}

// layerChoice is the allocation of one received video track.
type layerChoice struct {
	d      *downTrack
	layers []*layer
	rates  []int64
	cap    int // highest layer index allowed by the request, -1 when off
	pick   int // chosen layer index, -1 for paused
	screen bool
	area   int
}

// allocate chooses the layer of every video track the participant receives: within the
// bandwidth estimate, screen shares first, then the largest tiles; each track at most at
// the quality and tile size it asked for. A simulcast camera whose lowest layer does not
// fit is paused; a track sent as one encoding is never paused for lack of bandwidth.
func (p *participant) allocate() {
	p.allocMu.Lock()
	defer p.allocMu.Unlock()
	now := p.srv.clock.Now()
	p.mu.Lock()
	downs := make([]*downTrack, 0, len(p.downs))
	for _, d := range p.downs {
		downs = append(downs, d)
	}
	p.mu.Unlock()

	remaining := p.bwe.value(now)
	var choices []*layerChoice
	for _, d := range downs {
		if d.up.kind != webrtc.RTPCodecTypeVideo {
			remaining -= audioAllowance
			continue
		}
		layers, rates, live := d.up.rates(now)
		if len(layers) == 0 {
			continue
		}
		c := &layerChoice{d: d, layers: layers, rates: rates, screen: d.up.label == LabelScreen}
		c.cap = layerCap(d.layer.Load(), layers)
		if live >= 0 {
			// A layer the publisher does not send (yet, or any more) would leave its
			// subscriber waiting for a keyframe that never comes.
			c.cap = min(c.cap, live)
		}
		if req := d.layer.Load(); req != nil {
			c.area = req.Width * req.Height
		}
		choices = append(choices, c)
	}
	slices.SortFunc(choices, func(a, b *layerChoice) int {
		if a.screen != b.screen {
			if a.screen {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(b.area, a.area), cmp.Compare(a.d.up.id, b.d.up.id))
	})
	// Everyone gets the lowest layer that fits, then the best get better ones.
	for _, c := range choices {
		c.pick = -1
		if c.cap < 0 {
			continue
		}
		if remaining >= c.rates[0] || c.screen || len(c.layers) == 1 {
			c.pick = 0
			remaining -= c.rates[0]
		}
	}
	for _, c := range choices {
		for c.pick >= 0 && c.pick < c.cap {
			extra := c.rates[c.pick+1] - c.rates[c.pick]
			if extra > remaining {
				break
			}
			remaining -= extra
			c.pick++
		}
	}
	for _, c := range choices {
		var l *layer
		if c.pick >= 0 {
			l = c.layers[c.pick]
		}
		c.d.up.setTarget(c.d, l)
	}
}

// layerCap is the index of the best layer a request allows, -1 for none: the quality
// asked for, and a tile up to 200 pixels high gets the lowest rank, up to 400 the
// middle one.
func layerCap(req *LayerRequest, layers []*layer) int {
	best := len(layers) - 1
	if req == nil {
		return best
	}
	maxRank := math.MaxInt // any layer
	switch req.Quality {
	case signal.QualityOff:
		return -1
	case signal.QualityLow:
		maxRank = 0
	case signal.QualityMedium:
		maxRank = 1
	}
	if req.Height > 0 && req.Height <= 200 {
		maxRank = min(maxRank, 0)
	} else if req.Height > 0 && req.Height <= 400 {
		maxRank = min(maxRank, 1)
	}
	for best > 0 && layers[best].rank > maxRank {
		best--
	}
	return best
}

// rates lists the layers and their measured (or assumed) bit rates, and the index of the
// best layer measured to carry packets, -1 when none is measured yet.
func (u *upTrack) rates(now time.Time) (layers []*layer, rates []int64, live int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	layers = u.layerList()
	rates = make([]int64, len(layers))
	live = -1
	for i, l := range layers {
		r := l.sampleRate(now)
		if r > 0 {
			live = i
		} else {
			r = defaultLayerRate[min(l.rank, len(defaultLayerRate)-1)]
		}
		rates[i] = r
	}
	// A lower layer never costs more than a higher one.
	for i := len(rates) - 2; i >= 0; i-- {
		rates[i] = min(rates[i], rates[i+1])
	}
	return layers, rates, live
}

// reallocate runs the allocation of every subscriber of the track: its layers changed.
func (u *upTrack) reallocate() {
	u.mu.Lock()
	subs := slices.Clone(u.subs)
	u.mu.Unlock()
	for _, d := range subs {
		switch {
		case d.subscriber != nil && d.subscriber.mode == modeRelay:
			d.subscriber.relayLayers(u)
		case d.subscriber != nil:
			d.subscriber.allocate()
		case d.sink != nil:
			d.sink.best(d)
		}
	}
}
