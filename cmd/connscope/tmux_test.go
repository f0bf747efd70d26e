package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/connscope/connscope/internal/corpus"
)

// tmuxSession drives the real binary in a private tmux server, as a person
// at a terminal would: keys in, screen text out.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T, width, height int, argv ...string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (CI installs it)")
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("connscope-test-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))}
	args := append([]string{"new-session", "-d", "-s", "e2e", "-x", fmt.Sprint(width), "-y", fmt.Sprint(height)}, argv...)
	s.run(args...)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	s.run(append([]string{"send-keys", "-t", "e2e"}, keys...)...)
}

func (s *tmuxSession) screen() string {
	s.t.Helper()
	return s.run("capture-pane", "-p", "-t", "e2e")
}

// waitFor polls the screen until every want is on it.
func (s *tmuxSession) waitFor(want ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		scr := s.screen()
		ok := true
		for _, w := range want {
			if !strings.Contains(scr, w) {
				ok = false
				break
			}
		}
		if ok {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed %q; last screen:\n%s", want, scr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTmux_ReplayFilterDrillDown replays a shared capture in the real
// binary, filters to one port, drills into the flow with a reset and reads
// who sent it, then quits.
func TestTmux_ReplayFilterDrillDown(t *testing.T) {
	bin := connscopeBinary(t)
	pcap := corpus.Capture(t, "ndpi-avast.pcap")
	s := newTmux(t, 120, 40, "env", "NO_COLOR=1", bin, "-r", pcap, "--replay", "end")

	s.waitFor("10/10 shown", "end")
	s.keys("/")
	s.keys("port 58412")
	s.keys("Enter")
	scr := s.waitFor("1/10 shown")
	if !strings.Contains(scr, "58412") {
		t.Fatalf("after filtering to port 58412, the row is missing:\n%s", scr)
	}
	s.keys("Enter")
	scr = s.waitFor("RST by server 5.62.54.29:80", "FRAME") // the ladder loads off the UI goroutine
	for _, want := range []string{"Flow #", "client", "server", "FRAME"} {
		if !strings.Contains(scr, want) {
			t.Errorf("drill-down lacks %q:\n%s", want, scr)
		}
	}
	s.keys("Escape")
	// Wait for the table itself: a q sent while the terminal still holds
	// the ESC byte would arrive as alt+q.
	s.waitFor("LOCAL", "REMOTE", "1/10 shown")
	s.keys("q")
	deadline := time.Now().Add(5 * time.Second)
	for exec.Command("tmux", "-L", s.socket, "has-session", "-t", "e2e").Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("q did not quit; screen:\n%s", s.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTmux_DemoAtSmallSize opens the demo at 40x12: it must render (and
// keep rendering after a resize) without crashing.
func TestTmux_DemoAtSmallSize(t *testing.T) {
	bin := connscopeBinary(t)
	s := newTmux(t, 40, 12, "env", "NO_COLOR=1", bin, "--demo", "--replay", "end")
	s.waitFor("DEMO: --demo", "■ end", "? help")
	s.run("resize-window", "-t", "e2e", "-x", "80", "-y", "24")
	s.waitFor("6/6 shown")
	s.keys("q")
}

// TestTmux_LiveProcessesPane runs the real binary live on lo (root) while
// this test process holds a listener, opens the processes pane with p and
// finds this process there with its fds against its limit.
func TestTmux_LiveProcessesPane(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root (CI runs as root)")
	}
	bin := connscopeBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := newTmux(t, 160, 40, "env", "NO_COLOR=1", bin, "-i", "lo", "--poll", "200ms")
	s.waitFor("live: lo")
	s.keys("p")
	pid := fmt.Sprint(os.Getpid())
	scr := s.waitFor("Processes", pid)
	var line string
	for _, l := range strings.Split(scr, "\n") {
		if strings.Contains(l, pid) {
			line = l
			break
		}
	}
	if !strings.Contains(line, "connscope") { // the test binary is connscope.test
		t.Errorf("process line for pid %s lacks the command: %q", pid, line)
	}
	var soft uint64
	if b, err := os.ReadFile("/proc/self/limits"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Max open files") {
				fmt.Sscan(strings.Fields(l)[3], &soft)
			}
		}
	}
	if soft == 0 || !strings.Contains(line, fmt.Sprint(soft)) {
		t.Errorf("process line %q does not show the fd soft limit %d", line, soft)
	}
	s.keys("q")
}
