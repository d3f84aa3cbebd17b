package api_test

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"webinaire/api"
)

// openAPIDoc is the part of docs/openapi.yaml the tests read.
type openAPIDoc struct {
	OpenAPI string `yaml:"openapi"`
	Info    struct {
		Title string `yaml:"title"`
	} `yaml:"info"`
	Paths map[string]map[string]yaml.Node `yaml:"paths"`
}

// openAPIMethods are the keys of a path item that are operations.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z_][A-Za-z0-9_]*)`)

// documentedRoute tells whether a gin route belongs to the API that docs/openapi.yaml describes.
func documentedRoute(path string) bool {
	return strings.HasPrefix(path, "/api/v1/") || strings.HasPrefix(path, "/auth/") ||
		path == "/healthz" || path == "/readyz"
}

// TestOpenAPIDocumentsEveryRoute keeps docs/openapi.yaml and docs/api.md in step with the
// server: every route is documented, every documented operation exists, and every stable
// error code of the code is in the guide's table with its status.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	e := setup(t, "sqlite", options{})

	// The routes of the server, as "METHOD /openapi/{template}".
	var routes []string
	for _, r := range api.Routes(e.api) {
		method, path, ok := strings.Cut(r, " ")
		require.True(t, ok, "route %q", r)
		if !documentedRoute(path) {
			continue
		}
		routes = append(routes, method+" "+ginParam.ReplaceAllString(path, "{$1}"))
	}
	require.Contains(t, routes, "GET /api/v1/webinars/{id}", "the route list is read and converted")
	require.Contains(t, routes, "DELETE /api/v1/webinars/{id}/invitations/{invitation}")
	require.Contains(t, routes, "GET /healthz")

	// The operations of the document.
	raw, err := os.ReadFile("../docs/openapi.yaml")
	require.NoError(t, err)
	var doc openAPIDoc
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3.1."), "OpenAPI 3.1, got %q", doc.OpenAPI)
	require.Equal(t, "Webinaire API", doc.Info.Title)
	var documented []string
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(openAPIMethods, key) {
				documented = append(documented, strings.ToUpper(key)+" "+path)
			}
		}
	}
	slices.Sort(routes)
	slices.Sort(documented)
	for _, r := range routes {
		require.Contains(t, documented, r, "route %s is not in docs/openapi.yaml", r)
	}
	for _, d := range documented {
		require.Contains(t, routes, d, "docs/openapi.yaml documents %s, which the server does not serve", d)
	}

	// Every path template parameter is declared, on the path item or on each of its operations.
	var whole struct {
		Paths      map[string]map[string]any `yaml:"paths"`
		Components struct {
			Parameters map[string]map[string]any `yaml:"parameters"`
		} `yaml:"components"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &whole))
	inPath := func(params any) []string {
		var names []string
		list, _ := params.([]any)
		for _, p := range list {
			m, _ := p.(map[string]any)
			if ref, ok := m["$ref"].(string); ok {
				name, found := strings.CutPrefix(ref, "#/components/parameters/")
				require.True(t, found, "parameter reference %q", ref)
				m = whole.Components.Parameters[name]
				require.NotNil(t, m, "parameter reference %q resolves", ref)
			}
			if m["in"] == "path" {
				names = append(names, m["name"].(string))
			}
		}
		return names
	}
	template := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range whole.Paths {
		shared := inPath(item["parameters"])
		for key, op := range item {
			if !slices.Contains(openAPIMethods, key) {
				continue
			}
			opMap, _ := op.(map[string]any)
			declared := append(slices.Clone(shared), inPath(opMap["parameters"])...)
			var want []string
			for _, m := range template.FindAllStringSubmatch(path, -1) {
				want = append(want, m[1])
			}
			require.ElementsMatch(t, want, declared, "%s %s: path parameters", strings.ToUpper(key), path)
		}
	}

	// Every stable error code of the code, with its status, is in the table of docs/api.md.
	codes := problemCodes(t)
	require.Contains(t, codes, "validation", "the codes are found in the source")
	require.Contains(t, codes, "not_found")
	require.Contains(t, codes, "csrf")
	guide, err := os.ReadFile("../docs/api.md")
	require.NoError(t, err)
	table := map[string]int{}
	for _, m := range regexp.MustCompile("(?m)^\\|\\s*`([a-z_]+)`\\s*\\|\\s*(\\d{3})\\s*\\|").FindAllStringSubmatch(string(guide), -1) {
		status, err := strconv.Atoi(m[2])
		require.NoError(t, err)
		table[m[1]] = status
	}
	for code, status := range codes {
		got, ok := table[code]
		require.True(t, ok, "error code %q is not in the table of docs/api.md", code)
		require.Equal(t, status, got, "status of error code %q in docs/api.md", code)
	}
	for code := range table {
		require.Contains(t, codes, code, "docs/api.md lists error code %q, which the code never uses", code)
	}
}

// problemCodes finds the stable error codes in the package's source, with their status:
// every problem(http.StatusXxx, "code", ...), the errXxx variables included.
func problemCodes(t *testing.T) map[string]int {
	t.Helper()
	statusOf := map[string]int{}
	for code := 100; code < 600; code++ {
		if text := http.StatusText(code); text != "" {
			statusOf["Status"+strings.NewReplacer(" ", "", "-", "", "'", "").Replace(text)] = code
		}
	}
	call := regexp.MustCompile(`problem\(\s*http\.(Status\w+),\s*"([a-z_]+)"`)
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	codes := map[string]int{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range call.FindAllStringSubmatch(string(src), -1) {
			status, ok := statusOf[m[1]]
			require.True(t, ok, "%s: unknown status constant http.%s", f, m[1])
			if prev, seen := codes[m[2]]; seen {
				require.Equal(t, prev, status, "%s: error code %q is used with two statuses", f, m[2])
			}
			codes[m[2]] = status
		}
	}
	// A problem built by hand, not through problem(...), would escape the search above.
	literal := regexp.MustCompile(`Code:\s*"([a-z_]+)"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
			require.Failf(t, "problem built by hand", "%s: code %q; make it with problem(...) so that it is documented", f, m[1])
		}
	}
	return codes
}
