package signal

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// localCloses are the close codes RFC 6455 §7.4.1 reserves for an endpoint's own report
// (no status, abnormal closure, TLS failure): a browser reports them, no server sends
// them.
var localCloses = []int{1005, 1006, 1015}

// The patterns by which the browser's modules use the protocol's names.
var (
	// A signalling code compared with a variable code or the client's lastError; err.code,
	// the HTTP API's problem code, is not one.
	jsCodeCompare = regexp.MustCompile(`(?:^|[^.\w])(?:code|this\.lastError)\s*[!=]==\s*"([a-z_]+)"`)
	// A list of signalling codes the variable code is looked up in.
	jsCodeList = regexp.MustCompile(`\[([^\]]*)\]\.includes\(code\)`)
	// A close code compared with the variable code.
	jsCloseCompare = regexp.MustCompile(`(?:^|[^.\w])code\s*[!=]==\s*(\d+)`)
	// The close codes after which the client does not come back.
	jsFinalCloses = regexp.MustCompile(`FINAL_CLOSES = new Set\(\[([\d,\s]+)\]\)`)
	// A message the client sends.
	jsSend = regexp.MustCompile(`(?:send\(\{ type|moderate\()(?:: )?"([a-z_]+)"`)
	// A case of the switch over the server's message types, or over the codes of endKey.
	jsCase    = regexp.MustCompile(`(?m)^\s*case "([a-z_0-9]+)":`)
	jsQuoted  = regexp.MustCompile(`"([a-z_]+)"`)
	jsNumbers = regexp.MustCompile(`\d+`)
)

// block returns the text of src from the line holding start to the first following line
// that is only a closing brace at that line's indentation.
func block(t *testing.T, src, start string) string {
	t.Helper()
	i := strings.Index(src, start)
	require.GreaterOrEqual(t, i, 0, "no %q", start)
	line := src[strings.LastIndex(src[:i], "\n")+1:]
	indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
	rest := src[i:]
	end := strings.Index(rest, "\n"+indent+"}\n")
	require.GreaterOrEqual(t, end, 0, "no end of the block of %q", start)
	return rest[:end]
}

// TestFrontendUsesDeclaredNames keeps the browser's modules (frontend/static) in step
// with the package: every message type they send or handle, every error code and every
// close code they react to is one the package declares.
func TestFrontendUsesDeclaredNames(t *testing.T) {
	d := readDeclared(t)
	dir := filepath.Join("..", "..", "frontend", "static")
	files, err := filepath.Glob(filepath.Join(dir, "*.js"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var types, codes []string
	var closes []int
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		return n
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		src := string(raw)
		for _, m := range jsCodeCompare.FindAllStringSubmatch(src, -1) {
			codes = append(codes, m[1])
		}
		for _, m := range jsCodeList.FindAllStringSubmatch(src, -1) {
			for _, q := range jsQuoted.FindAllStringSubmatch(m[1], -1) {
				codes = append(codes, q[1])
			}
		}
		for _, m := range jsCloseCompare.FindAllStringSubmatch(src, -1) {
			closes = append(closes, atoi(m[1]))
		}
		for _, m := range jsFinalCloses.FindAllStringSubmatch(src, -1) {
			for _, n := range jsNumbers.FindAllString(m[1], -1) {
				closes = append(closes, atoi(n))
			}
		}
		for _, m := range jsSend.FindAllStringSubmatch(src, -1) {
			types = append(types, m[1])
		}
		switch filepath.Base(f) {
		case "rtc.js":
			for _, m := range jsCase.FindAllStringSubmatch(block(t, src, "switch (msg.type) {"), -1) {
				types = append(types, m[1])
			}
		case "room.js":
			// endKey maps the code that ended a session, an error code or a close code.
			for _, m := range jsCase.FindAllStringSubmatch(block(t, src, "function endKey("), -1) {
				if n, err := strconv.Atoi(m[1]); err == nil {
					closes = append(closes, n)
				} else {
					codes = append(codes, m[1])
				}
			}
		}
	}
	// What the patterns must find, or they no longer match the modules.
	require.Contains(t, types, TypeJoined, "the handled types are read")
	require.Contains(t, types, TypeJoin, "the sent types are read")
	require.Contains(t, types, TypeMuteParticipant, "the moderators' types are read")
	require.Contains(t, codes, CodeTokenExpired, "the compared codes are read")
	require.Contains(t, codes, CodeRoomClosed, "endKey's codes are read")
	require.Contains(t, codes, CodePollState, "the code lists are read")
	require.Contains(t, closes, CloseRoomFull, "the close codes are read")
	for _, v := range types {
		require.True(t, slices.Contains(d.types, v), "frontend/static uses message type %q, which package signal does not declare", v)
	}
	for _, v := range codes {
		require.True(t, slices.Contains(d.codes, v), "frontend/static uses error code %q, which package signal does not declare", v)
	}
	for _, v := range closes {
		require.True(t, slices.Contains(d.closes, v) || slices.Contains(localCloses, v), "frontend/static uses close code %d, which package signal does not declare", v)
	}
}
