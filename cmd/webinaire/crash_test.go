package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"webinaire/api/apitest"
	"webinaire/recording"
	"webinaire/recording/recordingtest"
	"webinaire/sfu/client"
)

// buildBinary builds the webinaire binary into a temporary folder.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "webinaire")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// startBinary starts the binary serving from dir on listen, with env added to the
// environment, and waits until it is ready.
func startBinary(t *testing.T, bin, dir, listen string, env ...string) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--listen", listen)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "WEBINAIRE_MEDIA_UDP_PORT=0", "WEBINAIRE_MEDIA_INCLUDE_LOOPBACK=true"), env...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := readURL(t, stdout, make(chan struct{}), stderr)
	go func() { _, _ = io.Copy(io.Discard, stdout) }() // owned by the test; ends when the process exits
	waitReady(t, base)
	return cmd, base, stderr
}

// TestRecordingSurvivesAKill records a meeting, kills the server with SIGKILL in the
// middle, starts it again on the same data, and finds the recording listed and playable
// up to where it was cut.
func TestRecordingSurvivesAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	recordingtest.Tool(t, "ffprobe")
	bin := buildBinary(t)
	dir := t.TempDir()
	// The same address after the restart: the development provider's issuer, and so the
	// organizer's account, is named after it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	listen := l.Addr().String()
	require.NoError(t, l.Close())
	cmd, base, logs := startBinary(t, bin, dir, listen)

	b := apitest.NewBrowser(t, base, nil)
	b.Login("dev-karim-benali")
	resp := b.Do("POST", "/api/v1/webinars", map[string]any{
		"title": "Recorded", "kind": "meeting", "starts_at": "2026-12-03T14:00:00Z",
		"duration_minutes": 30, "recording_allowed": true,
	}, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var w struct{ ID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&w))
	resp = b.Do("POST", "/api/v1/webinars/"+w.ID+"/join", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var j struct {
		Token string `json:"token"`
		WSURL string `json:"ws_url"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&j))

	ctx := t.Context()
	c := enter(t, j.WSURL, j.Token)
	require.NoError(t, c.Publish(ctx, client.Media{VideoBitrate: 300_000, KeyframeInterval: time.Second}))

	resp = b.Do("POST", "/api/v1/webinars/"+w.ID+"/recording", nil, nil)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var rec struct{ ID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rec))
	folder := filepath.Join(dir, "data", "recordings", rec.ID)
	var videoFile string
	written := assert.Eventually(t, func() bool {
		// The files are numbered in the order the tracks arrive.
		m, err := recording.ReadManifest(folder)
		if err != nil {
			return false
		}
		for _, tr := range m.Tracks {
			if tr.Kind == "video" {
				videoFile = tr.File
			}
		}
		if videoFile == "" {
			return false
		}
		info, err := os.Stat(filepath.Join(folder, videoFile))
		return err == nil && info.Size() > 150_000 // about 4 s at 300 kbit/s
	}, 30*time.Second, 50*time.Millisecond, "the recording is written as it goes")
	if !written {
		m, _ := os.ReadFile(filepath.Join(dir, "data", "recordings", rec.ID, "manifest.json"))
		t.Fatalf("manifest: %s\nstats: %+v\nlog:\n%s", m, c.Sent(), logs.String())
	}

	require.NoError(t, cmd.Process.Kill(), "SIGKILL: nothing is finished, nothing flushed by the server")
	_, _ = cmd.Process.Wait()
	_ = c.Close()

	_, base, _ = startBinary(t, bin, dir, listen)
	b = apitest.NewBrowser(t, base, nil)
	b.Login("dev-karim-benali")
	resp = b.Do("GET", "/api/v1/webinars/"+w.ID+"/recordings", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list struct {
		Items []struct {
			ID    string   `json:"id"`
			State string   `json:"state"`
			Error string   `json:"error"`
			Files []string `json:"files"`
		} `json:"items"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	require.Len(t, list.Items, 1)
	got := list.Items[0]
	require.Equal(t, rec.ID, got.ID)
	require.Equal(t, "ready", got.State, got.Error)
	require.Contains(t, got.Error, "the server stopped during the recording")
	require.Equal(t, []string{"replay.webm"}, got.Files, "repaired, and its replay built")

	resp = b.Do("GET", "/api/v1/recordings/"+rec.ID+"/files/replay.webm", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	file := filepath.Join(t.TempDir(), "video.webm")
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, data, 0o600))
	p := recordingtest.Read(t, file)
	var codecs []string
	for _, st := range p.Streams {
		codecs = append(codecs, st.CodecName)
	}
	require.ElementsMatch(t, []string{"vp8", "opus"}, codecs)
	require.Greater(t, p.Duration, 2.0, "repaired, it has its duration, up to where it was cut")
}
