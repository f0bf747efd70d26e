package procinfo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The live tests run their sockets in child processes: the test binary
// re-executed with helperEnv naming a mode. Each helper prints one JSON
// object per line on stdout and exits when its stdin closes (or, thanks
// to Pdeathsig, when the test process dies).
const (
	helperEnv     = "CONNSCOPE_PROCINFO_HELPER"
	helperArgsEnv = "CONNSCOPE_PROCINFO_HELPER_ARGS"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := runHelper(mode, strings.Split(os.Getenv(helperArgsEnv), ",")); err != nil {
			fmt.Fprintf(os.Stderr, "helper %s: %v\n", mode, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// held keeps the helpers' connections referenced: a collected net.Conn
// closes its fd.
var held struct {
	sync.Mutex
	conns []net.Conn
	fds   []int
}

func hold(c net.Conn) {
	held.Lock()
	held.conns = append(held.conns, c)
	held.Unlock()
}

func emit(v any) {
	if err := json.NewEncoder(os.Stdout).Encode(v); err != nil {
		os.Exit(2)
	}
}

func waitStdin() { _, _ = io.Copy(io.Discard, os.Stdin) }

func runHelper(mode string, args []string) error {
	switch mode {
	case "server":
		return helperServer()
	case "client":
		return helperClient(args)
	case "netns":
		return helperNetNS()
	case "leak":
		return helperLeak()
	case "unpriv":
		return helperUnpriv(args)
	case "bench":
		return helperBench(args)
	case "hold":
		emit(struct{}{}) // holds what it inherited until stdin closes
		waitStdin()
		return nil
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// rawListen listens on 127.0.0.1 with an exact backlog (net.Listen uses
// somaxconn) and never accepts.
func rawListen(backlog int) (int, netip.AddrPort, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return 0, netip.AddrPort{}, err
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return 0, netip.AddrPort{}, err
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	in4 := sa.(*unix.SockaddrInet4)
	return fd, netip.AddrPortFrom(netip.AddrFrom4(in4.Addr), uint16(in4.Port)), nil
}

// serverAddrs is what the server helper reports.
type serverAddrs struct {
	Queue, Accept, Accept6 netip.AddrPort
}

// helperServer listens three times: Queue (backlog 4, never accepts),
// Accept and Accept6 (accept, then act on the first byte: 'T' closes after
// the peer does, anything else is held open forever).
func helperServer() error {
	qfd, qaddr, err := rawListen(4)
	if err != nil {
		return err
	}
	held.fds = append(held.fds, qfd)
	la, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	la6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return err
	}
	for _, l := range []net.Listener{la, la6} {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					b := make([]byte, 1)
					if _, err := io.ReadFull(c, b); err == nil && b[0] == 'T' {
						_, _ = io.Copy(io.Discard, c)
						c.Close()
						return
					}
					hold(c) // 'H' ends in CLOSE-WAIT: the peer's FIN is never answered by a close
				}()
			}
		}()
	}
	emit(serverAddrs{Queue: qaddr, Accept: la.Addr().(*net.TCPAddr).AddrPort(), Accept6: la6.Addr().(*net.TCPAddr).AddrPort()})
	waitStdin()
	return nil
}

// clientConns is what the client helper reports: its local endpoints.
type clientConns struct {
	Queued              []netip.AddrPort // connected to Queue, never accepted
	Est, Est6, Half, TW netip.AddrPort
}

// helperClient connects to the server's listeners: three connections
// that stay in Queue's accept queue, one ESTABLISHED over IPv4 and one
// over IPv6, one half-closed (FIN-WAIT-2 here, CLOSE-WAIT there) and one
// closed first (TIME-WAIT here).
func helperClient(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("want 3 addresses, got %q", args)
	}
	var out clientConns
	dial := func(addr string, code byte) (*net.TCPConn, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		if code != 0 {
			if _, err := c.Write([]byte{code}); err != nil {
				return nil, err
			}
		}
		return c.(*net.TCPConn), nil
	}
	local := func(c net.Conn) netip.AddrPort { return c.LocalAddr().(*net.TCPAddr).AddrPort() }
	for range 3 {
		c, err := dial(args[0], 0)
		if err != nil {
			return err
		}
		hold(c)
		out.Queued = append(out.Queued, local(c))
	}
	for _, x := range []struct {
		addr string
		code byte
		dst  *netip.AddrPort
	}{{args[1], 'E', &out.Est}, {args[2], 'E', &out.Est6}, {args[1], 'H', &out.Half}, {args[1], 'T', &out.TW}} {
		c, err := dial(x.addr, x.code)
		if err != nil {
			return err
		}
		*x.dst = local(c)
		switch x.code {
		case 'H':
			if err := c.CloseWrite(); err != nil {
				return err
			}
			hold(c)
		case 'T':
			c.Close()
		default:
			hold(c)
		}
	}
	emit(out)
	waitStdin()
	return nil
}

// loUp brings up the loopback of a fresh network namespace.
func loUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	return netlink.LinkSetUp(lo)
}

// netnsConns is what the netns helper reports.
type netnsConns struct {
	Listen, Client netip.AddrPort
}

// helperNetNS runs inside a network namespace of its own: a listener and
// one connection to itself.
func helperNetNS() error {
	if err := loUp(); err != nil {
		return err
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		return err
	}
	a, err := l.Accept()
	if err != nil {
		return err
	}
	hold(c)
	hold(a)
	emit(netnsConns{Listen: l.Addr().(*net.TCPAddr).AddrPort(), Client: c.LocalAddr().(*net.TCPAddr).AddrPort()})
	waitStdin()
	return nil
}

// leakSoftLimit is the leak helper's RLIMIT_NOFILE soft limit.
const leakSoftLimit = 256

// leakReport is what the leak helper reports: first its address, then
// the time accept failed with EMFILE.
type leakReport struct {
	Addr     netip.AddrPort `json:",omitzero"`
	EMFILEAt int64          `json:",omitempty"`
	Held     int            `json:",omitempty"`
}

// helperLeak accepts connections and never closes them, under a soft fd
// limit of 256, until accept fails with EMFILE.
func helperLeak() error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	lim.Cur = leakSoftLimit
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	emit(leakReport{Addr: l.Addr().(*net.TCPAddr).AddrPort()})
	n := 0
	for {
		c, err := l.Accept()
		if errors.Is(err, syscall.EMFILE) {
			emit(leakReport{EMFILEAt: time.Now().UnixNano(), Held: n})
			break
		}
		if err != nil {
			return err
		}
		hold(c)
		n++
	}
	waitStdin()
	return nil
}

// unprivReport is what a poll without privileges saw.
type unprivReport struct {
	Limitations []string
	Sockets     int
	// OwnOwner and OwnPID describe the helper's own listener; RootOwner
	// the test process's listener (another user's).
	OwnOwner, RootOwner string
	OwnPID              int32
	OwnFDs              int
}

// helperUnpriv runs as an unprivileged user: one poll, reported.
func helperUnpriv(args []string) error {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// Held to the end: a listener no longer referenced may be collected,
	// and its finalizer closes the socket before the poll.
	defer l.Close()
	own := l.Addr().(*net.TCPAddr).AddrPort()
	root, err := netip.ParseAddrPort(args[0])
	if err != nil {
		return err
	}
	p, err := New(Config{})
	if err != nil {
		return err
	}
	v, err := p.Poll(time.Now())
	if err != nil {
		return err
	}
	r := unprivReport{Limitations: v.Limitations, Sockets: len(v.Sockets), OwnOwner: "absent", RootOwner: "absent"}
	for _, s := range v.Sockets {
		switch {
		case s.State == model.StateListen && s.Local == own:
			r.OwnOwner, r.OwnPID = s.Owner.String(), s.PID
			if pr := v.Process(s.PID); pr != nil {
				r.OwnFDs = pr.FDs
			}
		case s.State == model.StateListen && s.Local == root:
			r.RootOwner = s.Owner.String()
		}
	}
	emit(r)
	return nil
}

// helper is a running helper process.
type helper struct {
	cmd    *exec.Cmd
	pid    int32
	stdin  io.WriteCloser
	lines  chan []byte
	stderr *bytes.Buffer
}

// startHelper starts the test binary in mode with args; prep may adjust
// the command (namespaces, credentials, another program in front). The
// helper is killed and reaped when the test ends.
func startHelper(t testing.TB, mode string, args []string, prep func(*exec.Cmd)) *helper {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("test binary: %v", err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperArgsEnv+"="+strings.Join(args, ","))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if prep != nil {
		prep(cmd)
	}
	h := &helper{cmd: cmd, lines: make(chan []byte, 16), stderr: &bytes.Buffer{}}
	cmd.Stderr = h.stderr
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatalf("helper %s stdin: %v", mode, err)
	}
	// An os.Pipe of our own, not StdoutPipe: Wait closes that one when
	// the helper exits, possibly before its last line was read.
	stdout, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("helper %s stdout: %v", mode, err)
	}
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		stdout.Close()
		t.Fatalf("start helper %s: %v", mode, err)
	}
	h.pid = int32(cmd.Process.Pid)
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		// EOF asks the helper to tidy up and exit; the kill (of the pid
		// this test started, nothing else) covers one that does not.
		h.stdin.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			h.lines <- bytes.Clone(sc.Bytes())
		}
		close(h.lines)
		stdout.Close()
	}()
	return h
}

// read decodes the helper's next line into v, failing the test after
// timeout or if the helper exits first.
func (h *helper) read(t testing.TB, v any, timeout time.Duration) {
	t.Helper()
	select {
	case line, ok := <-h.lines:
		if !ok {
			t.Fatalf("helper %d exited: %s", h.pid, h.stderr)
		}
		if err := json.Unmarshal(line, v); err != nil {
			t.Fatalf("helper %d line %q: %v", h.pid, line, err)
		}
	case <-time.After(timeout):
		t.Fatalf("helper %d said nothing for %v (stderr: %s)", h.pid, timeout, h.stderr)
	}
}
