package privacy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"webinaire/store"
)

// RecordingFiles deletes the files of a recording, wherever they are kept (the
// recording package's storage, or the node of a cluster that keeps them). Deleting files
// that are already gone is not an error. An error wrapping ErrFilesUnreachable says that
// they are kept where they cannot be deleted now.
type RecordingFiles interface {
	DeleteRecording(ctx context.Context, id string) error
}

// ErrFilesUnreachable is a recording whose files are kept where they cannot be deleted now:
// the local folder of another node of the cluster, which does not answer. Whoever deletes
// the recording leaves it, row and all, for later: the ledger records no deletion that did
// not happen.
var ErrFilesUnreachable = errors.New("recording files kept by a node that does not answer")

// unreachableReason is why a sweep left a recording, or an account of one, for its next run.
const unreachableReason = "recording files kept by a node that does not answer; left for the next run"

// deleteFiles deletes the files of the recordings ids, wherever they are kept, and returns
// those it left: their files are unreachable now (ErrFilesUnreachable). Any other failure
// stops it.
func deleteFiles(ctx context.Context, files RecordingFiles, ids []string) (left []string, err error) {
	for _, id := range ids {
		err := files.DeleteRecording(ctx, id)
		switch {
		case errors.Is(err, ErrFilesUnreachable):
			left = append(left, id)
		case err != nil:
			return nil, fmt.Errorf("delete files of recording: %w", err)
		}
	}
	return left, nil
}

// RecordingStorage is the recording storage as the retention engine sees it: it deletes a
// recording's files, and lists the recordings that have files for the orphans sweep.
type RecordingStorage interface {
	RecordingFiles
	// Recordings lists, in order, up to limit ids after the id after of the recordings
	// that have files.
	Recordings(ctx context.Context, after string, limit int) ([]string, error)
	// Modified is the last change of a recording's files; the zero time when it has none.
	Modified(ctx context.Context, id string) (time.Time, error)
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
	return purgeRecordings(ctx, p, recordingPurge{
		store: s.store, ledger: s.ledger, files: s.files, sweep: s.Name(), rule: s.rule(),
		stores: []string{StoreFiles, StoreDatabase},
		// Still expired: a row whose expiry moved in the meantime stays.
		gone: func(tx *store.Store, id string) (bool, error) { return tx.DeleteExpiredRecording(ctx, id, p.Now) },
	}, ids)
}

// recordingPurge is how a sweep deletes recordings: their files, then in one transaction
// what names them in the database (a row, an orphan's mark) with one ledger entry each.
type recordingPurge struct {
	store  *store.Store
	ledger *Ledger
	files  RecordingFiles
	sweep  string
	rule   string
	stores []string
	// gone deletes what names the recording in the database, on the transaction, and
	// tells whether it did (false: another run did, or it is inside its window again).
	gone func(tx *store.Store, id string) (bool, error)
}

// purgeRecordings deletes the files of the recordings ids (files already gone are not an
// error), with a step after it, then what names them with their ledger entries, and
// returns the ids it deleted: a run that stops between the two finds them named again and
// finishes. A recording whose files are unreachable now is left as it is, reported as
// such, for the next run. The caller reports the deleted and takes the step after the rows.
func purgeRecordings(ctx context.Context, p *Pass, r recordingPurge, ids []string) ([]string, error) {
	left, err := deleteFiles(ctx, r.files, ids)
	if err != nil {
		return nil, err
	}
	if len(left) > 0 {
		p.Left(CategoryRecordings, unreachableReason, int64(len(left)), left...)
	}
	if err := p.Step(ctx, r.sweep, "objects"); err != nil {
		return nil, err
	}
	var deleted []string
	err = r.store.InTx(ctx, func(tx *store.Store) error {
		deleted = deleted[:0]
		for _, id := range ids {
			if slices.Contains(left, id) {
				continue
			}
			gone, err := r.gone(tx, id)
			if err != nil {
				return err
			}
			if !gone {
				continue
			}
			deleted = append(deleted, id)
			err = r.ledger.Record(ctx, tx, Entry{
				Rule: r.rule, Category: CategoryRecordings, ObjectID: id, Count: 1, Stores: r.stores, At: p.Now,
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
