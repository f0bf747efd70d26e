package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connscope/connscope/internal/corpus"
)

// The first five minutes (issue 13): the real binary in tmux at the sizes
// a newcomer's terminal has, each screen read as a person reads it.

// uxSizes are the terminal sizes every first screen must work at.
var uxSizes = [][2]int{{80, 24}, {120, 40}, {200, 50}}

func sizeName(sz [2]int) string { return fmt.Sprintf("%dx%d", sz[0], sz[1]) }

// screenEsc is the screen with its attributes as escape sequences.
func (s *tmuxSession) screenEsc() string {
	s.t.Helper()
	return s.run("capture-pane", "-e", "-p", "-t", "e2e")
}

// statusLine is the screen's last non-empty line: the status bar.
func statusLine(scr string) string {
	lines := strings.Split(strings.TrimRight(scr, "\n "), "\n")
	return lines[len(lines)-1]
}

// cursorLine is the screen's line under the cursor mark.
func cursorLine(scr string) string {
	for _, l := range strings.Split(scr, "\n") {
		if strings.HasPrefix(l, "> ") {
			return l
		}
	}
	return ""
}

// quit sends q and waits for the program to end.
func (s *tmuxSession) quit() {
	s.t.Helper()
	s.keys("q")
	deadline := time.Now().Add(5 * time.Second)
	for exec.Command("tmux", "-L", s.socket, "has-session", "-t", "e2e").Run() == nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("q did not quit; screen:\n%s", s.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// needRoot skips a test that needs network namespaces and live capture.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces and live capture (CI runs as root)")
	}
}

// testNetns creates a network namespace with loopback up, removed when
// the test ends. Its name starts with $CONNSCOPE_TEST_NETNS_PREFIX
// (default "cs-"), so that runs side by side do not collide.
func testNetns(t *testing.T, name string) string {
	t.Helper()
	prefix := os.Getenv("CONNSCOPE_TEST_NETNS_PREFIX")
	if prefix == "" {
		prefix = "cs-"
	}
	ns := fmt.Sprintf("%s%s-%d", prefix, name, os.Getpid())
	sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	return ns
}

// sh runs a command that must succeed.
func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// pyHold runs a python script in a namespace until the test ends and
// returns its pid once it printed "ready".
func pyHold(t *testing.T, ns, script string) int {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "python3", "-u", "-c", script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready") {
				ready <- sc.Text()
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("the python process never said ready")
	}
	return cmd.Process.Pid
}

// holdScript holds n idle loopback connections to a listener on port;
// with limit set it lowers its fd limit to it and fills it with
// connections to port, so that it sits at its limit.
func holdScript(port, n, limit int) string {
	return fmt.Sprintf(`
import socket, resource, time
port, n, limit = %d, %d, %d
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(256)
if limit:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
held = []
try:
    for i in range(n if not limit else 10000):
        c = socket.create_connection(("127.0.0.1", port)); held.append(c)
        s, _ = srv.accept(); held.append(s)
except OSError:
    pass
print("ready", flush=True)
time.sleep(600)
`, port, n, limit)
}

// pidOfChild finds the python process under an "ip netns exec" pid.
func pidOfChild(t *testing.T, pid int) int {
	t.Helper()
	// ip netns exec execs the command: the pid is python's own.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || !strings.HasPrefix(string(b), "python") {
		t.Fatalf("pid %d is not the python process (%q, %v)", pid, b, err)
	}
	return pid
}

// TestTmux_FileOpensAnalysed: -r FILE shows the whole file analysed at
// once, says how to replay it, and a new sort shows its first row; space
// replays from the first packet; --replay start keeps the start paused on
// the first packet.
func TestTmux_FileOpensAnalysed(t *testing.T) {
	bin := connscopeBinary(t)
	pcap := corpus.Capture(t, "ndpi-avast.pcap")
	for _, sz := range uxSizes {
		t.Run(sizeName(sz), func(t *testing.T) {
			s := newTmux(t, sz[0], sz[1], "env", "NO_COLOR=1", bin, "-r", pcap)
			scr := s.waitFor("10/10 shown", "■ end", "? help", "space: replay")
			if sz[0] >= 120 && !strings.Contains(scr, "space: replay from the start") {
				t.Errorf("%s: the status bar does not say how to replay:\n%s", sizeName(sz), statusLine(scr))
			}
			if !strings.Contains(scr, "keepalive_timeout") {
				t.Errorf("the analysed file shows no finding:\n%s", scr)
			}
			// A new sort shows its first row, wherever the cursor was.
			s.keys("G")
			s.keys("s")
			scr = s.waitFor("LOCAL▲", "10/10 shown")
			if first := strings.Split(scr, "\n")[1]; !strings.HasPrefix(first, "> ") && sz[0] >= 120 {
				t.Errorf("after G and s: the cursor is not on the first row:\n%s", scr)
			}
			if strings.Split(scr, "\n")[1][0] != '>' {
				t.Errorf("after G and s: the first row is not selected:\n%s", scr)
			}
			s.keys("Space")
			s.waitFor("▶ x1")
			s.quit()
		})
	}
	s := newTmux(t, 120, 40, "env", "NO_COLOR=1", bin, "-r", pcap, "--replay", "start")
	s.waitFor("❚❚ paused", "1/1 shown", "1 pkts") // on its first packet
	s.quit()
}

// TestTmux_StdinFollowsTheStream: tcpdump -U -w - | connscope -r - shows
// connections as they arrive, not a replay paused on packet 1.
func TestTmux_StdinFollowsTheStream(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed")
	}
	bin := connscopeBinary(t)
	ns := testNetns(t, "stdin")
	s := newTmux(t, 120, 40, "ip", "netns", "exec", ns, "sh", "-c",
		"tcpdump -i lo -U -w - tcp port 18091 2>/dev/null | NO_COLOR=1 "+bin+" -r -")
	s.waitFor("no TCP connection")
	time.Sleep(time.Second) // tcpdump's capture is up
	pyHold(t, ns, holdScript(18091, 2, 0))
	scr := s.waitFor("▶ following", "127.0.0.1:18091", "2/2 shown")
	if strings.Contains(scr, "paused") {
		t.Errorf("stdin is paused, not followed:\n%s", scr)
	}
	s.keys("q") // tcpdump goes with the session
}

// TestTmux_LiveRowsAreWhatWasAsked: live on lo with a capture filter, in
// a namespace of its own: the rows are the sockets the capture could see
// (its namespace, its interface, its filter), counted as shown of total;
// at 80 columns the process and its pid stay readable, as do the help
// hint and the drops; the processes pane has a cursor, Enter shows that
// process's connections and Esc comes back; a process at its fd limit
// says AT LIMIT in the warning colour; NO_COLOR keeps the cursor row in
// reverse video.
func TestTmux_LiveRowsAreWhatWasAsked(t *testing.T) {
	needRoot(t)
	bin := connscopeBinary(t)
	ns := testNetns(t, "rows")
	a := pidOfChild(t, pyHold(t, ns, holdScript(18081, 3, 0)))  // 6 sockets in the filter
	b := pidOfChild(t, pyHold(t, ns, holdScript(18082, 0, 32))) // fills its fd limit: not in the filter
	_ = pyHold(t, ns, holdScript(18083, 2, 0))                  // 4 sockets in the filter
	ln, err := net.Listen("tcp", "127.0.0.1:18081")             // this namespace: not shown
	if err == nil {
		defer ln.Close()
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			defer c.Close()
		}
	}
	for _, sz := range uxSizes {
		t.Run(sizeName(sz), func(t *testing.T) {
			s := newTmux(t, sz[0], sz[1], "ip", "netns", "exec", ns, "env", "NO_COLOR=1", bin, "-i", "lo", "--poll", "300ms",
				"tcp", "port", "18081", "or", "tcp", "port", "18083")
			scr := s.waitFor("10/10 shown", "? help", "drops")
			for _, bad := range []string{":18082"} {
				if strings.Contains(scr, bad) {
					t.Errorf("a socket the capture filter rejects is a row (%s):\n%s", bad, scr)
				}
			}
			if want := "/" + strconv.Itoa(a); !strings.Contains(scr, want) {
				t.Errorf("the PROC column lacks the whole pid %s:\n%s", want, scr)
			}
			if esc := s.screenEsc(); !regexp.MustCompile(`\x1b\[[0-9;]*7m> `).MatchString(esc) {
				t.Errorf("NO_COLOR: the cursor row is not in reverse video:\n%q", esc)
			}
			s.keys("p")
			scr = s.waitFor("Processes", strconv.Itoa(b))
			if !strings.Contains(scr, "AT LIMIT") {
				t.Errorf("the process at its fd limit does not say AT LIMIT:\n%s", scr)
			}
			// The fullest first: b (at its limit) has the cursor; move it
			// to a, whose connections Enter then shows.
			if !strings.Contains(cursorLine(scr), strconv.Itoa(b)) {
				t.Errorf("the processes pane's cursor is not on the fullest process %d:\n%s", b, scr)
			}
			for i := 0; i < 5 && !strings.Contains(cursorLine(s.screen()), strconv.Itoa(a)); i++ {
				s.keys("j")
				time.Sleep(150 * time.Millisecond)
			}
			if !strings.Contains(cursorLine(s.screen()), strconv.Itoa(a)) {
				t.Fatalf("j never put the cursor on process %d:\n%s", a, s.screen())
			}
			s.keys("Enter")
			scr = s.waitFor("filter: pid "+strconv.Itoa(a), "6/10 shown")
			if strings.Contains(scr, ":18083") {
				t.Errorf("the table filtered to pid %d shows another process's socket:\n%s", a, scr)
			}
			s.keys("Escape")
			s.waitFor("Processes")
			s.keys("Escape")
			s.waitFor("LOCAL")
			s.quit()
		})
	}
	// In colour, AT LIMIT is in the warning colour (amber: 214 on a dark
	// terminal, 94 on a light one).
	// Without CI in the environment: the terminal library takes a CI
	// job for a terminal without colour.
	s := newTmux(t, 200, 50, "ip", "netns", "exec", ns, "env", "-u", "CI", "TERM=xterm-256color", "COLORTERM=truecolor", bin, "-i", "lo", "--poll", "300ms", "tcp", "port", "18081")
	s.waitFor("6/6 shown")
	s.keys("p")
	s.waitFor("Processes", "AT LIMIT")
	// The cursor starts on the fullest process: move it off, so that the
	// row is drawn in its own colour rather than the cursor's.
	s.keys("j")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		scr := s.screen()
		if cl := cursorLine(scr); cl != "" && !strings.Contains(cl, "AT LIMIT") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("j never moved the cursor off the process at its limit:\n%s", scr)
		}
	}
	esc := s.screenEsc()
	for i, l := range strings.Split(esc, "\n") {
		if at := strings.Index(l, "AT LIMIT"); at >= 0 && !fgColoured(esc, strings.Index(esc, l)+at) {
			t.Errorf("AT LIMIT on line %d is not coloured: %q", i+1, l)
		}
	}
	s.quit()
}

// fgColoured reports whether the text at byte offset at of a
// capture-pane -e screen is drawn in a foreground colour: the SGR
// sequences before it, which tmux emits only where the attributes
// change (a line may carry on the colour of the line above it), leave
// one set.
func fgColoured(esc string, at int) bool {
	fg := false
	for _, m := range sgrSeq.FindAllStringSubmatch(esc[:at], -1) {
		params := strings.Split(m[1], ";")
		for i := 0; i < len(params); i++ {
			switch p := params[i]; {
			case p == "" || p == "0" || p == "39":
				fg = false
			case p == "38":
				fg = true
				if i+1 < len(params) && params[i+1] == "5" {
					i += 2
				} else if i+1 < len(params) && params[i+1] == "2" {
					i += 4
				}
			case p == "48":
				if i+1 < len(params) && params[i+1] == "5" {
					i += 2
				} else if i+1 < len(params) && params[i+1] == "2" {
					i += 4
				}
			case len(p) == 2 && (p[0] == '3' || p[0] == '9') && p[1] >= '0' && p[1] <= '7':
				fg = true
			}
		}
	}
	return fg
}

var sgrSeq = regexp.MustCompile(`\x1b\[([0-9;]*)m`)

// TestTmux_NamespacesByName: live on a router namespace between a client
// and a server namespace, the rows' sockets are in two namespaces, and
// both the table and the processes pane name them as ip netns does.
func TestTmux_NamespacesByName(t *testing.T) {
	needRoot(t)
	bin := connscopeBinary(t)
	r, a, b := testNetns(t, "r"), testNetns(t, "a"), testNetns(t, "b")
	sh(t, "ip", "link", "add", "ra", "netns", r, "type", "veth", "peer", "name", "a0", "netns", a)
	sh(t, "ip", "link", "add", "rb", "netns", r, "type", "veth", "peer", "name", "b0", "netns", b)
	for _, c := range [][]string{
		{"ip", "-n", r, "addr", "add", "10.88.1.1/24", "dev", "ra"}, {"ip", "-n", r, "addr", "add", "10.88.2.1/24", "dev", "rb"},
		{"ip", "-n", a, "addr", "add", "10.88.1.2/24", "dev", "a0"}, {"ip", "-n", b, "addr", "add", "10.88.2.2/24", "dev", "b0"},
		{"ip", "-n", r, "link", "set", "ra", "up"}, {"ip", "-n", r, "link", "set", "rb", "up"},
		{"ip", "-n", a, "link", "set", "a0", "up"}, {"ip", "-n", b, "link", "set", "b0", "up"},
		{"ip", "-n", a, "route", "add", "default", "via", "10.88.1.1"}, {"ip", "-n", b, "route", "add", "default", "via", "10.88.2.1"},
		{"ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
	} {
		sh(t, c...)
	}
	// A server in each namespace, and a client in the other: rows whose
	// local socket is in a, and rows whose local socket is in b.
	server := func(addr string) string {
		return `
import socket, threading, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("` + addr + `", 18085)); srv.listen(16)
held = []
def answer(c):
    while c.recv(100):
        c.sendall(b"OK\n")
def serve():
    while True:
        c, _ = srv.accept(); held.append(c)
        threading.Thread(target=answer, args=(c,), daemon=True).start()
threading.Thread(target=serve, daemon=True).start()
print("ready", flush=True)
time.sleep(600)
`
	}
	client := func(addr string) string {
		return `
import socket, time
cs = []
for i in range(2):
    c = socket.create_connection(("` + addr + `", 18085)); c.sendall(b"GET\n"); c.recv(10); cs.append(c)
print("ready", flush=True)
while True:
    for c in cs:
        c.sendall(b"ping\n"); c.recv(10)
    time.sleep(0.5)
`
	}
	pyHold(t, b, server("10.88.2.2"))
	pyHold(t, a, server("10.88.1.2"))
	s := newTmux(t, 200, 50, "ip", "netns", "exec", r, "env", "NO_COLOR=1", bin, "-i", "ra", "-i", "rb", "--poll", "300ms")
	s.waitFor("LIVE")
	pyHold(t, a, client("10.88.2.2"))
	pyHold(t, b, client("10.88.1.2"))
	scr := s.waitFor("NETNS", a, b)
	if strings.Contains(scr, "net:[") {
		t.Errorf("a named namespace is shown by its inode:\n%s", scr)
	}
	s.keys("p")
	s.waitFor("Processes", "NETNS", a, b)
	s.quit()
}

// TestTmux_DemoSaysSo: the demo, asked for or shown for want of the
// privilege to capture, carries a DEMO badge with its reason at every
// width.
func TestTmux_DemoSaysSo(t *testing.T) {
	bin := connscopeBinary(t)
	noPriv := []string{bin}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("setpriv is not installed")
		}
		noPriv = []string{"setpriv", "--bounding-set", "-net_raw,-net_admin", bin}
	}
	for _, sz := range uxSizes {
		t.Run(sizeName(sz), func(t *testing.T) {
			s := newTmux(t, sz[0], sz[1], append([]string{"env", "NO_COLOR=1"}, noPriv...)...)
			scr := s.waitFor("DEMO: no privilege", "? help", "6/6 shown")
			if sz[0] >= 200 && !strings.Contains(scr, "run as root") {
				t.Errorf("a wide bar does not say how to get the privilege:\n%s", statusLine(scr))
			}
			s.quit()
			s = newTmux(t, sz[0], sz[1], "env", "NO_COLOR=1", bin, "--demo")
			s.waitFor("DEMO: ", "--demo", "? help")
			s.quit()
		})
	}
}

// TestTmux_DisplayFilterLanguage: ? in the filter line shows the language
// instead of typing itself; finding idle keeps only the idle findings.
func TestTmux_DisplayFilterLanguage(t *testing.T) {
	bin := connscopeBinary(t)
	for _, sz := range uxSizes {
		t.Run(sizeName(sz), func(t *testing.T) {
			s := newTmux(t, sz[0], sz[1], "env", "NO_COLOR=1", bin, "--demo")
			s.waitFor("6/6 shown")
			s.keys("/")
			s.keys("?")
			scr := s.waitFor("Display filter language", "finding idle", "proc nginx")
			if strings.Contains(scr, "/ ?") {
				t.Errorf("? went into the filter:\n%s", scr)
			}
			s.keys("?")
			s.keys("finding idle")
			s.keys("Enter")
			scr = s.waitFor("1/6 shown", "idle_timeout_race")
			for _, other := range []string{"refused", "loss_retransmit", "abortive_close"} {
				if strings.Contains(scr, other) {
					t.Errorf("finding idle keeps a %s flow:\n%s", other, scr)
				}
			}
			s.quit()
		})
	}
}

// TestTmux_SaveAsksAndNeverOverwrites: w proposes a name, writes there and
// says where; a name that exists is not replaced without a yes.
func TestTmux_SaveAsksAndNeverOverwrites(t *testing.T) {
	bin := connscopeBinary(t)
	dir := t.TempDir()
	s := newTmux(t, 120, 40, "env", "NO_COLOR=1", "sh", "-c", "cd "+dir+" && exec "+bin+" --demo")
	s.waitFor("6/6 shown")
	s.keys("w")
	s.waitFor("save flow #0 to: connscope-flow-0.pcapng")
	s.keys("Enter")
	first := filepath.Join(dir, "connscope-flow-0.pcapng")
	s.waitFor("flow #0 written to " + first)
	st, err := os.Stat(first)
	if err != nil || st.Size() == 0 {
		t.Fatalf("the file was not written: %v", err)
	}
	s.keys("w")
	s.waitFor("save flow #0 to: connscope-flow-0-2.pcapng")
	s.keys("C-u")
	s.keys("connscope-flow-0.pcapng")
	s.keys("Enter")
	s.waitFor("connscope-flow-0.pcapng exists: replace it?")
	s.keys("n")
	s.waitFor("save flow #0 to: connscope-flow-0.pcapng")
	s.keys("Escape")
	time.Sleep(300 * time.Millisecond)
	if st2, err := os.Stat(first); err != nil || !st2.ModTime().Equal(st.ModTime()) {
		t.Errorf("the existing file changed without a yes: %v", err)
	}
	s.keys("w")
	s.waitFor("connscope-flow-0-2.pcapng")
	s.keys("Enter")
	s.waitFor("written to " + filepath.Join(dir, "connscope-flow-0-2.pcapng"))
	s.quit()
}

// TestTmux_DownInterfaceSaysSo: -i of an interface that is down says so,
// then captures once it comes up.
func TestTmux_DownInterfaceSaysSo(t *testing.T) {
	needRoot(t)
	bin := connscopeBinary(t)
	ns := testNetns(t, "down")
	sh(t, "ip", "-n", ns, "link", "add", "va", "type", "veth", "peer", "name", "vb")
	s := newTmux(t, 80, 24, "ip", "netns", "exec", ns, "env", "NO_COLOR=1", bin, "-i", "va")
	s.waitFor("va down", "va is down: capture starts when it comes up")
	sh(t, "ip", "-n", ns, "link", "set", "vb", "up")
	sh(t, "ip", "-n", ns, "link", "set", "va", "up")
	deadline := time.Now().Add(15 * time.Second)
	for strings.Contains(statusLine(s.screen()), "va down") {
		if time.Now().After(deadline) {
			t.Fatalf("va came up but the status bar still says down:\n%s", s.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.quit()
}

// TestTmux_DrillDownWordsAndCounts: one unit style, client and server
// words, one arrow, and the Events tab counts what its pane lists.
func TestTmux_DrillDownWordsAndCounts(t *testing.T) {
	bin := connscopeBinary(t)
	for _, sz := range uxSizes {
		t.Run(sizeName(sz), func(t *testing.T) {
			s := newTmux(t, sz[0], sz[1], "env", "NO_COLOR=1", bin, "--demo", "--display", "finding abortive")
			s.waitFor("1/6 shown")
			s.keys("Enter")
			scr := s.waitFor("Flow #", "client 10.77.1.2", "→ server 10.77.2.2", "esc: back")
			if strings.Contains(scr, "->") || regexp.MustCompile(`\d+us\b`).MatchString(scr) {
				t.Errorf("an ASCII arrow or a us unit in the drill-down:\n%s", scr)
			}
			m := regexp.MustCompile(`Events (\d+)`).FindStringSubmatch(scr)
			if m == nil {
				t.Fatalf("no event count on the tab bar:\n%s", scr)
			}
			s.keys("Tab")
			s.waitFor("Events (" + m[1] + ")")
			s.quit()
		})
	}
}

func TestFgColoured(t *testing.T) {
	for _, tt := range []struct {
		esc  string
		want bool
	}{
		{"\x1b[38;5;214m  1 python3 AT LIMIT", true},
		{"\x1b[38;5;214mrow above\n  2 python3 AT LIMIT", true},
		{"\x1b[38;5;214mrow\x1b[39m  AT LIMIT", false},
		{"\x1b[1;33mAT LIMIT", true},
		{"\x1b[48;5;33m\x1b[7mAT LIMIT", false},
		{"\x1b[38;2;255;175;0mx\x1b[0m AT LIMIT", false},
		{"plain AT LIMIT", false},
	} {
		if got := fgColoured(tt.esc, strings.Index(tt.esc, "AT LIMIT")); got != tt.want {
			t.Errorf("fgColoured(%q) = %v, want %v", tt.esc, got, tt.want)
		}
	}
}
