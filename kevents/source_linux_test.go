package kevents

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
)

// listen returns a loopback listener that accepts connections and hands
// each to serve on its own goroutine.
func listen(t *testing.T, serve func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln
}

func addrPort(a net.Addr) netip.AddrPort { return a.(*net.TCPAddr).AddrPort() }

func reset(reason string, local, remote netip.AddrPort) func(*model.KernelEvent) bool {
	return func(e *model.KernelEvent) bool {
		return e.Kind == model.KernelResetSent && e.Reason == reason && e.Local == local && e.Remote == remote
	}
}

func TestRefusedConnect_SendsNoSocketResetAndDrop(t *testing.T) {
	s := openTest(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := addrPort(ln.Addr())
	ln.Close()
	if _, err := net.Dial("tcp4", server.String()); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	isRST := func(e *model.KernelEvent) bool {
		return e.Kind == model.KernelResetSent && e.Local == server && e.Reason == "NO_SOCKET"
	}
	evs := collect(t, s, 2*time.Second, has(isRST))
	rsts := find(evs, isRST)
	if len(rsts) != 1 {
		dump(t, evs)
		t.Fatalf("got %d NO_SOCKET resets from %v, want 1", len(rsts), server)
	}
	client := rsts[0].Remote
	if rsts[0].Socket != 0 || rsts[0].NewState != model.StateUnknown {
		t.Errorf("reset without a socket: got socket %x state %v", rsts[0].Socket, rsts[0].NewState)
	}
	drops := find(evs, func(e *model.KernelEvent) bool {
		return e.Kind == model.KernelDrop && e.Reason == "NO_SOCKET" && e.Local == server && e.Remote == client
	})
	if len(drops) != 1 {
		dump(t, evs)
		t.Errorf("got %d NO_SOCKET drops joined to %v<->%v, want 1", len(drops), server, client)
	}
	syn := find(evs, func(e *model.KernelEvent) bool {
		return e.Kind == model.KernelStateChange && e.RawNew == model.LinuxTCPSynSent && e.Local == client
	})
	if len(syn) != 1 || syn[0].PID != int32(os.Getpid()) || !syn[0].IsOwnerEvent() {
		dump(t, evs)
		t.Errorf("connect: got %d SYN-SENT events from %v, want 1 owned by pid %d", len(syn), client, os.Getpid())
	}
}

func TestCloseWithUnreadInput_ResetReasonAbortOnClose(t *testing.T) {
	s := openTest(t)
	accepted := make(chan net.Conn, 1)
	ln := listen(t, func(c net.Conn) { accepted <- c })
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("unread request")); err != nil {
		t.Fatal(err)
	}
	srv := <-accepted
	time.Sleep(20 * time.Millisecond) // let the data arrive, unread
	srv.Close()
	want := reset("TCP_ABORT_ON_CLOSE", addrPort(srv.LocalAddr()), addrPort(srv.RemoteAddr()))
	evs := collect(t, s, 2*time.Second, has(want))
	if len(find(evs, want)) != 1 {
		dump(t, find(evs, about(addrPort(c.LocalAddr()), addrPort(c.RemoteAddr()))))
		t.Fatal("no TCP_ABORT_ON_CLOSE reset from the server")
	}
	// The abort is the close() of the server's task: process context.
	abort := find(evs, func(e *model.KernelEvent) bool {
		return e.Kind == model.KernelStateChange && e.Local == addrPort(srv.LocalAddr()) &&
			e.Remote == addrPort(srv.RemoteAddr()) && e.RawNew == model.LinuxTCPClose
	})
	if len(abort) != 1 || !abort[0].IsOwnerEvent() || abort[0].PID != int32(os.Getpid()) {
		dump(t, abort)
		t.Error("the server's ESTABLISHED->CLOSED is not an owner event of this process")
	}
}

// SO_LINGER 0 makes close() disconnect the socket (tcp_disconnect), and
// Linux 6.10 and later give that reset the reason TCP_STATE, not
// TCP_ABORT_ON_LINGER (which tcp_close uses for a FIN-WAIT-2 socket with
// TCP_LINGER2 < 0).
func TestLingerZeroAfterExchange_ResetReasonTCPState(t *testing.T) {
	s := openTest(t)
	done := make(chan net.Conn, 1)
	ln := listen(t, func(c net.Conn) {
		buf := make([]byte, 7)
		io.ReadFull(c, buf)
		c.Write([]byte("answer"))
		time.Sleep(20 * time.Millisecond)
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		done <- c
	})
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("request"))
	io.ReadFull(c, make([]byte, 6))
	srv := <-done
	local, remote := addrPort(srv.LocalAddr()), addrPort(srv.RemoteAddr())
	isRST := func(e *model.KernelEvent) bool {
		return e.Kind == model.KernelResetSent && e.Local == local && e.Remote == remote
	}
	evs := collect(t, s, 2*time.Second, has(isRST))
	rsts := find(evs, isRST)
	if len(rsts) != 1 {
		dump(t, evs)
		t.Fatalf("got %d resets from the lingering server, want 1", len(rsts))
	}
	t.Logf("SO_LINGER 0 after a complete exchange: reason %s", rsts[0].Reason)
	if rsts[0].Reason != "TCP_STATE" {
		t.Errorf("got reason %q, want TCP_STATE (tcp_disconnect)", rsts[0].Reason)
	}
}

func TestConnectToClose_StateHistoryWithOwner(t *testing.T) {
	s := openTest(t)
	ln := listen(t, func(c net.Conn) { io.Copy(io.Discard, c); c.Close() })
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client, server := addrPort(c.LocalAddr()), addrPort(c.RemoteAddr())
	c.Write([]byte("x"))
	c.Close()
	mine := func(e *model.KernelEvent) bool {
		return e.Kind == model.KernelStateChange && e.Local == client && e.Remote == server
	}
	evs := collect(t, s, 2*time.Second, func(evs []model.KernelEvent) bool {
		st := find(evs, mine)
		return len(st) > 0 && st[len(st)-1].NewState == model.StateClosed
	})
	var got []model.State
	for _, e := range find(evs, mine) {
		got = append(got, e.NewState)
	}
	// The full socket goes from FIN-WAIT-2 to CLOSED: the TIME-WAIT
	// mini-socket that takes its place has no state event of its own.
	want := []model.State{model.StateSynSent, model.StateEstablished, model.StateFinWait1,
		model.StateFinWait2, model.StateClosed}
	if len(got) != len(want) {
		dump(t, find(evs, about(client, server)))
		t.Fatalf("client states %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("client states %v, want %v", got, want)
		}
	}
	st := find(evs, mine)
	if !st[0].IsOwnerEvent() || st[0].PID != int32(os.Getpid()) || st[0].Comm == "" {
		t.Errorf("SYN-SENT: got pid %d comm %q in-process %v, want owner pid %d", st[0].PID, st[0].Comm, st[0].InProcess, os.Getpid())
	}
	if !st[2].IsOwnerEvent() || st[2].PID != int32(os.Getpid()) {
		t.Errorf("FIN-WAIT-1 (close): got pid %d in-process %v, want owner pid %d", st[2].PID, st[2].InProcess, os.Getpid())
	}
	for i := 1; i < len(st); i++ {
		if st[i].Time < st[i-1].Time {
			t.Errorf("event %d earlier than event %d", i, i-1)
		}
	}
	now := time.Now().UnixNano()
	if d := now - st[0].Time; d < 0 || d > int64(5*time.Second) {
		t.Errorf("SYN-SENT at %d, %v before now: clock conversion is off", st[0].Time, time.Duration(d))
	}
}

func TestTwoSources_BothSeeEventsAndCloseRemovesInstances(t *testing.T) {
	a := openTest(t)
	b := openTest(t)
	if a.Name() == b.Name() {
		t.Fatalf("two sources share instance %s", a.Name())
	}
	ln := listen(t, func(c net.Conn) { c.Close() })
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client := addrPort(c.LocalAddr())
	c.Close()
	syn := func(e *model.KernelEvent) bool {
		return e.Kind == model.KernelStateChange && e.RawNew == model.LinuxTCPSynSent && e.Local == client
	}
	for _, s := range []*Source{a, b} {
		if evs := collect(t, s, 2*time.Second, has(syn)); len(find(evs, syn)) != 1 {
			t.Errorf("%s did not see the connect from %v", s.Name(), client)
		}
	}
	dirs := []string{a.dir, b.dir}
	for _, s := range []*Source{a, b} {
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := s.Read(nil); err != ErrClosed {
			t.Errorf("Read after Close: got %v, want ErrClosed", err)
		}
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("instance %s still exists after Close (%v)", d, err)
		}
	}
}

func TestOpen_RemovesInstanceOfKilledProcess(t *testing.T) {
	s := openTest(t) // tracefs is there and we may use it
	// A process that opened a source and was killed before Close leaves
	// its instance behind.
	child := helperCommand(t, "hold")
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	n, err := out.Read(buf)
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	stale := filepath.Join(filepath.Dir(s.dir), string(buf[:n]))
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("helper's instance: %v", err)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("the killed helper's instance vanished by itself: %v", err)
	}
	again := openTest(t)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("Open of %s left the dead process's instance %s (%v)", again.Name(), stale, err)
	}
	if _, err := os.Stat(s.dir); err != nil {
		t.Errorf("Open removed the live instance %s: %v", s.dir, err)
	}
}

// A process that makes 200 connections of a few milliseconds and exits
// has every connect attributed to it, with its local port, although it
// is gone before anyone could look it up in /proc.
func TestChildBurst_EveryConnectNamesTheChild(t *testing.T) {
	s := openTest(t)
	ln := listen(t, func(c net.Conn) {
		c.Read(make([]byte, 1))
		c.Write([]byte("y"))
		io.Copy(io.Discard, c)
		c.Close()
	})
	server := addrPort(ln.Addr())
	child := helperCommand(t, "burst")
	child.Env = append(child.Env, "KEVENTS_TEST_ADDR="+server.String())
	begin := time.Now()
	if err := child.Run(); err != nil {
		t.Fatalf("child: %v", err)
	}
	t.Logf("child made %d connections in %v", burstConns, time.Since(begin))
	pid := int32(child.Process.Pid)
	connect := func(e *model.KernelEvent) bool {
		return e.Kind == model.KernelStateChange && e.RawNew == model.LinuxTCPSynSent && e.Remote == server
	}
	evs := collect(t, s, 3*time.Second, func(evs []model.KernelEvent) bool { return len(find(evs, connect)) >= burstConns })
	conns := find(evs, connect)
	if len(conns) != burstConns {
		t.Fatalf("got %d connects to %v, want %d", len(conns), server, burstConns)
	}
	ports := make(map[uint16]bool)
	for _, e := range conns {
		if e.PID != pid || !e.IsOwnerEvent() || e.Comm == "" {
			t.Fatalf("connect %v: got pid %d comm %q in-process %v, want the child %d", e.Local, e.PID, e.Comm, e.InProcess, pid)
		}
		ports[e.Local.Port()] = true
	}
	if len(ports) != burstConns || ports[0] {
		t.Errorf("got %d distinct local ports (0 among them: %v), want %d", len(ports), ports[0], burstConns)
	}
	// The child closed each connection itself: its FIN-WAIT-1 transitions
	// name it too.
	closes := find(evs, func(e *model.KernelEvent) bool {
		return e.Kind == model.KernelStateChange && e.RawNew == model.LinuxTCPFinWait1 && e.Remote == server && e.PID == pid && e.IsOwnerEvent()
	})
	if len(closes) != burstConns {
		t.Errorf("got %d closes by the child, want %d", len(closes), burstConns)
	}
	if st := s.Stats(); st.KernelLost != 0 || st.DecodeErrors != 0 {
		t.Errorf("stats %+v: lost or undecodable events", st)
	}
}

// Without root, Open fails with one line that says what is missing.
func TestOpen_WithoutRoot_SaysWhy(t *testing.T) {
	openTest(t) // root, with tracefs
	// The test binary sits in a directory only root may enter: run a copy.
	dir, err := os.MkdirTemp("", "kevents-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kevents.test"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := helperCommand(t, "hold")
	cmd.Path = filepath.Join(dir, "kevents.test")
	cmd.Stderr = nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Skipf("cannot run the test binary as nobody: %v", err)
	}
	if ee.ExitCode() != 2 {
		t.Skipf("the test binary did not run as nobody (exit %d): %s", ee.ExitCode(), out)
	}
	msg := strings.TrimSpace(string(out))
	if !strings.HasPrefix(msg, "kernel events unavailable: ") || !strings.Contains(msg, "needs root") || strings.Contains(msg, "\n") {
		t.Errorf("got %q, want one line saying root is needed", msg)
	}
}
