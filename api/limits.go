package api

import (
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
