package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// TestMain removes the binary built for the tests.
func TestMain(m *testing.M) {
	if path := os.Getenv(bareEnv); path != "" {
		if err := runBare(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// connscopeBinary builds the real command once per test run.
func connscopeBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		var err error
		if binDir, err = os.MkdirTemp("", "connscope-bin"); err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(binDir, "connscope")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v", binErr)
	}
	return binPath
}

// TestBadInput_OneLineAndNonZeroExit runs the real binary on inputs that are
// not (whole) captures: each must give one clear line on stderr naming the
// file, a non-zero exit, and no panic. A truncated file still reports what
// it had before the cut.
func TestBadInput_OneLineAndNonZeroExit(t *testing.T) {
	bin := connscopeBinary(t)
	dir := t.TempDir()
	good, err := os.ReadFile("../../testdata/ipv6-lo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	corrupt := append([]byte(nil), good...)
	for i := 32; i < 40; i++ { // the first record's captured and original lengths
		corrupt[i] = 0xff
	}
	cases := []struct {
		name, path string
		want       []string // substrings of the single stderr line
		stdoutHas  string   // for a truncated file, the flows before the cut
	}{
		{"missing", filepath.Join(dir, "nope.pcap"), []string{"nope.pcap", "no such file"}, ""},
		{"directory", dir, []string{dir, "directory"}, ""},
		{"text", write("notes.txt", []byte("hello, this is not a capture\n")), []string{"notes.txt", "not a pcap or pcapng"}, ""},
		{"empty", write("empty.pcap", nil), []string{"empty.pcap"}, ""},
		{"corrupt", write("corrupt.pcap", corrupt), []string{"corrupt.pcap", "frame 1"}, ""},
		{"truncated", write("cut.pcap", good[:len(good)-30]), []string{"cut.pcap", "cut short"}, "TCP"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, "-r", c.path, "--report")
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() == 0 {
				t.Fatalf("exit: got %v, want a non-zero exit status", err)
			}
			msg := strings.TrimRight(stderr.String(), "\n")
			if strings.Count(msg, "\n") != 0 || strings.Contains(msg, "goroutine") {
				t.Fatalf("stderr: got %q, want exactly one line", stderr.String())
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr %q: want it to contain %q", msg, w)
				}
			}
			if c.stdoutHas != "" && !strings.Contains(stdout.String(), c.stdoutHas) {
				t.Errorf("stdout: got %q, want the report of the packets before the cut", stdout.String())
			}
		})
	}
}

// TestBadFlags_UsageExit checks that flag errors name the flag and exit 2.
func TestBadFlags_UsageExit(t *testing.T) {
	bin := connscopeBinary(t)
	for _, args := range [][]string{
		{"--replay", "middle", "-r", "x.pcap"},
		{"--report", "--json", "-r", "x.pcap"},
		{"--no-such-flag"},
	} {
		var stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%v: exit %v, want 2", args, err)
		}
		if !strings.Contains(stderr.String(), strings.TrimLeft(args[0], "-")) {
			t.Errorf("%v: stderr %q does not name the flag", args, stderr.String())
		}
	}
}
