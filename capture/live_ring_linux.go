//go:build linux

package capture

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// ringHandle reads a TPACKET_V3 receive ring: the kernel fills blocks of
// packets and hands each over whole, so a block costs one wake-up and its
// packets none. The socket is non-blocking and registered with Go's
// network poller: a reader with nothing to read parks its goroutine like
// any network read, instead of sleeping in a poll(2) system call, which
// would make the runtime hand its processor to another thread every time
// (a context switch or two per block, and a monitor thread woken every
// 20 microseconds while that goes on).
//
// Only the reader goroutine calls read, ready and wait; stats and
// setFilter may be called from elsewhere; close only once the reader has
// stopped (the ring is unmapped).
type ringHandle struct {
	fd   int
	ifx  int      // the interface's index
	file *os.File // owns fd; registered with the poller
	rc   syscall.RawConn
	mem  []byte

	blockSize, blocks int
	timeout           time.Duration // how long wait waits

	// The block being read: its index, whether it is ours (handed over
	// by the kernel, not yet given back), the offset of its next packet
	// and how many packets are left in it.
	blk  int
	held bool
	off  uint32
	left uint32

	woken    atomic.Bool           // wake was called: waits end at once
	waitFn   func(fd uintptr) bool // wait's poller callback, made once
	waitErr  error                 // what waitFn found
	wakeups  int                   // calls of waitFn in the current wait
	counters ringCounters
}

// ringCounters accumulates the kernel's counters, which reset on every
// read, into 64-bit totals; base is subtracted when the capture starts.
type ringCounters struct {
	packets, drops         atomic.Uint64
	basePackets, baseDrops uint64
}

// TPACKET_V3 block and packet headers (linux/if_packet.h). Offsets in a
// block descriptor: version, offset_to_priv, then tpacket_hdr_v1.
const (
	blockDescHdr = 8 // offset of the tpacket_hdr_v1 in the block descriptor
)

// openRing opens a packet socket of type sockType on interface ifindex
// with a ring of size bytes (a multiple of blockSize), binds it, and
// returns it with a filter that rejects everything in place.
func openRing(ifindex, sockType, size, blockSize int, blockTimeout, pollTimeout time.Duration) (*ringHandle, error) {
	// Protocol 0: the socket receives nothing until it is bound.
	fd, err := unix.Socket(unix.AF_PACKET, sockType|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	h := &ringHandle{fd: fd, ifx: ifindex, blockSize: blockSize, blocks: size / blockSize, timeout: pollTimeout}
	fail := func(call string, err error) (*ringHandle, error) {
		h.release()
		return nil, os.NewSyscallError(call, err)
	}
	// Reject everything until the real filter is in place: nothing
	// reaches the socket unfiltered, so there is nothing to drain.
	if err := h.setFilter(rejectAll); err != nil {
		return fail("setsockopt SO_ATTACH_FILTER", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fail("setsockopt PACKET_VERSION", err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(blockSize),
		Block_nr:       uint32(h.blocks),
		Frame_size:     ringFrameSize,
		Frame_nr:       uint32(size / ringFrameSize),
		Retire_blk_tov: uint32(blockTimeout / time.Millisecond),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fail("setsockopt PACKET_RX_RING", err)
	}
	if h.mem, err = unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return fail("mmap", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons16(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		return fail("bind", err)
	}
	h.file = os.NewFile(uintptr(fd), "packet socket")
	if h.rc, err = h.file.SyscallConn(); err != nil {
		h.close()
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	h.waitFn = h.pollReady
	h.stats() // the counters start now
	return h, nil
}

// release closes what openRing got before the file owns the socket.
func (h *ringHandle) release() {
	if h.mem != nil {
		unix.Munmap(h.mem)
		h.mem = nil
	}
	unix.Close(h.fd)
}

// status is the address of block i's status word.
func (h *ringHandle) status(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&h.mem[i*h.blockSize+blockDescHdr]))
}

// blockReady reports whether block i has been handed over by the kernel.
func (h *ringHandle) blockReady(i int) bool {
	return atomic.LoadUint32(h.status(i))&unix.TP_STATUS_USER != 0
}

// next gives the block it holds back to the kernel and takes the next one
// if it is ready.
func (h *ringHandle) next() bool {
	if h.held {
		atomic.StoreUint32(h.status(h.blk), unix.TP_STATUS_KERNEL)
		h.held = false
		if h.blk++; h.blk == h.blocks {
			h.blk = 0
		}
	}
	if !h.blockReady(h.blk) {
		return false
	}
	b := h.mem[h.blk*h.blockSize:]
	hdr := (*unix.TpacketHdrV1)(unsafe.Pointer(&b[blockDescHdr]))
	h.held, h.off, h.left = true, hdr.Offset_to_first_pkt, hdr.Num_pkts
	return true
}

// ready reports whether read returns a packet without waiting.
func (h *ringHandle) ready() bool {
	if h.left > 0 {
		return true
	}
	i := h.blk
	if h.held {
		if i++; i == h.blocks {
			i = 0
		}
	}
	return h.blockReady(i)
}

// read returns the next packet, waiting up to the poll timeout for one
// (errReadTimeout). data points into the ring and is valid until the next
// call.
func (h *ringHandle) read() (data []byte, ts int64, wire int, err error) {
	for h.left == 0 {
		if h.next() {
			continue
		}
		if err := h.wait(); err != nil {
			return nil, 0, 0, err
		}
	}
	base := h.blk*h.blockSize + int(h.off)
	p := (*unix.Tpacket3Hdr)(unsafe.Pointer(&h.mem[base]))
	h.left--
	h.off += p.Next_offset
	start := base + int(p.Mac)
	data = h.mem[start : start+int(p.Snaplen) : start+int(p.Snaplen)]
	return data, int64(p.Sec)*1e9 + int64(p.Nsec), int(p.Len), nil
}

// wait parks until the kernel hands over the next block, the socket
// reports an error (its interface went down or away: errIfaceGone), or
// the poll timeout passes (errReadTimeout).
func (h *ringHandle) wait() error {
	if err := h.file.SetReadDeadline(time.Now().Add(h.timeout)); err != nil {
		return fmt.Errorf("ring: %w", err)
	}
	if h.woken.Load() {
		// wake came before the deadline above replaced its own.
		return errReadTimeout
	}
	h.waitErr, h.wakeups = nil, 0
	err := h.rc.Read(h.waitFn)
	switch {
	case h.waitErr != nil:
		return h.waitErr
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errReadTimeout
	case err != nil:
		return fmt.Errorf("ring: %w", err)
	}
	return nil
}

// pollReady is wait's callback: true ends the wait. The first call only
// looks at the ring; later ones, after the poller woke the reader, also
// ask the kernel whether the socket has an error, which wakes the poller
// as readiness does.
func (h *ringHandle) pollReady(fd uintptr) bool {
	if h.ready() {
		return true
	}
	if h.wakeups++; h.wakeups == 1 {
		return false
	}
	pfd := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd[:], 0)
	if err == nil && n > 0 && pfd[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
		h.waitErr = errIfaceGone
		return true
	}
	return h.ready()
}

// stats returns the kernel's counters since the capture started: packets
// it passed to the socket and drops for want of room.
func (h *ringHandle) stats() (uint64, uint64, error) {
	st, err := unix.GetsockoptTpacketStatsV3(h.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0, 0, os.NewSyscallError("getsockopt PACKET_STATISTICS", err)
	}
	c := &h.counters
	p := c.packets.Add(uint64(st.Packets))
	d := c.drops.Add(uint64(st.Drops))
	return p - c.basePackets, d - c.baseDrops, nil
}

func (h *ringHandle) resetStats() {
	h.stats()
	h.counters.basePackets, h.counters.baseDrops = h.counters.packets.Load(), h.counters.drops.Load()
}

func (h *ringHandle) setFilter(prog []bpf.RawInstruction) error {
	ins := make([]unix.SockFilter, len(prog))
	for i, r := range prog {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	if len(ins) == 0 {
		return unix.EINVAL
	}
	fprog := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
	return unix.SetsockoptSockFprog(h.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog)
}

func (h *ringHandle) setPromisc() error {
	mreq := unix.PacketMreq{Ifindex: int32(h.ifx), Type: unix.PACKET_MR_PROMISC}
	return unix.SetsockoptPacketMreq(h.fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq)
}

// joinFanout makes the socket a member of fanout group id (0: a new
// group, whose id it returns): the kernel then hands each packet of the
// interface to one member, chosen by a hash of its flow that is the same
// in both directions.
func (h *ringHandle) joinFanout(id uint16) (uint16, error) {
	typ := unix.PACKET_FANOUT_HASH
	if id == 0 {
		typ |= unix.PACKET_FANOUT_FLAG_UNIQUEID
	}
	if err := unix.SetsockoptInt(h.fd, unix.SOL_PACKET, unix.PACKET_FANOUT, typ<<16|int(id)); err != nil {
		return 0, os.NewSyscallError("setsockopt PACKET_FANOUT", err)
	}
	if id != 0 {
		return id, nil
	}
	v, err := unix.GetsockoptInt(h.fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
	if err != nil {
		return 0, os.NewSyscallError("getsockopt PACKET_FANOUT", err)
	}
	return uint16(v), nil
}

// close unmaps the ring and closes the socket. The reader must have
// stopped.
func (h *ringHandle) setWait(d time.Duration) { h.timeout = d }

// wake ends the wait in progress (the poller returns on a past deadline)
// and every later one.
func (h *ringHandle) wake() {
	h.woken.Store(true)
	_ = h.file.SetReadDeadline(time.Unix(1, 0))
}

func (h *ringHandle) close() {
	if h.mem != nil {
		unix.Munmap(h.mem)
		h.mem = nil
	}
	h.file.Close()
}
