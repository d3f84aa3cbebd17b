package privacy

import (
	"context"
	"fmt"
	"slices"
	"time"

	"webinaire/store"
)

// DefaultOrphanGrace is EngineParams.OrphanGrace when it is 0.
const DefaultOrphanGrace = 24 * time.Hour

// orphanSweep reconciles the recording storage with the recording rows, a page of the
// storage's listing at a time:
//   - the files of a recording that no row names (a crash between the deletion of a row's
//     files and of the row, a database restored from an older dump, an upload that came
//     after its webinar was deleted) are deleted once they have not changed for the grace
//     period, with one ledger entry each. Each page goes in three steps: mark (in
//     recording_orphans), objects (delete the files), rows (delete the marks with their
//     entries, in one transaction); marks that a stopped run left are finished first.
//   - a row whose files are gone is marked (files_missing_at), not deleted: the recording
//     is its organizer's, who sees that its files are lost and deletes it. Only rows that
//     ended (or started, when they have not ended) longer than the grace period ago are
//     looked at, so that a recording being written is left alone. The mark goes if the
//     files come back (a bucket restored). With a node (a cluster whose nodes keep their
//     recordings each in its own folder), only the rows of that node's recordings, and of
//     those of no node, are looked at: another node's files are in its folder, not here.
//
// The grace period is measured from the files' modification times (the file system's or
// the S3 server's clock) to the database's clock.
type orphanSweep struct {
	store  *store.Store
	ledger *Ledger
	files  RecordingStorage
	grace  time.Duration
	// node is the node whose folder files is; empty when files holds every node's
	// recordings.
	node string
	// batch is the page of the listing Overdue counts by.
	batch int
}

func (s *orphanSweep) Name() string     { return "orphans" }
func (s *orphanSweep) Category() string { return CategoryRecordings }

func (s *orphanSweep) rule() string {
	return "recording files that no recording names, " + shortDuration(s.grace) + " after their last change"
}

func (s *orphanSweep) missingRule() string {
	return "recording files gone, " + shortDuration(s.grace) + " after the recording"
}

// Overdue counts the orphans past their grace period, listing the whole storage.
func (s *orphanSweep) Overdue(ctx context.Context, now time.Time) (int64, error) {
	n, _, err := s.count(ctx, now, s.batch)
	return n, err
}

// count lists the storage by pages of batch and returns the orphans past their grace
// period at now, and all of them.
func (s *orphanSweep) count(ctx context.Context, now time.Time, batch int) (overdue, all int64, err error) {
	for after := ""; ; {
		stored, err := s.files.Recordings(ctx, after, batch)
		if err != nil {
			return 0, 0, err
		}
		orphans, err := s.orphans(ctx, stored)
		if err != nil {
			return 0, 0, err
		}
		all += int64(len(orphans))
		old, err := s.pastGrace(ctx, orphans, now)
		if err != nil {
			return 0, 0, err
		}
		overdue += int64(len(old))
		if len(stored) < batch {
			return overdue, all, nil
		}
		after = stored[len(stored)-1]
	}
}

// orphans returns those of the stored ids that neither a row nor an orphan's mark names.
func (s *orphanSweep) orphans(ctx context.Context, stored []string) ([]string, error) {
	known, err := s.store.KnownRecordingIDs(ctx, stored)
	if err != nil {
		return nil, err
	}
	slices.Sort(known) // in Go's order, whatever the database's collation
	var out []string
	for _, id := range stored {
		if _, found := slices.BinarySearch(known, id); !found {
			out = append(out, id)
		}
	}
	return out, nil
}

// pastGrace returns those of ids whose files last changed at or before now less the grace.
func (s *orphanSweep) pastGrace(ctx context.Context, ids []string, now time.Time) ([]string, error) {
	var out []string
	for _, id := range ids {
		mod, err := s.files.Modified(ctx, id)
		if err != nil {
			return nil, err
		}
		if !mod.IsZero() && !mod.After(now.Add(-s.grace)) {
			out = append(out, id)
		}
	}
	return out, nil
}

func (s *orphanSweep) Sweep(ctx context.Context, p *Pass) error {
	p.Found(CategoryRecordings, s.rule(), 0)
	p.Marked(CategoryRecordings, s.missingRule(), 0)
	// Marks a stopped run left: their files are (being) deleted.
	for after := ""; ; {
		ids, err := s.store.Orphans(ctx, after, p.BatchSize)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			break
		}
		if err := s.purge(ctx, p, ids); err != nil {
			return err
		}
		if len(ids) < p.BatchSize {
			break
		}
		after = ids[len(ids)-1]
	}
	for after := ""; ; {
		stored, err := s.files.Recordings(ctx, after, p.BatchSize)
		if err != nil {
			return fmt.Errorf("list recording files: %w", err)
		}
		orphans, err := s.orphans(ctx, stored)
		if err != nil {
			return err
		}
		old, err := s.pastGrace(ctx, orphans, p.Now)
		if err != nil {
			return fmt.Errorf("recording files modified: %w", err)
		}
		if len(old) > 0 && !p.DryRun {
			if err := s.store.MarkOrphans(ctx, old, p.Now); err != nil {
				return err
			}
			if err := p.Step(ctx, s.Name(), "mark"); err != nil {
				return err
			}
		}
		if err := s.purge(ctx, p, old); err != nil {
			return err
		}
		// The rows between the last page and this one whose files are not in it; after
		// the last page, every row left.
		upTo := ""
		if len(stored) == p.BatchSize {
			upTo = stored[len(stored)-1]
		}
		if err := s.missing(ctx, p, after, upTo, stored); err != nil {
			return err
		}
		if upTo == "" {
			return nil
		}
		after = upTo
	}
}

// purge deletes the files of marked orphans, then their marks with their ledger entries;
// a dry run only names them.
func (s *orphanSweep) purge(ctx context.Context, p *Pass, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if p.DryRun {
		p.Found(CategoryRecordings, s.rule(), int64(len(ids)), ids...)
		return nil
	}
	deleted, err := purgeRecordings(ctx, p, recordingPurge{
		store: s.store, ledger: s.ledger, files: s.files, sweep: s.Name(), rule: s.rule(),
		stores: []string{StoreFiles},
		gone:   func(tx *store.Store, id string) (bool, error) { return tx.ForgetOrphan(ctx, id) },
	}, ids)
	if err != nil {
		return err
	}
	p.Found(CategoryRecordings, s.rule(), int64(len(deleted)), deleted...)
	return p.Step(ctx, s.Name(), "rows")
}

// missing marks the rows with ids after after and up to upTo (all after after when upTo is
// empty) whose files are not among stored, and clears the mark of those whose files are.
func (s *orphanSweep) missing(ctx context.Context, p *Pass, after, upTo string, stored []string) error {
	cutoff := p.Now.Add(-s.grace)
	for {
		rows, err := s.store.RecordingsBetween(ctx, s.node, after, upTo, p.BatchSize)
		if err != nil {
			return err
		}
		var gone, back []string
		for _, r := range rows {
			_, has := slices.BinarySearch(stored, r.ID)
			end := r.StartedAt
			if r.EndedAt != nil {
				end = *r.EndedAt
			}
			switch {
			case !has && r.FilesMissingAt == nil && !end.After(cutoff):
				gone = append(gone, r.ID)
			case has && r.FilesMissingAt != nil:
				back = append(back, r.ID)
			}
		}
		if p.DryRun {
			p.Marked(CategoryRecordings, s.missingRule(), int64(len(gone)), gone...)
		} else if len(gone) > 0 || len(back) > 0 {
			var marked []string
			err := s.store.InTx(ctx, func(tx *store.Store) error {
				marked = marked[:0]
				for _, id := range gone {
					ok, err := tx.MarkFilesMissing(ctx, id, p.Now, cutoff)
					if err != nil {
						return err
					}
					if ok {
						marked = append(marked, id)
					}
				}
				for _, id := range back {
					if err := tx.ClearFilesMissing(ctx, id); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("mark files missing: %w", err)
			}
			p.Marked(CategoryRecordings, s.missingRule(), int64(len(marked)), marked...)
			if err := p.Step(ctx, s.Name(), "missing"); err != nil {
				return err
			}
		}
		if len(rows) < p.BatchSize {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}
