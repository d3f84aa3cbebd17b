package privacy

import (
	"context"
	"fmt"
	"slices"
	"time"

	"webinaire/store"
)

// auditTrailSweep deletes audit events older than the policy's period, a batch at a time in
// the order of their ids, with one ledger entry per batch.
type auditTrailSweep struct {
	store  *store.Store
	ledger *Ledger
	period Period
}

func (s *auditTrailSweep) Name() string     { return "audit_trail" }
func (s *auditTrailSweep) Category() string { return CategoryAuditTrail }

func (s *auditTrailSweep) rule() string { return "audit event older than " + s.period.String() }

func (s *auditTrailSweep) Overdue(ctx context.Context, now time.Time) (int64, error) {
	return s.store.CountOldAuditEvents(ctx, s.period.Cutoff(now))
}

func (s *auditTrailSweep) Sweep(ctx context.Context, p *Pass) error {
	cutoff := s.period.Cutoff(p.Now)
	after := func(k *int64) int64 {
		if k == nil {
			return 0
		}
		return *k
	}
	return batches[int64]{
		sweep: s.Name(), step: "rows", category: CategoryAuditTrail, rule: s.rule(), name: auditBatchName,
		find: func(ctx context.Context, k *int64, limit int) ([]int64, error) {
			return s.store.OldAuditEvents(ctx, cutoff, after(k), limit)
		},
		delete: func(ctx context.Context, p *Pass, k *int64, batch []int64) ([]int64, error) {
			var deleted []int64
			err := s.store.InTx(ctx, func(tx *store.Store) error {
				var err error
				if deleted, err = tx.DeleteOldAuditEvents(ctx, after(k), batch[len(batch)-1], cutoff); err != nil || len(deleted) == 0 {
					return err
				}
				return s.ledger.Record(ctx, tx, Entry{
					Rule: s.rule(), Category: CategoryAuditTrail, ObjectID: auditBatchName(deleted)[0], Count: int64(len(deleted)),
					Stores: []string{StoreDatabase}, At: p.Now,
				})
			})
			if err != nil {
				return nil, fmt.Errorf("delete rows: %w", err)
			}
			return deleted, nil
		},
	}.run(ctx, p)
}

// auditBatchName names a batch of audit events in the ledger by its lowest and highest id.
func auditBatchName(ids []int64) []string {
	return []string{fmt.Sprintf("audit_events batch %d-%d", slices.Min(ids), slices.Max(ids))}
}
