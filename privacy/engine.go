package privacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"webinaire/store"
)

// ErrBusy is returned by Run when another run holds the lease.
var ErrBusy = errors.New("retention run already in progress")

// errLeaseLost stops a run whose lease another holder took over (it had expired).
var errLeaseLost = errors.New("retention lease taken over by another holder")

const (
	// leaseName is the job_leases row of the retention run.
	leaseName = "retention"
	// leaseTTL is how long the lease outlives its holder's last step: a replica that dies
	// mid-run blocks the others that long at most.
	leaseTTL = time.Hour
	// bookkeepingTimeout bounds recording the end of a run and releasing the lease once the
	// run's context is done.
	bookkeepingTimeout = 10 * time.Second
)

// EngineParams configures the retention engine.
type EngineParams struct {
	// Store is the database the sweeps delete from.
	Store *store.Store
	// Ledger records every deletion, in the deleting transaction.
	Ledger *Ledger
	// Policy gives the windows.
	Policy Policy
	// SessionIdle is the session idle timeout: sessions unused for longer are deleted;
	// zero leaves them to their expiry.
	SessionIdle time.Duration
	// BatchSize bounds the rows one transaction deletes; 0 means 1000.
	BatchSize int
	// Interval is the time between two runs of Start; 0 means 24 h.
	Interval time.Duration
	// Holder names this process in the lease, e.g. hostname:pid; empty means that.
	Holder string
	// Logger receives one line per run; nil discards.
	Logger *slog.Logger
	// Recordings keeps the recording files, for the recordings and orphans sweeps and for
	// the accounts purged; nil leaves recordings alone (no sweep of them: a configuration
	// without recordings).
	Recordings RecordingStorage
	// RecordingNode is the node whose local folder Recordings is (its cluster.node_id),
	// when the nodes of a cluster keep their recordings each in its own folder: the
	// orphans sweep then marks as missing only the files of that node's recordings and of
	// those of no node. Empty when Recordings holds every node's recordings (S3).
	RecordingNode string
	// OrphanGrace is how long recording files that no row names are left alone after their
	// last change, and how long after a recording ends its files may be missing before its
	// row is marked; 0 means DefaultOrphanGrace.
	OrphanGrace time.Duration
	// Clock tells the time every window is measured from; nil is the database's clock
	// (store.Now), which is what production uses.
	Clock func(ctx context.Context) (time.Time, error)
	// Hook is for tests: it is called after each committed step of a real run, and a
	// non-nil error stops the run there, as a crash would.
	Hook func(sweep, step string) error
}

// Engine runs the retention sweeps: now (Run), as a dry run (Plan), or on a schedule (Start).
// One run at a time across replicas holds the lease "retention".
type Engine struct {
	store    *store.Store
	ledger   *Ledger
	sweeps   []Sweep
	batch    int
	interval time.Duration
	holder   string
	log      *slog.Logger
	clock    func(ctx context.Context) (time.Time, error)
	hook     func(sweep, step string) error
	orphans  *orphanSweep // nil without recordings

	// running keeps a second Run of this process from taking the lease it already holds.
	running sync.Mutex
	// ran, when set (tests), is called at the end of each run started by Start.
	ran func(Report, error)
}

// NewEngine returns an engine with the session, connection-log, audit-trail, recording (when
// there are recordings) and account sweeps.
func NewEngine(p EngineParams) (*Engine, error) {
	if p.Store == nil || p.Ledger == nil {
		return nil, errors.New("new retention engine: a store and a ledger are required")
	}
	if err := p.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("new retention engine: %w", err)
	}
	if p.BatchSize < 0 || p.Interval < 0 || p.SessionIdle < 0 || p.OrphanGrace < 0 {
		return nil, errors.New("new retention engine: batch size, interval, idle timeout and orphan grace cannot be negative")
	}
	e := &Engine{
		store:  p.Store,
		ledger: p.Ledger,
		// Accounts go last: deleting one deletes what the other sweeps look at (its
		// sessions, its recordings), so that a plan lists what the run deletes.
		sweeps: []Sweep{
			&sessionSweep{store: p.Store, ledger: p.Ledger, idle: p.SessionIdle},
			&connectionLogSweep{store: p.Store, ledger: p.Ledger, period: p.Policy.ConnectionLog},
			&auditTrailSweep{store: p.Store, ledger: p.Ledger, period: p.Policy.AuditTrail},
			&slidesSweep{store: p.Store, ledger: p.Ledger, period: p.Policy.Slides},
		},
		batch:    p.BatchSize,
		interval: p.Interval,
		holder:   p.Holder,
		log:      p.Logger,
		clock:    p.Clock,
		hook:     p.Hook,
	}
	if p.Recordings != nil {
		e.sweeps = append(e.sweeps, &recordingSweep{store: p.Store, ledger: p.Ledger, files: p.Recordings, period: p.Policy.Recordings})
		grace := p.OrphanGrace
		if grace == 0 {
			grace = DefaultOrphanGrace
		}
		e.orphans = &orphanSweep{store: p.Store, ledger: p.Ledger, files: p.Recordings, grace: grace, node: p.RecordingNode}
		e.sweeps = append(e.sweeps, e.orphans)
	}
	e.sweeps = append(e.sweeps, &accountSweep{store: p.Store, ledger: p.Ledger, period: p.Policy.AccountInactivity, files: p.Recordings})
	if e.batch == 0 {
		e.batch = 1000
	}
	if e.orphans != nil {
		e.orphans.batch = e.batch
	}
	if e.interval == 0 {
		e.interval = 24 * time.Hour
	}
	if e.holder == "" {
		host, _ := os.Hostname()
		e.holder = host + ":" + strconv.Itoa(os.Getpid())
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.clock == nil {
		e.clock = p.Store.Now
	}
	return e, nil
}

// Report is what a run deleted, or what a dry run would delete.
type Report struct {
	// RunID is the run's row in retention_runs.
	RunID int64 `json:"run_id"`
	// DryRun: nothing was deleted.
	DryRun bool `json:"dry_run"`
	// Now is the database's time the windows were measured from.
	Now time.Time `json:"now"`
	// Categories has one line per category and rule, in the order of the sweeps, including
	// those with nothing to delete.
	Categories []CategoryReport `json:"categories"`
	// Marked is what was kept but marked (or, in a dry run, would be): recordings whose
	// files are gone, for their organizer to see. It is not in Totals nor Counts.
	Marked []CategoryReport `json:"marked"`
	// Left is what was past its window but not deleted, left for the next run, with why
	// (Rule): recordings whose files are kept by a node of the cluster that does not
	// answer, and the accounts of such recordings. It is not in Totals nor Counts.
	Left []CategoryReport `json:"left,omitempty"`
}

// CategoryReport is what a run deleted of one category under one rule.
type CategoryReport struct {
	Category string `json:"category"`
	Rule     string `json:"rule"`
	// Count is the number of objects (accounts, connection-log entries, sessions).
	Count int64 `json:"count"`
	// IDs name what was deleted as the ledger names it (its entries hold their keyed hash):
	// account ids, connection-log partitions and batches ("connection_log batch 1-1000"),
	// session and login-flow batches.
	IDs []string `json:"ids"`
}

// Total is what a run deleted of one category, all rules together.
type Total struct {
	Category string
	Count    int64
}

// Totals sums the report per category, in the order of the sweeps.
func (r Report) Totals() []Total {
	var totals []Total
	for _, c := range r.Categories {
		i := slices.IndexFunc(totals, func(t Total) bool { return t.Category == c.Category })
		if i < 0 {
			i = len(totals)
			totals = append(totals, Total{Category: c.Category})
		}
		totals[i].Count += c.Count
	}
	return totals
}

// Counts sums the report per category.
func (r Report) Counts() map[string]int64 {
	counts := make(map[string]int64)
	for _, t := range r.Totals() {
		counts[t.Category] = t.Count
	}
	return counts
}

// RunRecord is a past run as retention_runs keeps it.
type RunRecord struct {
	ID         int64      `json:"id"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	DryRun     bool       `json:"dry_run"`
	// Status is running, ok, failed or busy (another run held the lease).
	Status string `json:"status"`
	// Counts is what the run deleted (or would have) per category.
	Counts map[string]int64 `json:"counts"`
	// Error says why it failed, without personal data.
	Error string `json:"error,omitempty"`
}

// Plan is a dry run on the same code path as Run: what Run would delete now, by category and
// rule, with the ids. It deletes nothing and takes no lease; it is recorded as a dry run.
func (e *Engine) Plan(ctx context.Context) (Report, error) {
	now, err := e.clock(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("retention plan: %w", err)
	}
	return e.record(ctx, now, true, func(p *Pass) error { return e.sweep(ctx, p) })
}

// Run runs the sweeps now. It takes the lease "retention" and returns ErrBusy, after
// recording a busy run, when another run (of this or another process) holds it.
func (e *Engine) Run(ctx context.Context) (Report, error) {
	now, err := e.clock(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("retention run: %w", err)
	}
	if !e.running.TryLock() {
		return e.busy(ctx, now, fmt.Errorf("%w: held by this process (%s)", ErrBusy, e.holder))
	}
	defer e.running.Unlock()
	ok, lease, err := e.store.AcquireLease(ctx, leaseName, e.holder, now, now.Add(leaseTTL))
	if err != nil {
		return Report{Now: now}, fmt.Errorf("retention run: %w", err)
	}
	if !ok {
		return e.busy(ctx, now, fmt.Errorf("%w: held by %s until %s", ErrBusy, lease.Holder, lease.ExpiresAt.Format(time.RFC3339)))
	}
	defer func() {
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
		defer cancel()
		if err := e.store.ReleaseLease(bctx, leaseName, e.holder); err != nil {
			e.log.Warn("retention lease not released; it expires by itself", "err", err)
		}
	}()
	if err := e.store.FailInterruptedRuns(ctx, now, now.Add(-leaseTTL)); err != nil {
		return Report{Now: now}, fmt.Errorf("retention run: %w", err)
	}
	rep, err := e.record(ctx, now, false, func(p *Pass) error {
		// The connection log's partitions for this month and the next two, so that inserts
		// never wait for one.
		if err := e.store.EnsureLogPartitions(ctx, now, 3); err != nil {
			return err
		}
		return e.sweep(ctx, p)
	})
	// What the sweeps deleted leaves the database's log too (SQLite).
	if serr := e.store.Scrub(context.WithoutCancel(ctx)); serr != nil {
		e.log.Warn("database not scrubbed after the run", "err", serr)
	}
	// The run's entries are sealed at once, whether it ended well or not.
	if e.ledger.signer != nil {
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
		if _, cerr := e.ledger.Checkpoint(bctx); cerr != nil {
			e.log.Error("ledger checkpoint after the run failed", "err", cerr)
		}
		cancel()
	}
	return rep, err
}

// sweep runs every sweep in turn.
func (e *Engine) sweep(ctx context.Context, p *Pass) error {
	for _, s := range e.sweeps {
		if err := s.Sweep(ctx, p); err != nil {
			return fmt.Errorf("%s sweep: %w", s.Name(), err)
		}
	}
	return nil
}

// record runs fn as a run started at now, recorded in retention_runs from start to end.
func (e *Engine) record(ctx context.Context, now time.Time, dry bool, fn func(p *Pass) error) (Report, error) {
	rep := Report{DryRun: dry, Now: now, Categories: []CategoryReport{}, Marked: []CategoryReport{}}
	run := store.RetentionRun{StartedAt: now, DryRun: dry, Status: store.RunRunning}
	if err := e.store.StartRetentionRun(ctx, &run); err != nil {
		return rep, fmt.Errorf("retention run: %w", err)
	}
	rep.RunID = run.ID
	p := &Pass{Now: now, DryRun: dry, BatchSize: e.batch, report: &rep}
	if !dry {
		p.step = e.stepper()
	}
	err := fn(p)
	status, errText := store.RunOK, ""
	if err != nil {
		status, errText = store.RunFailed, err.Error()
	}
	if ferr := e.finish(ctx, run.ID, status, rep.Counts(), errText); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		return rep, fmt.Errorf("retention run %d: %w", run.ID, err)
	}
	return rep, nil
}

// busy records a run that did not start because another holds the lease, and returns err.
func (e *Engine) busy(ctx context.Context, now time.Time, err error) (Report, error) {
	rep := Report{Now: now, Categories: []CategoryReport{}, Marked: []CategoryReport{}}
	run := store.RetentionRun{StartedAt: now, Status: store.RunRunning}
	if serr := e.store.StartRetentionRun(ctx, &run); serr != nil {
		return rep, errors.Join(err, serr)
	}
	rep.RunID = run.ID
	if ferr := e.finish(ctx, run.ID, store.RunBusy, nil, err.Error()); ferr != nil {
		return rep, errors.Join(err, ferr)
	}
	return rep, err
}

// finish records the end of a run, even when ctx is done.
func (e *Engine) finish(ctx context.Context, id int64, status string, counts map[string]int64, errText string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	at, err := e.clock(ctx)
	if err != nil {
		return fmt.Errorf("finish retention run: %w", err)
	}
	summary := ""
	if counts != nil {
		b, _ := json.Marshal(counts) // a map of counts always encodes
		summary = string(b)
	}
	return e.store.FinishRetentionRun(ctx, id, at, status, summary, errText)
}

// maxYield bounds the pause after a step on SQLite.
const maxYield = time.Second

// stepper returns the step function of a real run. On SQLite, whose one writer makes the
// others poll for the lock with growing sleeps, it then pauses as long as the step took, so
// that the platform's own writes (logins, the connection log) get their turn during a long
// purge instead of waiting for its end.
func (e *Engine) stepper() func(ctx context.Context, sweep, step string) error {
	last := time.Now()
	return func(ctx context.Context, sweep, step string) error {
		if err := e.step(ctx, sweep, step); err != nil {
			return err
		}
		if e.store.Driver() == store.DriverSQLite {
			pause := time.NewTimer(min(time.Since(last), maxYield))
			select {
			case <-ctx.Done():
				pause.Stop()
				return ctx.Err()
			case <-pause.C:
			}
		}
		last = time.Now()
		return nil
	}
}

// step is called after each committed step of a real run: the test hook, then the lease,
// checked so that a run whose lease another took over stops, and renewed once a quarter of
// it has gone, so that it lasts while the run makes progress. The check is a read: on SQLite
// it does not compete with the platform's writes.
func (e *Engine) step(ctx context.Context, sweep, step string) error {
	if e.hook != nil {
		if err := e.hook(sweep, step); err != nil {
			return err
		}
	}
	now, err := e.clock(ctx)
	if err != nil {
		return err
	}
	lease, err := e.store.LeaseOf(ctx, leaseName)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err == nil && lease.Holder == e.holder && lease.ExpiresAt.Sub(now) > leaseTTL*3/4 {
		return nil
	}
	ok, lease, err := e.store.AcquireLease(ctx, leaseName, e.holder, now, now.Add(leaseTTL))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w (%s)", errLeaseLost, lease.Holder)
	}
	return nil
}

// Start runs the sweeps now, then every Interval, until ctx is done, and returns then. A
// failed run is logged and tried again at the next interval; a run skipped because another
// replica holds the lease is logged too. Run it in a goroutine of its own.
func (e *Engine) Start(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		rep, err := e.Run(ctx)
		switch {
		case err == nil:
			attrs := []any{"run_id", rep.RunID, "took", time.Since(start).Round(time.Millisecond).String()}
			for _, t := range rep.Totals() {
				attrs = append(attrs, slog.Int64(t.Category, t.Count))
			}
			e.log.Info("retention run finished", attrs...)
			for _, l := range rep.Left {
				e.log.Warn("retention run left objects for the next run", "category", l.Category, "count", l.Count, "why", l.Rule)
			}
		case errors.Is(err, ErrBusy):
			e.log.Info("retention run skipped: another run holds the lease", "run_id", rep.RunID, "err", err)
		case ctx.Err() != nil:
			e.log.Info("retention run interrupted: stopping", "run_id", rep.RunID)
		default:
			e.log.Error("retention run failed", "run_id", rep.RunID, "err", err, "retry_in", e.interval.String())
		}
		if e.ran != nil {
			e.ran(rep, err)
		}
		timer.Reset(e.interval)
	}
}

// Overdue counts, per category, what is past its window now and not yet deleted: zero after
// a run, unless something came past its window since.
func (e *Engine) Overdue(ctx context.Context) (map[string]int64, error) {
	now, err := e.clock(ctx)
	if err != nil {
		return nil, fmt.Errorf("overdue: %w", err)
	}
	out := make(map[string]int64)
	for _, s := range e.sweeps {
		n, err := s.Overdue(ctx, now)
		if err != nil {
			return nil, fmt.Errorf("overdue %s: %w", s.Name(), err)
		}
		out[s.Category()] += n
	}
	return out, nil
}

// Orphans counts the recordings whose files no row names, within their grace period or
// past it (listing the whole recording storage), and the recording rows whose files are
// marked missing. Both are 0 without recordings.
func (e *Engine) Orphans(ctx context.Context) (files, rows int64, err error) {
	if e.orphans == nil {
		return 0, 0, nil
	}
	now, err := e.clock(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("orphans: %w", err)
	}
	if _, files, err = e.orphans.count(ctx, now, e.batch); err != nil {
		return 0, 0, fmt.Errorf("orphans: %w", err)
	}
	if rows, err = e.store.CountFilesMissing(ctx); err != nil {
		return 0, 0, fmt.Errorf("orphans: %w", err)
	}
	return files, rows, nil
}

// Runs returns the last limit runs, newest first, with what each deleted per category.
func (e *Engine) Runs(ctx context.Context, limit int) ([]RunRecord, error) {
	list, err := e.store.RetentionRuns(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]RunRecord, 0, len(list))
	for _, r := range list {
		rec := RunRecord{ID: r.ID, StartedAt: r.StartedAt.UTC(), FinishedAt: r.FinishedAt, DryRun: r.DryRun,
			Status: r.Status, Counts: map[string]int64{}, Error: r.Error}
		if rec.FinishedAt != nil {
			t := rec.FinishedAt.UTC()
			rec.FinishedAt = &t
		}
		if r.Summary != "" {
			if err := json.Unmarshal([]byte(r.Summary), &rec.Counts); err != nil {
				return nil, fmt.Errorf("retention run %d: summary: %w", r.ID, err)
			}
		}
		out = append(out, rec)
	}
	return out, nil
}
