package api_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// dashboard is what the test reads of deploy/grafana/webinaire.json.
type dashboard struct {
	Title  string `json:"title"`
	Panels []struct {
		ID      int    `json:"id"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

var (
	// selectorName is a metric name followed by its label matchers: the dashboard writes
	// every metric with a selector on the node variable, so each is found this way.
	selectorName = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{`)
	// labelValuesName is the metric a variable's label_values query reads.
	labelValuesName = regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,`)
)

// exposedNames are the names of the samples a /metrics text holds.
func exposedNames(text string) map[string]bool {
	names := map[string]bool{}
	for line := range strings.Lines(text) {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

// Every metric the Grafana dashboard queries is one a node exposes, and every query
// reads one, filtered by the node variable.
func TestDashboardQueriesExposedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../deploy/grafana/webinaire.json")
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(raw, &d))
	require.NotEmpty(t, d.Title)
	require.NotEmpty(t, d.Panels)

	e := setup(t, "sqlite", options{metricsToken: metricsToken})
	exposed := exposedNames(metricsText(t, e))
	ids := map[int]bool{}
	for _, p := range d.Panels {
		require.False(t, ids[p.ID], "panel id %d twice", p.ID)
		ids[p.ID] = true
		require.NotEmpty(t, p.Targets, "panel %q queries nothing", p.Title)
		for _, tg := range p.Targets {
			names := selectorName.FindAllStringSubmatch(tg.Expr, -1)
			require.NotEmpty(t, names, "panel %q: %q selects no metric", p.Title, tg.Expr)
			for _, n := range names {
				require.True(t, exposed[n[1]], "panel %q queries %s, which /metrics does not expose", p.Title, n[1])
			}
			require.Contains(t, tg.Expr, `instance=~"$instance"`, "panel %q: every query follows the node variable", p.Title)
		}
	}
	for _, v := range d.Templating.List {
		if m := labelValuesName.FindStringSubmatch(v.Definition); m != nil {
			require.True(t, exposed[m[1]], "variable %q reads %s, which /metrics does not expose", v.Name, m[1])
		}
	}
}
