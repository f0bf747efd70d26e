package capture

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/connscope/connscope/model"
)

// CaptureMethod is how packets of one interface are read from the kernel.
type CaptureMethod uint8

// Capture methods.
const (
	// MethodRing is a TPACKET_V3 memory-mapped ring: the kernel fills
	// blocks of packets and hands each over whole, with one wake-up.
	MethodRing CaptureMethod = iota
	// MethodRecvmsg is one recvmsg call per packet (gopacket pcapgo
	// EthernetHandle), used when the ring cannot be set up. It drops
	// packets much sooner under load.
	MethodRecvmsg
)

// String names the method.
func (m CaptureMethod) String() string {
	switch m {
	case MethodRing:
		return "tpacket_v3"
	case MethodRecvmsg:
		return "recvmsg"
	}
	return "unknown"
}

// IfaceState is where one interface of a Live capture stands.
type IfaceState uint8

// Interface states. Each rescan (LiveOptions.RescanEvery) opens the
// interfaces that are not captured and are up, and tells a lost interface
// that is down from one that is gone.
const (
	// IfaceCapturing: its packets are being read.
	IfaceCapturing IfaceState = iota
	// IfaceDown: it exists but is down (named in LiveOptions.Interfaces
	// while down, or lost and then found down): it is captured as soon as
	// a rescan finds it up.
	IfaceDown
	// IfaceLost: capture on it stopped (it went down or was removed, or
	// its socket failed), or a named interface was removed while down; it
	// is captured again if it comes back.
	IfaceLost
	// IfaceFailed: it is up but could not be opened (Err says why); every
	// rescan tries again.
	IfaceFailed
)

// String names the state: "capturing", "down", "lost", "failed".
func (s IfaceState) String() string {
	switch s {
	case IfaceCapturing:
		return "capturing"
	case IfaceDown:
		return "down"
	case IfaceLost:
		return "lost"
	case IfaceFailed:
		return "failed"
	}
	return "unknown"
}

// LiveInterface describes one interface of a Live capture.
type LiveInterface struct {
	// Name is the interface name ("eth0"), as the kernel has it: it may
	// hold any byte but '/', ':' and white space, so sanitise it before
	// printing it.
	Name string
	// Type is the kernel's ARPHRD_ interface type (1 Ethernet, 772
	// loopback, 65534 raw IP ...).
	Type uint16
	// Link is the framing of the captured packets.
	Link LinkType
	// Method is how packets are read.
	Method CaptureMethod
	// Readers is how many sockets read it, sharing its packets by flow
	// (a PACKET_FANOUT group; see LiveOptions.ReadersPerInterface).
	Readers int
	// State says whether it is captured now, and if not, why not.
	State IfaceState
	// Active reports whether the interface is being captured now (State
	// is IfaceCapturing).
	Active bool
	// Err says why it is not, when it is down, was lost or could not be
	// opened.
	Err string
	// Packets is how many packets were read on it; KernelDrops how many
	// the kernel dropped because its ring was full.
	Packets, KernelDrops uint64
	// Losses and LostNS are its share of SourceStats.IfaceLosses and
	// IfaceLostNS (see Live.Stats).
	Losses uint64
	LostNS int64
}

// LiveEventKind classifies a LiveEvent.
type LiveEventKind uint8

// Live events.
const (
	// EventIfaceAdded: an interface is now captured (it appeared, came up,
	// or came back).
	EventIfaceAdded LiveEventKind = iota
	// EventIfaceLost: capture on an interface stopped (it went down or
	// was removed); it is captured again if it comes back.
	EventIfaceLost
	// EventIfaceFailed: an interface could not be opened.
	EventIfaceFailed
)

// String names the kind.
func (k LiveEventKind) String() string {
	switch k {
	case EventIfaceAdded:
		return "added"
	case EventIfaceLost:
		return "lost"
	case EventIfaceFailed:
		return "failed"
	}
	return "unknown"
}

// LiveEvent reports a change in the set of captured interfaces.
type LiveEvent struct {
	Kind  LiveEventKind
	Iface string
	Err   error // why, for EventIfaceLost and EventIfaceFailed
}

// String renders the event as one line, e.g. "capturing on veth3" or
// "lost eth1: interface went down or was removed".
func (e LiveEvent) String() string {
	switch e.Kind {
	case EventIfaceAdded:
		return "capturing on " + quoteName(e.Iface)
	case EventIfaceLost:
		return fmt.Sprintf("lost %s: %v", quoteName(e.Iface), e.Err)
	}
	return fmt.Sprintf("cannot capture on %s: %v", quoteName(e.Iface), e.Err)
}

// Live is a live capture on one or more interfaces. It implements Source
// (Next, Stats), BatchSource (NextBatch) and DropCounter. Next and
// NextBatch must be called from one goroutine; every other method is safe
// from any goroutine.
//
// Each interface has its own kernel socket and reader goroutine (or
// several, sharing its packets by flow: LiveOptions.ReadersPerInterface),
// which decodes packets as they come and hands them over in batches. When
// Next falls behind by liveQueue batches, the reader waits: the backlog
// stays in the kernel ring, which drops (KernelDrops) only once it is
// full.
//
// Next merges the interfaces (and the readers of one) in capture-time
// order, as mergecap does: a segment is returned only once every other
// reader has shown it has nothing older (each batch says how far its
// reader has got, and an idle reader says so every 50 ms while any
// interface has traffic, and less and less often, down to every 400 ms,
// while none has). The analysis needs that order: a flow whose packets
// cross two interfaces (a router, a bridge) would otherwise look
// reordered. It costs a capture of several interfaces, or several
// readers, up to about 100 ms of latency (up to about 400 ms for the
// first packets after a second of silence everywhere); one reader, none.
// In that order Next
// drops the copy of a packet already seen on another interface (see
// LiveOptions.DedupWindow), numbers the frames (every packet counts, TCP
// or not, copies included: they are the packet numbers of a -w file), and
// passes each packet to Tee and Writer.
type Live struct {
	opts      LiveOptions
	snaplen   int
	keepBytes bool // Tee, Writer or OnSegment need the packet bytes

	merged  chan *liveBatch
	free    chan *liveBatch
	done    chan struct{}
	closing sync.Once
	wg      sync.WaitGroup // readers and the rescanner

	// rmu guards the interface list and readers.
	rmu       sync.Mutex
	ifaces    []*liveIface
	readers   []*ifaceReader // every reader ever started, closed ones too
	closed    bool
	stopped   bool          // Stop was called: no reader starts any more
	readerGen atomic.Uint64 // bumped when a reader starts

	// rescanNow asks the rescan loop (if any) for a rescan at once.
	rescanNow chan struct{}

	queueDrops atomic.Uint64
	dups       atomic.Uint64
	// busyAt is when a reader last handed over packets (ns): while it is
	// recent, idle readers keep their waits short (see liveIdleWait).
	busyAt  atomic.Int64
	onClose []func() // platform resources released by Close

	// Next's state (one goroutine).
	m      merger
	frame  uint64
	window int64  // DedupWindow in ns, 0 when off
	dedup  *dedup // made when a second interface shows up
	timer  *time.Timer
	one    [1]model.Segment // Next's batch
}

// liveIface is one entry of Interfaces().
type liveIface struct {
	info LiveInterface
	wid  int      // pcapng interface ID in opts.Writer, -1 if none
	wlt  LinkType // link type that ID was added with
	// lostAt is when capture on it stopped (ns), 0 unless it is lost and
	// not captured again yet; seenDownAt is when a rescan last found it
	// down or gone since then (0: never). See gap.
	lostAt, seenDownAt int64
}

// gap is how long, at most, the interface may have carried packets that
// were not captured between its loss and now, when capture starts again:
// from the loss, or from the last rescan that still found it down or gone
// (no packet crosses an interface that is down or does not exist).
func (e *liveIface) gap(now int64) int64 {
	return max(now-max(e.lostAt, e.seenDownAt), 0)
}

// newLive returns a Live with no interface yet; OpenLive adds them.
func newLive(opts LiveOptions) *Live {
	opts = opts.withDefaults()
	l := &Live{
		opts:      opts,
		snaplen:   opts.Snaplen,
		keepBytes: opts.Tee != nil || opts.Writer != nil || opts.OnSegment != nil,
		merged:    make(chan *liveBatch, liveQueue),
		free:      make(chan *liveBatch, liveQueue+8),
		done:      make(chan struct{}),
		rescanNow: make(chan struct{}, 1),
	}
	if opts.DedupWindow > 0 {
		l.window = int64(opts.DedupWindow)
	}
	return l
}

// ifaceEntry returns the Interfaces() entry for name, adding it if new.
// l.rmu must be held.
func (l *Live) ifaceEntry(name string, typ uint16, link LinkType) (*liveIface, int) {
	for i, e := range l.ifaces {
		if e.info.Name == name {
			e.info.Type, e.info.Link = typ, link
			return e, i
		}
	}
	e := &liveIface{info: LiveInterface{Name: name, Type: typ, Link: link}, wid: -1}
	l.ifaces = append(l.ifaces, e)
	return e, len(l.ifaces) - 1
}

// start adds armed handles as interface name (kernel index kindex) and
// starts a reader for each: several handles of one interface are the
// members of its fanout group. It returns false (and closes the handles)
// when the Live is already closed.
func (l *Live) start(name string, kindex int, typ uint16, link LinkType, method CaptureMethod, hs []packetHandle, rej rejectCounter) bool {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if l.closed || l.stopped {
		for _, h := range hs {
			h.close()
		}
		if rej != nil {
			rej.close()
		}
		return false
	}
	e, idx := l.ifaceEntry(name, typ, link)
	now := time.Now().UnixNano()
	if e.lostAt != 0 {
		e.info.LostNS += e.gap(now)
		e.lostAt, e.seenDownAt = 0, 0
	}
	e.info.Method, e.info.State, e.info.Active, e.info.Err = method, IfaceCapturing, true, ""
	e.info.Readers = len(hs)
	if l.opts.Writer != nil && (e.wid < 0 || e.wlt != link) {
		// A pcapng interface has one link type: a name that comes back
		// with another framing gets a new interface block.
		if id, err := l.opts.Writer.AddInterface(name, link, l.snaplen, l.opts.Filter); err == nil {
			e.wid, e.wlt = id, link
		}
	}
	g := &readerGroup{}
	for i, h := range hs {
		r := &ifaceReader{l: l, g: g, idx: uint16(idx), name: name, link: link, wid: e.wid, kindex: kindex,
			start: now, h: h}
		if i == 0 {
			r.rejects = rej
		}
		g.members = append(g.members, r)
	}
	g.running.Store(int32(len(g.members)))
	l.readers = append(l.readers, g.members...)
	l.readerGen.Add(1)
	for _, r := range g.members {
		l.wg.Add(1)
		go r.run()
	}
	return true
}

// markUnavailable records that interface name is not captured: it is
// down (IfaceDown) or could not be opened (IfaceFailed), and why.
func (l *Live) markUnavailable(name string, typ uint16, link LinkType, state IfaceState, err error) {
	l.rmu.Lock()
	e, _ := l.ifaceEntry(name, typ, link)
	e.info.State, e.info.Active = state, false
	e.info.Err = err.Error()
	l.rmu.Unlock()
}

// lost records that capture on interface idx stopped, for why, and asks
// for a rescan to find out whether it is down or gone (the link
// notification that made the socket fail may have been handled before).
func (l *Live) lost(idx uint16, why error) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if l.closed {
		return
	}
	e := l.ifaces[idx]
	e.info.State, e.info.Active, e.info.Err = IfaceLost, false, why.Error()
	e.info.Losses++
	e.lostAt, e.seenDownAt = time.Now().UnixNano(), 0
	l.askRescan()
}

// askRescan asks for a rescan without waiting; requests coalesce.
func (l *Live) askRescan() {
	select {
	case l.rescanNow <- struct{}{}:
	default:
	}
}

// active reports whether name is being captured now.
func (l *Live) active(name string) bool {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	for _, e := range l.ifaces {
		if e.info.Name == name {
			return e.info.State == IfaceCapturing
		}
	}
	return false
}

// event tells the OnEvent callback.
func (l *Live) event(ev LiveEvent) {
	if l.opts.OnEvent != nil {
		l.opts.OnEvent(ev)
	}
}

// Next returns the next TCP segment captured on any interface, in
// capture-time order across interfaces. It returns ErrIdle when none came
// within LiveOptions.ReadTimeout, or when it went through IdleAfter
// packets without a segment to return (other traffic, or forwarded
// copies), so that a flood of those never keeps it from returning; and
// io.EOF once the Live is closed. It does not allocate.
func (l *Live) Next(seg *model.Segment) error {
	out, err := l.NextBatch(l.one[:0], time.Time{}, nil)
	if err == nil {
		*seg = out[0]
	}
	return err
}

// NextBatch appends to dst, up to its capacity, the segments Next would
// return one after the other: it waits for the first as Next does (and
// returns ErrIdle or io.EOF as Next does, dst unchanged), but no later
// than deadline (unless zero) and not once cancel is closed (ErrIdle
// then); then it takes every one that is ready without waiting. Run uses
// it (see BatchSource). dst must have room for at least one segment. It
// does not allocate.
func (l *Live) NextBatch(dst []model.Segment, deadline time.Time, cancel <-chan struct{}) ([]model.Segment, error) {
	l.m.sync(l)
	n0 := len(dst)
	waiting := false // the timer runs for this call
	defer func() {
		if waiting {
			l.timer.Stop()
		}
	}()
	quiet := 0 // packets this call went through without a segment
	for len(dst) < cap(dst) {
		if e, b := l.m.pop(l); e != nil {
			l.frame++
			var s *model.Segment
			if e.res == ResultSegment {
				e.seg.Frame = l.frame
				s = &e.seg
			}
			if l.keepBytes {
				l.emit(b.r, e, b.arena[e.off:e.off+e.n], s)
			}
			if s != nil && l.window > 0 && l.m.ifaces > 1 {
				if l.dedup == nil {
					l.dedup = newDedup(l.window)
				}
				if l.dedup.dup(s) {
					l.dups.Add(1)
					s = nil
				}
			}
			if s != nil {
				if l.opts.OnSegment != nil {
					l.onSegment(b.r, e, b.arena[e.off:e.off+e.n], s)
				}
				dst = append(dst, *s)
				continue
			}
			if quiet++; quiet >= IdleAfter {
				break
			}
			continue
		}
		if len(dst) > n0 {
			// Take in what the readers have handed over meanwhile,
			// without waiting.
			select {
			case b := <-l.merged:
				l.m.add(l, b)
				continue
			default:
				return dst, nil
			}
		}
		// Batches that bring no packet (progress marks of idle
		// interfaces) may keep arriving: the call's timeout must still
		// end it, so it is checked here too, not only while blocked.
		if waiting {
			select {
			case <-l.timer.C:
				waiting = false
				return dst, ErrIdle
			default:
			}
		}
		select {
		case b := <-l.merged:
			l.m.add(l, b)
			continue
		case <-l.done:
			return dst, io.EOF
		default:
		}
		if l.drained() && len(l.merged) == 0 {
			return dst, io.EOF // stopped, and every packet read was returned
		}
		// One timeout for the whole call: idle interfaces keep sending
		// progress marks, which must not keep Next from reporting
		// ErrIdle.
		if !waiting {
			waiting = true
			wait := l.opts.ReadTimeout
			if !deadline.IsZero() {
				wait = min(wait, time.Until(deadline))
			}
			if l.timer == nil {
				l.timer = time.NewTimer(wait)
			} else {
				l.timer.Reset(wait)
			}
		}
		select {
		case b := <-l.merged:
			l.m.add(l, b)
		case <-l.timer.C:
			waiting = false // fired: nothing to stop
			return dst, ErrIdle
		case <-l.done:
			return dst, io.EOF
		case <-cancel:
			return dst, ErrIdle
		}
	}
	if len(dst) == n0 {
		return dst, ErrIdle // IdleAfter packets without a segment
	}
	return dst, nil
}

// emit passes one packet to Tee and Writer.
func (l *Live) emit(r *ifaceReader, e *liveEntry, data []byte, seg *model.Segment) {
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, e.ts), CaptureLength: len(data), Length: int(e.wire), InterfaceIndex: r.kindex}
	if l.opts.Tee != nil {
		l.opts.Tee(int(r.idx), ci, data)
	}
	if w := l.opts.Writer; w != nil && r.wid >= 0 {
		comment := ""
		if seg != nil && l.opts.Comment != nil {
			comment = l.opts.Comment(seg)
		}
		ci.InterfaceIndex = r.wid
		// A write error is sticky in the Writer (Writer.Err): the
		// capture goes on without the file.
		_ = w.WritePacket(ci, data, comment)
	}
}

// onSegment hands a segment about to be returned and its packet to
// LiveOptions.OnSegment.
func (l *Live) onSegment(r *ifaceReader, e *liveEntry, data []byte, seg *model.Segment) {
	l.opts.OnSegment(seg, SegmentPacket{Data: data, Length: int(e.wire), Iface: int(r.idx), IfaceName: r.name, Link: r.link, Snaplen: l.snaplen})
}

// Stats returns the counters of every interface together: Packets read
// from the kernel, TCPFrames (forwarded copies included, see Duplicates),
// NonTCP, DecodeErrors, KernelDrops (the rings' drop counters), QueueDrops
// (segments Run's consumer could not take, see AddQueueDrops) and FilteredOut
// (packets the kernel filter rejected, counted by a second socket).
// IfaceLosses counts the times capture on an interface stopped (it went
// down or was removed); IfaceLostNS adds up, for each loss once capture
// resumed, the time the interface may have carried packets that were not
// captured: from the loss, or from the last rescan that still found it
// down or gone, to the new start: with the kernel's link notifications,
// which trigger a rescan, some tens of milliseconds per loss (opening
// takes about 50 ms) however long the interface was away, and at most
// about one rescan period when a notification is missed. An interface
// that is still away counts in IfaceLosses only.
// Reader counters are published every few milliseconds. The kernel counts
// a dropped segmentation-offload packet (a 64 KiB loopback or GRO
// segment) once per wire segment it stands for, so KernelDrops may exceed
// the captured packets that are missing.
func (l *Live) Stats() model.SourceStats {
	l.rmu.Lock()
	readers := l.readers[:len(l.readers):len(l.readers)]
	l.rmu.Unlock()
	var s model.SourceStats
	for _, r := range readers {
		s.Packets += r.packets.Load()
		s.TCPFrames += r.tcp.Load()
		s.NonTCP += r.nonTCP.Load()
		s.DecodeErrors += r.decodeErrors.Load()
		drops, rejected := r.kernel()
		s.KernelDrops += drops
		s.FilteredOut += rejected
	}
	s.QueueDrops = l.queueDrops.Load()
	s.Duplicates = l.dups.Load()
	l.rmu.Lock()
	for _, e := range l.ifaces {
		s.IfaceLosses += e.info.Losses
		s.IfaceLostNS += e.info.LostNS
	}
	l.rmu.Unlock()
	return s
}

// Duplicates returns how many TCP packets were dropped as copies of a
// packet already seen on another interface (see LiveOptions.DedupWindow).
// They are counted in Stats().TCPFrames and not returned by Next.
func (l *Live) Duplicates() uint64 { return l.dups.Load() }

// AddQueueDrops counts segments a consumer dropped (Run calls it in live
// mode); they appear in Stats().QueueDrops.
func (l *Live) AddQueueDrops(n uint64) { l.queueDrops.Add(n) }

// Interfaces lists the interfaces of the capture, in index order
// (model.Segment.Iface is an index into it), with their counters. An
// interface stays listed after it was lost.
func (l *Live) Interfaces() []LiveInterface {
	l.rmu.Lock()
	out := make([]LiveInterface, len(l.ifaces))
	for i, e := range l.ifaces {
		out[i] = e.info
	}
	readers := l.readers[:len(l.readers):len(l.readers)]
	l.rmu.Unlock()
	for _, r := range readers {
		drops, _ := r.kernel()
		out[r.idx].Packets += r.packets.Load()
		out[r.idx].KernelDrops += drops
	}
	return out
}

// Stop ends reading from the kernel without ending the capture: each
// interface's reader is woken, hands over what it has read and ends, and
// no interface is opened again. Next then returns every packet read
// before (passing each to Tee and Writer, and counting it in Stats) and
// io.EOF after them. So a capture stopped by a signal analyses and writes
// every packet that Stats counts, but for those a full queue dropped
// (QueueDrops). Stop returns at once, without waiting for the readers (a
// reader may be waiting for Next to make room); it may be called from any
// goroutine, more than once. Close must still be called.
func (l *Live) Stop() {
	l.rmu.Lock()
	l.stopped = true
	readers := l.readers[:len(l.readers):len(l.readers)]
	l.rmu.Unlock()
	for _, r := range readers {
		r.halt()
	}
}

// drained reports a stopped capture whose readers have all ended, their
// last batches handed over: what Next has not taken yet is all there is.
func (l *Live) drained() bool {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if !l.stopped {
		return false
	}
	for _, r := range l.readers {
		if !r.ended.Load() {
			return false
		}
	}
	return true
}

// Close stops every reader, then closes the sockets (in that order: a
// TPACKET ring must not be unmapped under a reader), writes the kernel
// counters of each interface to the Writer and flushes it. Next returns
// io.EOF afterwards. Close may be called more than once.
func (l *Live) Close() error {
	var err error
	l.closing.Do(func() {
		close(l.done)
		l.rmu.Lock()
		l.closed = true
		readers := l.readers[:len(l.readers):len(l.readers)]
		l.rmu.Unlock()
		for _, r := range readers {
			r.halt()
		}
		l.wg.Wait()
		for _, r := range readers {
			r.closeHandle()
		}
		for _, f := range l.onClose {
			f()
		}
		if w := l.opts.Writer; w != nil {
			l.writeInterfaceStats(w, readers)
			err = w.Flush()
		}
	})
	return err
}

// writeInterfaceStats records each interface's packet and drop counts in
// the pcapng file, so that a later reader knows what the capture missed.
func (l *Live) writeInterfaceStats(w *Writer, readers []*ifaceReader) {
	type tally struct{ packets, drops uint64 }
	per := map[int]*tally{}
	var order []int
	for _, r := range readers {
		if r.wid < 0 {
			continue
		}
		t := per[r.wid]
		if t == nil {
			t = &tally{}
			per[r.wid] = t
			order = append(order, r.wid)
		}
		drops, _ := r.kernel()
		t.packets += r.packets.Load()
		t.drops += drops
	}
	now := time.Now().UnixNano()
	for _, id := range order {
		_ = w.WriteInterfaceStats(id, now, per[id].packets, per[id].drops)
	}
}

// interfaceList renders names for an error message: "eth0, lo, veth1",
// each quoted if it holds control bytes.
func interfaceList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(quoteNames(names), ", ")
}
