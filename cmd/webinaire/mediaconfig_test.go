package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMediaConfig(t *testing.T) {
	cfg, err := LoadConfig("", nil)
	require.NoError(t, err)
	require.Equal(t, MediaConfig{
		UDPPort: 7882, IncludeLoopback: true,
		EmptyRoomGrace: Duration(2 * time.Minute), TokenLifetime: Duration(2 * time.Hour),
		EntryTokenLifetime:     Duration(5 * time.Minute),
		TURN:                   TURNConfig{Mode: "off", Listen: ":3478", SecretFile: "data/turn.key"},
		MaxMeetingParticipants: 100, MaxWebinarParticipants: 1000, MaxLobby: 200, MaxBroadcasts: 4, WritersAbove: 16, DirectSend: true,
		JoinsPerAddressPerMinute: 60, JoinsPerInvitationPerMinute: 600,
	}, cfg.Media, "the development defaults")

	production := `
mode: production
server:
  public_url: https://webinaire.example.org
dev_idp:
  enabled: false
oidc:
  issuer: https://idp.example.org
  client_id: w
`
	cfg, err = LoadConfig(writeConfig(t, production), nil)
	require.NoError(t, err)
	require.False(t, cfg.Media.IncludeLoopback, "production mode offers no loopback candidate by default")

	cfg, err = LoadConfig(writeConfig(t, production+"media:\n  include_loopback: true\n  public_ips: [203.0.113.10, \"2001:db8::1\"]\n"), nil)
	require.NoError(t, err)
	require.True(t, cfg.Media.IncludeLoopback, "a key set in the file wins over the mode's default")
	require.Equal(t, []string{"203.0.113.10", "2001:db8::1"}, cfg.Media.PublicIPs)

	cfg, err = LoadConfig(writeConfig(t, production), []string{"WEBINAIRE_MEDIA_INCLUDE_LOOPBACK=true", "WEBINAIRE_MEDIA_UDP_PORT=0", "WEBINAIRE_MEDIA_TOKEN_KEY_FILE=/run/secrets/media.key"})
	require.NoError(t, err)
	require.True(t, cfg.Media.IncludeLoopback, "so does one set in the environment")
	require.Equal(t, 0, cfg.Media.UDPPort)
	require.Equal(t, "/run/secrets/media.key", cfg.Media.TokenKeyFile)

	cfg, err = LoadConfig(writeConfig(t, production), []string{"WEBINAIRE_MEDIA_DIRECT_SEND=false"})
	require.NoError(t, err)
	require.False(t, cfg.Media.DirectSend)
	require.True(t, webRTCConfig(cfg.Media, nil).ThroughPion, "media through Pion's SRTP session")

	cfg, err = LoadConfig(writeConfig(t, production), []string{"WEBINAIRE_MEDIA_ALLOW_PRIVATE_CANDIDATES=true"})
	require.NoError(t, err)
	require.True(t, cfg.Media.AllowPrivateCandidates)
	require.False(t, cfg.Media.IncludeLoopback, "private candidates do not bring loopback with them")

	cases := []struct{ file, want string }{
		{"media:\n  udp_port: 70000\n", "key media.udp_port: want between 0 and 65535"},
		{"media:\n  public_ips: [somewhere]\n", `key media.public_ips: "somewhere" is not an IP address`},
		{"media:\n  empty_room_grace: 0s\n", "key media.empty_room_grace"},
		{"media:\n  max_meeting_participants: 0\n", "key media.max_meeting_participants"},
		{"media:\n  max_webinar_participants: 100001\n", "key media.max_webinar_participants"},
		{"media:\n  max_lobby: -1\n", "key media.max_lobby"},
		{"media:\n  joins_per_address_per_minute: 0\n", "key media.joins_per_address_per_minute"},
		{"media:\n  joins_per_invitation_per_minute: 0\n", "key media.joins_per_invitation_per_minute"},
		{"media:\n  token_lifetime: 25h\n", "key media.token_lifetime: want between 1m and 24h"},
		{"media:\n  token_lifetime: 30s\n", "key media.token_lifetime"},
		{"media:\n  entry_token_lifetime: 5s\n", "key media.entry_token_lifetime: want between 10s and 1h"},
		{"media:\n  entry_token_lifetime: 2h\n", "key media.entry_token_lifetime"},
		{"media:\n  token_lifetime: 10m\n  entry_token_lifetime: 20m\n", "at most media.token_lifetime"},
		{"media:\n  include_loopback: sometimes\n", "key media.include_loopback (line 2): wrong type"},
		{"media:\n  allow_private_candidates: 1.5\n", "key media.allow_private_candidates (line 2): wrong type"},
	}
	for _, tc := range cases {
		_, err := LoadConfig(writeConfig(t, tc.file), nil)
		require.Error(t, err, tc.file)
		require.Contains(t, err.Error(), tc.want)
	}
}

func TestTokenKey(t *testing.T) {
	a, err := loadTokenKey("")
	require.NoError(t, err)
	b, err := loadTokenKey("")
	require.NoError(t, err)
	require.Len(t, a, 32)
	require.False(t, bytes.Equal(a, b), "without a file, a new random key per process")

	path := filepath.Join(t.TempDir(), "keys", "media.key")
	created, err := loadTokenKey(path)
	require.NoError(t, err)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the key file is readable by its owner only")
	again, err := loadTokenKey(path)
	require.NoError(t, err)
	require.Equal(t, created, again, "the file's key is kept across restarts")

	require.NoError(t, os.WriteFile(path, []byte("0123\n"), 0o600))
	_, err = loadTokenKey(path)
	require.ErrorContains(t, err, "want at least 64 hexadecimal characters")
}
