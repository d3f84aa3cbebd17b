package sfu

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Conn is one participant's signalling connection, carrying one JSON message per
// ReadMessage and WriteMessage. The API package adapts a WebSocket to it. ReadMessage and
// WriteMessage are each called from one goroutine at a time, possibly concurrently with
// each other and with Close; both must return once ctx ends or the connection closes.
type Conn interface {
	// ReadMessage returns the next message.
	ReadMessage(ctx context.Context) ([]byte, error)
	// WriteMessage sends one message.
	WriteMessage(ctx context.Context, msg []byte) error
	// Close ends the connection with a WebSocket close code and a reason meant for people.
	Close(code int, reason string) error
}

// LayerRequest is what a subscriber last asked of a video track it receives: a quality
// and the size of the tile it shows the track in. The simulcast layer selection uses it.
type LayerRequest struct {
	// Quality is high, medium, low or off.
	Quality string
	// Width and Height are the tile's size in CSS pixels, 0 when not given.
	Width, Height int
}

// encode marshals a server message; they are all plain structs, so it cannot fail.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sfu: encode %T: %v", v, err))
	}
	return b
}

// tokenBucket limits the rate of incoming messages: rate per second, up to burst at once.
type tokenBucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func newTokenBucket(rate, burst float64, now time.Time) *tokenBucket {
	return &tokenBucket{rate: rate, burst: burst, tokens: burst, last: now}
}

// allow takes a token if there is one at now.
func (b *tokenBucket) allow(now time.Time) bool {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
