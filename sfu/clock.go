package sfu

import "time"

// Clock tells the time and runs functions later. The server uses it for token expiry,
// the empty-room grace period, keyframe request pacing and message rate limits; tests
// inject a manual one.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// AfterFunc runs f in its own goroutine after d and returns a function that cancels
	// it, reporting whether it was still pending.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// systemClock is the real time.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
