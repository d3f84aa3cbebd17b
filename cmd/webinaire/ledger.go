package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"webinaire/privacy"
	"webinaire/recording"
	"webinaire/store"
)

// ledgerKeyName names the checkpoints' signing key, and is the origin line of every checkpoint.
const ledgerKeyName = "webinaire-ledger"

// checkpointInterval is how often serve looks whether the ledger has grown since its latest
// checkpoint (deletions made through the API); a retention run seals its entries at once.
const checkpointInterval = time.Minute

// publicKeyFile is where the public key of the signing key at path is kept: beside it, in .pub.
func publicKeyFile(path string) string { return strings.TrimSuffix(path, ".key") + ".pub" }

// checkpointLog is where the ledger's signed checkpoints are kept, outside the database: in
// the recordings' S3 bucket when there is one (shared by every node), else in the file
// privacy.ledger_checkpoint_file.
func checkpointLog(cfg Config) (privacy.CheckpointLog, error) {
	if cfg.Recordings.S3Endpoint == "" {
		return privacy.CheckpointFile{Path: cfg.Privacy.LedgerCheckpointFile}, nil
	}
	bucket, err := newS3(cfg.Recordings)
	if err != nil {
		return nil, err
	}
	return s3Checkpoints{bucket.CheckpointLog()}, nil
}

// s3Checkpoints is the checkpoint log in the bucket, with the errors the ledger knows.
type s3Checkpoints struct{ log *recording.S3Log }

func (c s3Checkpoints) Append(ctx context.Context, next func(latest []byte) ([]byte, error)) error {
	return c.log.Append(ctx, next)
}

func (c s3Checkpoints) Latest(ctx context.Context) ([]byte, error) {
	text, err := c.log.Latest(ctx)
	return text, noCheckpoints(err)
}

func (c s3Checkpoints) All(ctx context.Context) ([]byte, error) {
	text, err := c.log.All(ctx)
	return text, noCheckpoints(err)
}

// noCheckpoints says an empty log in the bucket as the ledger understands it.
func noCheckpoints(err error) error {
	if errors.Is(err, recording.ErrNoObjects) {
		return fmt.Errorf("%w: %w", privacy.ErrNoCheckpoints, err)
	}
	return err
}

// newLedger loads the ledger's keys, creating them when missing, and returns the ledger with
// its checkpoint log. For serve, migrate and the retention commands; never for verify.
func newLedger(cfg Config, st *store.Store, log *slog.Logger) (*privacy.Ledger, error) {
	checkpoints, err := checkpointLog(cfg)
	if err != nil {
		return nil, err
	}
	key, err := loadOrCreateKey(cfg.Privacy.LedgerKeyFile, "ledger key")
	if err != nil {
		return nil, fmt.Errorf("%w (key privacy.ledger_key_file)", err)
	}
	skey, err := loadOrCreateSigningKey(cfg.Privacy.LedgerSigningKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w (key privacy.ledger_signing_key_file)", err)
	}
	return privacy.NewLedger(privacy.LedgerParams{
		Store: st, Key: key, SigningKey: skey,
		Checkpoints: checkpoints,
		Logger:      log,
	})
}

// loadOrCreateSigningKey reads the checkpoints' private key from path, or creates it there
// (mode 0600) when the file does not exist. Its public key is written beside it when
// missing, and must match it.
func loadOrCreateSigningKey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		skey, vkey, err := privacy.GenerateSigningKey(ledgerKeyName)
		if err != nil {
			return "", err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return "", fmt.Errorf("create the ledger signing key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return loadOrCreateSigningKey(path) // another process made it first
		} else if err != nil {
			return "", fmt.Errorf("create the ledger signing key: %w", err)
		}
		_, err = fmt.Fprintln(f, skey)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("write the ledger signing key: %w", err)
		}
		if err := os.WriteFile(publicKeyFile(path), []byte(vkey+"\n"), 0o644); err != nil {
			return "", fmt.Errorf("write the ledger public key: %w", err)
		}
		return skey, nil
	}
	if err != nil {
		return "", fmt.Errorf("read the ledger signing key: %w", err)
	}
	skey := strings.TrimSpace(string(data))
	_, vkey, _, err := privacy.SigningKey(skey)
	if err != nil {
		return "", fmt.Errorf("ledger signing key %s: %w", path, err)
	}
	pub, err := os.ReadFile(publicKeyFile(path))
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.WriteFile(publicKeyFile(path), []byte(vkey+"\n"), 0o644); err != nil {
			return "", fmt.Errorf("write the ledger public key: %w", err)
		}
	case err != nil:
		return "", fmt.Errorf("read the ledger public key: %w", err)
	case strings.TrimSpace(string(pub)) != vkey:
		return "", fmt.Errorf("the ledger public key %s (%s) is not that of the signing key %s (%s)",
			publicKeyFile(path), keyName(string(pub)), path, keyName(vkey))
	}
	return skey, nil
}

// keyName is the name and hash of a public key, how messages name it.
func keyName(vkey string) string {
	parts := strings.SplitN(strings.TrimSpace(vkey), "+", 3)
	if len(parts) < 2 {
		return "not a public key"
	}
	return parts[0] + "+" + parts[1]
}

// ledgerCheck runs `webinaire ledger verify` and `webinaire ledger prove SEQ`: they read the
// database, the checkpoint log and the public key, and create nothing.
func ledgerCheck(ctx context.Context, sub string, args, environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ledger "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration `file` (YAML)")
	publicKey := fs.String("public-key", "", "the ledger's public key `file` (default: beside privacy.ledger_signing_key_file, in .pub)")
	saved := ""
	if sub == "verify" {
		fs.StringVar(&saved, "checkpoint", "", "a checkpoint `file` saved earlier, to check the ledger against")
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	var seq int64
	switch {
	case sub == "prove" && fs.NArg() == 1:
		n, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "webinaire ledger prove: want an entry's sequence number, got %q\n", fs.Arg(0))
			return exitUsage
		}
		seq = n
	case sub == "prove":
		fmt.Fprintln(stderr, "webinaire ledger prove: want one entry's sequence number")
		return exitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "webinaire ledger %s: unexpected argument %q\n", sub, fs.Arg(0))
		return exitUsage
	}
	var configArgs []string
	if *configPath != "" {
		configArgs = []string{"--config", *configPath}
	}
	cfg, ok := loadFromFlags("ledger "+sub, configArgs, environ, stderr)
	if !ok {
		return 1
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "webinaire ledger %s: %v\n", sub, err)
		return 1
	}
	if *publicKey == "" {
		*publicKey = publicKeyFile(cfg.Privacy.LedgerSigningKeyFile)
	}
	vkey, err := readSavedFile(*publicKey, "public_key")
	if err != nil {
		return fail(fmt.Errorf("read the ledger's public key (--public-key, or beside key privacy.ledger_signing_key_file): %w", err))
	}
	var savedText []byte
	if saved != "" {
		if savedText, err = readSavedFile(saved, "checkpoint"); err != nil {
			return fail(fmt.Errorf("read the saved checkpoint: %w", err))
		}
	}
	if cfg.Database.Driver == store.DriverSQLite {
		if _, err := os.Stat(cfg.Database.URL); err != nil { // opening it would create it
			return fail(fmt.Errorf("no database: %w (key database.url)", err))
		}
	}
	st, err := openStore(cfg, newLogger(cfg.Log, stderr))
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	if err := st.Ready(ctx); err != nil {
		return fail(fmt.Errorf("%w (run webinaire migrate first)", err))
	}
	cps, err := checkpointLog(cfg)
	if err != nil {
		return fail(err)
	}

	if sub == "prove" {
		latest, err := cps.Latest(ctx)
		if err != nil {
			return fail(fmt.Errorf("%w (key privacy.ledger_checkpoint_file)", err))
		}
		proof, err := privacy.ProveEntry(ctx, st, string(vkey), latest, seq)
		if err != nil {
			return fail(err)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(proof); err != nil {
			return fail(err)
		}
		return 0
	}

	log, err := cps.All(ctx)
	if err != nil && !errors.Is(err, privacy.ErrNoCheckpoints) {
		return fail(fmt.Errorf("%w (key privacy.ledger_checkpoint_file)", err))
	}
	p := privacy.VerifyParams{PublicKey: string(vkey), Log: log, Saved: savedText, Now: time.Now()}
	keyNote := ""
	if data, err := os.ReadFile(cfg.Privacy.LedgerKeyFile); err == nil {
		key, err := parseKey(data)
		if err != nil {
			return fail(fmt.Errorf("ledger key %s: %w", cfg.Privacy.LedgerKeyFile, err))
		}
		p.KeyID = privacy.LedgerKeyID(key)
	} else {
		keyNote = "ledger key: none here, the checkpoints' key id is not checked\n"
	}
	rep, err := privacy.VerifyLedger(ctx, st, p)
	var te *privacy.TamperError
	switch {
	case errors.Is(err, privacy.ErrWrongPublicKey):
		fmt.Fprintf(stderr, "ledger: the public key %s does not check the checkpoints: %v\n", *publicKey, err)
		return 1
	case errors.As(err, &te):
		fmt.Fprintf(stderr, "ledger: TAMPERED: %v\n", te)
		return 1
	case errors.Is(err, privacy.ErrKeyMismatch):
		fmt.Fprintf(stderr, "ledger: %v (key privacy.ledger_key_file)\n", err)
		return 1
	case err != nil:
		return fail(err)
	}
	fmt.Fprintf(stdout, "ledger: %d entries, tree intact\n", rep.Entries)
	if rep.Latest != nil {
		fmt.Fprintf(stdout, "checkpoints: %d, signed by %s, consistent with the entries and each with the next; latest: size %d at %s\n",
			rep.Checkpoints, keyName(string(vkey)), rep.Latest.Size, rep.Latest.Time.Format(time.RFC3339))
	}
	if rep.Saved != nil {
		fmt.Fprintf(stdout, "saved checkpoint: size %d at %s: entries 1 to %d unchanged since\n", rep.Saved.Size, rep.Saved.Time.Format(time.RFC3339), rep.Saved.Size)
	}
	if rep.Unsealed > 0 {
		fmt.Fprintf(stdout, "unsealed: %d entries after the latest checkpoint (the next one seals them)\n", rep.Unsealed)
	}
	fmt.Fprint(stdout, keyNote)
	return 0
}

// readSavedFile reads what an auditor saved: the text itself (a checkpoint, a public key),
// or the JSON document of GET /api/v1/privacy/ledger/checkpoint, of which it takes field.
func readSavedFile(path, field string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' {
		return data, nil
	}
	var doc map[string]any
	if err := json.Unmarshal(t, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	text, _ := doc[field].(string)
	if text == "" {
		return nil, fmt.Errorf("%s: JSON without %q", path, field)
	}
	return []byte(text), nil
}
