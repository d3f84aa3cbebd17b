package recording

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"webinaire/sfu"
)

// ManifestName is the file listing a recording's tracks, next to them.
const ManifestName = "manifest.json"

// Params configure a Recorder.
type Params struct {
	// Dir is the folder of this recording's files; it is created (0700).
	Dir string
	// Logger receives the recorder's logs; nil discards them.
	Logger *slog.Logger
	// OnError is told when a track stops recording (a full disk, storage too slow);
	// the others go on. It must not block.
	OnError func(error)
	// Clock tells the time of the manifest; nil is time.Now.
	Clock func() time.Time
	// Panics counts the panics recovered in the goroutines writing the tracks (part
	// recording); nil does not count them. A panic stops its track as a full disk does,
	// with ErrInternal.
	Panics *sfu.Panics
}

// TrackFile is one recorded track, as the manifest lists it.
type TrackFile struct {
	// File is the WebM file's name in the recording's folder.
	File string `json:"file"`
	// Kind is audio or video.
	Kind string `json:"kind"`
	// Label is camera, microphone or screen.
	Label sfu.Label `json:"label"`
	// Participant is the publisher's participant id (a random id, no name).
	Participant string `json:"participant"`
	// Started is when the track's recording started.
	Started time.Time `json:"started"`
}

// Manifest lists the tracks of a recording, and its replay once built.
type Manifest struct {
	Tracks []TrackFile `json:"tracks"`
	// Replay is the replay file's name once it is built and verified; the track files are
	// gone then.
	Replay string `json:"replay,omitempty"`
	// Captions is the file of the recording's captions, when there were any: the log
	// (CaptionLogName) until the replay is built, its WebVTT file (CaptionsName) after.
	Captions string `json:"captions,omitempty"`
	// Slides is the file of the slides shown: the log (SlideLogName) until the replay is
	// built, its timeline (SlidesName) after; SlideFiles are the PDFs shown.
	Slides     string   `json:"slides,omitempty"`
	SlideFiles []string `json:"slide_files,omitempty"`
}

// Recorder is an SFU sink writing every track of a room to its own WebM file.
type Recorder struct {
	p Params

	mu       sync.Mutex
	manifest Manifest
	writers  []*trackWriter
	closed   bool
	// captions counts the captions kept; captionsFailed is set once one could not be.
	captions       int
	captionsFailed bool
	// decks are the files of the slides kept, by deck id; slideEvents counts their
	// changes, slidesFailed is set once one could not be kept.
	decks        map[string]string
	slideEvents  int
	slidesFailed bool
}

// New prepares a recording in p.Dir.
func New(p Params) (*Recorder, error) {
	if p.Logger == nil {
		p.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if p.OnError == nil {
		p.OnError = func(error) {}
	}
	if p.Clock == nil {
		p.Clock = time.Now
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("recording folder: %w", err)
	}
	r := &Recorder{p: p}
	if err := r.writeManifestLocked(); err != nil {
		return nil, err
	}
	return r, nil
}

// AddTrack starts recording a track; it is the sfu.Sink method.
func (r *Recorder) AddTrack(participantID string, t sfu.TrackInfo, codec webrtc.RTPCodecParameters) sfu.SinkTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	name := fmt.Sprintf("%02d-%s.webm", len(r.manifest.Tracks)+1, t.Kind)
	path := filepath.Join(r.p.Dir, name)
	create := func() (io.WriteCloser, error) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", name, err)
		}
		return f, nil
	}
	log := r.p.Logger.With("file", name)
	w, err := newTrackWriter(codec, create, log, r.p.Panics, r.p.OnError)
	if errors.Is(err, errCodec) {
		log.Info("track not recorded", "codec", codec.MimeType)
		return nil
	}
	if err != nil {
		r.p.OnError(err)
		return nil
	}
	r.manifest.Tracks = append(r.manifest.Tracks, TrackFile{File: name, Kind: t.Kind, Label: t.Label, Participant: participantID, Started: r.p.Clock().UTC()})
	if err := r.writeManifestLocked(); err != nil {
		r.p.OnError(err)
	}
	r.writers = append(r.writers, w)
	return w
}

// Close waits for every track to be written and closed. Detach the sink first.
func (r *Recorder) Close() {
	r.mu.Lock()
	r.closed = true
	writers := r.writers
	r.mu.Unlock()
	for _, w := range writers {
		w.Close()
	}
}

// Manifest is the list of tracks recorded so far.
func (r *Recorder) Manifest() Manifest {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.manifest
	m.Tracks = append([]TrackFile(nil), m.Tracks...)
	m.SlideFiles = append([]string(nil), m.SlideFiles...)
	return m
}

// writeManifestLocked replaces the manifest file.
func (r *Recorder) writeManifestLocked() error { return writeManifest(r.p.Dir, r.manifest) }

// writeManifest replaces the manifest file in dir whole (a new file renamed over the old).
func writeManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	tmp := filepath.Join(dir, ManifestName+".new")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ManifestName)); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// ReadManifest reads the manifest of the recording in dir.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return m, fmt.Errorf("read manifest: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("read manifest: %w", err)
	}
	return m, nil
}

// Files are the files a recording is kept as: its replay, or its tracks until the replay
// is built; and its captions when it has some.
func (m Manifest) Files() []string {
	out := []string{}
	if m.Replay != "" {
		out = append(out, m.Replay)
	} else {
		for _, t := range m.Tracks {
			out = append(out, t.File)
		}
	}
	if m.Captions != "" {
		out = append(out, m.Captions)
	}
	if m.Slides != "" {
		out = append(out, m.Slides)
		out = append(out, m.SlideFiles...)
	}
	return out
}
