//go:build linux

package pipeline

import (
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
)

// TestInteractive_Live_TracksAConnection runs the UI's pipeline on a live
// capture of loopback, filtered to one port: the segments of a real
// connection reach the tracker (through capture.Run, a batch at a time)
// and its snapshot counts them, both directions.
func TestInteractive_Live_TracksAConnection(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root (CI runs as root)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	p, err := Open(Config{Live: &LiveConfig{Interfaces: []string{"lo"}}, Filter: fmt.Sprintf("tcp port %d", port),
		Interactive: true, NoProcinfo: true, PublishEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, p)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := c.Write(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()

	deadline := time.Now().Add(10 * time.Second)
	for {
		if snap := p.Latest(); snap != nil {
			for _, f := range snap.Flows {
				if int(f.B.Port()) == port && f.Dir[model.DirAB].PayloadBytes == 1000 && f.Dir[model.DirBA].PayloadBytes == 1000 {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no flow to port %d with 1,000 bytes each way in the snapshot after 10 s: %+v", port, p.Latest())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
