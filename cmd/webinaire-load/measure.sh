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
# The edge case runs a webinar larger than one node: two nodes on one PostgreSQL database
# sharing their keys, the room's node (the origin), of two seats (cluster.capacity), which
# takes the publisher and the first viewer, and an edge of a large capacity, which links
# once to the origin and forwards the relayed tracks to every other viewer. The generator
# joins through the origin's API, whose answers send the viewers to the edge. Where they
# run: the edge carries the fan-out, so it is the measured server and takes the single
# server's place (core 0, GOMAXPROCS as CORES says); the origin forwards to one viewer
# and one relay link, and runs beside the generator (core 1 with CORES=1, GOMAXPROCS=1;
# both cores with CORES=2). The edge's figure then compares with the single server's of
# fanout N, and the origin takes little from the generator's core. The summary gives the
# edge's CPU per million forwarded packets (the window), the origin's CPU time read from
# /proc over the whole generator run (joins included), loss, added latency (publisher to
# viewer across both nodes), the joined and how many of them the edge took.
# Placement: two idle nodes weigh the same for a new room (no share of their capacity in
# use), so the edge starts first and a join of another webinar through it holds a seat
# there for an hour (cluster.seat_hold) before the origin starts: the measured room goes
# to the origin. The origin heartbeats every 100ms (see where it starts).
# The database is $DATABASE_URL's server when set (each case creates a database there
# and drops it after), else a throw-away PostgreSQL cluster (initdb and pg_ctl, from PATH
# or /usr/lib/postgresql/*/bin) on a free port of loopback in a temporary folder, removed
# at the end.
#
#   cmd/webinaire-load/measure.sh                   # every case but edge (about 10 minutes)
#   cmd/webinaire-load/measure.sh fanout 50 100     # some fan-outs
#   cmd/webinaire-load/measure.sh meeting 10        # one meeting
#   cmd/webinaire-load/measure.sh overload 100 200  # fan-outs, a busy loop on the server's core
#   cmd/webinaire-load/measure.sh edge 100 200      # fan-outs from an edge of the room's node
#   EDGES=2 cmd/webinaire-load/measure.sh edge 300  # three nodes: the room's and two edges
#   CORES=2 cmd/webinaire-load/measure.sh fanout 300
#   BIN=/tmp/old cmd/webinaire-load/measure.sh fanout 200   # prebuilt binaries
#   PACE=1 cmd/webinaire-load/measure.sh fanout 200         # the publishers pace their video
#
# Environment: DURATION (measured window, default 30s), BITRATE (default 1200000),
# OUT (folder of the reports, default $TMPDIR/webinaire-load-results), PORT (the server's
# HTTP port, default a free one picked for each case; the edge case's nodes always take
# free ones), CORES (1 or 2), BIN (a folder holding webinaire and webinaire-load, built
# from this checkout when unset), LOADFLAGS (more flags for webinaire-load, such as
# -cpuprofile or -receiver-interceptors browser), PACE (1: the publishers pace their video
# as browsers do, webinaire-load -pace; default 0, each frame's packets at once), HOGS (busy loops on core 0 in the
# overload case, default 1), EDGES (the edge case's edges, default 1; each then runs
# where the single edge does, with GOMAXPROCS as CORES says), DATABASE_URL (the edge case's PostgreSQL server, a URL such
# as postgres://user@127.0.0.1:5432/postgres).
set -eu

cd "$(dirname "$0")/../.."
DURATION=${DURATION:-30s}
BITRATE=${BITRATE:-1200000}
OUT=${OUT:-${TMPDIR:-/tmp}/webinaire-load-results}
CORES=${CORES:-1}
HOGS=${HOGS:-1}
EDGES=${EDGES:-1}
LOADFLAGS=${LOADFLAGS:-}
PACE=${PACE:-0}
mkdir -p "$OUT"
# The origin of the edge case runs on origin_cpus with GOMAXPROCS=origin_procs.
case $CORES in
1) server_cpus=0 server_procs=1 load_cpus=1 origin_cpus=1 origin_procs=1 ;;
2) server_cpus=0,1 server_procs=2 load_cpus=0,1 origin_cpus=0,1 origin_procs=2 ;;
*) echo "CORES is 1 or 2" >&2; exit 2 ;;
esac
HOG_PIDS=""
NODE_PIDS=""
PG_DIR="" pg_bin="" as_pg="" case_dir=""
trap 'cleanup' EXIT
if [ -n "${BIN:-}" ]; then
	bin=$(cd "$BIN" && pwd)
else
	bin=$(mktemp -d)
	built=$bin
	go build -o "$bin/webinaire" ./cmd/webinaire
	go build -o "$bin/webinaire-load" ./cmd/webinaire-load
fi
for b in webinaire webinaire-load; do
	[ -x "$bin/$b" ] || { echo "no $bin/$b" >&2; exit 2; }
done
# metrics_flags PORT prints the generator's flags that read the server's forwarding delay
# on PORT around the window, when the generator has them (not a build of before them).
metrics_flags() {
	if "$bin/webinaire-load" -h 2>&1 | grep -q -- -server-metrics; then
		echo "-server-metrics http://127.0.0.1:$1/metrics -metrics-token $METRICS_TOKEN"
	fi
}

# The measured server serves /metrics with this token: its forwarding counters go to
# $OUT/<case>.metrics at the end of each case.
METRICS_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')

# free_port prints a TCP port of loopback that nothing listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cleanup() {
	stop_hogs
	for p in $NODE_PIDS; do
		kill -INT "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	[ -z "$case_dir" ] || rm -rf "$case_dir"
	stop_postgres
	[ -z "${built:-}" ] || rm -rf "$built"
}

# serve DIR CPUS PROCS PORT [VAR=VALUE...] runs a server in the background in folder DIR
# (its data, its output), pinned to CPUS with GOMAXPROCS=PROCS, on loopback port PORT,
# with the variables given added to the environment of every measured server; it sets
# SERVER_PID and returns once the server is ready.
serve() {
	dir=$1 cpus=$2 procs=$3 listen=127.0.0.1:$4
	shift 4
	(
		cd "$dir"
		# The keys of the ledger are the cluster's in the edge case: the variables given
		# after them take precedence.
		exec env WEBINAIRE_RECORDINGS_DIR="$dir/recordings" \
			WEBINAIRE_PRIVACY_LEDGER_KEY_FILE="$dir/ledger.key" \
			WEBINAIRE_PRIVACY_LEDGER_SIGNING_KEY_FILE="$dir/ledger-signing.key" \
			WEBINAIRE_PRIVACY_LEDGER_CHECKPOINT_FILE="$dir/ledger-checkpoints" \
			WEBINAIRE_MEDIA_INCLUDE_LOOPBACK=true \
			WEBINAIRE_MEDIA_UDP_PORT=0 \
			WEBINAIRE_MEDIA_JOINS_PER_ADDRESS_PER_MINUTE=100000 \
			WEBINAIRE_SERVER_MEDIA_SESSIONS_BURST=100000 \
			WEBINAIRE_SERVER_MEDIA_SESSIONS_PER_HOUR=1000000 \
			WEBINAIRE_LOG_LEVEL=warn \
			WEBINAIRE_METRICS_TOKEN="$METRICS_TOKEN" \
			"$@" GOMAXPROCS="$procs" setsid taskset -c "$cpus" "$bin/webinaire" serve --listen "$listen"
	) >"$dir/stdout" 2>"$dir/stderr" &
	SERVER_PID=$!
	i=0
	until curl -fs "http://$listen/readyz" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 300 ]; then echo "the server in $dir did not start: $(cat "$dir/stderr")" >&2; exit 1; fi
		sleep 0.1
	done
}

# counters PORT prints the forwarding counters of the server on PORT.
counters() {
	curl -fs -H "Authorization: Bearer $METRICS_TOKEN" "http://127.0.0.1:$1/metrics" |
		grep -E '^webinaire_(forward|media_send)_' || true
}

# start_node ID PORT CPUS PROCS [VAR=VALUE...] starts node ID of the edge case's cluster,
# on database db_url with the keys in case_dir, and sets SERVER_PID.
start_node() {
	node_id=$1 node_port=$2 node_cpus=$3 node_procs=$4
	shift 4
	mkdir "$case_dir/$node_id"
	serve "$case_dir/$node_id" "$node_cpus" "$node_procs" "$node_port" \
		WEBINAIRE_DATABASE_DRIVER=postgres WEBINAIRE_DATABASE_URL="$db_url" \
		WEBINAIRE_MEDIA_TOKEN_KEY_FILE="$case_dir/token.key" \
		WEBINAIRE_PRIVACY_LEDGER_KEY_FILE="$case_dir/ledger.key" \
		WEBINAIRE_PRIVACY_LEDGER_SIGNING_KEY_FILE="$case_dir/ledger-signing.key" \
		WEBINAIRE_PRIVACY_LEDGER_CHECKPOINT_FILE="$case_dir/ledger-checkpoints" \
		WEBINAIRE_CLUSTER_NODE_ID="$node_id" WEBINAIRE_CLUSTER_URL="http://127.0.0.1:$node_port" "$@"
	NODE_PIDS="$NODE_PIDS $SERVER_PID"
}

# start_server starts a fresh server (a fresh SQLite database) and sets SERVER_PID.
start_server() {
	port=${PORT:-$(free_port)}
	data=$(mktemp -d)
	serve "$data" "$server_cpus" "$server_procs" "$port" WEBINAIRE_DATABASE_URL="$data/webinaire.db"
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
	echo "== $1 (CORES=$CORES${6:+, $HOGS busy loop(s) on core 0}${pace_flag:+, paced video}${LOADFLAGS:+, $LOADFLAGS}): $(uptime)" | tee "$OUT/$1.txt"
	# pace_flag, LOADFLAGS and the metrics flags are split into words on purpose.
	# shellcheck disable=SC2086,SC2046
	setsid taskset -c "$load_cpus" "$bin/webinaire-load" -server "http://127.0.0.1:$port" -setup -kind "$2" \
		-publishers "$3" -subscribers "$4" -ramp "$5" -duration "$DURATION" \
		-video-bitrate "$BITRATE" -server-pid "$SERVER_PID" $(metrics_flags "$port") -json $pace_flag $LOADFLAGS >"$OUT/$1.json"
	stop_hogs
	counters "$port" >"$OUT/$1.metrics"
	stop_server
	echo "== after: $(uptime)" >>"$OUT/$1.txt"
	summarise "$OUT/$1.json" "$OUT/$1.metrics" | tee -a "$OUT/$1.txt"
}

# start_postgres sets PG_URL, the URL of a PostgreSQL server's maintenance database:
# $DATABASE_URL, else that of a throw-away cluster it starts in PG_DIR (as the postgres
# user when run as root, which initdb refuses to be).
start_postgres() {
	if [ -n "${DATABASE_URL:-}" ]; then
		PG_URL=$DATABASE_URL
		return
	fi
	pg_bin=$(dirname "$(readlink -f "$(command -v initdb || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)")")
	[ -x "$pg_bin/initdb" ] || { echo "the edge case needs PostgreSQL: set DATABASE_URL, or install initdb and pg_ctl" >&2; exit 2; }
	PG_DIR=$(mktemp -d)
	as_pg=""
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$PG_DIR"
		as_pg="runuser -u postgres --"
	fi
	$as_pg "$pg_bin/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --no-locale --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
		{ echo "initdb failed: $(tail -n 5 "$PG_DIR/initdb.log")" >&2; exit 1; }
	pg_port=$(free_port)
	$as_pg "$pg_bin/pg_ctl" start -w -t 60 -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" \
		-o "-p $pg_port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null ||
		{ echo "PostgreSQL did not start: $(tail -n 5 "$PG_DIR/postgres.log")" >&2; exit 1; }
	PG_URL="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"
}

stop_postgres() {
	[ -n "$PG_DIR" ] || return 0
	$as_pg "$pg_bin/pg_ctl" stop -m immediate -w -D "$PG_DIR/data" >/dev/null 2>&1 || true
	rm -rf "$PG_DIR"
	PG_DIR=""
}

# database_url NAME prints the URL of database NAME on PG_URL's server.
database_url() {
	python3 -c '
import sys, urllib.parse as u
print(u.urlunsplit(u.urlsplit(sys.argv[1])._replace(path="/" + sys.argv[2])))
' "$PG_URL" "$1"
}

# cpu_seconds PID prints the CPU time (user and system) process PID has used.
cpu_seconds() {
	# utime and stime are fields 14 and 15; fields count from the last ')', after the
	# command name, which may hold spaces.
	sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($12 + $13) / hz }'
}

# edge NAME N: one publisher and N viewers, all but one of them on the edges of the
# room (EDGES of them, each of about N/EDGES seats when more than one).
edge() {
	[ -n "${PG_URL:-}" ] || start_postgres
	case_dir=$(mktemp -d)
	db=webinaire_$(python3 -c 'import secrets; print(secrets.token_hex(8))')
	"$(command -v psql || echo "$pg_bin/psql")" -q -v ON_ERROR_STOP=1 "$PG_URL" -c "CREATE DATABASE $db" >/dev/null
	db_url=$(database_url "$db")
	origin_port=$(free_port)
	# One edge takes every viewer; several take about as many each: the first is filled
	# before the next (a room's edge first), and a held seat and a margin for the seats
	# the heartbeats have not counted yet are added.
	capacity=1000000 heartbeat=1s
	[ "$EDGES" -eq 1 ] || capacity=$(( ($2 + EDGES - 1) / EDGES + 2 )) heartbeat=100ms
	# The edges first (the first applies the migrations and makes the shared keys), then a
	# seat held on each by a join of another webinar, so that the measured room goes to
	# the origin, whose share of its capacity in use is 0.
	node_flags="" edge_pids="" e=1
	while [ $e -le "$EDGES" ]; do
		edge_port=$(free_port)
		start_node "edge$e" "$edge_port" "$server_cpus" "$server_procs" WEBINAIRE_CLUSTER_CAPACITY=$capacity \
			WEBINAIRE_CLUSTER_SEAT_HOLD=1h WEBINAIRE_CLUSTER_HEARTBEAT_INTERVAL=$heartbeat
		edge_pids="$edge_pids $SERVER_PID"
		node_flags="$node_flags -node-pid 127.0.0.1:$edge_port=$SERVER_PID"
		[ $e -gt 1 ] || { EDGE_PID=$SERVER_PID first_edge_port=$edge_port; }
		held=$("$bin/webinaire-load" -server "http://127.0.0.1:$edge_port" -setup -setup-only -kind webinar |
			python3 -c 'import json, sys; print(json.load(sys.stdin)["subscriber_invitation"].rsplit("/", 1)[-1])')
		curl -fs -o /dev/null -H 'Content-Type: application/json' -d '{"display_name":"Seat holder"}' \
			"http://127.0.0.1:$edge_port/api/v1/invitations/$held/join"
		e=$((e + 1))
	done
	# A viewer who enters the origin stops holding a reserved seat there at once, but the
	# origin counts him in its load at its next heartbeat only: until then the joins see a
	# seat free. The shortest interval (100ms) keeps the viewers that slip in so few.
	start_node origin "$origin_port" "$origin_cpus" "$origin_procs" WEBINAIRE_CLUSTER_CAPACITY=2 WEBINAIRE_CLUSTER_HEARTBEAT_INTERVAL=100ms
	ORIGIN_PID=$SERVER_PID
	node_flags="$node_flags -node-pid 127.0.0.1:$origin_port=$ORIGIN_PID"
	# With one edge it is the measured server; with several, the figures are by node.
	server_flag=""
	[ "$EDGES" -gt 1 ] || server_flag="-server-pid $EDGE_PID"

	echo "== $1 (CORES=$CORES, $EDGES edge(s) on cores $server_cpus, origin on cores $origin_cpus${pace_flag:+, paced video}${LOADFLAGS:+, $LOADFLAGS}): $(uptime)" | tee "$OUT/$1.txt"
	origin_before=$(cpu_seconds "$ORIGIN_PID")
	started=$(date +%s.%N)
	# pace_flag, LOADFLAGS, server_flag, node_flags and the metrics flags are split into words on purpose.
	# shellcheck disable=SC2086,SC2046
	setsid taskset -c "$load_cpus" "$bin/webinaire-load" -server "http://127.0.0.1:$origin_port" -setup -kind webinar \
		-publishers 1 -subscribers "$2" -ramp 20 -duration "$DURATION" \
		-video-bitrate "$BITRATE" $server_flag $node_flags $(metrics_flags "$first_edge_port") -json $pace_flag $LOADFLAGS >"$OUT/$1.json"
	origin_after=$(cpu_seconds "$ORIGIN_PID")
	ended=$(date +%s.%N)
	counters "$first_edge_port" >"$OUT/$1.edge.metrics"
	counters "$origin_port" >"$OUT/$1.origin.metrics"
	for p in $edge_pids $ORIGIN_PID; do
		kill -INT "$p"
		wait "$p" || true
	done
	NODE_PIDS=""
	"$(command -v psql || echo "$pg_bin/psql")" -q "$PG_URL" -c "DROP DATABASE $db" >/dev/null || true
	rm -rf "$case_dir"
	case_dir=""
	echo "== after: $(uptime)" >>"$OUT/$1.txt"
	{
		summarise "$OUT/$1.json" "$OUT/$1.edge.metrics"
		summarise_edge "$OUT/$1.json" "127.0.0.1:$first_edge_port" "$origin_before" "$origin_after" "$started" "$ended" "$OUT/$1.origin.metrics"
	} | tee -a "$OUT/$1.txt"
}

# summarise_edge REPORT EDGE ORIGIN_CPU_BEFORE ORIGIN_CPU_AFTER START END ORIGIN_METRICS
# prints the figures of an edge case, whose server in REPORT is the edge (host:port
# EDGE), and the origin's forwarding counters.
summarise_edge() {
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
edge = sys.argv[2]
origin_cpu = float(sys.argv[4]) - float(sys.argv[3])
elapsed = float(sys.argv[6]) - float(sys.argv[5])
by_node = r.get("joined_by_node") or {}
print("edge: joined %d/%d, on the (first) edge %d, elsewhere %d  origin CPU %.2f s over the run (%.0f s, joins included, %.0f %% of a core)  loss %.3f %%  added latency p50 %.2f p99 %.2f ms" % (
  r["joined"], r["publishers"] + r["subscribers"], by_node.get(edge, 0), r["joined"] - by_node.get(edge, 0),
  origin_cpu, elapsed, 100 * origin_cpu / elapsed,
  r["loss_percent"], r["added_latency"]["p50_ms"], r["added_latency"]["p99_ms"]))
for n in r.get("nodes") or []:
    cpu = "CPU %.2f s over the window" % n["cpu_seconds"] if n.get("cpu_seconds") is not None else "CPU -"
    if n.get("cpu_seconds_per_million_forwarded") is not None:
        cpu += ", %.2f s/M" % n["cpu_seconds_per_million_forwarded"]
    print("  node %s: joined %d  forwarded %.0f pkt/s  loss %.3f %%  latency p50 %.2f p99 %.2f ms  %s" % (
      n["node"], n["joined"], n["forwarded_packets_per_second"], n["loss_percent"],
      n["added_latency"]["p50_ms"], n["added_latency"]["p99_ms"], cpu))
'  "$@"
	print_counters origin "$7"
}

# summarise prints the figures of a JSON report, and the server's forwarding counters
# (over the whole case, joins included) when the file of its metrics has them.
summarise() {
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
cpu = r["server_cpu_seconds_per_million_forwarded"]
gen = r.get("generator_cpu_seconds_per_million_received")
print("waits for a core: server %.1f s, generator %.1f s  video %s" % (r["server_runqueue_wait_seconds"] or 0, r["generator_runqueue_wait_seconds"],
  "paced" if r.get("paced_video") else "unpaced"))
server = "server %.0f %% core, %.2f s/M" % (100 * r["server_cpu_share_of_a_core"], cpu or 0) if r["server_cpu_share_of_a_core"] is not None else "server: by node below"
print("joined %d/%d  join p50 %.0f p95 %.0f max %.0f ms  first video p50 %.0f ms  forwarded %.0f pkt/s  loss %.3f %%  latency p50 %.2f p95 %.2f p99 %.2f max %.1f ms  %s  generator %.0f %% core, %.2f s/M" % (
  r["joined"], r["publishers"] + r["subscribers"], r["join"]["p50_ms"], r["join"]["p95_ms"], r["join"]["max_ms"],
  r["first_media"]["p50_ms"], r["forwarded_packets_per_second"], r["loss_percent"],
  r["added_latency"]["p50_ms"], r["added_latency"]["p95_ms"], r["added_latency"]["p99_ms"], r["added_latency"]["max_ms"],
  server, 100 * r["generator_cpu_share_of_a_core"], gen or 0))
d = r.get("server_forward_delay")
if d:
    at_most = lambda v: "above every bucket" if v < 0 else "%g" % v
    print("server forwarding delay in the window (arrival to the end of the fan-out, %d datagrams): p50 %s, p99 %s, p99.9 %s ms at most" % (
      d["count"], at_most(d["p50_ms"]), at_most(d["p99_ms"]), at_most(d["p999_ms"])))
iv = r.get("added_latency_intervals")
if iv:
    first, last = iv[0], iv[-1]
    print("loss video %.3f %% audio %.3f %%  receivers with nothing in the window %d  latency p50/p99 of the first interval (to %g s) %.1f/%.1f ms, of the last (to %g s) %.1f/%.1f ms" % (
      r["loss_percent_video"], r["loss_percent_audio"], r["receivers_without_media_in_window"],
      first["seconds"], first["p50_ms"], first["p99_ms"], last["seconds"], last["p50_ms"], last["p99_ms"]))
' "$1"
	print_counters server "${2:-}"
}

# print_counters NAME FILE prints the forwarding counters in FILE (lines of /metrics),
# over the whole case, joins included, as those of NAME (the forwarding delay apart: the
# generator reports it for the window).
print_counters() {
	[ -s "$2" ] || return 0
	awk -v name="$1" '/^webinaire_forward_delay_seconds/ { next }
		{ sub(/^webinaire_/, "", $1); line = line sep sprintf("%s %.0f", $1, $2); sep = "  " }
		END { print name " counters over the whole case: " line }' "$2"
}

# pace_flag is the generator's flag that paces the publishers' video, with PACE=1.
case $PACE in
0) pace_flag="" ;;
1)
	pace_flag=-pace
	"$bin/webinaire-load" -h 2>&1 | grep -q -- '^  -pace$' ||
		{ echo "PACE=1: $bin/webinaire-load has no -pace" >&2; exit 2; } ;;
*) echo "PACE is 0 or 1" >&2; exit 2 ;;
esac

what=${1:-all}
[ $# -gt 0 ] && shift
case $what in
fanout)
	for n in "$@"; do load "fanout-$n" webinar 1 "$n" 20; done ;;
meeting)
	for n in "$@"; do load "meeting-$n" meeting "$n" 0 20; done ;;
overload)
	for n in "$@"; do load "overload-$n" webinar 1 "$n" 20 hog; done ;;
edge)
	for n in "$@"; do edge "edge-$n" "$n"; done ;;
all)
	for n in 50 100 200 400; do load "fanout-$n" webinar 1 "$n" 20; done
	for n in 10 25; do load "meeting-$n" meeting "$n" 0 20; done
	for n in 100 200; do load "overload-$n" webinar 1 "$n" 20 hog; done ;;
*)
	echo "usage: $0 [all | fanout N... | meeting N... | overload N... | edge N...]" >&2; exit 2 ;;
esac
