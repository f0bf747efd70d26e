//go:build linux

package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connscope/connscope/capture/filter"
	"github.com/connscope/connscope/model"
)

func TestLive_Loopback_MatchesTcpdump(t *testing.T) {
	for _, tc := range []struct {
		name    string
		force   bool
		readers int
		method  CaptureMethod
	}{{"ring", false, 1, MethodRing}, {"two rings in a fanout group", false, 2, MethodRing}, {"recvmsg fallback", true, 1, MethodRecvmsg}} {
		t.Run(tc.name, func(t *testing.T) {
			b := newLab(t)
			ns := b.netns("lo")
			if tc.force {
				// recvmsg queues whole packets in the socket buffer
				// (gopacket's handle does not let us enlarge it), so
				// 64 KiB loopback segments overflow it at once; with
				// Ethernet-sized ones (no segmentation offload) it
				// mostly keeps up at this rate.
				b.ip(ns, "link", "set", "lo", "mtu", "1500")
				if _, err := exec.LookPath("ethtool"); err == nil {
					b.run("ip", "netns", "exec", ns, "ethtool", "-K", "lo", "tso", "off", "gso", "off")
				}
			}
			const base = 7100
			dump := startTcpdump(t, ns, "lo", "tcp")
			live := openLive(t, b, ns, LiveOptions{Interfaces: []string{"lo"}, Filter: "tcp", forceRecvmsg: tc.force, ReadersPerInterface: tc.readers}, base+99, base+299)
			if ifs := live.l.Interfaces(); len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Method != tc.method || ifs[0].Type != arphrdLoopback || ifs[0].Readers != tc.readers {
				t.Fatalf("got interfaces %+v, want lo only, read by %v with %d readers", ifs, tc.method, tc.readers)
			}
			marker := traffic(t, b, ns, ns, netip.MustParseAddr("127.0.0.1"), base)
			// The same over IPv6 loopback, with its own marker.
			marker6 := traffic(t, b, ns, ns, netip.MustParseAddr("::1"), base+200)
			dump.waitMarker(t, marker)
			dump.waitMarker(t, marker6)
			segs := live.finish(t, 2)
			drops := dump.stop()
			ref, err := dump.segments()
			if err != nil {
				t.Fatalf("read tcpdump's file: %v", err)
			}
			if st := live.l.Stats(); tc.force && st.KernelDrops > 0 {
				// Whatever was lost must be counted. The kernel counts a
				// dropped segmentation-offload packet once per segment it
				// stands for, so drops may exceed the packets missing.
				missing := uint64(len(ref) - len(segs))
				if len(segs) > len(ref) || missing == 0 || missing > st.KernelDrops {
					t.Errorf("got %d segments and %d kernel drops, want %d segments as in tcpdump's file, each missing one counted", len(segs), st.KernelDrops, len(ref))
				}
				t.Logf("recvmsg fallback dropped %d of %d packets; flows not compared", missing, len(ref))
				return
			}
			compareFlows(t, segs, ref, "lo")
			checkNoDrops(t, live.l, drops)
			// Every packet once: frames are 1, 2, 3 ... with nothing
			// missing (the filter passes only TCP, and lo's outgoing
			// copies are dropped in the kernel).
			for i, s := range segs {
				if s.Frame != uint64(i+1) || s.Iface != 0 {
					t.Fatalf("segment %d: got frame %d iface %d, want frame %d iface 0", i, s.Frame, s.Iface, i+1)
				}
			}
		})
	}
}

func TestLive_Veth_MatchesTcpdump(t *testing.T) {
	for _, readers := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d readers", readers), func(t *testing.T) {
			b := newLab(t)
			nsA, nsB := b.netns("a"), b.netns("b")
			b.veth(nsA, "a0", "10.77.0.1/24", nsB, "b0", "10.77.0.2/24")
			const base = 7300
			dump := startTcpdump(t, nsA, "a0", "tcp")
			live := openLive(t, b, nsA, LiveOptions{Interfaces: []string{"a0"}, Filter: "tcp", ReadersPerInterface: readers}, base+99)
			marker := traffic(t, b, nsA, nsB, netip.MustParseAddr("10.77.0.2"), base)
			dump.waitMarker(t, marker)
			segs := live.finish(t, 1)
			drops := dump.stop()
			ref, err := dump.segments()
			if err != nil {
				t.Fatalf("read tcpdump's file: %v", err)
			}
			compareFlows(t, segs, ref, "veth")
			checkNoDrops(t, live.l, drops)
		})
	}
}

// TestLive_Router_ForwardedPacketCountsOnce captures inside a router
// namespace on both of its interfaces: every packet is seen entering one
// and leaving the other, and must count once, as on a single interface.
func TestLive_Router_ForwardedPacketCountsOnce(t *testing.T) {
	for _, readers := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d readers", readers), func(t *testing.T) {
			b := newLab(t)
			nsC, nsR, nsS := b.netns("c"), b.netns("r"), b.netns("s")
			b.veth(nsC, "c0", "10.78.1.2/24", nsR, "r1", "10.78.1.1/24")
			b.veth(nsR, "r2", "10.78.2.1/24", nsS, "s0", "10.78.2.2/24")
			b.ip(nsC, "route", "add", "default", "via", "10.78.1.1")
			b.ip(nsS, "route", "add", "default", "via", "10.78.2.1")
			b.run("ip", "netns", "exec", nsR, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
			const base = 7500
			dump := startTcpdump(t, nsR, "r1", "tcp")
			// The reference is each packet where the router first saw it:
			// arriving on r1 (client to server) or on r2 (server to
			// client). tcpdump on r1 alone sees the server's packets
			// later, after forwarding, so a data segment and the ACK
			// racing it can be in the other order there, and a "window
			// full" judged against another ACK.
			in1 := startTcpdump(t, nsR, "r1", "tcp", "-Q", "in")
			in2 := startTcpdump(t, nsR, "r2", "tcp", "-Q", "in")
			// Every interface of the router: lo, r1, r2.
			live := openLive(t, b, nsR, LiveOptions{Filter: "tcp", ReadersPerInterface: readers}, base+99)
			var names []string
			for _, i := range live.l.Interfaces() {
				if !i.Active || i.Readers != readers {
					t.Errorf("interface %s: active %v (%s), %d readers; want active, %d readers", i.Name, i.Active, i.Err, i.Readers, readers)
				}
				names = append(names, i.Name)
			}
			sort.Strings(names)
			if strings.Join(names, " ") != "lo r1 r2" {
				t.Fatalf("got interfaces %v, want lo r1 r2", names)
			}
			marker := traffic(t, b, nsC, nsS, netip.MustParseAddr("10.78.2.2"), base)
			dump.waitMarker(t, marker)
			segs := live.finish(t, 2) // the marker's RST crosses both interfaces
			drops := dump.stop()
			all, err := dump.segments()
			if err != nil {
				t.Fatalf("read tcpdump's file: %v", err)
			}
			in1.stop()
			in2.stop()
			ref := firstSeen(t, in1, in2)
			if len(ref) != len(all) {
				t.Fatalf("tcpdump saw %d packets arriving on r1 and r2, %d on r1: want every packet crossing r1 once", len(ref), len(all))
			}
			compareFlows(t, segs, ref, "router")
			checkNoDrops(t, live.l, drops)
			if d := live.l.Duplicates(); d != uint64(len(segs)) {
				t.Errorf("got %d forwarded copies dropped, want %d (one per packet)", d, len(segs))
			}
			var retrans uint32
			for _, c := range flowCounts(segs) {
				retrans += c.RetransmissionField()
			}
			if retrans != 0 {
				t.Errorf("got %d retransmissions through the router, want 0", retrans)
			}
		})
	}
}

func TestLive_Filter_RunsInTheKernelAndCountsRejects(t *testing.T) {
	b := newLab(t)
	ns := b.netns("f")
	const base = 7700
	// Two captures of the same traffic: one filtered to the first
	// scenario's port, one unfiltered to know what was rejected.
	all := openLive(t, b, ns, LiveOptions{Interfaces: []string{"lo"}}, base+99)
	one := openLive(t, b, ns, LiveOptions{Interfaces: []string{"lo"}, Filter: fmt.Sprintf("tcp port %d or tcp port %d", base, base+99)}, base+99)
	traffic(t, b, ns, ns, netip.MustParseAddr("127.0.0.1"), base)
	segsAll := all.finish(t, 1)
	segsOne := one.finish(t, 1)
	var want []model.Segment
	for _, s := range segsAll {
		if p1, p2 := s.Src.Port(), s.Dst.Port(); p1 == base || p2 == base || p1 == base+99 || p2 == base+99 {
			want = append(want, s)
		}
	}
	if len(segsOne) != len(want) || len(want) == 0 {
		t.Fatalf("got %d segments through the filter, want %d", len(segsOne), len(want))
	}
	for i := range want {
		if segsOne[i].Src != want[i].Src || segsOne[i].Seq != want[i].Seq || segsOne[i].Flags != want[i].Flags {
			t.Fatalf("segment %d: got %v %v seq %d, want %v %v seq %d", i, segsOne[i].Src, segsOne[i].Flags, segsOne[i].Seq, want[i].Src, want[i].Flags, want[i].Seq)
		}
	}
	stAll, stOne := all.l.Stats(), one.l.Stats()
	if stOne.FilteredOut != stAll.Packets-stOne.Packets {
		t.Errorf("got FilteredOut %d, want %d (packets without the filter %d - with it %d)", stOne.FilteredOut, stAll.Packets-stOne.Packets, stAll.Packets, stOne.Packets)
	}
	if stAll.FilteredOut != 0 {
		t.Errorf("got FilteredOut %d without a filter, want 0", stAll.FilteredOut)
	}
}

func TestLive_Writer_FileHoldsWhatWasCaptured(t *testing.T) {
	b := newLab(t)
	ns := b.netns("w")
	path := filepath.Join(t.TempDir(), "live.pcapng")
	w, err := CreateWriter(path, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const base = 7900
	comment := func(s *model.Segment) string {
		if s.Dst.Port() == base || s.Src.Port() == base {
			return OwnerComment(4242, "server")
		}
		return ""
	}
	live := openLive(t, b, ns, LiveOptions{Interfaces: []string{"lo"}, Writer: w, Comment: comment}, base+99)
	traffic(t, b, ns, ns, netip.MustParseAddr("127.0.0.1"), base)
	segs := live.finish(t, 1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var back []model.Segment
	for {
		var s model.Segment
		err := f.Next(&s)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the -w file: %v", err)
		}
		back = append(back, s)
	}
	if len(back) != len(segs) {
		t.Fatalf("got %d segments in the file, want %d as captured", len(back), len(segs))
	}
	for i := range segs {
		if back[i] != segs[i] {
			t.Fatalf("segment %d: file has %+v, capture had %+v", i, back[i], segs[i])
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pkts, comments := readNg(t, raw)
	var commented int
	var d Decoder
	for i, p := range pkts {
		var s model.Segment
		if r, _ := d.Decode(p.data, p.wire, LinkEthernet, &s); r != ResultSegment {
			continue
		}
		wantC := comment(&s)
		if comments[i] != wantC {
			t.Fatalf("packet %d (%v -> %v): got comment %q, want %q", i+1, s.Src, s.Dst, comments[i], wantC)
		}
		if wantC != "" {
			commented++
		}
	}
	if commented == 0 {
		t.Error("got no commented packet, want the server's")
	}
}

// TestLive_Close_WhileTrafficFlows closes captures in the middle of a
// flood: readers must stop before the rings are unmapped (a read of an
// unmapped ring crashes), and Close must not hang.
func TestLive_Close_WhileTrafficFlows(t *testing.T) {
	b := newLab(t)
	ns := b.netns("c")
	var ln net.Listener
	b.in(ns, func() {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:8300"); err != nil {
			t.Fatal(err)
		}
	})
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	var c net.Conn
	b.in(ns, func() {
		var err error
		if c, err = net.Dial("tcp", "127.0.0.1:8300"); err != nil {
			t.Fatal(err)
		}
	})
	defer c.Close()
	stop := make(chan struct{})
	var flood sync.WaitGroup
	flood.Add(1)
	go func() {
		defer flood.Done()
		buf := make([]byte, 1000)
		for {
			select {
			case <-stop:
				return
			default:
			}
			c.Write(buf)
		}
	}()
	defer func() { close(stop); flood.Wait() }()
	for i := 0; i < 5; i++ {
		var l *Live
		var err error
		b.in(ns, func() { l, err = OpenLive(LiveOptions{Interfaces: []string{"lo"}}) })
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for got < 100 {
			var s model.Segment
			if err := l.Next(&s); err == nil {
				got++
			}
		}
		start := time.Now()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Close took %v", d)
		}
	}
}

func TestOpenLive_UnknownInterface_ListsTheOnesThatExist(t *testing.T) {
	_, err := OpenLive(LiveOptions{Interfaces: []string{"lo", "nosuch0"}})
	if !errors.Is(err, ErrNoInterface) {
		t.Fatalf("got %v, want ErrNoInterface", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "nosuch0") || !strings.Contains(msg, "interfaces: ") || !strings.Contains(msg, "lo") {
		t.Errorf("got %q, want the missing name and the list of interfaces", msg)
	}
}

func TestOpenLive_BadFilter_NamesTheWord(t *testing.T) {
	_, err := OpenLive(LiveOptions{Interfaces: []string{"lo"}, Filter: "tcp prot 80"})
	var se *filter.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a *filter.SyntaxError", err)
	}
	if se.Offset != 4 || !strings.Contains(err.Error(), "prot") {
		t.Errorf("got %q at offset %d, want the word \"prot\" at offset 4", err, se.Offset)
	}
}

func TestLinkOf_PicksFramingFromTheInterfaceType(t *testing.T) {
	tests := []struct {
		typ  uint16
		link LinkType
	}{
		{arphrdEther, LinkEthernet},
		{arphrdLoopback, LinkEthernet},
		{arphrdNone, LinkRaw},
		{776, LinkRaw}, // sit
		{512, LinkRaw}, // ppp
	}
	for _, tc := range tests {
		if got, _ := linkOf(tc.typ); got != tc.link {
			t.Errorf("type %d: got %v, want %v", tc.typ, got, tc.link)
		}
	}
}

func TestRingSizeFor_SplitsTheBudget(t *testing.T) {
	tests := []struct{ want, n, size int }{
		{0, 1, DefaultRingSize},
		{0, 8, DefaultRingSize},
		{0, 16, DefaultRingBudget / 16},
		{0, 1000, MinRingSize},
		{3 << 20, 50, 3 << 20},
		{1, 1, ringMinBlocks * ringBlockSize},
	}
	for _, tc := range tests {
		if got := ringSizeFor(tc.want, tc.n); got != tc.size {
			t.Errorf("ringSizeFor(%d, %d): got %d, want %d", tc.want, tc.n, got, tc.size)
		}
	}
}

// firstSeen merges tcpdump files of a host's inbound packets by capture
// time (stable, so a tie keeps the files' order): what the host saw, in
// the order it saw it.
func firstSeen(t *testing.T, dumps ...*tcpdumpRun) []model.Segment {
	t.Helper()
	var out []model.Segment
	for _, d := range dumps {
		segs, err := d.segments()
		if err != nil {
			t.Fatalf("read tcpdump's file %s: %v", d.path, err)
		}
		out = append(out, segs...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TS < out[j].TS })
	return out
}
