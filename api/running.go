package api

import (
	"context"
	"sync"
)

// running are the jobs of one kind (recordings, broadcasts) running now, by webinar id,
// and the webinars whose job is being started. mu guards the maps only: no database or
// storage call is made holding it.
type running[T any] struct {
	mu       sync.Mutex
	active   map[string]*T
	starting map[string]bool
}

// What reserveUpTo says.
const (
	reserved       = iota
	reserveRunning // the webinar's job runs or is being started already
	reserveFull    // as many jobs run or are being started as may
)

// reserve marks the webinar's job as being started; false when it runs or is being
// started already.
func (r *running[T]) reserve(webinarID string) bool {
	return r.reserveUpTo(webinarID, 0) == reserved
}

// reserveUpTo marks the webinar's job as being started, when fewer than most jobs run or
// are being started (0: no bound).
func (r *running[T]) reserveUpTo(webinarID string, most int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active[webinarID] != nil || r.starting[webinarID] {
		return reserveRunning
	}
	if most > 0 && len(r.active)+len(r.starting) >= most {
		return reserveFull
	}
	r.starting[webinarID] = true
	return reserved
}

// release ends the start of the webinar's job: a, when not nil, runs now.
func (r *running[T]) release(webinarID string, a *T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.starting, webinarID)
	if a != nil {
		r.active[webinarID] = a
	}
}

// get is the webinar's job running now, or nil.
func (r *running[T]) get(webinarID string) *T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active[webinarID]
}

// waitWithin waits for wg, or until ctx ends.
func waitWithin(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() { // owned by waitWithin's caller; ends when wg is done
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
