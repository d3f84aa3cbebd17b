package privacy

import (
	"context"
	"fmt"
	"slices"
	"time"

	"webinaire/store"
)

// connectionLogSweep deletes connection-log entries older than the policy's period.
//
// On PostgreSQL the log has one partition a month: a partition whose range ends before the
// cutoff is dropped whole, counted, recorded and dropped in one transaction; the rows before
// the cutoff in the partition that straddles it go by batches. On SQLite everything goes by
// batches. Each batch is one transaction with its ledger entry.
type connectionLogSweep struct {
	store  *store.Store
	ledger *Ledger
	period Period
}

func (s *connectionLogSweep) Name() string     { return "connection_log" }
func (s *connectionLogSweep) Category() string { return CategoryConnectionLog }

func (s *connectionLogSweep) rule() string {
	return "connection log entry older than " + s.period.String()
}

func (s *connectionLogSweep) Overdue(ctx context.Context, now time.Time) (int64, error) {
	return s.store.CountOldConnections(ctx, s.period.Cutoff(now))
}

func (s *connectionLogSweep) Sweep(ctx context.Context, p *Pass) error {
	cutoff := s.period.Cutoff(p.Now)
	p.Found(CategoryConnectionLog, s.rule(), 0)
	tables := []string{""} // the whole log
	if s.store.Driver() == store.DriverPostgres {
		parts, err := s.store.LogPartitions(ctx)
		if err != nil {
			return err
		}
		tables = nil
		for _, part := range parts {
			switch {
			case part.To != nil && !part.To.After(cutoff):
				if err := s.dropPartition(ctx, p, part.Name); err != nil {
					return err
				}
			case part.From == nil || part.From.Before(cutoff):
				// Straddles the cutoff, or has open bounds: by rows, from this partition
				// only, so that a batch never waits on a partition being dropped.
				tables = append(tables, part.Name)
			}
		}
	}
	for _, table := range tables {
		if err := s.deleteRows(ctx, p, table, cutoff); err != nil {
			return err
		}
	}
	return nil
}

// dropPartition drops a partition entirely past the cutoff, with its ledger entry.
func (s *connectionLogSweep) dropPartition(ctx context.Context, p *Pass, name string) error {
	if p.DryRun {
		n, err := s.store.CountLogPartition(ctx, name)
		if err != nil {
			return err
		}
		p.Found(CategoryConnectionLog, s.rule(), n, name)
		return nil
	}
	dropped, n, err := s.store.DropLogPartition(ctx, name, func(tx *store.Store, rows int64) error {
		return s.ledger.Record(ctx, tx, Entry{
			Rule: s.rule(), Category: CategoryConnectionLog, ObjectID: name, Count: rows,
			Stores: []string{StoreDatabase}, At: p.Now,
		})
	})
	if err != nil {
		return fmt.Errorf("drop partition %s: %w", name, err)
	}
	if !dropped {
		return nil // another run dropped it first
	}
	p.Found(CategoryConnectionLog, s.rule(), n, name)
	return p.Step(ctx, s.Name(), "partitions")
}

// deleteRows deletes the entries of table (a partition, or "" for the whole log) before the
// cutoff, a batch at a time, in the order of (at, id).
func (s *connectionLogSweep) deleteRows(ctx context.Context, p *Pass, table string, cutoff time.Time) error {
	return batches[store.ConnectionKey]{
		sweep: s.Name(), step: "rows", category: CategoryConnectionLog, rule: s.rule(),
		find: func(ctx context.Context, after *store.ConnectionKey, limit int) ([]store.ConnectionKey, error) {
			return s.store.OldConnections(ctx, table, cutoff, after, limit)
		},
		delete: func(ctx context.Context, p *Pass, _ *store.ConnectionKey, _ []store.ConnectionKey) ([]store.ConnectionKey, error) {
			var ids []int64
			err := s.store.InTx(ctx, func(tx *store.Store) error {
				var err error
				if ids, err = tx.DeleteOldConnections(ctx, table, cutoff, p.BatchSize); err != nil || len(ids) == 0 {
					return err
				}
				return s.ledger.Record(ctx, tx, Entry{
					Rule: s.rule(), Category: CategoryConnectionLog, ObjectID: batchName(ids), Count: int64(len(ids)),
					Stores: []string{StoreDatabase}, At: p.Now,
				})
			})
			if err != nil {
				return nil, fmt.Errorf("delete rows: %w", err)
			}
			deleted := make([]store.ConnectionKey, len(ids))
			for i, id := range ids {
				deleted[i].ID = id
			}
			return deleted, nil
		},
		name: func(keys []store.ConnectionKey) []string {
			ids := make([]int64, len(keys))
			for i, k := range keys {
				ids[i] = k.ID
			}
			return []string{batchName(ids)}
		},
	}.run(ctx, p)
}

// batchName names a batch of connection-log entries in the ledger by its lowest and highest id.
func batchName(ids []int64) string {
	return fmt.Sprintf("connection_log batch %d-%d", slices.Min(ids), slices.Max(ids))
}
