package store

import (
	"context"
	"time"
)

// LedgerEntry is one line of the deletion ledger: what rule deleted how many objects of a
// category, when, confirmed by which stores. ObjectHash is a keyed hash of the object's id;
// PrevHash and Hash chain the entries. It holds no personal data.
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

// AppendLedger appends e with the next sequence number and the previous entry's hash, then
// seals it with hash(e). Appends are serialised: on PostgreSQL by a table lock held to the
// end of the transaction, on SQLite by its single writer. Called on a transaction's store,
// the entry commits or rolls back with the deletion it records.
func (s *Store) AppendLedger(ctx context.Context, e LedgerEntry, hash func(LedgerEntry) string) (LedgerEntry, error) {
	err := s.InTx(ctx, func(tx *Store) error {
		if tx.driver == DriverPostgres {
			if err := tx.conn(ctx).Exec("LOCK TABLE deletion_ledger IN SHARE ROW EXCLUSIVE MODE").Error; err != nil {
				return err
			}
		}
		var last []LedgerEntry
		if err := tx.conn(ctx).Order("seq DESC").Limit(1).Find(&last).Error; err != nil {
			return err
		}
		e.Seq, e.PrevHash = 1, ""
		if len(last) == 1 {
			e.Seq, e.PrevHash = last[0].Seq+1, last[0].Hash
		}
		e.At = e.At.UTC().Truncate(time.Microsecond)
		e.Hash = hash(e)
		return tx.conn(ctx).Create(&e).Error
	})
	return e, translate("append to ledger", err)
}

// LedgerEntries returns up to limit entries after seq, in order.
func (s *Store) LedgerEntries(ctx context.Context, afterSeq int64, limit int) ([]LedgerEntry, error) {
	var list []LedgerEntry
	err := s.conn(ctx).Where("seq > ?", afterSeq).Order("seq").Limit(limit).Find(&list).Error
	return list, translate("ledger entries", err)
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
