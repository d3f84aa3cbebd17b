package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"webinaire/api"
	"webinaire/privacy"
	"webinaire/recording"
	"webinaire/sfu"
	"webinaire/store"
)

// Exit codes of the retention and ledger commands, besides 0 and 1 (failure).
const (
	exitUsage = 2
	exitBusy  = 3
)

const retentionUsage = `Usage:
  webinaire retention plan [--config FILE] [--json]   print what a run would delete now, with the ids
  webinaire retention run [--config FILE]             run the retention sweeps now
  webinaire ledger verify [--config FILE] [--public-key FILE] [--checkpoint FILE]
                                                      check the deletion ledger against its checkpoints
  webinaire ledger prove [--config FILE] [--public-key FILE] SEQ
                                                      print the inclusion proof of entry SEQ
  webinaire ledger export [--config FILE] [--format json|csv]   write the ledger to stdout
`

// retentionCmd runs `webinaire retention plan|run`.
func retentionCmd(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	sub, fs, rest := subcommand("retention", args, stderr)
	asJSON := false
	switch sub {
	case "plan":
		fs.BoolVar(&asJSON, "json", false, "print the plan as JSON")
	case "run":
	default:
		return exitUsage
	}
	configArgs, ok := parseSubcommand(fs, rest)
	if !ok {
		return exitUsage
	}
	p, ok := openPrivacy(ctx, "retention "+sub, configArgs, environ, stderr)
	if !ok {
		return 1
	}
	defer p.store.Close()
	tokens, err := newTokenSigner(p.cfg)
	var eng *privacy.Engine
	if err == nil {
		eng, err = newRetentionEngine(p.cfg, p.store, p.ledger, tokens, p.log)
	}
	if err != nil {
		fmt.Fprintf(stderr, "webinaire retention %s: %v\n", sub, err)
		return 1
	}

	if sub == "plan" {
		rep, err := eng.Plan(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "webinaire retention plan:", err)
			return 1
		}
		if asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(rep); err != nil {
				fmt.Fprintln(stderr, "webinaire retention plan:", err)
				return 1
			}
			return 0
		}
		fmt.Fprintf(stdout, "Retention plan at %s (dry run %d: nothing was deleted)\n", rep.Now.Format(time.RFC3339), rep.RunID)
		printLines(stdout, rep.Categories)
		if len(rep.Marked) > 0 {
			fmt.Fprintln(stdout, "Kept, to be marked:")
			printLines(stdout, rep.Marked)
		}
		return 0
	}

	rep, err := eng.Run(ctx)
	if errors.Is(err, privacy.ErrBusy) {
		fmt.Fprintf(stderr, "webinaire retention run: another run is in progress, nothing done (%v)\n", err)
		return exitBusy
	}
	if err != nil {
		fmt.Fprintln(stderr, "webinaire retention run:", err)
		printCounts(stdout, rep) // what was deleted before the failure
		return 1
	}
	fmt.Fprintf(stdout, "Retention run %d at %s: deleted\n", rep.RunID, rep.Now.Format(time.RFC3339))
	printCounts(stdout, rep)
	return 0
}

// printLines prints a report's lines: category, count and rule, then the ids.
func printLines(w io.Writer, lines []privacy.CategoryReport) {
	for _, c := range lines {
		fmt.Fprintf(w, "%s: %d (%s)\n", c.Category, c.Count, c.Rule)
		for _, id := range c.IDs {
			fmt.Fprintf(w, "  %s\n", id)
		}
	}
}

// printCounts prints what a run deleted per category, in the order of the sweeps, then
// what it kept but marked, and what it left for the next run.
func printCounts(w io.Writer, rep privacy.Report) {
	for _, t := range rep.Totals() {
		fmt.Fprintf(w, "%s: %d\n", t.Category, t.Count)
	}
	if len(rep.Marked) > 0 {
		fmt.Fprintln(w, "Kept, marked:")
		printLines(w, rep.Marked)
	}
	if len(rep.Left) > 0 {
		fmt.Fprintln(w, "Left for the next run:")
		printLines(w, rep.Left)
	}
}

// ledgerCmd runs `webinaire ledger verify|export`.
func ledgerCmd(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	sub, fs, rest := subcommand("ledger", args, stderr)
	format := "json"
	switch sub {
	case "verify", "prove":
		return ledgerCheck(ctx, sub, rest, environ, stdout, stderr)
	case "export":
		fs.StringVar(&format, "format", "json", "`json` or csv")
	default:
		return exitUsage
	}
	configArgs, ok := parseSubcommand(fs, rest)
	if !ok {
		return exitUsage
	}
	if format != "json" && format != "csv" {
		fmt.Fprintf(stderr, "webinaire ledger export: unknown format %q (json or csv)\n", format)
		return exitUsage
	}
	p, ok := openPrivacy(ctx, "ledger "+sub, configArgs, environ, stderr)
	if !ok {
		return 1
	}
	defer p.store.Close()

	if err := p.ledger.Export(ctx, stdout, format); err != nil {
		fmt.Fprintln(stderr, "webinaire ledger export:", err)
		return 1
	}
	return 0
}

// subcommand splits `webinaire <cmd> <sub> ...` and returns a flag set for the subcommand
// with --config. It prints the usage and returns an empty sub when there is none.
func subcommand(cmd string, args []string, stderr io.Writer) (string, *flag.FlagSet, []string) {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "webinaire %s: missing subcommand\n\n%s", cmd, retentionUsage)
		return "", nil, nil
	}
	sub := args[0]
	known := map[string][]string{"retention": {"plan", "run"}, "ledger": {"verify", "prove", "export"}}[cmd]
	for _, k := range known {
		if sub == k {
			fs := flag.NewFlagSet(cmd+" "+sub, flag.ContinueOnError)
			fs.SetOutput(stderr)
			fs.String("config", "", "configuration `file` (YAML)")
			return sub, fs, args[1:]
		}
	}
	fmt.Fprintf(stderr, "webinaire %s: unknown subcommand %q\n\n%s", cmd, sub, retentionUsage)
	return "", nil, nil
}

// parseSubcommand parses the subcommand's flags and returns the arguments for loadFromFlags.
func parseSubcommand(fs *flag.FlagSet, args []string) ([]string, bool) {
	if err := fs.Parse(args); err != nil {
		return nil, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "webinaire %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return nil, false
	}
	if path := fs.Lookup("config").Value.String(); path != "" {
		return []string{"--config", path}, true
	}
	return nil, true
}

// privacyDeps is what the retention and ledger commands work on.
type privacyDeps struct {
	cfg    Config
	log    *slog.Logger
	store  *store.Store
	ledger *privacy.Ledger
}

// openPrivacy loads the configuration, opens and migrates the database (so that the commands
// work on a fresh install) and loads the ledger's keys, and for the retention commands puts
// the ledger's entries into its tree. It prints what went wrong.
func openPrivacy(ctx context.Context, name string, configArgs, environ []string, stderr io.Writer) (privacyDeps, bool) {
	var p privacyDeps
	cfg, ok := loadFromFlags(name, configArgs, environ, stderr)
	if !ok {
		return p, false
	}
	p.cfg, p.log = cfg, newLogger(cfg.Log, stderr)
	st, err := openStore(cfg, p.log)
	if err != nil {
		fmt.Fprintf(stderr, "webinaire %s: %v\n", name, err)
		return p, false
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		fmt.Fprintf(stderr, "webinaire %s: %v\n", name, err)
		return p, false
	}
	p.ledger, err = newLedger(cfg, st, p.log)
	if err == nil && strings.HasPrefix(name, "retention") {
		_, err = p.ledger.Upgrade(ctx) // nothing is deleted before the ledger is in its tree
	}
	if err != nil {
		st.Close()
		fmt.Fprintf(stderr, "webinaire %s: %v\n", name, err)
		return p, false
	}
	p.store = st
	return p, true
}

// newRetentionEngine builds the retention engine the configuration describes, for this
// node: tokens signs what it asks of the other nodes of its cluster (to delete the files
// of a recording that one keeps in its own folder).
func newRetentionEngine(cfg Config, st *store.Store, ledger *privacy.Ledger, tokens *sfu.TokenSigner, log *slog.Logger) (*privacy.Engine, error) {
	storage, err := newRecordingStorage(cfg.Recordings)
	if err != nil {
		return nil, err
	}
	recordings, err := api.NewRecordingFiles(api.RecordingFilesParams{
		Storage: storage, Store: st, Tokens: tokens,
		Node: nodeName(cfg.Cluster.NodeID), NodeTimeout: time.Duration(cfg.Cluster.NodeTimeout),
	})
	if err != nil {
		return nil, err
	}
	return privacy.NewEngine(privacy.EngineParams{
		Store:         st,
		Ledger:        ledger,
		Policy:        cfg.Policy(),
		SessionIdle:   time.Duration(cfg.Session.IdleTimeout),
		BatchSize:     cfg.Retention.BatchSize,
		Interval:      time.Duration(cfg.Retention.Schedule),
		Recordings:    recordings,
		RecordingNode: recordings.FolderNode(),
		OrphanGrace:   time.Duration(cfg.Retention.OrphanGrace),
		Logger:        log,
	})
}

// newTokenSigner is the signer of the configuration's token key (media.token_key_file).
func newTokenSigner(cfg Config) (*sfu.TokenSigner, error) {
	key, err := loadTokenKey(cfg.Media.TokenKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w (key media.token_key_file)", err)
	}
	return sfu.NewTokenSigner(key)
}

// newRecordingStorage is where recordings are kept: the local folder, or the S3 bucket
// of the configuration.
func newRecordingStorage(cfg RecordingsConfig) (recording.Storage, error) {
	if cfg.S3Endpoint == "" {
		return recording.Folder{Root: cfg.Dir}, nil
	}
	return newS3(cfg)
}

// newS3 is the S3 bucket of cfg, with the local folder recordings are written in first.
func newS3(cfg RecordingsConfig) (*recording.S3, error) {
	local := recording.Folder{Root: cfg.Dir}
	secret, err := os.ReadFile(cfg.S3SecretKeyFile)
	if err != nil {
		return nil, fmt.Errorf("read the S3 secret key (key recordings.s3_secret_key_file): %w", err)
	}
	return recording.NewS3(recording.S3Config{
		Endpoint: cfg.S3Endpoint, Bucket: cfg.S3Bucket, Region: cfg.S3Region,
		AccessKey: cfg.S3AccessKey, SecretKey: strings.TrimSpace(string(secret)), Insecure: cfg.S3Insecure,
	}, local)
}
