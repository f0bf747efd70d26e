package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWriteFlag_Rules: -w with -r or --demo, and -w - with the UI, are
// usage errors (exit 2, one line), not silently ignored.
func TestWriteFlag_Rules(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"with -r", []string{"-r", "../../testdata/ipv6-lo.pcap", "--report", "-w", filepath.Join(dir, "a.pcapng")}, "-w writes a live capture and cannot be used with -r or --demo"},
		{"with --demo", []string{"--demo", "--json", "-w", filepath.Join(dir, "b.pcapng")}, "-w writes a live capture"},
		{"stdout with the UI", []string{"-i", "lo", "-w", "-"}, "-w - writes the capture to stdout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startBinary(t, nil, tt.args...)
			if code := s.wait(t, 10*time.Second); code != 2 {
				t.Errorf("got exit %d, want 2", code)
			}
			oneLine(t, tt.name, s.stderr.String(), tt.want)
			if s.stdout.Len() != 0 {
				t.Errorf("got stdout %q, want nothing", tail(s.stdout.Bytes(), 200))
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused -w created %v", entries)
	}
}

// TestWriteStdout_CaptureOnStdoutReportOnStderr: -w - writes the pcapng
// capture to stdout, as tcpdump does, and the report goes to stderr.
func TestWriteStdout_CaptureOnStdoutReportOnStderr(t *testing.T) {
	requireRoot(t)
	port := loopbackLoad(t, 50, 100)
	args := append([]string{"-i", "lo", "--report", "--no-procinfo", "--duration", "2s", "-w", "-"}, portFilter(port)...)
	s := startBinary(t, nil, args...)
	if code := s.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("got exit %d, want 0; stderr: %s", code, s.stderr.String())
	}
	path := filepath.Join(t.TempDir(), "stdout.pcapng")
	if err := os.WriteFile(path, s.stdout.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	n := filePackets(t, path)
	if n < 20 {
		t.Errorf("stdout held %d packets, want the capture of 2 s at 50 connections/s", n)
	}
	if !containsAll(s.stderr.String(), "CONNECTION (client -> server)", "live: lo:") {
		t.Errorf("the report is not on stderr: %q", tail(s.stderr.Bytes(), 400))
	}
}

// TestSignal_JSONCountEqualsWFile: after SIGINT, the --json summary's
// packet count is what the -w file holds: every packet read from the
// kernel before the end is analysed and written, none counted only.
func TestSignal_JSONCountEqualsWFile(t *testing.T) {
	requireRoot(t)
	port := loopbackLoad(t, 400, 2000)
	for try := 0; try < 3; try++ {
		path := filepath.Join(t.TempDir(), "w.pcapng")
		args := append([]string{"-i", "lo", "--json", "--no-procinfo", "-w", path}, portFilter(port)...)
		s := startBinary(t, nil, args...)
		time.Sleep(1500 * time.Millisecond)
		_, code := s.signalAndWait(t, syscall.SIGINT, 2*time.Second)
		if code != 130 {
			t.Fatalf("got exit %d after SIGINT, want 130; stderr: %s", code, s.stderr.String())
		}
		sum := jsonSummary(t, s.stdout.Bytes())
		if !sum.Interrupted {
			t.Errorf("summary %+v: want interrupted", sum)
		}
		if sum.Error != "" {
			t.Errorf("summary error %q: an interruption is not an error", sum.Error)
		}
		got := filePackets(t, path)
		if got != sum.Packets || sum.Packets == 0 {
			t.Fatalf("try %d: -w file holds %d packets, summary counts %d (queue drops %d)", try, got, sum.Packets, sum.QueueDrops)
		}
	}
}

func containsAll(s string, want ...string) bool {
	for _, w := range want {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// TestWriteFull_HeadlessOneLineExit1: a live --json run whose -w file
// fills its filesystem ends with exit status 1 and one line on stderr
// naming the file and the cause; the JSON says it too, and the file reads
// back whole (whole blocks only).
func TestWriteFull_HeadlessOneLineExit1(t *testing.T) {
	dir := smallFilesystem(t, 128<<10)
	path := filepath.Join(dir, "full.pcapng")
	port := loopbackLoad(t, 300, 200)
	args := append([]string{"-i", "lo", "--json", "--no-procinfo", "--duration", "3s", "-w", path}, portFilter(port)...)
	s := startBinary(t, nil, args...)
	if code := s.wait(t, 20*time.Second); code != 1 {
		t.Fatalf("got exit %d, want 1; stderr: %s", code, s.stderr.String())
	}
	oneLine(t, "full disk", s.stderr.String(), "connscope: write "+path+": no space left on device")
	if strings.Count(s.stderr.String(), "write ") != 1 {
		t.Errorf("stderr %q: want the file named after one \"write\"", s.stderr.String())
	}
	sum := jsonSummary(t, s.stdout.Bytes())
	if !strings.Contains(sum.Error, "no space left on device") {
		t.Errorf("summary error %q: want the write error", sum.Error)
	}
	if n := filePackets(t, path); n == 0 {
		t.Errorf("the -w file holds no packet")
	}
}

// TestWriteFull_UIExitsNonZeroWithALine: the UI over a live capture whose
// -w file fills its filesystem shows the error in its status bar's data,
// and once quit it restores the screen, prints the error on one line and
// exits 1.
func TestWriteFull_UIExitsNonZeroWithALine(t *testing.T) {
	dir := smallFilesystem(t, 128<<10)
	path := filepath.Join(dir, "full.pcapng")
	port := loopbackLoad(t, 300, 200)
	bin := connscopeBinary(t)
	cmd := fmt.Sprintf("%s -i lo --no-procinfo -w %s tcp port %d; echo EXIT=$?", bin, path, port)
	s := newTmux(t, 120, 30, "sh", "-c", cmd+"; sleep 30")
	s.waitFor("live: lo")
	// Wait for the disk to fill: the file stops growing near the size of
	// the filesystem (the write that failed is cut back to whole blocks).
	waitFull(t, path, 32<<10)
	s.keys("q")
	scr := s.waitFor("EXIT=")
	if !strings.Contains(scr, "EXIT=1") {
		t.Errorf("got %q, want exit status 1 after a write error", lastLines(scr, 3))
	}
	if !strings.Contains(scr, "connscope: write "+path+": no space left on device") {
		t.Errorf("no line naming the write error below the restored screen:\n%s", scr)
	}
	if n := filePackets(t, path); n == 0 {
		t.Errorf("the -w file holds no packet")
	}
}

// lastLines returns the last n non-empty lines of a screen.
func lastLines(scr string, n int) string {
	var out []string
	for _, l := range strings.Split(scr, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out[max(0, len(out)-n):], "\n")
}

// waitFull waits until the file at path is over min bytes and has not
// grown for a second: the -w writer met a full disk and writes no more.
func waitFull(t *testing.T, path string, min int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var size int64
	since := time.Now()
	for time.Now().Before(deadline) {
		if fi, err := os.Stat(path); err == nil && fi.Size() != size {
			size, since = fi.Size(), time.Now()
		}
		if size > min && time.Since(since) > time.Second {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never filled its filesystem: %d bytes", path, size)
}
