package privacy

import (
	"context"
	"fmt"
	"slices"
	"time"

	"webinaire/store"
)

// accountSweep deletes organizer accounts inactive for longer than the policy's period, with
// their webinars, invitations and sessions. Restricted accounts are never touched; the
// connection-log entries of a deleted account stay until their own period is over.
//
// Each batch goes in three steps: mark the accounts (purge_marked_at), delete what they own
// outside the database, delete their rows with one ledger entry each. Activity between the
// mark and the delete clears the mark and saves the account.
type accountSweep struct {
	store  *store.Store
	ledger *Ledger
	period Period
	files  RecordingFiles // nil: no recordings to delete
}

func (s *accountSweep) Name() string     { return "accounts" }
func (s *accountSweep) Category() string { return CategoryAccounts }

func (s *accountSweep) rule() string { return "account inactive for " + s.period.String() }

func (s *accountSweep) Overdue(ctx context.Context, now time.Time) (int64, error) {
	return s.store.CountInactiveOrganizers(ctx, s.period.Cutoff(now))
}

func (s *accountSweep) Sweep(ctx context.Context, p *Pass) error {
	cutoff := s.period.Cutoff(p.Now)
	return batches[string]{
		sweep: s.Name(), step: "rows", category: CategoryAccounts, rule: s.rule(), name: ids,
		find: func(ctx context.Context, after *string, limit int) ([]string, error) {
			return s.store.InactiveOrganizers(ctx, cutoff, orEmpty(after), limit)
		},
		delete: func(ctx context.Context, p *Pass, after *string, batch []string) ([]string, error) {
			return s.purge(ctx, p, cutoff, orEmpty(after), batch[len(batch)-1])
		},
	}.run(ctx, p)
}

// purge deletes the inactive accounts with ids in (after, last] and returns their ids.
func (s *accountSweep) purge(ctx context.Context, p *Pass, cutoff time.Time, after, last string) ([]string, error) {
	marked, err := s.store.MarkInactiveOrganizers(ctx, after, last, cutoff, p.Now)
	if err != nil {
		return nil, fmt.Errorf("mark: %w", err)
	}
	if err := p.Step(ctx, s.Name(), "mark"); err != nil {
		return nil, err
	}
	left, err := s.deleteObjects(ctx, marked)
	if err != nil {
		return nil, fmt.Errorf("delete objects: %w", err)
	}
	if len(left) > 0 {
		// Kept until their recordings' files can go: the next run marks them again.
		if err := s.store.UnmarkOrganizers(ctx, left); err != nil {
			return nil, fmt.Errorf("unmark: %w", err)
		}
		p.Left(CategoryAccounts, unreachableReason, int64(len(left)), left...)
	}
	if err := p.Step(ctx, s.Name(), "objects"); err != nil {
		return nil, err
	}
	var deleted []string
	err = s.store.InTx(ctx, func(tx *store.Store) error {
		var err error
		if deleted, err = tx.DeleteMarkedOrganizers(ctx, after, last, cutoff); err != nil {
			return err
		}
		for _, id := range deleted {
			if err := tx.PseudonymiseAuditEvents(ctx, id, s.ledger.ObjectHash(id)); err != nil {
				return err
			}
			err := s.ledger.Record(ctx, tx, Entry{
				Rule: s.rule(), Category: CategoryAccounts, ObjectID: id, Count: 1,
				Stores: s.stores(), At: p.Now,
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete rows: %w", err)
	}
	return deleted, nil
}

// deleteObjects deletes what the marked accounts own outside the database: the files of
// their recordings, before the rows that name them. Deleting a file that is already gone
// is not an error, so that a run that crashed after this step can do it again. It returns
// the accounts, in order, that own a recording whose files are unreachable now: they stay.
func (s *accountSweep) deleteObjects(ctx context.Context, marked []string) ([]string, error) {
	if s.files == nil {
		return nil, nil
	}
	owned, err := s.store.RecordingsOfOrganizers(ctx, marked)
	if err != nil {
		return nil, err
	}
	unreachable, err := deleteFiles(ctx, s.files, recordingIDs(owned))
	if err != nil {
		return nil, err
	}
	var left []string
	for _, r := range owned {
		if slices.Contains(unreachable, r.ID) && !slices.Contains(left, r.OrganizerID) {
			left = append(left, r.OrganizerID)
		}
	}
	slices.Sort(left)
	return left, nil
}

// stores names where an account's data was deleted from.
func (s *accountSweep) stores() []string {
	if s.files != nil {
		return []string{StoreFiles, StoreDatabase}
	}
	return []string{StoreDatabase}
}
