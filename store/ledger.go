package store

import (
	"context"
	"fmt"
	"time"
)

// LedgerEntry is one line of the deletion ledger: what rule deleted how many objects of a
// category, when, confirmed by which stores. ObjectHash is a keyed hash of the object's id.
// Each entry is a leaf of the ledger's Merkle tree, whose hashes are kept in ledger_tree.
// PrevHash and Hash are the hash chain of the entries written before the tree: empty since.
// It holds no personal data.
type LedgerEntry struct {
	Seq        int64 `gorm:"primaryKey;autoIncrement:false"`
	At         time.Time
	Rule       string
	Category   string
	ObjectHash string
	Count      int64
	Stores     string
	PrevHash   string
	Hash       string
}

// TableName names the ledger's table.
func (LedgerEntry) TableName() string { return "deletion_ledger" }

// TreeHash is one stored hash of the ledger's Merkle tree, at its tlog.StoredHashIndex.
type TreeHash struct {
	Idx  int64 `gorm:"primaryKey;autoIncrement:false"`
	Hash []byte
}

// TableName names the table of the tree's hashes.
func (TreeHash) TableName() string { return "ledger_tree" }

// HashReader reads stored tree hashes by index, in the order asked; a missing one is an error.
type HashReader func(idx []int64) ([][]byte, error)

// AppendLedger appends e with the next sequence number and the tree hashes that seal returns
// for it; seal gets e numbered and a reader of the hashes stored so far. Appends are
// serialised: on PostgreSQL by a table lock held to the end of the transaction, on SQLite by
// its single writer. Called on a transaction's store, the entry commits or rolls back with
// the deletion it records.
func (s *Store) AppendLedger(ctx context.Context, e LedgerEntry, seal func(LedgerEntry, HashReader) ([]TreeHash, error)) (LedgerEntry, error) {
	err := s.InTx(ctx, func(tx *Store) error {
		if err := tx.lockLedger(ctx); err != nil {
			return err
		}
		var last []LedgerEntry
		if err := tx.conn(ctx).Order("seq DESC").Limit(1).Find(&last).Error; err != nil {
			return err
		}
		e.Seq, e.PrevHash, e.Hash = 1, "", ""
		if len(last) == 1 {
			e.Seq = last[0].Seq + 1
		}
		e.At = e.At.UTC().Truncate(time.Microsecond)
		hashes, err := seal(e, tx.treeReader(ctx))
		if err != nil {
			return err
		}
		if err := tx.conn(ctx).Create(&e).Error; err != nil {
			return err
		}
		return tx.conn(ctx).Create(&hashes).Error
	})
	return e, translate("append to ledger", err)
}

// lockLedger serialises the writers of the ledger until the end of the transaction.
func (s *Store) lockLedger(ctx context.Context) error {
	if s.driver != DriverPostgres {
		return nil // SQLite has a single writer
	}
	return s.conn(ctx).Exec("LOCK TABLE deletion_ledger IN SHARE ROW EXCLUSIVE MODE").Error
}

// treeReader reads the stored hashes of the ledger's tree.
func (s *Store) treeReader(ctx context.Context) HashReader {
	return func(idx []int64) ([][]byte, error) {
		var rows []TreeHash
		for start := 0; start < len(idx); start += 500 {
			var page []TreeHash
			if err := s.conn(ctx).Where("idx IN ?", idx[start:min(start+500, len(idx))]).Find(&page).Error; err != nil {
				return nil, translate("read ledger tree", err)
			}
			rows = append(rows, page...)
		}
		byIdx := make(map[int64][]byte, len(rows))
		for _, r := range rows {
			byIdx[r.Idx] = r.Hash
		}
		out := make([][]byte, len(idx))
		for i, x := range idx {
			h, ok := byIdx[x]
			if !ok {
				return nil, fmt.Errorf("read ledger tree: hash %d: %w", x, ErrNotFound)
			}
			out[i] = h
		}
		return out, nil
	}
}

// LedgerTree returns a reader of the stored hashes of the ledger's tree.
func (s *Store) LedgerTree(ctx context.Context) HashReader { return s.treeReader(ctx) }

// LedgerTreeCount returns how many tree hashes are stored.
func (s *Store) LedgerTreeCount(ctx context.Context) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&TreeHash{}).Count(&n).Error
	return n, translate("count ledger tree", err)
}

// GrowLedgerTree stores the tree hashes that grow returns, in one transaction that holds the
// ledger's writers back: grow gets the number of stored hashes and a reader of them. It is
// how the entries written before the tree are put into it.
func (s *Store) GrowLedgerTree(ctx context.Context, grow func(stored int64, r HashReader) ([]TreeHash, error)) error {
	err := s.InTx(ctx, func(tx *Store) error {
		if err := tx.lockLedger(ctx); err != nil {
			return err
		}
		n, err := tx.LedgerTreeCount(ctx)
		if err != nil {
			return err
		}
		hashes, err := grow(n, tx.treeReader(ctx))
		if err != nil || len(hashes) == 0 {
			return err
		}
		return tx.conn(ctx).CreateInBatches(&hashes, 500).Error
	})
	return translate("grow ledger tree", err)
}

// LedgerEntries returns up to limit entries after seq, in order.
func (s *Store) LedgerEntries(ctx context.Context, afterSeq int64, limit int) ([]LedgerEntry, error) {
	var list []LedgerEntry
	err := s.conn(ctx).Where("seq > ?", afterSeq).Order("seq").Limit(limit).Find(&list).Error
	return list, translate("ledger entries", err)
}

// LedgerEntry returns the entry seq.
func (s *Store) LedgerEntry(ctx context.Context, seq int64) (LedgerEntry, error) {
	var e LedgerEntry
	err := s.conn(ctx).Where("seq = ?", seq).Take(&e).Error
	return e, translate("ledger entry", err)
}

// LedgerSize returns the highest sequence number of the ledger, 0 when it is empty.
func (s *Store) LedgerSize(ctx context.Context) (int64, error) {
	var n *int64
	err := s.conn(ctx).Model(&LedgerEntry{}).Select("MAX(seq)").Scan(&n).Error
	if n == nil {
		return 0, translate("ledger size", err)
	}
	return *n, translate("ledger size", err)
}

// LedgerTotals sums the counts of the ledger per category: how many objects were deleted.
func (s *Store) LedgerTotals(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		Category string
		Total    int64
	}
	err := s.conn(ctx).Model(&LedgerEntry{}).Select("category, SUM(count) AS total").Group("category").Scan(&rows).Error
	totals := make(map[string]int64, len(rows))
	for _, r := range rows {
		totals[r.Category] = r.Total
	}
	return totals, translate("ledger totals", err)
}
