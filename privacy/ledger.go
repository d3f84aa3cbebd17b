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
	"slices"
	"strconv"
	"strings"
	"time"

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

// Ledger is the append-only deletion ledger: a hash chain of entries that hold no personal data.
type Ledger struct {
	store *store.Store
	key   []byte
}

// NewLedger returns the ledger kept in st, hashing object ids with key.
func NewLedger(st *store.Store, key []byte) (*Ledger, error) {
	if len(key) < 32 {
		return nil, errors.New("new ledger: the key must have at least 32 bytes")
	}
	return &Ledger{store: st, key: key}, nil
}

// ObjectHash is the keyed hash of an object id as the ledger writes it: without the key, no
// one can tell which object an entry is about, nor confirm a guess.
func (l *Ledger) ObjectHash(id string) string {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))
}

// Record appends e. Pass the store of the transaction that deletes, so that the deletion and
// its entry commit together.
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
	}, chainHash)
	if err != nil {
		return fmt.Errorf("record deletion: %w", err)
	}
	return nil
}

// chainHash seals an entry: the SHA-256 of its fields and of the previous entry's hash, each
// field length-prefixed so that no two entries hash alike.
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

// ChainError names the first entry where the chain breaks.
type ChainError struct {
	Seq    int64
	Reason string
}

func (e *ChainError) Error() string { return fmt.Sprintf("ledger entry %d: %s", e.Seq, e.Reason) }

// Verify walks the whole ledger and returns the number of entries, or a *ChainError for the
// first entry that was changed, removed, inserted or moved.
func (l *Ledger) Verify(ctx context.Context) (int64, error) {
	var (
		prevHash string
		want     int64 = 1
	)
	for {
		page, err := l.store.LedgerEntries(ctx, want-1, 1000)
		if err != nil {
			return want - 1, err
		}
		for _, e := range page {
			switch {
			case e.Seq != want:
				return want - 1, &ChainError{Seq: want, Reason: fmt.Sprintf("missing (the next entry is %d)", e.Seq)}
			case e.PrevHash != prevHash:
				return want - 1, &ChainError{Seq: e.Seq, Reason: "does not follow the previous entry (removed, inserted or reordered)"}
			case chainHash(e) != e.Hash:
				return want - 1, &ChainError{Seq: e.Seq, Reason: "its content does not match its hash (changed)"}
			}
			prevHash, want = e.Hash, want+1
		}
		if len(page) < 1000 {
			return want - 1, nil
		}
	}
}

// LedgerJSON is an entry as exported.
type LedgerJSON struct {
	Seq        int64     `json:"seq"`
	At         time.Time `json:"at"`
	Rule       string    `json:"rule"`
	Category   string    `json:"category"`
	ObjectHash string    `json:"object_hash"`
	Count      int64     `json:"count"`
	Stores     []string  `json:"stores"`
	PrevHash   string    `json:"prev_hash"`
	Hash       string    `json:"hash"`
}

func toLedgerJSON(e store.LedgerEntry) LedgerJSON {
	var stores []string
	if e.Stores != "" {
		stores = strings.Split(e.Stores, ",")
	}
	return LedgerJSON{e.Seq, e.At.UTC(), e.Rule, e.Category, e.ObjectHash, e.Count, stores, e.PrevHash, e.Hash}
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
		if err := cw.Write([]string{"seq", "at", "rule", "category", "object_hash", "count", "stores", "prev_hash", "hash"}); err != nil {
			return err
		}
	default:
		return fmt.Errorf("export ledger: unknown format %q (json or csv)", format)
	}
	var after int64
	for {
		page, err := l.Entries(ctx, after, 1000)
		if err != nil {
			return err
		}
		for _, e := range page {
			if cw != nil {
				err = cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.At.Format(time.RFC3339Nano), e.Rule, e.Category,
					e.ObjectHash, strconv.FormatInt(e.Count, 10), strings.Join(e.Stores, " "), e.PrevHash, e.Hash})
			} else {
				var b []byte
				b, err = json.Marshal(e)
				if err == nil {
					if !first {
						_, err = io.WriteString(w, ",\n")
					} else {
						_, err = io.WriteString(w, "\n")
					}
				}
				if err == nil {
					_, err = w.Write(b)
				}
			}
			if err != nil {
				return fmt.Errorf("export ledger: %w", err)
			}
			first = false
			after = e.Seq
		}
		if len(page) < 1000 {
			break
		}
	}
	if cw != nil {
		cw.Flush()
		return cw.Error()
	}
	_, err := io.WriteString(w, "\n]\n")
	return err
}
