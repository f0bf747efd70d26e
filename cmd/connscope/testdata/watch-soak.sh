#!/usr/bin/env bash
# Soak of watch mode (BENCHMARKS.md, "Watch mode"): connscope --metrics
# --evidence in a network namespace of its own while a client there opens
# and closes connections to a local server (RATE a second, each with a
# request and an answer) and is refused once a second; a scrape of
# /metrics every 10 s like Prometheus's. Prints, every 10 s, the seconds
# since the start, connscope's RSS in KiB and the scrape's time in ms;
# then SIGTERM and the exit status.
#
#   sudo cmd/connscope/testdata/watch-soak.sh BINARY [SECONDS] [RATE] [NETNS]
set -euo pipefail
bin=$(realpath "$1")
secs=${2:-600}
rate=${3:-200}
ns=${4:-connscope-soak}
dir=$(mktemp -d)
cleanup() {
	[ -n "${gen:-}" ] && kill "$gen" 2>/dev/null || true
	[ -n "${cs:-}" ] && kill "$cs" 2>/dev/null || true
	wait 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" "$bin" -i lo --metrics 127.0.0.1:9723 --evidence "$dir/evidence" >/dev/null 2>"$dir/stderr" &
cs=$!
sleep 1
ip netns exec "$ns" python3 - "$rate" <<'PY' &
import socket, sys, threading, time
rate = float(sys.argv[1])
srv = socket.create_server(("127.0.0.1", 8080), backlog=1024)
def serve():
    while True:
        c, _ = srv.accept()
        try:
            c.recv(100)
            c.sendall(b"HTTP/1.0 200 OK\r\n\r\nok")
        finally:
            c.close()
threading.Thread(target=serve, daemon=True).start()
n, t0, last_refused = 0, time.time(), 0
while True:
    c = socket.create_connection(("127.0.0.1", 8080))
    c.sendall(b"GET / HTTP/1.0\r\n\r\n")
    c.recv(100)
    c.close()
    n += 1
    now = time.time()
    if now - last_refused >= 1:
        last_refused = now
        try:
            socket.create_connection(("127.0.0.1", 8081)).close()
        except OSError:
            pass
    ahead = n / rate - (now - t0)
    if ahead > 0:
        time.sleep(ahead)
PY
gen=$!
start=$(date +%s)
echo "t_s rss_kib scrape_ms"
while :; do
	now=$(date +%s)
	t=$((now - start))
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$cs/status")
	ms=$(ip netns exec "$ns" python3 -c '
import time, urllib.request
t = time.perf_counter(); urllib.request.urlopen("http://127.0.0.1:9723/metrics").read(); print("%.1f" % ((time.perf_counter() - t) * 1e3))')
	echo "$t $rss $ms"
	[ "$t" -ge "$secs" ] && break
	sleep 10
done
ip netns exec "$ns" python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9723/metrics").read().decode())' | grep -E '^connscope_(connections_opened_total|findings_total|evidence_files_total|recorder_held_bytes|kernel_drops_total|queue_drops_total)' || true
kill -TERM "$cs"
status=0
wait "$cs" || status=$?
echo "exit status after SIGTERM: $status"
cat "$dir/stderr"
ls "$dir/evidence" | grep -c '\.pcapng$' | sed 's/^/evidence files: /'
ls -a "$dir/evidence" | grep -c '^\.tmp-' | sed 's/^/temporary files left: /' || true
for f in "$dir"/evidence/*.pcapng; do "$bin" -r "$f" --json >/dev/null || echo "unreadable: $f"; done
