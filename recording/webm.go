package recording

import (
	"fmt"
	"io"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
)

// webmWriter writes a WebM file as a live stream does: a segment and clusters
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

// newWebMWriter writes the header of a file of the given tracks, numbered from 1.
func newWebMWriter(w io.WriteCloser, tracks ...webm.TrackEntry) (*webmWriter, error) {
	header := struct {
		Header  webm.EBMLHeader `ebml:"EBML"`
		Segment struct {
			Info   webm.Info   `ebml:"Info"`
			Tracks webm.Tracks `ebml:"Tracks"`
		} `ebml:"Segment,size=unknown"`
	}{Header: *webm.DefaultEBMLHeader}
	header.Segment.Info = webm.Info{TimecodeScale: 1000000, MuxingApp: "webinaire", WritingApp: "webinaire"}
	header.Segment.Tracks.TrackEntry = tracks
	if err := ebml.Marshal(&header, w); err != nil {
		return nil, fmt.Errorf("write webm header: %w", err)
	}
	return &webmWriter{w: w, cluster: -1}, nil
}

// write writes a frame of track 1 at ms; a keyframe of video, or every few seconds,
// opens a cluster.
func (m *webmWriter) write(key bool, ms int64, data []byte, video bool) error {
	if m.cluster < 0 || ms-m.cluster >= maxClusterSpan || (video && key && ms-m.cluster >= 1000) || (!video && ms-m.cluster >= 5000) {
		if err := m.openCluster(ms); err != nil {
			return err
		}
	}
	return m.writeBlock(1, key, ms, data)
}

// openCluster starts a cluster at ms: the blocks after it are timed from there, within
// an int16 of milliseconds either way.
func (m *webmWriter) openCluster(ms int64) error {
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
	return nil
}

// writeBlock writes a frame of the track at ms in the open cluster.
func (m *webmWriter) writeBlock(track uint64, key bool, ms int64, data []byte) error {
	block := struct {
		Block ebml.Block `ebml:"SimpleBlock"`
	}{ebml.Block{TrackNumber: track, Timecode: int16(ms - m.cluster), Keyframe: key, Data: [][]byte{data}}}
	if err := ebml.Marshal(&block, m.w); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

func (m *webmWriter) Close() error { return m.w.Close() }
