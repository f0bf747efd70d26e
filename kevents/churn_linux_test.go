package kevents

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
)

// TestChurn_ReaderKeepsUp measures the source under connection churn on
// loopback: KEVENTS_CHURN_SECONDS=10 KEVENTS_CHURN_RATE=10000 go test
// -run Churn -v ./kevents. A helper process makes the connections (and
// serves them), once without the source and once with it; the test
// reports the events per second, the reader's CPU per event and the
// helper's CPU per connection in both runs (the kernel's cost of
// recording the events lands in the helper, whose tasks cause them).
func TestChurn_ReaderKeepsUp(t *testing.T) {
	secs, _ := strconv.Atoi(os.Getenv("KEVENTS_CHURN_SECONDS"))
	if secs <= 0 {
		t.Skip("set KEVENTS_CHURN_SECONDS (and KEVENTS_CHURN_RATE) to measure churn")
	}
	rate := 10000
	if r, err := strconv.Atoi(os.Getenv("KEVENTS_CHURN_RATE")); err == nil && r > 0 {
		rate = r
	}
	base := runChurn(t, secs, rate)
	t.Logf("baseline: %d connections in %v, helper CPU %v (%.1f us/conn)", base.conns, base.wall, base.cpu,
		float64(base.cpu.Microseconds())/float64(base.conns))

	s := openTest(t)
	var cpu0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &cpu0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var n atomic.Uint64
	reasons := make(map[string]int)
	wg.Go(func() {
		var buf []model.KernelEvent
		for {
			buf, _ = s.Read(buf[:0])
			n.Add(uint64(len(buf)))
			for i := range buf {
				if buf[i].Reason != "" {
					reasons[buf[i].Kind.String()+" "+buf[i].Reason]++
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(s.opts.Interval):
			}
		}
	})
	with := runChurn(t, secs, rate)
	time.Sleep(2 * s.opts.Interval)
	close(stop)
	wg.Wait()
	var cpu1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &cpu1)
	reader := time.Duration(cpu1.Utime.Nano() + cpu1.Stime.Nano() - cpu0.Utime.Nano() - cpu0.Stime.Nano())
	st := s.Stats()
	t.Logf("traced:   %d connections in %v, helper CPU %v (%.1f us/conn)", with.conns, with.wall, with.cpu,
		float64(with.cpu.Microseconds())/float64(with.conns))
	t.Logf("events: %d (%.0f/s, %.1f per connection), lost %d; reader CPU %v = %.1f%% of one core, %.2f us/event",
		n.Load(), float64(n.Load())/with.wall.Seconds(), float64(n.Load())/float64(with.conns), st.KernelLost,
		reader, 100*reader.Seconds()/with.wall.Seconds(), float64(reader.Nanoseconds())/1e3/float64(n.Load()))
	t.Logf("per kind: %v; reasons %v", st.PerKind, reasons)
	if st.KernelLost != 0 {
		t.Errorf("the reader lost %d events", st.KernelLost)
	}
	if n.Load() < 5*with.conns {
		t.Errorf("got %d events for %d connections, want at least 5 each", n.Load(), with.conns)
	}
}

type churnResult struct {
	conns uint64
	wall  time.Duration
	cpu   time.Duration
}

// runChurn runs the churn helper and returns what it did and its CPU.
func runChurn(t *testing.T, secs, rate int) churnResult {
	t.Helper()
	cmd := helperCommand(t, "churn")
	cmd.Env = append(cmd.Env, "KEVENTS_CHURN_SECONDS="+strconv.Itoa(secs), "KEVENTS_CHURN_RATE="+strconv.Itoa(rate))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("churn helper: %v", err)
	}
	var r churnResult
	var wall int64
	if _, err := fmt.Sscan(string(out), &r.conns, &wall); err != nil {
		t.Fatalf("churn helper said %q: %v", out, err)
	}
	r.wall = time.Duration(wall)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return r
}

// churn serves and makes connections at rate per second for secs seconds
// (in steps of 10 ms), each writing a byte that the server echoes, then
// prints the connections made and the wall time in nanoseconds.
func churn(secs, rate int) int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				b := make([]byte, 1)
				c.Read(b)
				c.Write(b)
				c.Close()
			}()
		}
	}()
	addr := ln.Addr().String()
	var done atomic.Uint64
	per := max(rate/100, 1)
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for time.Since(start) < time.Duration(secs)*time.Second {
		for range per {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				c, err := net.Dial("tcp4", addr)
				if err != nil {
					return
				}
				c.Write([]byte("x"))
				c.Read(make([]byte, 1))
				c.Close()
				done.Add(1)
			})
		}
		<-tick.C
	}
	wg.Wait()
	fmt.Println(done.Load(), time.Since(start).Nanoseconds())
	return 0
}
