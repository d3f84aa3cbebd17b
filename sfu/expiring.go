package sfu

import (
	"container/heap"
	"time"
)

// expiring is a set of keys, each until a time: a map looked up in O(1), bounded by the
// entries whose end is still ahead, which are forgotten once past, the oldest first (a
// heap by end time), a few at each call. It is not safe for concurrent use.
type expiring[K comparable] struct {
	until map[K]time.Time
	ends  expiryHeap[K] // the same entries, soonest end first
}

// expiry is an entry of the heap: a key and the end it had when pushed. An entry whose
// end has been pushed back since is found stale when popped, and dropped.
type expiry[K comparable] struct {
	key   K
	until time.Time
}

// expiryHeap orders entries by end time (container/heap).
type expiryHeap[K comparable] []expiry[K]

func (h expiryHeap[K]) Len() int           { return len(h) }
func (h expiryHeap[K]) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h expiryHeap[K]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap[K]) Push(x any)        { *h = append(*h, x.(expiry[K])) }
func (h *expiryHeap[K]) Pop() any {
	old := *h
	last := old[len(old)-1]
	*h = old[:len(old)-1]
	return last
}

// add keeps k until the given time, or until the later time it was kept until; it tells
// whether k was new.
func (e *expiring[K]) add(k K, until time.Time) bool {
	if e.until == nil {
		e.until = make(map[K]time.Time)
	}
	cur, ok := e.until[k]
	if !ok || until.After(cur) {
		e.until[k] = until
		heap.Push(&e.ends, expiry[K]{key: k, until: until})
	}
	return !ok
}

// has tells whether k is kept at now.
func (e *expiring[K]) has(k K, now time.Time) bool {
	until, ok := e.until[k]
	return ok && now.Before(until)
}

// forgetBatch bounds the entries forgotten by one call, so that no call pays for a long
// backlog at once; the next calls go on.
const forgetBatch = 64

// forget forgets up to forgetBatch entries over at now.
func (e *expiring[K]) forget(now time.Time) {
	for range forgetBatch {
		if len(e.ends) == 0 || now.Before(e.ends[0].until) {
			return
		}
		x := heap.Pop(&e.ends).(expiry[K])
		if until, ok := e.until[x.key]; ok && !until.After(x.until) {
			delete(e.until, x.key)
		}
	}
}

// len is the number of entries kept.
func (e *expiring[K]) len() int { return len(e.until) }
