"""scenarios.py: the catalogue of scenarios, one or more per diagnosis label.

Each scenario is a function that drives the lab (lab.py) and returns the
truth document. Its docstring becomes the scenario's description in the
truth file. Named client connections bind fixed ports (4xxxx) so the
fixtures name the same flows on every run; sets of many connections use
ephemeral ports and are matched by server port.
"""

import time

from lab import (CLIENT_IP as C, SERVER_IP as S, SCENARIOS, FlowSpec, ScenarioFailed, build_truth,
                 expect, expect_process, rst, scenario)
import pcapread
from pcapread import ACK, FIN, RST, SYN

# The usual well-behaved exchange: one request line, one response line,
# the client closes first and the server closes on EOF.
SERVE_ONE = [["recvline", 10], ["send", "OK\n"], ["drain", 10], ["close"]]
CONTROL = "control flow: a clean request/response and orderly close; no finding may fire on it"
UNREAD_ON_THE_WIRE = ("the wire cannot tell a close with unread input from an SO_LINGER 0 abort: abortive_close "
                      "names both; the kernel (its abort counters, or the RST reason) decides")


def client_once(port, cport, request="GET /\n"):
    """A clean client: connect from cport, one request, one response, close."""
    return [["connect", S, port, {"bind": [C, cport], "timeout": 5}], ["send", request],
            ["recvline", 5], ["close"]]


def connect(port, cport, **opts):
    opts.setdefault("timeout", 5)
    opts["bind"] = [C, cport]
    return ["connect", S, port, opts]


def ep(ip, port):
    return "%s:%d" % (ip, port)


def control(cport, port=8080):
    return FlowSpec("control", ep(C, cport), ep(S, port), note=CONTROL,
                    app={"client": [], "server": ["EOF"]})


def finish(lab, name, specs, clients=(), servers=(), extra=None):
    """Stop the capture first (so the programs' exits do not show), then
    collect the programs' logs and build the truth."""
    lab.stop_capture()
    for p in list(clients) + list(servers):
        p.finish()
    return build_truth(lab, SCENARIOS[name], specs, clients, servers, extra)


def need(lab, what, ok):
    if not lab.check(what, ok):
        raise ScenarioFailed(what)


# --- measurements taken from a flow's own packets ---------------------------

def _mine(f, role):
    return [p for p in f.pkts if f.role(p) == role]


def idle_before_fin(f, closer="server"):
    """Seconds of silence (no payload either way) before the closer's FIN,
    and when the other side's next data followed that FIN."""
    fin = next(p for p in f.pkts if f.role(p) == closer and p.flags & FIN)
    last_data = max((p.ts for p in f.pkts if p.paylen > 0 and p.ts <= fin.ts), default=f.pkts[0].ts)
    after = next((p for p in f.pkts if p.ts > fin.ts and p.paylen > 0 and f.role(p) != closer), None)
    out = {"fin_frame": fin.frame, "idle_before_fin_s": round(fin.ts - last_data, 3)}
    if after is not None:
        out["peer_data_after_fin_s"] = round(after.ts - fin.ts, 3)
        out["peer_data_frame"] = after.frame
        out["peer_data_acks_fin"] = after.ack == (fin.seq + fin.paylen + 1) & 0xFFFFFFFF
    return out


def zero_window_facts(f, reader="client"):
    """The longest run of zero-window advertisements by the reader."""
    best, start, start_frame = (0.0, None, None), None, None
    for p in _mine(f, reader):
        if p.flags & (SYN | FIN | RST):
            continue
        if p.win == 0 and start is None:
            start, start_frame = p.ts, p.frame
        elif p.win != 0 and start is not None:
            if p.ts - start > best[0]:
                best = (p.ts - start, start_frame, p.frame)
            start = None
    if start is not None and f.pkts[-1].ts - start > best[0]:
        best = (f.pkts[-1].ts - start, start_frame, None)
    zeros = sum(1 for p in _mine(f, reader) if p.win == 0 and not p.flags & (SYN | FIN | RST))
    return {"longest_zero_window_s": round(best[0], 3), "zero_window_from_frame": best[1],
            "window_reopened_frame": best[2], "zero_window_segments": zeros}


def keepalive_probes(f, prober="client"):
    """Keep-alive probes (empty or 1-byte segments at SND.NXT-1) and their
    spacing, plus the idle time before the first one."""
    nxt, probes, last_data = None, [], None
    for p in f.pkts:
        if f.role(p) != prober:
            continue
        end = (p.seq + p.paylen + (1 if p.flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        if nxt is not None and p.paylen <= 1 and p.seq == (nxt - 1) & 0xFFFFFFFF and not p.flags & (SYN | FIN | RST):
            probes.append(p)
            continue
        if p.paylen > 0:
            last_data = p.ts
        if nxt is None or ((end - nxt) & 0xFFFFFFFF) < 1 << 31:
            nxt = end
    out = {"probes": len(probes), "probe_frames": [p.frame for p in probes]}
    if probes:
        out["idle_before_first_probe_s"] = round(probes[0].ts - (last_data or f.pkts[0].ts), 3)
        if len(probes) > 1:
            out["probe_interval_s"] = round((probes[-1].ts - probes[0].ts) / (len(probes) - 1), 3)
    return out


def retransmitted_data(f, sender):
    """Data segments of sender that do not advance its sequence (in this
    capture): retransmissions as seen at this vantage point."""
    nxt, n, data = None, 0, 0
    for p in _mine(f, sender):
        if p.paylen == 0:
            continue
        data += 1
        end = (p.seq + p.paylen) & 0xFFFFFFFF
        if nxt is not None and ((nxt - end) & 0xFFFFFFFF) < 1 << 31:
            n += 1
        else:
            nxt = end
    return {"data_segments": data, "retransmitted_data_segments": n}


def syn_attempts(f):
    syns = [p for p in _mine(f, "client") if p.flags & SYN and not p.flags & ACK]
    return {"syns": len(syns), "syn_span_s": round(syns[-1].ts - syns[0].ts, 3) if syns else 0,
            "answered": any(p.flags & SYN and p.flags & ACK for p in _mine(f, "server"))}


def close_wait_since(f, peer_closer="client"):
    fin = next(p for p in f.pkts if f.role(p) == peer_closer and p.flags & FIN)
    other_fin = any(p.flags & FIN for p in f.pkts if f.role(p) != peer_closer)
    return {"peer_fin_frame": fin.frame, "other_side_sent_fin": other_fin,
            "close_wait_until_capture_end_s": round(f.capture_end - fin.ts, 3)}


# --- the scenarios ----------------------------------------------------------

@scenario("refused", "connect to a closed port")
def refused(lab):
    """The client connects to 10.77.2.2:8081 where nothing listens: the
    server's stack answers the SYN with a stateless RST/ACK and connect()
    fails with ECONNREFUSED. A connection to the listening port 8080 is the
    clean control."""
    lab.capture()
    srv = lab.peer("server", listen=[{"port": 8080, "script": SERVE_ONE}])
    cli = lab.peer("client", connect=[
        {"name": "refused", "script": [connect(8081, 40001)]},
        {"name": "control", "script": client_once(8080, 40002)},
    ])
    cli.wait_ev("done", 10)
    return finish(lab, "refused", [
        FlowSpec("refused", ep(C, 40001), ep(S, 8081),
                 expect=[expect("refused", "server")],
                 resets=[rst("server", "stateless", "CLOSED")],
                 app={"client": ["ECONNREFUSED"]}),
        control(40002),
    ], [cli], [srv])


@scenario("close_with_unread_data", "server closes with the client's upload unread")
def close_with_unread_data(lab):
    """The client sends a 16-byte request header and a 1000-byte body in one
    write. The server reads only the header, answers "413", waits 100 ms (so
    the client's ACK of the answer is in) and closes with the body still
    unread in its receive queue: Linux sends a RST/ACK from the socket
    (TCPAbortOnClose) instead of a FIN. The server records the unread byte
    count (SIOCINQ) just before close()."""
    lab.capture()
    srv = lab.peer("server", listen=[
        {"port": 8080, "scripts": {"2": SERVE_ONE},
         "script": [["recvn", 16, 10], ["send", "413 too large\n"], ["sleep", 0.1], ["unread"], ["close"]]}])
    cli = lab.peer("client", connect=[
        {"name": "unread", "script": [connect(8080, 40001), ["send", "POST /upload 1k\n" + "x" * 1000],
                                      ["recvline", 5], ["drain", 5]]},
    ])
    cli.wait_ev("done", 10)
    cli2 = lab.peer("client", connect=[{"name": "control", "script": client_once(8080, 40002)}])
    cli2.wait_ev("done", 10)
    return finish(lab, "close_with_unread_data", [
        FlowSpec("unread", ep(C, 40001), ep(S, 8080),
                 expect=[expect("close_with_unread_data", "server")],
                 packets_only=[expect("abortive_close", "server", note=UNREAD_ON_THE_WIRE)],
                 resets=[rst("server", "socket", "ESTABLISHED")],
                 app={"client": ["ECONNRESET"]}),
        control(40002),
    ], [cli, cli2], [srv])


@scenario("abortive_close", "server aborts an idle connection with SO_LINGER 0")
def abortive_close(lab):
    """A request and its answer complete; 1.5 s later the server sets
    SO_LINGER {1, 0} and closes the idle, fully read connection (an idle
    pool cleanup that skips TIME-WAIT): a RST/ACK from the socket instead of
    a FIN. The client, waiting for more, reads ECONNRESET."""
    lab.capture()
    srv = lab.peer("server", listen=[
        {"port": 8080, "scripts": {"2": SERVE_ONE},
         "script": [["recvline", 10], ["send", "OK\n"], ["sleep", 1.5], ["unread"], ["linger0"], ["close"]]}])
    cli = lab.peer("client", connect=[
        {"name": "abort", "script": [connect(8080, 40001), ["send", "GET /\n"], ["recvline", 5], ["drain", 5]]},
    ])
    cli.wait_ev("done", 10)
    cli2 = lab.peer("client", connect=[{"name": "control", "script": client_once(8080, 40002)}])
    cli2.wait_ev("done", 10)
    return finish(lab, "abortive_close", [
        FlowSpec("abort", ep(C, 40001), ep(S, 8080),
                 expect=[expect("abortive_close", "server")],
                 resets=[rst("server", "socket", "ESTABLISHED")],
                 app={"client": ["ECONNRESET"]}),
        control(40002),
    ], [cli, cli2], [srv])


@scenario("rst_after_close", "client keeps uploading after the server closed")
def rst_after_close(lab):
    """The client uploads in 1000-byte chunks every 200 ms. The server reads
    the first chunk, answers "413" and closes at once (FIN, nothing unread).
    The client, not reading, sends its next chunk into the closed socket:
    the server's orphaned FIN-WAIT-2 socket answers with a RST (the
    stateless form: ID 0, window 0). The client's next write fails."""
    lab.capture()
    srv = lab.peer("server", listen=[
        {"port": 8080, "scripts": {"2": SERVE_ONE},
         "script": [["recvn", 1000, 10], ["send", "413 too large\n"], ["close"]]}])
    cli = lab.peer("client", connect=[
        {"name": "upload", "script": [connect(8080, 40001), ["sendsize", 1000], ["sleep", 0.2],
                                      ["sendsize", 1000], ["sleep", 0.2], ["?sendsize", 1000],
                                      ["?recvline", 2], ["?drain", 2]]},
    ])
    cli.wait_ev("done", 10)
    cli2 = lab.peer("client", connect=[{"name": "control", "script": client_once(8080, 40002)}])
    cli2.wait_ev("done", 10)
    return finish(lab, "rst_after_close", [
        FlowSpec("upload", ep(C, 40001), ep(S, 8080),
                 expect=[expect("rst_after_close", "server")],
                 resets=[rst("server", "stateless", "FIN-WAIT-2")],
                 facts=idle_before_fin),
        control(40002),
    ], [cli, cli2], [srv])


@scenario("idle_timeout_race", "keep-alive server closes after 2 s idle; the client reuses just after")
def idle_timeout_race(lab):
    """An HTTP-style keep-alive server closes connections idle for 2 s. The
    client sends two requests 0.5 s apart, then reuses the connection 2.05 s
    after the second answer: its request follows the server's idle FIN and
    draws a RST from the server's orphaned socket; the application reads EOF
    (the FIN) instead of an answer, the keep-alive race behind proxies'
    "unexpected EOF". A second client connection reused within the idle
    timeout and closed by the client is the clean control."""
    lab.capture()
    srv = lab.peer("server", listen=[{"port": 8080, "script": [["serve", 2.0]]}])
    cli = lab.peer("client", connect=[
        {"name": "race", "script": [connect(8080, 40001), ["send", "GET /1\n"], ["recvline", 5], ["sleep", 0.5],
                                    ["send", "GET /2\n"], ["recvline", 5], ["sleep", 2.05],
                                    ["send", "GET /3\n"], ["recvline", 5]]},
        {"name": "control", "script": [connect(8080, 40002), ["send", "GET /1\n"], ["recvline", 5],
                                       ["sleep", 0.5], ["send", "GET /2\n"], ["recvline", 5], ["close"]]},
    ])
    cli.wait_ev("done", 10)
    return finish(lab, "idle_timeout_race", [
        FlowSpec("race", ep(C, 40001), ep(S, 8080),
                 expect=[expect("idle_timeout_race", "server",
                                note="the server's idle timeout is 2.0 s")],
                 resets=[rst("server", "stateless", "FIN-WAIT-2")],
                 app={"client": ["EOF"]}, facts=idle_before_fin),
        FlowSpec("control", ep(C, 40002), ep(S, 8080), note=CONTROL,
                 app={"client": [], "server": ["EOF"]}),
    ], [cli], [srv], extra={"parameters": {"server_idle_timeout_s": 2.0, "client_reuse_after_s": 2.05}})


def idle_seen_by(f, fin):
    """The silence the FIN's sender had seen before it: from the last data
    segment it had sent or acknowledged (data the FIN does not acknowledge
    had not reached it) to the FIN."""
    def seen(q):
        if f.role(q) == f.role(fin):
            return True
        return ((fin.ack - (q.seq + q.paylen)) & 0xFFFFFFFF) < 1 << 31
    last = max((q.ts for q in f.pkts if q.ts <= fin.ts and q.paylen > 0 and seen(q)), default=f.pkts[0].ts)
    return round(fin.ts - last, 6)


def race_facts(f, closer="server"):
    """Where the server's close met the client's next request, from this
    capture: the last answer, the closer's FIN (if any), the request after
    the idle gap, the reset, and which ordering that is:
      reset-without-fin  no FIN: the request arrived before close() and was
                         reset unread (RST/ACK acknowledging the request);
      crossed            the request left before the FIN arrived (at the
                         client) and neither acknowledges the other;
      after-fin          the request left after the FIN had arrived and
                         acknowledges it."""
    other = "client" if closer == "server" else "server"
    data = [p for p in f.pkts if p.paylen > 0 and not p.flags & RST]
    reqs = [p for p in data if f.role(p) == other]
    fin = next((p for p in f.pkts if f.role(p) == closer and p.flags & FIN), None)
    rst_p = next((p for p in f.pkts if f.role(p) == closer and p.flags & RST), None)
    out = {}
    # The request after the longest silence is the one that raced.
    gaps = [(b.ts - max(q.ts for q in data if q.ts < b.ts), b) for b in reqs[1:] if any(q.ts < b.ts for q in data)]
    if not gaps:
        if fin is not None:
            out.update(fin_frame=fin.frame, ordering="fin-only" if rst_p is None else "no-request",
                       idle_before_fin_s=idle_seen_by(f, fin))
        return out
    gap, req = max(gaps, key=lambda g: g[0])
    answer = max((q for q in data if q.ts < req.ts and f.role(q) == closer), key=lambda q: q.ts, default=None)
    out.update(request_frame=req.frame, idle_before_request_s=round(gap, 6),
               request_seq=req.seq, request_len=req.paylen, request_ack=req.ack)
    if answer is not None:
        out["answer_frame"] = answer.frame
    if fin is not None:
        out.update(fin_frame=fin.frame, fin_seq=fin.seq, fin_ack=fin.ack,
                   idle_before_fin_s=idle_seen_by(f, fin),
                   fin_minus_request_s=round(fin.ts - req.ts, 6),
                   request_acks_fin=req.ack == (fin.seq + fin.paylen + 1) & 0xFFFFFFFF,
                   fin_acks_request=((fin.ack - (req.seq + req.paylen)) & 0xFFFFFFFF) < 1 << 31)
    if rst_p is not None:
        out.update(rst_frame=rst_p.frame, rst_after_request_s=round(rst_p.ts - req.ts, 6),
                   rst_acks_request=bool(rst_p.flags & ACK) and rst_p.ack == (req.seq + req.paylen) & 0xFFFFFFFF)
    if fin is None and rst_p is not None and rst_p.ts > req.ts:
        out["ordering"] = "reset-without-fin"
    elif fin is not None and rst_p is not None and rst_p.ts > req.ts:
        out["ordering"] = "after-fin" if out["request_acks_fin"] else "crossed"
    elif fin is not None and not any(p.ts > fin.ts for p in reqs):
        out["ordering"] = "fin-only"  # a close no request raced
    return out


GO_RACE = {"reset": 40001, "crossed": 40002, "after_fin": 40003, "noticed": 40004, "control": 40005,
           "get_retried": 40006}


@scenario("go_idle_race", "Go net/http IdleTimeout 2 s and a pooled Go client: the race in three orderings")
def go_idle_race(lab):
    """A Go net/http server (IdleTimeout 2 s) and five Go http.Client
    processes, each with its own pooled keep-alive connection from a fixed
    port: a POST, then a second POST on the idle connection about 2 s
    later. POST, not GET: Go's transport retries a failed idempotent request
    on a new connection by itself, which would hide the failure. The
    server's connections wait 20 ms in Close() (a listener wrapper standing
    in for a loaded server: it widens the microseconds between net/http's
    idle deadline firing and close()). 40001 reuses 2.010 s after its
    answer: the request lands after the deadline, before close(), is never
    read, and close() resets the connection (RST/ACK, no FIN; the client's
    read: connection reset by peer). 40002 reuses after 2.040 s while the
    router holds the server's FIN until the request has passed: request and
    FIN cross, the server's orphaned FIN-WAIT-1 socket resets (client: EOF).
    40003 is a CPU-busy client (GOMAXPROCS 1, computing for the last 8 ms
    before its request) and the router delivers the FIN 4 ms before the
    request leaves: the request follows the FIN, acknowledges it, and draws
    a reset from FIN-WAIT-2 (client: EOF). 40006 is 40001 with a GET: the
    same reset on the wire, but Go's transport retries the idempotent
    request on a new connection (40016) and the caller sees success. 40004
    reuses 2.1 s after its answer: Go's transport saw the FIN first, dropped
    the connection and sent the POST on a new one (40014): no failure, and
    both connections are clean. 40005 reuses after 1 s and closes: the
    clean control. Captured on both ends."""
    P = GO_RACE
    lab.capture()
    lab.capture("server")
    srv = lab.gopeer("server", "httpserver", "-addr", "10.77.2.2:8080", "-idle", "2s", "-close-delay", "20ms")
    relay = lab.relay([{"sport": 8080, "dport": P["crossed"], "release": "on-client-data"},
                       {"sport": 8080, "dport": P["after_fin"], "release": "after-server-data", "after_s": 2.056}])
    url = "http://%s:8080" % S

    def client(ports, gap, *more):
        return lab.gopeer("client", "httpclient", "-url", url, "-ports", ports, "-paths", "/1,/2",
                          "-gaps", "0s,%s" % gap, *more)
    clients = [client(str(P["reset"]), "2.010s"),
               client("%d,%d" % (P["get_retried"], P["get_retried"] + 10), "2.010s", "-method", "GET"),
               client(str(P["crossed"]), "2.040s"),
               client(str(P["after_fin"]), "2.060s", "-busy", "8ms"),
               client("%d,%d" % (P["noticed"], P["noticed"] + 10), "2.100s"), client(str(P["control"]), "1s")]
    for c in clients:
        c.wait_ev("done", 10)
    time.sleep(0.1)
    relay.stop()
    lab.timeline.extend({"t_epoch": e["t"], "who": "relay", "what": "%s %s" % (e["ev"], {
        k: v for k, v in e.items() if k not in ("ev", "t")})} for e in relay.events if e["ev"] != "ready")
    reset_saw = ['Post "%s/2": read tcp %s:%d->%s:8080: read: connection reset by peer' % (url, C, P["reset"], S)]
    eof_saw = ['Post "%s/2": EOF' % url]
    specs = [
        FlowSpec("reset", ep(C, P["reset"]), ep(S, 8080),
                 expect=[expect("idle_timeout_race", "server",
                                note="ordering: the request arrived after the idle deadline fired, before close(); "
                                     "close() found it unread and reset (no FIN)")],
                 resets=[rst("server", "socket", "ESTABLISHED")],
                 app={"client": reset_saw, "server": []}, facts=race_facts),
        FlowSpec("crossed", ep(C, P["crossed"]), ep(S, 8080),
                 expect=[expect("idle_timeout_race", "server",
                                note="ordering: the request and the server's FIN crossed on the wire; a second "
                                     "reset, if any, answers the client's FIN after the server's socket was gone "
                                     "(a consequence, no finding of its own)")],
                 resets=[rst("server", "stateless", "FIN-WAIT-1"), rst("server", "stateless", "CLOSED")],
                 resets_may_end_after=1,
                 app={"client": eof_saw, "server": []}, facts=race_facts),
        FlowSpec("after_fin", ep(C, P["after_fin"]), ep(S, 8080),
                 expect=[expect("idle_timeout_race", "server",
                                note="ordering: the request left after the FIN had arrived and acknowledges it; a "
                                     "second reset, if any, answers the client's FIN (a consequence)")],
                 resets=[rst("server", "stateless", "FIN-WAIT-2"), rst("server", "stateless", "CLOSED")],
                 resets_may_end_after=1,
                 app={"client": eof_saw, "server": []}, facts=race_facts),
        FlowSpec("get_retried", ep(C, P["get_retried"]), ep(S, 8080),
                 expect=[expect("idle_timeout_race", "server",
                                note="ordering as 40001; the caller saw nothing: Go's transport retried the GET on "
                                     "a new connection (the race is still on the wire)")],
                 resets=[rst("server", "socket", "ESTABLISHED")],
                 app={"client": [], "server": []}, facts=race_facts),
        FlowSpec("get_retry", ep(C, P["get_retried"] + 10), ep(S, 8080),
                 note="the connection Go's transport opened to retry the GET: clean",
                 app={"client": [], "server": []}),
        FlowSpec("noticed", ep(C, P["noticed"]), ep(S, 8080),
                 note="the server's idle close, noticed by Go's transport before the next request: no race, clean",
                 app={"client": [], "server": []}, facts=race_facts),
        FlowSpec("noticed_redial", ep(C, P["noticed"] + 10), ep(S, 8080),
                 note="the new connection Go's transport opened for the POST: clean",
                 app={"client": [], "server": []}),
        FlowSpec("control", ep(C, P["control"]), ep(S, 8080), note=CONTROL + " (reused within the idle timeout)",
                 app={"client": [], "server": []}),
    ]
    truth = finish(lab, "go_idle_race", specs, clients, [srv], extra={"parameters": {
        "server": "Go net/http, IdleTimeout 2 s, Close() delayed 20 ms",
        "client": "Go net/http Transport, POST (40006: GET)",
        "reuse_after_s": {"reset": 2.010, "get_retried": 2.010, "crossed": 2.040, "after_fin": 2.060,
                          "noticed": 2.100, "control": 1.0},
        "after_fin_client": "GOMAXPROCS 1, busy for the last 8 ms before the request",
        "relay": {"crossed": "FIN held until the client's request passed the router",
                  "after_fin": "FIN held until 2.056 s after the server's answer"}}})
    want = {"reset": "reset-without-fin", "get_retried": "reset-without-fin", "crossed": "crossed",
            "after_fin": "after-fin", "noticed": "fin-only"}
    for fl in truth["flows"]:
        if fl["name"] in want:
            got = fl.get("measured", {}).get("ordering")
            lab.check("%s: ordering %s (want %s)" % (fl["name"], got, want[fl["name"]]), got == want[fl["name"]])
    return truth


MARKER_RULES = """
table inet lab {
  chain fw {
    type filter hook forward priority 0; policy accept;
    # A payload starting with "BOOM" draws a forged RST towards its sender.
    tcp dport 8080 @ih,0,32 0x424f4f4d counter reject with tcp reset
  }
}
"""


@scenario("middlebox_injected", "the router forges a RST on a marker payload")
def middlebox_injected(lab):
    """The router rejects any client segment whose payload starts with
    "BOOM" with `reject with tcp reset`: the client receives a RST that
    carries the server's address but was made by the router (TTL 64 where
    the server's packets arrive with 63) and the marker never reaches the
    server. The server, unaware, sends a heartbeat 0.3 s later; the client,
    whose socket is gone, answers it with a stateless RST. One finding is
    expected: the forged reset (the client's RST is its consequence). A
    connection without the marker through the same router is the clean
    control."""
    lab.nft("router", MARKER_RULES, "reject with tcp reset on payload BOOM to port 8080")
    lab.capture()
    srv = lab.peer("server", listen=[
        {"port": 8080, "scripts": {"2": SERVE_ONE},
         "script": [["recvline", 10], ["send", "OK\n"], ["sleep", 0.3], ["send", "HB\n"], ["sleep", 0.3],
                    ["?send", "HB\n"], ["?drain", 3]]}])
    cli = lab.peer("client", connect=[
        {"name": "forged", "script": [connect(8080, 40001), ["send", "GET /\n"], ["recvline", 5], ["sleep", 0.1],
                                      ["send", "BOOM /admin\n"], ["drain", 3]]},
    ])
    cli.wait_ev("done", 10)
    time.sleep(0.8)  # the server's heartbeats, and the client's answer to the first
    cli2 = lab.peer("client", connect=[{"name": "control", "script": client_once(8080, 40002)}])
    cli2.wait_ev("done", 10)
    return finish(lab, "middlebox_injected", [
        FlowSpec("forged", ep(C, 40001), ep(S, 8080),
                 expect=[expect("middlebox_injected", "path",
                                note="the RST claims the server's address; the router made it")],
                 resets=[rst("server", "stateless", "ESTABLISHED", injected_by="router 10.77.1.1"),
                         rst("client", "stateless", "CLOSED")],
                 app={"client": ["ECONNRESET"]}),
        control(40002),
    ], [cli, cli2], [srv])


IDLE_DROP_RULES = """
table inet lab {
  chain fw {
    type filter hook forward priority 0; policy accept;
    # A stateful firewall: only tracked connections pass. The router's
    # conntrack forgets a connection after 3 s idle (sysctl below), so the
    # next segment of an idle connection is not tracked any more.
    ct state established,related accept
    ct state new tcp flags & (syn | ack) == syn accept
    tcp dport 8081 ct state invalid counter reject with tcp reset
    ct state invalid counter drop
  }
}
"""


@scenario("middlebox_idle_drop", "a stateful firewall forgets idle connections")
def middlebox_idle_drop(lab):
    """The router forwards only connections its conntrack knows, with an
    established timeout of 3 s and no mid-stream pickup. Two connections go
    idle for 4 s and then send a request: to port 8080 the request is
    dropped and retransmitted into silence until the client gives up
    (tcp_retries2=3: ETIMEDOUT, no RST); to port 8081 the firewall answers
    with a RST in the server's name (TTL 64, one hop short). A third
    connection sends a request every 0.5 s, so its entry never expires: the
    clean control."""
    lab.sysctl("router", "net.netfilter.nf_conntrack_tcp_loose", 0)
    lab.sysctl("router", "net.netfilter.nf_conntrack_tcp_timeout_established", 3)
    lab.sysctl("client", "net.ipv4.tcp_retries2", 3)
    lab.nft("router", IDLE_DROP_RULES, "stateful forwarding; untracked segments dropped (8080) or reset (8081)")
    lab.capture()
    keepalive_srv = [["serve", 30.0]]
    srv = lab.peer("server", listen=[{"port": 8080, "script": keepalive_srv},
                                     {"port": 8081, "script": keepalive_srv}])
    busy = [connect(8080, 40003)]
    for i in range(12):
        busy += [["send", "GET /%d\n" % i], ["recvline", 5], ["sleep", 0.5]]
    busy += [["close"]]
    cli = lab.peer("client", connect=[
        {"name": "dropped", "script": [connect(8080, 40001), ["send", "GET /1\n"], ["recvline", 5], ["sleep", 4.0],
                                       ["send", "GET /2\n"], ["recvline", 10]]},
        {"name": "reset", "script": [connect(8081, 40002), ["send", "GET /1\n"], ["recvline", 5], ["sleep", 4.0],
                                     ["send", "GET /2\n"], ["recvline", 10]]},
        {"name": "busy", "script": busy},
    ])
    cli.wait_ev("done", 20)
    return finish(lab, "middlebox_idle_drop", [
        FlowSpec("dropped", ep(C, 40001), ep(S, 8080),
                 expect=[expect("middlebox_idle_drop", "path",
                                note="after 4 s idle the request is retransmitted into silence")],
                 app={"client": ["ETIMEDOUT"]}, facts=lambda f: retransmitted_data(f, "client")),
        FlowSpec("reset", ep(C, 40002), ep(S, 8081),
                 expect=[expect("middlebox_idle_drop", "path",
                                note="after 4 s idle the firewall resets in the server's name")],
                 resets=[rst("server", "stateless", "ESTABLISHED", injected_by="router 10.77.1.1")],
                 app={"client": ["ECONNRESET"]}),
        FlowSpec("busy", ep(C, 40003), ep(S, 8080), note=CONTROL + " (a request every 0.5 s)",
                 app={"client": [], "server": ["EOF"]}),
    ], [cli], [srv], extra={"parameters": {"conntrack_established_timeout_s": 3, "idle_s": 4.0,
                                          "client_tcp_retries2": 3}})


BLOCK_8080 = """
table inet block {
  chain fw {
    type filter hook forward priority 0; policy accept;
    tcp dport 8080 counter drop
    tcp sport 8080 counter drop
  }
}
"""


@scenario("half_open_peer_lost", "the server loses its socket while the path is down")
def half_open_peer_lost(lab):
    """After one exchange the router drops everything on port 8080; the
    server aborts its socket (SO_LINGER 0: its RST dies on the router), the
    path comes back, and the client's next request reaches a server with no
    socket for it: a stateless RST (seq = the request's ACK, IP ID 0, window
    0, no options) and ECONNRESET. A connection to port 8081 is the clean
    control."""
    lab.capture()
    srv = lab.peer("server", listen=[
        {"port": 8080, "script": [["recvline", 10], ["send", "OK\n"], ["wait", "abort"], ["linger0"], ["close"],
                                  ["mark", "aborted"]]},
        {"port": 8081, "script": SERVE_ONE}])
    cli = lab.peer("client", connect=[
        {"name": "half_open", "script": [connect(8080, 40001), ["send", "GET /1\n"], ["recvline", 5],
                                         ["mark", "exchanged"], ["wait", "go"], ["send", "GET /2\n"],
                                         ["recvline", 5]]},
        {"name": "control", "script": client_once(8081, 40002)},
    ])
    cli.mark("exchanged")
    lab.nft("router", BLOCK_8080, "block port 8080")
    srv.send("abort")
    srv.mark("aborted")
    lab.ss("server", "after the server's abort, path blocked")
    time.sleep(0.3)
    lab.nft_flush("router", "block", "unblock port 8080")
    time.sleep(0.2)
    cli.send("go")
    cli.wait_ev("done", 10)
    return finish(lab, "half_open_peer_lost", [
        FlowSpec("half_open", ep(C, 40001), ep(S, 8080),
                 expect=[expect("half_open_peer_lost", "server")],
                 resets=[rst("server", "stateless", "CLOSED")],
                 app={"client": ["ECONNRESET"]}),
        FlowSpec("control", ep(C, 40002), ep(S, 8081), note=CONTROL,
                 app={"client": [], "server": ["EOF"]}),
    ], [cli], [srv])


def _overflow_classify(f):
    w = f.summary()
    server_rst = [r for r in f.resets() if r["sender"] == "server"]
    synack = any(p.flags & SYN and p.flags & ACK for p in f.pkts)
    if server_rst:
        return {"expect": [expect("accept_queue_overflow", "server")],
                "expect_packets_only": [expect("accept_queue_overflow", "server")],
                "outcome": "reset",
                "note": "handshake completed on the client; its ACK met the full queue: reset from SYN-RECEIVED",
                "reset_states": ["SYN-RECEIVED"] + ["CLOSED"] * (len(server_rst) - 1)}
    if not synack:
        return {"expect": [expect("accept_queue_overflow", "server")],
                "expect_packets_only": [expect("accept_queue_overflow", "server",
                                               note="its SYNs went unanswered while the same listener answered "
                                                    "other clients (handshakes, resets) around the same time: "
                                                    "not a blackhole")],
                "outcome": "syn-dropped",
                "note": "every SYN dropped by the full listener; connect() timed out"}
    if w["server"]["payload_bytes"] == 0:
        return {"expect": [expect("accept_queue_overflow", "server", needs="kernel")],
                "expect_packets_only": [],
                "outcome": "queued",
                "note": "established and queued, never accepted: the request got no answer"}
    return {"outcome": "unexpected"}


HOLD_ACKS = """
table inet hold {
  chain fw {
    type filter hook forward priority 0; policy accept;
    # Hold back everything but the SYN of the first four clients: their
    # handshakes stay half-done on the server (SYN-RECEIVED).
    ip saddr 10.77.1.2 tcp sport 40101-40104 tcp flags & syn == 0 counter drop
  }
}
"""


@scenario("accept_queue_overflow", "a listener that never accepts, 20 clients")
def accept_queue_overflow(lab):
    """The server listens on 8080 with backlog 8 and never calls accept(),
    with SYN cookies off and tcp_abort_on_overflow=1 in its namespace. 20
    clients (tcp_syn_retries=1: a 3 s budget) connect, send a request and
    wait 2 s for an answer. To make the race deterministic, the router holds
    back the first four clients' handshake-completing ACKs (and their
    requests) while nine more clients fill the accept queue (9 = backlog+1);
    when the path reopens, those four ACKs meet the full queue and each is
    answered by a RST from SYN-RECEIVED (the client saw connect() succeed,
    then ECONNRESET). Seven late clients find the queue full: every SYN is
    dropped (ListenOverflows/ListenDrops rise) and connect() times out. The
    nine queued connections are never answered. The listener's queue (ss
    -ltn: Recv-Q against Send-Q = backlog) is sampled every 200 ms. Each
    flow's expectation follows what happened to it."""
    lab.sysctl("server", "net.ipv4.tcp_syncookies", 0)
    lab.sysctl("server", "net.ipv4.tcp_abort_on_overflow", 1)
    lab.sysctl("client", "net.ipv4.tcp_syn_retries", 1)
    lab.capture()
    lab.capture("server")
    srv = lab.peer("server", listen=[{"port": 8080, "backlog": 8, "accept": False}])
    lab.ss("server", "listener before", ("-ltn",))
    lab.sample_ss("server", 0.2, "listener queue", ("-ltn",))

    def group(first, n):
        return [{"name": "c%02d" % i,
                 "script": [connect(8080, 40100 + i), ["send", "GET /\n"], ["?recvline", 2], ["close"]]}
                for i in range(first, first + n)]

    lab.nft("router", HOLD_ACKS, "hold back client ports 40101-40104 except their SYNs")
    victims = lab.peer("client", connect=group(1, 4))
    time.sleep(0.2)
    fillers = lab.peer("client", connect=group(5, 9))
    time.sleep(0.3)
    lab.ss("server", "queue full, four handshakes half-done")
    lab.nft_flush("router", "hold", "release client ports 40101-40104")
    time.sleep(0.2)
    late = lab.peer("client", connect=group(14, 7))
    for p in (victims, fillers, late):
        p.wait_ev("done", 20)
    lab.ss("server", "sockets at the end")
    spec = FlowSpec("clients", None, ep(S, 8080), many=True, count=20, classify=_overflow_classify,
                    facts=syn_attempts)
    truth = finish(lab, "accept_queue_overflow", [spec], [victims, fillers, late], [srv],
                   extra={"parameters": {"backlog": 8, "tcp_syncookies": 0, "tcp_abort_on_overflow": 1}})
    got = {}
    for f in truth["flows"]:
        got.setdefault(f.get("outcome"), []).append(int(f["client"].rsplit(":", 1)[1]) - 40100)
    want = {"reset": [1, 2, 3, 4], "queued": list(range(5, 14)), "syn-dropped": list(range(14, 21))}
    lab.check("outcomes by client %s (want %s)" % (
        {k: sorted(v) for k, v in got.items()}, want), {k: sorted(v) for k, v in got.items()} == want)
    mib = truth["kernel_view"]["mib_delta"]["server"]
    lab.check("server ListenOverflows rose (%s)" % mib.get("TcpExt.ListenOverflows"),
              mib.get("TcpExt.ListenOverflows", 0) > 0)
    return truth


BLACKHOLE_8081 = """
table inet lab {
  chain fw {
    type filter hook forward priority 0; policy accept;
    tcp dport 8081 counter drop
  }
}
"""


@scenario("syn_timeout", "a SYN into a blackhole")
def syn_timeout(lab):
    """The router silently drops everything to port 8081. The client
    (tcp_syn_retries=1, which Linux turns into a 3 s budget) sends its SYN
    three times, 1 s apart (linear SYN timeouts since Linux 6.7), and
    connect() fails with ETIMEDOUT after about 3 s. A connection to port
    8080 is the clean control."""
    lab.sysctl("client", "net.ipv4.tcp_syn_retries", 1)
    lab.nft("router", BLACKHOLE_8081, "drop port 8081")
    lab.capture()
    srv = lab.peer("server", listen=[{"port": 8080, "script": SERVE_ONE}])
    cli = lab.peer("client", connect=[
        {"name": "blackhole", "script": [connect(8081, 40001, timeout=None)]},
        {"name": "control", "script": client_once(8080, 40002)},
    ])
    cli.wait_ev("done", 15)
    return finish(lab, "syn_timeout", [
        FlowSpec("blackhole", ep(C, 40001), ep(S, 8081),
                 expect=[expect("syn_timeout", "server", note="nobody answers for 10.77.2.2:8081")],
                 app={"client": ["ETIMEDOUT"]}, facts=syn_attempts),
        control(40002),
    ], [cli], [srv], extra={"parameters": {"client_tcp_syn_retries": 1}})


@scenario("keepalive_timeout", "keep-alive probes into a blocked path")
def keepalive_timeout(lab):
    """Both connections enable keep-alive with TCP_KEEPIDLE=1, TCP_KEEPINTVL=1,
    TCP_KEEPCNT=3. After one exchange the router drops everything on port
    8080: the client's probes go unanswered, and after the third one the
    client's kernel gives up, sends a RST from its socket and the waiting
    read fails with ETIMEDOUT. On port 8081 the probes are answered for 2.5
    s and the client then closes: the clean control (answered keep-alives
    are no finding)."""
    lab.capture()
    srv = lab.peer("server", listen=[{"port": 8080, "script": [["recvline", 10], ["send", "OK\n"], ["?drain", 30]]},
                                     {"port": 8081, "script": SERVE_ONE}])
    ka = {"keepalive": [1, 1, 3]}
    cli = lab.peer("client", connect=[
        {"name": "blocked", "script": [connect(8080, 40001, **ka), ["send", "GET /\n"], ["recvline", 5],
                                       ["mark", "exchanged"], ["drain", 30]]},
        {"name": "answered", "script": [connect(8081, 40002, **ka), ["send", "GET /\n"], ["recvline", 5],
                                        ["sleep", 2.5], ["close"]]},
    ])
    cli.mark("exchanged")
    lab.nft("router", BLOCK_8080, "block port 8080")
    cli.wait_ev("done", 15)
    return finish(lab, "keepalive_timeout", [
        FlowSpec("blocked", ep(C, 40001), ep(S, 8080),
                 expect=[expect("keepalive_timeout", "client")],
                 resets=[rst("client", "socket", "ESTABLISHED")],
                 app={"client": ["ETIMEDOUT"]}, facts=keepalive_probes),
        FlowSpec("answered", ep(C, 40002), ep(S, 8081), note=CONTROL + " (with answered keep-alives)",
                 app={"client": [], "server": ["EOF"]}, facts=keepalive_probes),
    ], [cli], [srv], extra={"parameters": {"keepidle_s": 1, "keepintvl_s": 1, "keepcnt": 3}})


@scenario("zero_window_stall", "a reader that stops reading")
def zero_window_stall(lab):
    """The client asks for 200 kB with a 4 kB receive buffer, reads 2000
    bytes and stops reading for 3 s: its window closes, the server probes
    the zero window (Linux probes look like keep-alives), then the client
    reads the rest and closes. A 200 kB download with default buffers on
    port 8081 is the clean control."""
    lab.capture()
    dl = [["download"], ["drain", 20], ["tcpinfo"], ["close"]]
    srv = lab.peer("server", listen=[{"port": 8080, "script": dl}, {"port": 8081, "script": dl}])
    cli = lab.peer("client", connect=[
        {"name": "stalled", "script": [connect(8080, 40001, rcvbuf=4096), ["send", "GET 200000\n"],
                                       ["recvn", 2000, 5], ["sleep", 3.0], ["recvn", 198000, 10], ["close"]]},
        {"name": "control", "script": [connect(8081, 40002), ["send", "GET 200000\n"], ["recvn", 200000, 10],
                                       ["close"]]},
    ])
    cli.wait_ev("done", 20)
    time.sleep(0.3)  # the server's tcpinfo step runs after the client's FIN
    truth = finish(lab, "zero_window_stall", [
        FlowSpec("stalled", ep(C, 40001), ep(S, 8080),
                 expect=[expect("zero_window_stall", "client",
                                note="the client stopped reading for 3 s; the path loses nothing (no rule, veth drop "
                                     "counters 0): never loss_retransmit, whatever the window-full segments, "
                                     "zero-window probes and reordered segments look like")],
                 app={"client": [], "server": ["EOF"]}, facts=stall_facts),
        FlowSpec("control", ep(C, 40002), ep(S, 8081), note=CONTROL,
                 app={"client": [], "server": ["EOF"]}, facts=stall_facts),
    ], [cli], [srv], extra={"parameters": {"client_rcvbuf": 4096, "stall_s": 3.0, "path": "no loss, no rule"}})
    drops = lab.path_drops()
    truth["path_drops"] = drops
    lab.check("the path dropped nothing: no nftables rule, veth drop counters %s" % drops, not any(drops.values()))
    for f in truth["flows"]:
        info = next((x["info"] for x in f.get("apps", {}).get("server", {}).get("log", [])
                     if x["op"] == "tcpinfo" and "info" in x), {})
        # Not required to be 0: segments reordered on the veths (sent from
        # two CPUs) can make the server retransmit spuriously.
        f["server_total_retrans"] = info.get("total_retrans")
    st = next(f for f in truth["flows"] if f["name"] == "stalled")["measured"]
    lab.check("the stalled flow has zero-window segments (%d) and server probes (%d)"
              % (st["zero_window_segments"], st["server_probes"]),
              st["zero_window_segments"] > 0 and st["server_probes"] > 0)
    return truth


def stall_facts(f):
    """The zero-window facts, the server's window probes (segments one below
    SND.NXT, like keep-alives) and the data segments that do not advance
    the server's sequence at this vantage."""
    out = zero_window_facts(f)
    pr = keepalive_probes(f, "server")
    out.update(server_probes=pr["probes"], server_probe_frames=pr["probe_frames"])
    out.update(retransmitted_data(f, "server"))
    return out


LOSS_RULES = """
table inet lab {
  chain fw {
    type filter hook forward priority 0; policy accept;
    # 8 % of the server's segments on port 8080 are lost.
    ip saddr 10.77.2.2 tcp sport 8080 numgen random mod 100 < 8 counter drop
  }
}
"""


@scenario("loss_retransmit", "random loss on the router")
def loss_retransmit(lab):
    """The router drops 8 % of the server's segments on port 8080 (nftables
    numgen random; there is no netem here). The client downloads 300 kB on
    8080 and on 8081 (no loss, the clean control). The server reports its
    kernel's total_retrans (TCP_INFO) before closing. Captured on both ends:
    the client side sees the holes and the late copies, the server side
    every retransmission."""
    lab.nft("router", LOSS_RULES, "drop 8% of server segments on port 8080")
    lab.capture()
    lab.capture("server")
    dl = [["download"], ["drain", 20], ["tcpinfo"], ["close"]]
    srv = lab.peer("server", listen=[{"port": 8080, "script": dl}, {"port": 8081, "script": dl}])
    cli = lab.peer("client", connect=[
        {"name": "lossy", "script": [connect(8080, 40001), ["send", "GET 300000\n"], ["recvn", 300000, 30],
                                     ["close"]]},
        {"name": "control", "script": [connect(8081, 40002), ["send", "GET 300000\n"], ["recvn", 300000, 10],
                                       ["close"]]},
    ])
    cli.wait_ev("done", 40)
    time.sleep(0.3)  # the server's tcpinfo step runs after the client's FIN
    truth = finish(lab, "loss_retransmit", [
        FlowSpec("lossy", ep(C, 40001), ep(S, 8080),
                 expect=[expect("loss_retransmit", "server")],
                 app={"client": [], "server": ["EOF"]}, facts=lambda f: retransmitted_data(f, "server")),
        FlowSpec("control", ep(C, 40002), ep(S, 8081), note=CONTROL,
                 app={"client": [], "server": ["EOF"]}, facts=lambda f: retransmitted_data(f, "server")),
    ], [cli], [srv], extra={"parameters": {"loss_percent": 8, "bytes": 300000}})
    lost = lost_segments(lab)
    for f in truth["flows"]:
        info = next((s["info"] for s in f.get("apps", {}).get("server", {}).get("log", [])
                     if s["op"] == "tcpinfo" and "info" in s), {})
        f["server_total_retrans"] = info.get("total_retrans")
        f["server_segments_lost"] = lost.get(f["client"])
    lossy = next(f for f in truth["flows"] if f["name"] == "lossy")
    ctrl = next(f for f in truth["flows"] if f["name"] == "control")
    lab.check("the lossy flow's server retransmitted (total_retrans %s) and %s of its segments never reached the "
              "client" % (lossy["server_total_retrans"], lossy["server_segments_lost"]),
              (lossy["server_total_retrans"] or 0) >= 3 and (lossy["server_segments_lost"] or 0) >= 3)
    # The control may retransmit a segment spuriously (segments reordered
    # on the veths): what makes it the control is that it loses nothing.
    lab.check("the control flow lost nothing (%s segments lost; total_retrans %s)"
              % (ctrl["server_segments_lost"], ctrl["server_total_retrans"]), ctrl["server_segments_lost"] == 0)
    lab.check("the client saw >= 3 late copies on the lossy flow (%s)" % lossy["measured"],
              lossy["measured"]["retransmitted_data_segments"] >= 3)
    return truth


def lost_segments(lab):
    """Per client endpoint: how many of the server's data segments sent
    (server capture) never arrived (client capture), counting copies."""
    caps = {c["vantage"]: pcapread.flows(pcapread.read_pcap(c["path"])) for c in lab.captures}
    out = {}
    for fs in caps["server"]:
        fc = next((x for x in caps["client"] if {x.client, x.server} == {fs.client, fs.server}), None)
        sent, got = {}, {}
        for flow, tally in ((fs, sent), (fc, got)):
            for p in (flow.pkts if flow else []):
                if flow.role(p) == "server" and p.paylen > 0:
                    tally[(p.seq, p.paylen)] = tally.get((p.seq, p.paylen), 0) + 1
        out[fs.client] = sum(max(0, n - got.get(k, 0)) for k, n in sent.items())
    return out


@scenario("time_wait_churn", "2000 short connections, client closes first")
def time_wait_churn(lab):
    """The client opens 2000 connections to 10.77.2.2:8080 one after the
    other (connect, one request, one answer, close first), so its namespace
    ends holding about 2000 TIME-WAIT sockets towards one server port, each
    from a new ephemeral port. A long-lived connection to port 8081, used
    every 0.5 s, is the clean control. The kernel's view: TIME-WAIT counts
    by ss at the end and the TcpExt.TW delta."""
    lab.capture()
    srv = lab.peer("server", listen=[{"port": 8080, "script": SERVE_ONE},
                                     {"port": 8081, "script": [["serve", 30.0]]}])
    steady = [connect(8081, 40001)]
    for i in range(4):
        steady += [["send", "GET /%d\n" % i], ["recvline", 5], ["sleep", 0.5]]
    steady += [["close"]]
    cli = lab.peer("client", connect=[{"name": "steady", "script": steady}],
                   churn={"host": S, "port": 8080, "count": 2000})
    cli.wait_ev("done", 60)
    socks = lab.ss("client", "TIME-WAIT at the end", ("-tan",))
    tw = [x for x in socks if x["state"] == "TIME-WAIT"]
    snap = lab.snapshots[-1]
    # 2000 lines: keep the other sockets, and counts of the TIME-WAIT ones.
    snap["sockets"] = [x for x in socks if x["state"] != "TIME-WAIT"]
    snap["time_wait"] = {"count": len(tw), "by_peer": {}}
    for x in tw:
        snap["time_wait"]["by_peer"][x["peer"]] = snap["time_wait"]["by_peer"].get(x["peer"], 0) + 1
    ports = sorted(int(x["local"].rsplit(":", 1)[1]) for x in tw)
    snap["time_wait"]["local_port_range"] = [ports[0], ports[-1]] if ports else []
    need(lab, "client holds >= 1900 TIME-WAIT sockets (%d)" % len(tw), len(tw) >= 1900)
    truth = finish(lab, "time_wait_churn", [
        FlowSpec("churn", None, ep(S, 8080), many=True, count=2000, listed=False,
                 expect=[expect("time_wait_churn", "client",
                                note="2000 connections in a few seconds; the client, the active closer, holds TIME-WAIT")]),
        FlowSpec("steady", ep(C, 40001), ep(S, 8081), note=CONTROL + " (long-lived, beside the churn)",
                 app={"client": [], "server": ["EOF"]}),
    ], [cli], [srv])
    churn = next(x for x in cli.result["extra"] if x["name"] == "churn")
    churn.pop("ports", None)
    truth["churn"] = churn
    return truth


@scenario("close_wait_leak", "a server that never closes after the client's FIN")
def close_wait_leak(lab):
    """Five clients each send one request, read the answer and close. The
    server never calls close() on them: they sit in CLOSE-WAIT, owned by the
    server process, for 7 s until the capture ends. A sixth client keeps a
    keep-alive connection busy with a request every second and closes it at
    the end (the server closes its side): the clean control, whose traffic
    also carries the capture's clock past the leak. The server namespace's
    socket table (ss -tanpie, with owners) is sampled every second."""
    lab.capture()
    leak = [["recvline", 10], ["send", "OK\n"], ["recv", 100, 10], ["hold"]]
    srv = lab.peer("server", listen=[{"port": 8080, "script": leak},
                                     {"port": 8081, "script": [["serve", 30.0]]}])
    steady = [connect(8081, 40001)]
    for i in range(8):
        steady += [["send", "GET /%d\n" % i], ["recvline", 5], ["sleep", 1.0]]
    steady += [["close"]]
    cli = lab.peer("client", connect=[{"name": "steady", "script": steady}] + [
        {"name": "c%d" % i, "stagger": 0.1, "script": client_once(8080, 40000 + i)} for i in range(2, 7)])
    lab.sample_ss("server", 1.0, "server sockets")
    lab.sample_fds(srv.pid, 0.5, "server")
    cli.wait_ev("done", 15)
    specs = [FlowSpec("steady", ep(C, 40001), ep(S, 8081), note=CONTROL + " (busy until the end)",
                      app={"client": [], "server": ["EOF"]})]
    for i in range(2, 7):
        specs.append(FlowSpec("leak%d" % i, ep(C, 40000 + i), ep(S, 8080),
                              expect=[expect("close_wait_leak", "server",
                                             note="the server never closes: CLOSE-WAIT for 7 s")],
                              app={"client": [], "server": ["EOF"]}, facts=close_wait_since))
    return finish(lab, "close_wait_leak", specs, [cli], [srv])


@scenario("fd_leak", "a client that never closes its connections")
def fd_leak(lab):
    """A client process with RLIMIT_NOFILE 64 opens a connection every 50
    ms, makes one request on it and never closes it, until socket() fails
    with EMFILE about 3 s later. Its fd count and limit are sampled every
    100 ms. The server forks a child per connection, so no server process
    accumulates fds. A second, well-behaved client process keeps one
    long-lived connection to port 8081 (its fd count stays flat): the clean
    control. fd_leak needs the kernel's view: from packets alone the leaked
    connections are clean."""
    lab.capture()
    srv = lab.peer("server", listen=[
        {"port": 8080, "fork": True, "child_seconds": 30, "script": [["recvline", 10], ["send", "OK\n"]]},
        {"port": 8081, "script": [["serve", 30.0]]}])
    steady = [connect(8081, 40001)]
    for i in range(8):
        steady += [["send", "GET /%d\n" % i], ["recvline", 5], ["sleep", 0.5]]
    good = lab.peer("client", connect=[{"name": "steady", "script": steady}])
    lab.sample_fds(good.pid, 0.1, "well-behaved client")
    leaky = lab.peer("client", rlimit_nofile=64, leak={"host": S, "port": 8080, "interval": 0.05, "max_seconds": 8})
    lab.sample_fds(leaky.pid, 0.1, "leaking client")
    ex = leaky.mark("leak-exhausted", 15)
    lab.note("leaking client: %s" % ex.get("error"), "client")
    time.sleep(0.5)
    lab.ss("client", "client sockets at exhaustion")
    good.wait_ev("done", 10)
    truth = finish(lab, "fd_leak", [
        FlowSpec("leaked", None, ep(S, 8080), many=True, expect=[], packets_only=[],
                 note="fd_leak and fd_exhaustion are about the leaking process (expect_processes), not its connections"),
        FlowSpec("steady", ep(C, 40001), ep(S, 8081), note=CONTROL + " (another process, flat fd count)"),
    ], [good, leaky], [srv])
    leak = next(x for x in leaky.result["extra"] if x["name"] == "leak")
    leak.pop("conns", None)
    truth["leak"] = leak
    need(lab, "the leaking client hit EMFILE (%s)" % leak["first_error"], leak["first_error"] == "EMFILE")
    lk = next(p for p in truth["kernel_view"]["processes"] if p["label"] == "leaking client")
    fds = [x["fds"] for x in lk["samples"]]
    at_limit = [x["t"] for x in lk["samples"] if x["fds"] >= lk.get("nofile_soft", 1 << 30)]
    truth["expect_processes"] = [
        expect_process(lk["label"], lk["pid"], lk.get("comm"), "fd_leak", None,
                       note="its fds climbed from %d to %d during the capture" % (fds[0], max(fds))),
        expect_process(lk["label"], lk["pid"], lk.get("comm"), "fd_exhaustion", "critical",
                       note="at its limit of %s from %.1f s to the end: socket() fails with EMFILE"
                            % (lk.get("nofile_soft"), at_limit[0] if at_limit else -1))]
    lab.check("the leaking client ends at its fd limit (%d of %s)" % (fds[-1], lk.get("nofile_soft")),
              fds[-1] == lk.get("nofile_soft"))
    return truth


# --- the failures of issue 12 ------------------------------------------------

def closer_facts(f):
    """race_facts plus how many answers the server gave before it closed
    (its FIN, or its RST when there was none)."""
    out = race_facts(f)
    end = next((p for p in f.pkts if f.role(p) == "server" and p.flags & (FIN | RST)), None)
    if end is not None:
        out["server_answers_before_close"] = sum(1 for p in _mine(f, "server") if p.paylen > 0 and p.ts < end.ts)
    return out


# What a keep-alive race leaves on the wire and in the client, by ordering.
RACE_OUTCOMES = {
    "reset-without-fin": ([rst("server", "socket", "ESTABLISHED")], ["ECONNRESET"]),
    "crossed": ([rst("server", "stateless", "FIN-WAIT-1")], ["EOF"]),
    "after-fin": ([rst("server", "stateless", "FIN-WAIT-2")], ["EOF"]),
}


@scenario("go_close_wait_leak", "a Go server that forgets Close(): every connection left in CLOSE-WAIT")
def go_close_wait_leak(lab):
    """A raw Go net server on 8080 answers each line and, on the client's
    EOF, returns from its handler without closing the connection (the
    forgotten defer conn.Close(); the connection stays referenced in the
    server's registry of open connections, as real leaks are: an
    unreachable net.Conn would be closed by its finalizer at a GC). 20
    clients, one every 0.2 s from ports 40101-40120, send a line, read the
    answer and close: the server ACKs each FIN and never sends its own, so
    at the end of the 4.6 s capture the 20 sockets sit in CLOSE-WAIT, each
    younger than 5 s (0.5 to 4.3 s), while new ones keep arriving. The
    pattern across connections is the evidence. The same process's handler
    on 8081 closes on EOF: a busy keep-alive connection to it (a line every
    0.5 s, closed by the client at the end) is the clean control. The
    server's socket table and fd count are sampled every 0.5 s; its soft
    fd limit is 1024 (the common default), so its fds, one per leaked
    connection, climb towards it at about 280 a minute: an fd leak too."""
    lab.capture()
    srv = lab.gopeer("server", "leakserver", "-leak", "10.77.2.2:8080", "-ok", "10.77.2.2:8081", "-nofile", "1024")
    lab.sample_ss("server", 0.5, "server sockets")
    lab.sample_fds(srv.pid, 0.5, "leaking Go server")
    steady = [connect(8081, 40001)]
    for i in range(9):
        steady += [["send", "GET /%d\n" % i], ["recvline", 5], ["sleep", 0.5]]
    steady += [["close"]]
    cli = lab.peer("client", connect=[{"name": "steady", "stagger": 0.1, "script": steady}] + [
        {"name": "c%02d" % i, "stagger": 0.2, "script": client_once(8080, 40100 + i)} for i in range(1, 21)])
    cli.wait_ev("done", 15)
    lab.ss("server", "sockets at the end")
    specs = [FlowSpec("steady", ep(C, 40001), ep(S, 8081), note=CONTROL + " (busy until the end; same process)",
                      app={"client": [], "server": ["EOF"]})]
    for i in range(1, 21):
        specs.append(FlowSpec("leak%02d" % i, ep(C, 40100 + i), ep(S, 8080),
                              expect=[expect("close_wait_leak", "server",
                                             note="every connection of this server is left in CLOSE-WAIT while "
                                                  "new ones arrive; each is younger than 5 s")],
                              app={"client": [], "server": ["EOF"]}, facts=close_wait_since))
    truth = finish(lab, "go_close_wait_leak", specs, [cli], [srv])
    ages = [f["measured"]["close_wait_until_capture_end_s"] for f in truth["flows"] if f["name"].startswith("leak")]
    lab.check("20 CLOSE-WAITs aged %.1f-%.1f s at the end, all under 5 s" % (min(ages), max(ages)),
              len(ages) == 20 and max(ages) < 5.0)
    last = [x for x in lab.snapshots if x["label"] == "sockets at the end"][0]
    cw = [x for x in last["sockets"] if x["state"] == "CLOSE-WAIT" and x["local"] == ep(S, 8080)
          and any(u.get("pid") == srv.pid for u in x.get("users", []))]
    lab.check("ss: %d CLOSE-WAIT sockets on 8080 owned by the Go server (want 20)" % len(cw), len(cw) == 20)
    lab.check("no server FIN on any leaked connection",
              all(f["wire"]["server"]["fin"] == 0 for f in truth["flows"] if f["name"].startswith("leak")))
    gs = truth["kernel_view"]["processes"][0]
    fds = [x["fds"] for x in gs["samples"]]
    span = gs["samples"][-1]["t"] - gs["samples"][0]["t"]
    rate = (fds[-1] - fds[0]) / span * 60
    truth["expect_processes"] = [expect_process(
        gs["label"], gs["pid"], gs.get("comm"), "fd_leak", None,
        note="one fd per leaked connection: %d to %d in %.1f s (%.0f a minute), its limit %s reached in about %.0f "
             "minutes at that rate" % (fds[0], fds[-1], span, rate, gs.get("nofile_soft"),
                                       (gs.get("nofile_soft", 0) - fds[-1]) / rate if rate > 0 else -1))]
    lab.check("the server's fds climbed with the leak (%d to %d, limit %s)" % (fds[0], fds[-1], gs.get("nofile_soft")),
              fds[-1] - fds[0] >= 18 and gs.get("nofile_soft") == 1024)
    return truth


def _syn_drop_classify(f):
    synack = any(p.flags & SYN and p.flags & ACK for p in f.pkts)
    if not synack:
        return {"expect": [expect("accept_queue_overflow", "server")],
                "expect_packets_only": [expect("accept_queue_overflow", "server",
                                               note="its SYNs went unanswered while the same listener completed "
                                                    "other handshakes milliseconds earlier: not a blackhole")],
                "outcome": "syn-dropped",
                "note": "every SYN dropped by the listener whose accept queue was full; connect() timed out"}
    return {"expect": [expect("accept_queue_overflow", "server", needs="kernel",
                              note="queued, never accepted: the listener's queue is at its backlog")],
            "expect_packets_only": [], "outcome": "queued",
            "note": "established and queued, never accepted; its request was acknowledged and never answered"}


@scenario("accept_queue_syn_drop", "a full listener completes two handshakes and ignores 18 SYNs")
def accept_queue_syn_drop(lab):
    """The seed's capture: a listener (backlog 1, never accepting, default
    SYN cookies) on 8080 and 20 clients connecting 10 ms apart from ports
    40101-40120 (tcp_syn_retries=1: a 3 s budget). The first two complete
    their handshake (the accept queue holds backlog+1 = 2), send a request
    that the kernel acknowledges and nobody answers; the next 18 clients'
    SYNs arrive milliseconds later at a full queue and are dropped, three
    times each, until connect() fails with ETIMEDOUT. From the file alone:
    a listener that answers some SYNs and ignores others at the same moment
    is an overflowing listener, not a blackhole. A connection to 8081 (a
    listener that accepts) is the clean control."""
    lab.sysctl("client", "net.ipv4.tcp_syn_retries", 1)
    lab.capture()
    srv = lab.peer("server", listen=[{"port": 8080, "backlog": 1, "accept": False},
                                     {"port": 8081, "script": SERVE_ONE}])
    lab.ss("server", "listener before", ("-ltn",))
    lab.sample_ss("server", 0.5, "listener queue", ("-ltn",))
    cli = lab.peer("client", connect=[
        {"name": "c%02d" % i, "stagger": 0.01,
         "script": [connect(8080, 40100 + i, timeout=None), ["send", "GET /\n"], ["?recvline", 3.2]]}
        for i in range(1, 21)])
    time.sleep(0.5)
    ctl = lab.peer("client", connect=[{"name": "control", "script": client_once(8081, 40001)}])
    ctl.wait_ev("done", 10)
    cli.wait_ev("done", 10)
    lab.ss("server", "listener at the end", ("-ltn",))
    lab.ss("server", "sockets at the end")
    spec = FlowSpec("clients", None, ep(S, 8080), many=True, count=20, classify=_syn_drop_classify,
                    facts=syn_attempts)
    truth = finish(lab, "accept_queue_syn_drop", [spec, control(40001, 8081)], [cli, ctl], [srv],
                   extra={"parameters": {"backlog": 1, "client_tcp_syn_retries": 1}})
    got = {}
    for f in truth["flows"]:
        if f.get("set"):
            got.setdefault(f.get("outcome"), []).append(int(f["client"].rsplit(":", 1)[1]) - 40100)
    want = {"queued": [1, 2], "syn-dropped": list(range(3, 21))}
    lab.check("outcomes by client %s (want %s)" % ({k: sorted(v) for k, v in got.items()}, want),
              {k: sorted(v) for k, v in got.items()} == want)
    sets = [f for f in truth["flows"] if f.get("set")]
    last_synack = max(f["t_first"] for f in sets if f["outcome"] == "queued")
    first_dropped = min(f["t_first"] for f in sets if f["outcome"] == "syn-dropped")
    truth["parameters"]["dropped_syn_after_last_handshake_s"] = round(first_dropped - last_synack, 6)
    lab.check("the first ignored SYN came %.0f ms after the last answered one (< 100 ms)"
              % ((first_dropped - last_synack) * 1000), 0 <= first_dropped - last_synack < 0.1)
    lab.check("every dropped client sent 3 SYNs", all(f["measured"]["syns"] == 3 for f in sets
                                                      if f["outcome"] == "syn-dropped"))
    mib = truth["kernel_view"]["mib_delta"]["server"]
    lab.check("server ListenOverflows rose by 54 (%s)" % mib.get("TcpExt.ListenOverflows"),
              mib.get("TcpExt.ListenOverflows", 0) == 54)
    return truth


HTTP_GET = "GET / HTTP/1.1\r\nHost: 10.77.2.2\r\n\r\n"


@scenario("fd_exhaustion", "a Go server at its fd limit: accept() fails with EMFILE, 12 connections queued")
def fd_exhaustion(lab):
    """A Go net/http server with RLIMIT_NOFILE 256 whose background loop
    opens a file every millisecond and never closes it: before the capture
    starts it holds all 256 fds, and the loop keeps failing with EMFILE.
    The namespace's somaxconn is 11, so Go's listener has backlog 11. During
    the capture its fd count is flat at the limit (sampled every 0.2 s: the
    climb is over, growth 0), 12 clients (40001-40012) connect: the kernel
    completes their handshakes and queues them (Recv-Q 12 of backlog 11,
    full), acknowledges their requests, and net/http's accept fails with
    EMFILE ("http: Accept error: ... too many open files; retrying"), so
    nobody answers. Two late clients (40013, 40014, tcp_syn_retries=1) find
    the queue full: their SYNs are dropped (ListenOverflows) and connect()
    times out. A Python server on 8081 in the same namespace (another
    process, few fds) serves a clean control connection."""
    lab.sysctl("server", "net.core.somaxconn", 11)
    lab.sysctl("client", "net.ipv4.tcp_syn_retries", 1)
    srv = lab.gopeer("server", "httpserver", "-addr", "10.77.2.2:8080", "-nofile", "256", "-leak-files")
    ex = srv.wait_ev("mark", 10, "fds-exhausted")
    lab.note("Go server: leaked %s files, then %s" % (ex["leaked_files"], ex["error"]), "server")
    ctl_srv = lab.peer("server", listen=[{"port": 8081, "script": SERVE_ONE}])
    lab.sample_fds(srv.pid, 0.2, "Go server at its fd limit")
    lab.sample_fds(ctl_srv.pid, 0.2, "control server")
    lab.ss("server", "listener before", ("-ltn",))
    lab.sample_ss("server", 0.5, "listener queue", ("-ltn",))
    lab.capture()
    queued = lab.peer("client", connect=[
        {"name": "q%02d" % i, "stagger": 0.01,
         "script": [connect(8080, 40000 + i, timeout=None), ["send", HTTP_GET], ["?recvline", 3.2]]}
        for i in range(1, 13)])
    time.sleep(0.3)
    late = lab.peer("client", connect=[
        {"name": "late%d" % i, "stagger": 0.01, "script": [connect(8080, 40000 + i, timeout=None)]}
        for i in (13, 14)])
    ctl = lab.peer("client", connect=[{"name": "control", "script": client_once(8081, 40020)}])
    for p in (ctl, late, queued):
        p.wait_ev("done", 10)
    lab.ss("server", "listener at the end", ("-ltn",))
    lab.ss("server", "sockets at the end")
    specs = [FlowSpec("queued%02d" % i, ep(C, 40000 + i), ep(S, 8080),
                      expect=[expect("accept_queue_overflow", "server", needs="kernel",
                                     note="queued in a listener at its backlog (12 of 11) whose owner is at its fd "
                                          "limit: accept() fails with EMFILE (the process finding fd_exhaustion)")],
                      packets_only=[], app={"client": ["app-timeout"]}) for i in range(1, 13)]
    specs += [FlowSpec("late%d" % i, ep(C, 40000 + i), ep(S, 8080),
                       expect=[expect("accept_queue_overflow", "server",
                                      note="SYNs dropped by the full listener that completed 12 handshakes just "
                                           "before")],
                       app={"client": ["ETIMEDOUT"]}, facts=syn_attempts) for i in (13, 14)]
    specs.append(control(40020, 8081))
    truth = finish(lab, "fd_exhaustion", specs, [queued, late, ctl], [ctl_srv, srv],
                   extra={"parameters": {"nofile_soft": 256, "somaxconn": 11}})
    gx = next(x for x in srv.result["extra"] if x.get("name") == "gopeer")
    truth["go_server"] = gx
    procs = {p["label"]: p for p in truth["kernel_view"]["processes"]}
    gs = procs["Go server at its fd limit"]
    fds = [x["fds"] for x in gs["samples"]]
    truth["expect_processes"] = [expect_process(
        gs["label"], gs["pid"], gs.get("comm"), "fd_exhaustion", "critical",
        note="holds all %d fds of its limit %d, flat for the whole capture (growth 0: not fd_leak); accept() fails "
             "with EMFILE and 12 connections wait in its listener's queue" % (max(fds), gs.get("nofile_soft", 0)))]
    lab.check("Go server fds flat at its limit: %d samples, min %d max %d, limit %s"
              % (len(fds), min(fds), max(fds), gs.get("nofile_soft")),
              len(fds) >= 10 and min(fds) == max(fds) == gs.get("nofile_soft") == 256)
    cfds = [x["fds"] for x in procs["control server"]["samples"]]
    lab.check("control server's fds flat and far from its limit (%s)" % sorted(set(cfds)), max(cfds) < 50)
    lab.check("net/http reported EMFILE on accept (%s x: %s)" % (gx.get("accept_errors"), gx.get("first_accept_error")),
              gx.get("accept_errors", 0) > 0 and "too many open files" in gx.get("first_accept_error", ""))
    lst = [x for x in lab.snapshots if x["label"] == "listener at the end"][0]
    l8080 = next((x for x in lst["sockets"] if x["local"].endswith(":8080")), {})
    lab.check("listener queue at the end: Recv-Q %s of backlog %s (want 12 of 11)"
              % (l8080.get("recv_q"), l8080.get("send_q")),
              l8080.get("recv_q") == 12 and l8080.get("send_q") == 11)
    mib = truth["kernel_view"]["mib_delta"]["server"]
    lab.check("server ListenOverflows rose (%s)" % mib.get("TcpExt.ListenOverflows"),
              mib.get("TcpExt.ListenOverflows", 0) > 0)
    return truth


@scenario("close_wait_preexisting", "200 CLOSE-WAIT sockets older than the capture")
def close_wait_preexisting(lab):
    """The Go server that forgets Close() (8080) is visited by 200 clients
    (ports 41001-41200: a line, the answer, close) before the capture
    starts: its process holds 200 CLOSE-WAIT sockets whose FINs are not in
    the capture, and they stay for the whole of it. The capture holds only
    the clean control: a keep-alive connection to the same process's
    closing handler on 8081, busy every 0.5 s. From packets alone there is
    nothing to see; the kernel's view (ss before the capture and at its
    end) shows the 200
    CLOSE-WAITs owned by the server process: kernel-only rows, each a
    close_wait_leak."""
    srv = lab.gopeer("server", "leakserver", "-leak", "10.77.2.2:8080", "-ok", "10.77.2.2:8081")
    pre = lab.peer("client", connect=[{"name": "p%03d" % i, "stagger": 0.002, "script": client_once(8080, 41000 + i)}
                                      for i in range(1, 201)])
    pre.wait_ev("done", 30)
    time.sleep(0.3)
    lab.ss("server", "before the capture", raw=False)
    lab.capture()
    lab.sample_fds(srv.pid, 0.5, "leaking Go server")
    steady = [connect(8081, 40001)]
    for i in range(6):
        steady += [["send", "GET /%d\n" % i], ["recvline", 5], ["sleep", 0.5]]
    steady += [["close"]]
    cli = lab.peer("client", connect=[{"name": "steady", "script": steady}])
    cli.wait_ev("done", 10)
    lab.ss("server", "sockets at the end", raw=False)
    lab.ss("client", "client sockets at the end", raw=False)
    truth = finish(lab, "close_wait_preexisting", [
        FlowSpec("preexisting", None, ep(S, 8080), kernel_only=True, many=True, count=200,
                 expect=[expect("close_wait_leak", "server", needs="kernel",
                                note="CLOSE-WAIT since before the capture, owned by the server process: age counted "
                                     "from the first poll that saw it")],
                 packets_only=[],
                 note="kernel only: the client's FIN and everything else of this connection predate the capture"),
        FlowSpec("steady", ep(C, 40001), ep(S, 8081), note=CONTROL + " (the same process's closing handler)",
                 app={"client": [], "server": ["EOF"]}),
    ], [cli, pre], [srv])
    end = [x for x in lab.snapshots if x["label"] == "sockets at the end"][0]
    first = [x for x in lab.snapshots if x["label"] == "before the capture"][0]
    def cw(snap):
        return [x for x in snap["sockets"] if x["state"] == "CLOSE-WAIT" and x["local"] == ep(S, 8080)
                and any(u.get("pid") == srv.pid for u in x.get("users", []))]
    lab.check("200 CLOSE-WAIT owned by the server before the capture (%d) and at its end (%d)"
              % (len(cw(first)), len(cw(end))), len(cw(first)) == 200 and len(cw(end)) == 200)
    cap = truth["captures"][0]
    lab.check("the capture starts after the last of them was made (%.2f s later)"
              % (cap["t0_epoch"] - first["t_epoch"]), cap["t0_epoch"] > first["t_epoch"])
    return truth


SYN_ONCE = """
table inet lab {
  set seen {
    type ipv4_addr . inet_service
    flags dynamic
  }
  chain fw {
    type filter hook forward priority 0; policy accept;
    # The first SYN from client port 40001 is dropped, its retransmission passes.
    ip saddr 10.77.1.2 tcp sport 40001 tcp flags & (syn | ack) == syn ip saddr . tcp sport @seen accept
    ip saddr 10.77.1.2 tcp sport 40001 tcp flags & (syn | ack) == syn update @seen { ip saddr . tcp sport } counter drop
  }
}
"""


@scenario("syn_retry", "one SYN lost, the retransmission answered, in a 1.5 s capture")
def syn_retry(lab):
    """The router drops the first SYN of client port 40001 (an nftables set
    remembers it) and lets its retransmission through: connect() succeeds
    after 1.0 s (Linux's initial RTO), the exchange completes and the client
    closes. A connection from 40002 is the clean control. The capture is
    1.5 s long. Not a syn_timeout (the connection worked); the one-second
    connect delay is worth an info finding, syn_retry."""
    lab.nft("router", SYN_ONCE, "drop the first SYN from port 40001")
    lab.capture()
    srv = lab.peer("server", listen=[{"port": 8080, "script": SERVE_ONE}])
    cli = lab.peer("client", connect=[
        {"name": "retried", "stagger": 0.2, "script": client_once(8080, 40001)},
        {"name": "control", "script": client_once(8080, 40002)},
    ])
    cli.wait_ev("done", 10)
    truth = finish(lab, "syn_retry", [
        FlowSpec("retried", ep(C, 40001), ep(S, 8080),
                 expect=[expect("syn_retry", "server", severity="info",
                                note="one SYN unanswered, the retransmission 1.0 s later answered: connect took 1 s; "
                                     "never syn_timeout (nothing failed)")],
                 app={"client": [], "server": ["EOF"]}, facts=syn_attempts),
        control(40002),
    ], [cli], [srv])
    f = next(x for x in truth["flows"] if x["name"] == "retried")
    lab.check("2 SYNs, the second answered (%s)" % f["measured"],
              f["measured"]["syns"] == 2 and f["measured"]["answered"])
    span = max(x["t_last"] for x in truth["flows"])
    lab.check("capture under 2 s (%.2f s)" % span, span < 2.0)
    return truth


@scenario("time_wait_server_close", "500 short connections where the server closes first")
def time_wait_server_close(lab):
    """The client opens 500 connections to 10.77.2.2:8080 one after the
    other (connect, one request, read to EOF, close); the server answers
    and closes first, so the server is the active closer and its namespace
    ends holding the TIME-WAIT sockets (ss counts them), while the client
    holds none. The client opened the connections; the server closed them.
    A long-lived connection to 8081, used every 0.5 s, is the clean
    control."""
    lab.capture()
    srv = lab.peer("server", listen=[{"port": 8080, "script": [["recvline", 10], ["send", "OK\n"], ["close"]]},
                                     {"port": 8081, "script": [["serve", 30.0]]}])
    steady = [connect(8081, 40001)]
    for i in range(3):
        steady += [["send", "GET /%d\n" % i], ["recvline", 5], ["sleep", 0.5]]
    steady += [["close"]]
    cli = lab.peer("client", connect=[{"name": "steady", "script": steady}],
                   churn={"host": S, "port": 8080, "count": 500, "until_eof": True})
    cli.wait_ev("done", 60)
    tw_counts = {}
    for role in ("server", "client"):
        socks = lab.ss(role, "TIME-WAIT at the end", ("-tan",))
        tw = [x for x in socks if x["state"] == "TIME-WAIT"]
        snap = lab.snapshots[-1]
        snap["sockets"] = [x for x in socks if x["state"] != "TIME-WAIT"]
        by_local, peers = {}, []
        for x in tw:
            by_local[x["local"]] = by_local.get(x["local"], 0) + 1
            peers.append(int(x["peer"].rsplit(":", 1)[1]))
        ports = sorted(int(x["local"].rsplit(":", 1)[1]) for x in tw)
        snap["time_wait"] = {"count": len(tw), "by_local": by_local,
                             "local_port_range": [ports[0], ports[-1]] if ports else [],
                             "peer_port_range": [min(peers), max(peers)] if peers else []}
        tw_counts[role] = len([x for x in tw if ep(S, 8080) in (x["local"], x["peer"])])
    need(lab, "server holds >= 450 TIME-WAIT sockets of port 8080 (%d), the client %d"
         % (tw_counts["server"], tw_counts["client"]), tw_counts["server"] >= 450 and tw_counts["client"] == 0)
    truth = finish(lab, "time_wait_server_close", [
        FlowSpec("churn", None, ep(S, 8080), many=True, count=500, listed=False,
                 expect=[expect("time_wait_churn", "server",
                                note="the server closes first and holds the TIME-WAIT; the client opened the "
                                     "connections: a summary must not say the server opened them",
                                not_in_summary=["server %s opened" % S])]),
        FlowSpec("steady", ep(C, 40001), ep(S, 8081), note=CONTROL + " (long-lived, beside the churn)",
                 app={"client": [], "server": ["EOF"]}),
    ], [cli], [srv])
    churn = next(x for x in cli.result["extra"] if x["name"] == "churn")
    churn.pop("ports", None)
    truth["churn"] = churn
    return truth


@scenario("client_timeout", "a Go client gives up after 1 s; the server answers at 2 s into a reset")
def client_timeout(lab):
    """A Go http.Client with Timeout 1 s POSTs to a Go net/http handler
    that works 2 s without watching its request's context. At 1 s the
    client gives up ("context deadline exceeded (Client.Timeout exceeded
    while awaiting headers)") and closes the connection: a FIN with the
    request unanswered. At 2 s the handler writes the first part of its
    answer: the client's orphaned socket answers it with a RST; 50 ms later
    the handler's second write fails with "write: broken pipe" (the reset
    met a socket already in CLOSE-WAIT, which Linux reports as EPIPE, not
    ECONNRESET). Another client on the same server whose request takes
    0.5 s gets its answer and closes: the clean control."""
    lab.capture()
    srv = lab.gopeer("server", "httpserver", "-addr", "10.77.2.2:8080")
    url = "http://%s:8080" % S
    slow = lab.gopeer("client", "httpclient", "-url", url, "-ports", "40001", "-paths", "/slow?work=2s&parts=2",
                      "-timeout", "1s")
    quick = lab.gopeer("client", "httpclient", "-url", url, "-ports", "40002", "-paths", "/quick?work=0.5s",
                       "-timeout", "1s")
    quick.wait_ev("done", 10)
    slow.wait_ev("done", 10)
    time.sleep(1.3)  # the handler's late answer, and its failed second write
    truth = finish(lab, "client_timeout", [
        FlowSpec("gave_up", ep(C, 40001), ep(S, 8080),
                 expect=[expect("client_timeout", "client", severity="warning",
                                note="the client closed 1 s after its request, unanswered (its read timeout); the "
                                     "server's answer 1 s later drew the client's RST")],
                 resets=[rst("client", "stateless", "FIN-WAIT-2")],
                 app={"client": ['Post "%s/slow?work=2s&parts=2": context deadline exceeded '
                                 '(Client.Timeout exceeded while awaiting headers)' % url],
                      "server": ["write tcp %s:8080->%s:40001: write: broken pipe" % (S, C)]},
                 facts=client_gave_up_facts),
        FlowSpec("control", ep(C, 40002), ep(S, 8080), note=CONTROL + " (answered within the client's timeout)",
                 app={"client": [], "server": []}),
    ], [slow, quick], [srv], extra={"parameters": {"client_timeout_s": 1.0, "server_work_s": 2.0}})
    return truth


def client_gave_up_facts(f):
    """When the client closed relative to its request, and the server's
    late answer."""
    req = next(p for p in _mine(f, "client") if p.paylen > 0)
    fin = next(p for p in _mine(f, "client") if p.flags & FIN)
    ans = next((p for p in _mine(f, "server") if p.paylen > 0), None)
    out = {"request_frame": req.frame, "client_fin_frame": fin.frame,
           "client_fin_after_request_s": round(fin.ts - req.ts, 6),
           "server_data_before_client_fin": any(p.paylen > 0 and p.ts < fin.ts for p in _mine(f, "server"))}
    if ans is not None:
        out.update(answer_frame=ans.frame, answer_after_client_fin_s=round(ans.ts - fin.ts, 6))
    return out


@scenario("request_limit_race", "a keep-alive server closes after 5 requests; the 6th races its FIN")
def request_limit_race(lab):
    """A line-protocol keep-alive server on 8080 closes each connection
    right after its 5th answer, without a word to the client (nginx's
    keepalive_requests, for a protocol with no "Connection: close"). Two
    clients (40001, 40002) send requests back to back: the 6th follows the
    5th answer by microseconds and meets the server's FIN, which came right
    behind that answer, not after an idle gap; the server's orphaned socket
    resets it and the client reads EOF. Beside it, the same limit done
    right: a Go net/http server on 8081 that marks its 5th answer
    "Connection: close", and a Go client sending 7 POSTs back to back, which
    honours it and sends the 6th on a new connection: both connections
    (40011, 40012) are clean."""
    lab.capture()
    srv = lab.peer("server", listen=[{"port": 8080, "script": [["serve", 30.0, "OK\n", 5]]}])
    gsrv = lab.gopeer("server", "httpserver", "-addr", "10.77.2.2:8081", "-max-requests", "5")

    def burst(port):
        script = [connect(8080, port)]
        for i in range(1, 7):
            script += [["send", "GET /%d\n" % i], ["recvline", 5]]
        return script
    cli = lab.peer("client", connect=[{"name": "c1", "stagger": 0.2, "script": burst(40001)},
                                      {"name": "c2", "script": burst(40002)}])
    gcli = lab.gopeer("client", "httpclient", "-url", "http://%s:8081" % S, "-ports", "40011,40012",
                      "-paths", ",".join("/%d" % i for i in range(1, 8)))
    cli.wait_ev("done", 10)
    gcli.wait_ev("done", 10)
    def outcome(f):
        return RACE_OUTCOMES.get(race_facts(f).get("ordering"), ([], ["?"]))
    race = lambda port: FlowSpec("race%d" % (port - 40000), ep(C, port), ep(S, 8080),  # noqa: E731
                                 expect=[expect("request_limit_race", "server", severity="warning",
                                                note="the server closed right after its 5th answer (no idle gap) "
                                                     "and the client's 6th request raced its close")],
                                 resets=lambda f: outcome(f)[0], app=lambda f: {"client": outcome(f)[1]},
                                 facts=closer_facts)
    truth = finish(lab, "request_limit_race", [
        race(40001), race(40002),
        FlowSpec("announced", ep(C, 40011), ep(S, 8081),
                 note=CONTROL + " (the server closes after its 5th answer, announced by Connection: close)",
                 app={"client": [], "server": []}, facts=closer_facts),
        FlowSpec("announced_next", ep(C, 40012), ep(S, 8081),
                 note=CONTROL + " (the Go client's new connection for requests 6 and 7)",
                 app={"client": [], "server": []}),
    ], [cli, gcli], [srv, gsrv], extra={"parameters": {"max_requests": 5}})
    for f in truth["flows"]:
        if f["name"].startswith("race"):
            m = f["measured"]
            quiet = m.get("idle_before_fin_s", m.get("rst_after_request_s", 1))
            lab.check("%s: the server closed right after its 5th answer (%s answers before its FIN or RST, %.2f ms "
                      "quiet) and the 6th request raced it (%s)" % (f["name"], m.get("server_answers_before_close"),
                                                                  1000 * quiet, m.get("ordering")),
                      m.get("server_answers_before_close") == 5 and quiet < 0.05 and m.get("ordering") in RACE_OUTCOMES)
    return truth


DEMO_LOSS = """
table inet lab {
  chain fw {
    type filter hook forward priority 0; policy accept;
    ip saddr 10.77.2.2 tcp sport 8083 numgen random mod 100 < 10 counter drop
  }
}
"""


@scenario("demo", "one small capture with the typical failures, for --demo")
def demo(lab):
    """Five typical failures side by side in 4 s, for `connscope --demo`: a
    refused connect (port 8089), a server closing with unread data (8081), a
    keep-alive idle-timeout race (8082, 2 s timeout), a download through 10 %
    loss (8083) and a reader that stalls for 2.5 s with a 4 kB buffer (8084),
    next to a clean exchange (8080)."""
    lab.nft("router", DEMO_LOSS, "drop 10% of server segments on port 8083")
    lab.capture()
    dl = [["download"], ["drain", 20], ["close"]]
    srv = lab.peer("server", listen=[
        {"port": 8080, "script": SERVE_ONE},
        {"port": 8081, "script": [["recvn", 16, 10], ["send", "413 too large\n"], ["sleep", 0.1], ["unread"],
                                  ["close"]]},
        {"port": 8082, "script": [["serve", 2.0]]},
        {"port": 8083, "script": dl},
        {"port": 8084, "script": dl}])
    cli = lab.peer("client", connect=[
        {"name": "control", "stagger": 0.2, "script": client_once(8080, 40006)},
        {"name": "race", "stagger": 0.2,
         "script": [connect(8082, 40003), ["send", "GET /1\n"], ["recvline", 5], ["sleep", 0.5],
                    ["send", "GET /2\n"], ["recvline", 5], ["sleep", 2.05], ["send", "GET /3\n"], ["recvline", 5]]},
        {"name": "refused", "stagger": 0.2, "script": [connect(8089, 40001)]},
        {"name": "unread", "stagger": 0.2,
         "script": [connect(8081, 40002), ["send", "POST /upload 1k\n" + "x" * 1000], ["recvline", 5], ["drain", 5]]},
        {"name": "stalled", "stagger": 0.2,
         "script": [connect(8084, 40005, rcvbuf=4096), ["send", "GET 100000\n"], ["recvn", 2000, 5], ["sleep", 2.5],
                    ["recvn", 98000, 10], ["close"]]},
        {"name": "lossy", "script": [connect(8083, 40004), ["send", "GET 100000\n"], ["recvn", 100000, 30],
                                     ["close"]]},
    ])
    cli.wait_ev("done", 30)
    truth = finish(lab, "demo", [
        FlowSpec("refused", ep(C, 40001), ep(S, 8089), expect=[expect("refused", "server")],
                 resets=[rst("server", "stateless", "CLOSED")], app={"client": ["ECONNREFUSED"]}),
        FlowSpec("unread", ep(C, 40002), ep(S, 8081), expect=[expect("close_with_unread_data", "server")],
                 packets_only=[expect("abortive_close", "server", note=UNREAD_ON_THE_WIRE)],
                 resets=[rst("server", "socket", "ESTABLISHED")], app={"client": ["ECONNRESET"]}),
        FlowSpec("race", ep(C, 40003), ep(S, 8082), expect=[expect("idle_timeout_race", "server")],
                 resets=[rst("server", "stateless", "FIN-WAIT-2")], app={"client": ["EOF"]},
                 facts=idle_before_fin),
        FlowSpec("lossy", ep(C, 40004), ep(S, 8083), expect=[expect("loss_retransmit", "server")],
                 app={"client": [], "server": ["EOF"]}, facts=lambda f: retransmitted_data(f, "server")),
        FlowSpec("stalled", ep(C, 40005), ep(S, 8084), expect=[expect("zero_window_stall", "client")],
                 app={"client": [], "server": ["EOF"]}, facts=zero_window_facts),
        control(40006),
    ], [cli], [srv])
    lossy = next(f for f in truth["flows"] if f["name"] == "lossy")
    lab.check("the client saw >= 3 late copies on the lossy flow (%s)" % lossy["measured"],
              lossy["measured"]["retransmitted_data_segments"] >= 3)
    return truth
