package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/connscope/connscope/capture"
)

// requireRoot skips a test that needs root (live capture, mounts, netns).
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CI runs as root)")
	}
}

// loopbackLoad opens connections to a listener of its own on 127.0.0.1
// at about rate per second until the test ends, each sending size bytes
// and closing, and returns the listener's port. It is the traffic of the
// live tests: real kernel TCP on lo.
func loopbackLoad(t *testing.T, rate, size int) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		ln.Close()
		wg.Wait()
	})
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	payload := bytes.Repeat([]byte("x"), size)
	addr := ln.Addr().String()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				continue
			}
			c.Write(payload)
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// filePackets counts the packets of a capture file.
func filePackets(t *testing.T, path string) uint64 {
	t.Helper()
	f, err := capture.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	var p capture.Packet
	var n uint64
	for {
		err := f.ReadPacket(&p)
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("read %s after %d packets: %v", path, n, err)
		}
		n++
	}
}

// jsonSummary returns the summary line of --json output.
func jsonSummary(t *testing.T, out []byte) summary {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var last string
	for sc.Scan() {
		last = sc.Text()
	}
	var s summary
	if err := json.Unmarshal([]byte(last), &s); err != nil || s.Type != "summary" {
		t.Fatalf("last line %q is not the summary (%v); output ends %q", last, err, tail(out, 400))
	}
	return s
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// started is a real connscope process with its output gathered.
type started struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	err            error
}

func startBinary(t *testing.T, stdin io.Reader, args ...string) *started {
	t.Helper()
	s := &started{cmd: exec.Command(connscopeBinary(t), args...), done: make(chan struct{})}
	s.cmd.Stdin, s.cmd.Stdout, s.cmd.Stderr = stdin, &s.stdout, &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// signalAndWait sends sig and returns how long the process took to end
// and its exit status; it fails the test if it takes longer than limit.
func (s *started) signalAndWait(t *testing.T, sig syscall.Signal, limit time.Duration) (time.Duration, int) {
	t.Helper()
	t0 := time.Now()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
	select {
	case <-s.done:
	case <-time.After(limit):
		t.Fatalf("still running %v after %v; stderr: %s", limit, sig, s.stderr.String())
	}
	return time.Since(t0), s.cmd.ProcessState.ExitCode()
}

// wait waits for the process to end by itself and returns its status.
func (s *started) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(limit):
		t.Fatalf("still running after %v; stderr: %s", limit, s.stderr.String())
	}
	return s.cmd.ProcessState.ExitCode()
}

// oneLine checks that stderr is exactly one line holding every want.
func oneLine(t *testing.T, what, stderr string, want ...string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("%s: got stderr %q, want one line", what, stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("%s: stderr %q lacks %q", what, stderr, w)
		}
	}
}

func portFilter(port int) []string {
	return []string{"tcp", "port", fmt.Sprint(port)}
}

// testPrefix names the kernel objects the tests create (namespaces,
// mounts); CONNSCOPE_TEST_PREFIX sets it when several runs share a box.
var testPrefix = cmp.Or(os.Getenv("CONNSCOPE_TEST_PREFIX"), "cscmd")
