package pipeline

import (
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/model"
)

// Owners named in the test capture: the client (curl) and the server
// listening on port 8080 of ipv6-lo.pcap. Port 8081 has no listener: the
// kernel refuses the connection, and its reset has no owner.
const (
	ownerServerPort  = 8080
	ownerRefusedPort = 8081
	ownerClientPID   = 4100
	ownerServerPID   = 812
	ownerClientComm  = "curl"
	ownerServerComm  = "python3 -m http.server"
)

// writeOwnedCapture rewrites testdata/ipv6-lo.pcap as the pcapng -w would
// have written on that host: each packet commented with the process owning
// its sender's socket (both ends are on loopback).
func writeOwnedCapture(t *testing.T) string {
	t.Helper()
	src, err := capture.Open(filepath.Join("..", "testdata", "ipv6-lo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "owned.pcapng")
	w, err := capture.CreateWriter(path, capture.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := -1
	var dec capture.Decoder
	var p capture.Packet
	var seg model.Segment
	for {
		err := src.ReadPacket(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if id < 0 {
			if id, err = w.AddInterface("lo", p.Link, 0, ""); err != nil {
				t.Fatal(err)
			}
		}
		if r, err := dec.Decode(p.Data, p.WireLen, p.Link, &seg); r != capture.ResultSegment {
			t.Fatalf("frame %d: not a TCP segment (%v)", p.Frame, err)
		}
		comment := capture.OwnerComment(ownerClientPID, ownerClientComm)
		switch seg.Src.Port() {
		case ownerServerPort:
			comment = capture.OwnerComment(ownerServerPID, ownerServerComm)
		case ownerRefusedPort:
			comment = ""
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, p.TS), CaptureLength: len(p.Data), Length: p.WireLen, InterfaceIndex: id}
		if err := w.WritePacket(ci, p.Data, comment); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOwners_ReplayOfWCapture_JoinsFlowsToTheirProcesses runs the whole
// loop: a -w style capture is replayed with Next and Comment, the flows
// built by the table, and the collector's view joins each flow to the
// process that owned it, on both ends of the loopback connection.
func TestOwners_ReplayOfWCapture_JoinsFlowsToTheirProcesses(t *testing.T) {
	path := writeOwnedCapture(t)
	f, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	owners := newCommentOwners()
	tbl := model.NewTable(model.Config{})
	var seg model.Segment
	var last int64
	for {
		err := f.Next(&seg)
		if errors.Is(err, capture.ErrIdle) {
			continue // packets without a segment: call again
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tbl.Apply(&seg)
		owners.observe(&seg, f.Comment())
		last = seg.TS
	}
	snap := tbl.Snapshot(last)
	if len(snap.Flows) == 0 {
		t.Fatal("got no flows from the capture")
	}
	v := owners.view()
	if v == nil {
		t.Fatal("got no kernel view from a capture full of owner comments")
	}
	if len(v.Limitations) == 0 || v.Limitations[0] != ownersLimitation {
		t.Errorf("got limitations %q, want %q first", v.Limitations, ownersLimitation)
	}
	if v.At != last {
		t.Errorf("got view time %d, want the last packet's %d", v.At, last)
	}
	x := model.NewKernelIndex(v)
	refused := 0
	for i := range snap.Flows {
		fl := &snap.Flows[i]
		client, server := fl.A, fl.B
		if fl.A.Port() == ownerServerPort || fl.A.Port() == ownerRefusedPort {
			client, server = fl.B, fl.A
		}
		// Lookup gives the client's socket of a loopback flow.
		s, side, ok := x.Lookup(fl)
		if !ok {
			t.Errorf("flow %v-%v: got no socket, want the client's", fl.A, fl.B)
			continue
		}
		if s.Local != client || s.Remote != server || side != fl.Client {
			t.Errorf("flow %v-%v: got socket %v->%v on side %v, want %v->%v on the client side %v", fl.A, fl.B, s.Local, s.Remote, side, client, server, fl.Client)
		}
		checkOwner(t, x, s, ownerClientPID, ownerClientComm)
		// The server's own socket is there too: seen from the server.
		srv := model.Flow{A: server, B: client, Client: model.SideA}
		s, _, ok = x.Lookup(&srv)
		if server.Port() == ownerRefusedPort {
			// Only the client's socket exists: Lookup falls back to it.
			refused++
			if !ok || s.Local != client {
				t.Errorf("refused flow %v-%v: got socket %v, want the client's only", fl.A, fl.B, s)
			}
			continue
		}
		if !ok {
			t.Errorf("flow %v-%v: got no server socket", fl.A, fl.B)
			continue
		}
		if s.Local != server {
			t.Errorf("flow %v-%v: got socket local %v, want the server's %v", fl.A, fl.B, s.Local, server)
		}
		checkOwner(t, x, s, ownerServerPID, ownerServerComm)
	}
	if got, want := len(v.Processes), 2; got != want {
		t.Errorf("got %d processes, want %d", got, want)
	}
	if refused == 0 {
		t.Error("got no refused flow, want the one to port 8081")
	}
	if got, want := len(v.Sockets), 2*len(snap.Flows)-refused; got != want {
		t.Errorf("got %d sockets, want %d (two per accepted loopback flow, one per refused)", got, want)
	}
}

func checkOwner(t *testing.T, x *model.KernelIndex, s *model.Socket, pid int32, comm string) {
	t.Helper()
	if s.Owner != model.OwnerKnown || s.PID != pid {
		t.Errorf("socket %v->%v: got owner %v pid %d, want known pid %d", s.Local, s.Remote, s.Owner, s.PID, pid)
	}
	p := x.Process(s)
	if p == nil {
		t.Errorf("socket %v->%v: got no process, want pid %d", s.Local, s.Remote, pid)
		return
	}
	if p.PID != pid || p.Command != comm {
		t.Errorf("socket %v->%v: got process %d %q, want %d %q", s.Local, s.Remote, p.PID, p.Command, pid, comm)
	}
}

// ownerSeg is one observed segment: its ends and its packet's comment.
type ownerSeg struct {
	src, dst string
	comment  string
}

// ownerSock is a socket of the view, as "local remote pid".
type ownerSock struct {
	local, remote string
	pid           int32
}

func TestOwners_View(t *testing.T) {
	const (
		host   = "192.0.2.10:40000"
		peer   = "198.51.100.7:443"
		cliLo  = "127.0.0.1:5000"
		srvLo  = "127.0.0.1:80"
		mapped = "[::ffff:192.0.2.10]:40000"
	)
	nginx := capture.OwnerComment(10, "nginx")
	curl := capture.OwnerComment(20, "curl")
	tests := []struct {
		name      string
		segs      []ownerSeg
		wantNil   bool
		wantSocks []ownerSock
		wantProcs map[int32]string
	}{
		{name: "no comments", segs: []ownerSeg{{host, peer, ""}, {peer, host, ""}}, wantNil: true},
		{name: "foreign comments only", segs: []ownerSeg{{host, peer, "interesting packet"}}, wantNil: true},
		{
			name:      "remote peer: one socket, first sender local",
			segs:      []ownerSeg{{host, peer, curl}, {peer, host, curl}, {host, peer, curl}},
			wantSocks: []ownerSock{{host, peer, 20}},
			wantProcs: map[int32]string{20: "curl"},
		},
		{
			name:      "loopback: a socket per end",
			segs:      []ownerSeg{{cliLo, srvLo, curl}, {srvLo, cliLo, nginx}},
			wantSocks: []ownerSock{{cliLo, srvLo, 20}, {srvLo, cliLo, 10}},
			wantProcs: map[int32]string{10: "nginx", 20: "curl"},
		},
		{
			name:      "loopback within one process: both sockets",
			segs:      []ownerSeg{{cliLo, srvLo, curl}, {srvLo, cliLo, curl}},
			wantSocks: []ownerSock{{cliLo, srvLo, 20}, {srvLo, cliLo, 20}},
			wantProcs: map[int32]string{20: "curl"},
		},
		{
			name:      "newest owner of a tuple wins",
			segs:      []ownerSeg{{host, peer, nginx}, {host, peer, curl}},
			wantSocks: []ownerSock{{host, peer, 20}},
			wantProcs: map[int32]string{20: "curl"},
		},
		{
			name:      "uncommented and foreign packets keep the owner",
			segs:      []ownerSeg{{host, peer, curl}, {host, peer, ""}, {peer, host, "note"}},
			wantSocks: []ownerSock{{host, peer, 20}},
			wantProcs: map[int32]string{20: "curl"},
		},
		{
			name:      "IPv4-mapped ends are unmapped",
			segs:      []ownerSeg{{mapped, peer, curl}},
			wantSocks: []ownerSock{{host, peer, 20}},
			wantProcs: map[int32]string{20: "curl"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := newCommentOwners()
			for i, s := range tc.segs {
				seg := model.Segment{TS: int64(i + 1), Src: netip.MustParseAddrPort(s.src), Dst: netip.MustParseAddrPort(s.dst)}
				o.observe(&seg, []byte(s.comment))
			}
			v := o.view()
			if tc.wantNil {
				if v != nil {
					t.Fatalf("got a view with %d sockets, want nil", len(v.Sockets))
				}
				return
			}
			if v == nil {
				t.Fatal("got nil view, want one")
			}
			var got []ownerSock
			for _, s := range v.Sockets {
				got = append(got, ownerSock{s.Local.String(), s.Remote.String(), s.PID})
			}
			if len(got) != len(tc.wantSocks) {
				t.Fatalf("got sockets %v, want %v", got, tc.wantSocks)
			}
			for i := range got {
				if got[i] != tc.wantSocks[i] {
					t.Errorf("socket %d: got %v, want %v", i, got[i], tc.wantSocks[i])
				}
			}
			if len(v.Processes) != len(tc.wantProcs) {
				t.Errorf("got %d processes, want %d", len(v.Processes), len(tc.wantProcs))
			}
			for pid, comm := range tc.wantProcs {
				p := v.Process(pid)
				if p == nil || p.Command != comm {
					t.Errorf("pid %d: got %+v, want command %q", pid, p, comm)
				}
			}
			if h := v.Host(); h == nil || h.Sockets != len(v.Sockets) {
				t.Errorf("got host namespace %+v, want one holding %d sockets", h, len(v.Sockets))
			}
		})
	}
}

func TestOwners_BoundedMemory(t *testing.T) {
	o := newCommentOwners()
	o.limit = 3
	c := []byte(capture.OwnerComment(7, "worker"))
	dst := netip.MustParseAddrPort("10.0.0.1:80")
	for port := uint16(1); port <= 10; port++ {
		seg := model.Segment{Src: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), port), Dst: dst}
		o.observe(&seg, c)
	}
	if got := len(o.byEnds); got != 3 {
		t.Errorf("got %d entries, want the limit 3", got)
	}
	v := o.view()
	if v == nil || len(v.Sockets) != 3 {
		t.Fatalf("got view %+v, want 3 sockets", v)
	}
	if len(v.Limitations) != 2 || !strings.Contains(v.Limitations[1], "not recorded") {
		t.Errorf("got limitations %q, want a second one saying owners were not recorded", v.Limitations)
	}
}

func TestOwners_RepeatedCommentDoesNotAllocate(t *testing.T) {
	o := newCommentOwners()
	c := []byte(capture.OwnerComment(7, "worker"))
	seg := model.Segment{Src: netip.MustParseAddrPort("10.0.0.2:1234"), Dst: netip.MustParseAddrPort("10.0.0.1:80")}
	o.observe(&seg, c)
	n := testing.AllocsPerRun(100, func() { o.observe(&seg, c) })
	if n != 0 {
		t.Errorf("got %v allocations per observe of a known comment, want 0", n)
	}
}
