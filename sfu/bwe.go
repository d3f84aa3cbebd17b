package sfu

import (
	"slices"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"webinaire/sfu/bwe"
)

// onFeedback takes the RTCP a subscriber sends about one track: REMB and receiver
// reports feed the estimate, which may change the layers.
func (sb *subscriber) onFeedback(d *downTrack, pkt rtcp.Packet) {
	now := sb.m.srv.clock.Now()
	switch fb := pkt.(type) {
	case *rtcp.ReceiverEstimatedMaximumBitrate:
		sb.bwe.OnREMB(fb.Bitrate, now)
	case *rtcp.ReceiverReport:
		b := d.binding.Load()
		if b == nil {
			return
		}
		for _, r := range fb.Reports {
			if r.SSRC == b.ssrc {
				d.up.stats.loss.observe(r.FractionLost)
				sb.bwe.OnLoss(r.FractionLost, now)
			}
		}
	default:
		return
	}
	if sb.bwe.Due(now) {
		sb.allocate()
	}
}

// onOverload is told that video packets for the subscriber were dropped because the
// server could not keep up: its estimate falls, which may move it to lower layers.
func (sb *subscriber) onOverload() {
	now := sb.m.srv.clock.Now()
	sb.bwe.OnOverload(now)
	if sb.bwe.Due(now) {
		sb.allocate()
	}
}

// allocate chooses the layer of every video track the subscriber receives within its
// bandwidth estimate (bwe.Allocate): screen shares first, then the largest tiles; each
// track at most at the quality and tile size it asked for, and at the best layer its
// publisher sends now.
func (sb *subscriber) allocate() {
	sb.allocMu.Lock()
	defer sb.allocMu.Unlock()
	now := sb.m.srv.clock.Now()
	downs := sb.subscriptions()

	budget := sb.bwe.Value(now)
	var videos []*downTrack
	var layers [][]*layer
	var tracks []bwe.Track
	for _, d := range downs {
		if d.up.kind != webrtc.RTPCodecTypeVideo {
			budget -= bwe.AudioAllowance
			continue
		}
		ls, rates, live := d.up.rates(now)
		if len(ls) == 0 {
			continue
		}
		t := bwe.Track{Rates: rates, Screen: d.up.label == LabelScreen, ID: d.up.id}
		t.Cap = layerCap(d.layer.Load(), ls)
		if live >= 0 {
			// A layer the publisher does not send (yet, or any more) would leave its
			// subscriber waiting for a keyframe that never comes.
			t.Cap = min(t.Cap, live)
		}
		if req := d.layer.Load(); req != nil {
			t.Area = req.Width * req.Height
		}
		videos, layers, tracks = append(videos, d), append(layers, ls), append(tracks, t)
	}
	for i, pick := range bwe.Allocate(budget, tracks) {
		var l *layer
		if pick >= 0 {
			l = layers[i][pick]
		}
		videos[i].up.setTarget(videos[i], l)
	}
}

// layerCap is the index of the best of layers that a request allows, -1 for none
// (bwe.Cap; the best without a request).
func layerCap(req *LayerRequest, layers []*layer) int {
	ranks := make([]int, len(layers))
	for i, l := range layers {
		ranks[i] = l.rank
	}
	if req == nil {
		return bwe.Cap("", 0, ranks)
	}
	return bwe.Cap(req.Quality, req.Height, ranks)
}

// rates lists the layers and their bit rates, measured or assumed (bwe.Rates), and the
// index of the best layer measured to carry packets, -1 when none is measured yet.
func (u *upTrack) rates(now time.Time) (layers []*layer, rates []int64, live int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	layers = u.layerList()
	measured := make([]int64, len(layers))
	ranks := make([]int, len(layers))
	for i, l := range layers {
		measured[i], ranks[i] = l.sampleRate(now), l.rank
	}
	rates, live = bwe.Rates(measured, ranks)
	return layers, rates, live
}

// reallocate runs the allocation of every subscriber of the track: its layers changed.
func (u *upTrack) reallocate() {
	u.mu.Lock()
	subs := slices.Clone(u.subs)
	u.mu.Unlock()
	for _, d := range subs {
		switch {
		case d.subscriber != nil:
			d.subscriber.layersChanged(u)
		case d.sink != nil:
			d.sink.best(d)
		}
	}
}
