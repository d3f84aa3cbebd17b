package recording

import (
	"fmt"
	"io"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
)

// webmWriter writes a one-track WebM file as a live stream does: a segment and clusters
// of unknown size, each element written to the file as it comes, so that the file is
// valid up to its last written frame whatever happens to the process. Elements are
// marshalled by ebml-go, on the caller's goroutine: a write error is returned at once.
// Duration and cues are added afterwards by Finalize.
type webmWriter struct {
	w       io.WriteCloser
	cluster int64 // timestamp of the open cluster, in ms; -1 before the first
}

// maxClusterSpan is the longest cluster in ms: a block's time is an int16 offset from its
// cluster's.
const maxClusterSpan = 30000

func newWebMWriter(w io.WriteCloser, track webm.TrackEntry) (*webmWriter, error) {
	header := struct {
		Header  webm.EBMLHeader `ebml:"EBML"`
		Segment struct {
			Info   webm.Info   `ebml:"Info"`
			Tracks webm.Tracks `ebml:"Tracks"`
		} `ebml:"Segment,size=unknown"`
	}{Header: *webm.DefaultEBMLHeader}
	header.Segment.Info = webm.Info{TimecodeScale: 1000000, MuxingApp: "webinaire", WritingApp: "webinaire"}
	header.Segment.Tracks.TrackEntry = []webm.TrackEntry{track}
	if err := ebml.Marshal(&header, w); err != nil {
		return nil, fmt.Errorf("write webm header: %w", err)
	}
	return &webmWriter{w: w, cluster: -1}, nil
}

// write writes a frame at ms; a keyframe of video, or every few seconds, opens a
// cluster.
func (m *webmWriter) write(key bool, ms int64, data []byte, video bool) error {
	if m.cluster < 0 || ms-m.cluster >= maxClusterSpan || (video && key && ms-m.cluster >= 1000) || (!video && ms-m.cluster >= 5000) {
		cluster := struct {
			Cluster struct {
				Timecode uint64 `ebml:"Timecode"`
			} `ebml:"Cluster,size=unknown"`
		}{}
		cluster.Cluster.Timecode = uint64(ms)
		if err := ebml.Marshal(&cluster, m.w); err != nil {
			return fmt.Errorf("write cluster: %w", err)
		}
		m.cluster = ms
	}
	block := struct {
		Block ebml.Block `ebml:"SimpleBlock"`
	}{ebml.Block{TrackNumber: 1, Timecode: int16(ms - m.cluster), Keyframe: key, Data: [][]byte{data}}}
	if err := ebml.Marshal(&block, m.w); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

func (m *webmWriter) Close() error { return m.w.Close() }
