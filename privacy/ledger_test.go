package privacy

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// history is a fixture whose ledger was written by a real run over the seed data.
func history(t *testing.T, driver string) (*fixture, int64) {
	t.Helper()
	f := setup(t, driver)
	f.seed()
	_, err := f.eng.Run(f.ctx)
	require.NoError(t, err)
	n, err := f.ledger.Verify(f.ctx)
	require.NoError(t, err, "the chain a run writes verifies")
	require.GreaterOrEqual(t, n, int64(8))
	return f, n
}

func TestLedgerVerifyFindsTheFirstBrokenEntry(t *testing.T) {
	cases := []struct {
		name    string
		tamper  []string
		seq     int64
		reason  string
		entries int64 // intact before the break
	}{
		{"count changed", []string{`UPDATE deletion_ledger SET count = count + 1 WHERE seq = 4`}, 4, "changed", 3},
		{"rule changed", []string{`UPDATE deletion_ledger SET rule = 'nothing happened' WHERE seq = 6`}, 6, "changed", 5},
		{"object changed", []string{`UPDATE deletion_ledger SET object_hash = (SELECT object_hash FROM deletion_ledger WHERE seq = 1) WHERE seq = 2`}, 2, "changed", 1},
		{"entry removed", []string{`DELETE FROM deletion_ledger WHERE seq = 3`}, 3, "missing", 2},
		{"entries swapped", []string{
			`UPDATE deletion_ledger SET seq = -1 WHERE seq = 3`,
			`UPDATE deletion_ledger SET seq = 3 WHERE seq = 4`,
			`UPDATE deletion_ledger SET seq = 4 WHERE seq = -1`,
		}, 3, "does not follow", 2},
		{"entry appended by hand", []string{
			`INSERT INTO deletion_ledger (seq, at, rule, category, object_hash, count, stores, prev_hash, hash)
			 SELECT seq + 1, at, rule, category, object_hash, count, stores, hash, hash FROM deletion_ledger ORDER BY seq DESC LIMIT 1`,
		}, 0, "changed", 0},
	}
	eachDriver(t, func(t *testing.T, driver string) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				f, n := history(t, driver)
				for _, sql := range tc.tamper {
					require.NoError(t, f.st.ExecForTest(f.ctx, sql))
				}
				seq, entries := tc.seq, tc.entries
				if seq == 0 { // the appended entry
					seq, entries = n+1, n
				}
				got, err := f.ledger.Verify(f.ctx)
				var ce *ChainError
				require.ErrorAs(t, err, &ce)
				require.Equal(t, seq, ce.Seq, "got the break at entry %d, want %d (%s)", ce.Seq, seq, ce.Reason)
				require.Contains(t, ce.Reason, tc.reason)
				require.Equal(t, entries, got)
			})
		}
	})
}

func TestLedgerHoldsNoPersonalData(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		f, _ := history(t, driver)
		var buf bytes.Buffer
		require.NoError(t, f.ledger.Export(f.ctx, &buf, "json"))
		for subject, id := range f.ids {
			require.NotContains(t, buf.String(), id, "the ledger names %s only by a keyed hash", subject)
		}
		require.NotContains(t, buf.String(), "@example.org")
		require.NotContains(t, buf.String(), "192.0.2.10")

		other, err := NewLedger(f.st, []byte(strings.Repeat("k", 32)))
		require.NoError(t, err)
		require.NotEqual(t, f.ledger.ObjectHash(f.ids["old-1"]), other.ObjectHash(f.ids["old-1"]), "without the key a guess cannot be confirmed")
	})
}

func TestLedgerExport(t *testing.T) {
	f, n := history(t, "sqlite")
	var js bytes.Buffer
	require.NoError(t, f.ledger.Export(f.ctx, &js, "json"))
	var entries []LedgerJSON
	require.NoError(t, json.Unmarshal(js.Bytes(), &entries))
	require.Len(t, entries, int(n))
	require.EqualValues(t, 1, entries[0].Seq)
	require.Equal(t, []string{StoreDatabase}, entries[0].Stores)
	require.Equal(t, entries[0].Hash, entries[1].PrevHash)

	var cs bytes.Buffer
	require.NoError(t, f.ledger.Export(f.ctx, &cs, "csv"))
	rows, err := csv.NewReader(&cs).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, int(n)+1, "a header and one line per entry")
	require.Equal(t, "seq", rows[0][0])
	require.Equal(t, entries[len(entries)-1].Hash, rows[len(rows)-1][8])

	require.Error(t, f.ledger.Export(f.ctx, &cs, "xml"))
}
