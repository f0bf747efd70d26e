package main

import (
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
	if !containsAll(s.stderr.String(), "CONNECTION (client → server)", "live: lo:") {
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
