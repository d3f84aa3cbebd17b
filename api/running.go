package api

import "sync"

// running are the jobs of one kind (recordings, broadcasts) running now, by webinar id,
// and the webinars whose job is being started. mu guards the maps only: no database or
// storage call is made holding it.
type running[T any] struct {
	mu       sync.Mutex
	active   map[string]*T
	starting map[string]bool
}

// reserve marks the webinar's job as being started; false when it runs or is being
// started already.
func (r *running[T]) reserve(webinarID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.active[webinarID] != nil || r.starting[webinarID] {
		return false
	}
	r.starting[webinarID] = true
	return true
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
