package sfu

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportsPionAndStandardLibraryOnly keeps the dependency direction of DESIGN.md §3:
// the SFU imports nothing of ours but its own leaf packages: the protocol's names, the
// reading of video payloads, and the bandwidth estimate and layer allocation.
func TestImportsPionAndStandardLibraryOnly(t *testing.T) {
	out := deps(t, ".")
	for _, dep := range strings.Fields(out) {
		leaf := dep == "webinaire/sfu/signal" || dep == "webinaire/sfu/codec" || dep == "webinaire/sfu/bwe"
		require.False(t, strings.HasPrefix(dep, "webinaire/") && dep != "webinaire/sfu" && !leaf, "sfu imports %s", dep)
	}
	require.Contains(t, out, "github.com/pion/webrtc/v4")
}

// TestLeafPackages keeps the pure parts apart from the SFU: the bandwidth estimate and
// the layer allocation import the standard library and the protocol's names only; the
// reading of video payloads none of our packages.
func TestLeafPackages(t *testing.T) {
	require.ElementsMatch(t, []string{"webinaire/sfu/bwe", "webinaire/sfu/signal"}, strings.Fields(deps(t, "./bwe")))
	for _, dep := range strings.Fields(deps(t, "./codec")) {
		require.False(t, strings.HasPrefix(dep, "webinaire/") && dep != "webinaire/sfu/codec", "sfu/codec imports %s", dep)
	}
}

// deps lists the packages pkg depends on, itself included, beside the standard library.
func deps(t *testing.T, pkg string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	require.NoError(t, err)
	return string(out)
}
