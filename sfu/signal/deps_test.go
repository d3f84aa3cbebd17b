package signal

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeaf keeps the package a leaf that both the server and its clients may import: it
// depends on the standard library only.
func TestLeaf(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) != 1 || deps[0] != "webinaire/sfu/signal" {
		t.Errorf("got dependencies %q beside the standard library, want none", deps)
	}
}
