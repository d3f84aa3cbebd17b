package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"webinaire/sfu/client"
)

// testMetricsToken is the /metrics token of the servers the tests start.
const testMetricsToken = "load-test-metrics-token"

var runningLine = regexp.MustCompile(`Webinaire is running: open (http://[^ ]+)/`)

// startServer builds the server binary and starts it in the embedded default mode on
// loopback, with loopback candidates; it returns its base URL and process id.
func startServer(t *testing.T) (string, int) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the server")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "webinaire")
	out, err := exec.Command(goTool, "build", "-o", bin, "webinaire/cmd/webinaire").CombinedOutput()
	require.NoError(t, err, "build the server: %s", out)

	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(),
		"WEBINAIRE_DATABASE_URL="+filepath.Join(dir, "webinaire.db"),
		"WEBINAIRE_RECORDINGS_DIR="+filepath.Join(dir, "recordings"),
		"WEBINAIRE_PRIVACY_LEDGER_KEY_FILE="+filepath.Join(dir, "ledger.key"),
		"WEBINAIRE_PRIVACY_LEDGER_SIGNING_KEY_FILE="+filepath.Join(dir, "ledger-signing.key"),
		"WEBINAIRE_PRIVACY_LEDGER_CHECKPOINT_FILE="+filepath.Join(dir, "ledger-checkpoints"),
		"WEBINAIRE_MEDIA_UDP_PORT=0",
		"WEBINAIRE_MEDIA_INCLUDE_LOOPBACK=true",
		"WEBINAIRE_METRICS_TOKEN="+testMetricsToken,
	)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { // owned by the test; ends when the server exits at cleanup
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	base := make(chan string, 1)
	go func() { // owned by the test; ends when the server closes its stdout
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := runningLine.FindStringSubmatch(sc.Text()); m != nil {
				base <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var u string
	select {
	case u = <-base:
	case <-exited:
		t.Fatalf("the server exited: %s", stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatal("the server printed no URL")
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(u + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "the server never became ready")
	}
	return u, cmd.Process.Pid
}

// runJSON runs the generator with args and -json, and reads its report.
func runJSON(t *testing.T, args ...string) report {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append(args, "-json"), &stdout, &stderr)
	require.Equal(t, 0, code, "stderr: %s", stderr.String())
	var r report
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &r), stdout.String())
	return r
}

// TestTinyLoadAgainstARealServer runs a publisher that paces its video, as browsers do,
// and two subscribers.
func TestTinyLoadAgainstARealServer(t *testing.T) {
	base, pid := startServer(t)
	r := runJSON(t, "-server", base, "-setup", "-kind", "webinar",
		"-publishers", "1", "-subscribers", "2", "-ramp", "20",
		"-warmup", "2s", "-duration", "3s", "-video-bitrate", "300000", "-pace",
		"-server-pid", strconv.Itoa(pid), "-server-metrics", base+"/metrics", "-metrics-token", testMetricsToken)
	require.Equal(t, 3, r.Joined)
	require.Empty(t, r.JoinFailures)
	require.True(t, r.PacedVideo)
	u, err := url.Parse(base)
	require.NoError(t, err)
	require.Equal(t, map[string]int{u.Host: 3}, r.JoinedByNode, "one node: every join answer names it")
	require.Empty(t, r.Nodes, "one node: no figures by node")
	require.Equal(t, 3, r.Join.Count)
	require.Greater(t, r.Join.Max, 0.0)
	require.Equal(t, 2, r.FirstMedia.Count, "both subscribers received video")
	require.Zero(t, r.NoMedia)
	require.Positive(t, r.SentVideo)
	require.Positive(t, r.SentAudio)
	require.Positive(t, r.ForwardedVideo, "video went through the server")
	require.Positive(t, r.ForwardedAudio, "audio went through the server")
	require.Equal(t, r.ForwardedVideo+r.ForwardedAudio, r.Forwarded)
	require.Positive(t, r.Expected)
	require.LessOrEqual(t, r.Lost, r.Expected)
	require.Positive(t, r.Latency.Count)
	require.Equal(t, r.VideoLatency.Count+r.AudioLatency.Count, r.Latency.Count)
	require.Positive(t, r.VideoLatency.Count, "the paced video's stamps were read")
	require.LessOrEqual(t, r.Latency.P50, r.Latency.P99)
	require.LessOrEqual(t, r.Latency.P99, r.Latency.Max)
	require.Zero(t, r.NegotiationErrors)
	require.NotNil(t, r.ServerCPUSeconds, "the server's CPU time was read")
	require.NotNil(t, r.ServerCPUPerMillion)
	require.NotNil(t, r.ServerWaitSeconds)
	require.Positive(t, r.WindowSeconds)
	require.NotNil(t, r.ServerDelay, "the server's delay was read")
	require.Positive(t, r.ServerDelay.Count, "datagrams in the window")
	require.Positive(t, r.ServerDelay.P50)
	require.LessOrEqual(t, r.ServerDelay.P50, r.ServerDelay.P99)

	// The receivers' share, and the latency of each second of the window.
	require.Equal(t, "reports", r.ReceiverInterceptors, "the default")
	require.NotNil(t, r.GeneratorCPUPerMillion)
	require.Positive(t, *r.GeneratorCPUPerMillion)
	require.Zero(t, r.Starved, "every subscriber received in the window")
	require.LessOrEqual(t, r.LossVideo, 100.0)
	require.LessOrEqual(t, r.LossAudio, 100.0)
	var inIntervals int
	for i, iv := range r.Intervals {
		inIntervals += iv.Count
		require.Positive(t, iv.Count, "interval %d", i)
		require.LessOrEqual(t, iv.P99, r.Latency.Max, "interval %d", i)
		if i > 0 {
			require.Greater(t, iv.End, r.Intervals[i-1].End)
		}
	}
	require.Equal(t, r.Latency.Count, inIntervals, "every packet of the window in one interval")
	require.Len(t, r.Intervals, 3, "a 3 s window in 1 s intervals")
	require.Equal(t, 3.0, r.Intervals[2].End)

	var text bytes.Buffer
	require.NoError(t, r.writeText(&text))
	for _, want := range []string{"joined 3", "join (API+WS+ICE)", "first video packet", "loss", "added latency", "first 1 s", "server CPU", "per million forwarded packets", "per million received packets", "server's forwarding delay", "video paced"} {
		require.Contains(t, text.String(), want)
	}
}

// TestBrowserReceivers runs a subscriber with Pion's default interceptors, as the
// generator had before it had lighter ones, then one in a webinar without publisher,
// which receives nothing.
func TestBrowserReceivers(t *testing.T) {
	base, pid := startServer(t)
	r := runJSON(t, "-server", base, "-setup", "-kind", "webinar",
		"-publishers", "1", "-subscribers", "1", "-ramp", "20",
		"-warmup", "1s", "-duration", "2s", "-interval", "500ms", "-video-bitrate", "300000",
		"-server-pid", strconv.Itoa(pid), "-receiver-interceptors", "browser")
	require.Equal(t, 2, r.Joined)
	require.Equal(t, "browser", r.ReceiverInterceptors)
	require.False(t, r.PacedVideo, "unpaced by default")
	require.Positive(t, r.ForwardedVideo)
	require.Zero(t, r.Starved)
	require.Len(t, r.Intervals, 4, "a 2 s window in 0.5 s intervals")

	r = runJSON(t, "-server", base, "-setup", "-kind", "webinar", "-publishers", "0", "-subscribers", "1",
		"-warmup", "0s", "-duration", "1s")
	require.Equal(t, 1, r.Joined)
	require.Equal(t, 1, r.Starved, "no publisher: the subscriber received nothing")
	require.Equal(t, 1, r.NoMedia)
	require.Zero(t, r.Forwarded)
	require.Nil(t, r.GeneratorCPUPerMillion)

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-server", base, "-receiver-interceptors", "none"}, &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "-receiver-interceptors")
}

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses; utime 250 and stime 50 ticks.
	line := "4242 (web (x) naire) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 12 0 100 0 0"
	got, err := parseStatCPU(line)
	require.NoError(t, err)
	require.Equal(t, 3*time.Second, got)
	_, err = parseStatCPU("4242 (x) S 1 2")
	require.Error(t, err)

	self, err := processCPU(os.Getpid())
	require.NoError(t, err)
	require.LessOrEqual(t, self, selfCPU()+time.Second/clockTicks, "the test's own CPU time, by both means")
}

func TestParseSchedstatWait(t *testing.T) {
	got, err := parseSchedstatWait("278169273 1542465988 638\n")
	require.NoError(t, err)
	require.Equal(t, 1542465988*time.Nanosecond, got)
	_, err = parseSchedstatWait("12")
	require.Error(t, err)
}

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:8080", "http://127.3.2.1"} {
		require.NoError(t, loopbackOnly(ok), ok)
	}
	for _, bad := range []string{"http://192.168.1.2:8080", "https://webinaire.example.org", "http://10.0.0.1", "not a url"} {
		err := loopbackOnly(bad)
		require.Error(t, err, bad)
		require.True(t, strings.Contains(err.Error(), "loopback") || strings.Contains(err.Error(), "not a URL"), err.Error())
	}
}

// TestLoopbackHost reads the node a join answer's ws_url names, and refuses one that is
// not on loopback: a cluster's answer may name any of its nodes.
func TestLoopbackHost(t *testing.T) {
	for _, tc := range []struct {
		url, want string
	}{
		{"ws://127.0.0.1:8080/ws", "127.0.0.1:8080"},
		{"wss://localhost:8443/ws", "localhost:8443"},
		{"ws://[::1]:9000/ws", "[::1]:9000"},
		{"ws://127.0.0.2/ws", "127.0.0.2"},
	} {
		got, err := loopbackHost(tc.url)
		require.NoError(t, err, tc.url)
		require.Equal(t, tc.want, got, "got %s for %s, want %s", got, tc.url, tc.want)
	}
	for _, bad := range []string{"wss://node-2.webinaire.example.org/ws", "ws://10.0.0.7:8080/ws", "/ws", ""} {
		_, err := loopbackHost(bad)
		require.Error(t, err, bad)
	}
}

// TestNodeReports reads each node's figures from the counters of its participants, its
// latency and its process's CPU time.
func TestNodeReports(t *testing.T) {
	before := &totals{byNode: map[string]*nodeTotals{
		"127.0.0.1:1": {recv: 100, expected: 100},
		"127.0.0.1:2": {recv: 50, expected: 50},
	}}
	after := &totals{byNode: map[string]*nodeTotals{
		"127.0.0.1:1": {recv: 2_000_100, expected: 2_000_100, lost: 100},
		"127.0.0.1:2": {recv: 1_000_050, expected: 1_000_050},
	}}
	var h client.Histogram
	h.Record(2 * time.Millisecond)
	h.Record(30 * time.Millisecond)
	lat := &windowLatency{elapsed: 10 * time.Second, byNode: map[string]*client.Histogram{"127.0.0.1:2": &h}}
	cpu := cpuMeter{nodes: map[string]int{"127.0.0.1:1": 1},
		before: cpuReading{nodes: map[string]time.Duration{"127.0.0.1:1": time.Second}},
		after:  cpuReading{nodes: map[string]time.Duration{"127.0.0.1:1": 21 * time.Second}}}

	require.Nil(t, nodeReports(map[string]int{"127.0.0.1:1": 5}, before, after, lat, cpu), "one node")
	got := nodeReports(map[string]int{"127.0.0.1:2": 3, "127.0.0.1:1": 7}, before, after, lat, cpu)
	require.Len(t, got, 2)
	first, second := got[0], got[1]
	require.Equal(t, "127.0.0.1:1", first.Node, "in the order of host and port")
	require.Equal(t, 7, first.Joined)
	require.Equal(t, uint64(2_000_000), first.Forwarded)
	require.InDelta(t, 200_000, first.ForwardedRate, 0.001)
	require.InDelta(t, 0.005, first.LossPercent, 1e-9, "100 of 2,000,000")
	require.NotNil(t, first.CPUSeconds)
	require.InDelta(t, 20, *first.CPUSeconds, 1e-9)
	require.InDelta(t, 10, *first.CPUPerMillion, 1e-9, "20 s for 2 million")
	require.Zero(t, first.Latency.Count, "no latency recorded on the first node")

	require.Equal(t, 3, second.Joined)
	require.Nil(t, second.CPUSeconds, "no process given for the second node")
	require.Equal(t, 2, second.Latency.Count)
	require.InDelta(t, 30, second.Latency.Max, 0.001)
}

func TestNodePIDFlag(t *testing.T) {
	f := nodePIDFlag{}
	require.NoError(t, f.Set("127.0.0.1:8080=42"))
	require.NoError(t, f.Set("[::1]:9000=7"))
	require.Equal(t, nodePIDFlag{"127.0.0.1:8080": 42, "[::1]:9000": 7}, f)
	for _, bad := range []string{"127.0.0.1:8080", "127.0.0.1:8080=x", "127.0.0.1:8080=0", "=12", "10.0.0.7:8080=12"} {
		require.Error(t, f.Set(bad), bad)
	}
}
