package recording

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"webinaire/sfu"
)

// encoded720p makes seconds of 1280x720 VP8 at 1.5 Mbit/s, 30 fps, with Opus, as RTP.
func encoded720p(b *testing.B, seconds string) (video, audio []*rtp.Packet) {
	return encodeMedia(b, seconds, "1280x720", "1500k")
}

// BenchmarkRecord720p records 10 seconds of 720p VP8 at 1.5 Mbit/s and Opus, as the
// recorder gets them from a room, and reports the CPU time it takes per second of media
// (cpu-ms/media-s): the share of a core one such stream costs, in thousandths.
func BenchmarkRecord720p(b *testing.B) {
	video, audio := encoded720p(b, "10")
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		dir := filepath.Join(b.TempDir(), "rec")
		before := processCPU()
		rec, err := New(Params{Dir: dir})
		require.NoError(b, err)
		vt := rec.AddTrack("pub", sfu.TrackInfo{ID: "v", Kind: "video"}, vp8)
		at := rec.AddTrack("pub", sfu.TrackInfo{ID: "a", Kind: "audio"}, opus)
		for i, j := 0, 0; i < len(video) || j < len(audio); {
			if i < len(video) {
				_ = vt.WriteRTP(&video[i].Header, video[i].Payload)
				i++
			}
			if j < len(audio) && (i >= len(video) || j*len(video) < i*len(audio)) {
				_ = at.WriteRTP(&audio[j].Header, audio[j].Payload)
				j++
			}
		}
		vt.Close()
		at.Close()
		rec.Close()
		cpu += processCPU() - before
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N)/10, "cpu-ms/media-s")
}

// BenchmarkReplayPerMinute finalizes a 60-second 720p recording and builds its replay,
// and reports the wall time per minute of recording.
func BenchmarkReplayPerMinute(b *testing.B) {
	video, audio := encoded720p(b, "60")
	ffmpeg, ffprobe := need(b, "ffmpeg"), need(b, "ffprobe")
	var took time.Duration
	for range b.N {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "rec")
		rec, err := New(Params{Dir: dir})
		require.NoError(b, err)
		vt := rec.AddTrack("pub", sfu.TrackInfo{ID: "v", Kind: "video"}, vp8)
		at := rec.AddTrack("pub", sfu.TrackInfo{ID: "a", Kind: "audio"}, opus)
		for _, p := range video {
			_ = vt.WriteRTP(&p.Header, p.Payload)
		}
		for _, p := range audio {
			_ = at.WriteRTP(&p.Header, p.Payload)
		}
		vt.Close()
		at.Close()
		rec.Close()
		b.StartTimer()
		start := time.Now()
		_, _, err = FinalizeAll(context.Background(), ffmpeg, ffprobe, dir)
		require.NoError(b, err)
		took += time.Since(start)
	}
	b.ReportMetric(took.Seconds()/float64(b.N), "s/recorded-min")
}

// processCPU is the CPU time, user and system, this process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBroadcast720p broadcasts a room with one publisher of real 1280x720 VP8 at
// 1.5 Mbit/s and Opus, sent in real time, to ffmpeg listening as an RTMP server on
// loopback, and reports the CPU the broadcast's ffmpeg (decode, scale, caption, mix,
// H.264 and AAC) takes over 20 seconds of it, in percent of one core, and that of this
// process (the SFU, the publisher and the composite together).
func BenchmarkBroadcast720p(b *testing.B) {
	for range b.N {
		c := newCastSetup(b, "24", "1280x720")
		port := freePort(b)
		server := startRTMPServer(b, port)
		st := newStatuses()
		cast := startCast(b, c.room, port, st)
		st.wait(b, 0, "live", state(BroadcastLive))
		done := make(chan [2]time.Duration)
		go func() { // owned by the benchmark; ends after its measure
			time.Sleep(2 * time.Second)
			cast.mu.Lock()
			pid := cast.proc.Pid
			cast.mu.Unlock()
			ff0, self0 := childCPU(b, pid), processCPU()
			time.Sleep(20 * time.Second)
			done <- [2]time.Duration{childCPU(b, pid) - ff0, processCPU() - self0}
		}()
		c.send(b)
		got := <-done
		cast.Close()
		server.wait(b)
		b.ReportMetric(float64(got[0])/float64(20*time.Second)*100, "ffmpeg-%core")
		b.ReportMetric(float64(got[1])/float64(20*time.Second)*100, "process-%core")
	}
}

// childCPU is the CPU time, user and system, process pid has used so far (Linux).
func childCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(b, err)
	// The fields after the command's closing parenthesis; utime and stime are the 14th
	// and 15th of the whole line, in clock ticks of 1/100 s.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, err := strconv.ParseInt(f[11], 10, 64)
	require.NoError(b, err)
	stime, err := strconv.ParseInt(f[12], 10, 64)
	require.NoError(b, err)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
