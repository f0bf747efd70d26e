//go:build linux

package capture

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/connscope/connscope/model"
)

// The CPU benchmarks run every party in a process of its own, so that
// each one's CPU time is its own: a sender process writes pre-built
// Ethernet/IPv4/TCP frames into one end of a veth pair, and a capture
// process reads the other end. The capture process is this test binary
// (TestLiveBenchChild): Live, then Run in live mode, then a consumer
// applying every batch to a model.Table, as the tracker does; or the same
// child of another build of this package (CONNSCOPE_LIVE_BENCH_BASELINE,
// the path of a test binary built with this file, e.g. from an older
// commit); or tcpdump writing to /dev/null with the same snaplen. The
// kernel's receive path, the capture taps included, runs in the sender's
// system calls and is charged to the sender, for every capturer alike.
//
//	CONNSCOPE_LIVE_BENCH=1 go test ./capture -run 'TestLiveBench_(CPU|Drain)$' -v
//
// Besides its table, each run prints a line in the benchmark format per
// measurement ("BenchmarkLiveCPU/impl=connscope/procs=2/readers=1 900000
// 251.3 ns/pkt 0 drops"), for benchstat.
//
// Both need root. Knobs: CONNSCOPE_LIVE_BENCH_RATE (300000 packets/s),
// _PACKETS (900000 for CPU, 400000 for Drain), _ROUNDS (3), _PROCS (the
// GOMAXPROCS values the capture children run with, "1,2"; "2/2" is
// GOMAXPROCS 2 with two readers per interface),
// _BASELINE (see above), _NOTCPDUMP=1, _APPLY=0 (the capture child only
// counts the segments, so that its CPU time is the capture path's alone),
// _CMDS ("NAME=ARGV;..." whole commands capturing c0 until SIGINT, such
// as "new=/path/connscope -i c0 --report --no-procinfo").

// TestLiveBench_CPU measures the CPU time each capturer spends per packet
// at a fixed packet rate: the sum of its threads' run time
// (/proc/PID/task/*/schedstat) from the first packet sent to 300 ms after
// the last, over the packets sent.
func TestLiveBench_CPU(t *testing.T) {
	cb := newCPUBench(t, 900000)
	rate := benchEnvInt(t, "CONNSCOPE_LIVE_BENCH_RATE", 300000)
	t.Logf("%d packets at %d packets/s, 1,000 flows both ways, %d rounds", cb.packets, rate, cb.rounds)
	t.Logf("%-22s %-9s %-9s %-8s %-9s %-9s %-9s", "capturer", "sent/s", "captured", "drops", "cpu", "us/pkt", "switches")
	for round := 0; round < cb.rounds; round++ {
		for i := range cb.cands {
			c := cb.cands[(i+round)%len(cb.cands)]
			cp := cb.start(c, 0, 0)
			perf := cb.perf(c, cp.pid())
			cpu0, sw0 := taskCPU(t, cp.pid()), taskSwitches(cp.pid())
			sent, took := cb.send(rate, cb.packets)
			time.Sleep(300 * time.Millisecond)
			cpu, sw := taskCPU(t, cp.pid())-cpu0, taskSwitches(cp.pid())-sw0
			perf()
			got, drops := cp.stop()
			t.Logf("%-22s %-9.0f %-9d %-8d %-9s %-9.3f %-9d", c.name, float64(sent)/took.Seconds(), got, drops,
				cpu.Round(time.Millisecond), float64(cpu.Microseconds())/float64(sent), sw)
			fmt.Printf("BenchmarkLiveCPU/%s %d %.1f ns/pkt %d drops\n", c.key, sent, float64(cpu.Nanoseconds())/float64(sent), drops)
		}
	}
}

// TestLiveBench_Drain measures how fast each capturer empties a full
// ring: with the capturer stopped (SIGSTOP), the sender writes the
// packets into its ring as fast as it can; then the capturer is continued
// and timed until it has handled all of them. That rate is the most the
// capturer sustains when it has the machine to itself, which the sender,
// itself bound by the kernel's receive path, cannot reach on 2 cores.
func TestLiveBench_Drain(t *testing.T) {
	cb := newCPUBench(t, 400000)
	ring := 256 << 20
	t.Logf("%d packets into a stopped capturer's %d MiB ring, then drained; %d rounds", cb.packets, ring>>20, cb.rounds)
	t.Logf("%-22s %-9s %-9s %-8s %-10s %-10s", "capturer", "sent/s", "captured", "drops", "drain", "packets/s")
	for round := 0; round < cb.rounds; round++ {
		for i := range cb.cands {
			c := cb.cands[(i+round)%len(cb.cands)]
			cp := cb.start(c, ring, cb.packets)
			cp.cmd.Process.Signal(syscall.SIGSTOP)
			sent, took := cb.send(0, cb.packets)
			// Every block retires (tcpdump's after a second).
			time.Sleep(1200 * time.Millisecond)
			perf := cb.perf(c, cp.pid())
			t0 := time.Now()
			cp.cmd.Process.Signal(syscall.SIGCONT)
			var drain time.Duration
			select {
			case <-cp.done:
				drain = time.Since(t0)
			case <-time.After(20 * time.Second):
			}
			perf()
			got, drops := cp.stop()
			rate := 0.0
			if drain > 0 {
				rate = float64(cb.packets) / drain.Seconds()
			}
			t.Logf("%-22s %-9.0f %-9d %-8d %-10s %-10.0f", c.name, float64(sent)/took.Seconds(), got, drops,
				drain.Round(time.Millisecond), rate)
			fmt.Printf("BenchmarkLiveDrain/%s %d %.0f pkts/s %d drops\n", c.key, sent, rate, drops)
		}
	}
}

// TestLiveBenchChild is the sender or the capture process of the CPU
// benchmarks; it does nothing unless started by them.
func TestLiveBenchChild(t *testing.T) {
	switch os.Getenv("CONNSCOPE_LIVE_BENCH_CHILD") {
	case "send":
		benchSenderChild(t)
	case "capture":
		benchCaptureChild(t)
	default:
		t.Skip("run by TestLiveBench_CPU and TestLiveBench_Drain")
	}
}

// benchCandidate is one capturer: a command and how its output reports.
type benchCandidate struct {
	name    string
	argv    []string // a command capturing on c0 until SIGINT, e.g. a connscope binary
	key     string   // its name in benchmark lines: "impl=connscope/procs=2/readers=1"
	tcpdump bool
	bin     string   // test binary, for a capture child
	env     []string // extra environment
}

type cpuBench struct {
	t       *testing.T
	b       *lab
	nsC     string
	packets int
	rounds  int
	cands   []benchCandidate
	send    func(rate, count int) (int, time.Duration)
}

func benchEnvInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

func newCPUBench(t *testing.T, packets int) *cpuBench {
	if os.Getenv("CONNSCOPE_LIVE_BENCH") != "1" {
		t.Skip("set CONNSCOPE_LIVE_BENCH=1 to measure live capture's CPU time")
	}
	b := newLab(t)
	nsS, nsC := b.netns("send"), b.netns("cap")
	b.veth(nsS, "s0", "10.81.0.1/24", nsC, "c0", "10.81.0.2/24")
	cb := &cpuBench{t: t, b: b, nsC: nsC,
		packets: benchEnvInt(t, "CONNSCOPE_LIVE_BENCH_PACKETS", packets),
		rounds:  benchEnvInt(t, "CONNSCOPE_LIVE_BENCH_ROUNDS", 3)}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Each configuration is GOMAXPROCS, or GOMAXPROCS/readers per
	// interface ("2/2": two processors, two readers).
	procs := strings.Split(os.Getenv("CONNSCOPE_LIVE_BENCH_PROCS"), ",")
	if os.Getenv("CONNSCOPE_LIVE_BENCH_PROCS") == "" {
		procs = []string{"1", "2"}
	}
	base := os.Getenv("CONNSCOPE_LIVE_BENCH_BASELINE")
	for _, p := range procs {
		p = strings.TrimSpace(p)
		gmp, readers, _ := strings.Cut(p, "/")
		env := []string{"GOMAXPROCS=" + gmp, "CONNSCOPE_LIVE_BENCH_READERS=" + readers}
		if base != "" && readers == "" {
			cb.cands = append(cb.cands, benchCandidate{name: "baseline P=" + p, key: benchKey("baseline", gmp, readers), bin: base, env: env})
		}
		cb.cands = append(cb.cands, benchCandidate{name: "connscope P=" + p, key: benchKey("connscope", gmp, readers), bin: self, env: env})
	}
	// Whole commands: "NAME=ARGV;NAME=ARGV", ARGV split on spaces.
	for _, spec := range strings.Split(os.Getenv("CONNSCOPE_LIVE_BENCH_CMDS"), ";") {
		if name, argv, ok := strings.Cut(spec, "="); ok {
			cb.cands = append(cb.cands, benchCandidate{name: name, key: "impl=" + name, argv: strings.Fields(argv)})
		}
	}
	if os.Getenv("CONNSCOPE_LIVE_BENCH_NOTCPDUMP") != "1" {
		cb.cands = append(cb.cands, benchCandidate{name: "tcpdump", key: "impl=tcpdump", tcpdump: true})
	}

	// The sender: one process for the whole test, told what to send on
	// its standard input.
	cmd := exec.Command("ip", "netns", "exec", nsS, self, "-test.run", "^TestLiveBenchChild$", "-test.v")
	cmd.Env = append(os.Environ(), "CONNSCOPE_LIVE_BENCH_CHILD=send", "CONNSCOPE_LIVE_BENCH_IFACE=s0")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	lines := benchLines(out)
	benchExpect(t, lines, "ready", 10*time.Second)
	cb.send = func(rate, count int) (int, time.Duration) {
		fmt.Fprintf(in, "send %d %d\n", rate, count)
		f := strings.Fields(benchExpect(t, lines, "sent", 60*time.Second))
		n, _ := strconv.Atoi(f[1])
		ns, _ := strconv.ParseInt(f[2], 10, 64)
		return n, time.Duration(ns)
	}
	return cb
}

// benchKey names a capture child in benchmark lines.
func benchKey(impl, procs, readers string) string {
	if readers == "" {
		readers = "1"
	}
	return "impl=" + impl + "/procs=" + procs + "/readers=" + readers
}

// benchLines delivers the lines of r.
func benchLines(r io.Reader) <-chan string {
	ch := make(chan string, 16)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

// benchExpect waits for a line starting with prefix, skipping others.
func benchExpect(t *testing.T, lines <-chan string, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("child ended before %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %q from child within %v", prefix, timeout)
		}
	}
}

// captureProc is a running capturer.
type captureProc struct {
	t       *testing.T
	c       benchCandidate
	cmd     *exec.Cmd
	lines   <-chan string
	stderr  *strings.Builder
	done    chan struct{} // it has handled the packets it was told of
	exited  chan struct{}
	stopped atomic.Bool
}

func (p *captureProc) pid() int { return p.cmd.Process.Pid }

// start runs candidate c in the capture namespace and returns once it
// captures. want > 0 makes it report (done) when it has handled that many
// packets; ring > 0 is its ring size in bytes.
func (cb *cpuBench) start(c benchCandidate, ring, want int) *captureProc {
	t := cb.t
	t.Helper()
	p := &captureProc{t: t, c: c, done: make(chan struct{}), exited: make(chan struct{}), stderr: &strings.Builder{}}
	if c.tcpdump {
		args := []string{"netns", "exec", cb.nsC, "tcpdump", "-i", "c0", "-n", "-s", strconv.Itoa(DefaultLiveSnaplen), "-w", "/dev/null"}
		kib := DefaultRingSize >> 10
		if ring > 0 {
			kib = ring >> 10
		}
		args = append(args, "-B", strconv.Itoa(kib))
		if want > 0 {
			args = append(args, "-c", strconv.Itoa(want))
		}
		p.cmd = exec.Command("ip", args...)
	} else if c.argv != nil {
		p.cmd = exec.Command("ip", append([]string{"netns", "exec", cb.nsC}, c.argv...)...)
	} else {
		p.cmd = exec.Command("ip", "netns", "exec", cb.nsC, c.bin, "-test.run", "^TestLiveBenchChild$", "-test.v")
		p.cmd.Env = append(append(os.Environ(), c.env...), "CONNSCOPE_LIVE_BENCH_CHILD=capture", "CONNSCOPE_LIVE_BENCH_IFACE=c0",
			"CONNSCOPE_LIVE_BENCH_RING="+strconv.Itoa(ring), "CONNSCOPE_LIVE_BENCH_WANT="+strconv.Itoa(want))
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errp, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", c.name, err)
	}
	t.Cleanup(func() {
		if !p.stopped.Load() {
			p.cmd.Process.Signal(syscall.SIGCONT)
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	ready := make(chan struct{}, 1)
	errLines := benchLines(errp)
	go func() {
		for l := range errLines {
			p.stderr.WriteString(l + "\n")
			if strings.Contains(l, "listening on") {
				ready <- struct{}{}
			}
		}
	}()
	outLines := benchLines(out)
	stdoutLines := make(chan string, 16)
	go func() {
		for l := range outLines {
			switch {
			case strings.HasPrefix(l, "ready"):
				ready <- struct{}{}
			case strings.HasPrefix(l, "done"):
				close(p.done)
			default:
				stdoutLines <- l
			}
		}
		close(stdoutLines)
	}()
	p.lines = stdoutLines
	go func() {
		p.cmd.Wait()
		if c.tcpdump && want > 0 {
			close(p.done) // -c: it exits once it has them
		}
		close(p.exited)
	}()
	if c.argv != nil {
		// A command says nothing when it is capturing: give it time.
		go func() { time.Sleep(1500 * time.Millisecond); ready <- struct{}{} }()
	}
	select {
	case <-ready:
	case <-p.exited:
		t.Fatalf("%s exited: %s", c.name, p.stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("%s not capturing after 10 s", c.name)
	}
	return p
}

// stop ends the capturer (as Ctrl-C does) and returns what it says it
// captured and dropped.
func (p *captureProc) stop() (captured, drops int) {
	t := p.t
	p.stopped.Store(true)
	p.cmd.Process.Signal(syscall.SIGCONT)
	p.cmd.Process.Signal(syscall.SIGINT)
	var stats string
	if !p.c.tcpdump {
		for l := range p.lines {
			if strings.HasPrefix(l, "stats") {
				stats = l
			}
		}
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("%s did not stop", p.c.name)
	}
	if p.c.argv != nil {
		return 0, 0 // what it captured is in its own output
	}
	if p.c.tcpdump {
		time.Sleep(20 * time.Millisecond) // the stderr reader
		text := p.stderr.String()
		if m := regexp.MustCompile(`(\d+) packets? captured`).FindStringSubmatch(text); m != nil {
			captured, _ = strconv.Atoi(m[1])
		}
		if m := regexp.MustCompile(`(\d+) packets? dropped by kernel`).FindStringSubmatch(text); m != nil {
			drops, _ = strconv.Atoi(m[1])
		}
		return captured, drops
	}
	if stats == "" {
		t.Errorf("%s printed no counters (%v): %s", p.c.name, p.cmd.ProcessState, p.stderr.String())
	}
	// stats packets=N kdrop=N qdrop=N applied=N
	kv := map[string]int{}
	for _, f := range strings.Fields(stats) {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k], _ = strconv.Atoi(v)
		}
	}
	if kv["qdrop"] > 0 {
		t.Logf("%s: %d kernel drops, %d queue drops", p.c.name, kv["kdrop"], kv["qdrop"])
	}
	return kv["applied"], kv["kdrop"] + kv["qdrop"]
}

// perf records a profile of capturer c (process pid) with perf(1) into
// $CONNSCOPE_LIVE_BENCH_PERF.NAME, when that is set, until the returned
// function is called.
func (cb *cpuBench) perf(c benchCandidate, pid int) func() {
	out := os.Getenv("CONNSCOPE_LIVE_BENCH_PERF")
	if out == "" {
		return func() {}
	}
	name := strings.NewReplacer(" ", "", "=", "", "/", "-").Replace(c.name)
	cmd := exec.Command("perf", "record", "-q", "-F", "4999", "-g", "-p", strconv.Itoa(pid), "-o", out+"."+name)
	if err := cmd.Start(); err != nil {
		cb.t.Fatalf("perf: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // perf is recording
	return func() { cmd.Process.Signal(syscall.SIGINT); cmd.Wait() }
}

// taskSwitches is the number of context switches of every thread of
// process pid so far.
func taskSwitches(pid int) int {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "status"))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				c, _ := strconv.Atoi(strings.TrimSpace(v))
				n += c
			}
		}
	}
	return n
}

// taskCPU is the run time of every thread of process pid so far.
func taskCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	var sum int64
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if err != nil {
			continue // the thread ended
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			sum += n
		}
	}
	return time.Duration(sum)
}

// benchSenderChild sends what its standard input asks for: "send RATE
// COUNT" (RATE 0: as fast as it can) answers "sent COUNT NANOSECONDS".
func benchSenderChild(t *testing.T) {
	fd := benchSender(t, os.Getenv("CONNSCOPE_LIVE_BENCH_IFACE"))
	defer unix.Close(fd)
	frames := benchFrames(1000)
	fmt.Println("ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "send" {
			return
		}
		rate, _ := strconv.Atoi(f[1])
		count, _ := strconv.Atoi(f[2])
		start := time.Now()
		benchWriteFrames(t, fd, frames, rate, count)
		fmt.Printf("sent %d %d\n", count, time.Since(start).Nanoseconds())
	}
}

// benchFrames builds both directions of flows TCP connections: frame 2i
// goes from client port 20000+i to the server, frame 2i+1 comes back.
// The destination MAC is not the capturing end's, so its stack drops them
// right after the capture taps see them.
func benchFrames(flows int) [][]byte {
	frames := make([][]byte, 0, 2*flows)
	for i := range flows {
		for dir := range 2 {
			f := tcpFrame{src: "10.81.0.1", dst: "10.81.0.2", sport: uint16(20000 + i), dport: 443, seq: uint32(i) << 20, ack: 1,
				flags: model.FlagACK | model.FlagPSH, ipid: 1, payload: 100}
			if dir == 1 {
				f.src, f.dst, f.sport, f.dport = f.dst, f.src, f.dport, f.sport
				f.seq, f.ack, f.payload, f.flags = 1, uint32(i)<<20, 0, model.FlagACK
			}
			fr := f.bytes()
			copy(fr[0:6], []byte{0x02, 0, 0, 0, 0, 0x99})
			copy(fr[6:12], []byte{0x02, 0, 0, 0, 0, 0x01})
			frames = append(frames, fr)
		}
	}
	return frames
}

// benchWriteFrames writes count frames at rate (0: at once), in bursts of
// a millisecond's worth; each flow's data segments advance its sequence
// number, and its ACKs acknowledge them.
func benchWriteFrames(t *testing.T, fd int, frames [][]byte, rate, count int) {
	burst := max(rate/1000, 1)
	start := time.Now()
	for i := 0; i < count; i++ {
		if rate > 0 && i%burst == 0 {
			due := start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		fr := frames[i%len(frames)]
		ip := fr[14:]
		binary.BigEndian.PutUint16(ip[4:], binary.BigEndian.Uint16(ip[4:])+1)
		if i%2 == 0 {
			binary.BigEndian.PutUint32(ip[24:], binary.BigEndian.Uint32(ip[24:])+100) // seq
		} else {
			binary.BigEndian.PutUint32(ip[28:], binary.BigEndian.Uint32(ip[28:])+100) // ack
		}
		if _, err := unix.Write(fd, fr); err != nil {
			if err == unix.ENOBUFS || err == unix.EAGAIN {
				i--
				continue
			}
			t.Fatalf("send: %v", err)
		}
	}
}

// benchCaptureChild captures as the UI does (Live, Run in live mode, a
// consumer applying every batch to a model.Table, or with
// CONNSCOPE_LIVE_BENCH_APPLY=0 only counting it) until SIGINT, then
// prints its counters.
func benchCaptureChild(t *testing.T) {
	ring, _ := strconv.Atoi(os.Getenv("CONNSCOPE_LIVE_BENCH_RING"))
	want, _ := strconv.Atoi(os.Getenv("CONNSCOPE_LIVE_BENCH_WANT"))
	opts := LiveOptions{Interfaces: []string{os.Getenv("CONNSCOPE_LIVE_BENCH_IFACE")}, RescanEvery: -1, RingSize: ring}
	if n, _ := strconv.Atoi(os.Getenv("CONNSCOPE_LIVE_BENCH_READERS")); n > 0 {
		benchReaders(&opts, n)
	}
	l, err := OpenLive(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	segs := make(chan []model.Segment, 64)
	pool := NewBatchPool(64, DefaultBatchSize)
	runDone := make(chan error, 1)
	go func() { runDone <- Run(ctx, l, segs, RunOptions{Live: true, Pool: pool}); close(segs) }()
	applied := make(chan int, 1)
	apply := os.Getenv("CONNSCOPE_LIVE_BENCH_APPLY") != "0"
	go func() {
		tb := model.NewTable(model.Config{})
		n := 0
		for batch := range segs {
			for i := range batch {
				if apply {
					tb.Apply(&batch[i])
				}
			}
			if n < want && n+len(batch) >= want {
				fmt.Println("done")
			}
			n += len(batch)
			pool.Put(batch)
		}
		applied <- n
	}()
	fmt.Println("ready")
	<-ctx.Done()
	<-runDone
	l.Close()
	st := l.Stats()
	fmt.Printf("stats packets=%d kdrop=%d qdrop=%d applied=%d\n", st.Packets, st.KernelDrops, st.QueueDrops, <-applied)
}
