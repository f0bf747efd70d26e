//go:build linux

package capture

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/connscope/connscope/capture/filter"
	"github.com/connscope/connscope/model"
)

// TestFanout_KernelHashKeepsAConnectionInOneRing checks what fanout
// readers rely on: the kernel's PACKET_FANOUT_HASH hands both directions
// of a connection to the same member of the group, so that each ring
// holds whole connections, in order, and the load spreads over the
// members. Two rings in one group read a veth while 64 connections run
// across it.
func TestFanout_KernelHashKeepsAConnectionInOneRing(t *testing.T) {
	b := newLab(t)
	nsA, nsB := b.netns("a"), b.netns("b")
	b.veth(nsA, "a0", "10.79.0.1/24", nsB, "b0", "10.79.0.2/24")
	var rings []*ringHandle
	b.in(nsA, func() {
		links, err := listLinks()
		if err != nil {
			t.Fatal(err)
		}
		idx := 0
		for _, k := range links {
			if k.name == "a0" {
				idx = k.index
			}
		}
		prog, err := filter.Compile("", uint16(LinkEthernet), 256)
		if err != nil {
			t.Fatal(err)
		}
		var id uint16
		for range 2 {
			h, err := openRing(idx, unix.SOCK_RAW, 4<<20, ringBlockSize, ringBlockTimeout, ringPollTimeout)
			if err != nil {
				t.Fatal(err)
			}
			rings = append(rings, h)
			if id, err = h.joinFanout(id); err != nil {
				t.Fatal(err)
			}
			if err := h.setFilter(prog.Raw()); err != nil {
				t.Fatal(err)
			}
		}
	})
	defer func() {
		for _, h := range rings {
			h.close()
		}
	}()

	const conns = 64
	var ln net.Listener
	b.in(nsA, func() {
		var err error
		if ln, err = net.Listen("tcp", "10.79.0.1:7900"); err != nil {
			t.Fatal(err)
		}
	})
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		for range conns {
			c, err := ln.Accept()
			if err != nil {
				served <- err
				return
			}
			if _, err := io.Copy(c, c); err != nil { // echo until the client's FIN
				served <- err
				return
			}
			c.Close()
		}
		served <- nil
	}()
	b.in(nsB, func() {
		for range conns {
			c, err := net.DialTimeout("tcp", "10.79.0.1:7900", 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(make([]byte, 3000)); err != nil {
				t.Fatal(err)
			}
			c.(*net.TCPConn).CloseWrite()
			if n, err := io.Copy(io.Discard, c); err != nil || n != 3000 {
				t.Fatalf("echo: got %d bytes, %v; want 3000", n, err)
			}
			c.Close()
		}
	})
	if err := <-served; err != nil {
		t.Fatal(err)
	}

	// Each connection, by its unordered pair of endpoints: packets per
	// ring and per direction.
	type conn struct{ lo, hi netip.AddrPort }
	type tally struct {
		perRing [2]int
		dirs    map[netip.AddrPort]int
	}
	seen := map[conn]*tally{}
	var dec Decoder
	for i, h := range rings {
		for {
			data, _, wire, err := h.read()
			if err == errReadTimeout {
				break // empty for a poll timeout: everything is read
			}
			if err != nil {
				t.Fatal(err)
			}
			var s model.Segment
			if res, _ := dec.Decode(data, wire, LinkEthernet, &s); res != ResultSegment {
				continue
			}
			c := conn{s.Src, s.Dst}
			if c.hi.Addr().Less(c.lo.Addr()) || (c.lo.Addr() == c.hi.Addr() && c.hi.Port() < c.lo.Port()) {
				c.lo, c.hi = c.hi, c.lo
			}
			if seen[c] == nil {
				seen[c] = &tally{dirs: map[netip.AddrPort]int{}}
			}
			seen[c].perRing[i]++
			seen[c].dirs[s.Src]++
		}
	}
	if len(seen) != conns {
		t.Fatalf("got %d connections, want %d", len(seen), conns)
	}
	var ringConns [2]int
	for c, n := range seen {
		if len(n.dirs) != 2 {
			t.Errorf("%v: packets in %d directions, want both", c, len(n.dirs))
		}
		switch {
		case n.perRing[0] > 0 && n.perRing[1] > 0:
			t.Errorf("%v: split over both rings (%d and %d packets): the fanout hash is not symmetric", c, n.perRing[0], n.perRing[1])
		case n.perRing[0] > 0:
			ringConns[0]++
		default:
			ringConns[1]++
		}
	}
	if ringConns[0] == 0 || ringConns[1] == 0 {
		t.Errorf("got %v connections per ring, want both rings used", ringConns)
	}
	t.Logf("connections per ring: %v", ringConns)
}
