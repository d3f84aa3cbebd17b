package signal

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// declared are the package's constants, by kind: the values of the Type..., Code... and
// Close... constants of signal.go.
type declared struct {
	types, codes []string
	closes       []int
}

// readDeclared parses signal.go, so that a new constant is checked without being listed
// again here.
func readDeclared(t testing.TB) declared {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "signal.go", nil, 0)
	require.NoError(t, err)
	var d declared
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range spec.Names {
			lit, ok := spec.Values[i].(*ast.BasicLit)
			if !ok {
				continue
			}
			switch {
			case strings.HasPrefix(name.Name, "Type") && lit.Kind == token.STRING:
				v, err := strconv.Unquote(lit.Value)
				require.NoError(t, err)
				d.types = append(d.types, v)
			case strings.HasPrefix(name.Name, "Code") && lit.Kind == token.STRING:
				v, err := strconv.Unquote(lit.Value)
				require.NoError(t, err)
				d.codes = append(d.codes, v)
			case strings.HasPrefix(name.Name, "Close") && lit.Kind == token.INT:
				v, err := strconv.Atoi(lit.Value)
				require.NoError(t, err)
				d.closes = append(d.closes, v)
			}
		}
		return true
	})
	require.Contains(t, d.types, TypeJoin, "the message types are read")
	require.Contains(t, d.codes, CodeRoomFull, "the error codes are read")
	require.Contains(t, d.closes, CloseRoomMoved, "the close codes are read")
	return d
}

// section returns the text of docs/protocol.md under heading, up to the next heading.
func section(t *testing.T, doc, heading string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	require.True(t, ok, "docs/protocol.md has no %q", heading)
	if i := strings.Index(rest, "\n#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// firstColumn returns the first cells of the rows of the tables in text, without the
// header row and its backquotes.
func firstColumn(text string) []string {
	var cells []string
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		cell, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " |")
		if cell == "code" || cell == "type" {
			continue
		}
		cells = append(cells, strings.Trim(cell, "`"))
	}
	return cells
}

// sameSet fails unless the documented values are exactly the declared ones.
func sameSet[T comparable](t *testing.T, what string, declared, documented []T) {
	t.Helper()
	for _, v := range declared {
		require.Contains(t, documented, v, "%s %v is not documented in docs/protocol.md", what, v)
	}
	for _, v := range documented {
		require.Contains(t, declared, v, "docs/protocol.md documents %s %v, which package signal does not declare", what, v)
	}
	require.Len(t, documented, len(declared), "docs/protocol.md documents each %s once", what)
}

// TestProtocolDocumentsEveryName keeps docs/protocol.md in step with the package: its
// tables of message types, error codes and close codes list exactly the constants
// declared here, and every type its examples show is declared.
func TestProtocolDocumentsEveryName(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "protocol.md"))
	require.NoError(t, err)
	doc := string(raw)
	d := readDeclared(t)

	sameSet(t, "message type", d.types, firstColumn(section(t, doc, "### Message types")))
	sameSet(t, "error code", d.codes, firstColumn(section(t, doc, "## Errors")))
	var closes []int
	for _, c := range firstColumn(section(t, doc, "### Close codes")) {
		n, err := strconv.Atoi(c)
		require.NoError(t, err, "close code %q", c)
		closes = append(closes, n)
	}
	sameSet(t, "close code", d.closes, closes)

	examples := regexp.MustCompile(`"type": ?"([a-z_]+)"`).FindAllStringSubmatch(doc, -1)
	require.Greater(t, len(examples), 20, "the examples are read")
	for _, m := range examples {
		require.True(t, slices.Contains(d.types, m[1]), "docs/protocol.md shows a message of type %q, which package signal does not declare", m[1])
	}
}
