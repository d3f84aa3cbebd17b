//go:build race

package sfu

// raceEnabled tells whether the tests run under the race detector, which makes sync.Pool
// drop what is put in it, so that code with pools allocates.
const raceEnabled = true
