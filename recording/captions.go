package recording

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"webinaire/sfu"
)

// Captions of a recording: while it runs, the recorder appends each caption the room
// posts to CaptionLogName, one JSON object a line, so that a crash keeps what came
// before; the replay's build turns them into CaptionsName, a WebVTT file that is both a
// track of the replay and a file of its own for the player's <track>.
const (
	// CaptionLogName is the captions as they came, while the recording runs.
	CaptionLogName = "captions.jsonl"
	// CaptionsName is the WebVTT file of the replay's captions.
	CaptionsName = "captions.vtt"
	// MaxCaptions bounds the captions one recording keeps.
	MaxCaptions = 50000
	// maxCueTime is the longest a caption stays on screen when no other follows.
	maxCueTime = 6 * time.Second
)

// captionLine is a caption as the log keeps it.
type captionLine struct {
	At        time.Time `json:"at"`
	Text      string    `json:"text"`
	Lang      string    `json:"lang"`
	Automatic bool      `json:"automatic,omitempty"`
}

// Caption keeps a caption of the room; it is the sfu.CaptionSink method. A write that
// fails stops the captions' recording, not the media's.
func (r *Recorder) Caption(c sfu.Caption) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.captionsFailed || r.captions >= MaxCaptions {
		return
	}
	b, err := json.Marshal(captionLine{At: c.At.UTC(), Text: c.Text, Lang: c.Lang, Automatic: c.Automatic})
	if err == nil {
		err = appendLine(filepath.Join(r.p.Dir, CaptionLogName), append(b, '\n'))
	}
	if err != nil {
		r.captionsFailed = true
		r.p.OnError(fmt.Errorf("captions: %w", err))
		return
	}
	r.captions++
	if r.manifest.Captions == "" {
		r.manifest.Captions = CaptionLogName
		if err := r.writeManifestLocked(); err != nil {
			r.p.OnError(err)
		}
	}
}

// readLog reads a log of JSON lines a recording wrote; a last line cut by a crash is
// left out.
func readLog[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		var v T
		if json.Unmarshal(sc.Bytes(), &v) == nil {
			out = append(out, v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	return out, nil
}

// WebVTT writes captions as a WebVTT file, times counted from start: each cue lasts
// until the next one, at most maxCueTime, and says its language.
func webVTT(lines []captionLine, start time.Time) string {
	var captions []captionLine
	for _, c := range lines {
		if c.Text != "" {
			captions = append(captions, c)
		}
	}
	var b strings.Builder
	b.WriteString("WEBVTT\n")
	for i, c := range captions {
		from := max(c.At.Sub(start), 0)
		to := from + maxCueTime
		if i+1 < len(captions) {
			if next := max(captions[i+1].At.Sub(start), 0); next < to {
				to = next
			}
		}
		if to <= from {
			to = from + time.Second
		}
		fmt.Fprintf(&b, "\n%d\n%s --> %s\n<lang %s>%s</lang>\n", i+1, vttTime(from), vttTime(to), c.Lang, vttEscape(c.Text))
	}
	return b.String()
}

// vttTime is a WebVTT timestamp: hh:mm:ss.ttt.
func vttTime(d time.Duration) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

var vttEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\n", " ")

// vttEscape makes a caption's text safe in a cue: no markup, no line break, no "-->".
func vttEscape(s string) string { return vttEscaper.Replace(s) }

// ContentType is the media type of a recording's file, by its name.
func ContentType(file string) string {
	switch filepath.Ext(file) {
	case ".vtt":
		return "text/vtt; charset=utf-8"
	case ".pdf":
		return "application/pdf"
	case ".json", ".jsonl":
		return "application/json"
	}
	return "video/webm"
}
