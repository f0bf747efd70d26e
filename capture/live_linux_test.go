//go:build linux

package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"golang.org/x/sys/unix"

	"github.com/connscope/connscope/capture/filter"
	"github.com/connscope/connscope/model"
)

// The live tests create their own network namespaces (so that nothing
// else on the machine shows up in a capture) and generate real kernel TCP
// traffic in them while connscope's Live source and tcpdump capture the
// same interface. They need root, as CI has; without it they skip.

// labPrefix starts the name of every namespace the tests create; a
// leftover of a killed run (its pid is gone) is removed by the next run.
const labPrefix = "cslive"

var labSeq atomic.Int32

// lab creates namespaces for one test and removes them when it ends.
type lab struct {
	t  *testing.T
	id string
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live capture tests need root (CAP_NET_RAW, and CAP_SYS_ADMIN for network namespaces); CI runs them as root")
	}
}

func newLab(t *testing.T) *lab {
	t.Helper()
	requireRoot(t)
	for _, tool := range []string{"ip", "tcpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	sweepStaleLabs()
	return &lab{t: t, id: fmt.Sprintf("%d-%d", os.Getpid(), labSeq.Add(1))}
}

// sweepStaleLabs deletes namespaces left by test processes that died
// before their cleanup ran (a timeout panic skips t.Cleanup).
func sweepStaleLabs() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, labPrefix+"-")
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if unix.Kill(pid, 0) == unix.ESRCH {
			exec.Command("ip", "netns", "del", name).Run()
		}
	}
}

// netns creates a namespace with its loopback up.
func (b *lab) netns(name string) string {
	b.t.Helper()
	full := labPrefix + "-" + b.id + "-" + name
	b.run("ip", "netns", "add", full)
	b.t.Cleanup(func() { exec.Command("ip", "netns", "del", full).Run() })
	b.ip(full, "link", "set", "lo", "up")
	return full
}

func (b *lab) run(args ...string) {
	b.t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		b.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// ip runs an ip(8) command inside namespace ns.
func (b *lab) ip(ns string, args ...string) {
	b.t.Helper()
	b.run(append([]string{"ip", "-n", ns}, args...)...)
}

// veth links namespace nsA (interface ifA, address addrA) to nsB with a
// veth pair, up and addressed (CIDR notation).
func (b *lab) veth(nsA, ifA, addrA, nsB, ifB, addrB string) {
	b.t.Helper()
	b.ip(nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", nsB)
	b.ip(nsA, "addr", "add", addrA, "dev", ifA)
	b.ip(nsB, "addr", "add", addrB, "dev", ifB)
	b.ip(nsA, "link", "set", ifA, "up")
	b.ip(nsB, "link", "set", ifB, "up")
}

// in runs fn on a thread inside namespace ns: sockets fn creates (and a
// Live it opens) belong to ns.
func (b *lab) in(ns string, fn func()) {
	b.t.Helper()
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		b.t.Fatalf("open own netns: %v", err)
	}
	defer unix.Close(orig)
	target, err := unix.Open("/var/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		b.t.Fatalf("open netns %s: %v", ns, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		b.t.Fatalf("enter netns %s: %v", ns, err)
	}
	defer func() {
		// Only a thread back in its own namespace goes back to the
		// scheduler; otherwise it stays locked and dies with the test.
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
	}()
	fn()
}

// tcpdumpRun is a tcpdump writing a capture file, started by a test.
type tcpdumpRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	path   string
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan struct{}
}

// startTcpdump runs tcpdump on iface inside ns and returns once it is
// listening (its filter is in place).
func startTcpdump(t *testing.T, ns, iface, expr string) *tcpdumpRun {
	t.Helper()
	d := &tcpdumpRun{t: t, path: filepath.Join(t.TempDir(), iface+".pcap"), exited: make(chan struct{})}
	// Headers only and a large buffer, as Live: whole 64 KiB loopback
	// segments would overflow tcpdump's default 2 MiB ring.
	args := []string{"netns", "exec", ns, "tcpdump", "-i", iface, "-n", "-U", "--immediate-mode", "-Z", "root", "-s", "256", "-B", "16384", "-w", d.path}
	if expr != "" {
		args = append(args, expr)
	}
	d.cmd = exec.Command("ip", args...) // ip execs tcpdump: same pid
	return d.startWith(t)
}

// startWith starts d.cmd and waits until tcpdump is listening.
func (d *tcpdumpRun) startWith(t *testing.T) *tcpdumpRun {
	t.Helper()
	pipe, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start tcpdump: %v", err)
	}
	t.Cleanup(d.kill)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		once := sync.Once{}
		for sc.Scan() {
			d.mu.Lock()
			d.stderr.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
			if strings.Contains(sc.Text(), "listening on") {
				once.Do(func() { close(ready) })
			}
		}
		d.cmd.Wait()
		close(d.exited)
	}()
	select {
	case <-ready:
	case <-d.exited:
		t.Fatalf("tcpdump exited: %s", d.errText())
	case <-time.After(10 * time.Second):
		t.Fatalf("tcpdump not listening after 10 s: %s", d.errText())
	}
	return d
}

func (d *tcpdumpRun) errText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// kill ends tcpdump if it still runs (cleanup of a failed test).
func (d *tcpdumpRun) kill() {
	select {
	case <-d.exited:
	default:
		d.cmd.Process.Kill()
		<-d.exited
	}
}

// stop ends tcpdump as Ctrl-C does and returns its kernel drop count.
func (d *tcpdumpRun) stop() int {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.t.Fatalf("tcpdump did not stop on SIGINT")
	}
	m := regexp.MustCompile(`(\d+) packets? dropped by kernel`).FindStringSubmatch(d.errText())
	if m == nil {
		d.t.Fatalf("no drop count in tcpdump's output: %s", d.errText())
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// segments reads tcpdump's file with capture.Open. A file still being
// written may end inside a packet: what comes before is returned.
func (d *tcpdumpRun) segments() ([]model.Segment, error) {
	f, err := Open(d.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []model.Segment
	for {
		var s model.Segment
		err := f.Next(&s)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
}

// liveRun collects what a Live returns.
type liveRun struct {
	l       *Live
	mu      sync.Mutex
	segs    []model.Segment
	teed    atomic.Uint64
	markers atomic.Int32
	done    chan struct{}
}

// openLive opens a Live inside ns that reports every packet it tees, and
// starts collecting its segments. markerPorts name the ports whose RST
// ends the traffic (see finish).
func openLive(t *testing.T, b *lab, ns string, opts LiveOptions, markerPorts ...uint16) *liveRun {
	t.Helper()
	r := &liveRun{done: make(chan struct{})}
	var dec Decoder
	tee := opts.Tee
	opts.Tee = func(iface int, ci gopacket.CaptureInfo, data []byte) {
		r.teed.Add(1)
		var s model.Segment
		if res, _ := dec.Decode(data, ci.Length, LinkEthernet, &s); res == ResultSegment && slices.Contains(markerPorts, s.Src.Port()) && s.Flags.Has(model.FlagRST) {
			r.markers.Add(1)
		}
		if tee != nil {
			tee(iface, ci, data)
		}
	}
	var err error
	b.in(ns, func() { r.l, err = OpenLive(opts) })
	if err != nil {
		t.Fatalf("OpenLive in %s: %v", ns, err)
	}
	t.Cleanup(func() { r.l.Close(); <-r.done })
	go func() {
		defer close(r.done)
		for {
			var s model.Segment
			err := r.l.Next(&s)
			if err == io.EOF {
				return
			}
			if err == nil {
				r.mu.Lock()
				r.segs = append(r.segs, s)
				r.mu.Unlock()
			}
		}
	}()
	return r
}

func (r *liveRun) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.segs)
}

// finish waits until the Live has delivered everything up to the marker
// (seen on markers interfaces), then closes it and returns the segments.
func (r *liveRun) finish(t *testing.T, markers int) []model.Segment {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := r.l.Stats()
		handed := st.TCPFrames - r.l.Duplicates() - st.QueueDrops
		if int(r.markers.Load()) >= markers && st.Packets == r.teed.Load() && uint64(r.count()) == handed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("live capture did not settle: %d of %d markers, %d packets published of %d read, %d segments delivered of %d",
				r.markers.Load(), markers, st.Packets, r.teed.Load(), r.count(), handed)
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.l.Close()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]model.Segment(nil), r.segs...)
}

// waitFile waits until tcpdump's file holds the marker RST.
func (d *tcpdumpRun) waitMarker(t *testing.T, markerPort uint16) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		segs, _ := d.segments()
		for _, s := range segs {
			if s.Src.Port() == markerPort && s.Flags.Has(model.FlagRST) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump's file never got the marker (%d segments): %s", len(segs), d.errText())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// traffic generates the scenarios between a client in clientNS and
// servers in serverNS listening on server: a refused connection, a normal
// transfer (256 KiB up, a reply, orderly close) and an abortive close
// (SO_LINGER 0), then the marker: a refused connection to markerPort.
func traffic(t *testing.T, b *lab, clientNS, serverNS string, server netip.Addr, base uint16) (markerPort uint16) {
	t.Helper()
	var lnData, lnAbort net.Listener
	b.in(serverNS, func() {
		var err error
		if lnData, err = net.Listen("tcp", netip.AddrPortFrom(server, base).String()); err != nil {
			t.Fatal(err)
		}
		if lnAbort, err = net.Listen("tcp", netip.AddrPortFrom(server, base+1).String()); err != nil {
			t.Fatal(err)
		}
	})
	defer lnData.Close()
	defer lnAbort.Close()
	dataDone := make(chan error, 1)
	go func() {
		c, err := lnData.Accept()
		if err != nil {
			dataDone <- err
			return
		}
		n, err := io.Copy(io.Discard, c)
		if err == nil && n != 256<<10 {
			err = fmt.Errorf("server read %d bytes, want %d", n, 256<<10)
		}
		if err == nil {
			_, err = c.Write([]byte("ok"))
		}
		c.Close()
		dataDone <- err
	}()
	abortRead := make(chan error, 1)
	abortDone := make(chan error, 1)
	go func() {
		c, err := lnAbort.Accept()
		if err != nil {
			abortRead <- err
			return
		}
		defer c.Close()
		_, err = io.ReadFull(c, make([]byte, 100))
		abortRead <- err
		_, err = c.Read(make([]byte, 1))
		if errors.Is(err, syscall.ECONNRESET) {
			err = nil
		} else {
			err = fmt.Errorf("server read after the abort: got %v, want a connection reset", err)
		}
		abortDone <- err
	}()

	b.in(clientNS, func() {
		dial := func(port uint16) (*net.TCPConn, error) {
			c, err := net.DialTimeout("tcp", netip.AddrPortFrom(server, port).String(), 5*time.Second)
			if err != nil {
				return nil, err
			}
			return c.(*net.TCPConn), nil
		}
		if _, err := dial(base + 9); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial a closed port: got %v, want connection refused", err)
		}
		c, err := dial(base)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(make([]byte, 256<<10)); err != nil {
			t.Fatal(err)
		}
		c.CloseWrite()
		reply, err := io.ReadAll(c)
		if err != nil || string(reply) != "ok" {
			t.Fatalf("transfer reply: got %q, %v", reply, err)
		}
		c.Close()
		if err := <-dataDone; err != nil {
			t.Fatal(err)
		}

		a, err := dial(base + 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Write(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
		if err := <-abortRead; err != nil {
			t.Fatal(err)
		}
		a.SetLinger(0)
		a.Close() // RST instead of FIN
		if err := <-abortDone; err != nil {
			t.Fatal(err)
		}
		if _, err := dial(base + 99); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial the marker port: got %v, want connection refused", err)
		}
	})
	return base + 99
}

// flowCounts analyses segments with a fresh model.Table and returns each
// direction's counters, keyed "src -> dst #n" (n counts reuses of the
// 4-tuple).
func flowCounts(segs []model.Segment) map[string]model.Counters {
	tb := model.NewTable(model.Config{})
	for i := range segs {
		tb.Apply(&segs[i])
	}
	snap := tb.Snapshot(0)
	out := map[string]model.Counters{}
	seen := map[string]int{}
	for _, f := range snap.Flows {
		pair := f.A.String() + " " + f.B.String()
		n := seen[pair]
		seen[pair]++
		out[fmt.Sprintf("%s -> %s #%d", f.A, f.B, n)] = f.Dir[model.DirAB]
		out[fmt.Sprintf("%s -> %s #%d", f.B, f.A, n)] = f.Dir[model.DirBA]
	}
	return out
}

// compareFlows checks that both captures give every flow the same packet
// and flag counts.
func compareFlows(t *testing.T, live, ref []model.Segment, what string) {
	t.Helper()
	got, want := flowCounts(live), flowCounts(ref)
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, ok1 := got[k]
		w, ok2 := want[k]
		switch {
		case !ok1:
			t.Errorf("%s: direction %s missing from the live capture (tcpdump: %d packets)", what, k, w.Packets)
		case !ok2:
			t.Errorf("%s: direction %s only in the live capture (%d packets)", what, k, g.Packets)
		case g != w:
			t.Errorf("%s: direction %s:\n got  %+v\n want %+v", what, k, g, w)
		}
	}
	if len(live) != len(ref) {
		t.Errorf("%s: got %d segments live, want %d as in tcpdump's file", what, len(live), len(ref))
	}
	if t.Failed() {
		return
	}
	var rst, syn, fin uint32
	for _, c := range want {
		rst += c.RST
		syn += c.SYN
		fin += c.FIN
	}
	// The scenarios must really be there: refused (2 SYN+RST), transfer,
	// abort, marker.
	if syn < 4 || rst < 3 || fin < 2 {
		t.Errorf("%s: got %d SYN, %d RST, %d FIN in the reference, want at least 4, 3, 2", what, syn, rst, fin)
	}
}

func checkNoDrops(t *testing.T, l *Live, tcpdumpDrops int) {
	t.Helper()
	st := l.Stats()
	if st.KernelDrops != 0 || st.QueueDrops != 0 || tcpdumpDrops != 0 {
		t.Errorf("got kernel drops %d, queue drops %d (tcpdump: %d), want none at this rate", st.KernelDrops, st.QueueDrops, tcpdumpDrops)
	}
}

func TestLive_Loopback_MatchesTcpdump(t *testing.T) {
	for _, tc := range []struct {
		name   string
		force  bool
		method CaptureMethod
	}{{"ring", false, MethodRing}, {"recvmsg fallback", true, MethodRecvmsg}} {
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
			live := openLive(t, b, ns, LiveOptions{Interfaces: []string{"lo"}, Filter: "tcp", forceRecvmsg: tc.force}, base+99, base+299)
			if ifs := live.l.Interfaces(); len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Method != tc.method || ifs[0].Type != arphrdLoopback {
				t.Fatalf("got interfaces %+v, want lo only, read by %v", ifs, tc.method)
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
	b := newLab(t)
	nsA, nsB := b.netns("a"), b.netns("b")
	b.veth(nsA, "a0", "10.77.0.1/24", nsB, "b0", "10.77.0.2/24")
	const base = 7300
	dump := startTcpdump(t, nsA, "a0", "tcp")
	live := openLive(t, b, nsA, LiveOptions{Interfaces: []string{"a0"}, Filter: "tcp"}, base+99)
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
}

// TestLive_Router_ForwardedPacketCountsOnce captures inside a router
// namespace on both of its interfaces: every packet is seen entering one
// and leaving the other, and must count once, as on a single interface.
func TestLive_Router_ForwardedPacketCountsOnce(t *testing.T) {
	b := newLab(t)
	nsC, nsR, nsS := b.netns("c"), b.netns("r"), b.netns("s")
	b.veth(nsC, "c0", "10.78.1.2/24", nsR, "r1", "10.78.1.1/24")
	b.veth(nsR, "r2", "10.78.2.1/24", nsS, "s0", "10.78.2.2/24")
	b.ip(nsC, "route", "add", "default", "via", "10.78.1.1")
	b.ip(nsS, "route", "add", "default", "via", "10.78.2.1")
	b.run("ip", "netns", "exec", nsR, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	const base = 7500
	dump := startTcpdump(t, nsR, "r1", "tcp")
	// Every interface of the router: lo, r1, r2.
	live := openLive(t, b, nsR, LiveOptions{Filter: "tcp"}, base+99)
	var names []string
	for _, i := range live.l.Interfaces() {
		if !i.Active {
			t.Errorf("interface %s not active: %s", i.Name, i.Err)
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
	ref, err := dump.segments()
	if err != nil {
		t.Fatalf("read tcpdump's file: %v", err)
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

func TestLive_NewInterface_IsPickedUp(t *testing.T) {
	b := newLab(t)
	nsX, nsY := b.netns("x"), b.netns("y")
	events := make(chan LiveEvent, 16)
	live := openLive(t, b, nsX, LiveOptions{Filter: "tcp", RescanEvery: 20 * time.Millisecond, OnEvent: func(e LiveEvent) {
		select {
		case events <- e:
		default:
		}
	}}, 8199)
	if ifs := live.l.Interfaces(); len(ifs) != 1 || ifs[0].Name != "lo" {
		t.Fatalf("got interfaces %+v, want lo alone at first", ifs)
	}
	b.veth(nsX, "x0", "10.79.0.1/24", nsY, "y0", "10.79.0.2/24")
	wait := func(kind LiveEventKind, iface string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case e := <-events:
				if e.Kind == kind && e.Iface == iface {
					return
				}
				if e.Kind != EventIfaceAdded {
					t.Logf("event: %v", e)
				}
			case <-timeout:
				t.Fatalf("no %v event for %s", kind, iface)
			}
		}
	}
	wait(EventIfaceAdded, "x0")
	traffic(t, b, nsX, nsY, netip.MustParseAddr("10.79.0.2"), 8100)
	idx := -1
	for i, x := range live.l.Interfaces() {
		if x.Name == "x0" && x.Active {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatalf("x0 not listed as active: %+v", live.l.Interfaces())
	}
	got := live.finish(t, 1)
	var onX0 int
	for _, s := range got {
		if int(s.Iface) == idx {
			onX0++
		}
	}
	if onX0 == 0 {
		t.Errorf("got no segment on x0 (interface %d) among %d", idx, len(got))
	}
}

func TestLive_InterfaceRemoved_IsReported(t *testing.T) {
	b := newLab(t)
	nsX, nsY := b.netns("x"), b.netns("y")
	b.veth(nsX, "x0", "10.80.0.1/24", nsY, "y0", "10.80.0.2/24")
	events := make(chan LiveEvent, 16)
	live := openLive(t, b, nsX, LiveOptions{Interfaces: []string{"x0"}, RescanEvery: -1, OnEvent: func(e LiveEvent) { events <- e }}, 1)
	b.ip(nsX, "link", "del", "x0")
	select {
	case e := <-events:
		if e.Kind != EventIfaceLost || e.Iface != "x0" || !errors.Is(e.Err, errIfaceGone) {
			t.Errorf("got event %v, want x0 lost because it went away", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event after the interface was removed")
	}
	if ifs := live.l.Interfaces(); len(ifs) != 1 || ifs[0].Active || ifs[0].Err == "" {
		t.Errorf("got interfaces %+v, want x0 inactive with a reason", ifs)
	}
}

// TestLive_Close_WhileTrafficFlows closes captures in the middle of a
// flood: readers must stop before the rings are unmapped (gopacket
// crashes otherwise), and Close must not hang.
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
