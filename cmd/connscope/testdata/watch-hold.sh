#!/usr/bin/env bash
# Idle CPU and scrape time of watch mode (BENCHMARKS.md, "Watch mode"):
# connscope --metrics in a network namespace of its own where CONNS
# loopback connections are open and silent (2 x CONNS sockets, each end
# held by its own process). After a minute for the table and the fd
# history to settle it prints connscope's CPU over SECONDS (utime+stime
# from /proc, as a share of one core; SETTLE overrides the minute), then
# the time of 20 scrapes of
# /metrics (min, median, max, in ms) and the size of one.
#
#   sudo cmd/connscope/testdata/watch-hold.sh BINARY CONNS [SECONDS] [NETNS] [CONNSCOPE ARGS...]
set -euo pipefail
bin=$(realpath "$1")
conns=$2
secs=${3:-60}
ns=${4:-connscope-hold}
shift $(($# < 4 ? $# : 4))
dir=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" python3 - "$conns" <<'PY' &
import socket, sys, time
srv = socket.create_server(("127.0.0.1", 8080), backlog=4096)
held = []
while len(held) < int(sys.argv[1]):
    held.append(srv.accept()[0])
time.sleep(86400)
PY
pids+=($!)
sleep 0.5
ip netns exec "$ns" python3 - "$conns" <<'PY' &
import socket, sys, time
held = [socket.create_connection(("127.0.0.1", 8080)) for _ in range(int(sys.argv[1]))]
print("connected", len(held), flush=True)
time.sleep(86400)
PY
pids+=($!)
ip netns exec "$ns" "$bin" -i lo --metrics 127.0.0.1:9723 "$@" >/dev/null 2>"$dir/stderr" &
cs=$!
pids+=($cs)
sleep "${SETTLE:-60}"
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$cs/stat"; }
c0=$(cpu); t0=$(date +%s.%N)
sleep "$secs"
c1=$(cpu); t1=$(date +%s.%N)
awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" \
	'BEGIN { printf "cpu: %.2f%% of one core over %.0f s (%d ticks)\n", 100 * (c1 - c0) / hz / (t1 - t0), t1 - t0, c1 - c0 }'
ip netns exec "$ns" python3 - <<'PY'
import time, urllib.request, statistics
ts, size = [], 0
for _ in range(20):
    t = time.perf_counter()
    body = urllib.request.urlopen("http://127.0.0.1:9723/metrics").read()
    ts.append((time.perf_counter() - t) * 1e3)
    size = len(body)
    time.sleep(0.5)
print("scrape: min %.1f ms, median %.1f ms, max %.1f ms, %d bytes" % (min(ts), statistics.median(ts), max(ts), size))
body = urllib.request.urlopen("http://127.0.0.1:9723/metrics").read().decode()
print("\n".join(l for l in body.splitlines() if l.startswith('connscope_connections{state="ESTABLISHED"}') or l.startswith("connscope_packets_total")))
PY
grep VmRSS "/proc/$cs/status"
