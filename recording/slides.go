package recording

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"webinaire/sfu"
)

// Slides of a recording: the recorder keeps each PDF presented during the recording
// (slides-01.pdf, ...) and logs every change of page to SlideLogName; the replay's build
// turns the log into SlidesName, the pages to show from which second of the replay, which
// the replay page follows while the video plays.
const (
	// SlideLogName is the log of the pages shown, while the recording runs.
	SlideLogName = "slides.jsonl"
	// SlidesName is the timeline of the replay's slides.
	SlidesName = "slides.json"
	// MaxRecordedDecks bounds the PDFs one recording keeps.
	MaxRecordedDecks = 20
	// maxSlideEvents bounds the page changes one recording keeps.
	maxSlideEvents = 100000
)

// slideLine is a change of page as the log keeps it: no file once the slides closed.
type slideLine struct {
	At   time.Time `json:"at"`
	File string    `json:"file,omitempty"`
	Page int       `json:"page,omitempty"`
}

// Timeline is the replay's slides: which page of which file to show from which second.
type Timeline struct {
	// Pages are the changes, in order; an entry without a file ends the slides.
	Pages []TimelineEntry `json:"pages"`
}

// TimelineEntry is one change of the slides in the replay.
type TimelineEntry struct {
	// T is the second of the replay from which it shows.
	T    float64 `json:"t"`
	File string  `json:"file,omitempty"`
	Page int     `json:"page,omitempty"`
}

// Slides keeps a change of the presented slides; it is the sfu.SlidesSink method. A
// write that fails stops the slides' recording, not the media's.
func (r *Recorder) Slides(e sfu.SlidesEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.slidesFailed || r.slideEvents >= maxSlideEvents {
		return
	}
	line := slideLine{At: e.At.UTC(), Page: e.Page}
	if e.ID != "" {
		file, ok := r.decks[e.ID]
		if !ok {
			if e.PDF == nil || len(r.decks) >= MaxRecordedDecks {
				return // a deck not kept: its pages are not either
			}
			file = fmt.Sprintf("slides-%02d.pdf", len(r.decks)+1)
			if err := os.WriteFile(filepath.Join(r.p.Dir, file), e.PDF, 0o600); err != nil {
				r.slidesFailedLocked(err)
				return
			}
			if r.decks == nil {
				r.decks = map[string]string{}
			}
			r.decks[e.ID] = file
			r.manifest.SlideFiles = append(r.manifest.SlideFiles, file)
		}
		line.File = file
	}
	b, err := json.Marshal(line)
	if err == nil {
		err = appendLine(filepath.Join(r.p.Dir, SlideLogName), append(b, '\n'))
	}
	if err != nil {
		r.slidesFailedLocked(err)
		return
	}
	r.slideEvents++
	r.manifest.Slides = SlideLogName
	if err := r.writeManifestLocked(); err != nil {
		r.p.OnError(err)
	}
}

func (r *Recorder) slidesFailedLocked(err error) {
	r.slidesFailed = true
	r.p.OnError(fmt.Errorf("slides: %w", err))
}

// appendLine adds a line to a log file, created if needed.
func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(line)
	return errors.Join(err, f.Close())
}

// buildTimeline turns the slides' log of the recording in dir into its timeline, times
// counted from start, and removes the log.
func buildTimeline(dir string, start time.Time) error {
	lines, err := readLog[slideLine](filepath.Join(dir, SlideLogName))
	if err != nil {
		return err
	}
	t := Timeline{Pages: []TimelineEntry{}}
	for _, l := range lines {
		t.Pages = append(t.Pages, TimelineEntry{T: max(l.At.Sub(start), 0).Seconds(), File: l.File, Page: l.Page})
	}
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("slides timeline: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, SlidesName), b, 0o600); err != nil {
		return fmt.Errorf("slides timeline: %w", err)
	}
	return nil
}
