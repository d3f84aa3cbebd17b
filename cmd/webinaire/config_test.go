package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"webinaire/recording"

	"github.com/stretchr/testify/require"

	"webinaire/privacy"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "webinaire.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestDefaultsAreTheEmbeddedMode(t *testing.T) {
	cfg, err := LoadConfig("", nil)
	require.NoError(t, err)
	require.Equal(t, "development", cfg.Mode)
	require.Equal(t, "127.0.0.1:8080", cfg.Server.Listen)
	require.Equal(t, "sqlite", cfg.Database.Driver)
	require.Equal(t, "data/webinaire.db", cfg.Database.URL)
	require.Equal(t, "data/recordings", cfg.Recordings.Dir)
	require.True(t, cfg.DevIDP.Enabled)
	require.Equal(t, "http://127.0.0.1:8080", cfg.BaseURL())
}

func TestFileAndEnvironment(t *testing.T) {
	path := writeConfig(t, `
mode: development
server:
  listen: 127.0.0.1:9000
  trusted_proxies: [10.0.0.0/8, "::1"]
database:
  driver: postgres
  url: postgres://u@db/webinaire
session:
  idle_timeout: 45m
`)
	cfg, err := LoadConfig(path, []string{
		"WEBINAIRE_SERVER_LISTEN=127.0.0.1:9100",
		"WEBINAIRE_OIDC_ADMIN_EMAILS=a@example.org, b@example.org",
		"WEBINAIRE_SESSION_ABSOLUTE_TIMEOUT=10h",
		"WEBINAIRE_DEV_IDP_ENABLED=true",
		"WEBINAIRE_RETENTION_AUDIT_TRAIL=6 mois",
		"WEBINAIRE_TEST_DATABASE_URL=ignored",
		"HOME=/root",
	})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9100", cfg.Server.Listen, "the environment wins over the file")
	require.Equal(t, []string{"10.0.0.0/8", "::1"}, cfg.Server.TrustedProxies)
	require.Equal(t, "postgres", cfg.Database.Driver)
	require.Equal(t, Duration(45*time.Minute), cfg.Session.IdleTimeout)
	require.Equal(t, Duration(10*time.Hour), cfg.Session.AbsoluteTimeout)
	require.Equal(t, []string{"a@example.org", "b@example.org"}, cfg.OIDC.AdminEmails)
	require.Equal(t, privacy.Period{Months: 6}, cfg.Policy().AuditTrail)
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name, file string
		env        []string
		want       string
	}{
		{"unknown key", "server:\n  lisen: 1.2.3.4:80\n", nil, "unknown key server.lisen (line 2)"},
		{"unknown section", "servr:\n  listen: x\n", nil, "unknown key servr"},
		{"wrong type", "server:\n  max_body_bytes: lots\n", nil, "key server.max_body_bytes (line 2): wrong type"},
		{"section not a mapping", "server: 8080\n", nil, "key server (line 1): want a mapping"},
		{"bad duration", "session:\n  idle_timeout: forever\n", nil, "key session.idle_timeout"},
		{"bad yaml", "server: [\n", nil, "not valid YAML"},
		{"bad mode", "mode: staging\n", nil, "key mode: want development or production"},
		{"bad listen", "server:\n  listen: nowhere\n", nil, "key server.listen"},
		{"no read timeout", "server:\n  read_timeout: 0s\n", nil, "key server.read_timeout: want between 1s and 1h"},
		{"write timeout too long", "", []string{"WEBINAIRE_SERVER_WRITE_TIMEOUT=2h"}, "key server.write_timeout: want between 1s and 1h"},
		{"no request per client", "server:\n  max_requests_per_client: 0\n", nil, "key server.max_requests_per_client: want between 1 and 1000000"},
		{"no media session", "server:\n  media_sessions_burst: 0\n", nil, "key server.media_sessions_burst: want between 1 and 1000000"},
		{"bad metrics listen", "metrics:\n  listen: nowhere\n", nil, "key metrics.listen: want host:port"},
		{"short metrics token", "", []string{"WEBINAIRE_METRICS_TOKEN=short"}, "key metrics.token: want at least 16 characters"},
		{"no metrics cache", "metrics:\n  cache: 0s\n", nil, "key metrics.cache: want between 1s and 1h"},
		{"media sessions per hour", "", []string{"WEBINAIRE_SERVER_MEDIA_SESSIONS_PER_HOUR=-1"}, "key server.media_sessions_per_hour: want between 1 and 3600000"},
		{"no audit trail period", "retention:\n  audit_trail: 0 days\n", nil, "key retention.audit_trail: the period must be longer than 0 days"},
		{"bad driver", "database:\n  driver: mysql\n", nil, "key database.driver"},
		{"postgres without url", "database:\n  driver: postgres\n", nil, "key database.url: want a postgres:// URL"},
		{"bad proxy", "server:\n  trusted_proxies: [somewhere]\n", nil, "key server.trusted_proxies"},
		{"absolute shorter than idle", "session:\n  idle_timeout: 2h\n  absolute_timeout: 1h\n", nil, "key session.absolute_timeout"},
		{"no pending login allowed", "session:\n  login_flows_per_client: 0\n", nil, "key session.login_flows_per_client: want between 1 and 1000000"},
		{"fewer pending logins in all than per client", "", []string{"WEBINAIRE_SESSION_LOGIN_FLOWS_PER_CLIENT=50", "WEBINAIRE_SESSION_LOGIN_FLOWS_TOTAL=10"}, "key session.login_flows_total: want between session.login_flows_per_client (50)"},
		{"no idp", "dev_idp:\n  enabled: false\n", nil, "key oidc.issuer: must be set"},
		{"unknown env", "", []string{"WEBINAIRE_SERVER_LISTN=x"}, "unknown environment variable WEBINAIRE_SERVER_LISTN"},
		{"bad env bool", "", []string{"WEBINAIRE_DEV_IDP_ENABLED=maybe"}, "WEBINAIRE_DEV_IDP_ENABLED (key dev_idp.enabled): want true or false"},
		{"bad env number", "", []string{"WEBINAIRE_SERVER_MAX_BODY_BYTES=1MB"}, "key server.max_body_bytes"},
		{"production with the dev idp", "mode: production\nserver:\n  public_url: https://webinaire.example.org\n", nil, "key dev_idp.enabled: the development identity provider is refused in production mode"},
		{"production over http", "mode: production\ndev_idp:\n  enabled: false\noidc:\n  issuer: https://idp.example.org\n  client_id: w\n", nil, "key server.public_url: production mode needs a public https URL"},
		{"production with an http issuer", "mode: production\nserver:\n  public_url: https://w.example.org\ndev_idp:\n  enabled: false\noidc:\n  issuer: http://idp.example.org\n  client_id: w\n", nil, "key oidc.issuer: want an https URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeConfig(t, tc.file)
			}
			_, err := LoadConfig(path, tc.env)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestProductionConfigIsAccepted(t *testing.T) {
	path := writeConfig(t, `
mode: production
server:
  listen: 0.0.0.0:8080
  public_url: https://webinaire.example.org
database:
  driver: postgres
  url: postgres://webinaire@db/webinaire
dev_idp:
  enabled: false
oidc:
  issuer: https://idp.example.org/realms/agents
  client_id: webinaire
  client_secret: s3cret
`)
	cfg, err := LoadConfig(path, nil)
	require.NoError(t, err)
	require.Equal(t, "https://webinaire.example.org", cfg.BaseURL())
}

// TestEveryKeyIsDocumented keeps docs/configuration.md in step with the configuration tree.
func TestEveryKeyIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	require.NoError(t, err)
	cfg := DefaultConfig()
	documented := regexp.MustCompile("(?m)^\\| `([a-z0-9_.]+)` \\|").FindAllStringSubmatch(string(doc), -1)
	var keys []string
	for _, m := range documented {
		keys = append(keys, m[1])
	}
	for _, k := range configKeys(&cfg) {
		require.Contains(t, keys, k.Key, "docs/configuration.md documents %s", k.Key)
		require.Contains(t, string(doc), "`"+k.Env+"`", "docs/configuration.md names %s", k.Env)
	}
	require.Len(t, keys, len(configKeys(&cfg)), "no documented key that does not exist")
	require.True(t, strings.Contains(string(doc), "WEBINAIRE_<SECTION>_<KEY>"))
}

func TestRecordingStorageFromTheConfiguration(t *testing.T) {
	dir := t.TempDir()
	s, err := newRecordingStorage(RecordingsConfig{Dir: dir})
	require.NoError(t, err)
	require.IsType(t, recording.Folder{}, s, "a local folder by default")

	secret := filepath.Join(dir, "s3.key")
	require.NoError(t, os.WriteFile(secret, []byte("secret-key\n"), 0o600))
	s, err = newRecordingStorage(RecordingsConfig{Dir: dir, S3Endpoint: "127.0.0.1:9000", S3Bucket: "rec", S3AccessKey: "k", S3SecretKeyFile: secret, S3Insecure: true})
	require.NoError(t, err)
	require.IsType(t, &recording.S3{}, s)

	_, err = newRecordingStorage(RecordingsConfig{Dir: dir, S3Endpoint: "127.0.0.1:9000", S3Bucket: "rec", S3AccessKey: "k", S3SecretKeyFile: filepath.Join(dir, "missing")})
	require.ErrorContains(t, err, "recordings.s3_secret_key_file")

	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"migrate"}, []string{"WEBINAIRE_DATABASE_URL=" + filepath.Join(dir, "w.db"), "WEBINAIRE_RECORDINGS_S3_ENDPOINT=127.0.0.1:9000"}, &out, &errOut)
	require.Equal(t, 1, code)
	require.Contains(t, errOut.String(), "recordings.s3_bucket")
}
