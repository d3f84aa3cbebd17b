package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "ledger.key")
	key, err := loadOrCreateKey(path, "ledger key")
	require.NoError(t, err)
	require.Len(t, key, 32)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	again, err := loadOrCreateKey(path, "ledger key")
	require.NoError(t, err)
	require.Equal(t, key, again, "the key is read back, not made again")

	require.NoError(t, os.WriteFile(path, []byte("short\n"), 0o600))
	_, err = loadOrCreateKey(path, "ledger key")
	require.ErrorContains(t, err, "ledger key "+path+": want at least 64 hexadecimal characters")
}
