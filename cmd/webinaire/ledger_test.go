package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"

	"webinaire/privacy"
	"webinaire/recording"
)

// auditorInstall is what a data protection officer has on his own machine: a fresh clone
// pointed at the database and the checkpoint log (read only for him), with no key of the
// server's; the public key and a checkpoint he saved earlier are his own copies.
func (in install) auditorEnv(t *testing.T, dir string) []string {
	t.Helper()
	var env []string
	for _, kv := range in.env {
		if strings.HasPrefix(kv, "WEBINAIRE_DATABASE_URL=") || strings.HasPrefix(kv, "WEBINAIRE_PRIVACY_LEDGER_CHECKPOINT_FILE=") {
			env = append(env, kv)
		}
	}
	return append(env,
		"WEBINAIRE_PRIVACY_LEDGER_KEY_FILE="+filepath.Join(dir, "data", "ledger.key"),
		"WEBINAIRE_PRIVACY_LEDGER_SIGNING_KEY_FILE="+filepath.Join(dir, "data", "ledger-signing.key"),
		"WEBINAIRE_RECORDINGS_DIR="+filepath.Join(dir, "data", "recordings"),
	)
}

func (in install) path(key string) string {
	for _, kv := range in.env {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

func TestLedgerVerifyWithASavedCheckpointAndThePublicKeyOnly(t *testing.T) {
	in := freshInstall(t)
	in.seed(t)
	code, _, errOut := in.run(t, "retention", "run")
	require.Equal(t, 0, code, errOut)

	// The auditor saves the latest checkpoint and the public key.
	auditor := t.TempDir()
	cpFile := in.path("WEBINAIRE_PRIVACY_LEDGER_CHECKPOINT_FILE")
	latest, err := privacy.CheckpointFile{Path: cpFile}.Latest(context.Background())
	require.NoError(t, err)
	saved := filepath.Join(auditor, "checkpoint-2026-12-06")
	require.NoError(t, os.WriteFile(saved, latest, 0o644))
	pub, err := os.ReadFile(publicKeyFile(in.path("WEBINAIRE_PRIVACY_LEDGER_SIGNING_KEY_FILE")))
	require.NoError(t, err)
	pubFile := filepath.Join(auditor, "ledger.pub")
	require.NoError(t, os.WriteFile(pubFile, []byte(`{"public_key": "`+strings.TrimSpace(string(pub))+`"}`), 0o644), "the JSON of the checkpoint endpoint")

	clone := t.TempDir()
	aud := install{env: in.auditorEnv(t, clone), st: in.st}
	code, out, errOut := aud.run(t, "ledger", "verify", "--public-key", pubFile, "--checkpoint", saved)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "ledger: 3 entries, tree intact\n")
	require.Regexp(t, `saved checkpoint: size 3 at \S+: entries 1 to 3 unchanged since\n`, out)
	require.Contains(t, out, "ledger key: none here, the checkpoints' key id is not checked\n")
	entries, err := os.ReadDir(clone)
	require.NoError(t, err)
	require.Empty(t, entries, "verify creates nothing: no key, no folder")

	code, out, errOut = aud.run(t, "ledger", "prove", "--public-key", pubFile, "2")
	require.Equal(t, 0, code, errOut)
	var proof privacy.Proof
	require.NoError(t, json.Unmarshal([]byte(out), &proof))
	require.EqualValues(t, 2, proof.Entry.Seq)
	require.Equal(t, string(latest), proof.Checkpoint)
	require.NoError(t, proof.Check(string(pub)))

	// Without a public key, verify says where it looked, and creates none.
	code, _, errOut = aud.run(t, "ledger", "verify")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "read the ledger's public key (--public-key, or beside key privacy.ledger_signing_key_file)")
	entries, err = os.ReadDir(clone)
	require.NoError(t, err)
	require.Empty(t, entries)

	// No database where the configuration says: verify says so, and makes none.
	noDB := install{env: append(aud.env, "WEBINAIRE_DATABASE_URL="+filepath.Join(clone, "data", "webinaire.db"))}
	code, _, errOut = noDB.run(t, "ledger", "verify", "--public-key", pubFile)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "no database: ")
	require.Contains(t, errOut, "(key database.url)")
	entries, err = os.ReadDir(clone)
	require.NoError(t, err)
	require.Empty(t, entries)

	// Another public key.
	_, otherPub, err := privacy.GenerateSigningKey(ledgerKeyName)
	require.NoError(t, err)
	otherFile := filepath.Join(auditor, "other.pub")
	require.NoError(t, os.WriteFile(otherFile, []byte(otherPub), 0o644))
	code, _, errOut = aud.run(t, "ledger", "verify", "--public-key", otherFile)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "wrong public key: signed by "+keyName(string(pub))+", not by the public key "+keyName(otherPub))
	require.Contains(t, errOut, "ledger: the public key "+otherFile+" does not check the checkpoints: ")
	require.NotContains(t, errOut, "TAMPERED", "a wrong key is not a changed ledger")

	// Another ledger key beside the database.
	require.NoError(t, os.WriteFile(filepath.Join(auditor, "ledger.key"), []byte(strings.Repeat("ab", 32)), 0o600))
	wrongKey := install{env: append(aud.env, "WEBINAIRE_PRIVACY_LEDGER_KEY_FILE="+filepath.Join(auditor, "ledger.key")), st: in.st}
	code, _, errOut = wrongKey.run(t, "ledger", "verify", "--public-key", pubFile)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "the ledger key does not match the checkpoints: checkpoint 1 was made with the key ")
	require.Contains(t, errOut, "(key privacy.ledger_key_file)")

	// The checkpoint log cut back to its first checkpoint, before the deletions.
	all, err := os.ReadFile(cpFile)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cpFile, privacy.SplitNotes(all)[0], 0o644))
	code, _, errOut = aud.run(t, "ledger", "verify", "--public-key", pubFile, "--checkpoint", saved)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "ledger: TAMPERED: ledger tree size 3: the checkpoint log ends at size 0, before the saved checkpoint of size 3")
	require.NoError(t, os.WriteFile(cpFile, all, 0o644))

	// An entry changed in the database: the saved checkpoint names it.
	require.NoError(t, in.st.ExecForTest(context.Background(), `UPDATE deletion_ledger SET rule = 'nothing' WHERE seq = 3`))
	code, out, errOut = aud.run(t, "ledger", "verify", "--public-key", pubFile, "--checkpoint", saved)
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "ledger: TAMPERED: ledger entry 3: changed, inserted or moved since the checkpoint of size 3")
}

func TestLedgerSigningKeyIsMadeOnceWithItsPublicKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "ledger-signing.key")
	skey, err := loadOrCreateSigningKey(path)
	require.NoError(t, err)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	_, vkey, _, err := privacy.SigningKey(skey)
	require.NoError(t, err)
	pub, err := os.ReadFile(strings.TrimSuffix(path, ".key") + ".pub")
	require.NoError(t, err)
	require.Equal(t, vkey+"\n", string(pub))

	again, err := loadOrCreateSigningKey(path)
	require.NoError(t, err)
	require.Equal(t, skey, again, "the key is read back, not made again")

	_, other, err := privacy.GenerateSigningKey(ledgerKeyName)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(publicKeyFile(path), []byte(other+"\n"), 0o644))
	_, err = loadOrCreateSigningKey(path)
	require.ErrorContains(t, err, "is not that of the signing key")
}

// With recordings in S3, the checkpoints are kept in the bucket, outside the database and
// shared by every node, one object each: not in the file of privacy.ledger_checkpoint_file.
// verify reads them there, and finds a checkpoint the bucket lost.
func TestLedgerCheckpointsInTheBucketWithS3(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	endpoint := strings.TrimPrefix(srv.URL, "http://")
	client, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4("test", "test-secret", "")})
	require.NoError(t, err)
	require.NoError(t, client.MakeBucket(ctx, "recordings", minio.MakeBucketOptions{}))
	secret := filepath.Join(t.TempDir(), "s3.secret")
	require.NoError(t, os.WriteFile(secret, []byte("test-secret\n"), 0o600))

	in := freshInstall(t)
	in.env = append(in.env, "WEBINAIRE_RECORDINGS_S3_ENDPOINT="+endpoint, "WEBINAIRE_RECORDINGS_S3_BUCKET=recordings",
		"WEBINAIRE_RECORDINGS_S3_ACCESS_KEY=test", "WEBINAIRE_RECORDINGS_S3_SECRET_KEY_FILE="+secret, "WEBINAIRE_RECORDINGS_S3_INSECURE=true")
	in.seed(t)
	code, _, errOut := in.run(t, "retention", "run")
	require.Equal(t, 0, code, errOut)

	_, err = os.Stat(in.path("WEBINAIRE_PRIVACY_LEDGER_CHECKPOINT_FILE"))
	require.ErrorIs(t, err, os.ErrNotExist, "no checkpoint file beside the bucket")
	var keys []string
	for obj := range client.ListObjects(ctx, "recordings", minio.ListObjectsOptions{Prefix: recording.CheckpointPrefix, Recursive: true}) {
		require.NoError(t, obj.Err)
		keys = append(keys, obj.Key)
	}
	require.GreaterOrEqual(t, len(keys), 2, "a checkpoint at the start, one after the run")

	pub := publicKeyFile(in.path("WEBINAIRE_PRIVACY_LEDGER_SIGNING_KEY_FILE"))
	code, out, errOut := in.run(t, "ledger", "verify", "--public-key", pub)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "ledger: 3 entries, tree intact\n")
	require.Contains(t, out, fmt.Sprintf("checkpoints: %d,", len(keys)))

	// Someone who may write to the bucket removes the latest checkpoint: the ledger now
	// holds entries that no checkpoint seals, but what the bucket keeps still checks out;
	// an auditor's saved copy of the one removed shows that the log was cut back.
	latest, err := client.GetObject(ctx, "recordings", keys[len(keys)-1], minio.GetObjectOptions{})
	require.NoError(t, err)
	saved := filepath.Join(t.TempDir(), "checkpoint")
	data, err := io.ReadAll(latest)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(saved, data, 0o644))
	require.NoError(t, client.RemoveObject(ctx, "recordings", keys[len(keys)-1], minio.RemoveObjectOptions{}))
	code, out, errOut = in.run(t, "ledger", "verify", "--public-key", pub, "--checkpoint", saved)
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out+errOut, "TAMPERED")
	require.Contains(t, out+errOut, "the checkpoint log ends at size")
}
