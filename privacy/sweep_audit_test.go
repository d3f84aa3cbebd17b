package privacy

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/store"
)

func TestAuditTrailSweepKeepsItsWindow(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		f := setup(t, driver, func(p *EngineParams) { p.Policy.AuditTrail = Period{Months: 6} })
		for i, age := range []time.Duration{900 * day, 200 * day, 184*day + time.Hour, 182 * day, 10 * day, 200 * day} {
			require.NoError(t, f.st.RecordAudit(f.ctx, store.AuditEvent{At: testNow.Add(-age), Action: fmt.Sprintf("event-%d", i)}))
		}
		// 6 months before 15 June 2027 is 15 December 2026, 182 days: event-3 is just inside.
		plan, err := f.eng.Plan(f.ctx)
		require.NoError(t, err)
		rep, err := f.eng.Run(f.ctx)
		require.NoError(t, err)
		require.Equal(t, plan.Categories, rep.Categories)
		var audit CategoryReport
		for _, c := range rep.Categories {
			if c.Category == CategoryAuditTrail {
				audit = c
			}
		}
		require.Equal(t, "audit event older than 6 months", audit.Rule)
		require.EqualValues(t, 4, audit.Count)
		require.Equal(t, []string{"audit_events batch 1-2", "audit_events batch 3-6"}, audit.IDs)
		s := f.state()
		require.Equal(t, []string{"event-3 by nobody", "event-4 by nobody"}, s.Audit, "events inside the window stay")
		require.ElementsMatch(t, []string{
			"audit_trail|audit event older than 6 months|2|" + f.ledger.ObjectHash("audit_events batch 1-2"),
			"audit_trail|audit event older than 6 months|2|" + f.ledger.ObjectHash("audit_events batch 3-6"),
		}, s.Ledger, "one ledger entry per batch")
	})
}
