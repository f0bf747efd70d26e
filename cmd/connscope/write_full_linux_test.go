package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// smallFilesystem mounts a tmpfs of size bytes on a fresh directory and
// unmounts it when the test ends: a disk that fills up.
func smallFilesystem(t *testing.T, size int) string {
	t.Helper()
	requireRoot(t)
	dir, err := os.MkdirTemp("", testPrefix+"-fs-")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(testPrefix+"-tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+strconv.Itoa(size)); err != nil {
		os.Remove(dir)
		t.Fatalf("mount a %d-byte tmpfs on %s: %v", size, dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			return
		}
		os.Remove(dir)
	})
	return dir
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
