#!/bin/sh
# Measures the media server with webinaire-load: a webinar fan-out (one publisher to
# many subscribers), meetings where everyone publishes, and a fan-out whose server shares
# its core with a busy loop (overload). With CORES=1 (the default) the server runs pinned
# to core 0 with GOMAXPROCS=1 and the generator on core 1; with CORES=2 the server runs
# with GOMAXPROCS=2 on cores 0 and 1, and so does the generator, which then takes its CPU
# from the same two cores. All traffic stays on loopback. Each process runs in a session
# of its own (setsid), so that with the kernel's autogroups each gets the share of its
# core that any other session gets, not a share of this script's. All the generator's
# participants come from one address: the limits on joins and media sessions per client
# address are raised for the measured server.
#
#   cmd/webinaire-load/measure.sh                   # every case (about 10 minutes)
#   cmd/webinaire-load/measure.sh fanout 50 100     # some fan-outs
#   cmd/webinaire-load/measure.sh meeting 10        # one meeting
#   cmd/webinaire-load/measure.sh overload 100 200  # fan-outs, a busy loop on the server's core
#   CORES=2 cmd/webinaire-load/measure.sh fanout 300
#   BIN=/tmp/old cmd/webinaire-load/measure.sh fanout 200   # prebuilt binaries
#
# Environment: DURATION (measured window, default 30s), BITRATE (default 1200000),
# OUT (folder of the reports, default $TMPDIR/webinaire-load-results), PORT (the server's
# HTTP port, default a free one picked for each case), CORES (1 or 2), BIN (a folder
# holding webinaire and webinaire-load, built from this checkout when unset), LOADFLAGS
# (more flags for webinaire-load, such as -cpuprofile or -receiver-interceptors browser),
# HOGS (busy loops on core 0 in the overload case, default 1).
set -eu

cd "$(dirname "$0")/../.."
DURATION=${DURATION:-30s}
BITRATE=${BITRATE:-1200000}
OUT=${OUT:-${TMPDIR:-/tmp}/webinaire-load-results}
CORES=${CORES:-1}
HOGS=${HOGS:-1}
LOADFLAGS=${LOADFLAGS:-}
mkdir -p "$OUT"
case $CORES in
1) server_cpus=0 server_procs=1 load_cpus=1 ;;
2) server_cpus=0,1 server_procs=2 load_cpus=0,1 ;;
*) echo "CORES is 1 or 2" >&2; exit 2 ;;
esac
HOG_PIDS=""
if [ -n "${BIN:-}" ]; then
	bin=$(cd "$BIN" && pwd)
	trap 'stop_hogs' EXIT
else
	bin=$(mktemp -d)
	trap 'stop_hogs; rm -rf "$bin"' EXIT
	go build -o "$bin/webinaire" ./cmd/webinaire
	go build -o "$bin/webinaire-load" ./cmd/webinaire-load
fi
for b in webinaire webinaire-load; do
	[ -x "$bin/$b" ] || { echo "no $bin/$b" >&2; exit 2; }
done

# The measured server serves /metrics with this token: its forwarding counters go to
# $OUT/<case>.metrics at the end of each case.
METRICS_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')

# free_port prints a TCP port of loopback that nothing listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server starts a fresh server (a fresh SQLite database) and sets SERVER_PID.
start_server() {
	port=${PORT:-$(free_port)}
	data=$(mktemp -d)
	WEBINAIRE_DATABASE_URL="$data/webinaire.db" \
	WEBINAIRE_RECORDINGS_DIR="$data/recordings" \
	WEBINAIRE_PRIVACY_LEDGER_KEY_FILE="$data/ledger.key" \
	WEBINAIRE_PRIVACY_LEDGER_SIGNING_KEY_FILE="$data/ledger-signing.key" \
	WEBINAIRE_PRIVACY_LEDGER_CHECKPOINT_FILE="$data/ledger-checkpoints" \
	WEBINAIRE_MEDIA_INCLUDE_LOOPBACK=true \
	WEBINAIRE_MEDIA_UDP_PORT=0 \
	WEBINAIRE_MEDIA_JOINS_PER_ADDRESS_PER_MINUTE=100000 \
	WEBINAIRE_SERVER_MEDIA_SESSIONS_BURST=100000 \
	WEBINAIRE_SERVER_MEDIA_SESSIONS_PER_HOUR=1000000 \
	WEBINAIRE_LOG_LEVEL=warn \
	WEBINAIRE_METRICS_TOKEN="$METRICS_TOKEN" \
	GOMAXPROCS=$server_procs setsid taskset -c "$server_cpus" "$bin/webinaire" serve --listen "127.0.0.1:$port" >"$data/stdout" 2>"$data/stderr" &
	SERVER_PID=$!
	i=0
	until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then echo "the server did not start: $(cat "$data/stderr")" >&2; exit 1; fi
		sleep 0.1
	done
}

stop_server() {
	kill -INT "$SERVER_PID"
	wait "$SERVER_PID" || true
	rm -rf "$data"
}

# start_hogs starts HOGS busy loops pinned to core 0, each in a session of its own (so
# that it takes as large a share of the core as the server's session), each ending by
# itself after $1 seconds at the latest.
start_hogs() {
	h=0
	while [ $h -lt "$HOGS" ]; do
		setsid taskset -c 0 timeout "$1" sh -c 'while :; do :; done' &
		HOG_PIDS="$HOG_PIDS $!"
		h=$((h + 1))
	done
}

stop_hogs() {
	for p in $HOG_PIDS; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	HOG_PIDS=""
}

# seconds prints DURATION (such as 30s, 2m or 1m30s) in seconds.
seconds() {
	python3 -c '
import re, sys
t = 0
for n, u in re.findall(r"([0-9.]+)(ms|s|m|h)", sys.argv[1]):
    t += float(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[u]
print(int(t + 0.999))
' "$1"
}

# load NAME KIND PUBLISHERS SUBSCRIBERS RAMP [HOG]: with HOG, busy loops share the
# server's core from before the first join to the end of the window.
load() {
	start_server
	if [ "${6:-}" = hog ]; then
		# The joins (at most a minute), the warm-up and the window, and some margin.
		start_hogs $(($4 / $5 + 60 + 5 + $(seconds "$DURATION") + 30))
	fi
	echo "== $1 (CORES=$CORES${6:+, $HOGS busy loop(s) on core 0}${LOADFLAGS:+, $LOADFLAGS}): $(uptime)" | tee "$OUT/$1.txt"
	# LOADFLAGS is split into words on purpose.
	# shellcheck disable=SC2086
	setsid taskset -c "$load_cpus" "$bin/webinaire-load" -server "http://127.0.0.1:$port" -setup -kind "$2" \
		-publishers "$3" -subscribers "$4" -ramp "$5" -duration "$DURATION" \
		-video-bitrate "$BITRATE" -server-pid "$SERVER_PID" -json $LOADFLAGS >"$OUT/$1.json"
	stop_hogs
	curl -fs -H "Authorization: Bearer $METRICS_TOKEN" "http://127.0.0.1:$port/metrics" |
		grep -E '^webinaire_(forward|media_send)_' >"$OUT/$1.metrics" || true
	stop_server
	echo "== after: $(uptime)" >>"$OUT/$1.txt"
	summarise "$OUT/$1.json" "$OUT/$1.metrics" | tee -a "$OUT/$1.txt"
}

# summarise prints the figures of a JSON report, and the server's forwarding counters
# (over the whole case, joins included) when the file of its metrics has them.
summarise() {
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
cpu = r["server_cpu_seconds_per_million_forwarded"]
gen = r.get("generator_cpu_seconds_per_million_received")
print("waits for a core: server %.1f s, generator %.1f s" % (r["server_runqueue_wait_seconds"], r["generator_runqueue_wait_seconds"]))
print("joined %d/%d  join p50 %.0f p95 %.0f max %.0f ms  first video p50 %.0f ms  forwarded %.0f pkt/s  loss %.3f %%  latency p50 %.2f p95 %.2f p99 %.2f max %.1f ms  server %.0f %% core, %.2f s/M  generator %.0f %% core, %.2f s/M" % (
  r["joined"], r["publishers"] + r["subscribers"], r["join"]["p50_ms"], r["join"]["p95_ms"], r["join"]["max_ms"],
  r["first_media"]["p50_ms"], r["forwarded_packets_per_second"], r["loss_percent"],
  r["added_latency"]["p50_ms"], r["added_latency"]["p95_ms"], r["added_latency"]["p99_ms"], r["added_latency"]["max_ms"],
  100 * r["server_cpu_share_of_a_core"], cpu or 0, 100 * r["generator_cpu_share_of_a_core"], gen or 0))
iv = r.get("added_latency_intervals")
if iv:
    first, last = iv[0], iv[-1]
    print("loss video %.3f %% audio %.3f %%  receivers with nothing in the window %d  latency p50/p99 of the first interval (to %g s) %.1f/%.1f ms, of the last (to %g s) %.1f/%.1f ms" % (
      r["loss_percent_video"], r["loss_percent_audio"], r["receivers_without_media_in_window"],
      first["seconds"], first["p50_ms"], first["p99_ms"], last["seconds"], last["p50_ms"], last["p99_ms"]))
try:
    lines = [l.split() for l in open(sys.argv[2]) if l.strip()]
except OSError:
    lines = []
if lines:
    print("server counters over the whole case: " + "  ".join("%s %.0f" % (n.replace("webinaire_", ""), float(v)) for n, v in lines))
' "$1" "${2:-}"
}

what=${1:-all}
[ $# -gt 0 ] && shift
case $what in
fanout)
	for n in "$@"; do load "fanout-$n" webinar 1 "$n" 20; done ;;
meeting)
	for n in "$@"; do load "meeting-$n" meeting "$n" 0 20; done ;;
overload)
	for n in "$@"; do load "overload-$n" webinar 1 "$n" 20 hog; done ;;
all)
	for n in 50 100 200 400; do load "fanout-$n" webinar 1 "$n" 20; done
	for n in 10 25; do load "meeting-$n" meeting "$n" 0 20; done
	for n in 100 200; do load "overload-$n" webinar 1 "$n" 20 hog; done ;;
*)
	echo "usage: $0 [all | fanout N... | meeting N... | overload N...]" >&2; exit 2 ;;
esac
