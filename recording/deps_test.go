package recording

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportsTheSFUAndNothingAbove keeps the dependency direction of DESIGN.md §3: the
// recording package knows the SFU, not the database (its manager keeps its rows through
// the Rows it is given), the API or the privacy rules.
func TestImportsTheSFUAndNothingAbove(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	for _, dep := range deps {
		if strings.HasPrefix(dep, "webinaire/") {
			require.True(t, dep == "webinaire/recording" || dep == "webinaire/sfu" || strings.HasPrefix(dep, "webinaire/sfu/"), "recording imports %s", dep)
		}
		require.NotContains(t, dep, "gorm", "recording imports %s", dep)
		require.NotContains(t, dep, "gin-gonic", "recording imports %s", dep)
	}
	require.Contains(t, deps, "webinaire/sfu")
}
