package privacy

import "context"

// batches is how a sweep goes through what is past its window: it finds it in a stable
// order, a batch of keys at a time, and deletes each batch before it finds the next. The
// sweeps differ only by their queries, what they do to delete a batch, and how the ledger
// names what they delete; the loop, and the dry run, are this one.
type batches[K any] struct {
	// sweep and step name the sweep and the batch's last step, for p.Step.
	sweep, step string
	// category and rule are the report's line.
	category, rule string
	// find returns, in order, the keys of up to limit objects past the window after the key
	// after (nil: from the first).
	find func(ctx context.Context, after *K, limit int) ([]K, error)
	// delete deletes the objects of batch (after after, up to its last key) that are still
	// past the window, with their ledger entries in the deleting transaction, calls p.Step
	// after each committed step but the last, and returns the keys it deleted.
	delete func(ctx context.Context, p *Pass, after *K, batch []K) ([]K, error)
	// name names the objects of keys as the ledger does: one name per object, or one for
	// the batch.
	name func(keys []K) []string
}

// countOnly is the deleter of a dry run: it deletes nothing and answers that it deleted the
// whole batch, so that a plan counts and names what a run would delete, by the same queries.
func countOnly[K any](_ context.Context, _ *Pass, _ *K, batch []K) ([]K, error) { return batch, nil }

// run finds and deletes (in a dry run, counts) batch after batch until a short one.
func (b batches[K]) run(ctx context.Context, p *Pass) error {
	p.Found(b.category, b.rule, 0)
	del := b.delete
	if p.DryRun {
		del = countOnly[K]
	}
	var after *K
	for {
		keys, err := b.find(ctx, after, p.BatchSize)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		deleted, err := del(ctx, p, after, keys)
		if err != nil {
			return err
		}
		if len(deleted) > 0 {
			p.Found(b.category, b.rule, int64(len(deleted)), b.name(deleted)...)
		}
		if err := p.Step(ctx, b.sweep, b.step); err != nil {
			return err
		}
		if len(keys) < p.BatchSize {
			return nil
		}
		after = &keys[len(keys)-1]
	}
}

// ids names each object by its id.
func ids(keys []string) []string { return keys }

// orEmpty is the key after, or "" before the first batch.
func orEmpty(after *string) string {
	if after == nil {
		return ""
	}
	return *after
}
