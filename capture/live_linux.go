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

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
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
)

// errIfaceGone: the kernel flagged the socket with an error, which for a
// packet socket means its interface went down or was removed.
var errIfaceGone = errors.New("interface went down or was removed")

// Why an interface is not captured, as a rescan finds it.
var (
	errIfaceDown    = errors.New("interface is down; captured when it comes up")
	errIfaceRemoved = errors.New("interface was removed; captured if it comes back")
)

// rejectAll is the filter a socket holds until its real one is in place.
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
func linkOf(typ uint16) (LinkType, int) {
	switch typ {
	case arphrdEther, arphrdLoopback:
		return LinkEthernet, unix.SOCK_RAW
	}
	return LinkRaw, unix.SOCK_DGRAM
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
// A named interface that is down does not: it is listed as IfaceDown
// ("interface is down; captured when it comes up"), and its capture
// starts when a rescan finds it up, as for an interface that was lost
// and comes back (EventIfaceAdded). Only with rescans off (RescanEvery <
// 0) does OpenLive fail when no named interface is up.
//
// When OpenLive returns, every interface's filter is in place, and no
// packet the filter would reject (or a loopback packet's outgoing copy) is
// ever counted: a ring socket gets a reject-everything filter before it
// is bound, then the real one; a recvmsg socket, bound when it is made,
// holds the reject-everything filter while whatever reached it before is
// drained, which takes about 50 ms, for all interfaces at once.
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
	l := newLive(opts)
	o := &opener{l: l, named: l.opts.named(), readers: l.opts.readers(), reported: map[string]string{}}
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
			return nil, fmt.Errorf("live capture: %w %s (interfaces: %s)", ErrNoInterface, strings.Join(quoteNames(missing), ", "), interfaceList(have))
		}
	}
	if err := l.opts.validate(); err != nil {
		return nil, err
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
				l.markUnavailable(k.name, k.typ, link, IfaceDown, errIfaceDown)
			}
			continue
		}
		todo = append(todo, k)
	}
	o.ringSize = ringSizeFor(opts.RingSize, len(todo)*o.readers)

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
		l.markUnavailable(k.name, k.typ, link, IfaceFailed, errs[i])
		o.reported[k.name] = errs[i].Error()
	}
	for _, a := range armed {
		if a != nil && l.start(a.k.name, a.k.index, a.k.typ, a.link, a.method, a.handles(), a.counter()) {
			opened++
		}
	}
	if opened == 0 && len(o.named) > 0 && l.opts.RescanEvery < 0 {
		l.Close()
		return nil, fmt.Errorf("live capture: %s down, and interfaces are not watched (RescanEvery < 0)", strings.Join(quoteNames(slices.Sorted(maps.Keys(o.named))), ", "))
	}
	if opened == 0 && len(o.named) == 0 {
		for _, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("live capture: no interface could be opened: %w", e)
			}
		}
		return nil, errors.New("live capture: no interface is up")
	}

	if every := l.opts.RescanEvery; every > 0 {
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

// ringSizeFor returns the ring of each of n sockets.
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
