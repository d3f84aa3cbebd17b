package client

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestNoPackageOfOurs keeps the client free of the project's packages, package sfu
// included, so that sfu's own tests may use it. The one exception is sfu/signal, the
// leaf package of the protocol, which is made to be shared by both sides.
func TestNoPackageOfOurs(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	out, err := exec.Command(goTool, "list", "-f", `{{join .Deps " "}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, dep := range deps {
		if strings.HasPrefix(dep, "webinaire/") && dep != "webinaire/sfu/signal" {
			t.Errorf("the client imports %s", dep)
		}
	}
	if !slices.Contains(deps, "webinaire/sfu/signal") {
		t.Errorf("the client does not use the protocol of sfu/signal")
	}
	if !strings.Contains(string(out), "github.com/pion/webrtc/v4") {
		t.Errorf("no Pion among the %d dependencies", len(deps))
	}
}
