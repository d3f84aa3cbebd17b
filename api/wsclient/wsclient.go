// Package wsclient opens the signalling WebSocket of the API as a client, for
// sfu/client: tests and the load generator.
package wsclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/coder/websocket"
)

// maxMessage is the largest message read: the server's offers grow with the tracks.
const maxMessage = 4 << 20

// ErrBinaryMessage is a binary message: the protocol is JSON text.
var ErrBinaryMessage = errors.New("binary WebSocket message")

// Conn is a signalling WebSocket; it implements client.Transport.
type Conn struct {
	ws *websocket.Conn
}

// Dial opens the WebSocket at url (the ws_url of a join answer). header is sent with the
// handshake (a browser's Origin, for instance) and hc makes the connection; both may be nil.
func Dial(ctx context.Context, url string, header http.Header, hc *http.Client) (*Conn, error) {
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header, HTTPClient: hc})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: status %d: %w", url, resp.StatusCode, err)
		}
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	ws.SetReadLimit(maxMessage)
	return &Conn{ws: ws}, nil
}

// WebSocket is the connection itself, to send what the protocol does not (tests).
func (c *Conn) WebSocket() *websocket.Conn { return c.ws }

// ReadMessage returns the next text message. The connection closes if ctx ends.
func (c *Conn) ReadMessage(ctx context.Context) ([]byte, error) {
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, ErrBinaryMessage
	}
	return b, nil
}

// WriteMessage sends one text message.
func (c *Conn) WriteMessage(ctx context.Context, msg []byte) error {
	return c.ws.Write(ctx, websocket.MessageText, msg)
}

// Close sends a close frame with code and reason and waits a little (the library's bound)
// for the server's.
func (c *Conn) Close(code int, reason string) error {
	return c.ws.Close(websocket.StatusCode(code), reason)
}
