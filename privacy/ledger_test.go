package privacy

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/sumdb/tlog"

	"webinaire/store"
)

// history is a fixture whose ledger was written by a real run over the seed data, then by
// three deletions, each sealed by a checkpoint of its own: checkpoints of sizes n-3 (the
// run), n-2, n-1 and n. It returns the fixture and n.
func history(t *testing.T, driver string) (*fixture, int64) {
	t.Helper()
	f := setup(t, driver)
	f.seed()
	_, err := f.eng.Run(f.ctx)
	require.NoError(t, err)
	for i, rule := range []string{"deleted by the organizer", "restriction of processing (GDPR art. 18)", "deleted by the organizer"} {
		require.NoError(t, f.ledger.Record(f.ctx, f.st, Entry{Rule: rule, Category: CategoryRecordings, ObjectID: "object-" + rule,
			Count: int64(i + 1), Stores: []string{StoreDatabase}, At: testNow}))
		_, err := f.ledger.Checkpoint(f.ctx)
		require.NoError(t, err)
	}
	rep, err := f.verify(nil)
	require.NoError(t, err, "the ledger a run writes verifies")
	require.GreaterOrEqual(t, rep.Entries, int64(11))
	require.Equal(t, 4, rep.Checkpoints)
	require.Zero(t, rep.Unsealed)
	return f, rep.Entries
}

// reseal is what an attacker with write access to the database does after changing
// entries: rebuild the tree kept beside them, so that it matches them.
func (f *fixture) reseal() {
	f.t.Helper()
	require.NoError(f.t, f.st.ExecForTest(f.ctx, `DELETE FROM ledger_tree`))
	tree, err := recompute(f.ctx, f.st)
	require.NoError(f.t, err)
	require.NoError(f.t, f.st.GrowLedgerTree(f.ctx, func(int64, store.HashReader) ([]store.TreeHash, error) {
		out := make([]store.TreeHash, len(tree.hashes))
		for i, h := range tree.hashes {
			out[i] = store.TreeHash{Idx: int64(i), Hash: h[:]}
		}
		return out, nil
	}))
}

// TestLedgerTamperingIsDetectedAndNamed plays an attacker with write access to the database
// (entries and tree) but not to the checkpoint log nor the signing key: every change is
// found, and named by its entry, or by the tree size when the tree was rebuilt to hide it.
func TestLedgerTamperingIsDetectedAndNamed(t *testing.T) {
	const (
		last = -2 // stands for n, the last entry, in the cases below
		run  = -1 // stands for n-3, the size of the run's checkpoint
	)
	cases := []struct {
		name   string
		tamper func(f *fixture, n int64)
		seq    int64 // the entry named, 0 for none
		size   int64 // the tree size named, 0 for none
		reason string
	}{
		{"count changed", sql(`UPDATE deletion_ledger SET count = count + 1 WHERE seq = 4`), 4, run, "changed"},
		{"rule changed", sql(`UPDATE deletion_ledger SET rule = 'nothing happened' WHERE seq = 6`), 6, run, "changed"},
		{"object changed", sql(`UPDATE deletion_ledger SET object_hash = (SELECT object_hash FROM deletion_ledger WHERE seq = 1) WHERE seq = 2`), 2, run, "changed"},
		{"changed and re-sealed", func(f *fixture, n int64) {
			sql(`UPDATE deletion_ledger SET count = count + 1 WHERE seq = 4`)(f, n)
			f.reseal()
		}, 0, run, "the tree in the database was rebuilt"},
		{"last entry changed and re-sealed", func(f *fixture, n int64) {
			sql(`UPDATE deletion_ledger SET count = 99 WHERE seq = (SELECT MAX(seq) FROM deletion_ledger)`)(f, n)
			f.reseal()
		}, last, last, "changed"},
		{"tail deleted", func(f *fixture, n int64) {
			sql(`DELETE FROM deletion_ledger WHERE seq = (SELECT MAX(seq) FROM deletion_ledger)`)(f, n)
			f.reseal()
		}, last, last, "removed"},
		{"entry deleted in the middle", sql(`DELETE FROM deletion_ledger WHERE seq = 3`), 3, 0, "missing"},
		{"entry deleted in the middle, renumbered and re-sealed", func(f *fixture, n int64) {
			sql(`DELETE FROM deletion_ledger WHERE seq = 3`,
				`UPDATE deletion_ledger SET seq = seq + 1000 WHERE seq > 3`,
				`UPDATE deletion_ledger SET seq = seq - 1001 WHERE seq > 1000`)(f, n)
			f.reseal()
		}, 0, run, "removed"},
		{"entries swapped", sql(
			`UPDATE deletion_ledger SET seq = -1 WHERE seq = 3`,
			`UPDATE deletion_ledger SET seq = 3 WHERE seq = 4`,
			`UPDATE deletion_ledger SET seq = 4 WHERE seq = -1`,
		), 3, run, "moved"},
		{"entry inserted in the middle", sql(
			`UPDATE deletion_ledger SET seq = seq + 1000 WHERE seq >= 5`,
			`UPDATE deletion_ledger SET seq = seq - 999 WHERE seq > 1000`,
			`INSERT INTO deletion_ledger (seq, at, rule, category, object_hash, count, stores, prev_hash, hash)
			 SELECT 5, at, rule, category, object_hash, count, stores, '', '' FROM deletion_ledger WHERE seq = 4`,
		), 5, run, "inserted"},
	}
	eachDriver(t, func(t *testing.T, driver string) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				f, n := history(t, driver)
				tc.tamper(f, n)
				_, err := f.verify(nil)
				var te *TamperError
				require.ErrorAs(t, err, &te)
				seq, size := tc.seq, tc.size
				if seq == last {
					seq = n
				}
				switch size {
				case last:
					size = n
				case run:
					size = n - 3
				}
				require.Equal(t, seq, te.Seq, "got entry %d named, want %d: %v", te.Seq, seq, err)
				require.Equal(t, size, te.Size, "got tree size %d named, want %d: %v", te.Size, size, err)
				require.Contains(t, te.Reason, tc.reason)

				// A day later the server makes a checkpoint again, unless the tree it keeps
				// was rebuilt: it signs no tree that is not consistent with its last one.
				// Either way the change stays found.
				f.clock = testNow.Add(CheckpointEvery)
				_, cerr := f.ledger.Checkpoint(f.ctx)
				if strings.Contains(tc.name, "re-sealed") || tc.name == "tail deleted" || tc.name == "entry inserted in the middle" {
					require.ErrorAs(t, cerr, new(*TamperError))
				} else {
					require.NoError(t, cerr)
				}
				_, again := f.verify(nil)
				require.EqualError(t, again, err.Error())
			})
		}
	})
}

func sql(statements ...string) func(f *fixture, n int64) {
	return func(f *fixture, n int64) {
		for _, s := range statements {
			require.NoError(f.t, f.st.ExecForTest(f.ctx, s))
		}
	}
}

// TestLedgerCheckpointLogTamperingIsDetected replaces the checkpoint log: with no log, a log
// signed by another key, a checkpoint changed, checkpoints reordered, and a log cut back
// before the checkpoint an auditor saved.
func TestLedgerCheckpointLogTamperingIsDetected(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		f, n := history(t, driver)
		log, err := f.checkpoints.All(f.ctx)
		require.NoError(t, err)
		notes := SplitNotes(log)
		require.Len(t, notes, 4)
		saved, err := f.checkpoints.Latest(f.ctx)
		require.NoError(t, err)
		rep, err := f.verify(saved)
		require.NoError(t, err)
		require.Equal(t, n, rep.Saved.Size)

		replace := func(text []byte) {
			t.Helper()
			require.NoError(t, os.WriteFile(f.checkpoints.Path, text, 0o644))
		}
		var te *TamperError

		replace(nil)
		_, err = f.verify(nil)
		require.ErrorAs(t, err, &te)
		require.Equal(t, n, te.Size)
		require.Contains(t, te.Reason, "no checkpoint seals")

		other := setup(t, "sqlite")
		_, err = other.ledger.Checkpoint(f.ctx)
		require.NoError(t, err)
		otherLog, err := other.checkpoints.All(f.ctx)
		require.NoError(t, err)
		replace(otherLog)
		_, err = f.verify(nil)
		require.ErrorAs(t, err, &te)
		require.Equal(t, 1, te.Checkpoint)
		require.ErrorContains(t, err, "wrong public key")

		replace(bytes.Replace(log, []byte("\n"+itoa(n-1)+"\n"), []byte("\n"+itoa(n-2)+"\n"), 1))
		_, err = f.verify(nil)
		require.ErrorAs(t, err, &te)
		require.Equal(t, 3, te.Checkpoint)
		require.Contains(t, te.Reason, "the checkpoint was altered")

		replace(bytes.Join([][]byte{notes[0], notes[2], notes[1], notes[3]}, []byte("\n")))
		_, err = f.verify(nil)
		require.ErrorAs(t, err, &te)
		require.Equal(t, 3, te.Checkpoint)
		require.Contains(t, te.Reason, "reordered or replaced")

		// Cut back to the run's checkpoint: the entries after it look unsealed, which the
		// saved checkpoint shows to be false.
		replace(notes[0])
		rep, err = f.verify(nil)
		require.NoError(t, err, "without the saved checkpoint a log cut back the same day looks like a log behind")
		require.EqualValues(t, 3, rep.Unsealed)
		_, err = f.verify(saved)
		require.ErrorAs(t, err, &te)
		require.Equal(t, n, te.Size)
		require.Contains(t, te.Reason, "the checkpoint log ends at size "+itoa(n-3)+", before the saved checkpoint")
		// Two days later, checkpoints should have been made: the cut shows by itself.
		f.clock = testNow.Add(2*CheckpointEvery + time.Second)
		_, err = f.verify(nil)
		require.ErrorAs(t, err, &te)
		require.Equal(t, n-2, te.Seq)
		require.Contains(t, te.Reason, "not sealed")
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestLedgerVerifySaysWhenTheKeysDoNotMatch(t *testing.T) {
	f, _ := history(t, "sqlite")
	log, err := f.checkpoints.All(f.ctx)
	require.NoError(t, err)

	_, err = VerifyLedger(f.ctx, f.st, VerifyParams{PublicKey: f.vkey, Log: log, KeyID: LedgerKeyID([]byte(strings.Repeat("k", 32)))})
	require.ErrorIs(t, err, ErrKeyMismatch)
	require.ErrorContains(t, err, "checkpoint 1 was made with the key "+f.ledger.KeyID())

	_, otherKey, err := GenerateSigningKey("webinaire-ledger")
	require.NoError(t, err)
	_, err = VerifyLedger(f.ctx, f.st, VerifyParams{PublicKey: otherKey, Log: log})
	require.ErrorIs(t, err, ErrWrongPublicKey)

	rep, err := VerifyLedger(f.ctx, f.st, VerifyParams{PublicKey: f.vkey, Log: log})
	require.NoError(t, err, "the public key alone verifies")
	require.Equal(t, 4, rep.Checkpoints)
}

func TestLedgerProvesAnEntry(t *testing.T) {
	f, n := history(t, "sqlite")
	latest, err := f.checkpoints.Latest(f.ctx)
	require.NoError(t, err)
	for seq := int64(1); seq <= n; seq++ {
		p, err := ProveEntry(f.ctx, f.st, f.vkey, latest, seq)
		require.NoError(t, err)
		require.Equal(t, seq, p.Entry.Seq)
		require.NoError(t, p.Check(f.vkey), "the public key alone checks the proof")
		if seq == 2 {
			p.Entry.Count++
			require.ErrorContains(t, p.Check(f.vkey), "the entry does not hash to its leaf")
			p.Entry.Count--
			p.Entry.LeafHash = p.Hashes[0]
			require.Error(t, p.Check(f.vkey), "a proof proves one leaf only")
		}
	}
	_, err = ProveEntry(f.ctx, f.st, f.vkey, latest, n+1)
	require.ErrorContains(t, err, "seals entries 1 to "+itoa(n))

	require.NoError(t, f.st.ExecForTest(f.ctx, `UPDATE deletion_ledger SET count = 7 WHERE seq = 2`))
	_, err = ProveEntry(f.ctx, f.st, f.vkey, latest, 2)
	var te *TamperError
	require.ErrorAs(t, err, &te)
	require.EqualValues(t, 2, te.Seq)
}

// TestLedgerUpgradeChecksTheChainAndBuildsTheTree writes entries as the ledger did before
// the tree, a hash chain, and upgrades it: once when the chain is intact, never when not.
func TestLedgerUpgradeChecksTheChainAndBuildsTheTree(t *testing.T) {
	chained := func(t *testing.T, f *fixture, count int) {
		t.Helper()
		prev := ""
		for seq := int64(1); seq <= int64(count); seq++ {
			e := store.LedgerEntry{Seq: seq, At: testNow.Add(time.Duration(seq) * time.Second), Rule: "account inactive for 12 months",
				Category: CategoryAccounts, ObjectHash: f.ledger.ObjectHash("account " + itoa(seq)), Count: 1, Stores: StoreDatabase, PrevHash: prev}
			e.Hash = chainHash(e)
			require.NoError(t, f.st.ExecForTest(f.ctx, `INSERT INTO deletion_ledger (seq, at, rule, category, object_hash, count, stores, prev_hash, hash)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, e.At, e.Rule, e.Category, e.ObjectHash, e.Count, e.Stores, e.PrevHash, e.Hash))
			prev = e.Hash
		}
	}
	eachDriver(t, func(t *testing.T, driver string) {
		t.Run("intact", func(t *testing.T) {
			f := setup(t, driver)
			chained(t, f, 5)
			added, err := f.ledger.Upgrade(f.ctx)
			require.NoError(t, err)
			require.EqualValues(t, 5, added)
			added, err = f.ledger.Upgrade(f.ctx)
			require.NoError(t, err)
			require.Zero(t, added, "the second upgrade does nothing")

			require.NoError(t, f.ledger.Record(f.ctx, f.st, Entry{Rule: "deleted by the organizer", Category: CategoryRecordings, ObjectID: "r", Count: 1, At: testNow}))
			_, err = f.ledger.Checkpoint(f.ctx)
			require.NoError(t, err)
			rep, err := f.verify(nil)
			require.NoError(t, err)
			require.EqualValues(t, 6, rep.Entries)
			require.Equal(t, 2, rep.Checkpoints, "one at the upgrade, one after the new entry")
		})
		t.Run("broken", func(t *testing.T) {
			f := setup(t, driver)
			chained(t, f, 5)
			require.NoError(t, f.st.ExecForTest(f.ctx, `UPDATE deletion_ledger SET count = 3 WHERE seq = 4`))
			_, err := f.ledger.Upgrade(f.ctx)
			var te *TamperError
			require.ErrorAs(t, err, &te)
			require.EqualValues(t, 4, te.Seq)
			require.Contains(t, te.Reason, "changed")
			stored, err := f.st.LedgerTreeCount(f.ctx)
			require.NoError(t, err)
			require.Zero(t, stored, "a broken chain goes into no tree")
			_, err = f.checkpoints.All(f.ctx)
			require.ErrorIs(t, err, ErrNoCheckpoints, "and no checkpoint seals it")
			require.Error(t, f.ledger.Record(f.ctx, f.st, Entry{Rule: "r", Category: CategoryAccounts, ObjectID: "x", At: testNow}),
				"nothing is appended to a ledger that is not in its tree")
		})
	})
}

func TestLedgerHoldsNoPersonalData(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		f, _ := history(t, driver)
		var buf bytes.Buffer
		require.NoError(t, f.ledger.Export(f.ctx, &buf, "json"))
		log, err := f.checkpoints.All(f.ctx)
		require.NoError(t, err)
		buf.Write(log)
		for subject, id := range f.ids {
			require.NotContains(t, buf.String(), id, "the ledger names %s only by a keyed hash", subject)
		}
		require.NotContains(t, buf.String(), "@example.org")
		require.NotContains(t, buf.String(), "192.0.2.10")

		other, err := NewLedger(LedgerParams{Store: f.st, Key: []byte(strings.Repeat("k", 32))})
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
	e, err := f.st.LedgerEntry(f.ctx, 1)
	require.NoError(t, err)
	require.Equal(t, tlog.RecordHash(leafData(e)).String(), entries[0].LeafHash)

	var cs bytes.Buffer
	require.NoError(t, f.ledger.Export(f.ctx, &cs, "csv"))
	rows, err := csv.NewReader(&cs).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, int(n)+1, "a header and one line per entry")
	require.Equal(t, "seq", rows[0][0])
	require.Equal(t, entries[len(entries)-1].LeafHash, rows[len(rows)-1][7])

	require.Error(t, f.ledger.Export(f.ctx, &cs, "xml"))
}

func TestSplitNotesReadsTheTailOfALog(t *testing.T) {
	f, _ := history(t, "sqlite")
	log, err := f.checkpoints.All(f.ctx)
	require.NoError(t, err)
	notes := SplitNotes(log)
	require.Len(t, notes, 4)
	require.Equal(t, log, bytes.Join(append(notes, nil), []byte("\n")), "the notes are the log, each followed by an empty line")
	for cut := 1; cut <= len(log)-len(notes[3])-1; cut++ {
		got := SplitNotes(log[cut:])
		require.NotEmpty(t, got, "cut at %d", cut)
		require.Equal(t, notes[3], got[len(got)-1], "cut at %d: the last note is whole", cut)
	}
}

func TestLedgerCheckpointsFromAnEmptyLedger(t *testing.T) {
	f := setup(t, "sqlite")
	c, err := f.ledger.Checkpoint(f.ctx)
	require.NoError(t, err)
	require.Zero(t, c.Size)
	again, err := f.ledger.Checkpoint(f.ctx)
	require.NoError(t, err)
	require.Equal(t, c.Note, again.Note, "nothing new, no new checkpoint")
	require.NoError(t, f.ledger.Record(f.ctx, f.st, Entry{Rule: "deleted by the organizer", Category: CategoryRecordings, ObjectID: "r", Count: 1, At: testNow}))
	c, err = f.ledger.Checkpoint(f.ctx)
	require.NoError(t, err, "every tree extends the empty one")
	require.EqualValues(t, 1, c.Size)
	latest, ok := f.ledger.LatestCheckpoint()
	require.True(t, ok)
	require.Equal(t, c.Note, latest.Note)
	rep, err := f.verify(nil)
	require.NoError(t, err)
	require.Equal(t, 2, rep.Checkpoints)
}

func TestLedgerStartSealsAtOnceThenOnItsTicker(t *testing.T) {
	f := setup(t, "sqlite")
	require.NoError(t, f.ledger.Record(f.ctx, f.st, Entry{Rule: "deleted by the organizer", Category: CategoryRecordings, ObjectID: "r", Count: 1, At: testNow}))
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() { // owned by the test, ends with ctx
		defer close(done)
		f.ledger.Start(ctx, time.Hour)
	}()
	require.Eventually(t, func() bool {
		c, ok := f.ledger.LatestCheckpoint()
		return ok && c.Size == 1
	}, 10*time.Second, 5*time.Millisecond, "the entry written before the start is sealed at once")
	cancel()
	<-done
	rep, err := f.verify(nil)
	require.NoError(t, err)
	require.Zero(t, rep.Unsealed)
}
