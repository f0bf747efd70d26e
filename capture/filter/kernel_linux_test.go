//go:build linux

package filter

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// attach installs raw on the socket with SO_ATTACH_FILTER, which makes
// the kernel check the program (sk_chk_filter / bpf_check_classic).
func attach(fd int, raw []bpf.RawInstruction) error {
	if len(raw) == 0 {
		return errors.New("empty program")
	}
	prog := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		prog[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	// The kernel charges a new filter to the socket's option memory
	// (net.core.optmem_max) before it frees the old one: detach first
	// so that each program is judged alone.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0)
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog)
}

// packetSocket opens an AF_PACKET socket, or skips the test without root.
func packetSocket(t *testing.T, proto uint16) int {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("attaching a filter to an AF_PACKET socket needs root (CAP_NET_RAW); skipped")
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(proto)))
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		t.Skipf("AF_PACKET socket refused (%v); skipped", err)
	}
	if err != nil {
		t.Fatalf("AF_PACKET socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// TestKernel_AcceptsEveryProgram attaches every program the differential
// test compiles, for every link type, with and without the loopback
// prefix and the optimizer, to a real AF_PACKET socket.
func TestKernel_AcceptsEveryProgram(t *testing.T) {
	fd := packetSocket(t, 0) // protocol 0: the socket receives nothing
	links := []uint16{LinkTypeEthernet, LinkTypeLinuxSLL, LinkTypeLinuxSLL2, LinkTypeRaw, LinkTypeIPv4, LinkTypeIPv6, LinkTypeNull, LinkTypeLoop}
	variants := []struct {
		name    string
		opts    []Option
		shipped bool // what Compile gives callers
	}{
		{"optimized", nil, true},
		{"with the loopback prefix", []Option{DropOutgoing()}, true},
		{"unoptimized", []Option{withoutOptimizer()}, false},
	}
	exprs := append([]string{""}, diffExprs...)
	attached := 0
	for _, lt := range links {
		for _, expr := range exprs {
			for _, v := range variants {
				p, err := Compile(expr, lt, 0, v.opts...)
				if err != nil {
					continue // e.g. vlan on a cooked capture
				}
				short := expr
				if len(short) > 60 {
					short = short[:60] + "..."
				}
				raw := p.Raw()
				if len(raw) > MaxKernelInstructions {
					t.Errorf("link type %d %q %s: %d instructions, more than the kernel's %d", lt, short, v.name, len(raw), MaxKernelInstructions)
					continue
				}
				err = attach(fd, raw)
				if errors.Is(err, unix.ENOMEM) && !v.shipped {
					// The translated program outgrew net.core.optmem_max:
					// a size limit, not a refusal of the code.
					t.Logf("link type %d %q %s: %d instructions exceed the socket's option memory", lt, short, v.name, len(raw))
					continue
				}
				if err != nil {
					t.Errorf("link type %d %q %s (%d instructions): SO_ATTACH_FILTER: %v", lt, short, v.name, len(raw), err)
					continue
				}
				attached++
			}
		}
	}
	if attached == 0 {
		t.Fatalf("no program attached")
	}
	t.Logf("the kernel accepted %d programs", attached)
	// A broken program must fail, or the check above proves nothing.
	bad := []bpf.RawInstruction{{Op: 0x15, Jt: 5, Jf: 0, K: 1}, {Op: 0x06, K: 0}} // jeq past the end
	if err := attach(fd, bad); err == nil {
		t.Errorf("the kernel accepted a jump past the end of the program")
	}
}

// TestKernel_FiltersLoopbackLikeTheVM sends UDP datagrams over lo and
// reads them back through a filtered AF_PACKET socket bound to lo: the
// kernel must pass exactly the datagram the filter names, once (the
// DropOutgoing prefix removes the outgoing copy), and the VM must agree
// on the bytes received.
func TestKernel_FiltersLoopbackLikeTheVM(t *testing.T) {
	fd := packetSocket(t, unix.ETH_P_ALL)
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no loopback interface: %v", err)
	}
	// Two ports no one else uses: bound by us for the duration.
	want, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	port := want.LocalAddr().(*net.UDPAddr).Port
	expr := "udp dst port " + strconv.Itoa(port) + " and host 127.0.0.1"
	p, err := Compile(expr, LinkTypeEthernet, 0, DropOutgoing())
	if err != nil {
		t.Fatal(err)
	}
	if err := attach(fd, p.Raw()); err != nil {
		t.Fatalf("SO_ATTACH_FILTER: %v", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: lo.Index}); err != nil {
		t.Fatalf("bind to lo: %v", err)
	}
	tv := unix.NsecToTimeval((300 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	// Drain anything queued between socket creation and attach.
	buf := make([]byte, 65536)
	for {
		if _, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT); err != nil {
			break
		}
	}
	send := func(to net.Addr, payload string) {
		c, err := net.DialUDP("udp4", nil, to.(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(payload)); err != nil {
			t.Fatal(err)
		}
	}
	send(other.LocalAddr(), "not for the filter")
	send(want.LocalAddr(), "for the filter")
	var got [][]byte
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			break // timeout: nothing more
		}
		got = append(got, append([]byte(nil), buf[:n]...))
	}
	if len(got) != 1 {
		t.Fatalf("got %d packets through the kernel filter %q, want 1", len(got), expr)
	}
	if !p.Match(got[0]) {
		t.Errorf("the VM rejects the packet the kernel accepted: %x", got[0])
	}
	if dport := binary.BigEndian.Uint16(got[0][14+20+2:]); int(dport) != port {
		t.Errorf("got a packet to port %d, want %d", dport, port)
	}
}
