#!/usr/bin/env bash
# run.sh: the diagnosis scenario suite. For each scenario it builds three
# network namespaces (client, router, server) joined by veth pairs, runs real
# kernel TCP through them with small python3 and Go programs, captures on the
# client side, and writes NAME.pcap and NAME.truth.json (what truly happened)
# to the output directory. The Go peers (gopeer/) are built first. See
# README.md beside this file.
#
#   sudo testdata/scenarios/run.sh [-o OUTDIR] [--no-verify] [NAME...]
#   testdata/scenarios/run.sh --list
#   sudo testdata/scenarios/run.sh --clean     (remove namespaces left by a killed run)
#
# Needs root, ip (iproute2), nft, ethtool, tcpdump, ss, python3 and go (GO=
# names another go binary); tshark is optional and used only to cross-check
# the captures (--no-verify skips it).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ns_cli=cs-sc-cli
ns_rtr=cs-sc-rtr
ns_srv=cs-sc-srv
export CS_NS_CLIENT=$ns_cli CS_NS_ROUTER=$ns_rtr CS_NS_SERVER=$ns_srv
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree

usage() {
	sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit 2
}

outdir=""
verify=1
names=()
while [ $# -gt 0 ]; do
	case "$1" in
	-o | --out) outdir=${2:?-o needs a directory}; shift 2 ;;
	--no-verify) verify=0; shift ;;
	--list) exec python3 "$here/lab.py" --list ;;
	--clean) clean_only=1; shift ;;
	-h | --help) usage ;;
	-*) echo "run.sh: unknown option $1" >&2; usage ;;
	*) names+=("$1"); shift ;;
	esac
done

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: needs root (network namespaces, nftables, tcpdump)" >&2
	exit 1
fi
for tool in ip nft ethtool tcpdump ss python3 "${GO:-go}"; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }
done

# Kill what still runs inside our namespaces (only our own programs run
# there), then delete the namespaces. Safe to call when they do not exist.
teardown() {
	local n pid
	for n in $ns_cli $ns_rtr $ns_srv; do
		ip netns list 2>/dev/null | grep -qw "^$n" || continue
		for pid in $(ip netns pids "$n" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$n" 2>/dev/null || true
	done
}

if [ "${clean_only:-0}" = 1 ]; then
	teardown
	exit 0
fi

# One run at a time: the namespace names are fixed.
exec 9>"${TMPDIR:-/tmp}/connscope-scenarios.lock"
if ! flock -n 9; then
	echo "run.sh: another run of the suite holds the lock" >&2
	exit 1
fi
for n in $ns_cli $ns_rtr $ns_srv; do
	if ip netns list | grep -qw "^$n"; then
		echo "run.sh: namespace $n exists (a killed run?); remove it with: run.sh --clean" >&2
		exit 1
	fi
done
# The Go peer (testdata is outside ./... for the go tool: build it by path).
gobin=$(mktemp -d "${TMPDIR:-/tmp}/connscope-gopeer.XXXXXX")
trap 'teardown; rm -rf "$gobin"' EXIT
trap 'exit 130' INT TERM
if ! (cd "$here/../.." && CGO_ENABLED=0 "${GO:-go}" build -o "$gobin/gopeer" ./testdata/scenarios/gopeer); then
	echo "run.sh: building testdata/scenarios/gopeer failed" >&2
	exit 1
fi
export CS_GOPEER=$gobin/gopeer

# client 10.77.1.2 -- eth0 | c0 10.77.1.1 [router] 10.77.2.1 s0 | eth0 -- 10.77.2.2 server
# Links are created inside the namespaces, so no name can collide with the host's.
setup() {
	local n
	for n in $ns_cli $ns_rtr $ns_srv; do
		ip netns add "$n"
		ip -n "$n" link set lo up
		# No IPv6 router solicitations or MLD reports in the captures.
		ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	done
	ip -n $ns_cli link add eth0 type veth peer name c0 netns $ns_rtr
	ip -n $ns_srv link add eth0 type veth peer name s0 netns $ns_rtr
	ip -n $ns_cli addr add 10.77.1.2/24 dev eth0
	ip -n $ns_rtr addr add 10.77.1.1/24 dev c0
	ip -n $ns_rtr addr add 10.77.2.1/24 dev s0
	ip -n $ns_srv addr add 10.77.2.2/24 dev eth0
	ip -n $ns_cli link set eth0 up
	ip -n $ns_rtr link set c0 up
	ip -n $ns_rtr link set s0 up
	ip -n $ns_srv link set eth0 up
	ip -n $ns_cli route add default via 10.77.1.1
	ip -n $ns_srv route add default via 10.77.2.1
	ip netns exec $ns_rtr sysctl -qw net.ipv4.ip_forward=1
	# Wire-sized segments in the capture: no segmentation or receive offloads.
	ip netns exec $ns_cli ethtool -K eth0 tso off gso off gro off >/dev/null
	ip netns exec $ns_rtr ethtool -K c0 tso off gso off gro off >/dev/null
	ip netns exec $ns_rtr ethtool -K s0 tso off gso off gro off >/dev/null
	ip netns exec $ns_srv ethtool -K eth0 tso off gso off gro off >/dev/null
}

if [ ${#names[@]} -eq 0 ]; then
	mapfile -t names < <(python3 "$here/lab.py" --list | awk '{print $1}')
fi
if [ -z "$outdir" ]; then
	outdir=$(mktemp -d "${TMPDIR:-/tmp}/connscope-scenarios.XXXXXX")
fi
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

failed=()
for name in "${names[@]}"; do
	echo "== $name"
	setup
	start=$SECONDS
	if ! python3 "$here/lab.py" "$name" "$outdir"; then
		failed+=("$name")
	fi
	teardown
	echo "   ($((SECONDS - start)) s)"
done

if [ "$verify" = 1 ] && command -v tshark >/dev/null; then
	echo "== tshark cross-check"
	for name in "${names[@]}"; do
		[ -f "$outdir/$name.truth.json" ] || continue
		python3 "$here/verify.py" "$outdir" "$name" || failed+=("$name (tshark)")
	done
fi

echo "output: $outdir"
if [ ${#failed[@]} -gt 0 ]; then
	echo "failed: ${failed[*]}" >&2
	exit 1
fi
echo "all ${#names[@]} scenario(s) ok"
