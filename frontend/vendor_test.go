package frontend

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPDFJSIsThePinnedVersion: the pdf.js modules the server embeds and serves are those
// of the pdfjs-dist version pinned in package.json, the library and its worker alike (a
// worker of another version refuses to run). Refresh them from node_modules/pdfjs-dist/build
// when the pin changes.
func TestPDFJSIsThePinnedVersion(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		t.Fatal(err)
	}
	version := pkg.DevDependencies["pdfjs-dist"]
	if version == "" || strings.ContainsAny(version, "^~<>=* ") {
		t.Fatalf("package.json pins pdfjs-dist to %q, want an exact version", version)
	}
	for _, name := range []string{"static/vendor/pdfjs/pdf.min.mjs", "static/vendor/pdfjs/pdf.worker.min.mjs"} {
		b, err := fs.ReadFile(Files, name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"`+version+`"`) {
			t.Errorf("%s is not pdf.js %s", name, version)
		}
	}
}
