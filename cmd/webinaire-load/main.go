// Command webinaire-load is a headless load generator for Webinaire's media server. Its
// participants are Pion clients (sfu/client) that join through the HTTP API with
// invitation links, publish synthetic VP8 and Opus or receive, and measure join times,
// loss and the latency the server adds; it reads the server's CPU time around a measured
// window. It sends traffic to loopback only.
//
//	webinaire-load -setup -kind webinar -publishers 1 -subscribers 100 -server-pid $(pgrep -n webinaire)
//
// See docs/performance.md for the measurements and the procedure.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"webinaire/sfu/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses the flags, makes the room with -setup, runs the load and prints the report.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("webinaire-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		server      = fs.String("server", "http://127.0.0.1:8080", "base URL of the server (loopback only)")
		invitation  = fs.String("invitation", "", "invitation link or token of the subscribers (an attendee's), and of the publishers without -publisher-invitation")
		pubInv      = fs.String("publisher-invitation", "", "invitation link or token of the publishers (a presenter's, in a webinar)")
		setup       = fs.Bool("setup", false, "log in through the development identity provider, create the room and its invitations, print them and run with them")
		setupOnly   = fs.Bool("setup-only", false, "with -setup: print the invitations as JSON and stop")
		setupUser   = fs.String("setup-user", "dev-camille-martin", "with -setup: the organizer of the development identity provider")
		kind        = fs.String("kind", "webinar", "with -setup: webinar or meeting")
		publishers  = fs.Int("publishers", 1, "participants that publish a camera and a microphone")
		subscribers = fs.Int("subscribers", 10, "participants that only receive")
		ramp        = fs.Float64("ramp", 10, "subscribers joining per second")
		warmup      = fs.Duration("warmup", 5*time.Second, "time between the last join and the measured window")
		duration    = fs.Duration("duration", 30*time.Second, "length of the measured window")
		interval    = fs.Duration("interval", time.Second, "length of the parts of the window whose latency is reported apart")
		recvInter   = fs.String("receiver-interceptors", "reports", "interceptors of the subscribers: browser (Pion's defaults: NACK, RTCP reports, TWCC, statistics), reports (RTCP reports only) or reports+nack")
		joinTimeout = fs.Duration("join-timeout", 60*time.Second, "bound of each participant's join")
		bitrate     = fs.Int("video-bitrate", 1_200_000, "video bit rate of each publisher, bit/s")
		fps         = fs.Int("fps", 30, "video frames per second")
		keyEvery    = fs.Duration("keyframe-interval", 3*time.Second, "time between two key frames of a publisher")
		pace        = fs.Bool("pace", false, "pace the publishers' video as browsers do: each frame's packets at 2.5 times -video-bitrate, in bursts at least 5 ms apart (default: a frame's packets at once)")
		serverPID   = fs.Int("server-pid", 0, "process id of the server, to read its CPU time (Linux)")
		nodePIDs    = nodePIDFlag{}
		serverMet   = fs.String("server-metrics", "", "URL of the server's /metrics (loopback only), read around the window for its own forwarding delay")
		metricsTok  = fs.String("metrics-token", "", "with -server-metrics: the bearer token of /metrics (metrics.token)")
		jsonOut     = fs.Bool("json", false, "print the report as JSON")
		verbose     = fs.Bool("v", false, "log the clients' warnings and Pion's errors")
		cpuProfile  = fs.String("cpuprofile", "", "write the generator's CPU profile of the whole run to this file")
	)
	fs.Var(nodePIDs, "node-pid", "host:port=pid: the process of the node that join answers name host:port, to read its CPU time (Linux); repeat for each node of a cluster")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "webinaire-load:", err)
		return 1
	}
	if err := loopbackOnly(*server); err != nil {
		return fail(err)
	}
	if *serverMet != "" {
		if _, err := loopbackHost(*serverMet); err != nil {
			return fail(fmt.Errorf("-server-metrics: %w", err))
		}
	}
	if *publishers < 0 || *subscribers < 0 || *publishers+*subscribers == 0 || *ramp <= 0 || *duration <= 0 || *interval <= 0 {
		return fail(errors.New("want at least one participant, a positive -ramp, -duration and -interval"))
	}
	interceptors, err := client.ParseInterceptors(*recvInter)
	if err != nil {
		return fail(fmt.Errorf("-receiver-interceptors: %w", err))
	}
	level := slog.LevelInfo
	var pionLog io.Writer = stderr
	if !*verbose {
		level, pionLog = slog.LevelError, nil
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	if *setup {
		inv, err := setupRoom(ctx, *server, *setupUser, *kind)
		if err != nil {
			return fail(fmt.Errorf("setup: %w", err))
		}
		if *setupOnly {
			return printJSON(stdout, inv, fail)
		}
		fmt.Fprintf(stderr, "webinaire-load: %s %s: publishers %s subscribers %s\n", inv.Kind, inv.WebinarID, inv.Publisher, inv.Subscriber)
		*pubInv, *invitation = inv.Publisher, inv.Subscriber
		if inv.Kind == "meeting" {
			*pubInv = inv.Subscriber // everyone publishes in a meeting
		}
	}
	if *pubInv == "" {
		*pubInv = *invitation
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	if *invitation == "" && *subscribers > 0 || *pubInv == "" && *publishers > 0 {
		return fail(errors.New("no invitation: give -invitation (and -publisher-invitation), or -setup"))
	}
	r, err := runLoad(ctx, loadParams{
		Server:              *server,
		PublisherInvitation: *pubInv, SubscriberInvitation: *invitation,
		Publishers: *publishers, Subscribers: *subscribers,
		Ramp: *ramp, Warmup: *warmup, Window: *duration, Interval: *interval, JoinTimeout: *joinTimeout,
		Media:     client.Media{VideoBitrate: *bitrate, FrameRate: *fps, KeyframeInterval: *keyEvery, Pace: *pace},
		ServerPID: *serverPID, ServerMetrics: *serverMet, MetricsToken: *metricsTok,
		NodePIDs: nodePIDs,
		Logger:   log,
		PionLog:  pionLog,

		ReceiverInterceptors: interceptors,
	})
	if err != nil {
		return fail(err)
	}
	if *jsonOut {
		return printJSON(stdout, r, fail)
	}
	if err := r.writeText(stdout); err != nil {
		return fail(err)
	}
	return 0
}

// nodePIDFlag is -node-pid, repeated: the process id of each node by host and port.
type nodePIDFlag map[string]int

func (f nodePIDFlag) String() string { return fmt.Sprint(map[string]int(f)) }

func (f nodePIDFlag) Set(v string) error {
	node, pid, ok := strings.Cut(v, "=")
	n, err := strconv.Atoi(pid)
	if !ok || err != nil || n <= 0 || node == "" {
		return fmt.Errorf("%q is not host:port=pid", v)
	}
	if _, err := loopbackHost("http://" + node); err != nil {
		return err
	}
	f[node] = n
	return nil
}

func printJSON(w io.Writer, v any, fail func(error) int) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fail(err)
	}
	return 0
}

// loopbackOnly refuses a server that is not on this machine's loopback: load goes there only.
func loopbackOnly(server string) error {
	if _, err := loopbackHost(server); err != nil {
		return fmt.Errorf("-server: %w", err)
	}
	return nil
}

// loopbackHost is the host and port of URL raw, which must be on this machine's loopback.
func loopbackHost(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%q is not a URL", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return u.Host, nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return u.Host, nil
	}
	return "", fmt.Errorf("%s is not on loopback: the load generator sends traffic to this machine only", raw)
}
