//go:build linux

package capture

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
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

	"github.com/connscope/connscope/model"
)

// The live tests create their own network namespaces (so that nothing
// else on the machine shows up in a capture) and generate real kernel TCP
// traffic in them while connscope's Live source and tcpdump capture the
// same interface. They need root, as CI has; without it they skip.

// labPrefix starts the name of every namespace (and mount) the tests
// create; a leftover namespace of a killed run (its pid is gone) is
// removed by the next run. CONNSCOPE_TEST_PREFIX replaces it, so that
// runs sharing a machine keep to names of their own.
var labPrefix = cmp.Or(os.Getenv("CONNSCOPE_TEST_PREFIX"), "cslive")

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
func startTcpdump(t *testing.T, ns, iface, expr string, opts ...string) *tcpdumpRun {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), iface+"-*.pcap")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	d := &tcpdumpRun{t: t, path: f.Name(), exited: make(chan struct{})}
	// Headers only and a large buffer, as Live: whole 64 KiB loopback
	// segments would overflow tcpdump's default 2 MiB ring.
	args := []string{"netns", "exec", ns, "tcpdump", "-i", iface, "-n", "-U", "--immediate-mode", "-Z", "root", "-s", "256", "-B", "16384", "-w", d.path}
	args = append(args, opts...)
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
		// In batches, as Run reads a Live.
		buf := make([]model.Segment, 0, 256)
		for {
			out, err := r.l.NextBatch(buf[:0], time.Time{}, nil)
			if err == io.EOF {
				return
			}
			if err == nil {
				r.mu.Lock()
				r.segs = append(r.segs, out...)
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
