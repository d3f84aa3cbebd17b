package api

import (
	"context"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"webinaire/privacy"
)

// Defaults of LoginLimits.
const (
	DefaultLoginFlowsPerClient = 20
	DefaultLoginFlowsTotal     = 10000
)

const (
	// maxReturnTo bounds return_to, in bytes: a path on this site is short.
	maxReturnTo = 512
	// loginExpiryEvery is how often starting a login deletes the pending logins that expired.
	loginExpiryEvery = time.Minute
	// loginExpiryBatch bounds the pending logins one transaction deletes.
	loginExpiryBatch = 1000
)

// LoginLimits bound the pending logins: those started and neither finished nor expired
// (loginFlowTTL). Beyond them /auth/login answers 429 too_many_logins and stores nothing.
type LoginLimits struct {
	// PerClient bounds the pending logins of one client address (of one /64 for IPv6); 0
	// means DefaultLoginFlowsPerClient.
	PerClient int
	// Total bounds the pending logins in all; 0 means DefaultLoginFlowsTotal.
	Total int
}

// loginExpiry remembers when starting a login last deleted the expired pending logins.
type loginExpiry struct {
	mu   sync.Mutex
	last time.Time
}

// expireLoginFlows deletes the pending logins that expired, at most once a minute, so that
// abandoned logins go as they expire and not at the next retention run; each deletion is
// in the ledger, as the sweep's. A failure is logged and leaves them to the next call or to
// the sweep: the bounds count only pending logins.
func (s *Server) expireLoginFlows(ctx context.Context) {
	now := s.now()
	s.loginExpiry.mu.Lock()
	due := now.Sub(s.loginExpiry.last) >= loginExpiryEvery
	if due {
		s.loginExpiry.last = now
	}
	s.loginExpiry.mu.Unlock()
	if !due {
		return
	}
	n, err := privacy.ExpireLoginFlows(ctx, s.p.Store, s.p.Ledger, now, loginExpiryBatch)
	if err != nil {
		s.log.WarnContext(ctx, "deleting expired logins failed", "err", err)
		return
	}
	if n > 0 {
		s.log.DebugContext(ctx, "expired logins deleted", "count", n)
	}
}

// loginClientKey names the client of a login for the bound per client: a keyed hash of its
// address, or of its /64 for IPv6 (what one subscriber usually has), never the address.
func (s *Server) loginClientKey(r *http.Request) string {
	ip, _ := s.clientAddr(r)
	prefix := netip.PrefixFrom(ip, ip.BitLen())
	if ip.Is6() {
		prefix, _ = ip.Prefix(64)
	}
	return s.p.Ledger.ObjectHash("login client " + prefix.String())
}
