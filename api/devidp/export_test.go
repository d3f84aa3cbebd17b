package devidp

import "time"

// SetNow replaces the clock of p; tests use it to make auth requests expire.
func SetNow(p *Provider, now func() time.Time) {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	p.storage.now = now
}
