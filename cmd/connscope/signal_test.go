package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connscope/connscope/internal/corpus"
)

// signalLimit is how long connscope may take to end after a stop signal.
const signalLimit = time.Second

var stopSignalsTested = []struct {
	sig  syscall.Signal
	code int
}{
	{syscall.SIGINT, 130},
	{syscall.SIGTERM, 143},
	{syscall.SIGHUP, 129},
}

// TestSignal_HeadlessNonTCPStream: a headless run reading a stream of
// UDP packets on stdin (a flood of packets with no TCP segment, which
// the reader goes through without returning) ends within a second of
// each stop signal, prints its JSON up to there marked interrupted, and
// exits 128+N. It does so too when the producer has stalled and the read
// of stdin blocks.
func TestSignal_HeadlessNonTCPStream(t *testing.T) {
	for _, stall := range []bool{false, true} {
		for _, s := range stopSignalsTested {
			name := fmt.Sprintf("%v stalled=%v", s.sig, stall)
			t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
				pr, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				stop, release := make(chan struct{}), make(chan struct{})
				done := make(chan struct{})
				go func() {
					streamUDP(pw, stop, release)
					pw.Close()
					close(done)
				}()
				defer func() {
					close(release)
					pr.Close()
					<-done
				}()
				p := startBinary(t, pr, "-r", "-", "--json")
				pr.Close()
				time.Sleep(700 * time.Millisecond)
				if stall {
					close(stop)
					time.Sleep(300 * time.Millisecond)
				}
				took, code := p.signalAndWait(t, s.sig, signalLimit)
				if code != s.code {
					t.Errorf("got exit %d after %v, want %d; stderr: %s", code, s.sig, s.code, p.stderr.String())
				}
				sum := jsonSummary(t, p.stdout.Bytes())
				if !sum.Interrupted || sum.Error != "" || sum.NonTCP == 0 {
					t.Errorf("summary %+v: want interrupted, no error, the UDP packets counted", sum)
				}
				if p.stderr.Len() != 0 {
					t.Errorf("got stderr %q, want nothing: an interruption is not an error", p.stderr.String())
				}
				t.Logf("ended %v after %v", took, s.sig)
			})
		}
	}
}

// TestSignal_HeadlessFileReport: Ctrl-C on a --report over a file is an
// interruption: the report up to there, a line saying so, exit 130.
func TestSignal_HeadlessFileReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syn.pcap")
	writeSynCapture(t, path, 1_500_000, false)
	p := startBinary(t, nil, "-r", path, "--report", "--max-flows", "1000")
	time.Sleep(300 * time.Millisecond) // reading it all takes about 2 s
	_, code := p.signalAndWait(t, syscall.SIGINT, signalLimit)
	if code != 130 {
		t.Fatalf("got exit %d, want 130; stderr: %s", code, p.stderr.String())
	}
	out := p.stdout.String()
	if !strings.Contains(out, "interrupted: the report covers the input read until the signal") || !strings.Contains(out, path+": ") {
		t.Errorf("report lacks the summary or the interruption line:\n%s", tail(p.stdout.Bytes(), 600))
	}
	if strings.Contains(out, "1500000 packets") {
		t.Errorf("the whole file was read: the signal came too late to test anything")
	}
}

// uiTarget is one way of running the UI in the signal test.
type uiTarget struct {
	name  string
	args  []string
	ready string // on the screen once the UI runs
}

// TestTmux_SignalsEndTheUI sends SIGTERM and SIGINT 20 times each (and
// SIGHUP 3 times) to the real UI in tmux, over a file, the demo and a live
// capture on lo: it must end within a second every time with the status
// of the signal, the terminal restored (main screen, mouse tracking off,
// cursor shown) and the shell back.
func TestTmux_SignalsEndTheUI(t *testing.T) {
	if testing.Short() {
		t.Skip("120 runs of the UI: skipped with -short")
	}
	bin := connscopeBinary(t)
	targets := []uiTarget{
		{"file", []string{"-r", corpus.Capture(t, "ndpi-avast.pcap"), "--replay", "end"}, "10/10 shown"},
		{"demo", []string{"--demo"}, "demo"},
	}
	if os.Geteuid() == 0 {
		targets = append(targets, uiTarget{"live", []string{"-i", "lo", "--poll", "200ms"}, "● LIVE"})
	} else {
		t.Log("not root: no live capture")
	}
	tries := []struct {
		sig  syscall.Signal
		code int
		n    int
	}{{syscall.SIGTERM, 143, 20}, {syscall.SIGINT, 130, 20}, {syscall.SIGHUP, 129, 3}}
	dir := t.TempDir()
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			s := newTmux(t, 100, 30, "sh")
			pidFile := filepath.Join(dir, tg.name+".pid")
			run := 0
			var worst time.Duration
			for _, tr := range tries {
				for i := 0; i < tr.n; i++ {
					run++
					os.Remove(pidFile)
					// exec keeps the pid the shell wrote.
					line := fmt.Sprintf("clear; sh -c 'echo $$ > %s; exec env NO_COLOR=1 %s %s'; echo END-%d=$?", pidFile, bin, strings.Join(tg.args, " "), run)
					s.keys(line, "Enter")
					pid := waitPid(t, pidFile)
					s.waitFor(tg.ready)
					if got := s.display("#{alternate_on} #{mouse_any_flag} #{cursor_flag}"); got != "1 1 0" {
						t.Fatalf("run %d: the UI runs with alternate/mouse/cursor %q, want \"1 1 0\"", run, got)
					}
					t0 := time.Now()
					if err := syscall.Kill(pid, tr.sig); err != nil {
						t.Fatal(err)
					}
					marker := fmt.Sprintf("END-%d=", run)
					var scr string
					for {
						scr = s.screen()
						if strings.Contains(scr, marker) {
							break
						}
						if time.Since(t0) > signalLimit {
							t.Fatalf("run %d: %v: still running after %v; screen:\n%s", run, tr.sig, signalLimit, scr)
						}
						time.Sleep(5 * time.Millisecond)
					}
					worst = max(worst, time.Since(t0))
					if want := fmt.Sprintf("%s%d", marker, tr.code); !strings.Contains(scr, want) {
						t.Errorf("run %d: %v: got %q, want %q", run, tr.sig, lastLines(scr, 2), want)
					}
					if got := s.display("#{alternate_on} #{mouse_any_flag} #{cursor_flag}"); got != "0 0 1" {
						t.Errorf("run %d: %v: terminal left with alternate/mouse/cursor %q, want \"0 0 1\"", run, tr.sig, got)
					}
					if strings.Contains(scr, "LOCAL") {
						t.Errorf("run %d: %v: the UI's table is still on the main screen:\n%s", run, tr.sig, scr)
					}
				}
			}
			t.Logf("%d runs, slowest end %v", run, worst)
		})
	}
}

// display prints a tmux format for the pane.
func (s *tmuxSession) display(format string) string {
	s.t.Helper()
	return strings.TrimSpace(s.run("display-message", "-p", "-t", "e2e", format))
}

// waitPid reads the pid a shell wrote to path.
func waitPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			var pid int
			if _, err := fmt.Sscan(string(b), &pid); err == nil {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}
