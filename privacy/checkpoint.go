package privacy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"webinaire/store"
)

// CheckpointEvery is how often a checkpoint is made even when the ledger has not grown.
const CheckpointEvery = 24 * time.Hour

// Checkpoint is a signed statement of the ledger's tree: its size and root hash at a time.
// Its text is a signed note (golang.org/x/mod/sumdb/note) whose body follows the checkpoint
// format of transparency logs: the origin (the key's name), the tree size, the root hash in
// base64, then "time" and "key" lines:
//
//	webinaire-ledger
//	1523
//	Xm7l0bN1pLm3o1d2mQ8yWk5p8bJz3pX8cQ7l9aT4cVQ=
//	time 2026-12-06T13:00:00Z
//	key 5f0c0a3b9d7e2a14
//
//	— webinaire-ledger 3Yb4bQ...
//
// The key line is the key id of the ledger key (LedgerKeyID). It holds no personal data.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	Time   time.Time
	KeyID  string
	// Note is the signed note, as kept in the checkpoint log and published.
	Note []byte
}

func (c Checkpoint) body() string {
	return fmt.Sprintf("%s\n%d\n%s\ntime %s\nkey %s\n", c.Origin, c.Size, c.Root, c.Time.UTC().Format(time.RFC3339), c.KeyID)
}

// String names the checkpoint in messages.
func (c Checkpoint) String() string {
	return fmt.Sprintf("checkpoint of size %d made %s", c.Size, c.Time.UTC().Format(time.RFC3339))
}

// ParseCheckpoint opens a signed checkpoint, checking its signature with v.
func ParseCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	var (
		unverified *note.UnverifiedNoteError
		invalid    *note.InvalidSignatureError
	)
	switch {
	case errors.As(err, &unverified):
		var by []string
		for _, s := range unverified.Note.UnverifiedSigs {
			by = append(by, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
		}
		return Checkpoint{}, fmt.Errorf("%w: signed by %s, not by the public key %s+%08x", ErrWrongPublicKey, strings.Join(by, ", "), v.Name(), v.KeyHash())
	case errors.As(err, &invalid):
		return Checkpoint{}, fmt.Errorf("bad signature (%v): the checkpoint was altered", err)
	case err != nil:
		return Checkpoint{}, fmt.Errorf("not a signed checkpoint: %w", err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	bad := func(what string) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("signed, but not a checkpoint: %s", what)
	}
	if len(lines) < 5 {
		return bad("fewer than 5 lines")
	}
	c := Checkpoint{Origin: lines[0], Note: msg}
	if c.Origin != v.Name() {
		return bad("origin " + strconv.Quote(c.Origin))
	}
	if c.Size, err = strconv.ParseInt(lines[1], 10, 64); err != nil || c.Size < 0 {
		return bad("tree size " + strconv.Quote(lines[1]))
	}
	if c.Root, err = tlog.ParseHash(lines[2]); err != nil {
		return bad("root hash " + strconv.Quote(lines[2]))
	}
	for _, l := range lines[3:] {
		k, val, _ := strings.Cut(l, " ")
		switch k {
		case "time":
			if c.Time, err = time.Parse(time.RFC3339, val); err != nil {
				return bad("time " + strconv.Quote(val))
			}
		case "key":
			c.KeyID = val
		}
	}
	if c.Time.IsZero() || c.KeyID == "" {
		return bad("no time or key line")
	}
	return c, nil
}

// ErrWrongPublicKey says that a checkpoint is signed by another key than the one given.
var ErrWrongPublicKey = errors.New("wrong public key")

// ErrNoCheckpoints says that there is no checkpoint log.
var ErrNoCheckpoints = errors.New("no checkpoint log")

// CheckpointLog keeps the signed checkpoints, one after the other, outside the database.
type CheckpointLog interface {
	// Append calls next with the latest checkpoint of the log (nil when there is none) and
	// appends what it returns (nothing when nil), holding other writers back meanwhile.
	Append(ctx context.Context, next func(latest []byte) ([]byte, error)) error
	// Latest returns the latest checkpoint; ErrNoCheckpoints when there is none.
	Latest(ctx context.Context) ([]byte, error)
	// All returns the whole log; ErrNoCheckpoints when there is none.
	All(ctx context.Context) ([]byte, error)
}

// CheckpointFile is a checkpoint log in a file: the signed notes one after the other, each
// followed by an empty line. Writers lock the file (flock), so that the processes that share
// it append in turn.
type CheckpointFile struct {
	Path string
}

// Append implements CheckpointLog.
func (f CheckpointFile) Append(ctx context.Context, next func(latest []byte) ([]byte, error)) error {
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o750); err != nil {
		return fmt.Errorf("checkpoint log: %w", err)
	}
	file, err := os.OpenFile(f.Path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("checkpoint log: %w", err)
	}
	defer file.Close()
	if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("checkpoint log: lock: %w", err)
	}
	latest, err := lastNote(file)
	if err != nil {
		return err
	}
	text, err := next(latest)
	if err != nil || text == nil {
		return err
	}
	if _, err := file.Write(append(text, '\n')); err != nil {
		return fmt.Errorf("checkpoint log: %w", err)
	}
	if err := file.Sync(); err != nil {
		return fmt.Errorf("checkpoint log: %w", err)
	}
	return nil
}

// Latest implements CheckpointLog.
func (f CheckpointFile) Latest(ctx context.Context) ([]byte, error) {
	file, err := os.Open(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s", ErrNoCheckpoints, f.Path)
	} else if err != nil {
		return nil, fmt.Errorf("checkpoint log: %w", err)
	}
	defer file.Close()
	latest, err := lastNote(file)
	if err == nil && latest == nil {
		return nil, fmt.Errorf("%w: %s is empty", ErrNoCheckpoints, f.Path)
	}
	return latest, err
}

// All implements CheckpointLog.
func (f CheckpointFile) All(ctx context.Context) ([]byte, error) {
	data, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s", ErrNoCheckpoints, f.Path)
	}
	return data, err
}

// tailSize is how much of the end of a checkpoint log is read to find the latest one: many
// times the size of a checkpoint.
const tailSize = 16 << 10

// lastNote returns the last note of the log file, nil when it is empty.
func lastNote(file *os.File) ([]byte, error) {
	info, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("checkpoint log: %w", err)
	}
	start := max(0, info.Size()-tailSize)
	tail := make([]byte, info.Size()-start)
	if _, err := file.ReadAt(tail, start); err != nil && err != io.EOF {
		return nil, fmt.Errorf("checkpoint log: %w", err)
	}
	notes := SplitNotes(tail)
	if len(notes) == 0 {
		return nil, nil
	}
	return notes[len(notes)-1], nil
}

const sigPrefix = "\u2014 " // a note's signature lines start with an em dash and a space

// SplitNotes splits a checkpoint log into its notes: each is body lines, an empty line and
// signature lines. Text before the first whole note (the cut start of a tail) is skipped.
func SplitNotes(log []byte) [][]byte {
	lines := bytes.SplitAfter(log, []byte("\n"))
	var (
		notes [][]byte
		cur   []byte
		state int // 0: body, 1: after the empty line, in the signatures
	)
	for _, l := range lines {
		blank := len(bytes.TrimSpace(l)) == 0
		sig := bytes.HasPrefix(l, []byte(sigPrefix))
		switch {
		case state == 0 && sig:
			cur = nil // signatures without their body: the cut start of a tail
		case state == 0 && blank && len(cur) > 0:
			cur, state = append(cur, l...), 1
		case state == 0 && !blank:
			cur = append(cur, l...)
		case state == 1 && sig:
			cur = append(cur, l...)
		case state == 1:
			if bytes.HasSuffix(cur, []byte("\n\n")) {
				cur = nil // a body without signatures
			} else {
				notes = append(notes, cur)
			}
			cur, state = nil, 0
			if !blank {
				cur = append(cur, l...)
			}
		}
	}
	if state == 1 && !bytes.HasSuffix(cur, []byte("\n\n")) && bytes.HasSuffix(cur, []byte("\n")) {
		notes = append(notes, cur)
	}
	return notes
}

// GenerateSigningKey returns a new Ed25519 key for the checkpoints named name, as the note
// package writes keys: the private key (skey) and the public key (vkey).
func GenerateSigningKey(name string) (skey, vkey string, err error) {
	return note.GenerateKey(rand.Reader, name)
}

// SigningKey reads a private key in the note format: its signer, and its public key (vkey)
// with the verifier made of it.
func SigningKey(skey string) (note.Signer, string, note.Verifier, error) {
	skey = strings.TrimSpace(skey)
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, "", nil, fmt.Errorf("signing key: %w", err)
	}
	// PRIVATE+KEY+<name>+<hash>+<base64 of the algorithm byte and the Ed25519 seed>
	parts := strings.SplitN(skey, "+", 5) // base64 has '+' too
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return nil, "", nil, errors.New("signing key: not an Ed25519 key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return nil, "", nil, fmt.Errorf("signing key: %w", err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, "", nil, fmt.Errorf("signing key: %w", err)
	}
	return signer, vkey, verifier, nil
}

// Checkpoint signs the ledger's tree into a new checkpoint and appends it to the checkpoint
// log, when the tree has grown since the latest checkpoint or that one is older than
// CheckpointEvery; it returns the latest checkpoint. Before it signs, it checks that the
// tree kept in the database is consistent with the latest checkpoint and that the entries
// since hash to its leaves: it never signs a tree that someone changed behind its back (a
// *TamperError).
func (l *Ledger) Checkpoint(ctx context.Context) (Checkpoint, error) {
	if l.signer == nil {
		return Checkpoint{}, errors.New("ledger checkpoint: no signing key")
	}
	var out Checkpoint
	err := l.checkpoints.Append(ctx, func(latestText []byte) ([]byte, error) {
		var latest *Checkpoint
		if latestText != nil {
			c, err := ParseCheckpoint(latestText, l.verifier)
			if err != nil {
				return nil, &TamperError{Reason: "the latest checkpoint of the log: " + err.Error()}
			}
			latest, out = &c, c
		}
		size, err := l.store.LedgerSize(ctx)
		if err != nil {
			return nil, err
		}
		tree := storeReader(l.store.LedgerTree(ctx))
		root, err := tlog.TreeHash(size, tree)
		if err != nil {
			return nil, &TamperError{Size: size, Reason: "the tree in the database is incomplete: " + err.Error()}
		}
		now := l.now().UTC().Truncate(time.Second)
		from := int64(0)
		if latest != nil {
			switch {
			case size < latest.Size:
				return nil, &TamperError{Seq: size + 1, Size: latest.Size, Reason: fmt.Sprintf("the ledger has %d entries, fewer than the latest %s", size, latest)}
			case size == latest.Size && root != latest.Root:
				return nil, &TamperError{Size: size, Reason: "the tree in the database does not match the latest " + latest.String()}
			case size == latest.Size && now.Sub(latest.Time) < CheckpointEvery:
				return nil, nil // nothing new
			}
			var err error
			if latest.Size > 0 { // every tree extends the empty one
				var proof tlog.TreeProof
				if proof, err = tlog.ProveTree(size, latest.Size, tree); err == nil {
					err = tlog.CheckTree(proof, size, root, latest.Size, latest.Root)
				}
			}
			if err != nil {
				return nil, &TamperError{Size: latest.Size, Reason: "the tree in the database is not consistent with the latest " + latest.String()}
			}
			from = latest.Size
		}
		if err := l.checkLeaves(ctx, from, size, tree); err != nil {
			return nil, err
		}
		c := Checkpoint{Origin: l.signer.Name(), Size: size, Root: root, Time: now, KeyID: l.KeyID()}
		c.Note, err = note.Sign(&note.Note{Text: c.body()}, l.signer)
		if err != nil {
			return nil, err
		}
		out = c
		return c.Note, nil
	})
	if err != nil {
		var te *TamperError
		if errors.As(err, &te) {
			l.log.ErrorContext(ctx, "ledger checkpoint refused: the ledger was changed in the database", "err", err)
		}
		return out, fmt.Errorf("ledger checkpoint: %w", err)
	}
	if out.Note != nil {
		if prev := l.latest.Swap(&out); prev == nil || prev.Size != out.Size || !prev.Time.Equal(out.Time) {
			l.log.InfoContext(ctx, "ledger checkpoint", "size", out.Size, "time", out.Time)
		}
	}
	return out, nil
}

// checkLeaves checks that the entries from+1 to size hash to the leaves of the stored tree.
func (l *Ledger) checkLeaves(ctx context.Context, from, size int64, tree tlog.HashReader) error {
	want := from + 1
	return eachEntry(ctx, l.store, from, func(e store.LedgerEntry) error {
		if e.Seq > size {
			return nil
		}
		if e.Seq != want {
			return &TamperError{Seq: want, Reason: fmt.Sprintf("missing (the next entry is %d)", e.Seq)}
		}
		stored, err := tree.ReadHashes([]int64{tlog.StoredHashIndex(0, e.Seq-1)})
		if err != nil {
			return err
		}
		if stored[0] != tlog.RecordHash(leafData(e)) {
			return &TamperError{Seq: e.Seq, Reason: "does not match its leaf in the tree (changed, inserted or moved)"}
		}
		want++
		return nil
	})
}

// LatestCheckpoint returns the latest checkpoint this ledger made or read, and whether there
// is one. It reads nothing: it is what anyone may ask for.
func (l *Ledger) LatestCheckpoint() (Checkpoint, bool) {
	c := l.latest.Load()
	if c == nil {
		return Checkpoint{}, false
	}
	return *c, true
}

// PublicKey returns the public key of the checkpoints (vkey), "" when the ledger signs none.
func (l *Ledger) PublicKey() string { return l.vkey }

// Start makes a checkpoint every interval when the ledger has grown, and at least every
// CheckpointEvery, until ctx is done. It blocks; its caller owns the goroutine.
func (l *Ledger) Start(ctx context.Context, interval time.Duration) {
	if l.signer == nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := l.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			l.log.ErrorContext(ctx, "ledger checkpoint failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
