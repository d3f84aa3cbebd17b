package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/privacy"
	"webinaire/store"
	"webinaire/store/storetest"
)

// install is a fresh SQLite install in a temporary folder: the environment that points the
// commands at it, and the store, for the test to put data in and look.
type install struct {
	env []string
	st  *store.Store
}

func freshInstall(t *testing.T) install {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "webinaire.db")
	env := append([]string{
		"WEBINAIRE_DATABASE_URL=" + db,
		"WEBINAIRE_RECORDINGS_DIR=" + filepath.Join(dir, "recordings"),
		"WEBINAIRE_MEDIA_UDP_PORT=0", // a free port: a development server may hold the default one
	}, ledgerEnv(dir)...)
	return install{env: env, st: storetest.OpenConfig(t, store.Config{Driver: store.DriverSQLite, URL: db, MaxOpenConns: 2})}
}

func (in install) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, in.env, &out, &errOut)
	return code, out.String(), errOut.String()
}

// seed puts one of each kind past its window, by the real clock the commands use, and one
// account inside it.
func (in install) seed(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	longAgo := time.Now().UTC().AddDate(-2, 0, 0)
	old, err := in.st.UpsertOrganizer(ctx, store.Organizer{Issuer: "https://idp.example", Subject: "gone"}, longAgo)
	require.NoError(t, err)
	_, err = in.st.UpsertOrganizer(ctx, store.Organizer{Issuer: "https://idp.example", Subject: "active"}, time.Now())
	require.NoError(t, err)
	require.NoError(t, in.st.LogConnection(ctx, store.ConnectionEvent{At: longAgo, ActorKind: store.ActorGuest, ActorID: "g", IP: "192.0.2.1", Action: "join"}))
	require.NoError(t, in.st.CreateLoginFlow(ctx, store.LoginFlow{ID: "stale-flow", Nonce: "n", Verifier: "v", ExpiresAt: longAgo}, longAgo, store.LoginFlowLimits{PerClient: 1, Total: 1}))
	return old.ID
}

func TestRetentionAndLedgerCommandsOnAFreshInstall(t *testing.T) {
	in := freshInstall(t)

	code, out, errOut := in.run(t, "retention", "plan")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "nothing was deleted")
	require.Contains(t, out, "accounts: 0 (account inactive for 12 months)")
	require.Contains(t, out, "connection_log: 0 (connection log entry older than 12 months)")
	require.Contains(t, out, "audit_trail: 0 (audit event older than 12 months)")

	oldID := in.seed(t)
	code, out, errOut = in.run(t, "retention", "plan")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "accounts: 1 (account inactive for 12 months)\n  "+oldID+"\n")
	require.Contains(t, out, "sessions: 1 (login flow expired)\n  login_flows batch stale-flow-stale-flow\n")
	require.Regexp(t, `connection_log: 1 \(connection log entry older than 12 months\)\n  connection_log batch \d+-\d+\n`, out)

	code, out, errOut = in.run(t, "retention", "plan", "--json")
	require.Equal(t, 0, code, errOut)
	var plan privacy.Report
	require.NoError(t, json.Unmarshal([]byte(out), &plan), out)
	require.True(t, plan.DryRun)
	require.Equal(t, map[string]int64{privacy.CategoryAccounts: 1, privacy.CategoryConnectionLog: 1, privacy.CategorySessions: 1, privacy.CategoryRecordings: 0, privacy.CategoryAuditTrail: 0, privacy.CategorySlides: 0}, plan.Counts())

	code, out, errOut = in.run(t, "retention", "run")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `^Retention run \d+ at \S+: deleted\nsessions: 1\nconnection_log: 1\naudit_trail: 0\nslides: 0\nrecordings: 0\naccounts: 1\n`+
		`Kept, marked:\nrecordings: 0 \(recording files gone, 24h after the recording\)\n$`, out)
	_, err := in.st.Organizer(context.Background(), oldID)
	require.ErrorIs(t, err, store.ErrNotFound)

	code, out, errOut = in.run(t, "retention", "plan")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "accounts: 0 ")

	code, out, errOut = in.run(t, "ledger", "verify")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `^ledger: 3 entries, tree intact
checkpoints: 2, signed by webinaire-ledger\+[0-9a-f]{8}, consistent with the entries and each with the next; latest: size 3 at \S+
$`, out)

	code, out, errOut = in.run(t, "ledger", "export")
	require.Equal(t, 0, code, errOut)
	var entries []privacy.LedgerJSON
	require.NoError(t, json.Unmarshal([]byte(out), &entries), out)
	require.Len(t, entries, 3)
	require.NotContains(t, out, oldID, "the ledger holds a keyed hash, not the id")

	code, out, errOut = in.run(t, "ledger", "export", "--format", "csv")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4)
	require.True(t, strings.HasPrefix(lines[0], "seq,at,rule,category,object_hash,count,stores"), "got header %q", lines[0])

	require.NoError(t, in.st.ExecForTest(context.Background(), `UPDATE deletion_ledger SET count = 5 WHERE seq = 2`))
	code, out, errOut = in.run(t, "ledger", "verify")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "ledger: TAMPERED: ledger entry 2: changed, inserted or moved since the checkpoint of size 3 made ")
}

func TestRetentionCommandsListAndDeleteOrphans(t *testing.T) {
	in := freshInstall(t)
	ctx := context.Background()
	recordings := strings.TrimPrefix(in.env[1], "WEBINAIRE_RECORDINGS_DIR=")
	// Files that no row names, last changed two days ago, and others changed just now.
	old, young := store.NewSecret(), store.NewSecret()
	for id, age := range map[string]time.Duration{old: 48 * time.Hour, young: 0} {
		dir := filepath.Join(recordings, id)
		require.NoError(t, os.MkdirAll(dir, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "replay.webm"), []byte("webm"), 0o600))
		at := time.Now().Add(-age)
		require.NoError(t, os.Chtimes(filepath.Join(dir, "replay.webm"), at, at))
		require.NoError(t, os.Chtimes(dir, at, at))
	}
	// A recording that ended two days ago and whose files are gone.
	o, err := in.st.UpsertOrganizer(ctx, store.Organizer{Issuer: "https://idp.example", Subject: "owner"}, time.Now())
	require.NoError(t, err)
	w := &store.Webinar{OrganizerID: o.ID, Title: "Recorded", Kind: store.KindWebinar, StartsAt: time.Now().Add(-72 * time.Hour), DurationMinutes: 60}
	require.NoError(t, in.st.CreateWebinar(ctx, w, time.Now()))
	r, err := in.st.CreateRecording(ctx, w.ID, "", time.Now().Add(-49*time.Hour), time.Now().AddDate(1, 0, 0))
	require.NoError(t, err)
	ended := time.Now().Add(-48 * time.Hour)
	r.State, r.EndedAt = store.RecordingReady, &ended
	require.NoError(t, in.st.FinishRecording(ctx, r))

	code, out, errOut := in.run(t, "retention", "plan")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "recordings: 1 (recording files that no recording names, 24h after their last change)\n  "+old+"\n")
	require.Contains(t, out, "Kept, to be marked:\nrecordings: 1 (recording files gone, 24h after the recording)\n  "+r.ID+"\n")
	require.NotContains(t, out, young)
	require.DirExists(t, filepath.Join(recordings, old))

	code, out, errOut = in.run(t, "retention", "run")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "recordings: 1\n")
	require.Contains(t, out, "Kept, marked:\nrecordings: 1 (recording files gone, 24h after the recording)\n  "+r.ID+"\n")
	require.NoDirExists(t, filepath.Join(recordings, old))
	require.DirExists(t, filepath.Join(recordings, young))
	recs, err := in.st.RecordingsOfWebinar(ctx, w.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.NotNil(t, recs[0].FilesMissingAt, "the row is kept and marked")

	code, out, errOut = in.run(t, "ledger", "export")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "recording files that no recording names")
	require.NotContains(t, out, old, "the ledger holds a keyed hash, not the id")
}

func TestRetentionRunIsBusyWhileAnotherHoldsTheLease(t *testing.T) {
	in := freshInstall(t)
	now := time.Now()
	ok, _, err := in.st.AcquireLease(context.Background(), "retention", "replica-a:42", now, now.Add(time.Hour))
	require.NoError(t, err)
	require.True(t, ok)

	code, out, errOut := in.run(t, "retention", "run")
	require.Equal(t, exitBusy, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "another run is in progress, nothing done")
	require.Contains(t, errOut, "held by replica-a:42")

	code, _, errOut = in.run(t, "retention", "plan")
	require.Equal(t, 0, code, "a plan needs no lease: %s", errOut)
}

func TestRetentionCommandLine(t *testing.T) {
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"retention"}, exitUsage, "missing subcommand"},
		{[]string{"retention", "purge"}, exitUsage, `unknown subcommand "purge"`},
		{[]string{"ledger", "fix"}, exitUsage, `unknown subcommand "fix"`},
		{[]string{"retention", "run", "--json"}, exitUsage, "flag provided but not defined: -json"},
		{[]string{"retention", "plan", "now"}, exitUsage, `unexpected argument "now"`},
		{[]string{"ledger", "export", "--format", "xml"}, exitUsage, `unknown format "xml"`},
		{[]string{"ledger", "verify", "--config", "/nonexistent.yaml"}, 1, "read configuration"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, nil, &out, &errOut)
			require.Equal(t, tc.code, code, "stderr: %s", errOut.String())
			require.Contains(t, errOut.String(), tc.err)
		})
	}
}

func TestServeRunsTheRetentionSweeps(t *testing.T) {
	in := freshInstall(t)
	oldID := in.seed(t)
	holdDefaultMediaPort(t)
	s := startServe(t, []string{"--listen", "127.0.0.1:0"}, in.env)
	waitReady(t, s.base)

	// The first run starts once the database is ready; the bound only stops a hung test.
	ctx := context.Background()
	var runs []store.RetentionRun
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		runs, err = in.st.RetentionRuns(ctx, 10)
		require.NoError(t, err)
		if len(runs) > 0 && runs[0].Status != store.RunRunning {
			break
		}
	}
	require.NotEmpty(t, runs, "serve ran no retention run; log:\n%s", s.stderr)
	require.Equal(t, store.RunOK, runs[0].Status, "log:\n%s", s.stderr)
	require.False(t, runs[0].DryRun)
	_, err := in.st.Organizer(ctx, oldID)
	require.ErrorIs(t, err, store.ErrNotFound)

	s.stop()
	<-s.done
	require.Equal(t, 0, s.code)
	log := s.stderr.String()
	require.Contains(t, log, "retention sweeps scheduled")
	require.Contains(t, log, "msg=\"retention run finished\"")
	require.Contains(t, log, "accounts=1")
}
