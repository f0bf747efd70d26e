package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// memoryBoundMB is the peak RSS a run over 200,000 flows may reach when
// --max-flows or --retention bounds the table to a few thousand flows.
// The binary itself takes about 20 MB; an unbounded table of those flows
// takes over 300 MB, so a bound that leaks shows.
const memoryBoundMB = 100

// TestMemory_BoundedInEveryMode runs the real binary over a capture of
// 200,000 one-SYN flows with --max-flows 2000 (--report, --json, the UI),
// and over 200,000 refused connections (SYN, RST: closed at once) with
// --retention 1s (--report, --json): the peak RSS stays under
// memoryBoundMB, where it would grow with the flows if evicted or expired
// flows were kept. An unbounded --report is measured too, as the
// reference the bound is compared with.
func TestMemory_BoundedInEveryMode(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 14 MB capture and reads it six times: skipped with -short")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "syn200k.pcap")
	writeSynCapture(t, path, 200_000, false)
	refused := filepath.Join(dir, "refused200k.pcap")
	writeSynCapture(t, refused, 200_000, true)

	bin := connscopeBinary(t)
	peak := func(args ...string) int64 {
		t.Helper()
		// Through a shell that execs the binary: a child forked from
		// this process would start its peak RSS at this process's size.
		cmd := exec.Command("sh", append([]string{"-c", `exec "$0" "$@" >/dev/null`, bin}, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, stderr.String())
		}
		return cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss / 1024
	}
	if ref := peak("-r", path, "--report"); ref < 2*memoryBoundMB {
		t.Fatalf("unbounded --report peaked at %d MB: the capture is too small to tell a bound from none", ref)
	} else {
		t.Logf("unbounded --report: %d MB", ref)
	}
	for _, args := range [][]string{
		{"-r", path, "--report", "--max-flows", "2000"},
		{"-r", path, "--json", "--max-flows", "2000"},
		{"-r", refused, "--report", "--retention", "1s"},
		{"-r", refused, "--json", "--retention", "1s"},
	} {
		mb := peak(args...)
		what := strings.Join(args[2:], " ")
		t.Logf("%s: %d MB", what, mb)
		if mb > memoryBoundMB {
			t.Errorf("%s: peak RSS %d MB, want at most %d", what, mb, memoryBoundMB)
		}
	}

	// The UI: replay to the end at a small size, read the peak from
	// /proc, then quit.
	pidFile := filepath.Join(t.TempDir(), "ui.pid")
	s := newTmux(t, 80, 24, "sh", "-c", fmt.Sprintf("echo $$ > %s; exec env NO_COLOR=1 %s -r %s --max-flows 2000 --replay end", pidFile, bin, path))
	pid := waitPid(t, pidFile)
	s.waitFor("2000/2000 shown", "end")
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var kb int64
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			fmt.Sscan(strings.TrimPrefix(l, "VmHWM:"), &kb)
		}
	}
	s.keys("q")
	t.Logf("UI --max-flows 2000: %d MB", kb/1024)
	if kb == 0 || kb/1024 > memoryBoundMB {
		t.Errorf("UI --max-flows 2000: peak RSS %d MB, want at most %d", kb/1024, memoryBoundMB)
	}
}
