package apitest

import (
	"bytes"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to read every table
	"github.com/stretchr/testify/require"
)

// FindInPostgres tells whether text is in any row of any table of the PostgreSQL
// database at url.
func FindInPostgres(t *testing.T, url, text string) bool {
	t.Helper()
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name)
		FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, tables)
	for _, table := range tables {
		var all sql.NullString
		require.NoError(t, db.QueryRowContext(t.Context(), `SELECT string_agg(t::text, E'\n') FROM `+table+` t`).Scan(&all))
		if strings.Contains(all.String, text) {
			return true
		}
	}
	return false
}

// FindInFiles tells whether text is in any file under dir; a dir that does not exist
// holds nothing.
func FindInFiles(t *testing.T, dir, text string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found = found || bytes.Contains(b, []byte(text))
		return nil
	})
	if os.IsNotExist(err) {
		return false
	}
	require.NoError(t, err)
	return found
}
