package api

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// DefaultMaxRequestsPerClient is Params.MaxRequestsPerClient when it is 0: high, because
// the agents of one organisation often reach the server from one address (NAT, proxy).
const DefaultMaxRequestsPerClient = 1000

var errTooManyRequests = problem(http.StatusTooManyRequests, "too_many_requests", "this address has too many requests in progress; try again when some have finished")

// clientKey is what the limits count a client by: its address as clientAddr reads it
// (behind a trusted proxy, the client's, not the proxy's), an IPv6 address by its /64,
// the smallest network a home or an office is given.
func clientKey(a netip.Addr) netip.Prefix {
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// inFlight counts the requests in progress by client key. Entries live as long as their
// requests: the map holds at most as many keys as there are connections.
type inFlight struct {
	max int
	mu  sync.Mutex
	n   map[netip.Prefix]int
}

func newInFlight(max int) *inFlight {
	return &inFlight{max: max, n: make(map[netip.Prefix]int)}
}

// acquire counts one more request of k; false when k has max in progress already.
func (f *inFlight) acquire(k netip.Prefix) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[k] >= f.max {
		return false
	}
	f.n[k]++
	return true
}

func (f *inFlight) release(k netip.Prefix) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[k]--; f.n[k] <= 0 {
		delete(f.n, k)
	}
}

// limitInFlight refuses a request, 429 too_many_requests, when its client has
// MaxRequestsPerClient in progress already. It counts by the client's address, not the
// TCP peer's, so that a reverse proxy is not taken for one client: it works from the
// request's headers, once they are read (the read timeouts bound what comes before). A
// signalling WebSocket is in progress as long as its session.
func (s *Server) limitInFlight(c *gin.Context) {
	ip, _ := s.clientAddr(c.Request)
	k := clientKey(ip)
	if !s.inFlight.acquire(k) {
		c.Header("Retry-After", strconv.Itoa(retryAfterSeconds))
		writeProblem(c, errTooManyRequests)
		c.Abort()
		return
	}
	defer s.inFlight.release(k)
	c.Next()
}

// retryAfterSeconds is the Retry-After of the limits' refusals.
const retryAfterSeconds = 5

// longAnswer lets a handler answer for longer than the server's write timeout: no read
// deadline (the request has been read), and a write deadline moved forward by the write
// timeout at each write of the returned writer, so that the answer goes on while the
// client reads it and stops when it has stopped reading for the write timeout.
func (s *Server) longAnswer(w http.ResponseWriter) http.ResponseWriter {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{}) // not every writer has deadlines (tests' recorders)
	if s.p.WriteTimeout <= 0 {
		_ = rc.SetWriteDeadline(time.Time{})
		return w
	}
	return &progressWriter{ResponseWriter: w, rc: rc, timeout: s.p.WriteTimeout}
}

// progressWriter moves the connection's write deadline before each write. The deadline of
// a connection is in the real time of the network, not the server's clock.
type progressWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (w *progressWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
	return w.ResponseWriter.Write(p)
}

// Unwrap gives http.ResponseController the writer underneath.
func (w *progressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// answerWithin gives the answer of a request whose body has been read the whole write
// timeout from now, whatever time the client took to send it: the WHIP and WHEP answers
// wait for the media server's.
func (s *Server) answerWithin(w http.ResponseWriter) {
	if s.p.WriteTimeout > 0 {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.p.WriteTimeout))
	}
}

// Defaults of the media sessions' rate limit (Params.MediaSessionsBurst, MediaSessionsPerHour).
const (
	DefaultMediaSessionsBurst   = 600
	DefaultMediaSessionsPerHour = 600
)

// maxRateKeys bounds the clients a rate limiter tracks at once.
const maxRateKeys = 100_000

var errTooManySessions = problem(http.StatusTooManyRequests, "too_many_sessions", "this address has opened too many media sessions lately; try again later")

// rateLimiter is a token bucket per key (a client's address, an invitation): a key may do
// burst things at once, then one each interval. It tracks at most maxKeys keys: a key whose
// bucket has filled up again is forgotten, being the same as one never seen; when there are
// still too many, some are forgotten at random, and get a full bucket at their next
// request: the bound on memory comes before the bound on them.
type rateLimiter[K comparable] struct {
	now      func() time.Time
	burst    float64
	interval time.Duration
	maxKeys  int

	mu      sync.Mutex
	buckets map[K]bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newRateLimiter[K comparable](now func() time.Time, burst int, interval time.Duration, maxKeys int) *rateLimiter[K] {
	return &rateLimiter[K]{now: now, burst: float64(burst), interval: interval, maxKeys: maxKeys, buckets: make(map[K]bucket)}
}

// allow takes a token of k's bucket; when there is none, it says how long until there is.
func (l *rateLimiter[K]) allow(k K) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[k]
	if !ok && len(l.buckets) >= l.maxKeys {
		l.forgetLocked(now)
	}
	b = l.refill(b, ok, now)
	if b.tokens < 1 {
		l.buckets[k] = b
		return false, time.Duration((1 - b.tokens) * float64(l.interval))
	}
	b.tokens--
	l.buckets[k] = b
	return true, 0
}

// refill is b at now; a bucket not seen is full.
func (l *rateLimiter[K]) refill(b bucket, seen bool, now time.Time) bucket {
	if !seen {
		return bucket{tokens: l.burst, at: now}
	}
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+float64(elapsed)/float64(l.interval))
		b.at = now
	}
	return b
}

// forgetLocked makes room for an eighth of maxKeys, so that it runs once in so many new
// clients: the full buckets first, then any.
func (l *rateLimiter[K]) forgetLocked(now time.Time) {
	for k, b := range l.buckets {
		if l.refill(b, true, now).tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets { // a map's order is random
		if len(l.buckets) <= l.maxKeys-l.maxKeys/8-1 {
			break
		}
		delete(l.buckets, k)
	}
}

// allowMediaSession tells whether the client of c may open one more media session (a
// signalling WebSocket, a WHEP session), each of which writes its join and its leave to
// the connection log, kept a year. When not, it has answered 429 too_many_sessions: a
// session is refused rather than served without its entries.
func (s *Server) allowMediaSession(c *gin.Context, protocol string) bool {
	ip, _ := s.clientAddr(c.Request)
	if refused(c, s.sessionRate, clientKey(ip), errTooManySessions) {
		s.sessionsRefused.WithLabelValues(protocol).Inc()
		s.log.Debug("media session refused: too many from one address", "protocol", protocol)
		return false
	}
	return true
}

// refused takes a token of key from l; when there is none it answers c with refusal (429)
// and Retry-After, and returns true.
func refused[K comparable](c *gin.Context, l *rateLimiter[K], key K, refusal *Problem) bool {
	ok, wait := l.allow(key)
	if !ok {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		writeProblem(c, refusal)
	}
	return !ok
}
