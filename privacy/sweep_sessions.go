package privacy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"webinaire/store"
)

// sessionSweep deletes organizer sessions that expired or sat idle for longer than idle, and
// pending logins that expired: one ledger entry per batch.
type sessionSweep struct {
	store  *store.Store
	ledger *Ledger
	// idle is the session idle timeout; zero leaves idle sessions to their expiry.
	idle time.Duration
}

func (s *sessionSweep) Name() string     { return "sessions" }
func (s *sessionSweep) Category() string { return CategorySessions }

func (s *sessionSweep) sessionRule() string {
	if s.idle <= 0 {
		return "session expired"
	}
	return "session expired or idle for " + shortDuration(s.idle)
}

const loginFlowRule = "login flow expired"

// idleBefore is the last use before which a session is idle at now; zero when idle sessions
// are left to their expiry.
func (s *sessionSweep) idleBefore(now time.Time) time.Time {
	if s.idle <= 0 {
		return time.Time{}
	}
	return now.Add(-s.idle)
}

func (s *sessionSweep) Overdue(ctx context.Context, now time.Time) (int64, error) {
	sessions, err := s.store.CountExpiredSessions(ctx, now, s.idleBefore(now))
	if err != nil {
		return 0, err
	}
	flows, err := s.store.CountExpiredLoginFlows(ctx, now)
	return sessions + flows, err
}

func (s *sessionSweep) Sweep(ctx context.Context, p *Pass) error {
	idleBefore := s.idleBefore(p.Now)
	err := s.byBatch(ctx, p, "sessions", s.sessionRule(),
		func(after string) ([]string, error) {
			return s.store.ExpiredSessions(ctx, p.Now, idleBefore, after, p.BatchSize)
		},
		func(tx *store.Store, after, last string) ([]string, error) {
			return tx.DeleteExpiredSessions(ctx, after, last, p.Now, idleBefore)
		})
	if err != nil {
		return err
	}
	return s.sweepLoginFlows(ctx, p)
}

func (s *sessionSweep) sweepLoginFlows(ctx context.Context, p *Pass) error {
	return s.byBatch(ctx, p, "login_flows", loginFlowRule,
		func(after string) ([]string, error) {
			return s.store.ExpiredLoginFlows(ctx, p.Now, after, p.BatchSize)
		},
		func(tx *store.Store, after, last string) ([]string, error) {
			return tx.DeleteExpiredLoginFlows(ctx, after, last, p.Now)
		})
}

// ExpireLoginFlows deletes the pending logins that expired before now, as the sessions
// sweep does (batches of batchSize, one ledger entry per batch), and returns how many. The
// API calls it as logins start, so that abandoned logins go as they expire, not at the
// next retention run.
func ExpireLoginFlows(ctx context.Context, st *store.Store, ledger *Ledger, now time.Time, batchSize int) (int64, error) {
	p := &Pass{Now: now, BatchSize: batchSize, report: &Report{}}
	s := &sessionSweep{store: st, ledger: ledger}
	if err := s.sweepLoginFlows(ctx, p); err != nil {
		return 0, err
	}
	var n int64
	for _, c := range p.report.Categories {
		n += c.Count
	}
	return n, nil
}

// byBatch finds ids in order with find and deletes them with del, a batch of ids in
// (after, last] at a time, with one ledger entry per batch. step names the step and the table.
func (s *sessionSweep) byBatch(ctx context.Context, p *Pass, step, rule string,
	find func(after string) ([]string, error), del func(tx *store.Store, after, last string) ([]string, error)) error {
	name := func(ids []string) []string { return []string{step + " batch " + ids[0] + "-" + ids[len(ids)-1]} }
	return batches[string]{
		sweep: s.Name(), step: step, category: CategorySessions, rule: rule, name: name,
		find: func(_ context.Context, after *string, _ int) ([]string, error) { return find(orEmpty(after)) },
		delete: func(ctx context.Context, p *Pass, after *string, batch []string) ([]string, error) {
			var deleted []string
			err := s.store.InTx(ctx, func(tx *store.Store) error {
				var err error
				if deleted, err = del(tx, orEmpty(after), batch[len(batch)-1]); err != nil || len(deleted) == 0 {
					return err
				}
				return s.ledger.Record(ctx, tx, Entry{
					Rule: rule, Category: CategorySessions, ObjectID: name(deleted)[0], Count: int64(len(deleted)),
					Stores: []string{StoreDatabase}, At: p.Now,
				})
			})
			if err != nil {
				return nil, fmt.Errorf("delete %s: %w", step, err)
			}
			return deleted, nil
		},
	}.run(ctx, p)
}

// shortDuration writes 2h0m0s as 2h and 1h30m0s as 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
