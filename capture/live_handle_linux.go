//go:build linux

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// promiscer is a handle that can enter promiscuous mode.
type promiscer interface{ setPromisc() error }

// recvmsgHandle reads one packet per recvmsg call through gopacket's
// pcapgo.EthernetHandle, the fallback when the ring cannot be set up. The
// handle has no read timeout, so a pump goroutine does the reads, copying
// each packet (at most the snaplen) into a queue, and read waits on the
// queue with one: the reader can then flush its partial batch on a quiet
// link and notice Close, as with the ring. The queue also keeps the
// socket's small buffer drained while the reader decodes.
type recvmsgHandle struct {
	eh                     *pcapgo.EthernetHandle
	out                    chan recvPacket
	free                   chan []byte
	quit                   chan struct{}
	last                   []byte // the buffer read returned last
	timer                  *time.Timer
	wait                   time.Duration // how long a read waits
	woken                  chan struct{} // closed by wake
	wakeOnce               sync.Once
	packets, drops         uint64
	basePackets, baseDrops uint64
	closeOnce              sync.Once
}

type recvPacket struct {
	data []byte
	ci   gopacket.CaptureInfo
	err  error
}

// recvQueue is how many packets the pump may read ahead.
const recvQueue = 4096

func newRecvmsgHandle(eh *pcapgo.EthernetHandle) *recvmsgHandle {
	h := &recvmsgHandle{eh: eh, out: make(chan recvPacket, recvQueue), free: make(chan []byte, recvQueue+1), quit: make(chan struct{}),
		wait: ringPollTimeout, woken: make(chan struct{})}
	go h.pump()
	return h
}

func (h *recvmsgHandle) pump() {
	for {
		data, ci, err := h.eh.ZeroCopyReadPacketData()
		p := recvPacket{ci: ci, err: err}
		if err == nil {
			var buf []byte
			select {
			case buf = <-h.free:
			default:
			}
			p.data = append(buf[:0], data...)
		}
		select {
		case h.out <- p:
		case <-h.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

func (h *recvmsgHandle) ready() bool { return len(h.out) > 0 }

func (h *recvmsgHandle) read() ([]byte, int64, int, error) {
	data, ci, err := h.readCI()
	return data, ci.Timestamp.UnixNano(), ci.Length, err
}

func (h *recvmsgHandle) readCI() ([]byte, gopacket.CaptureInfo, error) {
	if h.last != nil {
		select {
		case h.free <- h.last:
		default:
		}
		h.last = nil
	}
	var p recvPacket
	select {
	case p = <-h.out:
	default:
		if h.timer == nil {
			h.timer = time.NewTimer(h.wait)
		} else {
			h.timer.Reset(h.wait)
		}
		select {
		case p = <-h.out:
			h.timer.Stop()
		case <-h.timer.C:
			return nil, gopacket.CaptureInfo{}, errReadTimeout
		case <-h.woken:
			h.timer.Stop()
			return nil, gopacket.CaptureInfo{}, errReadTimeout
		case <-h.quit:
			return nil, gopacket.CaptureInfo{}, errors.New("recvmsg: handle closed")
		}
	}
	if p.err != nil {
		return nil, p.ci, fmt.Errorf("recvmsg: %w", p.err)
	}
	h.last = p.data
	return p.data, p.ci, nil
}

func (h *recvmsgHandle) stats() (uint64, uint64, error) {
	st, err := h.eh.Stats() // counts since the previous call
	if err != nil {
		return 0, 0, err
	}
	h.packets += uint64(st.Packets)
	h.drops += uint64(st.Drops)
	return h.packets - h.basePackets, h.drops - h.baseDrops, nil
}

func (h *recvmsgHandle) resetStats() {
	h.stats()
	h.basePackets, h.baseDrops = h.packets, h.drops
}

func (h *recvmsgHandle) setWait(d time.Duration) { h.wait = d }
func (h *recvmsgHandle) wake()                   { h.wakeOnce.Do(func() { close(h.woken) }) }

func (h *recvmsgHandle) setFilter(prog []bpf.RawInstruction) error { return h.eh.SetBPF(prog) }
func (h *recvmsgHandle) setPromisc() error                         { return h.eh.SetPromiscuous(true) }

// close stops the pump (closing the socket makes its blocked read
// return, which this fork of gopacket supports).
func (h *recvmsgHandle) close() {
	h.closeOnce.Do(func() {
		close(h.quit)
		h.eh.Close()
	})
}

// rejectSocket counts the packets the capture filter rejects on one
// interface. The kernel does not count those anywhere, so a second packet
// socket runs the complement of the filter, keeping 1 byte of what it
// accepts, and is never read: its tiny receive buffer fills at once and
// every later packet is a drop, which the kernel counts. tp_packets
// (drops included) is then the number of rejected packets.
type rejectSocket struct {
	mu     sync.Mutex
	fd     int
	closed bool
	total  uint64
}

// openRejectSocket attaches prog before binding, so that nothing
// unfiltered is ever counted.
func openRejectSocket(ifindex int, prog []bpf.RawInstruction) (*rejectSocket, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0) // protocol 0: receives nothing yet
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	fail := func(call string, err error) (*rejectSocket, error) {
		unix.Close(fd)
		return nil, os.NewSyscallError(call, err)
	}
	ins := make([]unix.SockFilter, len(prog))
	for i, r := range prog {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	if len(ins) == 0 {
		return fail("setsockopt SO_ATTACH_FILTER", unix.EINVAL)
	}
	fprog := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fail("setsockopt SO_ATTACH_FILTER", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 0); err != nil {
		return fail("setsockopt SO_RCVBUF", err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons16(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	return &rejectSocket{fd: fd}, nil
}

func (s *rejectSocket) count() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		if st, err := unix.GetsockoptTpacketStats(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			s.total += uint64(st.Packets) // drops are included
		}
	}
	return s.total
}

func (s *rejectSocket) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		unix.Close(s.fd)
		s.closed = true
	}
}

// htons16 converts a 16-bit value to network byte order as the socket
// calls expect it (in a host-order integer).
func htons16(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
