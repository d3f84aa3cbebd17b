package bwe

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

func TestEstimate(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var b Estimate
	require.EqualValues(t, Initial, b.Value(now))
	b.OnLoss(0, now)
	require.EqualValues(t, Initial*1.08, b.Value(now), "no loss: grows by 8%")
	b.OnLoss(0, now)
	require.EqualValues(t, Initial*1.08, b.Value(now), "at most once a second")
	b.OnLoss(128, now)
	require.EqualValues(t, int64(Initial*1.08*0.75), b.Value(now), "50% loss: down by a quarter")
	b.OnLoss(13, now)
	require.EqualValues(t, int64(Initial*1.08*0.75), b.Value(now), "5% loss: held")
	b.OnREMB(300_000, now)
	require.EqualValues(t, 300_000, b.Value(now), "a lower REMB wins")
	now = now.Add(REMBFresh)
	require.EqualValues(t, int64(Initial*1.08*0.75), b.Value(now), "an old REMB no longer counts")
	for range 100 {
		b.OnLoss(255, now)
	}
	require.EqualValues(t, Min, b.Value(now))

	var o Estimate
	o.OnREMB(1_000_000, now)
	o.OnOverload(now)
	require.EqualValues(t, 750_000, o.Value(now), "overload: down by a quarter of the estimate")
	for range 100 {
		o.OnOverload(now)
	}
	require.EqualValues(t, Min, o.Value(now))

	var r Estimate
	r.OnREMB(1e30, now)
	require.EqualValues(t, Initial, r.Value(now), "a huge REMB is bounded, and the loss estimate is lower")
	r.OnREMB(float32(-1), now)
	require.EqualValues(t, Min, r.Value(now), "a negative REMB counts as the least")

	var d Estimate
	require.True(t, d.Due(now))
	require.False(t, d.Due(now.Add(AllocateEvery-time.Millisecond)), "not twice within AllocateEvery")
	require.True(t, d.Due(now.Add(AllocateEvery)))
}

func TestCap(t *testing.T) {
	three := []int{0, 1, 2}
	tests := []struct {
		quality string
		height  int
		ranks   []int
		want    int
	}{
		{"", 0, three, 2},
		{signal.QualityHigh, 0, three, 2},
		{signal.QualityMedium, 0, three, 1},
		{signal.QualityLow, 0, three, 0},
		{signal.QualityOff, 0, three, -1},
		{signal.QualityHigh, 180, three, 0},
		{signal.QualityHigh, 360, three, 1},
		{signal.QualityHigh, 720, three, 2},
		{signal.QualityLow, 720, three, 0},
		{signal.QualityLow, 0, []int{2}, 0},        // one layer is all there is
		{signal.QualityMedium, 0, []int{0, 2}, 0},  // no middle layer: the lower one
		{signal.QualityOff, 0, []int{2}, -1},       // off, even with one layer
		{signal.QualityHigh, 300, []int{0, 2}, 0},  // a middle-sized tile, no middle layer
		{signal.QualityHigh, 1080, []int{1, 2}, 1}, // the best there is
	}
	for _, tt := range tests {
		got := Cap(tt.quality, tt.height, tt.ranks)
		require.Equal(t, tt.want, got, "got %d for %q at %d px of ranks %v, want %d", got, tt.quality, tt.height, tt.ranks, tt.want)
	}
}

func TestRates(t *testing.T) {
	tests := []struct {
		measured []int64
		ranks    []int
		want     []int64
		live     int
	}{
		{[]int64{0, 0, 0}, []int{0, 1, 2}, []int64{150_000, 500_000, 1_500_000}, -1},
		{[]int64{90_000, 0, 700_000}, []int{0, 1, 2}, []int64{90_000, 500_000, 700_000}, 2},
		{[]int64{0, 0, 400_000}, []int{0, 1, 2}, []int64{150_000, 400_000, 400_000}, 2}, // never more than a higher layer
		{[]int64{0}, []int{7}, []int64{2_500_000}, -1},                                  // a rank beyond the table
	}
	for _, tt := range tests {
		got, live := Rates(tt.measured, tt.ranks)
		require.Equal(t, tt.want, got, "rates of %v", tt.measured)
		require.Equal(t, tt.live, live, "live layer of %v", tt.measured)
	}
}

func TestAllocate(t *testing.T) {
	cam := func(id string, area, cap int) Track {
		return Track{ID: id, Area: area, Cap: cap, Rates: []int64{150_000, 500_000, 1_500_000}}
	}
	tests := []struct {
		name   string
		budget int64
		tracks []Track
		want   []int
	}{
		{"enough for the best", 5_000_000, []Track{cam("a", 100, 2), cam("b", 100, 2)}, []int{2, 2}},
		{"the largest tile gets better first", 900_000, []Track{cam("small", 100, 2), cam("large", 900, 2)}, []int{0, 1}},
		{"ties broken by id", 900_000, []Track{cam("b", 100, 2), cam("a", 100, 2)}, []int{0, 1}},
		{"up to the cap", 5_000_000, []Track{cam("a", 100, 1)}, []int{1}},
		{"off", 5_000_000, []Track{cam("a", 100, -1)}, []int{-1}},
		{"a camera whose lowest layer does not fit is paused", 200_000, []Track{cam("a", 900, 2), cam("b", 100, 2)}, []int{0, -1}},
		{"a screen share first, and never paused", 100_000,
			[]Track{cam("a", 900, 2), {ID: "s", Screen: true, Cap: 1, Rates: []int64{300_000, 900_000}}}, []int{-1, 0}},
		{"one layer is never paused", 0, []Track{{ID: "a", Cap: 0, Rates: []int64{800_000}}}, []int{0}},
		{"nothing to allocate", 1_000_000, nil, []int{}},
	}
	for _, tt := range tests {
		got := Allocate(tt.budget, tt.tracks)
		require.Equal(t, tt.want, got, "%s: got %v, want %v", tt.name, got, tt.want)
	}
}
