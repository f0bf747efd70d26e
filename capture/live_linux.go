//go:build linux

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/connscope/connscope/capture/filter"
)

// Kernel interface types (ARPHRD_*, include/uapi/linux/if_arp.h).
const (
	arphrdEther    = 1
	arphrdLoopback = 772
	arphrdNone     = 65534 // tun, wireguard: raw IP
	// Types that never carry IP; "every interface" leaves them out.
	arphrdCAN          = 280
	arphrdIEEE802154   = 804
	arphrdIEEE802154MO = 805
	arphrdNetlink      = 824 // nlmon
)

// Ring geometry and timing.
const (
	// ringBlockSize: the kernel hands a block to us when it is full or
	// ringBlockTimeout after its first packet, whichever comes first.
	ringBlockSize    = 256 << 10
	ringFrameSize    = 4096 // only divides blocks in TPACKET_V3
	ringMinBlocks    = 4
	ringBlockTimeout = 10 * time.Millisecond
	// ringPollTimeout bounds how long a reader sleeps in poll, so that it
	// notices Close; the ring must not be unmapped under a sleeping
	// reader (gopacket crashes in the ring status read).
	ringPollTimeout = 50 * time.Millisecond
)

// errIfaceGone: the kernel flagged the socket with an error, which for a
// packet socket means its interface went down or was removed.
var errIfaceGone = errors.New("interface went down or was removed")

// rejectAll is the filter a socket holds while what reached it before its
// real filter is drained.
var rejectAll = []bpf.RawInstruction{{Op: 0x06, K: 0}} // ret #0

// sysLink is one interface as the kernel lists it.
type sysLink struct {
	name  string
	index int
	typ   uint16
	up    bool
}

// listLinks lists the interfaces of the calling thread's network namespace
// with an RTM_GETLINK dump. /sys/class/net would show the namespace of
// the sysfs mount instead, which is wrong for a thread that entered
// another namespace (as the tests and containers' tools do).
func listLinks() ([]sysLink, error) {
	tab, err := syscall.NetlinkRIB(syscall.RTM_GETLINK, syscall.AF_UNSPEC)
	if err != nil {
		return nil, os.NewSyscallError("netlink RTM_GETLINK", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(tab)
	if err != nil {
		return nil, fmt.Errorf("parse RTM_GETLINK reply: %w", err)
	}
	var out []sysLink
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != syscall.RTM_NEWLINK || len(m.Data) < syscall.SizeofIfInfomsg {
			continue
		}
		k := sysLink{
			typ:   binary.NativeEndian.Uint16(m.Data[2:4]),
			index: int(int32(binary.NativeEndian.Uint32(m.Data[4:8]))),
			up:    binary.NativeEndian.Uint32(m.Data[8:12])&syscall.IFF_UP != 0,
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			continue
		}
		for _, a := range attrs {
			if a.Attr.Type == syscall.IFLA_IFNAME {
				k.name = strings.TrimRight(string(a.Value), "\x00")
			}
		}
		if k.name != "" {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b sysLink) int { return a.index - b.index })
	return out, nil
}

// linkOf picks the framing of an interface type: Ethernet headers for
// Ethernet and loopback; for anything else the kernel strips the link
// header (a SOCK_DGRAM socket) and packets are read as raw IP.
func linkOf(typ uint16) (LinkType, afpacket.OptSocketType) {
	switch typ {
	case arphrdEther, arphrdLoopback:
		return LinkEthernet, afpacket.SocketRaw
	}
	return LinkRaw, afpacket.SocketDgram
}

// carriesIP reports whether "every interface" includes this type.
func carriesIP(typ uint16) bool {
	switch typ {
	case arphrdCAN, arphrdIEEE802154, arphrdIEEE802154MO, arphrdNetlink:
		return false
	}
	return true
}

// OpenLive starts a live capture; see LiveOptions. It fails, before
// opening anything, when a named interface does not exist (the error
// lists those that do), when the filter does not compile (a
// *filter.SyntaxError naming the word), or when the process lacks
// CAP_NET_RAW (an error matching ErrPrivilege that says how to fix it).
// Capturing every interface, one that cannot be opened is skipped and
// listed in Interfaces() with the reason; a named one makes OpenLive fail.
//
// When OpenLive returns, every interface's filter is in place: each
// socket first holds a reject-everything filter while whatever reached it
// before is drained, so that no packet the filter would reject (or a
// loopback packet's outgoing copy) is ever counted. That takes about 50
// ms, for all interfaces at once.
//
// The sockets belong to the network namespace of the calling thread, and
// interfaces that appear later are looked for in that namespace too.
func OpenLive(opts LiveOptions) (*Live, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	links, err := listLinks()
	if err != nil {
		return nil, fmt.Errorf("live capture: list interfaces: %w", err)
	}
	o := &opener{named: map[string]bool{}, reported: map[string]string{}}
	for _, n := range opts.Interfaces {
		if n = strings.TrimSpace(n); n != "" && n != "any" {
			o.named[n] = true
		}
	}
	if len(o.named) > 0 {
		var have []string
		for _, k := range links {
			have = append(have, k.name)
		}
		var missing []string
		for n := range o.named {
			if !slices.Contains(have, n) {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			slices.Sort(have)
			return nil, fmt.Errorf("live capture: %w %s (interfaces: %s)", ErrNoInterface, strings.Join(missing, ", "), interfaceList(have))
		}
	}
	l := newLive(opts)
	o.l = l
	if opts.Filter != "" {
		// Report a bad expression before anything is opened, and
		// without needing privileges.
		if _, err := filter.Compile(opts.Filter, uint16(LinkEthernet), uint32(l.snaplen)); err != nil {
			return nil, err
		}
	}
	if err := CheckLive(); err != nil {
		return nil, err
	}

	var todo []sysLink
	for _, k := range links {
		if !o.wants(k) {
			continue
		}
		if !k.up {
			if len(o.named) > 0 {
				link, _ := linkOf(k.typ)
				l.markUnavailable(k.name, k.typ, link, errors.New("interface is down; captured when it comes up"))
			}
			continue
		}
		todo = append(todo, k)
	}
	o.ringSize = ringSizeFor(opts.RingSize, len(todo))

	// Arm every socket (reject-all filter), drain them all at once, then
	// put the real filters in place.
	armed := make([]*armedHandle, len(todo))
	errs := make([]error, len(todo))
	for i, k := range todo {
		armed[i], errs[i] = o.arm(k)
	}
	var wg sync.WaitGroup
	for _, a := range armed {
		if a != nil {
			wg.Add(1)
			go func() { defer wg.Done(); a.drain() }()
		}
	}
	wg.Wait()
	for i, a := range armed {
		if a != nil {
			if errs[i] = o.finish(a); errs[i] != nil {
				armed[i] = nil // finish closed it
			}
		}
	}
	var opened int
	for i, k := range todo {
		if errs[i] == nil {
			continue
		}
		if len(o.named) > 0 {
			for _, a := range armed {
				if a != nil {
					a.closeAll()
				}
			}
			return nil, fmt.Errorf("live capture: %w", errs[i])
		}
		link, _ := linkOf(k.typ)
		l.markUnavailable(k.name, k.typ, link, errs[i])
		o.reported[k.name] = errs[i].Error()
	}
	for _, a := range armed {
		if a != nil && l.start(a.k.name, a.k.index, a.k.typ, a.link, a.method, a.h, a.counter()) {
			opened++
		}
	}
	if opened == 0 && len(o.named) > 0 && opts.RescanEvery < 0 {
		l.Close()
		return nil, fmt.Errorf("live capture: %s down, and interfaces are not watched (RescanEvery < 0)", strings.Join(slices.Sorted(maps.Keys(o.named)), ", "))
	}
	if opened == 0 && len(o.named) == 0 {
		for _, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("live capture: no interface could be opened: %w", e)
			}
		}
		return nil, errors.New("live capture: no interface is up")
	}

	if opts.RescanEvery >= 0 {
		every := opts.RescanEvery
		if every == 0 {
			every = DefaultRescanEvery
		}
		nsfd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			nsfd = -1 // rescans run in the process's namespace
		} else {
			l.onClose = append(l.onClose, func() { unix.Close(nsfd) })
		}
		l.wg.Add(1)
		go o.rescanLoop(nsfd, every)
	}
	return l, nil
}

// ringSizeFor returns the ring of each of n interfaces.
func ringSizeFor(want, n int) int {
	size := want
	if size <= 0 {
		size = DefaultRingSize
		if n > 0 && DefaultRingBudget/n < size {
			size = max(DefaultRingBudget/n, MinRingSize)
		}
	}
	blocks := max(size/ringBlockSize, ringMinBlocks)
	return blocks * ringBlockSize
}

// opener opens interfaces for one Live, at start and on rescans.
type opener struct {
	l        *Live
	named    map[string]bool   // empty: every interface
	ringSize int               // per interface
	reported map[string]string // last failure reported per interface
}

// wants reports whether the capture covers interface k.
func (o *opener) wants(k sysLink) bool {
	if len(o.named) > 0 {
		return o.named[k.name]
	}
	return carriesIP(k.typ)
}

// armedHandle is a socket with the reject-all filter, waiting for its
// real one.
type armedHandle struct {
	k      sysLink
	link   LinkType
	method CaptureMethod
	h      interface {
		packetHandle
		setFilter([]bpf.RawInstruction) error
		resetStats()
	}
	rejects *rejectSocket
}

// arm opens interface k's socket, sets promiscuous mode if asked, and
// attaches the reject-all filter. The ring is tried first, recvmsg after.
func (o *opener) arm(k sysLink) (*armedHandle, error) {
	link, sockType := linkOf(k.typ)
	a := &armedHandle{k: k, link: link}
	var ringErr error
	if !o.l.opts.forceRecvmsg {
		tp, err := afpacket.NewTPacket(
			afpacket.OptInterface(k.name),
			afpacket.OptSocketType(sockType),
			afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
			afpacket.OptFrameSize(ringFrameSize),
			afpacket.OptBlockSize(ringBlockSize),
			afpacket.OptNumBlocks(o.ringSize/ringBlockSize),
			afpacket.OptBlockTimeout(ringBlockTimeout),
			afpacket.OptPollTimeout(ringPollTimeout),
		)
		if err == nil {
			a.h, a.method = &tpacketHandle{tp: tp}, MethodRing
		} else {
			ringErr = err
		}
	}
	if a.h == nil {
		if sockType != afpacket.SocketRaw && k.typ != arphrdNone {
			// recvmsg reads link headers we could not decode.
			return nil, o.openErr(k.name, "TPACKET_V3 ring", ringErr)
		}
		eh, err := pcapgo.NewEthernetHandle(k.name)
		if err != nil {
			if ringErr != nil {
				err = fmt.Errorf("%w; recvmsg fallback: %w", ringErr, err)
			}
			return nil, o.openErr(k.name, "packet socket", err)
		}
		_ = eh.SetCaptureLength(o.l.snaplen)
		a.h, a.method = newRecvmsgHandle(eh), MethodRecvmsg
	}
	if err := a.h.setFilter(rejectAll); err != nil {
		a.h.close()
		return nil, o.openErr(k.name, "attach filter", err)
	}
	if o.l.opts.Promisc {
		if err := a.h.(promiscer).setPromisc(); err != nil {
			a.h.close()
			return nil, o.openErr(k.name, "promiscuous mode", err)
		}
	}
	return a, nil
}

// openErr names the interface and step; a permission error says what is
// missing.
func (o *opener) openErr(iface, step string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%s: %s: %w", iface, step, privilegeError(err))
	}
	return fmt.Errorf("%s: %s: %w", iface, step, err)
}

// drain discards what reached the socket before its reject-all filter.
// A read returns after the poll timeout once nothing is left (the ring's
// block timeout is shorter, so a half-filled block is handed over first).
func (a *armedHandle) drain() {
	for {
		if _, _, err := a.h.read(); err != nil {
			return
		}
	}
}

// finish attaches the real filter (and opens the rejected-packet counter).
func (o *opener) finish(a *armedHandle) error {
	loop := a.k.typ == arphrdLoopback
	prog, err := o.program(a.link, loop, o.l.opts.Filter, uint32(o.l.snaplen))
	if err != nil {
		a.h.close()
		return fmt.Errorf("%s: %w", a.k.name, err)
	}
	if err := a.h.setFilter(prog); err != nil {
		a.h.close()
		return fmt.Errorf("%s: attach capture filter (%d instructions): %w", a.k.name, len(prog), err)
	}
	a.h.resetStats()
	if o.l.opts.Filter != "" {
		// Counting what the filter rejects needs its complement on a
		// second socket; without it FilteredOut stays 0.
		if inv, err := o.program(a.link, loop, "not ("+o.l.opts.Filter+")", 1); err == nil {
			a.rejects, _ = openRejectSocket(a.k.index, inv)
		}
	}
	return nil
}

// counter returns the rejected-packet counter, or a nil interface.
func (a *armedHandle) counter() rejectCounter {
	if a.rejects == nil {
		return nil
	}
	return a.rejects
}

// closeAll closes an armed handle that will not be started.
func (a *armedHandle) closeAll() {
	a.h.close()
	if a.rejects != nil {
		a.rejects.close()
	}
}

// program compiles expr for one interface: accepted packets are cut to
// snaplen in the kernel (an empty expression still gets a program, for
// that), and loopback drops the outgoing copy of every packet.
func (o *opener) program(link LinkType, loopback bool, expr string, snaplen uint32) ([]bpf.RawInstruction, error) {
	var opts []filter.Option
	if loopback {
		opts = append(opts, filter.DropOutgoing())
	}
	p, err := filter.Compile(expr, uint16(link), snaplen, opts...)
	if err != nil {
		return nil, err
	}
	return p.Raw(), nil
}

// rescanLoop lists the interfaces every so often and opens those that
// appeared, came up, or came back. It runs in the namespace the Live was
// opened in.
func (o *opener) rescanLoop(nsfd int, every time.Duration) {
	l := o.l
	defer l.wg.Done()
	runtime.LockOSThread()
	if nsfd >= 0 && !inNetns(nsfd) {
		if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
			l.event(LiveEvent{Kind: EventIfaceFailed, Iface: "new interfaces", Err: fmt.Errorf("cannot watch for them: setns: %w", err)})
			return // the thread stays locked and is discarded
		}
		// The thread is in another namespace now: it stays locked, and
		// Go discards it when this goroutine ends.
	} else {
		defer runtime.UnlockOSThread()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
			o.rescan()
		}
	}
}

// inNetns reports whether the calling thread is in the namespace nsfd
// refers to.
func inNetns(nsfd int) bool {
	var a, b unix.Stat_t
	if unix.Fstat(nsfd, &a) != nil || unix.Stat("/proc/thread-self/ns/net", &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// rescan opens every wanted interface that is up and not captured.
func (o *opener) rescan() {
	l := o.l
	links, err := listLinks()
	if err != nil {
		return
	}
	for _, k := range links {
		if !o.wants(k) || !k.up || l.active(k.name) {
			continue
		}
		select {
		case <-l.done:
			return
		default:
		}
		l.rmu.Lock()
		n := len(l.ifaces)
		l.rmu.Unlock()
		if o.l.opts.RingSize <= 0 {
			o.ringSize = ringSizeFor(0, n+1)
		}
		a, err := o.arm(k)
		if err == nil {
			a.drain()
			err = o.finish(a)
		}
		if err != nil {
			link, _ := linkOf(k.typ)
			l.markUnavailable(k.name, k.typ, link, err)
			if o.reported[k.name] != err.Error() {
				o.reported[k.name] = err.Error()
				l.event(LiveEvent{Kind: EventIfaceFailed, Iface: k.name, Err: err})
			}
			continue
		}
		delete(o.reported, k.name)
		if l.start(k.name, k.index, k.typ, a.link, a.method, a.h, a.counter()) {
			l.event(LiveEvent{Kind: EventIfaceAdded, Iface: k.name})
		}
	}
}

// promiscer is a handle that can enter promiscuous mode.
type promiscer interface{ setPromisc() error }

// tpacketHandle reads a TPACKET_V3 ring through gopacket's afpacket.
type tpacketHandle struct {
	tp *afpacket.TPacket
	// The kernel's counters are 32-bit and reset on every read; gopacket
	// sums them in 32 bits. last* are gopacket's sums at the previous
	// call, so that the 64-bit totals survive a wrap.
	lastPackets, lastDrops uint32
	packets, drops         uint64
	basePackets, baseDrops uint64
}

func (h *tpacketHandle) read() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := h.tp.ZeroCopyReadPacketData()
	switch err {
	case nil:
		return data, ci, nil
	case afpacket.ErrTimeout:
		return nil, ci, errReadTimeout
	case afpacket.ErrPoll:
		return nil, ci, errIfaceGone
	}
	return nil, ci, fmt.Errorf("read ring: %w", err)
}

func (h *tpacketHandle) stats() (uint64, uint64, error) {
	_, v3, err := h.tp.SocketStats()
	if err != nil {
		return 0, 0, err
	}
	p, d := uint32(v3.Packets()), uint32(v3.Drops())
	h.packets += uint64(p - h.lastPackets)
	h.drops += uint64(d - h.lastDrops)
	h.lastPackets, h.lastDrops = p, d
	return h.packets - h.basePackets, h.drops - h.baseDrops, nil
}

func (h *tpacketHandle) resetStats() {
	h.stats()
	h.basePackets, h.baseDrops = h.packets, h.drops
}

func (h *tpacketHandle) setFilter(prog []bpf.RawInstruction) error { return h.tp.SetBPF(prog) }
func (h *tpacketHandle) setPromisc() error                         { return h.tp.SetPromiscuous(true) }
func (h *tpacketHandle) close()                                    { h.tp.Close() }
func (h *tpacketHandle) interruptible() bool                       { return false }

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
	h := &recvmsgHandle{eh: eh, out: make(chan recvPacket, recvQueue), free: make(chan []byte, recvQueue+1), quit: make(chan struct{})}
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

func (h *recvmsgHandle) read() ([]byte, gopacket.CaptureInfo, error) {
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
			h.timer = time.NewTimer(ringPollTimeout)
		} else {
			h.timer.Reset(ringPollTimeout)
		}
		select {
		case p = <-h.out:
			h.timer.Stop()
		case <-h.timer.C:
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

func (h *recvmsgHandle) interruptible() bool { return false }

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
