package sfu

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// Every message type a client may send (signal.DecodeClient does not refuse it as
// unknown) has its class: none bypasses the limits.
func TestEveryClientMessageTypeHasALimit(t *testing.T) {
	names, err := parser.ParseFile(token.NewFileSet(), "signal/signal.go", nil, 0)
	require.NoError(t, err)
	var types []string
	ast.Inspect(names, func(n ast.Node) bool {
		if n, ok := n.(*ast.ValueSpec); ok {
			for i, name := range n.Names {
				if i < len(n.Values) && strings.HasPrefix(name.Name, "Type") {
					if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						types = append(types, v)
					}
				}
			}
		}
		return true
	})
	require.Greater(t, len(types), 40, "the message types were read")
	var sent []string
	for _, typ := range types {
		_, err := signal.DecodeClient([]byte(`{"type":"` + typ + `"}`))
		if !errors.Is(err, signal.ErrUnknownMessageType) {
			sent = append(sent, typ)
		}
	}
	require.Greater(t, len(sent), 20, "the types a client sends were found")
	for _, typ := range sent {
		_, ok := messageClasses[typ]
		require.True(t, ok, "message type %q has no class in messageClasses", typ)
	}
	require.Len(t, messageClasses, len(sent), "messageClasses lists only the types a client may send")
}

// mute counts against the state limit: a client toggling its microphone faster than
// StateRate is told rate_limited, and the others hear the latest state.
func TestMuteTogglesAreLimited(t *testing.T) {
	clock := newFakeClock() // no refill
	srv := newTestServer(t, func(p *Params) { p.Clock = clock })
	a := join(t, srv, srv.token(t, "mt", "a", RoleAttendee, KindMeeting))
	_, first := startBot(t, srv, srv.token(t, "mt", "b", RoleAttendee, KindMeeting))
	require.Equal(t, signal.TypeJoined, first.Type)
	for i := range StateBurst + 1 {
		a.send(map[string]any{"type": "mute", "label": "microphone", "muted": i%2 == 0})
	}
	a.waitError(signal.CodeRateLimited)
	require.Equal(t, 1, a.count(func(m signal.ServerMessage) bool { return m.Type == signal.TypeError }), "told once")
}
