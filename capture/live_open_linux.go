//go:build linux

package capture

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/connscope/connscope/capture/filter"
)

// opener opens interfaces for one Live, at start and on rescans.
type opener struct {
	l        *Live
	named    map[string]bool   // empty: every interface
	readers  int               // sockets per interface (a fanout group)
	ringSize int               // per socket
	reported map[string]string // last failure reported per interface
}

// wants reports whether the capture covers interface k.
func (o *opener) wants(k sysLink) bool {
	if len(o.named) > 0 {
		return o.named[k.name]
	}
	return carriesIP(k.typ)
}

// armedHandle is the sockets of one interface with the reject-all
// filter, waiting for their real one: one, or the members of a fanout
// group.
type armedHandle struct {
	k      sysLink
	link   LinkType
	method CaptureMethod
	hs     []armable
	// rejects counts what the filter rejects on the interface.
	rejects *rejectSocket
}

// armable is a packet socket that takes a filter.
type armable interface {
	packetHandle
	promiscer
	setFilter([]bpf.RawInstruction) error
	resetStats()
}

// arm opens interface k's sockets with the reject-all filter and sets
// promiscuous mode if asked. The ring is tried first, recvmsg after. With
// rings, o.readers sockets form a fanout group; if the group cannot be
// made, one socket reads the interface.
func (o *opener) arm(k sysLink) (*armedHandle, error) {
	link, sockType := linkOf(k.typ)
	a := &armedHandle{k: k, link: link}
	var ringErr error
	if !o.l.opts.forceRecvmsg {
		a.hs, ringErr = o.openRings(k, sockType)
		if ringErr == nil {
			a.method = MethodRing
		}
	}
	if a.hs == nil {
		if sockType != unix.SOCK_RAW && k.typ != arphrdNone {
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
		h := newRecvmsgHandle(eh)
		a.hs, a.method = []armable{h}, MethodRecvmsg
		if err := h.setFilter(rejectAll); err != nil {
			a.closeAll()
			return nil, o.openErr(k.name, "attach filter", err)
		}
	}
	if o.l.opts.Promisc {
		for _, h := range a.hs {
			if err := h.setPromisc(); err != nil {
				a.closeAll()
				return nil, o.openErr(k.name, "promiscuous mode", err)
			}
		}
	}
	return a, nil
}

// openRings opens the ring sockets of interface k: o.readers of them in a
// fanout group, or one if the kernel refuses the group.
func (o *opener) openRings(k sysLink, sockType int) ([]armable, error) {
	first, err := openRing(k.index, sockType, o.ringSize, ringBlockSize, ringBlockTimeout, ringPollTimeout)
	if err != nil {
		return nil, err
	}
	hs := []armable{first}
	if o.readers < 2 {
		return hs, nil
	}
	id, err := first.joinFanout(0)
	if err != nil {
		return hs, nil // one reader
	}
	for len(hs) < o.readers {
		h, err := openRing(k.index, sockType, o.ringSize, ringBlockSize, ringBlockTimeout, ringPollTimeout)
		if err == nil {
			if _, err = h.joinFanout(id); err != nil {
				h.close()
			}
		}
		if err != nil {
			break // fewer readers
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// openErr names the interface and step; a permission error says what is
// missing.
func (o *opener) openErr(iface, step string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%s: %s: %w", quoteName(iface), step, privilegeError(err))
	}
	return fmt.Errorf("%s: %s: %w", quoteName(iface), step, err)
}

// drain discards what reached a recvmsg socket before its reject-all
// filter (a ring socket has its filter before it is bound: nothing to
// drain). A read returns after the poll timeout once nothing is left.
func (a *armedHandle) drain() {
	if a.method != MethodRecvmsg {
		return
	}
	for _, h := range a.hs {
		for {
			if _, _, _, err := h.read(); err != nil {
				break
			}
		}
	}
}

// finish attaches the real filter to every socket (and opens the
// rejected-packet counter).
func (o *opener) finish(a *armedHandle) error {
	loop := a.k.typ == arphrdLoopback
	prog, err := o.program(a.link, loop, o.l.opts.Filter, uint32(o.l.snaplen))
	if err != nil {
		a.closeAll()
		return fmt.Errorf("%s: %w", quoteName(a.k.name), err)
	}
	for _, h := range a.hs {
		if err := h.setFilter(prog); err != nil {
			a.closeAll()
			return fmt.Errorf("%s: attach capture filter (%d instructions): %w", quoteName(a.k.name), len(prog), err)
		}
	}
	for _, h := range a.hs {
		h.resetStats()
	}
	if o.l.opts.Filter != "" {
		// Counting what the filter rejects needs its complement on a
		// second socket; without it FilteredOut stays 0.
		if inv, err := o.program(a.link, loop, "not ("+o.l.opts.Filter+")", 1); err == nil {
			a.rejects, _ = openRejectSocket(a.k.index, inv)
		}
	}
	return nil
}

// handles returns the sockets as the readers take them.
func (a *armedHandle) handles() []packetHandle {
	hs := make([]packetHandle, len(a.hs))
	for i, h := range a.hs {
		hs[i] = h
	}
	return hs
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
	for _, h := range a.hs {
		h.close()
	}
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

// rescanLoop lists the interfaces every so often, and at once when the
// kernel announces a change of its links, and opens those that appeared,
// came up, or came back. It runs in the namespace the Live was opened in.
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
	o.watchLinks()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
			o.rescan()
		case <-l.rescanNow:
			o.rescan()
		}
	}
}

// watchLinks subscribes to the kernel's link notifications (RTMGRP_LINK)
// in the calling thread's namespace and asks for a rescan (rescanNow)
// whenever a link is added or removed or changes state, so an interface
// that comes up or comes back is captured within milliseconds instead of
// at the next periodic rescan. The periodic rescan stays, for a
// notification lost to a full socket buffer, for retrying failures, and
// for when the subscription fails (then nothing else happens). Its
// goroutines end with the Live.
func (o *opener) watchLinks() {
	l := o.l
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		unix.Close(fd)
		return
	}
	// A non-blocking descriptor goes to the runtime's poller, so Close
	// ends a pending Read.
	f := os.NewFile(uintptr(fd), "netlink link notifications")
	l.wg.Add(2) // rescanLoop holds the group above zero
	go func() {
		defer l.wg.Done()
		<-l.done
		f.Close()
	}()
	go func() {
		defer l.wg.Done()
		buf := make([]byte, 16<<10)
		for {
			// What changed does not matter: the rescan lists the
			// links. ENOBUFS (notifications lost) calls for a rescan
			// too.
			if _, err := f.Read(buf); err != nil && !errors.Is(err, unix.ENOBUFS) {
				return // closed
			}
			l.askRescan()
		}
	}()
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
	l.observe(links)
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
			o.ringSize = ringSizeFor(0, (n+1)*o.readers)
		}
		a, err := o.arm(k)
		if err == nil {
			a.drain()
			err = o.finish(a)
		}
		if err != nil {
			link, _ := linkOf(k.typ)
			l.markUnavailable(k.name, k.typ, link, IfaceFailed, err)
			if o.reported[k.name] != err.Error() {
				o.reported[k.name] = err.Error()
				l.event(LiveEvent{Kind: EventIfaceFailed, Iface: k.name, Err: err})
			}
			continue
		}
		delete(o.reported, k.name)
		if l.start(k.name, k.index, k.typ, a.link, a.method, a.handles(), a.counter()) {
			l.event(LiveEvent{Kind: EventIfaceAdded, Iface: k.name})
		}
	}
}

// observe records what a rescan found of the interfaces that are not
// captured: one that is down is IfaceDown, one that is gone IfaceLost; for
// a lost one, this is the latest time it was seen away (see liveIface.gap).
func (l *Live) observe(links []sysLink) {
	now := time.Now().UnixNano()
	l.rmu.Lock()
	defer l.rmu.Unlock()
	for _, e := range l.ifaces {
		if e.info.State == IfaceCapturing {
			continue
		}
		i := slices.IndexFunc(links, func(k sysLink) bool { return k.name == e.info.Name })
		switch {
		case i < 0:
			e.info.State, e.info.Err = IfaceLost, errIfaceRemoved.Error()
		case !links[i].up:
			e.info.State, e.info.Err = IfaceDown, errIfaceDown.Error()
		default:
			continue // up: the rescan opens it
		}
		if e.lostAt != 0 {
			e.seenDownAt = now
		}
	}
}
