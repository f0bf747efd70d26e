package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// The kernel's own word, tested on real kernel traffic: connscope runs live
// in a network namespace of the test's while a script there provokes each
// failure whose cause only the kernel can tell (or prove), and --json must
// give the label the kernel's evidence supports, with the kernel's reason
// for each RST this host sent.

// liveJSON is what a live --json run printed: its flow, finding and
// summary lines.
type liveJSON struct {
	flows    []kjFlow
	procs    []kjProcFinding
	summary  map[string]any
	stderr   string
	script   string // what the scenario script printed
	rawLines int
}

type kjFlow struct {
	Type   string `json:"type"`
	A      string `json:"a"`
	B      string `json:"b"`
	Client *string
	Resets []struct {
		From         string `json:"from"`
		Cause        string `json:"cause"`
		KernelReason string `json:"kernel_reason"`
	} `json:"resets"`
	Findings []struct {
		Label    string `json:"label"`
		Evidence string `json:"evidence"`
		Summary  string `json:"summary"`
	} `json:"findings"`
	Owner  *struct{ PID int32 } `json:"owner"`
	Owners *struct {
		A *struct{ PID int32 } `json:"a"`
		B *struct{ PID int32 } `json:"b"`
	} `json:"owners"`
}

type kjProcFinding struct {
	Type  string `json:"type"`
	PID   int32  `json:"pid"`
	Label string `json:"label"`
}

// netnsLab is a network namespace of the test's own, with lo up.
type netnsLab struct {
	t    *testing.T
	name string
}

func newNetnsLab(t *testing.T, tag string) *netnsLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace, live capture and kernel events (CI runs as root)")
	}
	n := &netnsLab{t: t, name: fmt.Sprintf("cs-%s-%d", tag, os.Getpid())}
	n.must("ip", "netns", "add", n.name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n.name).Run() })
	n.exec("ip", "link", "set", "lo", "up")
	return n
}

func (n *netnsLab) must(argv ...string) {
	n.t.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		n.t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

// exec runs a command inside the namespace.
func (n *netnsLab) exec(argv ...string) {
	n.t.Helper()
	n.must(append([]string{"ip", "netns", "exec", n.name}, argv...)...)
}

// live runs connscope live on lo in the namespace with --json for d while
// script (python3) runs there, started once the capture is up.
func (n *netnsLab) live(d time.Duration, script string, args ...string) liveJSON {
	n.t.Helper()
	bin := connscopeBinary(n.t)
	argv := append([]string{"netns", "exec", n.name, bin, "-i", "lo", "--json", "--poll", "200ms", "--duration", d.String()}, args...)
	cs := exec.Command("ip", argv...)
	var out, errb bytes.Buffer
	cs.Stdout, cs.Stderr = &out, &errb
	if err := cs.Start(); err != nil {
		n.t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // capture, poller and tracepoints up
	py := exec.Command("ip", "netns", "exec", n.name, "timeout", "60", "python3", "-c", script)
	pyOut, pyErr := py.CombinedOutput()
	if err := cs.Wait(); err != nil {
		n.t.Fatalf("connscope: %v: %s", err, errb.String())
	}
	if pyErr != nil {
		n.t.Fatalf("the scenario script: %v: %s", pyErr, pyOut)
	}
	n.t.Logf("script: %s", strings.TrimSpace(string(pyOut)))
	var res liveJSON
	res.stderr, res.script = errb.String(), string(pyOut)
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		res.rawLines++
		var head struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(sc.Bytes(), &head)
		switch head.Type {
		case "flow":
			var f kjFlow
			if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
				n.t.Fatal(err)
			}
			res.flows = append(res.flows, f)
		case "finding":
			var p kjProcFinding
			_ = json.Unmarshal(sc.Bytes(), &p)
			if p.PID != 0 {
				res.procs = append(res.procs, p)
			}
		case "summary":
			_ = json.Unmarshal(sc.Bytes(), &res.summary)
		}
	}
	return res
}

// flow returns the flow between the client port and the server port.
func (r *liveJSON) flow(t *testing.T, cport, sport int) *kjFlow {
	t.Helper()
	for i := range r.flows {
		f := &r.flows[i]
		a, b := ":"+fmt.Sprint(cport), ":"+fmt.Sprint(sport)
		if strings.HasSuffix(f.A, a) && strings.HasSuffix(f.B, b) || strings.HasSuffix(f.A, b) && strings.HasSuffix(f.B, a) {
			return f
		}
	}
	t.Fatalf("no flow %d <-> %d among %d flows", cport, sport, len(r.flows))
	return nil
}

// expect requires a finding of label resting on the kernel's word (kernel
// or both), and that one of the flow's RSTs carries one of the kernel's
// reasons (none given: no reason required).
func (f *kjFlow) expect(t *testing.T, name, label string, reasons ...string) {
	t.Helper()
	var got []string
	ok := false
	for _, fd := range f.Findings {
		got = append(got, fd.Label+"/"+fd.Evidence)
		if fd.Label == label && fd.Evidence != "wire" {
			ok = true
		}
	}
	if !ok {
		t.Errorf("%s: findings got %v, want %s resting on the kernel's word", name, got, label)
	}
	if len(reasons) == 0 {
		return
	}
	for _, r := range f.Resets {
		if slices.Contains(reasons, r.KernelReason) {
			return
		}
	}
	t.Errorf("%s: resets %+v: want one with the kernel's reason %v", name, f.Resets, reasons)
}

// kernelScript provokes, each on its own port of the namespace's
// loopback: a close with unread input (18081), an SO_LINGER 0 close after a
// complete exchange (18082), a keep-alive timeout (18083: the peer's
// answers dropped), a half-open peer (18084: the server's abort is
// dropped, the client's next data meets no socket), a RST injected by the
// host's firewall in the server's name (18085), SYNs dropped by a
// firewall rule (18086), and a refused connection (18089).
const kernelScript = `
import socket, struct, subprocess, threading, time
def nft(*rule): subprocess.run(["nft"] + list(rule), check=True)
nft("add", "table", "inet", "t")
nft("add", "chain", "inet", "t", "out", "{ type filter hook output priority 0; }")
nft("add", "chain", "inet", "t", "inp", "{ type filter hook input priority 0; }")
nft("add", "rule", "inet", "t", "inp", "tcp", "dport", "18085", "tcp", "flags", "&", "psh", "==", "psh", "reject", "with", "tcp", "reset")
nft("add", "rule", "inet", "t", "inp", "tcp", "dport", "18086", "tcp", "flags", "syn", "drop")
def listen(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(16); return s
def serve(port, fn):
    s = listen(port)
    def loop():
        while True:
            c, _ = s.accept(); threading.Thread(target=fn, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
def unread(c):
    c.recv(16); c.sendall(b"413\n"); time.sleep(0.1); c.close()
def linger(c):
    c.recv(100); c.sendall(b"ok\n"); time.sleep(0.3)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); c.close()
def echo(c):
    while True:
        d = c.recv(100)
        if not d: return
        c.sendall(d)
held = []
def hold(c):
    held.append(c); c.recv(100); c.sendall(b"ok\n")
for port, fn in ((18081, unread), (18082, linger), (18083, echo), (18085, echo), (18086, echo)):
    serve(port, fn)
def client(cport, sport, first=b"GET\n", timeout=5):
    c = socket.socket(); c.bind(("127.0.0.1", cport)); c.settimeout(timeout)
    c.connect(("127.0.0.1", sport)); c.sendall(first); return c
def quiet(f):
    try: return f()
    except Exception as e: return repr(e)
# close with unread input
a = client(40081, 18081, b"POST 1k\n" + b"x" * 1000); print("unread", quiet(lambda: (a.recv(10), time.sleep(0.3), a.recv(10))))
# SO_LINGER 0 after a complete exchange
b = client(40082, 18082, b"hello\n"); print("linger", quiet(lambda: (b.recv(10), time.sleep(0.6), b.recv(10))))
# keep-alive timeout: after one exchange the server's packets are dropped
k = client(40083, 18083, b"ping\n"); k.recv(10)
k.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
k.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
k.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
k.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
nft("add", "rule", "inet", "t", "out", "tcp", "sport", "18083", "drop")
# half-open: the server aborts, its RST is dropped; the client writes again
h = listen(18084)
hc = client(40084, 18084, b"hi\n"); hs, _ = h.accept(); hs.recv(10)
nft("add", "rule", "inet", "t", "out", "tcp", "sport", "18084", "tcp", "flags", "&", "rst", "==", "rst", "drop")
hs.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); hs.close()
time.sleep(0.3)
nft("flush", "chain", "inet", "t", "out")
nft("add", "rule", "inet", "t", "out", "tcp", "sport", "18083", "drop")
print("half-open", quiet(lambda: (hc.sendall(b"again\n"), hc.recv(10))))
# a RST injected by the firewall in the server's name
m = client(40085, 18085, b"BOOM\n"); print("injected", quiet(lambda: m.recv(10)))
# SYNs dropped by the firewall
print("dropped", quiet(lambda: client(40086, 18086, timeout=2.5)))
# refused
print("refused", quiet(lambda: client(40089, 18089)))
# a full accept queue: a listener of backlog 1 that never accepts, SYN
# cookies off so that its overflows show
subprocess.run(["sysctl", "-qw", "net.ipv4.tcp_syncookies=0"], check=True)
full = socket.socket(); full.bind(("127.0.0.1", 18087)); full.listen(1)
outcomes = {}
def late(cport):
    outcomes[cport] = quiet(lambda: (client(cport, 18087, timeout=2.5).recv(10)))
ts = [threading.Thread(target=late, args=(40090 + i,)) for i in range(6)]
for x in ts: x.start(); time.sleep(0.02)
for x in ts: x.join()
print("accept queue", sorted(outcomes.items()))
time.sleep(1)  # the keep-alive probes run out
print("keepalive", quiet(lambda: k.recv(10)))
`

func TestKernelEvidence_EachReason(t *testing.T) {
	lab := newNetnsLab(t, "kev")
	res := lab.live(15*time.Second, kernelScript)
	if note, _ := res.summary["kernel_events"].(string); strings.Contains(note, "unavailable") {
		t.Fatalf("kernel events unavailable as root: %s", note)
	}
	res.flow(t, 40081, 18081).expect(t, "close with unread input", "close_with_unread_data", "TCP_ABORT_ON_CLOSE")
	res.flow(t, 40082, 18082).expect(t, "SO_LINGER 0 after a complete exchange", "abortive_close", "TCP_STATE")
	res.flow(t, 40083, 18083).expect(t, "keep-alive timeout", "keepalive_timeout", "TCP_KEEPALIVE_TIMEOUT")
	// With no socket left for the connection, the segment meets no socket
	// (NO_SOCKET) or, the server still listening, its listener, which
	// resets an ACK it does not expect (TCP_FLAGS).
	res.flow(t, 40084, 18084).expect(t, "half-open peer", "half_open_peer_lost", "NO_SOCKET", "TCP_FLAGS")
	res.flow(t, 40085, 18085).expect(t, "RST injected by the firewall", "middlebox_injected")
	res.flow(t, 40086, 18086).expect(t, "SYNs dropped by the firewall", "syn_timeout")
	res.flow(t, 40089, 18089).expect(t, "refused", "refused", "NO_SOCKET")
	// The listener's queue full in the kernel's view: the SYNs it
	// dropped, and the connections it holds unaccepted.
	overflow := 0
	for _, f := range res.flows {
		if strings.HasSuffix(f.B, ":18087") {
			for _, fd := range f.Findings {
				if fd.Label == "accept_queue_overflow" && fd.Evidence != "wire" {
					overflow++
				}
			}
		}
	}
	if overflow == 0 {
		t.Errorf("full accept queue: no flow to 18087 got accept_queue_overflow from the kernel's view")
	}
	for _, f := range res.flows {
		if strings.HasSuffix(f.A, ":40086") || strings.HasSuffix(f.B, ":40086") {
			for _, fd := range f.Findings {
				if fd.Label == "syn_timeout" && !strings.Contains(fd.Summary, "NETFILTER_DROP") {
					t.Errorf("dropped SYNs: summary %q does not name the host's firewall", fd.Summary)
				}
			}
		}
	}
}

// TestKernelEvidence_ShortConnectionsHaveTheirOwner: a process that makes
// 200 connections of a few milliseconds each and exits within a second has
// every one of them attributed to it, although no poll could see them.
func TestKernelEvidence_ShortConnectionsHaveTheirOwner(t *testing.T) {
	lab := newNetnsLab(t, "kevown")
	const script = `
import os, socket, sys, threading, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 18090)); srv.listen(256)
def loop():
    while True:
        c, _ = srv.accept(); c.recv(10); c.sendall(b"ok"); c.close()
threading.Thread(target=loop, daemon=True).start()
pid = os.fork()
if pid == 0:
    for i in range(200):
        c = socket.create_connection(("127.0.0.1", 18090)); c.sendall(b"hi"); c.recv(10); c.close()
    os._exit(0)
os.waitpid(pid, 0)
print("child", pid)
sys.stdout.flush()
time.sleep(1)
`
	res := lab.live(6*time.Second, script, "--poll", "5s")
	var child int32
	if _, err := fmt.Sscanf(strings.TrimSpace(res.script), "child %d", &child); err != nil {
		t.Fatalf("the script did not say its child's pid: %q", res.script)
	}
	owned := 0
	for _, f := range res.flows {
		if !strings.HasSuffix(f.B, ":18090") && !strings.HasSuffix(f.A, ":18090") {
			continue
		}
		if f.Owners != nil && (f.Owners.A != nil && f.Owners.A.PID == child || f.Owners.B != nil && f.Owners.B.PID == child) ||
			f.Owner != nil && f.Owner.PID == child {
			owned++
		}
	}
	if owned != 200 {
		t.Errorf("connections owned by the child %d: got %d, want all 200", child, owned)
	}
}
