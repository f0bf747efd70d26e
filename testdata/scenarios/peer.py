"""peer.py: the small application that drives real kernel TCP in one namespace.

It is started by lab.py inside a network namespace with one JSON argument:

    {"listen": [LISTENER...], "connect": [CONNECTION...], "rlimit_nofile": N}

and runs every listener and connection in its own thread. Each connection
follows a script: a list of steps such as ["send", "GET /\\n"] or
["recvline", 2.0]; every step's outcome is logged with its wall-clock time,
so that the ground truth can say exactly what the application saw
(ECONNRESET, EOF, ETIMEDOUT, ECONNREFUSED ...).

The orchestrator talks to it over stdin/stdout, one line each way:
stdout carries JSON events ({"ev": "ready"}, {"ev": "mark", "name": ...},
and at the end {"ev": "result", ...}); stdin carries command words that
["wait", WORD] steps block on. The word "exit" ends the program, which
then prints its result. Standard library only, so it runs wherever
python3 does.
"""

import errno
import fcntl
import json
import os
import resource
import select
import socket
import struct
import sys
import termios
import threading
import time

_out_lock = threading.Lock()
_cmds = {}
_cmds_lock = threading.Lock()


def emit(ev, **kw):
    """Print one JSON event line (thread-safe)."""
    kw["ev"] = ev
    kw["t"] = time.time()
    with _out_lock:
        sys.stdout.write(json.dumps(kw) + "\n")
        sys.stdout.flush()


def _cmd_event(word):
    with _cmds_lock:
        if word not in _cmds:
            _cmds[word] = threading.Event()
        return _cmds[word]


def _stdin_reader():
    for line in sys.stdin:
        word = line.strip()
        if word:
            _cmd_event(word).set()
    _cmd_event("exit").set()


def outcome(exc):
    """Name what the application saw for an exception, errno-style."""
    # A kernel ETIMEDOUT is also a socket.timeout (TimeoutError) in Python:
    # only one without an errno is the application's own timeout.
    if isinstance(exc, OSError) and exc.errno is not None:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    if isinstance(exc, socket.timeout):
        return "app-timeout"
    return type(exc).__name__


def addr(sa):
    return "%s:%d" % (sa[0], sa[1])


def tcp_info(s):
    """The TCP_INFO fields the truth cares about (struct tcp_info layout)."""
    raw = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    state, ca_state, retransmits, probes, backoff = struct.unpack_from("5B", raw, 0)
    u = struct.unpack_from("24I", raw, 8)
    return {
        "state": state, "retransmits": retransmits, "probes": probes, "backoff": backoff,
        "rto_us": u[0], "unacked": u[4], "lost": u[6], "retrans": u[7],
        "rtt_us": u[15], "snd_cwnd": u[18], "total_retrans": u[23],
    }


class Conn:
    """One connection and the log of every step run on it."""

    def __init__(self, name, sock=None):
        self.name = name
        self.sock = sock
        self.log = []
        self.local = self.peer = None
        if sock is not None:
            self._names()

    def _names(self):
        try:
            self.local = addr(self.sock.getsockname())
            self.peer = addr(self.sock.getpeername())
        except OSError:
            pass

    def record(self, op, res, **kw):
        kw.update(op=op, res=res, t=time.time())
        self.log.append(kw)
        return res

    def result(self):
        return {"name": self.name, "local": self.local, "peer": self.peer, "log": self.log}

    # Steps. Each returns the outcome string; a script stops at the first
    # step whose outcome is not "ok" (or a byte count) unless told otherwise.

    def op_connect(self, host, port, opts=None):
        opts = opts or {}
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock = s
        if "bind" in opts:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((opts["bind"][0], opts["bind"][1]))
        if "rcvbuf" in opts:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, opts["rcvbuf"])
        if "keepalive" in opts:
            idle, intvl, cnt = opts["keepalive"]
            s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, intvl)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, cnt)
        s.settimeout(opts.get("timeout"))
        try:
            s.connect((host, port))
        except Exception as e:  # the outcome is the point
            try:
                self.local = addr(s.getsockname())
            except OSError:
                pass
            self.peer = "%s:%d" % (host, port)
            return self.record("connect", outcome(e))
        self._names()
        return self.record("connect", "ok", local=self.local)

    def op_send(self, text, times=1):
        data = text.encode()
        try:
            for _ in range(times):
                self.sock.sendall(data)
        except Exception as e:
            return self.record("send", outcome(e), bytes=len(data))
        return self.record("send", "ok", bytes=len(data) * times)

    def op_sendsize(self, n):
        try:
            self.sock.sendall(b"x" * n)
        except Exception as e:
            return self.record("sendsize", outcome(e), bytes=n)
        return self.record("sendsize", "ok", bytes=n)

    def op_recv(self, n=65536, timeout=None):
        self.sock.settimeout(timeout)
        try:
            b = self.sock.recv(n)
        except Exception as e:
            return self.record("recv", outcome(e))
        return self.record("recv", "EOF" if not b else "ok", bytes=len(b))

    def op_recvn(self, n, timeout=None):
        """Read exactly n bytes (or until EOF/error)."""
        self.sock.settimeout(timeout)
        got = 0
        try:
            while got < n:
                b = self.sock.recv(min(65536, n - got))
                if not b:
                    return self.record("recvn", "EOF", bytes=got, want=n)
                got += len(b)
        except Exception as e:
            return self.record("recvn", outcome(e), bytes=got, want=n)
        return self.record("recvn", "ok", bytes=got)

    def op_recvline(self, timeout=None):
        self.sock.settimeout(timeout)
        buf = b""
        try:
            while not buf.endswith(b"\n"):
                b = self.sock.recv(1)
                if not b:
                    return self.record("recvline", "EOF", bytes=len(buf))
                buf += b
        except Exception as e:
            return self.record("recvline", outcome(e), bytes=len(buf))
        return self.record("recvline", "ok", line=buf.decode(errors="replace").strip())

    def op_drain(self, timeout=None):
        """Read until EOF or error: the connection's final outcome."""
        self.sock.settimeout(timeout)
        got = 0
        try:
            while True:
                b = self.sock.recv(65536)
                if not b:
                    return self.record("drain", "EOF", bytes=got)
                got += len(b)
        except Exception as e:
            return self.record("drain", outcome(e), bytes=got)

    def op_serve(self, idle, resp="OK\n", max_requests=0):
        """Keep-alive request loop: answer each line; close after idle s,
        or right after the max_requests-th answer (nginx's
        keepalive_requests, without a word to the client)."""
        f = self.sock
        f.settimeout(None)
        served = 0
        last = time.time()
        buf = b""
        while True:
            r, _, _ = select.select([f], [], [], max(0.0, idle - (time.time() - last)))
            if not r:
                self.record("serve", "idle-timeout", served=served, idle=idle)
                return self.op_close()
            try:
                b = f.recv(4096)
            except Exception as e:
                return self.record("serve", outcome(e), served=served)
            if not b:
                self.record("serve", "EOF", served=served)
                return self.op_close()
            buf += b
            while b"\n" in buf:
                _, buf = buf.split(b"\n", 1)
                f.sendall(resp.encode())
                served += 1
                last = time.time()
                if max_requests and served >= max_requests:
                    self.record("serve", "request-limit", served=served)
                    return self.op_close()

    def op_download(self):
        """Read 'GET n' and send n bytes."""
        line = self.op_recvline(10)
        if line != "ok":
            return line
        n = int(self.log[-1]["line"].split()[1])
        return self.op_sendsize(n)

    def op_unread(self):
        """Record the kernel's count of received but unread bytes (SIOCINQ)."""
        buf = fcntl.ioctl(self.sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
        return self.record("unread", "ok", bytes=struct.unpack("i", buf)[0])

    def op_tcpinfo(self):
        try:
            info = tcp_info(self.sock)
        except OSError as e:
            return self.record("tcpinfo", outcome(e))
        return self.record("tcpinfo", "ok", info=info)

    def op_linger0(self):
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return self.record("linger0", "ok")

    def op_close(self):
        self.sock.close()
        return self.record("close", "ok")

    def op_sleep(self, s):
        time.sleep(s)
        return "ok"

    def op_wait(self, word, timeout=60):
        ok = _cmd_event(word).wait(timeout)
        return self.record("wait", "ok" if ok else "app-timeout", word=word)

    def op_mark(self, name):
        emit("mark", name=name, conn=self.name, local=self.local, peer=self.peer)
        return "ok"

    def op_hold(self):
        """Keep the socket open, untouched, until the program exits."""
        _cmd_event("exit").wait()
        return "ok"


OK = ("ok", "EOF")


def run_script(conn, script):
    """Run the steps in order. A step prefixed with "?" may fail without
    stopping the script; otherwise the first failure ends it."""
    for step in script:
        name, args = step[0], step[1:]
        tolerant = name.startswith("?")
        name = name.lstrip("?")
        res = getattr(conn, "op_" + name)(*args)
        if res not in OK and not tolerant:
            return
        if res == "EOF" and name in ("recvline", "recvn") and not tolerant:
            return


def listener(spec, results):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", spec["port"]))
    ls.listen(spec.get("backlog", 128))
    emit("listening", port=spec["port"])
    if not spec.get("accept", True):
        _cmd_event("exit").wait()
        return
    ls.settimeout(0.2)
    n = 0
    while not _cmd_event("exit").is_set():
        try:
            s, _ = ls.accept()
        except socket.timeout:
            continue
        n += 1
        c = Conn("%s#%d" % (spec.get("name", "srv%d" % spec["port"]), n), s)
        c.record("accept", "ok")
        # A per-connection script can differ for the n-th connection.
        script = spec.get("scripts", {}).get(str(n), spec.get("script", []))
        if spec.get("fork"):
            # A forking server: the child owns the connection, the parent
            # keeps no fd for it, so only the children hold sockets.
            if os.fork() == 0:
                ls.close()
                run_script(c, script)
                time.sleep(spec.get("child_seconds", 60))
                os._exit(0)
            s.close()
            continue
        results.append(c)
        threading.Thread(target=run_script, args=(c, script), daemon=True).start()


def churn(spec, results):
    """Many short connections, one after the other: connect, one request,
    one response, close first (so this side holds TIME_WAIT); with
    "until_eof", read until the server has closed, then close (the server
    holds the TIME_WAIT)."""
    host, port, count = spec["host"], spec["port"], spec["count"]
    summary = {"name": spec.get("name", "churn"), "count": count, "ok": 0, "errors": {},
               "first_local": None, "last_local": None, "ports": []}
    t0 = time.time()
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect((host, port))
            summary["ports"].append(s.getsockname()[1])
            s.sendall(b"GET /\n")
            if spec.get("until_eof"):
                while s.recv(64):
                    pass
            else:
                while not s.recv(64).endswith(b"\n"):
                    pass
            summary["ok"] += 1
        except Exception as e:
            k = outcome(e)
            summary["errors"][k] = summary["errors"].get(k, 0) + 1
        finally:
            s.close()
    summary["seconds"] = time.time() - t0
    results.append(summary)


def leak(spec, results):
    """Open a connection every interval and never close it, until the fd
    limit stops us: the classic forgotten-Close leak."""
    host, port, every = spec["host"], spec["port"], spec["interval"]
    summary = {"name": spec.get("name", "leak"), "opened": 0, "first_error": None,
               "first_error_t": None, "conns": []}
    keep = []
    deadline = time.time() + spec.get("max_seconds", 10)
    while time.time() < deadline and not _cmd_event("exit").is_set():
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except OSError as e:
            if summary["first_error"] is None:
                summary["first_error"], summary["first_error_t"] = outcome(e), time.time()
                emit("mark", name="leak-exhausted", error=outcome(e))
            time.sleep(every)
            continue
        try:
            s.settimeout(5)
            s.connect((host, port))
            s.sendall(b"GET /\n")
            s.recv(64)
            keep.append(s)
            summary["opened"] += 1
            summary["conns"].append({"local": addr(s.getsockname()), "t": time.time()})
        except Exception as e:
            s.close()
            if summary["first_error"] is None:
                summary["first_error"], summary["first_error_t"] = outcome(e), time.time()
                emit("mark", name="leak-exhausted", error=outcome(e))
        time.sleep(every)
    results.append(summary)
    _cmd_event("exit").wait()


def main():
    cfg = json.loads(sys.argv[1])
    if "rlimit_nofile" in cfg:
        soft = cfg["rlimit_nofile"]
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    threading.Thread(target=_stdin_reader, daemon=True).start()
    conns = []
    threads = []
    for spec in cfg.get("listen", []):
        t = threading.Thread(target=listener, args=(spec, conns), daemon=True)
        t.start()
    # Give listeners a moment to bind before saying ready.
    time.sleep(0.05)
    emit("ready", pid=os.getpid())
    for spec in cfg.get("connect", []):
        c = Conn(spec["name"])
        conns.append(c)
        t = threading.Thread(target=run_script, args=(c, spec["script"]), daemon=True)
        t.start()
        threads.append(t)
        if spec.get("stagger"):
            time.sleep(spec["stagger"])
    extra = []
    for kind, fn in (("churn", churn), ("leak", leak)):
        if kind in cfg:
            t = threading.Thread(target=fn, args=(cfg[kind], extra), daemon=True)
            t.start()
            threads.append(t)
    for t in threads:
        t.join()
    emit("done")
    _cmd_event("exit").wait()
    emit("result", conns=[c.result() for c in conns], extra=extra)
    sys.stdout.flush()
    os._exit(0)  # daemon threads may still block in recv/accept


if __name__ == "__main__":
    main()
