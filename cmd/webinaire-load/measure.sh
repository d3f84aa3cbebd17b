#!/bin/sh
# Measures the media server with webinaire-load: a webinar fan-out (one publisher to
# many subscribers) and meetings where everyone publishes. The server runs pinned to
# core 0 with GOMAXPROCS=1, the generator on core 1; all traffic stays on loopback. Each
# runs in a session of its own (setsid), so that with the kernel's autogroups each gets
# the share of its core that any other session gets, not a share of this script's. All the
# generator's participants come from one address: the limits on joins and media sessions
# per client address are raised for the measured server.
#
#   cmd/webinaire-load/measure.sh                 # every case (about 10 minutes)
#   cmd/webinaire-load/measure.sh fanout 50 100   # some fan-outs
#   cmd/webinaire-load/measure.sh meeting 10      # one meeting
#
# Environment: DURATION (measured window, default 30s), BITRATE (default 1200000),
# OUT (folder of the reports, default $TMPDIR/webinaire-load-results).
set -eu

cd "$(dirname "$0")/../.."
DURATION=${DURATION:-30s}
BITRATE=${BITRATE:-1200000}
OUT=${OUT:-${TMPDIR:-/tmp}/webinaire-load-results}
PORT=${PORT:-18080}
mkdir -p "$OUT"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/webinaire" ./cmd/webinaire
go build -o "$bin/webinaire-load" ./cmd/webinaire-load

# start_server starts a fresh server (a fresh SQLite database) and sets SERVER_PID.
start_server() {
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
	GOMAXPROCS=1 setsid taskset -c 0 "$bin/webinaire" serve --listen "127.0.0.1:$PORT" >"$data/stdout" 2>"$data/stderr" &
	SERVER_PID=$!
	i=0
	until curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do
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

# load NAME KIND PUBLISHERS SUBSCRIBERS RAMP
load() {
	start_server
	echo "== $1: $(uptime)" | tee "$OUT/$1.txt"
	setsid taskset -c 1 "$bin/webinaire-load" -server "http://127.0.0.1:$PORT" -setup -kind "$2" \
		-publishers "$3" -subscribers "$4" -ramp "$5" -duration "$DURATION" \
		-video-bitrate "$BITRATE" -server-pid "$SERVER_PID" -json >"$OUT/$1.json"
	stop_server
	echo "== after: $(uptime)" >>"$OUT/$1.txt"
	summarise "$OUT/$1.json" | tee -a "$OUT/$1.txt"
}

# summarise prints the figures of a JSON report on one line.
summarise() {
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
cpu = r["server_cpu_seconds_per_million_forwarded"]
print("waits for a core: server %.1f s, generator %.1f s" % (r["server_runqueue_wait_seconds"], r["generator_runqueue_wait_seconds"]))
print("joined %d/%d  join p50 %.0f p95 %.0f max %.0f ms  first video p50 %.0f ms  forwarded %.0f pkt/s  loss %.3f %%  latency p50 %.2f p95 %.2f p99 %.2f max %.1f ms  server %.0f %% core, %.2f s/M  generator %.0f %% core" % (
  r["joined"], r["publishers"] + r["subscribers"], r["join"]["p50_ms"], r["join"]["p95_ms"], r["join"]["max_ms"],
  r["first_media"]["p50_ms"], r["forwarded_packets_per_second"], r["loss_percent"],
  r["added_latency"]["p50_ms"], r["added_latency"]["p95_ms"], r["added_latency"]["p99_ms"], r["added_latency"]["max_ms"],
  100 * r["server_cpu_share_of_a_core"], cpu or 0, 100 * r["generator_cpu_share_of_a_core"]))
' "$1"
}

what=${1:-all}
[ $# -gt 0 ] && shift
case $what in
fanout)
	for n in "$@"; do load "fanout-$n" webinar 1 "$n" 20; done ;;
meeting)
	for n in "$@"; do load "meeting-$n" meeting "$n" 0 20; done ;;
all)
	for n in 50 100 200 400; do load "fanout-$n" webinar 1 "$n" 20; done
	for n in 10 25; do load "meeting-$n" meeting "$n" 0 20; done ;;
*)
	echo "usage: $0 [all | fanout N... | meeting N...]" >&2; exit 2 ;;
esac
