"""lab.py: runs one scenario in the client/router/server namespaces that
run.sh has built, captures it, and writes NAME.pcap plus NAME.truth.json.

    python3 lab.py NAME OUTDIR        (run.sh calls this, as root)
    python3 lab.py --list             (scenario names and titles)

The truth is recorded, not assumed: resets, FINs and zero windows come from
the capture itself (pcapread.py), what each application saw comes from its
own log (peer.py), and the kernel's view (ss snapshots, /proc/net/netstat
and /proc/net/snmp deltas per namespace, fd counts and limits) is sampled
while the scenario runs. Each scenario then checks that what happened is
what it meant to provoke; a scenario whose checks fail is reported as failed
(its files are still written, marked "status": "failed").
"""

import gzip
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pcapread  # noqa: E402

NS = {
    "client": os.environ.get("CS_NS_CLIENT", "cs-sc-cli"),
    "router": os.environ.get("CS_NS_ROUTER", "cs-sc-rtr"),
    "server": os.environ.get("CS_NS_SERVER", "cs-sc-srv"),
}
CLIENT_IP, SERVER_IP = "10.77.1.2", "10.77.2.2"
ROUTER_CLIENT_IP, ROUTER_SERVER_IP = "10.77.1.1", "10.77.2.1"
SNAPLEN = 96  # Ethernet + IPv4 + the longest TCP header: headers only
GZIP_ABOVE = 256 * 1024
SCHEMA = 1


RELAY_RULES = """
table inet relay {
  chain fw {
    type filter hook forward priority 0; policy accept;
    # relay.py forwards these segments itself (and holds the FIN).
    ip saddr 10.77.2.2 tcp sport 8080 tcp dport { %s } counter drop
  }
}
"""


class ScenarioFailed(Exception):
    pass


def ns_cmd(role, args):
    return ["ip", "netns", "exec", NS[role]] + list(args)


def run_in(role, args, check=True, input=None):
    r = subprocess.run(ns_cmd(role, args), capture_output=True, text=True, input=input)
    if check and r.returncode != 0:
        raise ScenarioFailed("%s in %s: %s" % (" ".join(args), role, r.stderr.strip()))
    return r.stdout


class Peer:
    """A program in one namespace that speaks the peer protocol (peer.py,
    gopeer, relay.py), with its event stream."""

    def __init__(self, lab, role, cfg=None, argv=None, env=None):
        self.lab, self.role, self.cfg = lab, role, cfg
        self.argv = argv or [sys.executable, os.path.join(HERE, "peer.py"), json.dumps(cfg)]
        self.events = []
        self.q = queue.Queue()
        self.result = None
        self.p = subprocess.Popen(
            ns_cmd(role, self.argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=dict(os.environ, **(env or {})))
        lab.procs.append(self.p)
        threading.Thread(target=self._read, daemon=True).start()
        self.pid = self.wait_ev("ready", 10)["pid"]

    def _read(self):
        for line in self.p.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            self.events.append(ev)
            self.q.put(ev)
        self.q.put(None)

    def wait_ev(self, ev, timeout, name=None):
        deadline = time.time() + timeout
        for e in self.events:
            if e["ev"] == ev and (name is None or e.get("name") == name):
                return e
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise ScenarioFailed("%s peer: no %s %s within %ss" % (self.role, ev, name or "", timeout))
            try:
                e = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if e is None:
                err = self.p.stderr.read() if self.p.poll() is not None else ""
                raise ScenarioFailed("%s peer exited early: %s" % (self.role, err.strip()[-400:]))
            if e["ev"] == ev and (name is None or e.get("name") == name):
                return e

    def mark(self, name, timeout=20):
        """Wait for the peer to reach a ["mark", name] step."""
        return self.wait_ev("mark", timeout, name)

    def send(self, word):
        self.lab.note("tell %s peer: %s" % (self.role, word))
        self.p.stdin.write(word + "\n")
        self.p.stdin.flush()

    def stop(self, timeout=5):
        """Tell a program that prints no result (relay.py) to exit."""
        try:
            self.p.stdin.write("exit\n")
            self.p.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass
        self.p.wait(timeout)

    def finish(self, timeout=15):
        """Tell the peer to exit and collect its result."""
        try:
            self.p.stdin.write("exit\n")
            self.p.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass
        self.result = self.wait_ev("result", timeout)
        self.p.wait(5)
        return self.result


class Lab:
    """One scenario run: namespaces, capture, peers, kernel view, truth."""

    def __init__(self, name, outdir):
        self.name, self.outdir = name, outdir
        self.procs = []
        self.setup = []
        self.timeline = []
        self.snapshots = []
        self.proc_samples = {}
        self.captures = []
        self.checks = []
        self._tcpdumps = []
        self._samplers = []
        self._stop = threading.Event()
        self.mib0 = {r: self.mib(r) for r in ("client", "server")}
        self.links0 = self.link_drops()

    # --- setup -------------------------------------------------------------
    def sysctl(self, role, key, value):
        run_in(role, ["sysctl", "-qw", "%s=%s" % (key, value)])
        self.setup.append({"ns": role, "cmd": "sysctl -w %s=%s" % (key, value)})

    def nft(self, role, text, what="nft"):
        run_in(role, ["nft", "-f", "-"], input=text)
        self.setup.append({"ns": role, "cmd": what, "ruleset": text.strip()})
        self.note("%s: %s" % (role, what))

    def tc(self, role, args, what):
        run_in(role, ["tc"] + list(args))
        self.setup.append({"ns": role, "cmd": "tc " + " ".join(args)})
        self.note("%s: %s" % (role, what))

    def nft_flush(self, role, table, what):
        run_in(role, ["nft", "delete", "table", "inet", table])
        self.note("%s: %s" % (role, what))

    def note(self, what, who="lab"):
        self.timeline.append({"t_epoch": time.time(), "who": who, "what": what})

    # --- capture -----------------------------------------------------------
    def capture(self, vantage="client"):
        """Start tcpdump on the given endpoint's eth0 (headers only)."""
        fname = self.name + (".pcap" if vantage == "client" else ".%s.pcap" % vantage)
        path = os.path.join(self.outdir, fname)
        err = open(path + ".log", "w+")
        p = subprocess.Popen(ns_cmd(vantage, ["tcpdump", "-i", "eth0", "-s", str(SNAPLEN), "-n",
                                               "--immediate-mode", "-U", "-Z", "root", "-w", path]),
                             stdout=subprocess.DEVNULL, stderr=err)
        self.procs.append(p)
        deadline = time.time() + 5
        while True:
            err.seek(0)
            if "listening on" in err.read():
                break
            if time.time() > deadline or p.poll() is not None:
                raise ScenarioFailed("tcpdump did not start on %s eth0" % vantage)
            time.sleep(0.02)
        self._tcpdumps.append((vantage, fname, path, p, err))

    def stop_capture(self, settle=0.3):
        """Let the last packets land, then stop every tcpdump and check that
        it wrote every packet its filter received."""
        time.sleep(settle)
        for vantage, fname, path, p, err in self._tcpdumps:
            p.send_signal(signal.SIGINT)
            p.wait(10)
            err.seek(0)
            text = err.read()
            err.close()
            os.unlink(path + ".log")
            stats = {}
            for line in text.splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[0].isdigit():
                    stats[" ".join(parts[1:])] = int(parts[0])
            cap = stats.get("packets captured", -1)
            rcv = stats.get("packets received by filter", -1)
            drop = stats.get("packets dropped by kernel", -1)
            self.check("tcpdump on %s wrote every packet (captured %d, received %d, dropped %d)"
                       % (vantage, cap, rcv, drop), cap == rcv and drop == 0)
            self.captures.append({"vantage": vantage, "file": fname, "path": path})
        self._tcpdumps = []
        self._stop.set()
        for t in self._samplers:
            t.join(5)

    # --- peers -------------------------------------------------------------
    def peer(self, role, **cfg):
        p = Peer(self, role, cfg)
        self.note("start %s peer pid %d" % (role, p.pid))
        return p

    def gopeer(self, role, *args, env=None):
        """Start the Go peer (run.sh builds it; CS_GOPEER is its path)."""
        exe = os.environ.get("CS_GOPEER")
        if not exe or not os.access(exe, os.X_OK):
            raise ScenarioFailed("the Go peer is not built (run.sh builds it and sets CS_GOPEER)")
        p = Peer(self, role, argv=[exe] + list(args), env=env)
        self.note("start %s Go peer pid %d: gopeer %s%s" % (
            role, p.pid, " ".join(args), "".join(" %s=%s" % kv for kv in (env or {}).items())))
        return p

    def relay(self, flows):
        """Start relay.py on the router for the given flows and drop the
        router's own forwarding of their server-to-client segments."""
        mac = run_in("client", ["cat", "/sys/class/net/eth0/address"]).strip()
        ports = ", ".join(str(f["dport"]) for f in flows)
        self.nft("router", RELAY_RULES % ports,
                 "server-to-client segments of client ports %s go through relay.py" % ports)
        cfg = {"client_if": "c0", "server_if": "s0", "client_mac": mac, "client": CLIENT_IP,
               "server": SERVER_IP, "flows": flows}
        p = Peer(self, "router", argv=[sys.executable, os.path.join(HERE, "relay.py"), json.dumps(cfg)])
        self.setup.append({"ns": "router", "cmd": "relay.py", "flows": flows})
        self.note("start relay pid %d" % p.pid)
        return p

    # --- kernel view -------------------------------------------------------
    def mib(self, role):
        """TcpExt and Tcp counters of a namespace (/proc/net is per netns)."""
        out = {}
        text = run_in(role, ["cat", "/proc/net/netstat", "/proc/net/snmp"])
        lines = text.splitlines()
        for i in range(0, len(lines) - 1):
            a, b = lines[i].split(), lines[i + 1].split()
            if not a or a[0] not in ("TcpExt:", "Tcp:") or b[0] != a[0] or not b[1].lstrip("-").isdigit():
                continue
            for k, v in zip(a[1:], b[1:]):
                out["%s.%s" % (a[0][:-1], k)] = int(v)
        return out

    LINKS = (("client", "eth0"), ("router", "c0"), ("router", "s0"), ("server", "eth0"))

    def link_drops(self):
        """Dropped-packet counters (rx and tx) of the four veth ends."""
        out = {}
        for role, dev in self.LINKS:
            st = json.loads(run_in(role, ["ip", "-s", "-j", "link", "show", "dev", dev]))[0]["stats64"]
            out["%s %s" % (role, dev)] = st["rx"]["dropped"] + st["tx"]["dropped"]
        return out

    def path_drops(self):
        """Packets the veth ends dropped since the scenario started."""
        now = self.link_drops()
        return {k: now[k] - self.links0.get(k, 0) for k in now}

    def mib_delta(self):
        out = {}
        for role, before in self.mib0.items():
            after = self.mib(role)
            # Gauges (CurrEstab) and constants (RtoMin...) are not deltas.
            out[role] = {k: after[k] - before.get(k, 0) for k in sorted(after)
                         if after[k] != before.get(k, 0) and k not in ("Tcp.CurrEstab",)}
        return out

    def ss(self, role, label, args=("-tanpieO",), raw=True):
        """Snapshot the namespace's socket table with ss. raw=False drops
        each line's unparsed remainder (repeated samples stay small)."""
        t = time.time()
        text = run_in(role, ["ss", "-H"] + list(args))
        socks = [parse_ss(line) for line in text.splitlines() if line.strip()]
        if not raw:
            for s in socks:
                s.pop("raw", None)
        self.snapshots.append({"t_epoch": t, "ns": role, "label": label, "cmd": "ss " + " ".join(args),
                               "sockets": socks})
        return socks

    def sample_ss(self, role, every, label, args=("-tanpieO",)):
        """Snapshot ss every `every` seconds until the capture stops."""
        def loop():
            while not self._stop.wait(every):
                self.ss(role, label, args, raw=False)
        t = threading.Thread(target=loop, daemon=True)
        t.start()
        self._samplers.append(t)

    def sample_fds(self, pid, every, label):
        """Record a process's open fd count and RLIMIT_NOFILE over time."""
        series = self.proc_samples.setdefault(pid, {"pid": pid, "label": label, "samples": []})
        try:
            with open("/proc/%d/comm" % pid) as f:
                series["comm"] = f.read().strip()
            with open("/proc/%d/limits" % pid) as f:
                for line in f:
                    if line.startswith("Max open files"):
                        parts = line.split()
                        series["nofile_soft"], series["nofile_hard"] = int(parts[3]), int(parts[4])
        except OSError:
            pass

        def loop():
            while True:
                try:
                    n = len(os.listdir("/proc/%d/fd" % pid))
                except OSError:
                    return
                series["samples"].append({"t_epoch": time.time(), "fds": n})
                if self._stop.wait(every):
                    return
        t = threading.Thread(target=loop, daemon=True)
        t.start()
        self._samplers.append(t)

    # --- checks ------------------------------------------------------------
    def check(self, what, ok):
        self.checks.append({"what": what, "ok": bool(ok)})
        return ok

    def cleanup(self):
        self._stop.set()
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass


def parse_ss(line):
    """Parse one line of `ss -tanpieO -H` (or -ltn): the fields that matter."""
    parts = line.split()
    s = {"state": parts[0], "recv_q": int(parts[1]), "send_q": int(parts[2]),
         "local": parts[3], "peer": parts[4]}
    rest = parts[5:]
    for tok in rest:
        if tok.startswith("users:"):
            users = []
            for u in tok[len("users:(("):-2].split("),("):
                f = u.split(",")
                d = {"comm": f[0].strip('"')}
                for kv in f[1:]:
                    if "=" in kv:
                        k, v = kv.split("=", 1)
                        d[k] = int(v) if v.isdigit() else v
                users.append(d)
            s["users"] = users
        elif tok.startswith("timer:"):
            s["timer"] = tok[len("timer:"):]
        elif tok.startswith("ino:"):
            s["ino"] = int(tok[4:])
        elif tok.startswith("retrans:"):
            s["retrans"] = tok[len("retrans:"):]
        elif tok.startswith("lastsnd:") or tok.startswith("lastrcv:") or tok.startswith("lastack:"):
            k, v = tok.split(":", 1)
            s[k + "_ms"] = int(v)
        elif tok.startswith("unacked:"):
            s["unacked"] = int(tok[len("unacked:"):])
        elif tok.startswith("rtt:"):
            s["rtt"] = tok[4:]
    if rest:
        s["raw"] = " ".join(rest)
    return s


# --- expectations ----------------------------------------------------------

def expect(label, by, needs=None, note=None, severity=None, not_in_summary=None):
    """One finding the diagnosis must report on a flow.

    by: the role the finding is about: "client", "server", or "path" for a
    middlebox on the way. needs="kernel": reported only when the kernel's
    view (socket table, process fds, MIB counters) is available.
    severity: the severity it must have, where the scenario settles it.
    not_in_summary: phrases its summary must not contain (a false claim).
    """
    e = {"label": label, "by": by}
    if severity:
        e["severity"] = severity
    if not_in_summary:
        e["not_in_summary"] = list(not_in_summary)
    if needs:
        e["needs"] = needs
    if note:
        e["note"] = note
    return e


def expect_process(pid_label, pid, comm, label, severity, needs="kernel", note=None):
    """One process-level finding the diagnosis must report (truth
    expect_processes): pid_label names the kernel_view.processes entry
    (its "label"), pid and comm identify the process in the snapshots."""
    e = {"pid_label": pid_label, "pid": pid, "comm": comm, "label": label}
    if severity:
        e["severity"] = severity
    if needs:
        e["needs"] = needs
    if note:
        e["note"] = note
    return e


class FlowSpec:
    """What a scenario says about one connection (or a set of them)."""

    def __init__(self, name, client=None, server=None, expect=(), packets_only=None,
                 resets=(), app=None, note="", many=False, count=None, listed=True,
                 facts=None, classify=None, resets_may_end_after=None, kernel_only=False):
        self.name, self.client, self.server = name, client, server
        # resets_may_end_after=n: the first n resets must happen, the rest
        # may (a consequence whose timing is not the scenario's point).
        self.resets_may_end_after = resets_may_end_after
        # kernel_only: sockets of the kernel's view with no packet in the
        # capture (they predate it); matched in the ss snapshots.
        self.kernel_only = kernel_only
        self.expect = list(expect)
        self.packets_only = packets_only if packets_only is not None else \
            [e for e in self.expect if e.get("needs") != "kernel"]
        # [rst(...)] in order, and {role: saw}; either may be a function of
        # the flow, for a race whose ordering decides them.
        self.resets = resets if callable(resets) else list(resets)
        self.app = app if callable(app) else (app or {})
        self.note, self.many, self.count, self.listed = note, many, count, listed
        # facts(flow) -> dict of measured numbers (idle gap, probes ...);
        # classify(flow) -> dict overriding expect/expect_packets_only/note
        # and giving "reset_states", for sets whose flows end differently.
        self.facts, self.classify = facts, classify

    def matches(self, f):
        if self.client is not None and f.client != self.client:
            return False
        return self.server is None or f.server == self.server


def rst(sender, form, state, injected_by=None):
    """A reset the scenario provokes: who sends it (by address), its wire
    form, the true state of that endpoint when it went out, and, for a
    forged one, what really sent it."""
    return {"sender": sender, "form": form, "state": state, "injected_by": injected_by}


def find_conn(peers, local, remote):
    """The connection of the peers' logs that is this flow: by its local
    address, or, for a failed connect whose port the kernel released, the
    only attempt towards that remote."""
    conns = [c for p in peers if p.result for c in p.result["conns"] if "local" in c]
    exact = [c for c in conns if c["local"] == local and c["peer"] == remote]
    if exact:
        return exact[0]
    loose = [c for c in conns if c["peer"] == remote and (c["local"] is None or c["local"].endswith(":0"))]
    return loose[0] if len(loose) == 1 else None


def saw(conn):
    """What the application saw on a connection: every outcome that was not
    plain success, in order (["EOF"], ["ECONNRESET"], [] ...)."""
    if conn is None:
        return None
    return [s["res"] for s in conn["log"] if s["res"] not in ("ok",)]


def compact_log(conn, t0):
    if conn is None:
        return None
    out = []
    for s in conn["log"]:
        d = {k: v for k, v in s.items() if k not in ("t", "local")}
        d["t"] = round(s["t"] - t0, 6)
        out.append(d)
    return out


# --- truth -----------------------------------------------------------------

def build_truth(lab, sc, specs, clients=(), servers=(), extra=None):
    """Join the capture, the applications' logs and the kernel's view into
    the truth document, and run the scenario's checks against the capture."""
    cap = next(c for c in lab.captures if c["vantage"] == "client")
    pkts = pcapread.read_pcap(cap["path"])
    flows = pcapread.flows(pkts)
    t0 = pkts.t0 if pkts.t0 is not None else time.time()
    rel = lambda t: round(t - t0, 6)  # noqa: E731

    truth = {
        "schema": SCHEMA, "scenario": sc.name, "title": sc.title, "description": sc.doc,
        "status": "ok", "kernel": os.uname().release,
        "hosts": {"client": CLIENT_IP, "router_client_side": ROUTER_CLIENT_IP,
                  "router_server_side": ROUTER_SERVER_IP, "server": SERVER_IP},
        "captures": [], "flows": [], "flow_sets": [],
    }
    for c in lab.captures:
        cp = pcapread.read_pcap(c["path"]) if c is not cap else pkts
        truth["captures"].append({
            "file": c["file"], "vantage": c["vantage"],
            "interface": "eth0 in the %s namespace (%s)" % (c["vantage"], CLIENT_IP if c["vantage"] == "client" else SERVER_IP),
            "snaplen": SNAPLEN, "frames": cp.frames, "tcp_segments": len(cp), "t0_epoch": cp.t0})

    claimed = {}
    for f in flows:
        owners = [s for s in specs if not s.kernel_only and s.matches(f)]
        if len(owners) != 1:
            lab.check("flow %s -> %s belongs to exactly one spec (found %d)" % (f.client, f.server, len(owners)), False)
            continue
        claimed.setdefault(owners[0].name, []).append(f)

    def sockets_of(f):
        """This flow's sockets in the ss snapshots, compact (the full lines
        stay in kernel_view.snapshots), one entry per change."""
        out, last = [], {}
        for snap in lab.snapshots:
            for s in snap["sockets"]:
                if {s["local"], s["peer"]} != {f.client, f.server}:
                    continue
                d = {k: s[k] for k in ("state", "recv_q", "send_q", "local", "users", "timer") if k in s}
                key = json.dumps([snap["ns"], {k: v for k, v in d.items() if k != "timer"}], sort_keys=True)
                if last.get(s["local"]) == key:
                    continue
                last[s["local"]] = key
                d.update(t=rel(snap["t_epoch"]), ns=snap["ns"], snapshot=snap["label"])
                out.append(d)
        return out

    def flow_doc(spec, f):
        cconn = find_conn(clients, f.client, f.server) if spec.listed else None
        sconn = find_conn(servers, f.server, f.client) if spec.listed else None
        resets = f.resets()
        for r in resets:
            r["t"] = rel(next(p.ts for p in f.pkts if p.frame == r["frame"]))
        doc = {
            "name": spec.name, "client": f.client, "server": f.server, "role_inferred": f.inferred,
            "first_frame": f.pkts[0].frame, "last_frame": f.pkts[-1].frame, "packets": len(f.pkts),
            "t_first": rel(f.pkts[0].ts), "t_last": rel(f.pkts[-1].ts),
            "wire": f.summary(), "resets": resets,
            "expect": spec.expect, "expect_packets_only": spec.packets_only,
        }
        if spec.classify:
            doc.update(spec.classify(f))
        states = doc.pop("reset_states", None)
        if states is not None:
            for r, st in zip(resets, states):
                r["sender_state"] = st
        doc["clean"] = not doc["expect"] and not doc["expect_packets_only"]
        if spec.note and "note" not in doc:
            doc["note"] = spec.note
        if spec.facts:
            doc["measured"] = spec.facts(f)
        apps = {}
        for role, conn in (("client", cconn), ("server", sconn)):
            if conn is not None:
                apps[role] = {"saw": saw(conn), "log": compact_log(conn, t0)}
        if apps:
            doc["apps"] = apps
        ks = sockets_of(f)
        if ks:
            doc["kernel"] = ks
        return doc, resets, apps

    for spec in specs:
        if spec.kernel_only:
            kernel_only_flows(lab, spec, flows, truth, sockets_of, clients, servers, t0)
            continue
        fl = claimed.get(spec.name, [])
        if spec.many:
            want = spec.count
            lab.check("%s: %s flows (want %s)" % (spec.name, len(fl), want if want is not None else ">=1"),
                      len(fl) == want if want is not None else len(fl) >= 1)
        else:
            lab.check("%s: exactly one flow (found %d)" % (spec.name, len(fl)), len(fl) == 1)
        set_resets = {}
        for f in fl:
            doc, resets, apps = flow_doc(spec, f)
            got = [(r["sender"], r["form"]) for r in resets]
            if not spec.many:
                spec_resets = spec.resets(f) if callable(spec.resets) else spec.resets
                spec_app = spec.app(f) if callable(spec.app) else spec.app
                want = [(x["sender"], x["form"]) for x in spec_resets]
                if spec.resets_may_end_after is None:
                    lab.check("%s: resets %s (want %s)" % (spec.name, got, want), got == want)
                else:
                    n = spec.resets_may_end_after
                    lab.check("%s: resets %s (want %s, the last %d optional)" % (spec.name, got, want, len(want) - n),
                              n <= len(got) <= len(want) and got == want[:len(got)])
                for r, x in zip(resets, spec_resets):
                    r["sender_state"] = x["state"]
                    if x["injected_by"]:
                        r["injected_by"] = x["injected_by"]
                for role, want_saw in spec_app.items():
                    got_saw = apps.get(role, {}).get("saw")
                    lab.check("%s: %s application saw %s (want %s)" % (spec.name, role, got_saw, want_saw),
                              got_saw == want_saw)
            else:
                key = ",".join("%s/%s" % g for g in got) or "none"
                set_resets[key] = set_resets.get(key, 0) + 1
            if spec.listed:
                if spec.many:
                    doc["set"] = spec.name
                truth["flows"].append(doc)
        if spec.many:
            truth["flow_sets"].append({
                "name": spec.name, "client": spec.client, "server": spec.server, "flows": len(fl),
                "expect": spec.expect, "expect_packets_only": spec.packets_only,
                "clean": not spec.expect and not spec.packets_only,
                "resets_per_flow": set_resets, "listed_in_flows": spec.listed,
                "note": spec.note})

    truth["kernel_view"] = {
        "mib_delta": lab.mib_delta(),
        "snapshots": [dict(s, t=rel(s["t_epoch"])) for s in lab.snapshots],
        "processes": [dict(v, samples=[{"t": rel(x["t_epoch"]), "fds": x["fds"]} for x in v["samples"]])
                      for v in lab.proc_samples.values()],
    }
    for s in truth["kernel_view"]["snapshots"]:
        s.pop("t_epoch", None)
    truth["setup"] = lab.setup
    truth["timeline"] = sorted(
        [{"t": rel(e["t_epoch"]), "who": e["who"], "what": e["what"]} for e in lab.timeline],
        key=lambda e: e["t"])
    # Process-level findings (fd exhaustion ...): none unless the
    # scenario lists them; every other process must get none.
    truth["expect_processes"] = []
    if extra:
        truth.update(extra)
    truth["checks"] = lab.checks  # the same list: later checks land here too
    return truth


class _Endpoints:
    """A flow's two ends, for sockets_of() on a kernel-only flow."""

    def __init__(self, client, server):
        self.client, self.server = client, server


def kernel_only_flows(lab, spec, flows, truth, sockets_of, clients, servers, t0):
    """The flows of a kernel_only spec: connections the ss snapshots show
    towards spec.server (from spec.client when given) with no packet in the
    capture. Each is listed with "kernel_only": true and its kernel rows."""
    seen = []
    for snap in lab.snapshots:
        for sk in snap["sockets"]:
            for mine, other in ((sk["local"], sk["peer"]), (sk["peer"], sk["local"])):
                if mine == spec.server and other.split(":")[0] != "*" and not other.endswith(":*"):
                    if (spec.client is None or other == spec.client) and other not in seen:
                        seen.append(other)
    seen.sort(key=lambda a: int(a.rsplit(":", 1)[1]))
    in_capture = {frozenset((f.client, f.server)) for f in flows}
    captured = [c for c in seen if frozenset((c, spec.server)) in in_capture]
    lab.check("%s: none of the %d kernel-only connections has a packet in the capture (%d have)"
              % (spec.name, len(seen), len(captured)), not captured)
    if spec.count is not None:
        lab.check("%s: %d kernel-only connections in the socket table (want %d)" % (spec.name, len(seen), spec.count),
                  len(seen) == spec.count)
    for client in seen:
        doc = {"name": spec.name, "client": client, "server": spec.server, "kernel_only": True, "packets": 0,
               "expect": spec.expect, "expect_packets_only": spec.packets_only,
               "clean": not spec.expect and not spec.packets_only}
        if spec.many:
            doc["set"] = spec.name
        if spec.note:
            doc["note"] = spec.note
        # What the applications saw, without the step logs: the whole
        # exchange predates the capture (and 200 logs would be noise).
        apps = {}
        for role, conn in (("client", find_conn(clients, client, spec.server)),
                           ("server", find_conn(servers, spec.server, client))):
            if conn is not None:
                apps[role] = {"saw": saw(conn), "ended": round(conn["log"][-1]["t"] - t0, 6)}
        if apps:
            doc["apps"] = apps
        doc["kernel"] = sockets_of(_Endpoints(client, spec.server))
        truth["flows"].append(doc)
    if spec.many:
        truth["flow_sets"].append({
            "name": spec.name, "client": spec.client, "server": spec.server, "flows": len(seen),
            "kernel_only": True, "expect": spec.expect, "expect_packets_only": spec.packets_only,
            "clean": not spec.expect and not spec.packets_only, "resets_per_flow": {},
            "listed_in_flows": True, "note": spec.note})


# --- registry and main -----------------------------------------------------

SCENARIOS = {}


class Scenario:
    def __init__(self, name, title, fn):
        self.name, self.title, self.fn = name, title, fn
        self.doc = " ".join((fn.__doc__ or "").split())


def scenario(name, title):
    def reg(fn):
        SCENARIOS[name] = Scenario(name, title, fn)
        return fn
    return reg


def main(argv):
    # scenarios.py imports this module as "lab": let it find this instance.
    sys.modules.setdefault("lab", sys.modules[__name__])
    import scenarios  # noqa: F401  (registers every scenario)
    if argv[1:] == ["--list"]:
        for sc in SCENARIOS.values():
            print("%-24s %s" % (sc.name, sc.title))
        return 0
    if len(argv) != 3 or argv[1] not in SCENARIOS:
        sys.stderr.write("usage: lab.py NAME OUTDIR | --list\nscenarios: %s\n" % " ".join(SCENARIOS))
        return 2
    sc, outdir = SCENARIOS[argv[1]], argv[2]
    lab = Lab(sc.name, outdir)
    try:
        truth = sc.fn(lab)
    except ScenarioFailed as e:
        sys.stderr.write("%s: %s\n" % (sc.name, e))
        return 1
    finally:
        lab.cleanup()
    if not all(c["ok"] for c in truth["checks"]):
        truth["status"] = "failed"
    for c in truth["captures"]:
        # Big captures (the churn's 20,000 packets) are kept gzipped; the
        # readers (connscope, tshark, pcapread) open .pcap.gz directly.
        path = os.path.join(outdir, c["file"])
        if os.path.getsize(path) > GZIP_ABOVE:
            with open(path, "rb") as src, gzip.GzipFile(path + ".gz", "wb", 9, mtime=0) as dst:
                shutil.copyfileobj(src, dst)
            os.unlink(path)
            c["file"] += ".gz"
    with open(os.path.join(outdir, sc.name + ".truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=False)
        f.write("\n")
    bad = [c["what"] for c in truth["checks"] if not c["ok"]]
    for c in truth["checks"]:
        print("  %s %s" % ("ok  " if c["ok"] else "FAIL", c["what"]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
