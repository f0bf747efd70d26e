package procinfo

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/connscope/connscope/model"
	"golang.org/x/sys/unix"
)

// nsHandles are what a dump of one namespace needs from inside it: an
// INET_DIAG socket (which stays bound to the namespace it was created in)
// and the namespace's own /proc/net/netstat and port range, read while the
// thread is there.
type nsHandles struct {
	fd         int
	netstat    netstatCounters
	netstatErr error
	ports      model.PortRange
	portsErr   error
}

// openNS prepares a namespace's dump. An empty path means the namespace
// the process runs in; otherwise path is a network namespace file
// (/proc/PID/ns/net, /run/netns/NAME) entered with setns.
func openNS(path string) (nsHandles, error) {
	if path == "" {
		return nsHandlesHere()
	}
	type result struct {
		h   nsHandles
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread stays locked unless it is back in its own namespace:
		// a goroutine that exits locked takes its thread down with it, so
		// no other goroutine ever runs in the foreign namespace.
		runtime.LockOSThread()
		h, restored, err := inNS(path)
		if restored {
			runtime.UnlockOSThread()
		}
		ch <- result{h, err}
	}()
	r := <-ch
	return r.h, r.err
}

// inNS runs on a locked thread: enter path, open the handles, come back.
func inNS(path string) (h nsHandles, restored bool, err error) {
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return h, true, fmt.Errorf("open own network namespace: %w", err)
	}
	defer unix.Close(self)
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return h, true, fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return h, true, fmt.Errorf("enter %s: %w", path, err)
	}
	h, err = nsHandlesHere()
	if rerr := unix.Setns(self, unix.CLONE_NEWNET); rerr != nil {
		if err == nil {
			unix.Close(h.fd)
		}
		return nsHandles{}, false, fmt.Errorf("return from %s: %w", path, rerr)
	}
	return h, true, err
}

// nsHandlesHere opens the handles in the current thread's namespace.
func nsHandlesHere() (nsHandles, error) {
	var h nsHandles
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_INET_DIAG)
	if err != nil {
		return h, fmt.Errorf("open INET_DIAG socket: %w", err)
	}
	// A dump answers at once; the timeout only guards against a kernel
	// that never does, so a poll cannot hang forever.
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return h, fmt.Errorf("INET_DIAG socket timeout: %w", err)
	}
	h.fd = fd
	// thread-self, not self: /proc/self/net follows the thread-group
	// leader, which stays in the process's namespace.
	if f, err := os.Open("/proc/thread-self/net/netstat"); err != nil {
		h.netstatErr = err
	} else {
		h.netstat, h.netstatErr = parseNetstat(f)
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err != nil {
		h.portsErr = err
	} else {
		h.ports, h.portsErr = parsePortRange(b)
	}
	return h, nil
}

// dumper runs INET_DIAG dumps with one reused receive buffer.
type dumper struct {
	buf []byte
	seq uint32
	// perFamily is set once the kernel refused the one-walk request for
	// both families: dumps then ask per family.
	perFamily bool
}

// dump appends every TCP socket of fd's namespace to socks. interrupted
// reports a dump the kernel flagged inconsistent.
func (d *dumper) dump(fd int, netns uint64, socks []model.Socket) (out []model.Socket, interrupted bool, err error) {
	if d.buf == nil {
		// The kernel fills at most 32 KiB per read of a dump; a larger
		// buffer never truncates one.
		d.buf = make([]byte, 64<<10)
	}
	if !d.perFamily {
		d.seq++
		n := len(socks)
		out, interrupted, err = d.run(fd, diagRequestBoth(d.seq), netns, socks)
		var errno syscall.Errno
		if err == nil || len(out) > n || !errors.As(err, &errno) {
			return out, interrupted, err
		}
		d.perFamily = true // refused before any socket: not in this kernel
		socks = out
	}
	for _, fam := range [...]uint8{afInet, afInet6} {
		d.seq++
		var intr bool
		socks, intr, err = d.run(fd, diagRequest(fam, d.seq), netns, socks)
		interrupted = interrupted || intr
		if err != nil {
			return socks, interrupted, fmt.Errorf("family %d: %w", fam, err)
		}
	}
	return socks, interrupted, nil
}

// run sends one dump request and reads its answer to the end.
func (d *dumper) run(fd int, req []byte, netns uint64, socks []model.Socket) ([]model.Socket, bool, error) {
	p := diagParser{netns: netns, seq: d.seq}
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return socks, false, fmt.Errorf("send INET_DIAG request: %w", err)
	}
	for done := false; !done; {
		n, _, err := unix.Recvfrom(fd, d.buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return socks, p.intr, fmt.Errorf("read INET_DIAG dump: %w", err)
		}
		if n == 0 {
			return socks, p.intr, errors.New("read INET_DIAG dump: socket closed")
		}
		socks, done, err = p.parse(d.buf[:n], socks)
		if err != nil {
			return socks, p.intr, fmt.Errorf("INET_DIAG dump: %w", err)
		}
	}
	return socks, p.intr, nil
}
