#!/usr/bin/env bash
# gen.sh regenerates the capture fixtures in testdata/ (see testdata/README.md).
#
# Real kernel TCP traffic (testdata/gen/traffic.py) runs inside two network
# namespaces created here and joined by a veth pair, and tcpdump records it.
# Everything created (namespaces, processes, temporary files) is removed on
# exit, also on failure. Needs root, iproute2, ethtool, tcpdump, python3, go,
# gzip; the tshark goldens at the end need tshark 4.0.
#
# Usage, from anywhere: bash testdata/gen/gen.sh
set -euo pipefail

gen=$(cd "$(dirname "$0")" && pwd)
td=$(dirname "$gen")
root=$(dirname "$td")
tmp=$(mktemp -d)
A=csgen-a-$$
B=csgen-b-$$
pids=()

cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

inA() { ip netns exec "$A" "$@"; }
inB() { ip netns exec "$B" "$@"; }

# wait_for FILE TEXT: wait up to 5 s for TEXT to appear in FILE.
wait_for() {
	for _ in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "gen.sh: timed out waiting for '$2' in $1" >&2
	cat "$1" >&2 || true
	exit 1
}

# start_capture OUT TCPDUMP-ARGS...: tcpdump in namespace A, running once
# it says it listens.
start_capture() {
	local out=$1
	shift
	: >"$tmp/tcpdump.log"
	# Not through inA: $! must be tcpdump itself, not a subshell.
	# --immediate-mode: without it libpcap hands packets over in ring
	# blocks retired every second, and the last block is lost on SIGINT.
	ip netns exec "$A" tcpdump --immediate-mode -U -n -w "$out" "$@" 2>"$tmp/tcpdump.log" &
	cap_pid=$!
	pids+=("$cap_pid")
	wait_for "$tmp/tcpdump.log" "listening on"
}

# stop_capture: let the last packets land, then stop tcpdump cleanly.
stop_capture() {
	sleep 0.3
	kill -INT "$cap_pid"
	wait "$cap_pid" || true
}

# start_server NS ADDR PORT: traffic.py serve in namespace NS.
start_server() {
	local log="$tmp/server-$1-$3.log"
	ip netns exec "$1" python3 "$gen/traffic.py" serve "$2" "$3" >"$log" 2>&1 &
	pids+=("$!")
	wait_for "$log" "listening"
}

ip netns add "$A"
ip netns add "$B"
inA ip link set lo up
inB ip link set lo up
inA ip link add veth0 type veth peer name veth1 netns "$B"
inA ip addr add 10.77.0.1/24 dev veth0
inB ip addr add 10.77.0.2/24 dev veth1
inA ip link set veth0 up
inB ip link set veth1 up
# Wire-sized segments: no segmentation or receive offloads on the veths.
inA ethtool -K veth0 tso off gso off gro off >/dev/null
inB ethtool -K veth1 tso off gso off gro off >/dev/null

# (a) ipv6-lo.pcap: IPv6 on loopback (Ethernet framing with zero MACs).
start_server "$A" ::1 8080
start_capture "$tmp/ipv6-lo.pcap" -i lo ip6
inA python3 "$gen/traffic.py" talk ::1 8080 8081
stop_capture

# (b) sll2-any.pcap: tcpdump -i any (LINUX_SLL2), nanosecond timestamps,
# IPv4 between the namespaces over the veth pair.
start_server "$A" 10.77.0.1 8080
start_capture "$tmp/sll2-any.pcap" -i any -y LINUX_SLL2 --time-stamp-precision=nano tcp
inB python3 "$gen/traffic.py" talk 10.77.0.1 8080 8081
stop_capture

# (c) vxlan.pcap: the same over a VXLAN overlay (IPv4 and IPv6 inside),
# captured on the underlay veth: Ethernet/IPv4/UDP 4789/VXLAN/Ethernet/IP/TCP.
inA ip link add vx0 type vxlan id 42 local 10.77.0.1 remote 10.77.0.2 dstport 4789 dev veth0
inB ip link add vx0 type vxlan id 42 local 10.77.0.2 remote 10.77.0.1 dstport 4789 dev veth1
inA ip addr add 192.168.77.1/24 dev vx0
inB ip addr add 192.168.77.2/24 dev vx0
inA ip addr add fd77::1/64 dev vx0 nodad
inB ip addr add fd77::2/64 dev vx0 nodad
inA ip link set vx0 up
inB ip link set vx0 up
inA ethtool -K vx0 tso off gso off gro off >/dev/null
inB ethtool -K vx0 tso off gso off gro off >/dev/null
start_server "$A" 192.168.77.1 8090
start_server "$A" fd77::1 8092
start_capture "$tmp/vxlan.pcap" -i veth0 udp port 4789
inB python3 "$gen/traffic.py" talk 192.168.77.1 8090 8091
inB python3 "$gen/traffic.py" talk fd77::1 8092 8093
stop_capture

cp "$tmp/ipv6-lo.pcap" "$tmp/sll2-any.pcap" "$tmp/vxlan.pcap" "$td/"

# (d) truncated.pcap: ipv6-lo.pcap cut 10 bytes into the data of frame 6.
python3 - "$td/ipv6-lo.pcap" "$td/truncated.pcap" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
off, frame = 24, 0
while True:
    frame += 1
    caplen = struct.unpack("<I", data[off + 8:off + 12])[0]
    if frame == 6:
        cut = off + 16 + 10
        break
    off += 16 + caplen
open(sys.argv[2], "wb").write(data[:cut])
print("truncated.pcap: frame 6 starts at byte %d, file cut at byte %d" % (off, cut))
EOF

# (e) mixed.pcapng(.gz), ipv6-lo-be-nsec.pcap: re-encodings of the real
# captures above; (f) encaps.pcapng: crafted encapsulations.
(cd "$root" && go run ./testdata/gen/ngmix -dir testdata)
(cd "$root" && go run ./testdata/gen/encaps -o testdata/encaps.pcapng)
gzip -9 -n -c "$td/mixed.pcapng" >"$td/mixed.pcapng.gz"
rm "$td/mixed.pcapng"

# Per-frame goldens from tshark for every fixture (and the shared corpus).
if command -v tshark >/dev/null; then
	(cd "$root" && go test ./capture/ -run 'TestFields_' -update-tshark)
else
	echo "gen.sh: tshark not found; goldens in testdata/golden not refreshed" >&2
fi
ls -l "$td"
