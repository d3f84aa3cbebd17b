package privacy

import (
	"context"
	"time"
)

// Sweep deletes one kind of data once it is past its window. The engine runs its sweeps one
// after the other; the recordings and orphans sweeps plug in here.
//
// A sweep is idempotent and resumable: it finds what is past its window in a stable order,
// deletes it batch by batch, checking the window again in the deleting statement, and records
// each deletion in the ledger in the transaction that deletes, so that a crash at any point
// leaves a state from which the next run finishes the job, with no double entries.
type Sweep interface {
	// Name names the sweep in logs, hooks and errors ("accounts").
	Name() string
	// Category is the category of what the sweep deletes (CategoryAccounts...).
	Category() string
	// Overdue counts what is past its window at now.
	Overdue(ctx context.Context, now time.Time) (int64, error)
	// Sweep deletes what is past its window at p.Now, or when p.DryRun only finds what it
	// would delete, through the same queries. It tells p what it deleted and calls p.Step
	// after each step.
	Sweep(ctx context.Context, p *Pass) error
}

// Pass is one run of the sweeps, as a sweep sees it.
type Pass struct {
	// Now is the database's time when the run started: every window is measured from it,
	// and the ledger entries carry it.
	Now time.Time
	// DryRun: find, count and name, delete nothing.
	DryRun bool
	// BatchSize bounds the rows one transaction deletes.
	BatchSize int

	report *Report
	step   func(ctx context.Context, sweep, step string) error
}

// Step tells the engine that a step of a sweep is done and committed. When it returns an
// error (the lease was lost, or a test simulates a crash), the sweep stops there and returns it.
func (p *Pass) Step(ctx context.Context, sweep, step string) error {
	if p.step == nil {
		return nil
	}
	return p.step(ctx, sweep, step)
}

// Found adds to the report count objects of a category deleted under rule (or, in a dry run,
// that would be), named by ids as the ledger names them. A count of 0 makes the rule appear
// in the report with nothing.
func (p *Pass) Found(category, rule string, count int64, ids ...string) {
	p.report.Categories = addTo(p.report.Categories, category, rule, count, ids)
}

// Marked adds to the report count objects of a category kept but marked under rule (or, in
// a dry run, that would be): recordings whose files are gone. A count of 0 makes the rule
// appear in the report with nothing.
func (p *Pass) Marked(category, rule string, count int64, ids ...string) {
	p.report.Marked = addTo(p.report.Marked, category, rule, count, ids)
}

// Left adds to the report count objects of a category past their window that the run
// could not delete now and leaves for the next one, named by ids, with why. Nothing of them
// was deleted, and the ledger says nothing of them.
func (p *Pass) Left(category, why string, count int64, ids ...string) {
	p.report.Left = addTo(p.report.Left, category, why, count, ids)
}

func addTo(list []CategoryReport, category, rule string, count int64, ids []string) []CategoryReport {
	for i := range list {
		c := &list[i]
		if c.Category == category && c.Rule == rule {
			c.Count += count
			c.IDs = append(c.IDs, ids...)
			return list
		}
	}
	return append(list, CategoryReport{
		Category: category, Rule: rule, Count: count, IDs: append([]string{}, ids...),
	})
}
