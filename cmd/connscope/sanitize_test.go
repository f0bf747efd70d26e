package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// hostile holds what a name from outside may hold to take over a
// terminal: an OSC that sets the window title, a CSI that clears the
// screen, an 8-bit CSI (C1, in UTF-8) and a right-to-left override.
const (
	hostileTitle = "PWNED"
	hostile      = "\x1b]0;" + hostileTitle + "\x07A\x1b[2JB\u202eC\u009b31mD"
)

// listenerEnv makes this test binary a listener process (see init): a
// process whose name the test chooses.
const listenerEnv = "CONNSCOPE_TEST_LISTENER"

func init() {
	if os.Getenv(listenerEnv) == "" {
		return
	}
	// A listener on lo that accepts and holds connections until its
	// stdin closes; it prints its port first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(3)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// checkClean fails the test if out holds an ESC, a C0 control other
// than a line break, DEL, a C1 control or a bidirectional control. (A
// name may still be shown quoted, \x1b for ESC, in an error or escaped in
// JSON: inert text that says what the name is.)
func checkClean(t *testing.T, what string, out []byte) {
	t.Helper()
	for i := 0; i < len(out); {
		r, n := utf8.DecodeRune(out[i:])
		if (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f) || isBidiControl(r) {
			lo := max(0, i-60)
			t.Errorf("%s: raw %U at byte %d: %q", what, r, i, out[lo:min(len(out), i+60)])
			return
		}
		i += n
	}
}

// TestSanitize_FileNameInEveryMode runs the real binary on a capture
// whose name holds escape sequences: --report, --json, the error paths
// (a missing file, a file cut short, an unknown flag, an unknown
// interface) and the UI print no control character and no bidirectional
// override, and the OSC's title never reaches the terminal.
func TestSanitize_FileNameInEveryMode(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("../../testdata/ipv6-lo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "cap"+hostile+".pcap")
	if err := os.WriteFile(name, good, 0o644); err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut"+hostile+".pcap")
	if err := os.WriteFile(cut, good[:len(good)-7], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		what string
		args []string
		code int
	}{
		{"--report", []string{"-r", name, "--report"}, 0},
		{"--json", []string{"-r", name, "--json"}, 0},
		{"missing file", []string{"-r", name + "x", "--report"}, 1},
		{"file cut short --report", []string{"-r", cut, "--report"}, 1},
		{"file cut short --json", []string{"-r", cut, "--json"}, 1},
		{"unknown flag", []string{"--" + hostile}, 2},
		{"bad flag value", []string{"--max-flows", hostile}, 2},
		{"unknown interface", []string{"-i", hostile, "--report", "--duration", "1s"}, 1},
		{"bad display filter", []string{"-r", name, "--report", "--display", "port " + hostile}, 2},
		{"bad capture filter", []string{"-r", name, "--report", hostile}, 2},
	} {
		s := startBinary(t, nil, tt.args...)
		code := s.wait(t, 20*time.Second)
		if code != tt.code && !(tt.what == "unknown interface" && os.Geteuid() != 0) {
			t.Errorf("%s: got exit %d, want %d; stderr %q", tt.what, code, tt.code, s.stderr.String())
		}
		checkClean(t, tt.what+" stdout", s.stdout.Bytes())
		checkClean(t, tt.what+" stderr", s.stderr.Bytes())
		if tt.code != 0 && s.stderr.Len() == 0 {
			t.Errorf("%s: nothing on stderr", tt.what)
		}
	}

	// The UI, in tmux: the raw bytes it writes (pipe-pane) may hold the
	// UI's own sequences but none of the name's.
	bin := connscopeBinary(t)
	raw := filepath.Join(dir, "raw.out")
	s := newTmux(t, 160, 30, "sh")
	s.run("pipe-pane", "-t", "e2e", "-o", "cat >> "+raw)
	s.keys(fmt.Sprintf("clear; NO_COLOR=1 %s -r '%s' --replay end; echo UI-\"\"END", bin, name), "Enter")
	s.waitFor("3/3 shown")
	s.keys("q")
	s.waitFor("UI-END\n")
	uiOut, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	checkUIOutput(t, "UI over the file", uiBytes(t, uiOut), hostileTitle, "A\x1b[2J")
	if title := s.display("#{pane_title}"); strings.Contains(title, hostileTitle) {
		t.Errorf("the file name set the terminal's title: %q", title)
	}
}

// uiBytes returns what the UI wrote to the terminal: the raw pane output
// from entering the alternate screen to leaving it (the shell's echo of
// the command line, before, holds the name as typed).
func uiBytes(t *testing.T, raw []byte) string {
	t.Helper()
	s := string(raw)
	start := strings.Index(s, "\x1b[?1049h")
	end := strings.LastIndex(s, "\x1b[?1049l")
	if start < 0 || end < start {
		t.Fatalf("the UI never entered and left the alternate screen: %q", tail(raw, 300))
	}
	return s[start:end]
}

// checkUIOutput checks the raw output of the UI: it draws with escape
// sequences of its own, so it is the name's sequences that must be
// absent, and every C1 control and bidirectional override.
func checkUIOutput(t *testing.T, what string, out string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if i := strings.Index(out, b); i >= 0 {
			t.Errorf("%s: %q reached the terminal: %q", what, b, out[max(0, i-80):min(len(out), i+80)])
		}
	}
	for i, r := range out {
		if (r >= 0x80 && r <= 0x9f) || isBidiControl(r) {
			t.Errorf("%s: raw %U reached the terminal: %q", what, r, out[max(0, i-80):min(len(out), i+80)])
			return
		}
	}
}

// TestSanitize_InterfaceAndProcessNames captures on an interface whose
// name holds escape sequences (a veth in a namespace of the test's own),
// and on lo next to a process whose name holds them: --report, --json
// and the UI print neither raw.
func TestSanitize_InterfaceAndProcessNames(t *testing.T) {
	requireRoot(t)
	ns := fmt.Sprintf("%s-esc-%d", testPrefix, os.Getpid())
	// Interface names hold at most 15 bytes and no space, slash or
	// colon; escape bytes are allowed.
	iface := "\x1b]0;PW\x07\x1b[2J"
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ip("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ip("-n", ns, "link", "add", iface, "type", "veth", "peer", "name", "peer0")
	ip("-n", ns, "link", "set", iface, "up")
	ip("-n", ns, "link", "set", "peer0", "up")
	ip("-n", ns, "addr", "add", "10.99.0.1/24", "dev", iface)
	ip("-n", ns, "addr", "add", "10.99.0.2/24", "dev", "peer0")

	bin := connscopeBinary(t)
	for _, mode := range []string{"--report", "--json"} {
		cmd := exec.Command("ip", "netns", "exec", ns, bin, "-i", iface, mode, "--duration", "1s")
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s on the hostile interface: %v; stderr %q", mode, err, errb.String())
		}
		checkClean(t, mode+" stdout (interface)", []byte(out.String()))
		checkClean(t, mode+" stderr (interface)", []byte(errb.String()))
		if !strings.Contains(out.String(), "live: ") {
			t.Errorf("%s: no live summary naming the interface in %q", mode, out.String())
		}
	}
	// The UI on that interface, raw output recorded.
	raw := filepath.Join(t.TempDir(), "raw.out")
	s := newTmux(t, 160, 30, "sh")
	s.run("pipe-pane", "-t", "e2e", "-o", "cat >> "+raw)
	s.keys(fmt.Sprintf("clear; NO_COLOR=1 ip netns exec %s %s -i \"$(printf '\\033]0;PW\\007\\033[2J')\"; echo UI-\"\"END", ns, bin), "Enter")
	s.waitFor("● LIVE")
	time.Sleep(300 * time.Millisecond)
	s.keys("q")
	s.waitFor("UI-END\n")
	uiOut, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	checkUIOutput(t, "UI on the interface", uiBytes(t, uiOut), "]0;PW")

	// A process named with escape sequences, holding a connection on lo.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	procPath := filepath.Join(t.TempDir(), "\x1b]0;PWNED\x07\u202e")
	if b, err := os.ReadFile(exe); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(procPath, b, 0o755); err != nil {
		t.Fatal(err)
	}
	lp := exec.Command(procPath)
	lp.Env = append(os.Environ(), listenerEnv+"=1")
	stdin, _ := lp.StdinPipe()
	stdout, _ := lp.StdoutPipe()
	if err := lp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		lp.Wait()
	})
	var port int
	if _, err := fmt.Fscan(bufio.NewReader(stdout), &port); err != nil {
		t.Fatalf("listener: %v", err)
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello"))
	for _, mode := range []string{"--report", "--json"} {
		p := startBinary(t, nil, "-i", "lo", mode, "--duration", "1500ms", "--poll", "200ms", "--pid", fmt.Sprint(lp.Process.Pid))
		if code := p.wait(t, 20*time.Second); code != 0 {
			t.Fatalf("%s: exit %d: %s", mode, code, p.stderr.String())
		}
		checkClean(t, mode+" stdout (process)", p.stdout.Bytes())
		checkClean(t, mode+" stderr (process)", p.stderr.Bytes())
		if !strings.Contains(p.stdout.String(), fmt.Sprint(lp.Process.Pid)) {
			t.Errorf("%s: the process %d is not in the output:\n%s", mode, lp.Process.Pid, p.stdout.String())
		}
	}
}
