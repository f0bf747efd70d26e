package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLiveJSON_OwnersAndProcesses captures on lo with the real binary
// while this test process opens a connection to its own listener: the
// flow's JSON must name this process as the owner with the kernel's state,
// and a process line must give this process's fds against its limit.
func TestLiveJSON_OwnersAndProcesses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root (CI runs as root)")
	}
	bin := connscopeBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()

	var stdout, stderr bytes.Buffer
	saved := filepath.Join(t.TempDir(), "live.pcapng")
	cmd := exec.Command(bin, "-i", "lo", "--json", "--duration", "3s", "--poll", "200ms", "-w", saved, "tcp", "port", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(800 * time.Millisecond) // the capture opens its rings (about 50 ms) before traffic starts
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	srv := <-accepted
	defer srv.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("connscope: %v: %s", err, stderr.String())
	}

	me := os.Getpid()
	var flow, proc, sum map[string]any
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		switch m["type"] {
		case "flow":
			if strings.HasSuffix(m["b"].(string), fmt.Sprintf(":%d", port)) || strings.HasSuffix(m["a"].(string), fmt.Sprintf(":%d", port)) {
				flow = m
			}
		case "process":
			if int(m["pid"].(float64)) == me {
				proc = m
			}
		case "summary":
			sum = m
		}
	}
	if flow == nil || sum == nil {
		t.Fatalf("no flow to port %d or no summary in:\n%s", port, stdout.String())
	}
	owner, _ := flow["owner"].(map[string]any)
	if owner == nil || int(owner["pid"].(float64)) != me {
		t.Errorf("owner: got %v, want pid %d (this test)", flow["owner"], me)
	}
	kernel, _ := flow["kernel"].(map[string]any)
	if kernel == nil || kernel["state"] != "ESTABLISHED" {
		t.Errorf("kernel: got %v, want state ESTABLISHED", flow["kernel"])
	}
	if proc == nil {
		t.Fatalf("no process line for pid %d in:\n%s", me, stdout.String())
	}
	if fds := proc["fds"].(float64); fds < 3 {
		t.Errorf("process fds: got %v, want at least 3", fds)
	}
	if lim := proc["fd_soft_limit"].(float64); lim <= 0 {
		t.Errorf("process fd_soft_limit: got %v, want > 0", lim)
	}
	if sum["packets"].(float64) < 4 {
		t.Errorf("summary packets: got %v, want the handshake and data", sum["packets"])
	}

	// The -w file names the owner in each packet's comment: a replay
	// shows the same owner with no kernel access.
	out, err := exec.Command(bin, "-r", saved, "--json").Output()
	if err != nil {
		t.Fatalf("replay of %s: %v", saved, err)
	}
	found := false
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("replay line %q: %v", l, err)
		}
		if m["type"] != "flow" {
			continue
		}
		o, _ := m["owner"].(map[string]any)
		if o != nil && int(o["pid"].(float64)) == me {
			found = true
		}
	}
	if !found {
		t.Errorf("replay of the -w file names no flow owned by pid %d:\n%s", me, out)
	}
}
