package privacy

import (
	"context"
	"fmt"
	"time"

	"webinaire/store"
)

// RecordingFiles deletes the files of a recording, wherever they are kept (the
// recording package's storage). Deleting files that are already gone is not an error.
type RecordingFiles interface {
	DeleteRecording(ctx context.Context, id string) error
}

// recordingSweep deletes the recordings past their expiry (the webinar's date plus the
// policy's period, fixed on the row when the recording started): first the files, then
// the row with its ledger entry. A run that stops between the two finds the row again and
// deletes the files that are no longer there without error.
type recordingSweep struct {
	store  *store.Store
	ledger *Ledger
	files  RecordingFiles
	period Period
}

func (s *recordingSweep) Name() string     { return "recordings" }
func (s *recordingSweep) Category() string { return CategoryRecordings }

func (s *recordingSweep) rule() string {
	return "recording " + s.period.String() + " after the webinar"
}

func (s *recordingSweep) Overdue(ctx context.Context, now time.Time) (int64, error) {
	return s.store.CountExpiredRecordings(ctx, now)
}

func (s *recordingSweep) Sweep(ctx context.Context, p *Pass) error {
	return batches[string]{
		sweep: s.Name(), step: "rows", category: CategoryRecordings, rule: s.rule(), name: ids,
		find: func(ctx context.Context, after *string, limit int) ([]string, error) {
			return s.store.ExpiredRecordings(ctx, p.Now, orEmpty(after), limit)
		},
		delete: func(ctx context.Context, p *Pass, _ *string, batch []string) ([]string, error) {
			return s.purge(ctx, p, batch)
		},
	}.run(ctx, p)
}

func (s *recordingSweep) purge(ctx context.Context, p *Pass, ids []string) ([]string, error) {
	for _, id := range ids {
		if err := s.files.DeleteRecording(ctx, id); err != nil {
			return nil, fmt.Errorf("delete files of recording: %w", err)
		}
	}
	if err := p.Step(ctx, s.Name(), "objects"); err != nil {
		return nil, err
	}
	var deleted []string
	err := s.store.InTx(ctx, func(tx *store.Store) error {
		deleted = deleted[:0]
		for _, id := range ids {
			gone, err := tx.DeleteExpiredRecording(ctx, id, p.Now)
			if err != nil {
				return err
			}
			if !gone {
				continue
			}
			deleted = append(deleted, id)
			err = s.ledger.Record(ctx, tx, Entry{
				Rule: s.rule(), Category: CategoryRecordings, ObjectID: id, Count: 1,
				Stores: []string{StoreFiles, StoreDatabase}, At: p.Now,
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
