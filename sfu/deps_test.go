package sfu

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportsPionAndStandardLibraryOnly keeps the dependency direction of DESIGN.md §3:
// the SFU imports nothing of ours but its own leaf packages: the protocol's names, and
// the reading of video payloads.
func TestImportsPionAndStandardLibraryOnly(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	require.NoError(t, err)
	for _, dep := range strings.Fields(string(out)) {
		require.False(t, strings.HasPrefix(dep, "webinaire/") && dep != "webinaire/sfu" && dep != "webinaire/sfu/signal" && dep != "webinaire/sfu/codec", "sfu imports %s", dep)
	}
	require.Contains(t, string(out), "github.com/pion/webrtc/v4")
}
