//go:build linux

package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLive_WriteErrorIsAProblemWhileRunning captures on lo into a -w
// file on a 64 KiB tmpfs while connections fill it: the snapshots show
// the write error as a problem (stage "write", the file named once) while
// the capture goes on, and Run returns it at the end.
func TestLive_WriteErrorIsAProblemWhileRunning(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture and mounts need root (CI runs as root)")
	}
	prefix := cmp.Or(os.Getenv("CONNSCOPE_TEST_PREFIX"), "cspipe")
	dir, err := os.MkdirTemp("", prefix+"-fs-")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(prefix+"-tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+strconv.Itoa(64<<10)); err != nil {
		os.Remove(dir)
		t.Fatalf("mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		unix.Unmount(dir, unix.MNT_DETACH)
		os.Remove(dir)
	})
	path := filepath.Join(dir, "w.pcapng")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port

	p, err := Open(Config{
		Live:        &LiveConfig{Interfaces: []string{"lo"}, Write: path},
		Filter:      fmt.Sprintf("tcp port %d", port),
		Interactive: true, NoProcinfo: true, PublishEvery: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer cancel()

	deadline := time.Now().Add(20 * time.Second)
	var problem string
	for problem == "" {
		if time.Now().After(deadline) {
			t.Fatal("no write problem in the snapshots after 20 s of traffic")
		}
		for range 50 {
			if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
				c.Write([]byte(strings.Repeat("x", 500)))
				c.Close()
			}
		}
		time.Sleep(50 * time.Millisecond)
		if s := p.Latest(); s != nil {
			for _, pr := range s.Problems {
				if pr.Stage == "write" {
					problem = pr.Text
				}
			}
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Run ended on the write error (%v): the capture must go on", err)
	default:
	}
	if !strings.Contains(problem, "no space left on device") || strings.Count(problem, path) != 1 || strings.Count(problem, "write ") != 1 {
		t.Errorf("write problem %q: want ENOSPC, the file named once after one \"write\"", problem)
	}
	cancel()
	err = <-done
	if !errors.Is(err, syscall.ENOSPC) || err.Error() != problem {
		t.Errorf("Run: got %v, want the write error %q", err, problem)
	}
	for _, pr := range p.Latest().Problems {
		if pr.Stage == "write" && pr.Text != problem {
			t.Errorf("a second write problem %q besides %q", pr.Text, problem)
		}
	}
}
