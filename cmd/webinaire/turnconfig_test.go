package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/sfu"
)

func TestTURNConfig(t *testing.T) {
	cfg, err := LoadConfig("", nil)
	require.NoError(t, err)
	require.Equal(t, "off", cfg.Media.TURN, "TURN is off by default")
	creds, closer, err := newTURN(context.Background(), cfg.Media, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Nil(t, creds, "no TURN server when off")
	require.Nil(t, closer)

	cfg, err = LoadConfig(writeConfig(t, "media:\n  turn: external\n  turn_urls: [\"turn:turn.example.org:3478\"]\n"),
		[]string{"WEBINAIRE_MEDIA_TURN_SECRET=0123456789abcdef-coturn"})
	require.NoError(t, err)
	creds, _, err = newTURN(context.Background(), cfg.Media, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ice := creds.Credentials("p1", time.Unix(1000, 0), time.Hour)
	require.Equal(t, sfu.TURNCredentials([]byte("0123456789abcdef-coturn"), []string{"turn:turn.example.org:3478"}, "p1", time.Unix(1000, 0), time.Hour), ice)

	cases := []struct{ file, want string }{
		{"media:\n  turn: maybe\n", "key media.turn: want off, embedded or external"},
		{"media:\n  turn: embedded\n", "key media.turn_public_ip"},
		{"media:\n  turn: embedded\n  turn_public_ip: 203.0.113.7\n  turn_listen: nowhere\n", "key media.turn_listen"},
		{"media:\n  turn: embedded\n  turn_public_ip: 203.0.113.7\n  turn_secret_file: \"\"\n", "key media.turn_secret_file"},
		{"media:\n  turn: external\n  turn_secret: 0123456789abcdef\n", "key media.turn_urls: must list"},
		{"media:\n  turn: external\n  turn_secret: 0123456789abcdef\n  turn_urls: [\"https://turn.example.org\"]\n", "key media.turn_urls: want turn: or turns:"},
		{"media:\n  turn: external\n  turn_urls: [\"turn:turn.example.org\"]\n  turn_secret: short\n", "key media.turn_secret"},
		{"media:\n  turn_allow_private_peers: sometimes\n", "key media.turn_allow_private_peers (line 2): wrong type"},
	}
	for _, tc := range cases {
		_, err := LoadConfig(writeConfig(t, tc.file), nil)
		require.Error(t, err, tc.file)
		require.Contains(t, err.Error(), tc.want)
	}
}

func TestEmbeddedTURNFromConfig(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "turn.key")
	cfg, err := LoadConfig(writeConfig(t, "media:\n  turn: embedded\n  turn_listen: 127.0.0.1:0\n  turn_public_ip: 203.0.113.7\n  turn_secret_file: "+keyFile+"\n"), nil)
	require.NoError(t, err)
	creds, closer, err := newTURN(context.Background(), cfg.Media, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NotNil(t, closer, "the embedded server is started and must be closed")
	defer closer.Close()
	secret, err := loadOrCreateKey(keyFile, "TURN secret")
	require.NoError(t, err, "the secret file was created")
	ice := creds.Credentials("p1", time.Unix(1000, 0), time.Hour)
	require.Len(t, ice.URLs, 2, "UDP and TCP")
	require.True(t, strings.HasPrefix(ice.URLs[0], "turn:203.0.113.7:"), "got %s", ice.URLs[0])
	require.True(t, strings.HasSuffix(ice.URLs[1], "?transport=tcp"), "got %s", ice.URLs[1])
	require.Equal(t, sfu.TURNCredentials(secret, ice.URLs, "p1", time.Unix(1000, 0), time.Hour), ice)
}
