package api

import (
	"cmp"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Defaults of Params.JoinsPerAddressPerMinute and Params.JoinsPerInvitationPerMinute.
const (
	DefaultJoinsPerAddressPerMinute    = 60
	DefaultJoinsPerInvitationPerMinute = 600
)

// maxJoinKeys bounds the client addresses, and the invitations, followed at once by the
// join limits: about 100 bytes each.
const maxJoinKeys = 100_000

var (
	errJoinsFromAddress  = problem(http.StatusTooManyRequests, "too_many_joins_from_address", "too many joins from your network address: try again in a minute")
	errJoinsOnInvitation = problem(http.StatusTooManyRequests, "too_many_joins_on_invitation", "too many joins with this invitation link: try again in a minute")
)

// joinLimits bound the joins through invitation links: per client address (as clientAddr
// sees it, an IPv6 address by its /64) and per invitation, each a number per minute with
// as many at once.
type joinLimits struct {
	byAddress, byInvitation *keyedLimiter
}

// newJoinLimits makes the limits, 0 meaning the default; log warns when one of them
// follows as many keys as it may.
func newJoinLimits(perAddress, perInvitation int, log func(msg string, args ...any)) *joinLimits {
	perAddress = cmp.Or(perAddress, DefaultJoinsPerAddressPerMinute)
	perInvitation = cmp.Or(perInvitation, DefaultJoinsPerInvitationPerMinute)
	return &joinLimits{
		byAddress:    newKeyedLimiter(float64(perAddress), maxJoinKeys, func() { log("join limit: too many addresses followed, new ones not limited", "keys", maxJoinKeys) }),
		byInvitation: newKeyedLimiter(float64(perInvitation), maxJoinKeys, func() { log("join limit: too many invitations followed, new ones not limited", "keys", maxJoinKeys) }),
	}
}

// allowJoinFrom counts a join from c's client address; when over the limit it answers
// 429 and returns false.
func (s *Server) allowJoinFrom(c *gin.Context) bool {
	ip, _ := s.clientAddr(c.Request)
	return s.allowJoin(c, s.joins.byAddress, addressKey(ip), errJoinsFromAddress)
}

// allowJoinWith counts a join with the invitation id; when over the limit it answers
// 429 and returns false.
func (s *Server) allowJoinWith(c *gin.Context, invitationID string) bool {
	return s.allowJoin(c, s.joins.byInvitation, invitationID, errJoinsOnInvitation)
}

func (s *Server) allowJoin(c *gin.Context, l *keyedLimiter, key string, refusal *Problem) bool {
	wait, ok := l.allow(key, s.now())
	if !ok {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		writeProblem(c, refusal)
	}
	return ok
}

// addressKey is what the limits count an address under: an IPv4 address, or the /64 of
// an IPv6 one, since a single host may hold a whole /64.
func addressKey(ip netip.Addr) string {
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// keyedLimiter is a token bucket per key: perMinute tokens a minute, as many at once.
// A key whose bucket is full again is forgotten; at most maxKeys are followed, and a new
// key beyond them is let through unlimited rather than shutting everyone out.
type keyedLimiter struct {
	perMinute float64
	maxKeys   int
	onFull    func() // called once each time the table fills up

	mu        sync.Mutex
	buckets   map[string]*joinBucket
	lastSweep time.Time
	full      bool
}

type joinBucket struct {
	tokens float64
	last   time.Time
}

func newKeyedLimiter(perMinute float64, maxKeys int, onFull func()) *keyedLimiter {
	return &keyedLimiter{perMinute: perMinute, maxKeys: maxKeys, onFull: onFull, buckets: make(map[string]*joinBucket)}
}

// allow takes a token of key at now; when there is none it says how long until one.
func (l *keyedLimiter) allow(key string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= time.Minute {
		l.sweepLocked(now)
	}
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys && now.Sub(l.lastSweep) >= time.Second {
			l.sweepLocked(now)
		}
		if len(l.buckets) >= l.maxKeys {
			if !l.full {
				l.full = true
				l.onFull()
			}
			return 0, true
		}
		l.full = false
		b = &joinBucket{tokens: l.perMinute, last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) / l.perMinute * float64(time.Minute)), false
	}
	b.tokens--
	return 0, true
}

func (l *keyedLimiter) refill(b *joinBucket, now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.perMinute, b.tokens+d.Minutes()*l.perMinute)
		b.last = now
	}
}

// sweepLocked forgets the keys whose bucket is full again: they are as if never seen.
func (l *keyedLimiter) sweepLocked(now time.Time) {
	l.lastSweep = now
	for k, b := range l.buckets {
		if l.refill(b, now); b.tokens >= l.perMinute {
			delete(l.buckets, k)
		}
	}
}

// size is the number of keys followed.
func (l *keyedLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
