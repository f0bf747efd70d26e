"""verify.py: cross-check a scenario's captures against its truth with tshark.

    python3 verify.py OUTDIR NAME

For the client-side capture (the one the truth's frame numbers refer to):
  * tshark -q -z conv,tcp must list as many TCP conversations as the truth
    has flows with packets (listed flows plus the flows of every set, not
    the kernel-only ones);
  * every RST tshark shows (-Y tcp.flags.reset==1: frame, source address
    and port, TTL, IP ID, window) must be a reset of the truth, and the
    reverse, when the truth lists every flow's resets.
It prints both tshark tables and exits 1 on any mismatch. tshark is only a
second opinion here: the truth itself never depends on it.
"""

import json
import os
import subprocess
import sys


def tshark(args):
    r = subprocess.run(["tshark", "-n"] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("tshark %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def main(outdir, name):
    with open(os.path.join(outdir, name + ".truth.json")) as f:
        truth = json.load(f)
    cap = next(c for c in truth["captures"] if c["vantage"] == "client")
    path = os.path.join(outdir, cap["file"])
    bad = []

    conv = tshark(["-r", path, "-q", "-z", "conv,tcp"])
    rows = [ln for ln in conv.splitlines() if "<->" in ln]
    # Kernel-only flows (sockets older than the capture) have no packets.
    want_flows = (len([f for f in truth["flows"] if "set" not in f and not f.get("kernel_only")])
                  + sum(s["flows"] for s in truth["flow_sets"] if not s.get("kernel_only")))
    if len(rows) != want_flows:
        bad.append("conv,tcp lists %d conversations, the truth %d flows" % (len(rows), want_flows))

    fields = ["frame.number", "ip.src", "tcp.srcport", "ip.ttl", "ip.id", "tcp.window_size_value"]
    out = tshark(["-r", path, "-Y", "tcp.flags.reset==1", "-T", "fields"] + sum((["-e", x] for x in fields), []))
    seen = set()
    for ln in out.splitlines():
        frame, src, sport, ttl, ipid, win = ln.split("\t")
        seen.add((int(frame), "%s:%s" % (src, sport), int(ttl), int(ipid, 16), int(win)))
    want = set()
    for f in truth["flows"]:
        for r in f["resets"]:
            want.add((r["frame"], r["from"], r["ttl"], r["ip_id"], r["window"]))
    complete = all(s["listed_in_flows"] or s["resets_per_flow"] in ({}, {"none": s["flows"]})
                   for s in truth["flow_sets"])
    if complete and seen != want:
        bad.append("RSTs: tshark only %s, truth only %s" % (sorted(seen - want), sorted(want - seen)))
    elif not complete and not want <= seen:
        bad.append("RSTs of the truth missing in tshark: %s" % sorted(want - seen))

    print("-- %s: %d conversations, %d RSTs%s" % (cap["file"], len(rows), len(seen),
                                                   "" if complete else " (sets not listed: subset check)"))
    for ln in out.splitlines():
        print("   RST " + ln.replace("\t", " "))
    for b in bad:
        print("   MISMATCH " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write("usage: verify.py OUTDIR NAME\n")
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
