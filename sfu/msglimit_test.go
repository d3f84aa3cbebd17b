package sfu

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/signal"
)

// Every message type decodeMessage accepts has its class: none bypasses the limits.
func TestEveryClientMessageTypeHasALimit(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "signal.go", nil, 0)
	require.NoError(t, err)
	names, err := parser.ParseFile(token.NewFileSet(), "signal/signal.go", nil, 0)
	require.NoError(t, err)
	consts := map[string]string{}
	ast.Inspect(names, func(n ast.Node) bool {
		if n, ok := n.(*ast.ValueSpec); ok {
			for i, name := range n.Names {
				if i < len(n.Values) {
					if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						consts[name.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
		return true
	})
	var cases []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Name.Name != "decodeMessageUpTo" {
				return false
			}
			ast.Inspect(n.Body, func(n ast.Node) bool {
				sw, ok := n.(*ast.SwitchStmt)
				if !ok {
					return true
				}
				if sel, ok := sw.Tag.(*ast.SelectorExpr); !ok || sel.Sel.Name != "Type" {
					return true
				}
				for _, s := range sw.Body.List {
					for _, e := range s.(*ast.CaseClause).List {
						if sel, ok := e.(*ast.SelectorExpr); ok {
							cases = append(cases, sel.Sel.Name)
						}
					}
				}
				return false
			})
		}
		return true
	})
	require.Greater(t, len(cases), 20, "the cases of decodeMessage were found")
	for _, c := range cases {
		_, ok := messageClasses[consts[c]]
		require.True(t, ok, "message type %s (%q) has no class in messageClasses", c, consts[c])
	}
	require.Len(t, messageClasses, len(cases), "messageClasses lists only the types a client may send")
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
	require.Equal(t, 1, a.count(func(m serverMsg) bool { return m.Type == signal.TypeError }), "told once")
}
