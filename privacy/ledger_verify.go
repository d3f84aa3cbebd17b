package privacy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"webinaire/store"
)

// TamperError says what of the ledger was changed: an entry (Seq), or the entries of a tree
// size (Size) when they can be told apart no further, or a checkpoint of the log (Checkpoint,
// counted from 1).
type TamperError struct {
	Seq        int64
	Size       int64
	Checkpoint int
	Reason     string
	// Err is the error behind Reason, if any: ErrWrongPublicKey for one.
	Err error
}

func (e *TamperError) Unwrap() error { return e.Err }

func (e *TamperError) Error() string {
	switch {
	case e.Seq > 0:
		return fmt.Sprintf("ledger entry %d: %s", e.Seq, e.Reason)
	case e.Checkpoint > 0:
		return fmt.Sprintf("checkpoint %d of the log: %s", e.Checkpoint, e.Reason)
	case e.Size > 0:
		return fmt.Sprintf("ledger tree size %d: %s", e.Size, e.Reason)
	default:
		return "ledger: " + e.Reason
	}
}

// ErrKeyMismatch says that the ledger key at hand is not the one the checkpoints were made with.
var ErrKeyMismatch = errors.New("the ledger key does not match the checkpoints")

// VerifyParams is what a check of the ledger compares its entries with.
type VerifyParams struct {
	// PublicKey is the public key of the checkpoints (vkey), as the server publishes it.
	PublicKey string
	// Log is the checkpoint log; nil when there is none.
	Log []byte
	// Saved is a checkpoint that an auditor saved earlier; nil for none.
	Saved []byte
	// KeyID is the key id of the ledger key at hand (LedgerKeyID); "" checks no key.
	KeyID string
	// Now tells a log that stopped: entries left unsealed while the latest checkpoint is
	// older than twice CheckpointEvery. The zero time skips that check.
	Now time.Time
}

// VerifyReport is what a check of the ledger found intact.
type VerifyReport struct {
	// Entries is the number of entries, the size of the tree recomputed from them.
	Entries int64
	// Checkpoints is the number of checkpoints in the log, all consistent with the entries.
	Checkpoints int
	// Latest is the latest checkpoint of the log, Saved the auditor's; nil when none.
	Latest, Saved *Checkpoint
	// Unsealed is the number of entries after the latest checkpoint.
	Unsealed int64
}

// VerifyLedger recomputes the ledger's Merkle tree from the entries in st and checks it
// against every checkpoint of the log (each signed by the public key, each consistent with
// the next) and against the saved checkpoint. It reads and writes nothing else, and needs
// no secret. It returns a *TamperError that names the first entry, or the tree size, that
// was changed, removed, inserted or moved; an error wrapping ErrWrongPublicKey when a
// checkpoint is signed by another key, ErrKeyMismatch when p.KeyID is not the checkpoints'.
func VerifyLedger(ctx context.Context, st *store.Store, p VerifyParams) (VerifyReport, error) {
	var rep VerifyReport
	v, err := note.NewVerifier(p.PublicKey)
	if err != nil {
		return rep, fmt.Errorf("verify ledger: public key: %w", err)
	}
	var log []Checkpoint
	for i, text := range SplitNotes(p.Log) {
		c, err := ParseCheckpoint(text, v)
		if err != nil {
			return rep, &TamperError{Checkpoint: i + 1, Reason: err.Error(), Err: err}
		}
		if len(log) > 0 {
			prev := log[len(log)-1]
			if c.Size < prev.Size || c.Time.Before(prev.Time) {
				return rep, &TamperError{Checkpoint: i + 1, Reason: fmt.Sprintf("%s comes after the %s (reordered or replaced)", c, prev)}
			}
		}
		if p.KeyID != "" && c.KeyID != p.KeyID {
			return rep, fmt.Errorf("%w: checkpoint %d was made with the key %s, the key file is %s", ErrKeyMismatch, i+1, c.KeyID, p.KeyID)
		}
		log = append(log, c)
	}
	var saved *Checkpoint
	if p.Saved != nil {
		c, err := ParseCheckpoint(p.Saved, v)
		if err != nil {
			return rep, fmt.Errorf("the saved checkpoint: %w", err)
		}
		saved = &c
	}

	t, err := recompute(ctx, st)
	if err != nil {
		return rep, err
	}
	rep.Entries = t.size
	if len(log) == 0 && t.size > 0 {
		return rep, &TamperError{Size: t.size, Reason: fmt.Sprintf("no checkpoint seals the %d entries (the checkpoint log is missing, empty or replaced)", t.size)}
	}
	// sealed is the size of the latest checkpoint found intact.
	var sealed int64
	for i := range log {
		if err := t.check(ctx, st, log[i], sealed, fmt.Sprintf("%s (checkpoint %d of the log)", log[i], i+1)); err != nil {
			return rep, err
		}
		sealed = log[i].Size
		rep.Checkpoints, rep.Latest = i+1, &log[i]
	}
	rep.Unsealed = t.size - sealed
	if saved != nil {
		lo := int64(0)
		for _, c := range log {
			if c.Size <= saved.Size {
				lo = c.Size
			}
		}
		if err := t.check(ctx, st, *saved, lo, "saved "+saved.String()); err != nil {
			return rep, err
		}
		if rep.Latest == nil || saved.Size > rep.Latest.Size {
			return rep, &TamperError{Size: saved.Size, Reason: fmt.Sprintf("the checkpoint log ends at size %d, before the saved %s: the log was truncated or replaced", sealed, saved)}
		}
		rep.Saved = saved
	}
	if rep.Unsealed > 0 && !p.Now.IsZero() && p.Now.Sub(rep.Latest.Time) > 2*CheckpointEvery {
		return rep, &TamperError{Seq: sealed + 1, Reason: fmt.Sprintf("not sealed: %d entries follow the latest %s, and checkpoints are made at least daily (the checkpoint log was truncated or replaced, or the server has not run since)", rep.Unsealed, rep.Latest)}
	}
	return rep, nil
}

// memTree is the Merkle tree recomputed from the entries, in memory.
type memTree struct {
	size   int64
	hashes []tlog.Hash
}

func (t *memTree) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(t.hashes)) {
			return nil, fmt.Errorf("tree hash %d: out of range", x)
		}
		out[i] = t.hashes[x]
	}
	return out, nil
}

func (t *memTree) leaf(n int64) tlog.Hash { return t.hashes[tlog.StoredHashIndex(0, n)] }

// recompute builds the tree of the entries in st; an entry missing from the sequence is a
// *TamperError.
func recompute(ctx context.Context, st *store.Store) (*memTree, error) {
	t := &memTree{}
	err := eachEntry(ctx, st, 0, func(e store.LedgerEntry) error {
		if e.Seq != t.size+1 {
			return &TamperError{Seq: t.size + 1, Reason: fmt.Sprintf("missing (the next entry is %d)", e.Seq)}
		}
		hs, err := tlog.StoredHashes(t.size, leafData(e), t)
		if err != nil {
			return err
		}
		t.hashes = append(t.hashes, hs...)
		t.size++
		return nil
	})
	return t, err
}

// check compares the tree with checkpoint c, the entries up to lo being known intact. When
// they differ it names the first entry that differs if the tree kept in the database still
// proves the checkpoint, the range of entries otherwise.
func (t *memTree) check(ctx context.Context, st *store.Store, c Checkpoint, lo int64, what string) error {
	if c.Size > t.size {
		return &TamperError{Seq: t.size + 1, Size: c.Size, Reason: fmt.Sprintf("removed: the %s seals %d entries, the ledger has %d (entries %d to %d are gone)", what, c.Size, t.size, t.size+1, c.Size)}
	}
	root, err := tlog.TreeHash(c.Size, t)
	if err != nil {
		return err
	}
	if root == c.Root {
		return nil
	}
	if c.Size-lo == 1 {
		return &TamperError{Seq: c.Size, Size: c.Size, Reason: "changed, inserted or moved since the " + what}
	}
	stored := storeReader(st.LedgerTree(ctx))
	if sroot, err := tlog.TreeHash(c.Size, stored); err == nil && sroot == c.Root {
		for n := lo; n < c.Size; n++ {
			proof, err := tlog.ProveRecord(c.Size, n, stored)
			if err != nil || tlog.CheckRecord(proof, c.Size, c.Root, n, t.leaf(n)) != nil {
				return &TamperError{Seq: n + 1, Size: c.Size, Reason: "changed, inserted or moved since the " + what}
			}
		}
	}
	return &TamperError{Size: c.Size, Reason: fmt.Sprintf("entries %d to %d do not match the %s: one or more of them were changed, removed, inserted or moved, and the tree in the database was rebuilt to match", lo+1, c.Size, what)}
}

// Proof is the inclusion proof of an entry in the tree of a checkpoint (RFC 6962): with the
// entry's leaf hash, the hashes give the checkpoint's root hash, which its signature covers.
type Proof struct {
	Entry      LedgerJSON `json:"entry"`
	LeafIndex  int64      `json:"leaf_index"`
	TreeSize   int64      `json:"tree_size"`
	RootHash   string     `json:"root_hash"`
	Hashes     []string   `json:"hashes"`
	Checkpoint string     `json:"checkpoint"`
}

// ProveEntry returns the inclusion proof of the entry seq in the tree of checkpoint (a
// signed note, checked with publicKey), from the tree kept in st. It checks the proof
// before it returns it.
func ProveEntry(ctx context.Context, st *store.Store, publicKey string, checkpoint []byte, seq int64) (Proof, error) {
	v, err := note.NewVerifier(publicKey)
	if err != nil {
		return Proof{}, fmt.Errorf("prove ledger entry: public key: %w", err)
	}
	c, err := ParseCheckpoint(checkpoint, v)
	if err != nil {
		return Proof{}, fmt.Errorf("prove ledger entry: the checkpoint: %w", err)
	}
	if seq < 1 || seq > c.Size {
		return Proof{}, fmt.Errorf("prove ledger entry %d: the %s seals entries 1 to %d", seq, c, c.Size)
	}
	e, err := st.LedgerEntry(ctx, seq)
	if err != nil {
		return Proof{}, fmt.Errorf("prove ledger entry %d: %w", seq, err)
	}
	proof, err := tlog.ProveRecord(c.Size, seq-1, storeReader(st.LedgerTree(ctx)))
	if err != nil {
		return Proof{}, fmt.Errorf("prove ledger entry %d: %w", seq, err)
	}
	if tlog.CheckRecord(proof, c.Size, c.Root, seq-1, tlog.RecordHash(leafData(e))) != nil {
		return Proof{}, &TamperError{Seq: seq, Size: c.Size, Reason: "no proof of it in the " + c.String() + ": changed, or the tree in the database was"}
	}
	out := Proof{Entry: toLedgerJSON(e), LeafIndex: seq - 1, TreeSize: c.Size, RootHash: c.Root.String(), Hashes: []string{}, Checkpoint: string(c.Note)}
	for _, h := range proof {
		out.Hashes = append(out.Hashes, h.String())
	}
	return out, nil
}

// Check checks the proof with the public key alone: the checkpoint is signed by it, and the
// entry, hashed as its leaf, leads through the hashes to the checkpoint's root.
func (p Proof) Check(publicKey string) error {
	v, err := note.NewVerifier(publicKey)
	if err != nil {
		return fmt.Errorf("check proof: public key: %w", err)
	}
	c, err := ParseCheckpoint([]byte(p.Checkpoint), v)
	if err != nil {
		return fmt.Errorf("check proof: the checkpoint: %w", err)
	}
	if c.Size != p.TreeSize || c.Root.String() != p.RootHash {
		return errors.New("check proof: the tree is not the checkpoint's")
	}
	proof := make(tlog.RecordProof, len(p.Hashes))
	for i, h := range p.Hashes {
		if proof[i], err = tlog.ParseHash(h); err != nil {
			return fmt.Errorf("check proof: hash %d: %w", i, err)
		}
	}
	e := p.Entry
	leaf := tlog.RecordHash(leafData(store.LedgerEntry{Seq: e.Seq, At: e.At, Rule: e.Rule, Category: e.Category,
		ObjectHash: e.ObjectHash, Count: e.Count, Stores: strings.Join(e.Stores, ",")}))
	if leaf.String() != e.LeafHash || e.Seq != p.LeafIndex+1 {
		return errors.New("check proof: the entry does not hash to its leaf")
	}
	if err := tlog.CheckRecord(proof, c.Size, c.Root, p.LeafIndex, leaf); err != nil {
		return fmt.Errorf("check proof: %w", err)
	}
	return nil
}
