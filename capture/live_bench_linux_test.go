//go:build linux

package capture

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/connscope/connscope/model"
)

// TestLiveBench_DropOnset measures the packet rate at which live capture
// starts to drop. A Go sender writes pre-built Ethernet/IPv4/TCP frames
// (1,000 flows, 100-byte payloads) into one end of a veth pair at a fixed
// rate; the other end, in another namespace, is captured by Live, whose
// segments go through Run (live mode) to a consumer applying every batch
// to a model.Table, as the tracker does. Each rate runs with Live alone,
// then with tcpdump capturing the same stream (same snaplen and ring
// size), whose "dropped by kernel" line is reported beside ours.
//
// It takes a minute and loads both CPUs, so it runs only with
// CONNSCOPE_LIVE_BENCH=1 (as root):
//
//	CONNSCOPE_LIVE_BENCH=1 go test ./capture -run TestLiveBench -v
//
// CONNSCOPE_LIVE_BENCH_RATES overrides the rates ("100000,200000").
func TestLiveBench_DropOnset(t *testing.T) {
	if os.Getenv("CONNSCOPE_LIVE_BENCH") != "1" {
		t.Skip("set CONNSCOPE_LIVE_BENCH=1 to measure live capture's drop onset")
	}
	b := newLab(t)
	nsS, nsC := b.netns("send"), b.netns("cap")
	b.veth(nsS, "s0", "10.81.0.1/24", nsC, "c0", "10.81.0.2/24")

	rates := []int{100000, 200000, 300000, 400000, 600000}
	if s := os.Getenv("CONNSCOPE_LIVE_BENCH_RATES"); s != "" {
		rates = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				t.Fatalf("CONNSCOPE_LIVE_BENCH_RATES: %v", err)
			}
			rates = append(rates, n)
		}
	}
	const seconds = 2

	var fd int
	b.in(nsS, func() { fd = benchSender(t, "s0") })
	defer unix.Close(fd)

	t.Logf("%-9s %-9s | %-10s %-8s %-8s %-8s | %-10s %-8s %-8s | %-8s %-8s", "target", "sent/s",
		"alone:rcv", "kdrop", "qdrop", "segs", "+tcpdump:rcv", "kdrop", "qdrop", "td:rcv", "td:drop")
	for _, rate := range rates {
		count := rate * seconds
		alone := benchRun(t, b, nsC, fd, rate, count, false)
		both := benchRun(t, b, nsC, fd, rate, count, true)
		t.Logf("%-9d %-9.0f | %-10d %-8d %-8d %-8d | %-10d %-8d %-8d | %-8d %-8d", rate, alone.sentRate,
			alone.st.Packets, alone.st.KernelDrops, alone.st.QueueDrops, alone.applied,
			both.st.Packets, both.st.KernelDrops, both.st.QueueDrops, both.tdRecv, both.tdDrop)
		if rate == 200000 && alone.sentRate >= 0.95*float64(rate) && (alone.st.KernelDrops != 0 || alone.st.QueueDrops != 0) {
			t.Errorf("at 200k packets/s: got %d kernel drops and %d queue drops, want none", alone.st.KernelDrops, alone.st.QueueDrops)
		}
	}
}

type benchResult struct {
	sentRate       float64
	st             model.SourceStats
	applied        int
	tdRecv, tdDrop int
}

// benchRun sends count frames at rate while Live (and tcpdump, if asked)
// capture c0 in nsC.
func benchRun(t *testing.T, b *lab, nsC string, fd, rate, count int, withTcpdump bool) benchResult {
	t.Helper()
	var td *tcpdumpRun
	if withTcpdump {
		td = startBenchTcpdump(t, nsC)
	}
	var l *Live
	var err error
	b.in(nsC, func() { l, err = OpenLive(LiveOptions{Interfaces: []string{"c0"}, RescanEvery: -1}) })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	segs := make(chan []model.Segment, 64)
	pool := NewBatchPool(64, DefaultBatchSize)
	runDone := make(chan error, 1)
	go func() { runDone <- Run(ctx, l, segs, RunOptions{Live: true, Pool: pool}); close(segs) }()
	applied := make(chan int, 1)
	go func() {
		tb := model.NewTable(model.Config{})
		n := 0
		for batch := range segs {
			for i := range batch {
				tb.Apply(&batch[i])
			}
			n += len(batch)
			pool.Put(batch)
		}
		applied <- n
	}()

	start := time.Now()
	benchSend(t, fd, rate, count)
	sent := float64(count) / time.Since(start).Seconds()

	// Wait until every frame was read or dropped.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := l.Stats()
		if st.Packets+st.KernelDrops >= uint64(count) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Let the pipeline deliver what it read: the queue-drop count is
	// final once the consumer has everything the reader counted.
	time.Sleep(200 * time.Millisecond)
	cancel()
	<-runDone
	l.Close()
	res := benchResult{sentRate: sent, st: l.Stats(), applied: <-applied}
	if td != nil {
		res.tdDrop = td.stop()
		if m := strings.Fields(td.errText()); len(m) > 0 {
			for i, w := range m {
				if w == "received" && i >= 2 && m[i-1] == "packets" {
					res.tdRecv, _ = strconv.Atoi(m[i-2])
				}
			}
		}
	}
	return res
}

// startBenchTcpdump runs tcpdump on c0 with Live's snaplen and ring size,
// writing to /dev/null.
func startBenchTcpdump(t *testing.T, ns string) *tcpdumpRun {
	t.Helper()
	d := &tcpdumpRun{t: t, exited: make(chan struct{})}
	d.cmd = exec.Command("ip", "netns", "exec", ns, "tcpdump", "-i", "c0", "-n", "-s", strconv.Itoa(DefaultLiveSnaplen),
		"-B", strconv.Itoa(DefaultRingSize>>10), "-w", "/dev/null")
	return d.startWith(t)
}

// benchSender opens a raw packet socket on iface that bypasses the qdisc.
func benchSender(t *testing.T, iface string) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	links, err := listLinks()
	if err != nil {
		t.Fatal(err)
	}
	idx := 0
	for _, k := range links {
		if k.name == iface {
			idx = k.index
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: idx}); err != nil {
		t.Fatal(err)
	}
	unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	return fd
}

// benchSend writes count frames at rate, in bursts of a millisecond's
// worth. The destination MAC is not the peer's, so the peer's stack
// drops the frames right after the capture taps see them.
func benchSend(t *testing.T, fd, rate, count int) {
	t.Helper()
	const flows = 1000
	frames := make([][]byte, flows)
	for i := range frames {
		f := tcpFrame{src: "10.81.0.1", dst: "10.81.0.2", sport: uint16(20000 + i), dport: 443, seq: uint32(i) << 20, ack: 1,
			flags: model.FlagACK | model.FlagPSH, ipid: 1, payload: 100}
		fr := f.bytes()
		copy(fr[0:6], []byte{0x02, 0, 0, 0, 0, 0x99})
		copy(fr[6:12], []byte{0x02, 0, 0, 0, 0, 0x01})
		frames[i] = fr
	}
	burst := max(rate/1000, 1)
	start := time.Now()
	for i := 0; i < count; i++ {
		if i%burst == 0 {
			due := start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		fr := frames[i%flows]
		// Next segment of this flow: seq and IP ID advance.
		seq := binary.BigEndian.Uint32(fr[38:]) + 100
		binary.BigEndian.PutUint32(fr[38:], seq)
		binary.BigEndian.PutUint16(fr[18:], binary.BigEndian.Uint16(fr[18:])+1)
		if _, err := unix.Write(fd, fr); err != nil {
			if err == unix.ENOBUFS || err == unix.EAGAIN {
				i--
				continue
			}
			t.Fatalf("send: %v", err)
		}
	}
}
