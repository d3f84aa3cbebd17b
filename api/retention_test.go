package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/api"
	"webinaire/store"
)

// metricsToken is the bearer token of /metrics in the tests that read it.
const metricsToken = "scrape-0123456789abcdef"

// scrape asks for /metrics with the token given, none when empty.
func scrape(t *testing.T, e *env, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", e.base+"/metrics", nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

func metricsText(t *testing.T, e *env) string {
	t.Helper()
	resp := scrape(t, e, metricsToken)
	body := readBody(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return body
}

// TestMetricsNeedTheirToken: /metrics is served on the API's address only with a token,
// and only to its bearer.
func TestMetricsNeedTheirToken(t *testing.T) {
	e := setup(t, "sqlite", options{})
	resp := scrape(t, e, "")
	require.Equal(t, "not_found", problemOf(t, resp).Code, "no token configured: no /metrics here")

	e = setup(t, "sqlite", options{metricsToken: metricsToken})
	for _, token := range []string{"", "scrape-0123456789abcdeF", metricsToken + "x"} {
		resp := scrape(t, e, token)
		require.Equal(t, "invalid_token", problemOf(t, resp).Code, "token %q", token)
		require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")
	}
	require.Contains(t, metricsText(t, e), "webinaire_retention_scrape_error 0")
}

// TestMetricsReadTheDatabaseOncePerCachePeriod: the figures read from the database are
// those of the last read until the cache period has passed on the server's clock.
func TestMetricsReadTheDatabaseOncePerCachePeriod(t *testing.T) {
	e := setup(t, "sqlite", options{metricsToken: metricsToken})
	const overdue = `webinaire_retention_overdue_objects{category="connection_log"} `
	require.Contains(t, metricsText(t, e), overdue+"0")
	ctx := context.Background()
	dbNow, err := e.store.Now(ctx)
	require.NoError(t, err)
	require.NoError(t, e.store.LogConnection(ctx, store.ConnectionEvent{
		At: dbNow.AddDate(0, 0, -400), ActorKind: store.ActorGuest, ActorID: "guest-1", IP: "192.0.2.77", Action: "join", Protocol: "https",
	}))
	require.Contains(t, metricsText(t, e), overdue+"0", "read again before the period is over")
	e.clock.Advance(api.DefaultMetricsCache - time.Second)
	require.Contains(t, metricsText(t, e), overdue+"0")
	e.clock.Advance(time.Second)
	require.Contains(t, metricsText(t, e), overdue+"1", "read again once it is over")
}

func TestRetentionForAdministratorsAndMetrics(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		e := setup(t, driver, options{metricsToken: metricsToken})
		ctx := context.Background()
		admin := e.browser()
		admin.Login(userAdmin)

		// A connection-log entry from a dump of 400 days ago: past its 12 months.
		dbNow, err := e.store.Now(ctx)
		require.NoError(t, err)
		require.NoError(t, e.store.LogConnection(ctx, store.ConnectionEvent{
			At: dbNow.AddDate(0, 0, -400), ActorKind: store.ActorGuest, ActorID: "guest-1", DisplayName: "Invité",
			IP: "192.0.2.77", Port: 5555, Action: "join", Protocol: "https",
		}))
		// And an audit event of the same age, past the audit trail's 12 months.
		require.NoError(t, e.store.RecordAudit(ctx, store.AuditEvent{At: dbNow.AddDate(0, 0, -400), Action: "session.end", ObjectType: "webinar"}))

		m := metricsText(t, e)
		require.Contains(t, m, `webinaire_retention_overdue_objects{category="connection_log"} 1`)
		require.Contains(t, m, `webinaire_retention_overdue_objects{category="audit_trail"} 1`)
		require.NotContains(t, m, "webinaire_retention_last_success_timestamp_seconds ", "no successful run yet")

		resp := admin.Do("GET", "/api/v1/admin/retention", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var view struct {
			Next struct {
				DryRun     bool `json:"dry_run"`
				Categories []struct {
					Category string
					Count    int64
				}
			}
			Overdue map[string]int64
			Policy  map[string]string
		}
		decode(t, resp, &view)
		require.True(t, view.Next.DryRun)
		require.EqualValues(t, 1, view.Overdue["connection_log"])
		require.EqualValues(t, 1, view.Overdue["audit_trail"])
		require.Equal(t, "12 months", view.Policy["connection_log"])
		var planned int64
		for _, c := range view.Next.Categories {
			if c.Category == "connection_log" {
				planned += c.Count
			}
		}
		require.EqualValues(t, 1, planned, "the plan shows what the run will delete")

		resp = admin.Do("POST", "/api/v1/admin/retention/run", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp.Body.Close()

		resp = admin.Do("GET", "/api/v1/admin/retention", nil, nil)
		var after struct {
			Runs []struct {
				DryRun bool `json:"dry_run"`
				Status string
				Counts map[string]int64
			}
		}
		decode(t, resp, &after)
		require.Len(t, after.Runs, 1, "the page's own dry runs are not listed")
		require.False(t, after.Runs[0].DryRun)
		require.Equal(t, "ok", after.Runs[0].Status)
		require.EqualValues(t, 1, after.Runs[0].Counts["connection_log"])

		e.clock.Advance(api.DefaultMetricsCache) // past the figures read before the run
		m = metricsText(t, e)
		require.Contains(t, m, `webinaire_retention_overdue_objects{category="connection_log"} 0`)
		require.Contains(t, m, `webinaire_retention_deleted_objects_total{category="connection_log"} 1`)
		require.Contains(t, m, `webinaire_retention_overdue_objects{category="audit_trail"} 0`)
		require.Contains(t, m, `webinaire_retention_deleted_objects_total{category="audit_trail"} 1`)
		require.Contains(t, m, "webinaire_retention_last_success_timestamp_seconds ")
		require.Contains(t, m, "webinaire_retention_scrape_error 0")
		for _, leak := range []string{"192.0.2.77", "127.0.0.1", "@example.org", "guest-1"} {
			require.NotContains(t, m, leak, "no personal data in metrics")
		}
		log, err := e.store.ConnectionLog(ctx, store.ConnectionFilter{IP: "192.0.2.77"})
		require.NoError(t, err)
		require.Empty(t, log)

		events, err := e.store.AuditEvents(ctx, 1)
		require.NoError(t, err)
		require.Equal(t, "retention.run", events[0].Action)
		require.True(t, strings.Contains(events[0].Detail, `"connection_log":1`), events[0].Detail)
	})
}
