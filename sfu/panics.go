package sfu

import (
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync/atomic"
)

// Part is what a goroutine serves, and what a panic recovered at its top ends: one
// participant's session, one track, one recording, or one room.
type Part string

// The parts a recovered panic is counted by.
const (
	PartParticipant Part = "participant"
	PartTrack       Part = "track"
	PartRecording   Part = "recording"
	PartRoom        Part = "room"
)

// Parts lists every Part.
func Parts() []Part { return []Part{PartParticipant, PartTrack, PartRecording, PartRoom} }

// Panics counts the panics recovered at the top of the goroutines that serve one
// participant, track, recording or room: a bug that a client's bytes reach ends that
// part, not the process, and the count tells the operator it happened. The zero value is
// ready; a nil *Panics recovers without counting. It is safe for concurrent use.
type Panics struct {
	counts [4]atomic.Uint64 // in the order of Parts
}

// Count is the number of panics recovered in part.
func (c *Panics) Count(part Part) uint64 {
	if c == nil {
		return 0
	}
	for i, p := range Parts() {
		if p == part {
			return c.counts[i].Load()
		}
	}
	return 0
}

// Recover stops a panic of the goroutine it is deferred in, at the top of it
// (defer c.Recover(...)): it logs the panic with log's attributes (ids, never personal
// data) and the stack, counts it, and calls end, when not nil, to end the part cleanly.
// Without a panic it does nothing.
func (c *Panics) Recover(part Part, log *slog.Logger, end func()) {
	v := recover()
	if v == nil {
		return
	}
	if c != nil {
		for i, p := range Parts() {
			if p == part {
				c.counts[i].Add(1)
			}
		}
	}
	// A runtime error says what went wrong in its own words; any other value may carry
	// what a client sent, so only its type is logged.
	what := fmt.Sprintf("%T", v)
	if err, ok := v.(runtime.Error); ok {
		what = err.Error()
	}
	log.Error("panic recovered", "part", string(part), "panic", what, "stack", string(debug.Stack()))
	if end != nil {
		end()
	}
}
