package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"webinaire/sfu/signal"
)

// pingInterval is how often the server pings a signalling connection; a peer that does
// not answer within pingTimeout is gone, and its connection is closed.
const (
	pingInterval = 30 * time.Second
	pingTimeout  = 15 * time.Second
)

// maxCloseReason is the longest close reason a WebSocket close frame carries, in bytes.
const maxCloseReason = 123

// errBinaryMessage is a binary message: the protocol is JSON text.
var errBinaryMessage = errors.New("binary WebSocket message")

// wsConn adapts a WebSocket to sfu.Conn: one JSON text message per ReadMessage and
// WriteMessage, at most signal.MaxMessageSize bytes each.
//
// The WebSocket library closes the connection when the context of a read ends, but the
// SFU ends its reads when the session ends, before it sends its last messages and its
// close code. So one goroutine of its own reads the connection, and ReadMessage waits
// for its messages or for the caller's context, whichever comes first.
type wsConn struct {
	ws *websocket.Conn

	msgs    chan []byte   // the reader hands one message at a time over
	done    chan struct{} // closed when the reader has stopped; err says why
	err     error
	closing chan struct{} // closed by Close and finish: nobody reads any more
	once    sync.Once
	pinger  chan struct{} // closed when the ping loop has stopped
}

// acceptWS completes the WebSocket handshake of r and starts reading. originPattern is
// the only origin host allowed besides the request's (the caller checks the origin
// more strictly first). On failure the handshake has been answered.
func acceptWS(w http.ResponseWriter, r *http.Request, originPattern string) (*wsConn, error) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OriginPatterns:  []string{originPattern},
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, err
	}
	return newWSConn(ws, signal.MaxMessageSize), nil
}

// newWSConn adapts ws, and starts reading it; a message larger than limit bytes closes
// the connection with 1009 (message too big).
func newWSConn(ws *websocket.Conn, limit int64) *wsConn {
	ws.SetReadLimit(limit)
	c := &wsConn{
		ws:      ws,
		msgs:    make(chan []byte),
		done:    make(chan struct{}),
		closing: make(chan struct{}),
		pinger:  make(chan struct{}),
	}
	go c.readLoop() // owned by c; ends when the connection closes, at the latest in finish
	go c.pingLoop() // owned by c; ends when the reader stops, at the latest in finish
	return c
}

func (c *wsConn) readLoop() {
	defer close(c.done)
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		if typ != websocket.MessageText {
			c.err = errBinaryMessage
			_ = c.ws.Close(websocket.StatusUnsupportedData, "text messages only")
			return
		}
		select {
		case c.msgs <- data:
		case <-c.closing:
			c.err = net.ErrClosed
			return
		}
	}
}

// pingLoop pings the peer, and drops a connection whose peer has gone without a word
// (a laptop put to sleep, a network that changed): its session ends.
func (c *wsConn) pingLoop() {
	defer close(c.pinger)
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
		err := c.ws.Ping(ctx)
		cancel()
		if err != nil {
			_ = c.ws.CloseNow()
			return
		}
	}
}

// ReadMessage returns the next message, or an error once the connection is closed or ctx
// has ended; an ended ctx leaves the connection open.
func (c *wsConn) ReadMessage(ctx context.Context) ([]byte, error) {
	select {
	case m := <-c.msgs:
		return m, nil
	case <-c.done:
		return nil, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// WriteMessage sends msg as a text message. An ended ctx closes the connection.
func (c *wsConn) WriteMessage(ctx context.Context, msg []byte) error {
	return c.ws.Write(ctx, websocket.MessageText, msg)
}

// Close ends the connection with the close handshake: code and reason, then the peer's
// answer (at most a few seconds).
func (c *wsConn) Close(code int, reason string) error {
	c.once.Do(func() { close(c.closing) })
	if len(reason) > maxCloseReason {
		reason = strings.ToValidUTF8(reason[:maxCloseReason], "")
	}
	return c.ws.Close(websocket.StatusCode(code), reason)
}

// finish closes the connection at once if it is still open, and waits for the reader and
// the ping loop.
func (c *wsConn) finish() {
	c.once.Do(func() { close(c.closing) })
	_ = c.ws.CloseNow()
	<-c.done
	<-c.pinger
}
