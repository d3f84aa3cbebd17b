package privacy

import (
	"context"
	"time"

	"webinaire/store"
)

// slidesSweep deletes the slides attached to webinars past their expiry (the webinar's
// date plus the policy's period, fixed on the row when they were attached), each with its
// ledger entry in the transaction that deletes it.
type slidesSweep struct {
	store  *store.Store
	ledger *Ledger
	period Period
}

func (s *slidesSweep) Name() string     { return "slides" }
func (s *slidesSweep) Category() string { return CategorySlides }

func (s *slidesSweep) rule() string { return "slides " + s.period.String() + " after the webinar" }

func (s *slidesSweep) Overdue(ctx context.Context, now time.Time) (int64, error) {
	return s.store.CountExpiredSlides(ctx, now)
}

func (s *slidesSweep) Sweep(ctx context.Context, p *Pass) error {
	return batches[string]{
		sweep: s.Name(), step: "rows", category: CategorySlides, rule: s.rule(), name: ids,
		find: func(ctx context.Context, after *string, limit int) ([]string, error) {
			return s.store.ExpiredSlides(ctx, p.Now, orEmpty(after), limit)
		},
		delete: func(ctx context.Context, p *Pass, _ *string, batch []string) ([]string, error) {
			var deleted []string
			err := s.store.InTx(ctx, func(tx *store.Store) error {
				deleted = deleted[:0]
				for _, id := range batch {
					// Still expired: slides attached again since stay.
					gone, err := tx.DeleteExpiredSlides(ctx, id, p.Now)
					if err != nil || !gone {
						if err != nil {
							return err
						}
						continue
					}
					deleted = append(deleted, id)
					if err := s.ledger.Record(ctx, tx, Entry{
						Rule: s.rule(), Category: CategorySlides, ObjectID: id, Count: 1, Stores: []string{StoreDatabase}, At: p.Now,
					}); err != nil {
						return err
					}
				}
				return nil
			})
			return deleted, err
		},
	}.run(ctx, p)
}
