package privacy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/store"
	"webinaire/store/storetest"
)

// BenchmarkPurgeConnectionLog measures a real retention run, with the production batch size,
// over connection-log entries past their window:
//
//   - month: one whole month (WEBINAIRE_BENCH_ROWS entries, 10 million by default: a month
//     of a large site), as after an install or a restore; on PostgreSQL its partition is
//     dropped, on SQLite the rows go by batches;
//   - day: a thirtieth of that in the day before the cutoff, what a daily run deletes in
//     steady state; on both databases by batches (on PostgreSQL the month straddles the
//     cutoff).
//
// Meanwhile a goroutine logs a connection every millisecond through store.LogConnection, as
// the platform would, and the benchmark reports the latency of those inserts during the purge
// next to a baseline taken just before it. The time per op is the purge's. docs/performance.md
// has the command and the figures.
func BenchmarkPurgeConnectionLog(b *testing.B) {
	rows := int64(10_000_000)
	if v := os.Getenv("WEBINAIRE_BENCH_ROWS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		require.NoError(b, err, "WEBINAIRE_BENCH_ROWS")
		rows = n
	}
	for _, driver := range storetest.Drivers {
		b.Run(driver, func(b *testing.B) {
			b.Run("month", func(b *testing.B) {
				for range b.N {
					benchPurge(b, driver, rows, false)
				}
			})
			b.Run("day", func(b *testing.B) {
				for range b.N {
					benchPurge(b, driver, rows/30, true)
				}
			})
		})
	}
}

func benchPurge(b *testing.B, driver string, rows int64, day bool) {
	b.StopTimer()
	ctx := context.Background()
	st := storetest.Open(b, driver)
	ledger, err := NewLedger(LedgerParams{Store: st, Key: []byte(testKeyText)})
	require.NoError(b, err)
	eng, err := NewEngine(EngineParams{Store: st, Ledger: ledger, Policy: DefaultPolicy(), SessionIdle: testIdle,
		BatchSize: 1000, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(b, err)

	now, err := st.Now(ctx)
	require.NoError(b, err)
	from := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -14, 0)
	to := from.AddDate(0, 1, 0)
	if day {
		// The day before the cutoff, within the cutoff's month.
		to = DefaultPolicy().ConnectionLog.Cutoff(now).Truncate(time.Second)
		from = to.Add(-24 * time.Hour)
		if first := time.Date(to.Year(), to.Month(), 1, 0, 0, 0, 0, time.UTC); from.Before(first) {
			from = first
		}
	}
	start := time.Now()
	fill(b, st, from, to, rows)
	b.Logf("%s: %d rows from %s to %s generated in %s", driver, rows, from.Format(time.RFC3339), to.Format(time.RFC3339), time.Since(start).Round(time.Second))

	baseline := insertLatencies(ctx, b, st, 3*time.Second, nil)

	stop := make(chan struct{})
	during := make(chan []time.Duration, 1)
	// The inserter is owned by this function; it ends when stop is closed after the purge.
	go func() { during <- insertLatencies(ctx, b, st, 0, stop) }()
	b.StartTimer()
	purgeStart := time.Now()
	rep, err := eng.Run(ctx)
	took := time.Since(purgeStart)
	b.StopTimer()
	close(stop)
	lat := <-during
	require.NoError(b, err)
	require.Equal(b, rows, rep.Counts()[CategoryConnectionLog], "every row is purged, once")
	left, err := st.CountOldConnections(ctx, DefaultPolicy().ConnectionLog.Cutoff(now))
	require.NoError(b, err)
	require.Zero(b, left)

	b.ReportMetric(took.Seconds(), "purge-s")
	b.ReportMetric(float64(len(lat)), "inserts-during")
	b.ReportMetric(ms(percentile(baseline, 0.99)), "base-p99-ms")
	b.ReportMetric(ms(percentile(lat, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
	b.ReportMetric(ms(percentile(lat, 1)), "max-ms")
	var objects int
	for _, c := range rep.Categories {
		if c.Category == CategoryConnectionLog {
			objects = len(c.IDs)
		}
	}
	b.Logf("%s: purge of %d rows took %s (%d ledger entries); %d inserts during it: p50 %.2f ms, p99 %.2f ms, max %.2f ms (baseline p99 %.2f ms over %d)",
		driver, rows, took.Round(time.Millisecond), objects, len(lat),
		ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)), ms(percentile(lat, 1)), ms(percentile(baseline, 0.99)), len(baseline))
}

// fill writes rows connection-log entries spread over [from, to), within one month, in the
// database.
func fill(b *testing.B, st *store.Store, from, to time.Time, rows int64) {
	ctx := context.Background()
	step := to.Sub(from) / time.Duration(rows+1)
	if st.Driver() == store.DriverPostgres {
		require.NoError(b, st.EnsureLogPartitions(ctx, from, 1))
		require.NoError(b, st.ExecForTest(ctx, `INSERT INTO connection_log (at, actor_kind, actor_id, display_name, ip, port, action, webinar_id, protocol)
			SELECT ?::timestamptz + g::bigint * ?::bigint * interval '1 microsecond', 'guest', 'guest-' || g, 'Guest ' || (g % 1000),
				'10.' || (g % 250) || '.' || (g / 250 % 250) || '.' || (g / 62500 % 250), 40000 + g % 20000,
				'join', 'webinar-' || (g % 5000), 'wss'
			FROM generate_series(1, ?) g`, from, step.Microseconds(), rows))
		// A partition past its window was written more than a year ago: long since vacuumed
		// and checkpointed. So is this one, so that the purge does not pay for the load.
		require.NoError(b, st.ExecForTest(ctx, `VACUUM ANALYZE `+store.LogPartitionName(from)))
		require.NoError(b, st.ExecForTest(ctx, `CHECKPOINT`))
		return
	}
	const chunk = 250_000
	for lo := int64(1); lo <= rows; lo += chunk {
		hi := min(lo+chunk-1, rows)
		// The text format is the one the driver writes: time, then +00:00.
		require.NoError(b, st.ExecForTest(ctx, `WITH RECURSIVE s(g) AS (SELECT ? UNION ALL SELECT g + 1 FROM s WHERE g < ?)
			INSERT INTO connection_log (at, actor_kind, actor_id, display_name, ip, port, action, webinar_id, protocol)
			SELECT strftime('%Y-%m-%d %H:%M:%f', ?, '+' || (g * ?) || ' seconds') || '+00:00', 'guest', 'guest-' || g,
				'Guest ' || (g % 1000), '10.' || (g % 250) || '.' || (g / 250 % 250) || '.' || (g / 62500 % 250),
				40000 + g % 20000, 'join', 'webinar-' || (g % 5000), 'wss'
			FROM s`, lo, hi, from.Format("2006-01-02 15:04:05"), step.Seconds()))
	}
}

// insertLatencies logs a connection every millisecond, for d or until stop is closed, and
// returns how long each insert took.
func insertLatencies(ctx context.Context, b *testing.B, st *store.Store, d time.Duration, stop <-chan struct{}) []time.Duration {
	var (
		lat  []time.Duration
		tick = time.NewTicker(time.Millisecond)
	)
	defer tick.Stop()
	var deadline <-chan time.Time
	if d > 0 {
		deadline = time.After(d)
	}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return lat
		case <-deadline:
			return lat
		case <-tick.C:
		}
		start := time.Now()
		err := st.LogConnection(ctx, store.ConnectionEvent{At: time.Now(), ActorKind: store.ActorGuest, ActorID: fmt.Sprintf("bench-%d", i),
			IP: "192.0.2.44", Port: 50000, Action: "join", Protocol: "wss"})
		if err != nil {
			b.Errorf("insert during the purge: %v", err)
			return lat
		}
		lat = append(lat, time.Since(start))
	}
}

func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
