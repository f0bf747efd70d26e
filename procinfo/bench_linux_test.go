package procinfo

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	gopsnet "github.com/shirou/gopsutil/v3/net"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// helperBench holds args[0] loopback connections to itself: two sockets
// and two fds each. On stdin EOF it resets them (SO_LINGER 0) so the
// benchmark leaves no TIME-WAIT behind.
func helperBench(args []string) error {
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	l, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	accepted := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			c, err := l.Accept()
			if err != nil {
				accepted <- err
				return
			}
			hold(c)
		}
		accepted <- nil
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			return fmt.Errorf("dial %d: %w", i, err)
		}
		hold(c)
	}
	if err := <-accepted; err != nil {
		return err
	}
	emit(map[string]int{"Ready": n})
	waitStdin()
	held.Lock()
	defer held.Unlock()
	for _, c := range held.conns {
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	return nil
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs f b.N times and reports CPU and wall time per call.
func measure(b *testing.B, f func()) {
	b.Helper()
	b.ResetTimer()
	cpu0, wall0 := cpuTime(b), time.Now()
	for i := 0; i < b.N; i++ {
		f()
	}
	cpu, wall := cpuTime(b)-cpu0, time.Since(wall0)
	b.StopTimer()
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(wall.Microseconds())/1000/float64(b.N), "wall-ms/op")
}

// BenchmarkPoll20k measures one poll over 20,000 open loopback sockets
// (4 processes holding 2,500 connections each, both ends: the hard
// RLIMIT_NOFILE here is 20,000 per process), next to the netlink
// library's dump and gopsutil's net.Connections in the same run:
//
//	go test ./procinfo/ -run '^$' -bench Poll20k -benchtime 20x
func BenchmarkPoll20k(b *testing.B) {
	const procs, conns = 4, 2500
	var helpers []*helper
	for i := 0; i < procs; i++ {
		helpers = append(helpers, startHelper(b, "bench", []string{strconv.Itoa(conns)}, nil))
	}
	for _, h := range helpers {
		var r struct{ Ready int }
		h.read(b, &r, 2*time.Minute)
	}
	const want = 2 * procs * conns
	count := func(b *testing.B, p *Poller) {
		v, err := p.Poll(time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if len(v.Sockets) < want {
			b.Fatalf("got %d sockets, want at least %d", len(v.Sockets), want)
		}
	}

	b.Run("Poll", func(b *testing.B) {
		// Steady state: the fd tables are cached and unchanged.
		p := newPoller(b, Config{})
		count(b, p)
		measure(b, func() { count(b, p) })
	})
	b.Run("PollCold", func(b *testing.B) {
		// First poll: every fd table read.
		measure(b, func() { count(b, newPoller(b, Config{})) })
	})
	b.Run("NetlinkSocketDiagTCPInfo", func(b *testing.B) {
		measure(b, func() {
			n := 0
			for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
				r, err := netlink.SocketDiagTCPInfo(fam)
				if err != nil {
					b.Fatal(err)
				}
				n += len(r)
			}
			if n < want {
				b.Fatalf("got %d sockets, want at least %d", n, want)
			}
		})
	})
	b.Run("GopsutilConnections", func(b *testing.B) {
		measure(b, func() {
			c, err := gopsnet.Connections("tcp")
			if err != nil {
				b.Fatal(err)
			}
			if len(c) < want {
				b.Fatalf("got %d connections, want at least %d", len(c), want)
			}
		})
	})
}
