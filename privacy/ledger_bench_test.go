package privacy

import (
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"webinaire/store/storetest"
)

// BenchmarkLedger measures, on each database, what the tree costs: appending one entry (the
// entry, its leaf and the tree's new hashes, in one transaction), signing and appending a
// checkpoint after WEBINAIRE_BENCH_LEDGER entries (10000 by default), and verifying them
// all against their checkpoints from the public key.
func BenchmarkLedger(b *testing.B) {
	entries := 10_000
	if v := os.Getenv("WEBINAIRE_BENCH_LEDGER"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err, "WEBINAIRE_BENCH_LEDGER")
		entries = n
	}
	for _, driver := range storetest.Drivers {
		b.Run(driver, func(b *testing.B) {
			f := setup(&testing.T{}, driver)
			f.t = nil
			record := func(i int) {
				err := f.ledger.Record(f.ctx, f.st, Entry{Rule: "account inactive for 12 months", Category: CategoryAccounts,
					ObjectID: strconv.Itoa(i), Count: 1, Stores: []string{StoreDatabase}, At: testNow})
				require.NoError(b, err)
			}
			for i := range entries {
				record(i)
			}
			b.Run("append", func(b *testing.B) {
				for i := range b.N {
					record(entries + i)
				}
			})
			b.Run("checkpoint", func(b *testing.B) {
				for i := range b.N {
					record(-1 - i)
					_, err := f.ledger.Checkpoint(f.ctx)
					require.NoError(b, err)
				}
			})
			b.Run("verify", func(b *testing.B) {
				for range b.N {
					log, err := f.checkpoints.All(f.ctx)
					require.NoError(b, err)
					rep, err := VerifyLedger(f.ctx, f.st, VerifyParams{PublicKey: f.vkey, Log: log})
					require.NoError(b, err)
					b.ReportMetric(float64(rep.Entries), "entries")
				}
			})
		})
	}
}
