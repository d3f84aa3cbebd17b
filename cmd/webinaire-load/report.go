package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pion/webrtc/v4"

	"webinaire/sfu/client"
)

// quantiles are milliseconds at some ranks of a distribution.
type quantiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// quantilesOf sorts ds and reads its quantiles (nearest rank).
func quantilesOf(ds []time.Duration) quantiles {
	if len(ds) == 0 {
		return quantiles{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(ds))+0.5) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	return quantiles{Count: len(ds), P50: ms(at(0.5)), P95: ms(at(0.95)), P99: ms(at(0.99)), Max: ms(ds[len(ds)-1])}
}

func histQuantiles(h *client.Histogram) quantiles {
	return quantiles{Count: int(h.Count()), P50: ms(h.Quantile(0.5)), P95: ms(h.Quantile(0.95)),
		P99: ms(h.Quantile(0.99)), Max: ms(h.Max())}
}

// latencyInterval is the added latency of the packets received in one interval of the
// window, which ends End seconds after the window's start.
type latencyInterval struct {
	End float64 `json:"seconds"`
	quantiles
}

// report is the outcome of a load run; -json prints it as it is.
type report struct {
	Publishers  int `json:"publishers"`
	Subscribers int `json:"subscribers"`
	Joined      int `json:"joined"`
	// JoinedByNode counts the joined participants by the node (host:port of the join
	// answer's ws_url) they were sent to: the room's node, or an edge of the room.
	JoinedByNode map[string]int `json:"joined_by_node"`
	// Nodes are the figures of each node's participants, in the order of their host and
	// port, when they were sent to more than one node.
	Nodes        []nodeReport `json:"nodes,omitempty"`
	JoinFailures []string     `json:"join_failures"`
	// Join is the API call, the signalling WebSocket until joined, and ICE and DTLS until
	// connected; JoinAPI and JoinWS are its first parts.
	Join    quantiles `json:"join"`
	JoinAPI quantiles `json:"join_api"`
	JoinWS  quantiles `json:"join_ws"`
	// FirstMedia is from the start of a join to the first video packet received.
	FirstMedia quantiles `json:"first_media"`
	NoMedia    int       `json:"participants_without_media"`

	WindowSeconds    float64 `json:"window_seconds"`
	SentPackets      uint64  `json:"sent_packets"`
	SentVideo        uint64  `json:"sent_video_packets"`
	SentAudio        uint64  `json:"sent_audio_packets"`
	Keyframes        uint64  `json:"keyframes_sent"`
	KeyframeRequests uint64  `json:"keyframe_requests"`
	// Forwarded are the packets the receivers got: what the server forwarded to them.
	Forwarded      uint64  `json:"forwarded_packets"`
	ForwardedVideo uint64  `json:"forwarded_video_packets"`
	ForwardedAudio uint64  `json:"forwarded_audio_packets"`
	ForwardedRate  float64 `json:"forwarded_packets_per_second"`
	ForwardedMbps  float64 `json:"forwarded_payload_mbit_per_second"`
	Expected       uint64  `json:"expected_packets"`
	Lost           uint64  `json:"lost_packets"`
	LossPercent    float64 `json:"loss_percent"`
	// LossVideo and LossAudio are the loss of each kind, in percent.
	LossVideo float64 `json:"loss_percent_video"`
	LossAudio float64 `json:"loss_percent_audio"`
	// Starved are the participants with something to receive that received no packet in
	// the window.
	Starved int `json:"receivers_without_media_in_window"`
	// Latency is receive time minus send time, both in this process, of the packets
	// received in the window.
	Latency      quantiles `json:"added_latency"`
	VideoLatency quantiles `json:"added_latency_video"`
	AudioLatency quantiles `json:"added_latency_audio"`
	// Intervals are the latency of successive parts of the window (-interval): a queue
	// that builds up shows as a latency that grows from the first to the last.
	Intervals []latencyInterval `json:"added_latency_intervals"`
	// ReceiverInterceptors are the subscribers' interceptors (-receiver-interceptors).
	ReceiverInterceptors string `json:"receiver_interceptors"`
	// PacedVideo tells whether the publishers paced their video (-pace) or wrote each
	// frame's packets at once.
	PacedVideo bool `json:"paced_video"`

	NegotiationErrors int64 `json:"negotiation_errors"`
	// ServerCPUSeconds is nil without -server-pid.
	ServerCPUSeconds    *float64 `json:"server_cpu_seconds"`
	ServerCPUPerMillion *float64 `json:"server_cpu_seconds_per_million_forwarded"`
	ServerCPUShare      *float64 `json:"server_cpu_share_of_a_core"`
	// ServerWaitSeconds is the time the server's threads were ready to run but waited
	// for a core: taken by other processes, or by each other.
	ServerWaitSeconds    *float64 `json:"server_runqueue_wait_seconds"`
	GeneratorCPUSeconds  float64  `json:"generator_cpu_seconds"`
	GeneratorWaitSeconds float64  `json:"generator_runqueue_wait_seconds"`
	GeneratorCPUShare    float64  `json:"generator_cpu_share_of_a_core"`
	// GeneratorCPUPerMillion is the generator's CPU time per million packets received, the
	// publishers' sending included; nil when nothing was received.
	GeneratorCPUPerMillion *float64 `json:"generator_cpu_seconds_per_million_received"`
	// ServerDelay is the server's own forwarding delay in the window; nil without
	// -server-metrics.
	ServerDelay *serverDelay `json:"server_forward_delay"`
}

// nodeReport is what the participants one node served received in the window, and the
// node's CPU time when its process was given (-node-pid).
type nodeReport struct {
	// Node is the host and port of the node, as its join answers name it.
	Node   string `json:"node"`
	Joined int    `json:"joined"`
	// Forwarded are the packets its participants received; ForwardedRate per second.
	Forwarded     uint64    `json:"forwarded_packets"`
	ForwardedRate float64   `json:"forwarded_packets_per_second"`
	LossPercent   float64   `json:"loss_percent"`
	Latency       quantiles `json:"added_latency"`
	// CPUSeconds is the node's CPU time over the window, nil without its process.
	CPUSeconds *float64 `json:"cpu_seconds,omitempty"`
	// CPUPerMillion is CPUSeconds per million Forwarded: what forwarding costs on an
	// edge; on the room's node it also pays for the relay links, which no participant
	// receives.
	CPUPerMillion *float64 `json:"cpu_seconds_per_million_forwarded,omitempty"`
}

// nodeReports are the figures of each node, when there is more than one.
func nodeReports(joined map[string]int, before, after *totals, lat *windowLatency, cpu cpuMeter) []nodeReport {
	if len(joined) < 2 {
		return nil
	}
	var out []nodeReport
	for _, node := range slices.Sorted(maps.Keys(joined)) {
		n := nodeReport{Node: node, Joined: joined[node]}
		a, b := after.byNode[node], before.byNode[node]
		if a == nil {
			a = &nodeTotals{}
		}
		if b == nil {
			b = &nodeTotals{}
		}
		n.Forwarded = a.recv - b.recv
		n.ForwardedRate = float64(n.Forwarded) / lat.elapsed.Seconds()
		n.LossPercent = percent(a.lost-b.lost, a.expected-b.expected)
		if h := lat.byNode[node]; h != nil {
			n.Latency = histQuantiles(h)
		}
		if _, ok := cpu.nodes[node]; ok {
			s := (cpu.after.nodes[node] - cpu.before.nodes[node]).Seconds()
			n.CPUSeconds = &s
			if n.Forwarded > 0 {
				perM := s / (float64(n.Forwarded) / 1e6)
				n.CPUPerMillion = &perM
			}
		}
		out = append(out, n)
	}
	return out
}

// report compares the counters before and after the window.
func (l *loadRun) report(before, after *totals, lat *windowLatency, cpu cpuMeter, delay *serverDelay) *report {
	window := lat.elapsed
	r := &report{Publishers: l.p.Publishers, Subscribers: l.p.Subscribers, WindowSeconds: window.Seconds(),
		NegotiationErrors: l.negErrs.Load(), JoinFailures: []string{}, JoinedByNode: map[string]int{}, Intervals: lat.intervals,
		ReceiverInterceptors: l.p.ReceiverInterceptors.String(), PacedVideo: l.p.Media.Pace, ServerDelay: delay}
	var join, joinAPI, joinWS, first []time.Duration
	l.mu.Lock()
	everyone := l.everyone
	l.mu.Unlock()
	for _, p := range everyone {
		if p.err != nil {
			r.JoinFailures = append(r.JoinFailures, p.name+": "+p.err.Error())
			continue
		}
		r.Joined++
		r.JoinedByNode[p.node]++
		join = append(join, time.Duration(p.connected-p.start))
		joinAPI = append(joinAPI, time.Duration(p.apiDone-p.start))
		joinWS = append(joinWS, time.Duration(p.wsJoined-p.apiDone))
		var firstAt int64
		for _, s := range p.c.Received() {
			if s.Kind == webrtc.RTPCodecTypeVideo && s.FirstAt != 0 && (firstAt == 0 || s.FirstAt < firstAt) {
				firstAt = s.FirstAt
			}
		}
		receives := !p.publisher || l.p.Publishers > 1 // someone to receive
		if firstAt != 0 {
			first = append(first, time.Duration(firstAt-p.start))
		} else if receives {
			r.NoMedia++
		}
		if receives && after.received[p] == before.received[p] {
			r.Starved++
		}
	}
	r.Join, r.JoinAPI, r.JoinWS, r.FirstMedia = quantilesOf(join), quantilesOf(joinAPI), quantilesOf(joinWS), quantilesOf(first)
	r.Nodes = nodeReports(r.JoinedByNode, before, after, lat, cpu)

	r.SentPackets = after.sent - before.sent
	r.SentVideo = after.sentVideo - before.sentVideo
	r.SentAudio = after.sentAudio - before.sentAudio
	r.Keyframes = after.keyframes - before.keyframes
	r.KeyframeRequests = after.keyframeRequests - before.keyframeRequests
	r.Forwarded = after.recv - before.recv
	r.ForwardedVideo = after.recvVideo - before.recvVideo
	r.ForwardedAudio = after.recvAudio - before.recvAudio
	r.ForwardedRate = float64(r.Forwarded) / window.Seconds()
	r.ForwardedMbps = float64(after.recvBytes-before.recvBytes) * 8 / window.Seconds() / 1e6
	r.Expected = after.expected - before.expected
	r.Lost = after.lost - before.lost
	r.LossPercent = percent(r.Lost, r.Expected)
	r.LossVideo = percent(after.lostVideo-before.lostVideo, after.expectedVideo-before.expectedVideo)
	r.LossAudio = percent(after.lostAudio-before.lostAudio, after.expectedAudio-before.expectedAudio)
	var all client.Histogram
	all.Merge(&lat.video)
	all.Merge(&lat.audio)
	r.Latency, r.VideoLatency, r.AudioLatency = histQuantiles(&all), histQuantiles(&lat.video), histQuantiles(&lat.audio)

	self := cpu.after.self - cpu.before.self
	r.GeneratorCPUSeconds, r.GeneratorCPUShare = self.Seconds(), self.Seconds()/window.Seconds()
	if r.Forwarded > 0 {
		perM := self.Seconds() / (float64(r.Forwarded) / 1e6)
		r.GeneratorCPUPerMillion = &perM
	}
	r.GeneratorWaitSeconds = (cpu.after.selfWait - cpu.before.selfWait).Seconds()
	if cpu.pid != 0 {
		s := (cpu.after.server - cpu.before.server).Seconds()
		share := s / window.Seconds()
		wait := (cpu.after.serverWait - cpu.before.serverWait).Seconds()
		r.ServerCPUSeconds, r.ServerCPUShare, r.ServerWaitSeconds = &s, &share, &wait
		if r.Forwarded > 0 {
			perM := s / (float64(r.Forwarded) / 1e6)
			r.ServerCPUPerMillion = &perM
		}
	}
	return r
}

// percent is 100 n / of, 0 when of is 0.
func percent(n, of uint64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// writeText prints r as a table for people.
func (r *report) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	q := func(name string, v quantiles, p99 bool) {
		if v.Count == 0 {
			fmt.Fprintf(tw, "%s\t-\n", name)
			return
		}
		extra := ""
		if p99 {
			extra = fmt.Sprintf("\tp99 %.1f ms", v.P99)
		}
		fmt.Fprintf(tw, "%s\tp50 %.1f ms\tp95 %.1f ms%s\tmax %.1f ms\t(%d)\n", name, v.P50, v.P95, extra, v.Max, v.Count)
	}
	fmt.Fprintf(tw, "participants\t%d publishers, %d subscribers\tjoined %d\tfailed %d\n", r.Publishers, r.Subscribers, r.Joined, len(r.JoinFailures))
	for _, n := range r.Nodes {
		cpu := ""
		if n.CPUSeconds != nil {
			cpu = fmt.Sprintf("\tCPU %.2f s", *n.CPUSeconds)
			if n.CPUPerMillion != nil {
				cpu += fmt.Sprintf(", %.2f s per million", *n.CPUPerMillion)
			}
		}
		fmt.Fprintf(tw, "  on %s\t%d\t%.0f packets/s\tloss %.3f %%\tlatency p50 %.1f p99 %.1f ms%s\n",
			n.Node, n.Joined, n.ForwardedRate, n.LossPercent, n.Latency.P50, n.Latency.P99, cpu)
	}
	q("join (API+WS+ICE)", r.Join, false)
	q("  API call", r.JoinAPI, false)
	q("  WS until joined", r.JoinWS, false)
	q("first video packet", r.FirstMedia, false)
	if r.NoMedia > 0 {
		fmt.Fprintf(tw, "without media\t%d participants\n", r.NoMedia)
	}
	fmt.Fprintf(tw, "window\t%.1f s\n", r.WindowSeconds)
	pacing := "unpaced: a frame's packets at once"
	if r.PacedVideo {
		pacing = "paced: 2.5 times its bit rate, bursts 5 ms apart"
	}
	fmt.Fprintf(tw, "sent\t%d packets\tvideo %d\taudio %d\tkeyframes %d (requests %d)\tvideo %s\n", r.SentPackets, r.SentVideo, r.SentAudio, r.Keyframes, r.KeyframeRequests, pacing)
	fmt.Fprintf(tw, "forwarded (received)\t%d packets\tvideo %d\taudio %d\t%.0f packets/s, %.1f Mbit/s\n", r.Forwarded, r.ForwardedVideo, r.ForwardedAudio, r.ForwardedRate, r.ForwardedMbps)
	fmt.Fprintf(tw, "loss\t%.3f %%\t%d of %d\tvideo %.3f %%\taudio %.3f %%\n", r.LossPercent, r.Lost, r.Expected, r.LossVideo, r.LossAudio)
	if r.Starved > 0 {
		fmt.Fprintf(tw, "nothing received in the window\t%d participants\n", r.Starved)
	}
	q("added latency", r.Latency, true)
	q("  video", r.VideoLatency, true)
	q("  audio", r.AudioLatency, true)
	if n := len(r.Intervals); n > 1 {
		q(fmt.Sprintf("  first %.0f s", r.Intervals[0].End), r.Intervals[0].quantiles, true)
		q(fmt.Sprintf("  last %.0f s", r.Intervals[n-1].End-r.Intervals[n-2].End), r.Intervals[n-1].quantiles, true)
	}
	if r.ServerCPUSeconds != nil {
		perM := "-"
		if r.ServerCPUPerMillion != nil {
			perM = fmt.Sprintf("%.2f s per million forwarded packets", *r.ServerCPUPerMillion)
		}
		fmt.Fprintf(tw, "server CPU\t%.2f s\t%.0f %% of a core\t%s\n", *r.ServerCPUSeconds, 100**r.ServerCPUShare, perM)
		fmt.Fprintf(tw, "  waiting for a core\t%.2f s\n", *r.ServerWaitSeconds)
	}
	if d := r.ServerDelay; d != nil {
		fmt.Fprintf(tw, "server's forwarding delay\tp50 %s\tp99 %s\tp99.9 %s\t(%d datagrams)\n", atMost(d.P50), atMost(d.P99), atMost(d.P999), d.Count)
	}
	genPerM := "-"
	if r.GeneratorCPUPerMillion != nil {
		genPerM = fmt.Sprintf("%.2f s per million received packets", *r.GeneratorCPUPerMillion)
	}
	fmt.Fprintf(tw, "generator CPU\t%.2f s\t%.0f %% of a core\t%s\t(%s receivers)\n", r.GeneratorCPUSeconds, 100*r.GeneratorCPUShare, genPerM, r.ReceiverInterceptors)
	fmt.Fprintf(tw, "  waiting for a core\t%.2f s\n", r.GeneratorWaitSeconds)
	if r.NegotiationErrors > 0 {
		fmt.Fprintf(tw, "negotiation errors\t%d\n", r.NegotiationErrors)
	}
	for i, f := range r.JoinFailures {
		if i == 5 {
			fmt.Fprintf(tw, "\t... and %d more\n", len(r.JoinFailures)-5)
			break
		}
		fmt.Fprintf(tw, "join failure\t%s\n", strings.ReplaceAll(f, "\t", " "))
	}
	return tw.Flush()
}

// atMost writes a quantile of serverDelay: the upper bound of its bucket.
func atMost(ms float64) string {
	if ms < 0 {
		return "above every bucket"
	}
	return fmt.Sprintf("<= %g ms", ms)
}
