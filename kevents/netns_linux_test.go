package kevents

import (
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
	"golang.org/x/sys/unix"
)

// in runs f on a thread inside the namespace. Sockets keep the namespace
// they were created in, so f's sockets may be used from anywhere after.
func (n *netns) in(t *testing.T, f func()) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // left locked on failure: the thread dies with the goroutine
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(self)
		target, err := unix.Open("/run/netns/"+n.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		f()
		if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatalf("in netns %s: %v", n.name, err)
	}
}

// nft loads an nftables ruleset into the namespace.
func (n *netns) nft(t *testing.T, rules string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", n.name, "nft", "-f", "-")
	cmd.Stdin = stringsReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
}

func needNft(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft (Debian package nftables)")
	}
}

// Keep-alive probes that go unanswered make the prober reset the
// connection with TCP_KEEPALIVE_TIMEOUT.
func TestKeepaliveTimeout_ResetReason(t *testing.T) {
	needNft(t)
	s := openTest(t)
	ns := newNetns(t, "ka")
	var ln net.Listener
	var c net.Conn
	ns.in(t, func() {
		var err error
		if ln, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
			t.Error(err)
			return
		}
		d := net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: time.Second, Interval: time.Second, Count: 2}}
		if c, err = d.Dial("tcp4", ln.Addr().String()); err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		return
	}
	defer ln.Close()
	defer c.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	server := addrPort(srv.LocalAddr())
	// From now on the server's answers are lost.
	ns.nft(t, "table inet cs_h2 { chain out { type filter hook output priority 0; tcp sport "+
		strconv.Itoa(int(server.Port()))+" drop\n}\n}\n")
	want := reset("TCP_KEEPALIVE_TIMEOUT", addrPort(c.LocalAddr()), server)
	evs := collect(t, s, 10*time.Second, has(want))
	if len(find(evs, want)) != 1 {
		dump(t, find(evs, about(addrPort(c.LocalAddr()), server)))
		t.Fatal("no TCP_KEEPALIVE_TIMEOUT reset from the client")
	}
}

// A SYN dropped by an nftables rule is a drop with reason NETFILTER_DROP.
// kfree_skb names no addresses; the drop ran in softirq on this process's
// thread, which sent the SYN over loopback.
func TestNftablesDropsSYN_NetfilterDrop(t *testing.T) {
	needNft(t)
	s := openTest(t)
	ns := newNetns(t, "nf")
	ns.nft(t, "table inet cs_h2 { chain in { type filter hook input priority 0; tcp dport 9 tcp flags syn drop\n}\n}\n")
	start := time.Now().UnixNano()
	ns.in(t, func() {
		d := net.Dialer{Timeout: 300 * time.Millisecond}
		if _, err := d.Dial("tcp4", "127.0.0.1:9"); err == nil {
			t.Error("dial through the drop rule succeeded")
		}
	})
	drop := func(e *model.KernelEvent) bool {
		return e.Kind == model.KernelDrop && e.Reason == "NETFILTER_DROP" && e.PID == int32(os.Getpid()) &&
			e.Family == model.FamilyIPv4 && e.Time >= start
	}
	evs := collect(t, s, 2*time.Second, has(drop))
	if len(find(evs, drop)) == 0 {
		dump(t, find(evs, func(e *model.KernelEvent) bool { return e.Kind == model.KernelDrop }))
		t.Fatal("no NETFILTER_DROP drop of the SYN")
	}
}

// On this kernel a SYN that finds the accept queue full is freed without
// a drop reason (tcp_conn_request counts it in ListenOverflows and
// consumes it). The drop reason TCP_LISTEN_OVERFLOW marks the handshake's
// last ACK when the queue filled after the SYN was answered: the test
// holds two handshakes open with a rule that drops the clients' ACKs,
// then lets them through to a listener with room for one more.
func TestAcceptQueueFull_ListenOverflowDrop(t *testing.T) {
	needNft(t)
	s := openTest(t)
	ns := newNetns(t, "ovf")
	ns.run(t, "sysctl", "-qw", "net.ipv4.tcp_syncookies=0")
	var lfd int
	var conns []net.Conn
	ns.in(t, func() {
		var err error
		if lfd, err = listenBacklog("127.0.0.1", 9000, 1); err != nil {
			t.Error(err)
			return
		}
		// One connection waits in the queue (backlog 1 holds two).
		c, err := net.Dial("tcp4", "127.0.0.1:9000")
		if err != nil {
			t.Error(err)
			return
		}
		conns = append(conns, c)
	})
	ns.nft(t, "table inet cs_h2 { chain in { type filter hook input priority 0; tcp dport 9000 tcp flags == ack drop\n}\n}\n")
	ns.in(t, func() {
		for range 2 {
			c, err := net.Dial("tcp4", "127.0.0.1:9000")
			if err != nil {
				t.Error(err)
				return
			}
			conns = append(conns, c)
		}
	})
	defer unix.Close(lfd)
	for _, c := range conns {
		defer c.Close()
	}
	if t.Failed() {
		return
	}
	ns.run(t, "nft", "flush", "ruleset")
	// The first held client's data completes its handshake and fills the
	// queue; the second one's finds it full.
	for _, c := range conns[1:] {
		c.Write([]byte("x"))
		time.Sleep(10 * time.Millisecond)
	}
	listener := netipAddrPort("127.0.0.1", 9000)
	ovf := func(e *model.KernelEvent) bool {
		return e.Kind == model.KernelDrop && e.Reason == "TCP_LISTEN_OVERFLOW" && e.Local.Addr() == listener.Addr() && e.Local.Port() == 9000
	}
	evs := collect(t, s, 3*time.Second, has(ovf))
	if len(find(evs, ovf)) == 0 {
		dump(t, find(evs, func(e *model.KernelEvent) bool { return e.Kind == model.KernelDrop || e.Local.Port() == 9000 }))
		t.Fatal("no TCP_LISTEN_OVERFLOW drop at the listener")
	}
	// The ACKs the rule dropped are NETFILTER_DROP drops.
	if len(find(evs, func(e *model.KernelEvent) bool { return e.Reason == "NETFILTER_DROP" && e.PID == int32(os.Getpid()) })) == 0 {
		t.Error("no NETFILTER_DROP drop of the held ACKs")
	}
}

// listenBacklog opens a listening socket with an explicit backlog (net.Listen
// always asks for the system maximum).
func listenBacklog(ip string, port, backlog int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	sa := &unix.SockaddrInet4{Port: port, Addr: netipAddrPort(ip, port).Addr().As4()}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
