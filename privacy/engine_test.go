package privacy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/store"
	"webinaire/store/storetest"
)

// testNow is the database's time the tests' engines see: 12 months before it is 365 days
// before it, so that 364 days is inside every 12-month window and 366 days outside.
var testNow = time.Date(2027, 6, 15, 12, 0, 0, 0, time.UTC)

const (
	day         = 24 * time.Hour
	testIdle    = 2 * time.Hour
	testBatch   = 2
	testIssuer  = "https://idp.example"
	testKeyText = "0123456789abcdef0123456789abcdef"
)

// fixture is a fresh database with a ledger and an engine on it, and the names of what the
// test put there, to compare databases whose generated ids differ.
type fixture struct {
	t      testing.TB
	ctx    context.Context
	st     *store.Store
	ledger *Ledger
	eng    *Engine
	// names maps the ledger hash of an account id to the account's subject.
	names map[string]string
	// ids maps an account's subject to its id.
	ids map[string]string
	// vkey is the public key of the ledger's checkpoints, kept in checkpoints; clock is the
	// time of the next checkpoint.
	vkey        string
	checkpoints CheckpointFile
	clock       time.Time
}

func setup(t testing.TB, driver string, opts ...func(*EngineParams)) *fixture {
	t.Helper()
	st := storetest.Open(t, driver)
	skey, vkey, err := GenerateSigningKey("webinaire-ledger")
	require.NoError(t, err)
	f := &fixture{t: t, ctx: context.Background(), st: st, names: map[string]string{}, ids: map[string]string{},
		vkey: vkey, checkpoints: CheckpointFile{Path: filepath.Join(t.TempDir(), "ledger-checkpoints")}, clock: testNow}
	f.ledger, err = NewLedger(LedgerParams{Store: st, Key: []byte(testKeyText), SigningKey: skey, Checkpoints: f.checkpoints,
		Now: func() time.Time { return f.clock }})
	require.NoError(t, err)
	f.eng = f.engine(opts...)
	return f
}

// engine returns another engine on the fixture's database.
func (f *fixture) engine(opts ...func(*EngineParams)) *Engine {
	f.t.Helper()
	p := EngineParams{
		Store: f.st, Ledger: f.ledger, Policy: DefaultPolicy(), SessionIdle: testIdle, BatchSize: testBatch,
		Holder: "test-" + f.t.Name(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock: func(context.Context) (time.Time, error) { return testNow, nil },
	}
	for _, o := range opts {
		o(&p)
	}
	e, err := NewEngine(p)
	require.NoError(f.t, err)
	return e
}

// verify checks the ledger against the checkpoint log and saved, a checkpoint (nil for none),
// with the public key only.
func (f *fixture) verify(saved []byte) (VerifyReport, error) {
	f.t.Helper()
	log, err := f.checkpoints.All(f.ctx)
	if !errors.Is(err, ErrNoCheckpoints) {
		require.NoError(f.t, err)
	}
	return VerifyLedger(f.ctx, f.st, VerifyParams{PublicKey: f.vkey, Log: log, Saved: saved, KeyID: f.ledger.KeyID(), Now: f.clock})
}

func withHook(h func(sweep, step string) error) func(*EngineParams) {
	return func(p *EngineParams) { p.Hook = h }
}

func withHolder(h string) func(*EngineParams) {
	return func(p *EngineParams) { p.Holder = h }
}

// organizer creates an account last active at age before testNow.
func (f *fixture) organizer(subject string, age time.Duration) string {
	f.t.Helper()
	o, err := f.st.UpsertOrganizer(f.ctx, store.Organizer{Issuer: testIssuer, Subject: subject, Email: subject + "@example.org"}, testNow.Add(-age))
	require.NoError(f.t, err)
	f.names[f.ledger.ObjectHash(o.ID)] = subject
	f.ids[subject] = o.ID
	return o.ID
}

// owned gives an account a webinar with an invitation, a live session and an audit event
// inside the audit trail's window.
func (f *fixture) owned(subject string) {
	f.t.Helper()
	id := f.ids[subject]
	w := &store.Webinar{OrganizerID: id, Title: subject + " webinar", Kind: store.KindWebinar, StartsAt: testNow.Add(-400 * day), DurationMinutes: 60}
	require.NoError(f.t, f.st.CreateWebinar(f.ctx, w, testNow.Add(-400*day)))
	require.NoError(f.t, f.st.CreateInvitation(f.ctx, &store.Invitation{WebinarID: w.ID, Role: store.RoleAttendee}, testNow.Add(-400*day)))
	f.session("live-"+subject, subject, testNow.Add(-time.Minute), testNow.Add(time.Hour))
	require.NoError(f.t, f.st.RecordAudit(f.ctx, store.AuditEvent{At: testNow.Add(-30 * day), ActorID: &id, Action: "webinar.create:" + subject}))
}

func (f *fixture) session(id, subject string, lastSeen, expires time.Time) {
	f.t.Helper()
	require.NoError(f.t, f.st.CreateSession(f.ctx, store.Session{ID: id, OrganizerID: f.ids[subject], CSRFToken: "csrf",
		CreatedAt: lastSeen.Add(-time.Minute), LastSeenAt: lastSeen, ExpiresAt: expires}))
}

func (f *fixture) connection(actor string, at time.Time) {
	f.t.Helper()
	require.NoError(f.t, f.st.LogConnection(f.ctx, store.ConnectionEvent{At: at, ActorKind: store.ActorOrganizer, ActorID: actor,
		IP: "192.0.2.10", Port: 40000, Action: "login", Protocol: "https"}))
}

// seed fills the database with something on each side of every window.
func (f *fixture) seed() {
	f.t.Helper()
	for _, o := range []struct {
		subject string
		age     time.Duration
	}{
		{"old-1", 366 * day}, {"old-2", 366 * day}, {"old-3", 400 * day}, {"old-4", 900 * day},
		{"recent", 364 * day}, {"restricted", 800 * day}, {"marked", 366 * day},
	} {
		f.organizer(o.subject, o.age)
	}
	f.owned("old-1")
	f.owned("recent")
	require.NoError(f.t, f.st.ExecForTest(f.ctx, `UPDATE organizers SET restricted_at = ? WHERE id = ?`, testNow.Add(-700*day), f.ids["restricted"]))
	require.NoError(f.t, f.st.ExecForTest(f.ctx, `UPDATE organizers SET purge_marked_at = ? WHERE id = ?`, testNow.Add(-day), f.ids["marked"]))

	for _, age := range []time.Duration{800 * day, 800*day - time.Hour, 396 * day, 396*day + time.Hour, 366 * day, 366*day + time.Hour, 366*day + 2*time.Hour, 364 * day, 364*day + time.Hour} {
		f.connection("guest", testNow.Add(-age))
	}
	for _, age := range []int{800, 366, 364} {
		require.NoError(f.t, f.st.RecordAudit(f.ctx, store.AuditEvent{At: testNow.Add(-time.Duration(age) * day), Action: fmt.Sprintf("audit-%dd", age)}))
	}
	f.connection(f.ids["old-1"], testNow.Add(-30*day))
	f.connection(f.ids["old-1"], testNow.Add(-31*day))

	f.session("expired", "recent", testNow.Add(-3*time.Hour), testNow.Add(-time.Second))
	f.session("expires-later", "recent", testNow.Add(-time.Minute), testNow.Add(time.Second))
	f.session("idle", "recent", testNow.Add(-testIdle-time.Second), testNow.Add(time.Hour))
	f.session("nearly-idle", "recent", testNow.Add(-testIdle+time.Second), testNow.Add(time.Hour))
	for id, exp := range map[string]time.Time{"flow-expired": testNow.Add(-time.Second), "flow-long-expired": testNow.Add(-400 * day), "flow-valid": testNow.Add(time.Minute)} {
		require.NoError(f.t, f.st.CreateLoginFlow(f.ctx, store.LoginFlow{ID: id, Nonce: "n", Verifier: "v", ExpiresAt: exp}, testNow, store.LoginFlowLimits{PerClient: 10, Total: 10}))
	}
}

// What seed puts past its window.
var (
	seedGoneAccounts    = []string{"marked", "old-1", "old-2", "old-3", "old-4"}
	seedGoneConnections = int64(7)
	seedGoneAudit       = int64(2)
	seedGoneSessions    = []string{"expired", "idle"}
	seedGoneFlows       = []string{"flow-expired", "flow-long-expired"}
)

// state is what a database holds, by names that do not depend on generated ids.
type state struct {
	Organizers  []string
	Marked      []string
	Webinars    []string
	Invitations []string
	Sessions    []string
	LoginFlows  []string
	Connections []int64
	Audit       []string
	// Ledger has one "category|rule|count|object" line per entry, sorted; object is the
	// subject for accounts, the hash otherwise.
	Ledger []string
}

func (f *fixture) state() state {
	f.t.Helper()
	var s state
	for _, q := range []struct {
		dest any
		sql  string
	}{
		{&s.Organizers, `SELECT subject FROM organizers ORDER BY subject`},
		{&s.Marked, `SELECT subject FROM organizers WHERE purge_marked_at IS NOT NULL ORDER BY subject`},
		{&s.Webinars, `SELECT title FROM webinars ORDER BY title`},
		{&s.Invitations, `SELECT w.title FROM invitations i JOIN webinars w ON w.id = i.webinar_id ORDER BY w.title`},
		{&s.Sessions, `SELECT id FROM sessions ORDER BY id`},
		{&s.LoginFlows, `SELECT id FROM login_flows ORDER BY id`},
		{&s.Connections, `SELECT id FROM connection_log ORDER BY id`},
		{&s.Audit, `SELECT a.action || ' by ' || COALESCE(o.subject, 'nobody') FROM audit_events a LEFT JOIN organizers o ON o.id = a.actor_id ORDER BY a.action`},
	} {
		require.NoError(f.t, f.st.QueryForTest(f.ctx, q.dest, q.sql))
	}
	for _, e := range f.entries() {
		object := e.ObjectHash
		if name, ok := f.names[object]; ok {
			object = name
		}
		s.Ledger = append(s.Ledger, fmt.Sprintf("%s|%s|%d|%s", e.Category, e.Rule, e.Count, object))
	}
	slices.Sort(s.Ledger)
	return s
}

func (f *fixture) entries() []store.LedgerEntry {
	f.t.Helper()
	list, err := f.st.LedgerEntries(f.ctx, 0, 1_000_000)
	require.NoError(f.t, err)
	return list
}

// counts sums the ledger's counts per category.
func (f *fixture) counts() map[string]int64 {
	out := map[string]int64{}
	for _, e := range f.entries() {
		out[e.Category] += e.Count
	}
	return out
}

func eachDriver(t *testing.T, fn func(t *testing.T, driver string)) {
	for _, d := range storetest.Drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

func subjects(f *fixture, ids []string) []string {
	var out []string
	for _, id := range ids {
		out = append(out, f.names[f.ledger.ObjectHash(id)])
	}
	slices.Sort(out)
	return out
}

func TestRunDeletesWhatIsPastItsWindowAndNothingElse(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		f := setup(t, driver)
		f.seed()
		before := f.state()

		overdue, err := f.eng.Overdue(f.ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int64{CategoryAccounts: 5, CategoryConnectionLog: seedGoneConnections, CategoryAuditTrail: seedGoneAudit, CategorySessions: 4, CategorySlides: 0}, overdue)

		plan, err := f.eng.Plan(f.ctx)
		require.NoError(t, err)
		require.True(t, plan.DryRun)
		require.Equal(t, testNow, plan.Now)
		require.Equal(t, before, f.state(), "a plan deletes nothing")
		require.Equal(t, map[string]int64{CategoryAccounts: 5, CategoryConnectionLog: seedGoneConnections, CategoryAuditTrail: seedGoneAudit, CategorySessions: 4, CategorySlides: 0}, plan.Counts())

		rep, err := f.eng.Run(f.ctx)
		require.NoError(t, err)
		require.False(t, rep.DryRun)
		require.Equal(t, plan.Categories, rep.Categories, "the run deletes exactly what the plan listed")
		require.Equal(t, []Total{{CategorySessions, 4}, {CategoryConnectionLog, seedGoneConnections}, {CategoryAuditTrail, seedGoneAudit}, {CategorySlides, 0}, {CategoryAccounts, 5}}, rep.Totals(),
			"totals per category, in the order of the sweeps")

		// What the ledger names is what the plan listed, in the same order.
		var planned []string
		for _, c := range plan.Categories {
			for _, id := range c.IDs {
				planned = append(planned, c.Category+" "+f.ledger.ObjectHash(id))
			}
		}
		var recorded []string
		for _, e := range f.entries() {
			recorded = append(recorded, e.Category+" "+e.ObjectHash)
		}
		require.Equal(t, planned, recorded)
		require.Equal(t, map[string]int64{CategoryAccounts: 5, CategoryConnectionLog: seedGoneConnections, CategoryAuditTrail: seedGoneAudit, CategorySessions: 4}, f.counts())

		var accounts CategoryReport
		for _, c := range rep.Categories {
			if c.Category == CategoryAccounts {
				accounts = c
			}
		}
		require.Equal(t, "account inactive for 12 months", accounts.Rule)
		require.Equal(t, seedGoneAccounts, subjects(f, accounts.IDs))

		after := f.state()
		require.Equal(t, []string{"recent", "restricted"}, after.Organizers, "364 days of inactivity is kept, restricted accounts are never swept")
		require.Empty(t, after.Marked)
		require.Equal(t, []string{"recent webinar"}, after.Webinars, "an account's webinars go with it")
		require.Equal(t, []string{"recent webinar"}, after.Invitations, "and their invitations")
		require.Equal(t, []string{"expires-later", "live-recent", "nearly-idle"}, after.Sessions,
			"expired and idle sessions go, and so do the sessions of deleted accounts")
		require.Equal(t, []string{"flow-valid"}, after.LoginFlows)
		require.Equal(t, []string{"audit-364d by nobody", "webinar.create:old-1 by nobody", "webinar.create:recent by recent"}, after.Audit,
			"audit events older than 12 months go; those of a deleted account lose their actor")
		require.Len(t, after.Connections, len(before.Connections)-int(seedGoneConnections))
		var kept []store.ConnectionEvent
		require.NoError(t, f.st.QueryForTest(f.ctx, &kept, `SELECT * FROM connection_log ORDER BY at`))
		require.Len(t, kept, 4)
		require.WithinDuration(t, testNow.Add(-364*day-time.Hour), kept[0].At, time.Second, "364 days old is kept")
		require.Equal(t, f.ids["old-1"], kept[2].ActorID, "a deleted account's connection log stays for its own period")

		overdue, err = f.eng.Overdue(f.ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int64{CategoryAccounts: 0, CategoryConnectionLog: 0, CategoryAuditTrail: 0, CategorySessions: 0, CategorySlides: 0}, overdue)

		// Idempotent: a second run finds nothing and writes nothing.
		again, err := f.eng.Run(f.ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int64{CategoryAccounts: 0, CategoryConnectionLog: 0, CategoryAuditTrail: 0, CategorySessions: 0, CategorySlides: 0}, again.Counts())
		require.Equal(t, after, f.state())

		runs, err := f.eng.Runs(f.ctx, 10)
		require.NoError(t, err)
		require.Len(t, runs, 3)
		require.Equal(t, again.RunID, runs[0].ID, "newest first")
		require.Equal(t, plan.RunID, runs[2].ID)
		require.True(t, runs[2].DryRun)
		require.False(t, runs[1].DryRun)
		for _, r := range runs {
			require.Equal(t, store.RunOK, r.Status)
			require.NotNil(t, r.FinishedAt)
		}
		require.Equal(t, rep.Counts(), runs[1].Counts)
		require.Equal(t, plan.Counts(), runs[2].Counts)

		checked, err := f.verify(nil)
		require.NoError(t, err)
		require.EqualValues(t, len(recorded), checked.Entries)
		require.Zero(t, checked.Unsealed, "the run sealed its entries")
	})
}

func TestPartitionsPastTheCutoffAreDroppedWhole(t *testing.T) {
	f := setup(t, store.DriverPostgres)
	f.seed()
	rep, err := f.eng.Run(f.ctx)
	require.NoError(t, err)
	var ids []string
	for _, c := range rep.Categories {
		if c.Category == CategoryConnectionLog {
			ids = c.IDs
		}
	}
	old1, old2 := store.LogPartitionName(testNow.Add(-800*day)), store.LogPartitionName(testNow.Add(-396*day))
	require.Len(t, ids, 4)
	require.Equal(t, []string{old1, old2}, ids[:2], "two whole months dropped")
	for _, id := range ids[2:] {
		require.Regexp(t, `^connection_log batch \d+-\d+$`, id, "then the month that straddles the cutoff by rows")
	}
	parts, err := f.st.LogPartitions(f.ctx)
	require.NoError(t, err)
	for _, p := range parts {
		require.NotContains(t, []string{old1, old2}, p.Name)
	}
	require.Contains(t, partitionNames(parts), store.LogPartitionName(testNow.AddDate(0, 2, 0)), "partitions are made ahead")
	var counts []int64
	for _, e := range f.entries() {
		if e.Category == CategoryConnectionLog {
			counts = append(counts, e.Count)
		}
	}
	require.Equal(t, []int64{2, 2, 2, 1}, counts)
}

func partitionNames(parts []store.LogPartition) []string {
	var names []string
	for _, p := range parts {
		names = append(names, p.Name)
	}
	return names
}

func TestActivityBetweenMarkAndDeleteSavesTheAccount(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		var f *fixture
		f = setup(t, driver, withHook(func(sweep, step string) error {
			if sweep == "accounts" && step == "mark" {
				// old-1 logs in after the sweep marked it.
				_, err := f.st.UpsertOrganizer(f.ctx, store.Organizer{Issuer: testIssuer, Subject: "old-1"}, testNow)
				return err
			}
			return nil
		}))
		f.organizer("old-1", 366*day)
		f.organizer("old-2", 366*day)
		_, err := f.eng.Run(f.ctx)
		require.NoError(t, err)
		s := f.state()
		require.Equal(t, []string{"old-1"}, s.Organizers)
		require.Empty(t, s.Marked, "activity cleared the mark")
		require.Equal(t, []string{"accounts|account inactive for 12 months|1|old-2"}, s.Ledger)
	})
}

// TestCrashAtEveryStepConverges stops a run after each step in turn, as a crash would, runs
// again, and compares the database and the ledger with those of a clean run on the same data.
func TestCrashAtEveryStepConverges(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		var steps []string
		clean := setup(t, driver, withHook(func(sweep, step string) error {
			steps = append(steps, sweep+"/"+step)
			return nil
		}))
		clean.seed()
		_, err := clean.eng.Run(clean.ctx)
		require.NoError(t, err)
		want := clean.state()
		for _, s := range []string{"accounts/mark", "accounts/objects", "accounts/rows", "connection_log/rows", "audit_trail/rows", "sessions/sessions", "sessions/login_flows"} {
			require.Contains(t, steps, s)
		}
		if driver == store.DriverPostgres {
			require.Contains(t, steps, "connection_log/partitions")
		}

		crash := errors.New("crash")
		for i, step := range steps {
			t.Run(fmt.Sprintf("%02d_%s", i, step), func(t *testing.T) {
				t.Parallel()
				calls := 0
				f := setup(t, driver, withHook(func(sweep, step string) error {
					calls++
					if calls == i+1 {
						return crash
					}
					return nil
				}))
				f.seed()
				_, err := f.eng.Run(f.ctx)
				require.ErrorIs(t, err, crash)
				runs, err := f.eng.Runs(f.ctx, 1)
				require.NoError(t, err)
				require.Equal(t, store.RunFailed, runs[0].Status)

				_, err = f.engine().Run(f.ctx)
				require.NoError(t, err)
				require.Equal(t, want, f.state())
				_, err = f.verify(nil)
				require.NoError(t, err, "the crashed run's entries are sealed with the next")
			})
		}
	})
}

func TestSecondRunIsBusyWhileTheFirstHoldsTheLease(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f := setup(t, store.DriverPostgres, withHolder("replica-a"), withHook(func(sweep, step string) error {
		once.Do(func() {
			close(entered)
			<-release
		})
		return nil
	}))
	f.seed()
	other := f.engine(withHolder("replica-b"))

	type result struct {
		rep Report
		err error
	}
	first := make(chan result, 1)
	// Owned by the test; ends when the first run does, after release is closed.
	go func() {
		rep, err := f.eng.Run(f.ctx)
		first <- result{rep, err}
	}()
	<-entered

	rep, err := other.Run(f.ctx)
	require.ErrorIs(t, err, ErrBusy)
	require.Contains(t, err.Error(), "replica-a")
	runs, err := other.Runs(f.ctx, 1)
	require.NoError(t, err)
	require.Equal(t, rep.RunID, runs[0].ID)
	require.Equal(t, store.RunBusy, runs[0].Status)

	_, err = f.eng.Run(f.ctx)
	require.ErrorIs(t, err, ErrBusy, "a second run in the same process is busy too")

	close(release)
	res := <-first
	require.NoError(t, res.err)
	require.Equal(t, map[string]int64{CategoryAccounts: 5, CategoryConnectionLog: seedGoneConnections, CategoryAuditTrail: seedGoneAudit, CategorySessions: 4}, f.counts())

	rep, err = other.Run(f.ctx)
	require.NoError(t, err, "the lease is released at the end of a run")
	require.Equal(t, map[string]int64{CategoryAccounts: 0, CategoryConnectionLog: 0, CategoryAuditTrail: 0, CategorySessions: 0, CategorySlides: 0}, rep.Counts())
}

// TestConcurrentRunsNeverDeleteTwice runs two engines at once on PostgreSQL with the lease
// out of the way: once by expiring the first run's lease so that the second takes it, once
// by running the sweeps directly. Whatever interleaving happens, the ledger counts each
// deletion once.
func TestConcurrentRunsNeverDeleteTwice(t *testing.T) {
	want := map[string]int64{CategoryAccounts: 5, CategoryConnectionLog: seedGoneConnections, CategoryAuditTrail: seedGoneAudit, CategorySessions: 4}

	t.Run("expired lease", func(t *testing.T) {
		t.Parallel()
		entered, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		f := setup(t, store.DriverPostgres, withHolder("replica-a"), withHook(func(sweep, step string) error {
			once.Do(func() {
				close(entered)
				<-release
			})
			return nil
		}))
		f.seed()
		errs := make(chan error, 2)
		// Both owned by the test; they end with their runs.
		go func() {
			_, err := f.eng.Run(f.ctx)
			errs <- err
		}()
		<-entered
		require.NoError(t, f.st.ExecForTest(f.ctx, `UPDATE job_leases SET expires_at = ?`, testNow.Add(-time.Minute)))
		started := make(chan struct{})
		var startedOnce sync.Once
		second := f.engine(withHolder("replica-b"), withHook(func(sweep, step string) error {
			startedOnce.Do(func() { close(started) })
			return nil
		}))
		go func() {
			_, err := second.Run(f.ctx)
			errs <- err
		}()
		<-started // the second run took the expired lease and deleted a batch
		close(release)
		var failed int
		for range 2 {
			if err := <-errs; err != nil {
				require.ErrorIs(t, err, errLeaseLost, "the only way a run stops here is by noticing it lost its lease")
				failed++
			}
		}
		require.LessOrEqual(t, failed, 1)
		f.requireOnce(want)
	})

	t.Run("no lease", func(t *testing.T) {
		t.Parallel()
		f := setup(t, store.DriverPostgres)
		f.seed()
		a, b := f.engine(withHolder("a")), f.engine(withHolder("b"))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, e := range []*Engine{a, b} {
			wg.Add(1)
			// Owned by the test; ends with the sweeps.
			go func() {
				defer wg.Done()
				rep := Report{}
				errs[i] = e.sweep(f.ctx, &Pass{Now: testNow, BatchSize: testBatch, report: &rep})
			}()
		}
		wg.Wait()
		require.True(t, errs[0] == nil || errs[1] == nil, "at least one finishes: %v", errs)
		// A run afterwards finishes what a failed one left (a deadlock is the only expected failure).
		_, err := f.engine().Run(f.ctx)
		require.NoError(t, err)
		f.requireOnce(want)
	})
}

// requireOnce checks that the ledger counts what seed put past its window exactly once,
// names no account or partition twice, and verifies.
func (f *fixture) requireOnce(want map[string]int64) {
	f.t.Helper()
	require.Equal(f.t, want, f.counts())
	seen := map[string]bool{}
	for _, e := range f.entries() {
		if e.Category == CategoryAccounts || (e.Category == CategoryConnectionLog && e.Count > 0) {
			require.False(f.t, seen[e.ObjectHash], "entry %d names an object already deleted", e.Seq)
			seen[e.ObjectHash] = true
		}
		require.NotZero(f.t, e.Count, "entry %d records nothing", e.Seq)
	}
	s := f.state()
	require.Equal(f.t, []string{"recent", "restricted"}, s.Organizers)
	require.Len(f.t, s.Connections, 4)
	_, err := f.verify(nil)
	require.NoError(f.t, err)
}

func TestRestoredOldDumpIsCleanedByTheNextRun(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		f := setup(t, driver)
		old := testNow.AddDate(-3, 0, 0)
		// A dump of three years ago, loaded as it was, outside the application.
		require.NoError(t, f.st.EnsureLogPartitions(f.ctx, old, 2))
		const orgID = "2f1d2b9c-7a4e-4c55-9d0f-3c2b1a0e9f11"
		stmts := []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO organizers (id, issuer, subject, last_activity_at, created_at) VALUES (?, ?, ?, ?, ?)`,
				[]any{orgID, testIssuer, "dumped", old, old}},
			{`INSERT INTO sessions (id, organizer_id, csrf_token, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
				[]any{"dumped-session", orgID, "c", old, old, old.Add(12 * time.Hour)}},
			{`INSERT INTO login_flows (id, nonce, verifier, expires_at) VALUES (?, ?, ?, ?)`,
				[]any{"dumped-flow", "n", "v", old}},
			{`INSERT INTO audit_events (at, actor_id, action, object_type, object_id) VALUES (?, ?, ?, ?, ?)`,
				[]any{old, orgID, "organizer.login", "organizer", orgID}},
		}
		for i := range 5 {
			stmts = append(stmts, struct {
				sql  string
				args []any
			}{`INSERT INTO connection_log (at, actor_kind, actor_id, ip, action) VALUES (?, ?, ?, ?, ?)`,
				[]any{old.Add(time.Duration(i) * 24 * time.Hour), "guest", "g", "198.51.100.7", "join"}})
		}
		for _, s := range stmts {
			require.NoError(t, f.st.ExecForTest(f.ctx, s.sql, s.args...))
		}
		f.names[f.ledger.ObjectHash(orgID)] = "dumped"

		plan, err := f.eng.Plan(f.ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int64{CategoryAccounts: 1, CategoryConnectionLog: 5, CategoryAuditTrail: 1, CategorySessions: 2, CategorySlides: 0}, plan.Counts())
		rep, err := f.eng.Run(f.ctx)
		require.NoError(t, err)
		require.Equal(t, plan.Categories, rep.Categories)

		overdue, err := f.eng.Overdue(f.ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int64{CategoryAccounts: 0, CategoryConnectionLog: 0, CategoryAuditTrail: 0, CategorySessions: 0, CategorySlides: 0}, overdue)
		s := f.state()
		require.Empty(t, s.Organizers)
		require.Empty(t, s.Sessions)
		require.Empty(t, s.LoginFlows)
		require.Empty(t, s.Connections)
		require.Empty(t, s.Audit)
		require.Contains(t, s.Ledger, "accounts|account inactive for 12 months|1|dumped")
	})
}

func TestStartRunsAtOnceThenEveryInterval(t *testing.T) {
	f := setup(t, store.DriverSQLite, func(p *EngineParams) { p.Interval = time.Millisecond })
	f.seed()
	type result struct {
		rep Report
		err error
	}
	ran := make(chan result, 100)
	f.eng.ran = func(r Report, err error) { ran <- result{r, err} }
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	// Owned by the test; ends when ctx is cancelled.
	go func() {
		defer close(done)
		f.eng.Start(ctx)
	}()
	first := <-ran
	require.NoError(t, first.err)
	require.Equal(t, int64(5), first.rep.Counts()[CategoryAccounts], "the first run is at start")
	second := <-ran
	require.NoError(t, second.err)
	require.Equal(t, int64(0), second.rep.Counts()[CategoryAccounts], "then again after the interval")
	cancel()
	<-done
	runs, err := f.eng.Runs(f.ctx, 100)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(runs), 2)
}

func TestNewEngineRefusesWhatCannotWork(t *testing.T) {
	st := storetest.Open(t, store.DriverSQLite)
	ledger, err := NewLedger(LedgerParams{Store: st, Key: []byte(testKeyText)})
	require.NoError(t, err)
	short := DefaultPolicy()
	short.ConnectionLog = Period{Months: 6}
	for name, p := range map[string]EngineParams{
		"no store":       {Ledger: ledger, Policy: DefaultPolicy()},
		"no ledger":      {Store: st, Policy: DefaultPolicy()},
		"short log":      {Store: st, Ledger: ledger, Policy: short},
		"negative batch": {Store: st, Ledger: ledger, Policy: DefaultPolicy(), BatchSize: -1},
	} {
		_, err := NewEngine(p)
		require.Error(t, err, name)
	}
	e, err := NewEngine(EngineParams{Store: st, Ledger: ledger, Policy: DefaultPolicy()})
	require.NoError(t, err)
	require.Equal(t, 1000, e.batch)
	require.Equal(t, 24*time.Hour, e.interval)
	require.True(t, strings.Contains(e.holder, ":"), "got holder %q, want hostname:pid", e.holder)
	// With no clock given, the engine uses the database's.
	rep, err := e.Plan(context.Background())
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), rep.Now, time.Minute)
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{2 * time.Hour: "2h", 90 * time.Minute: "1h30m", 45 * time.Second: "45s", 10 * time.Minute: "10m"} {
		require.Equal(t, want, shortDuration(d), "got shortDuration(%s)", d)
	}
}
