package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"webinaire/privacy"
)

// getRetention is the administrator's view of the retention jobs: the last runs that
// deleted (dry runs left out) and what they deleted, what a run would delete now, and the overdue objects (always zero when the
// sweeps do their work).
func (s *Server) getRetention(c *gin.Context) {
	ctx := c.Request.Context()
	all, err := s.p.Retention.Runs(ctx, 100)
	if err != nil {
		s.fail(c, err)
		return
	}
	// The dry runs are this page's own looks ahead; the runs that deleted are what matters.
	runs := make([]privacy.RunRecord, 0, 20)
	for _, r := range all {
		if !r.DryRun && len(runs) < 20 {
			runs = append(runs, r)
		}
	}
	next, err := s.p.Retention.Plan(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	overdue, err := s.p.Retention.Overdue(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"runs": runs, "next": next, "overdue": overdue, "policy": s.policyJSON()})
}

// policyJSON is the policy's periods by category, for the administrator's page.
func (s *Server) policyJSON() map[string]string {
	out := make(map[string]string)
	for _, c := range s.p.Policy.Categories() {
		out[c.Key] = c.Kept.EN
	}
	return out
}

// runRetention runs the sweeps now, as the schedule would.
func (s *Server) runRetention(c *gin.Context) {
	sess, _ := sessionOf(c)
	ctx := c.Request.Context()
	report, err := s.p.Retention.Run(ctx)
	if errors.Is(err, privacy.ErrBusy) {
		writeProblem(c, problem(http.StatusConflict, "retention_busy", "a retention run is already in progress; try again when it has finished"))
		return
	} else if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.p.Store.RecordAudit(ctx, s.auditEvent(sess.OrganizerID, "retention.run", "retention_run", "", report.Counts())); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, report)
}

// retentionCollector exposes the retention jobs to Prometheus, read from the database
// (about eight queries, some of which sum over the whole ledger) at most once per cache
// period of the server's clock: counts only, never an id or an address. The orphans are
// counted by listing the recording storage (one request per page of recordings on S3).
type retentionCollector struct {
	s         *Server
	cache     time.Duration
	lastOK    *prometheus.Desc
	deleted   *prometheus.Desc
	overdue   *prometheus.Desc
	orphans   *prometheus.Desc
	scrapeErr *prometheus.Desc

	// mu is held while the figures are read: one scrape reads them, those that come
	// meanwhile wait and get the same.
	mu      sync.Mutex
	readAt  time.Time
	figures []prometheus.Metric
}

func newRetentionCollector(s *Server, cache time.Duration) *retentionCollector {
	return &retentionCollector{
		s:       s,
		cache:   cache,
		lastOK:  prometheus.NewDesc("webinaire_retention_last_success_timestamp_seconds", "When the last retention run that deleted (not a dry run) finished successfully.", nil, nil),
		deleted: prometheus.NewDesc("webinaire_retention_deleted_objects_total", "Objects deleted and recorded in the deletion ledger, by category.", []string{"category"}, nil),
		overdue: prometheus.NewDesc("webinaire_retention_overdue_objects", "Objects past their retention period now, by category; anything but 0 is a failure.", []string{"category"}, nil),
		orphans: prometheus.NewDesc("webinaire_retention_orphans", "Recordings whose files no row names, within their grace period or past it (kind files), "+
			"and recording rows whose files are gone (kind rows), as the recording storage and the database say now.", []string{"kind"}, nil),
		scrapeErr: prometheus.NewDesc("webinaire_retention_scrape_error", "1 when the retention figures could not be read from the database.", nil, nil),
	}
}

// Describe sends the descriptions of the metrics.
func (r *retentionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- r.lastOK
	ch <- r.deleted
	ch <- r.overdue
	ch <- r.orphans
	ch <- r.scrapeErr
}

// Collect sends the figures, read again once they are older than the cache period.
func (r *retentionCollector) Collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	now := r.s.now()
	if r.figures == nil || now.Sub(r.readAt) >= r.cache || now.Before(r.readAt) {
		r.figures, r.readAt = r.read(), now
	}
	figures := r.figures
	r.mu.Unlock()
	for _, m := range figures {
		ch <- m
	}
}

// read reads the figures from the database.
func (r *retentionCollector) read() []prometheus.Metric {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []prometheus.Metric
	failed := 0.0
	if runs, err := r.s.p.Retention.Runs(ctx, 200); err != nil {
		failed = 1
	} else {
		for _, run := range runs {
			if !run.DryRun && run.Status == "ok" && run.FinishedAt != nil {
				out = append(out, prometheus.MustNewConstMetric(r.lastOK, prometheus.GaugeValue, float64(run.FinishedAt.Unix())))
				break
			}
		}
	}
	categories := []string{privacy.CategoryAccounts, privacy.CategoryRecordings, privacy.CategoryConnectionLog, privacy.CategoryAuditTrail, privacy.CategorySessions}
	if totals, err := r.s.p.Store.LedgerTotals(ctx); err != nil {
		failed = 1
	} else {
		for _, c := range categories {
			out = append(out, prometheus.MustNewConstMetric(r.deleted, prometheus.CounterValue, float64(totals[c]), c))
		}
	}
	if overdue, err := r.s.p.Retention.Overdue(ctx); err != nil {
		failed = 1
	} else {
		for _, c := range categories {
			out = append(out, prometheus.MustNewConstMetric(r.overdue, prometheus.GaugeValue, float64(overdue[c]), c))
		}
	}
	if files, rows, err := r.s.p.Retention.Orphans(ctx); err != nil {
		failed = 1
	} else {
		out = append(out, prometheus.MustNewConstMetric(r.orphans, prometheus.GaugeValue, float64(files), "files"),
			prometheus.MustNewConstMetric(r.orphans, prometheus.GaugeValue, float64(rows), "rows"))
	}
	return append(out, prometheus.MustNewConstMetric(r.scrapeErr, prometheus.GaugeValue, failed))
}

// metricsHandler serves the metrics from a registry of this server's own (no global state).
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newRetentionCollector(s, s.p.MetricsCache), s.sessionsRefused, newPanicCollector(s.p.SFU.Panics()), newForwardCollector(s.p.SFU),
		newSendCollector(s.p.SFU), newCensusCollector(s.p.SFU), newFeedbackCollector(s.p.SFU),
		newPlacementCollector(s.p.Cluster), s.joinDuration, s.castTrouble,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "webinaire_broadcasts", Help: "Live broadcasts this node runs now."}, s.broadcastsRunning))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

var errMetricsToken = problem(http.StatusUnauthorized, "invalid_token", "send the metrics token as Authorization: Bearer")

// MetricsHandler serves /metrics, for Prometheus: on the API's address when
// Params.MetricsToken is set, with that token; on an address of its own (serve's
// metrics.listen), with the token when it is set.
func (s *Server) MetricsHandler() http.Handler {
	want := sha256.Sum256([]byte(s.p.MetricsToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.p.MetricsToken != "" {
			token, _ := bearerToken(r)
			got := sha256.Sum256([]byte(token))
			if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				setSecurityHeaders(w.Header())
				w.Header().Set("WWW-Authenticate", `Bearer realm="webinaire-metrics"`)
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusUnauthorized)
				_ = json.NewEncoder(w).Encode(errMetricsToken)
				return
			}
		}
		s.metrics.ServeHTTP(w, r)
	})
}

// DefaultMetricsCache is Params.MetricsCache when it is 0.
const DefaultMetricsCache = 30 * time.Second
