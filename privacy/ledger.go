package privacy

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"webinaire/store"
)

// Stores that confirm a deletion.
const (
	StoreDatabase = "database"
	StoreFiles    = "files"
)

// Entry is a deletion to record: which rule deleted how many objects of which category,
// and which stores confirmed it. ObjectID is hashed with the ledger's key before it is written.
type Entry struct {
	Rule     string
	Category string
	ObjectID string
	Count    int64
	Stores   []string
	At       time.Time
}

// LedgerParams configures the ledger.
type LedgerParams struct {
	// Store keeps the entries and the tree's hashes.
	Store *store.Store
	// Key is the secret of the keyed hashes of object ids, at least 32 bytes.
	Key []byte
	// SigningKey signs the checkpoints (an Ed25519 private key in the note format, see
	// GenerateSigningKey) and Checkpoints keeps them, outside the database. Without them the
	// ledger records entries but makes no checkpoint.
	SigningKey  string
	Checkpoints CheckpointLog
	// Now is the clock of the checkpoints; nil is time.Now.
	Now func() time.Time
	// Logger receives the checkpoints made and refused; nil discards.
	Logger *slog.Logger
}

// Ledger is the append-only deletion ledger: entries that hold no personal data, each a leaf
// of an RFC 6962 Merkle tree, whose root is signed into checkpoints kept outside the
// database, so that an auditor holding a checkpoint and the public key can prove that no
// entry it covers was changed, removed or moved since.
type Ledger struct {
	store       *store.Store
	key         []byte
	signer      note.Signer
	verifier    note.Verifier
	vkey        string
	checkpoints CheckpointLog
	now         func() time.Time
	log         *slog.Logger
	// latest is the latest checkpoint made or read, served to anyone who asks.
	latest atomic.Pointer[Checkpoint]
}

// NewLedger returns the ledger that p describes.
func NewLedger(p LedgerParams) (*Ledger, error) {
	if p.Store == nil {
		return nil, errors.New("new ledger: a store is required")
	}
	if len(p.Key) < 32 {
		return nil, errors.New("new ledger: the key must have at least 32 bytes")
	}
	if (p.SigningKey == "") != (p.Checkpoints == nil) {
		return nil, errors.New("new ledger: a signing key and a checkpoint log go together")
	}
	l := &Ledger{store: p.Store, key: p.Key, checkpoints: p.Checkpoints, now: p.Now, log: p.Logger}
	if p.SigningKey != "" {
		var err error
		if l.signer, l.vkey, l.verifier, err = SigningKey(p.SigningKey); err != nil {
			return nil, fmt.Errorf("new ledger: %w", err)
		}
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return l, nil
}

// ObjectHash is the keyed hash of an object id as the ledger writes it: without the key, no
// one can tell which object an entry is about, nor confirm a guess.
func (l *Ledger) ObjectHash(id string) string {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))
}

// KeyID names the ledger's key in its checkpoints without revealing it, so that a check
// with another key says so.
func (l *Ledger) KeyID() string { return LedgerKeyID(l.key) }

// LedgerKeyID is the key id of the ledger key key: the first 8 bytes of its keyed hash of a
// fixed text, in hexadecimal.
func LedgerKeyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("webinaire deletion ledger key id"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// Record appends e. Pass the store of the transaction that deletes, so that the deletion and
// its entry commit together. The entry's leaf and the tree's new hashes are written with it.
func (l *Ledger) Record(ctx context.Context, tx *store.Store, e Entry) error {
	stores := slices.Clone(e.Stores)
	slices.Sort(stores)
	_, err := tx.AppendLedger(ctx, store.LedgerEntry{
		At:         e.At,
		Rule:       e.Rule,
		Category:   e.Category,
		ObjectHash: l.ObjectHash(e.ObjectID),
		Count:      e.Count,
		Stores:     strings.Join(stores, ","),
	}, sealLeaf)
	if err != nil {
		return fmt.Errorf("record deletion: %w", err)
	}
	return nil
}

// sealLeaf returns the tree hashes that entry e, leaf e.Seq-1, adds to the tree.
func sealLeaf(e store.LedgerEntry, r store.HashReader) ([]store.TreeHash, error) {
	return treeHashes(e.Seq-1, leafData(e), storeReader(r))
}

// treeHashes returns the hashes that the leaf n with data adds to the tree, at their index.
func treeHashes(n int64, data []byte, r tlog.HashReader) ([]store.TreeHash, error) {
	hashes, err := tlog.StoredHashes(n, data, r)
	if err != nil {
		return nil, fmt.Errorf("leaf %d: %w", n+1, err)
	}
	out := make([]store.TreeHash, len(hashes))
	first := tlog.StoredHashIndex(0, n)
	for i, h := range hashes {
		out[i] = store.TreeHash{Idx: first + int64(i), Hash: h[:]}
	}
	return out, nil
}

// storeReader reads the tree's hashes kept by the store.
func storeReader(r store.HashReader) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		raw, err := r(idx)
		if err != nil {
			return nil, err
		}
		out := make([]tlog.Hash, len(raw))
		for i, b := range raw {
			if len(b) != tlog.HashSize {
				return nil, fmt.Errorf("ledger tree hash %d: %d bytes, want %d", idx[i], len(b), tlog.HashSize)
			}
			out[i] = tlog.Hash(b)
		}
		return out, nil
	})
}

// leafData is an entry as its leaf of the tree holds it: its fields, each length-prefixed so
// that no two entries read alike. The sequence number is in it: an entry cannot move.
func leafData(e store.LedgerEntry) []byte {
	var b []byte
	b = append(b, "webinaire deletion ledger entry v1\n"...)
	for _, f := range []string{
		strconv.FormatInt(e.Seq, 10), e.At.UTC().Format(time.RFC3339Nano), e.Rule, e.Category,
		e.ObjectHash, strconv.FormatInt(e.Count, 10), e.Stores,
	} {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
		b = append(b, ';')
	}
	return b
}

// LeafHash is the RFC 6962 leaf hash of an entry, in base64 as the checkpoints write hashes.
func LeafHash(e store.LedgerEntry) string {
	return tlog.RecordHash(leafData(e)).String()
}

// chainHash is the seal of the entries written before the tree: the SHA-256 of its fields
// and of the previous entry's hash, each field length-prefixed. It is checked once more
// when those entries go into the tree.
func chainHash(e store.LedgerEntry) string {
	h := sha256.New()
	for _, f := range []string{
		strconv.FormatInt(e.Seq, 10), e.At.UTC().Format(time.RFC3339Nano), e.Rule, e.Category,
		e.ObjectHash, strconv.FormatInt(e.Count, 10), e.Stores, e.PrevHash,
	} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Upgrade puts into the tree the entries written before it, after checking their hash chain
// once more, then makes a checkpoint. It returns how many entries it added; a broken chain
// is a *TamperError and adds nothing. Run by serve, migrate and the retention commands; the
// second time it adds nothing.
func (l *Ledger) Upgrade(ctx context.Context) (int64, error) {
	var added int64
	err := l.store.GrowLedgerTree(ctx, func(stored int64, r store.HashReader) ([]store.TreeHash, error) {
		size, err := l.store.LedgerSize(ctx)
		if err != nil {
			return nil, err
		}
		n, ok := leavesOf(stored, size)
		if !ok {
			return nil, &TamperError{Reason: fmt.Sprintf("the database holds %d tree hashes, which is no tree of up to %d entries", stored, size)}
		}
		if n == size {
			return nil, nil
		}
		prev := ""
		if n > 0 {
			e, err := l.store.LedgerEntry(ctx, n)
			if err != nil {
				return nil, err
			}
			prev = e.Hash
		}
		fresh := map[int64]tlog.Hash{}
		read := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			var missing []int64
			for i, x := range idx {
				h, ok := fresh[x]
				out[i] = h
				if !ok {
					missing = append(missing, x)
				}
			}
			if len(missing) == 0 {
				return out, nil
			}
			got, err := storeReader(r).ReadHashes(missing)
			if err != nil {
				return nil, err
			}
			for i, x := range idx {
				if _, ok := fresh[x]; !ok {
					out[i], got = got[0], got[1:]
				}
			}
			return out, nil
		})
		var hashes []store.TreeHash
		err = l.eachEntry(ctx, n, func(e store.LedgerEntry) error {
			switch {
			case e.Seq != n+1:
				return &TamperError{Seq: n + 1, Reason: fmt.Sprintf("missing (the next entry is %d)", e.Seq)}
			case e.Hash == "":
				return &TamperError{Seq: e.Seq, Reason: "not in the tree and not sealed by the chain of the entries written before it (inserted)"}
			case e.PrevHash != prev:
				return &TamperError{Seq: e.Seq, Reason: "does not follow the previous entry in the chain (removed, inserted or reordered)"}
			case chainHash(e) != e.Hash:
				return &TamperError{Seq: e.Seq, Reason: "its content does not match its chain hash (changed)"}
			}
			hs, err := treeHashes(n, leafData(e), read)
			if err != nil {
				return err
			}
			for _, h := range hs {
				fresh[h.Idx] = tlog.Hash(h.Hash)
			}
			hashes = append(hashes, hs...)
			prev, n, added = e.Hash, n+1, added+1
			return nil
		})
		return hashes, err
	})
	if err != nil {
		return 0, fmt.Errorf("upgrade ledger: %w", err)
	}
	if added > 0 {
		l.log.InfoContext(ctx, "ledger chain checked and put into the tree", "entries", added)
	}
	if l.signer != nil {
		if _, err := l.Checkpoint(ctx); err != nil {
			return added, err
		}
	}
	return added, nil
}

// leavesOf returns the number of leaves n (0 ≤ n ≤ max) whose tree has stored hashes.
func leavesOf(stored, max int64) (int64, bool) {
	lo, hi := int64(0), max
	for lo < hi {
		mid := lo + (hi-lo)/2
		if tlog.StoredHashCount(mid) < stored {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, tlog.StoredHashCount(lo) == stored
}

// eachEntry calls fn for every entry after seq, in order.
func (l *Ledger) eachEntry(ctx context.Context, after int64, fn func(store.LedgerEntry) error) error {
	return eachEntry(ctx, l.store, after, fn)
}

func eachEntry(ctx context.Context, st *store.Store, after int64, fn func(store.LedgerEntry) error) error {
	for {
		page, err := st.LedgerEntries(ctx, after, 1000)
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
			after = e.Seq
		}
		if len(page) < 1000 {
			return nil
		}
	}
}

// LedgerJSON is an entry as exported. LeafHash is its leaf's hash in the tree (RFC 6962,
// base64), which an inclusion proof starts from.
type LedgerJSON struct {
	Seq        int64     `json:"seq"`
	At         time.Time `json:"at"`
	Rule       string    `json:"rule"`
	Category   string    `json:"category"`
	ObjectHash string    `json:"object_hash"`
	Count      int64     `json:"count"`
	Stores     []string  `json:"stores"`
	LeafHash   string    `json:"leaf_hash"`
}

func toLedgerJSON(e store.LedgerEntry) LedgerJSON {
	var stores []string
	if e.Stores != "" {
		stores = strings.Split(e.Stores, ",")
	}
	return LedgerJSON{e.Seq, e.At.UTC(), e.Rule, e.Category, e.ObjectHash, e.Count, stores, LeafHash(e)}
}

// Entries returns up to limit entries after seq, in order.
func (l *Ledger) Entries(ctx context.Context, afterSeq int64, limit int) ([]LedgerJSON, error) {
	list, err := l.store.LedgerEntries(ctx, afterSeq, limit)
	if err != nil {
		return nil, err
	}
	out := make([]LedgerJSON, 0, len(list))
	for _, e := range list {
		out = append(out, toLedgerJSON(e))
	}
	return out, nil
}

// Export writes the whole ledger to w as "json" (an array) or "csv" (with a header line).
func (l *Ledger) Export(ctx context.Context, w io.Writer, format string) error {
	var (
		cw    *csv.Writer
		first = true
	)
	switch format {
	case "json":
		if _, err := io.WriteString(w, "["); err != nil {
			return err
		}
	case "csv":
		cw = csv.NewWriter(w)
		if err := cw.Write([]string{"seq", "at", "rule", "category", "object_hash", "count", "stores", "leaf_hash"}); err != nil {
			return err
		}
	default:
		return fmt.Errorf("export ledger: unknown format %q (json or csv)", format)
	}
	err := l.eachEntry(ctx, 0, func(se store.LedgerEntry) error {
		e := toLedgerJSON(se)
		var err error
		if cw != nil {
			err = cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.At.Format(time.RFC3339Nano), e.Rule, e.Category,
				e.ObjectHash, strconv.FormatInt(e.Count, 10), strings.Join(e.Stores, " "), e.LeafHash})
		} else {
			var b []byte
			b, err = json.Marshal(e)
			sep := ",\n"
			if first {
				sep = "\n"
			}
			if err == nil {
				_, err = io.WriteString(w, sep)
			}
			if err == nil {
				_, err = w.Write(b)
			}
		}
		first = false
		return err
	})
	if err != nil {
		return fmt.Errorf("export ledger: %w", err)
	}
	if cw != nil {
		cw.Flush()
		return cw.Error()
	}
	_, err = io.WriteString(w, "\n]\n")
	return err
}
