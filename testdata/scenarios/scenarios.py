"""scenarios.py: the catalogue of scenarios, one or more per diagnosis label.

Each scenario is a function that drives the lab (lab.py) and returns the
truth document. Its docstring becomes the scenario's description in the
truth file. Named client connections bind fixed ports (4xxxx) so the
fixtures name the same flows on every run; sets of many connections use
ephemeral ports and are matched by server port.
"""

import time

from lab import (CLIENT_IP as C, SERVER_IP as S, SCENARIOS, FlowSpec, ScenarioFailed, build_truth,
                 expect, rst, scenario)
from pcapread import ACK, FIN, RST, SYN

# The usual well-behaved exchange: one request line, one response line,
# the client closes first and the server closes on EOF.
SERVE_ONE = [["recvline", 10], ["send", "OK\n"], ["drain", 10], ["close"]]
CONTROL = "control flow: a clean request/response and orderly close; no finding may fire on it"


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
        return {"expect": [expect("accept_queue_overflow", "server", needs="kernel")],
                "expect_packets_only": [expect("syn_timeout", "server")],
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
    dl = [["download"], ["drain", 20], ["close"]]
    srv = lab.peer("server", listen=[{"port": 8080, "script": dl}, {"port": 8081, "script": dl}])
    cli = lab.peer("client", connect=[
        {"name": "stalled", "script": [connect(8080, 40001, rcvbuf=4096), ["send", "GET 200000\n"],
                                       ["recvn", 2000, 5], ["sleep", 3.0], ["recvn", 198000, 10], ["close"]]},
        {"name": "control", "script": [connect(8081, 40002), ["send", "GET 200000\n"], ["recvn", 200000, 10],
                                       ["close"]]},
    ])
    cli.wait_ev("done", 20)
    return finish(lab, "zero_window_stall", [
        FlowSpec("stalled", ep(C, 40001), ep(S, 8080),
                 expect=[expect("zero_window_stall", "client", note="the client stopped reading for 3 s")],
                 app={"client": [], "server": ["EOF"]}, facts=zero_window_facts),
        FlowSpec("control", ep(C, 40002), ep(S, 8081), note=CONTROL,
                 app={"client": [], "server": ["EOF"]}, facts=zero_window_facts),
    ], [cli], [srv], extra={"parameters": {"client_rcvbuf": 4096, "stall_s": 3.0}})


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
    for f in truth["flows"]:
        info = next((s["info"] for s in f.get("apps", {}).get("server", {}).get("log", [])
                     if s["op"] == "tcpinfo" and "info" in s), {})
        f["server_total_retrans"] = info.get("total_retrans")
    lossy = next(f for f in truth["flows"] if f["name"] == "lossy")
    ctrl = next(f for f in truth["flows"] if f["name"] == "control")
    lab.check("the lossy flow's server retransmitted (total_retrans %s)" % lossy["server_total_retrans"],
              (lossy["server_total_retrans"] or 0) >= 3)
    lab.check("the control flow's server did not (total_retrans %s)" % ctrl["server_total_retrans"],
              ctrl["server_total_retrans"] == 0)
    lab.check("the client saw >= 3 late copies on the lossy flow (%s)" % lossy["measured"],
              lossy["measured"]["retransmitted_data_segments"] >= 3)
    return truth


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
        FlowSpec("leaked", None, ep(S, 8080), many=True,
                 expect=[expect("fd_leak", "client", needs="kernel",
                                note="the owning process's fds climb to its limit of 64")],
                 packets_only=[]),
        FlowSpec("steady", ep(C, 40001), ep(S, 8081), note=CONTROL + " (another process, flat fd count)"),
    ], [good, leaky], [srv])
    leak = next(x for x in leaky.result["extra"] if x["name"] == "leak")
    leak.pop("conns", None)
    truth["leak"] = leak
    need(lab, "the leaking client hit EMFILE (%s)" % leak["first_error"], leak["first_error"] == "EMFILE")
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
