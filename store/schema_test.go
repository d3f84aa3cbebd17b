package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	_ "github.com/glebarez/go-sqlite" // the driver under glebarez/sqlite, for reading the schema
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"webinaire/store"
	"webinaire/store/storetest"
)

// schema is what two migration trees must agree on: for each table, its columns with a
// type family and nullability, its indexes (columns, unique) and its foreign keys.
type schema map[string]*table

type table struct {
	Columns     map[string]string // name → "family null|not null"
	Indexes     []string          // "unique? (col, col)"
	ForeignKeys []string          // "col → table(col) on delete ..."
}

// The SQLite and PostgreSQL migrations make the same tables, columns, nullability,
// indexes and constraints: a column or an index added to one tree only fails here.
func TestMigrationTreesAgree(t *testing.T) {
	ctx := context.Background()
	read := map[string]func(*testing.T, *sql.DB) schema{store.DriverSQLite: sqliteSchema, store.DriverPostgres: postgresSchema}
	got := map[string]schema{}
	for _, driver := range storetest.Drivers {
		cfg := storetest.Config(t, driver)
		storetest.OpenConfig(t, cfg) // migrated
		name := map[string]string{store.DriverSQLite: "sqlite", store.DriverPostgres: "pgx"}[driver]
		db, err := sql.Open(name, cfg.URL)
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		require.NoError(t, db.PingContext(ctx))
		got[driver] = read[driver](t, db)
	}
	lite, pg := got[store.DriverSQLite], got[store.DriverPostgres]
	// The differences the dialects impose, each for a reason; anything else is a fault.
	// A partitioned table's primary key must hold its partition key.
	if c := pg["connection_log"]; c != nil {
		c.Indexes = slices.Sorted(slices.Values(replace(c.Indexes, "unique (id, at)", "unique (id)")))
	}
	require.NotEmpty(t, lite["webinars"], "the schema was read")
	require.Equal(t, sortedKeys(pg), sortedKeys(lite), "tables")
	for name := range pg {
		if name == "goose_db_version" {
			continue // the migration tool's own table, as each dialect of it makes it
		}
		require.Equal(t, pg[name].Columns, lite[name].Columns, "columns of %s (postgres, sqlite)", name)
		require.Equal(t, pg[name].Indexes, lite[name].Indexes, "indexes of %s (postgres, sqlite)", name)
		require.Equal(t, pg[name].ForeignKeys, lite[name].ForeignKeys, "foreign keys of %s (postgres, sqlite)", name)
	}
}

// family maps a column type of either database to what both mean by it.
func family(typ string) string {
	switch t := strings.ToLower(typ); {
	case t == "text", t == "uuid", strings.HasPrefix(t, "character varying"), strings.HasPrefix(t, "varchar"):
		return "text"
	case strings.HasPrefix(t, "timestamp"), t == "datetime":
		return "time"
	case t == "integer", t == "bigint", t == "smallint", t == "int":
		return "integer"
	case t == "boolean":
		return "boolean"
	case t == "bytea", t == "blob":
		return "bytes"
	default:
		return t
	}
}

func sqliteSchema(t *testing.T, db *sql.DB) schema {
	t.Helper()
	out := schema{}
	for _, name := range queryStrings(t, db, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`) {
		tb := &table{Columns: map[string]string{}}
		rows, err := db.Query(fmt.Sprintf(`SELECT name, type, "notnull", pk FROM pragma_table_info('%s')`, name))
		require.NoError(t, err)
		var pk []string
		for rows.Next() {
			var col, typ string
			var notNull, pkPos int
			require.NoError(t, rows.Scan(&col, &typ, &notNull, &pkPos))
			null := "null"
			if notNull == 1 || pkPos > 0 {
				null = "not null"
			}
			tb.Columns[col] = family(typ) + " " + null
			if pkPos > 0 {
				pk = append(pk, fmt.Sprintf("%d:%s", pkPos, col))
			}
		}
		require.NoError(t, rows.Err())
		rows.Close()
		if len(pk) > 0 {
			slices.Sort(pk)
			for i := range pk {
				pk[i] = pk[i][strings.Index(pk[i], ":")+1:]
			}
			tb.Indexes = append(tb.Indexes, "unique ("+strings.Join(pk, ", ")+")")
		}
		for _, idx := range queryRows(t, db, fmt.Sprintf(`SELECT name, "unique", origin FROM pragma_index_list('%s')`, name), 3) {
			if idx[2] == "pk" {
				continue // the primary key, above
			}
			cols := queryStrings(t, db, fmt.Sprintf(`SELECT name FROM pragma_index_info('%s') ORDER BY seqno`, idx[0]))
			tb.Indexes = append(tb.Indexes, indexText(idx[1] == "1", cols))
		}
		for _, fk := range queryRows(t, db, fmt.Sprintf(`SELECT "from", "table", "to", on_delete FROM pragma_foreign_key_list('%s')`, name), 4) {
			tb.ForeignKeys = append(tb.ForeignKeys, fmt.Sprintf("%s → %s(%s) on delete %s", fk[0], fk[1], fk[2], strings.ToLower(fk[3])))
		}
		slices.Sort(tb.Indexes)
		slices.Sort(tb.ForeignKeys)
		out[name] = tb
	}
	return out
}

func postgresSchema(t *testing.T, db *sql.DB) schema {
	t.Helper()
	out := schema{}
	// Tables, not the partitions of a partitioned table.
	for _, name := range queryStrings(t, db, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition`) {
		tb := &table{Columns: map[string]string{}}
		for _, col := range queryRows(t, db, fmt.Sprintf(`SELECT column_name, data_type, is_nullable FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = '%s'`, name), 3) {
			null := "null"
			if col[2] == "NO" {
				null = "not null"
			}
			tb.Columns[col[0]] = family(col[1]) + " " + null
		}
		// Indexes, primary keys and unique constraints included, with their columns in order.
		for _, idx := range queryRows(t, db, fmt.Sprintf(`SELECT i.indisunique::text,
				(SELECT string_agg(a.attname, ', ' ORDER BY k.ord) FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
				 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
			FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relname = '%s'`, name), 2) {
			tb.Indexes = append(tb.Indexes, indexText(idx[0] == "true", strings.Split(idx[1], ", ")))
		}
		for _, fk := range queryRows(t, db, fmt.Sprintf(`SELECT a.attname, ft.relname, fa.attname,
				CASE con.confdeltype WHEN 'a' THEN 'no action' WHEN 'r' THEN 'restrict' WHEN 'c' THEN 'cascade'
				WHEN 'n' THEN 'set null' WHEN 'd' THEN 'set default' END
			FROM pg_constraint con
			JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_class ft ON ft.oid = con.confrelid
			JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
			JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = con.confkey[1]
			WHERE con.contype = 'f' AND n.nspname = current_schema() AND c.relname = '%s'`, name), 4) {
			tb.ForeignKeys = append(tb.ForeignKeys, fmt.Sprintf("%s → %s(%s) on delete %s", fk[0], fk[1], fk[2], fk[3]))
		}
		slices.Sort(tb.Indexes)
		slices.Sort(tb.ForeignKeys)
		out[name] = tb
	}
	return out
}

// replace is list with old replaced by new.
func replace(list []string, old, new string) []string {
	out := slices.Clone(list)
	for i, v := range out {
		if v == old {
			out[i] = new
		}
	}
	return out
}

func indexText(unique bool, cols []string) string {
	s := "(" + strings.Join(cols, ", ") + ")"
	if unique {
		return "unique " + s
	}
	return s
}

func queryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	var out []string
	for _, r := range queryRows(t, db, q, 1) {
		out = append(out, r[0])
	}
	return out
}

func queryRows(t *testing.T, db *sql.DB, q string, n int) [][]string {
	t.Helper()
	rows, err := db.Query(q)
	require.NoError(t, err, q)
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		row := make([]string, n)
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	require.NoError(t, rows.Err())
	return out
}

func sortedKeys(s schema) []string {
	var out []string
	for k := range s {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
