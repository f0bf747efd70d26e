package capture

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/connscope/connscope/model"
)

// Defaults of LiveOptions.
const (
	// DefaultLiveSnaplen is how many bytes of each packet live capture
	// keeps: the headers, not the payload. The largest IPv4 header (60
	// bytes with options) plus the largest TCP header (60) behind an
	// Ethernet header with two VLAN tags (22) is 142 bytes; 160 also
	// covers IPv6 (40) with a short extension-header chain. Nothing past
	// the TCP header is needed, since payload lengths come from the IP
	// header, and keeping less means more packets fit the kernel ring
	// (fewer drops) and a -w file holds no user data. Tunnelled traffic
	// may need more (-s): a segment whose TCP header is cut is still
	// counted in its flow but not analysed (model.Segment.HeaderCut).
	DefaultLiveSnaplen = 160
	// DefaultRingSize is the kernel ring of one interface, in bytes, when
	// at most a few interfaces are captured: at about 256 bytes a packet
	// (header-only snaplen plus the ring's own headers) it holds some
	// 32,000 packets, 160 ms at 200,000 packets/s, enough to ride out a
	// garbage collection or a busy CPU.
	DefaultRingSize = 8 << 20
	// DefaultRingBudget caps the rings of all interfaces together when
	// no RingSize is given: with many interfaces (a container host) each
	// gets DefaultRingBudget/n, but never less than MinRingSize.
	DefaultRingBudget = 64 << 20
	// MinRingSize is the smallest ring an interface gets.
	MinRingSize = 1 << 20
	// DefaultReadTimeout is how long Next waits for a packet before it
	// returns ErrIdle.
	DefaultReadTimeout = 100 * time.Millisecond
	// DefaultRescanEvery is how often the interface list is read again to
	// pick up interfaces that appeared or came back up.
	DefaultRescanEvery = 2 * time.Second
	// DefaultDedupWindow is how far apart in capture time two copies of a
	// packet seen on different interfaces may be and still count as one
	// packet (see LiveOptions.DedupWindow). Forwarding takes microseconds;
	// the slack is for a queue in front of the outgoing interface.
	DefaultDedupWindow = 50 * time.Millisecond
)

// Errors of live capture. Every error OpenLive returns wraps one of these
// or names the interface and the system call that failed.
var (
	// ErrNeedsLinux: live capture (and the privilege check) exist only on
	// Linux; reading files works everywhere.
	ErrNeedsLinux = errors.New("live capture needs Linux")
	// ErrNoInterface: an interface named in LiveOptions.Interfaces does not
	// exist; the error lists the ones that do.
	ErrNoInterface = errors.New("no such interface")
	// ErrPrivilege: the process lacks CAP_NET_RAW. The error says how to
	// get it. It also matches os.ErrPermission.
	ErrPrivilege = errors.New("live capture needs CAP_NET_RAW")
)

// LiveOptions configure OpenLive. The zero value captures every interface
// that is up, loopback included, headers only, without a filter.
type LiveOptions struct {
	// Interfaces to capture on, by name. Empty (or the single name "any")
	// means every interface that is up now, and every one that comes up
	// later. Named interfaces must exist; one that is down is captured
	// when it comes up.
	Interfaces []string
	// Snaplen is the most bytes kept of each packet: 0 means
	// DefaultLiveSnaplen; MaxCaptureLength keeps whole packets.
	Snaplen int
	// Filter is a pcap-filter expression ("tcp port 8080"). It is compiled
	// for each interface's link type and run in the kernel, so rejected
	// packets cost no copy. An invalid or unsupported expression makes
	// OpenLive fail with a *filter.SyntaxError naming the word.
	Filter string
	// Promisc puts the interfaces in promiscuous mode (off by default:
	// a server sees its own traffic without it).
	Promisc bool
	// RingSize is the kernel ring of each interface in bytes (0: see
	// DefaultRingSize and DefaultRingBudget).
	RingSize int
	// ReadTimeout is how long Next waits before returning ErrIdle
	// (0: DefaultReadTimeout).
	ReadTimeout time.Duration
	// RescanEvery is how often interfaces are listed again (0:
	// DefaultRescanEvery; negative: never).
	RescanEvery time.Duration
	// DedupWindow: a TCP segment seen on one interface whose copy was
	// already seen on another interface within this capture-time window
	// is the same packet (forwarded by this host, bridged, or seen on a
	// VLAN device and its parent) and is dropped, so that it is not
	// counted twice or taken for a retransmission. Copies on the same
	// interface are always kept. 0: DefaultDedupWindow; negative: off.
	DedupWindow time.Duration
	// Writer, if set, receives every captured packet (after the filter,
	// forwarded copies included) as pcapng, in frame order from Next;
	// each interface is added to it as it is opened. The caller creates
	// the Writer and closes it after Close, which writes each interface's
	// counters to it and flushes it. Packets a slow consumer makes Live
	// drop (QueueDrops) are missing from the file too.
	Writer *Writer
	// Comment, if set, returns the pcapng comment written with a packet
	// that carries a TCP segment (OwnerComment formats the owning
	// process). It is called from Next, one packet at a time, so it must
	// be quick; seg (with its frame number) is only valid during the call.
	Comment func(seg *model.Segment) string
	// Tee, if set, is called with every captured packet (after the
	// filter, forwarded copies included) from Next, in frame order, just
	// before its segment is returned. iface is the index in Interfaces();
	// ci.InterfaceIndex is the kernel's interface index. data is reused
	// when Tee returns: copy what you keep. With Tee or Writer set, the
	// readers copy each packet's captured bytes (the snaplen) for it.
	Tee func(iface int, ci gopacket.CaptureInfo, data []byte)
	// OnEvent, if set, is told when an interface is added, lost or cannot
	// be opened after OpenLive returned. It is called on a capture
	// goroutine and must not block.
	OnEvent func(LiveEvent)

	// forceRecvmsg makes every interface use the recvmsg fallback, so
	// that tests can exercise it.
	forceRecvmsg bool
}

// CaptureMethod is how packets of one interface are read from the kernel.
type CaptureMethod uint8

// Capture methods.
const (
	// MethodRing is a TPACKET_V3 memory-mapped ring (gopacket afpacket):
	// the kernel fills blocks of packets and one poll hands over many.
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

// LiveInterface describes one interface of a Live capture.
type LiveInterface struct {
	// Name is the interface name ("eth0").
	Name string
	// Type is the kernel's ARPHRD_ interface type (1 Ethernet, 772
	// loopback, 65534 raw IP ...).
	Type uint16
	// Link is the framing of the captured packets.
	Link LinkType
	// Method is how packets are read.
	Method CaptureMethod
	// Active reports whether the interface is being captured now.
	Active bool
	// Err says why it is not, when it was lost or could not be opened.
	Err string
	// Packets is how many packets were read on it; KernelDrops how many
	// the kernel dropped because its ring was full.
	Packets, KernelDrops uint64
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
		return "capturing on " + e.Iface
	case EventIfaceLost:
		return fmt.Sprintf("lost %s: %v", e.Iface, e.Err)
	}
	return fmt.Sprintf("cannot capture on %s: %v", e.Iface, e.Err)
}

// errReadTimeout is what a packetHandle's read returns when its poll
// timeout passed without a packet.
var errReadTimeout = errors.New("read timeout")

// packetHandle is one interface's packet socket.
type packetHandle interface {
	// read returns the next packet. data is only valid until the next
	// call. It returns errReadTimeout when nothing came within the
	// handle's poll timeout (handles that block forever never do).
	read() (data []byte, ci gopacket.CaptureInfo, err error)
	// stats returns the kernel's cumulative counters since the handle was
	// armed: packets it passed to the socket and drops for want of room.
	stats() (packets, drops uint64, err error)
	// close releases the socket. Unless interruptible, it must not be
	// called while a read is in progress.
	close()
	// interruptible reports whether close may be called during a read
	// (and makes it return), which is how a handle without a poll
	// timeout is stopped.
	interruptible() bool
}

// rejectCounter counts, in the kernel, the packets the capture filter
// rejects on one interface.
type rejectCounter interface {
	count() uint64
	close()
}

// Live is a live capture on one or more interfaces. It implements Source
// (Next, Stats) and DropCounter. Next must be called from one goroutine;
// every other method is safe from any goroutine.
//
// Each interface has its own kernel socket and reader goroutine, which
// decodes packets as they come and hands them over in small batches,
// never waiting: when Next falls behind by more than liveQueue batches a
// batch is dropped and its segments counted in QueueDrops, so that the
// kernel ring keeps draining.
//
// Next merges the interfaces in capture-time order, as mergecap does: a
// segment is returned only once every other interface has shown it has
// nothing older (each batch says how far its interface has got, and an
// idle interface says so every 50 ms). The analysis needs that order: a
// flow whose packets cross two interfaces (a router, a bridge) would
// otherwise look reordered. It costs a capture of several interfaces up
// to about 100 ms of latency; one interface, none. In that order Next
// drops the copy of a packet already seen on another interface (see
// LiveOptions.DedupWindow), numbers the frames (every packet counts, TCP
// or not, copies included: they are the packet numbers of a -w file), and
// passes each packet to Tee and Writer.
type Live struct {
	opts      LiveOptions
	snaplen   int
	keepBytes bool // Tee or Writer need the packet bytes

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
	readerGen atomic.Uint64 // bumped when a reader starts

	queueDrops atomic.Uint64
	dups       atomic.Uint64
	onClose    []func() // platform resources released by Close

	// Next's state (one goroutine).
	m      merger
	frame  uint64
	window int64  // DedupWindow in ns, 0 when off
	dedup  *dedup // made when a second interface shows up
	timer  *time.Timer
}

// liveIface is one entry of Interfaces().
type liveIface struct {
	info LiveInterface
	wid  int      // pcapng interface ID in opts.Writer, -1 if none
	wlt  LinkType // link type that ID was added with
}

// liveEntry is one captured packet on its way to Next.
type liveEntry struct {
	ts     int64
	wire   int32
	off, n int32 // the packet's bytes in the batch's arena (keepBytes)
	res    Result
	seg    model.Segment // with res == ResultSegment
}

// liveBatch carries one reader's packets to Next, in capture order, and
// how far the reader has got: every packet of its interface captured at or
// before mark is in this batch or an earlier one.
type liveBatch struct {
	r     *ifaceReader
	ents  []liveEntry
	arena []byte
	mark  int64
}

const (
	// liveBatchSize is the most packets a reader hands over at once.
	liveBatchSize = 256
	// liveArenaMax: a batch whose packet bytes reach this is handed over
	// early (whole packets with a large snaplen).
	liveArenaMax = 1 << 20
	// liveQueue is how many batches may wait for Next.
	liveQueue = 128
	// liveFlushAfter: a reader hands over a partial batch once its first
	// packet is this old (capture time), so a trickle is not held back
	// until the batch fills.
	liveFlushAfter = int64(5 * time.Millisecond)
	// liveIdleLag: when a read times out, every packet captured more than
	// this long ago has been read. The ring hands a block over at most
	// its block timeout (10 ms, in jiffies) after its first packet; the
	// rest is slack for the timer and the scheduler.
	liveIdleLag = int64(40 * time.Millisecond)
	// liveMaxPending bounds what Next holds back waiting for a slow
	// interface; beyond it, order gives way to memory.
	liveMaxPending = 1 << 16
)

// ifaceReader reads one interface. Its counters are published by its
// goroutine and read by Stats.
type ifaceReader struct {
	l      *Live
	idx    uint16 // index in Interfaces()
	name   string
	link   LinkType
	wid    int
	kindex int   // the kernel's interface index
	start  int64 // when it started (ns): its first mark
	ended  atomic.Bool

	h       packetHandle
	rejects rejectCounter
	stop    atomic.Bool

	packets, tcp, nonTCP, decodeErrors atomic.Uint64

	// hmu guards the handle against Stats while the reader closes it.
	hmu        sync.Mutex
	hclosed    bool
	kernDrops  uint64 // kernel drops so far
	rejectedAt uint64 // rejected packets counted when the handle closed
}

// newLive returns a Live with no interface yet; OpenLive adds them.
func newLive(opts LiveOptions) *Live {
	l := &Live{
		opts:      opts,
		snaplen:   opts.Snaplen,
		keepBytes: opts.Tee != nil || opts.Writer != nil,
		merged:    make(chan *liveBatch, liveQueue),
		free:      make(chan *liveBatch, liveQueue+8),
		done:      make(chan struct{}),
	}
	if l.snaplen <= 0 {
		l.snaplen = DefaultLiveSnaplen
	}
	if l.snaplen > MaxCaptureLength {
		l.snaplen = MaxCaptureLength
	}
	if l.opts.ReadTimeout <= 0 {
		l.opts.ReadTimeout = DefaultReadTimeout
	}
	switch {
	case opts.DedupWindow == 0:
		l.window = int64(DefaultDedupWindow)
	case opts.DedupWindow > 0:
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

// start adds an armed handle as interface name (kernel index kindex) and
// starts its reader. It returns false (and closes the handle) when the
// Live is already closed.
func (l *Live) start(name string, kindex int, typ uint16, link LinkType, method CaptureMethod, h packetHandle, rej rejectCounter) bool {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if l.closed {
		h.close()
		if rej != nil {
			rej.close()
		}
		return false
	}
	e, idx := l.ifaceEntry(name, typ, link)
	e.info.Method, e.info.Active, e.info.Err = method, true, ""
	if l.opts.Writer != nil && (e.wid < 0 || e.wlt != link) {
		// A pcapng interface has one link type: a name that comes back
		// with another framing gets a new interface block.
		if id, err := l.opts.Writer.AddInterface(name, link, l.snaplen, l.opts.Filter); err == nil {
			e.wid, e.wlt = id, link
		}
	}
	r := &ifaceReader{l: l, idx: uint16(idx), name: name, link: link, wid: e.wid, kindex: kindex,
		start: time.Now().UnixNano(), h: h, rejects: rej}
	l.readers = append(l.readers, r)
	l.readerGen.Add(1)
	l.wg.Add(1)
	go r.run()
	return true
}

// markUnavailable records that interface name could not be opened.
func (l *Live) markUnavailable(name string, typ uint16, link LinkType, err error) {
	l.rmu.Lock()
	e, _ := l.ifaceEntry(name, typ, link)
	e.info.Active = false
	e.info.Err = err.Error()
	l.rmu.Unlock()
}

// active reports whether name is being captured now.
func (l *Live) active(name string) bool {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	for _, e := range l.ifaces {
		if e.info.Name == name {
			return e.info.Active
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

func (l *Live) getBatch(r *ifaceReader) *liveBatch {
	select {
	case b := <-l.free:
		b.r, b.ents, b.arena, b.mark = r, b.ents[:0], b.arena[:0], 0
		return b
	default:
		b := &liveBatch{r: r, ents: make([]liveEntry, 0, liveBatchSize)}
		if l.keepBytes {
			b.arena = make([]byte, 0, liveBatchSize*min(l.snaplen, 512))
		}
		return b
	}
}

func (l *Live) putBatch(b *liveBatch) {
	b.r = nil
	select {
	case l.free <- b:
	default:
	}
}

// hand gives a batch to Next without waiting: a full queue drops it (its
// TCP segments are counted as queue drops; a batch that only carries a
// mark is simply superseded by the next one).
func (l *Live) hand(b *liveBatch) {
	select {
	case l.merged <- b:
	default:
		var n uint64
		for i := range b.ents {
			if b.ents[i].res == ResultSegment {
				n++
			}
		}
		l.queueDrops.Add(n)
		l.putBatch(b)
	}
}

// run is the reader goroutine of one interface.
func (r *ifaceReader) run() {
	l := r.l
	defer l.wg.Done()
	var (
		dec                           Decoder
		b                             = l.getBatch(r)
		lastTS                        = r.start
		packets, tcp, nonTCP, decErrs uint64
		failure                       error
	)
	publish := func() {
		r.packets.Add(packets)
		r.tcp.Add(tcp)
		r.nonTCP.Add(nonTCP)
		r.decodeErrors.Add(decErrs)
		packets, tcp, nonTCP, decErrs = 0, 0, 0, 0
	}
	// flush hands the batch over with how far the reader has got; with
	// nothing to hand over it still tells Next that time has passed.
	flush := func(mark int64) {
		publish()
		b.mark = mark
		l.hand(b)
		b = l.getBatch(r)
	}
	for !r.stop.Load() {
		data, ci, err := r.h.read()
		if err != nil {
			if err == errReadTimeout {
				// Nothing left to read: everything captured before
				// now minus the ring's lag is in.
				flush(max(lastTS, time.Now().UnixNano()-liveIdleLag))
				continue
			}
			if !r.stop.Load() {
				failure = err
			}
			break
		}
		packets++
		ts := ci.Timestamp.UnixNano()
		lastTS = max(lastTS, ts)
		n := len(b.ents)
		b.ents = b.ents[:n+1]
		e := &b.ents[n]
		e.ts, e.wire = ts, int32(ci.Length)
		e.res, _ = dec.Decode(data, ci.Length, r.link, &e.seg)
		switch e.res {
		case ResultSegment:
			tcp++
			e.seg.TS = ts
			e.seg.Iface = r.idx
		case ResultError:
			decErrs++
		default:
			nonTCP++
		}
		if l.keepBytes {
			e.off, e.n = int32(len(b.arena)), int32(len(data))
			b.arena = append(b.arena, data...)
		}
		if len(b.ents) == cap(b.ents) || ts-b.ents[0].ts >= liveFlushAfter || len(b.arena) >= liveArenaMax {
			flush(lastTS)
		}
	}
	if failure == nil && len(b.ents) > 0 {
		flush(lastTS)
	} else {
		publish()
	}
	l.putBatch(b)
	r.closeHandle()
	r.ended.Store(true)
	if failure != nil {
		l.rmu.Lock()
		if e := l.ifaces[r.idx]; !l.closed {
			e.info.Active = false
			e.info.Err = failure.Error()
		}
		l.rmu.Unlock()
		l.event(LiveEvent{Kind: EventIfaceLost, Iface: r.name, Err: failure})
	}
}

// closeHandle closes the socket once, keeping its final counters.
func (r *ifaceReader) closeHandle() {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	if r.hclosed {
		return
	}
	r.refreshLocked()
	if r.rejects != nil {
		r.rejectedAt = r.rejects.count()
		r.rejects.close()
	}
	r.h.close()
	r.hclosed = true
}

// refreshLocked reads the kernel drop counter. r.hmu must be held.
func (r *ifaceReader) refreshLocked() {
	if r.hclosed {
		return
	}
	if _, drops, err := r.h.stats(); err == nil {
		r.kernDrops = drops
	}
}

// kernel returns the kernel drops and the packets rejected by the filter.
func (r *ifaceReader) kernel() (drops, rejected uint64) {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	r.refreshLocked()
	rejected = r.rejectedAt
	if !r.hclosed && r.rejects != nil {
		rejected = r.rejects.count()
	}
	return r.kernDrops, rejected
}

// merger is Next's view of the readers: what each has handed over and not
// yet been returned, and how far it has got.
type merger struct {
	gen     uint64 // l.readerGen the list was last synced with
	qs      []*readerQueue
	pending int
	spent   *liveBatch // emptied by the last pop, recycled by the next
}

type readerQueue struct {
	r       *ifaceReader
	batches []*liveBatch
	pos     int   // next entry of batches[0]
	mark    int64 // everything captured up to here was handed over
}

func (q *readerQueue) head() *liveEntry {
	if len(q.batches) == 0 {
		return nil
	}
	return &q.batches[0].ents[q.pos]
}

// sync adds the readers started since the last call.
func (m *merger) sync(l *Live) {
	gen := l.readerGen.Load()
	if gen == m.gen {
		return
	}
	l.rmu.Lock()
	readers := l.readers
	l.rmu.Unlock()
	m.gen = gen
	for _, r := range readers {
		if m.find(r) == nil && !r.ended.Load() {
			m.qs = append(m.qs, &readerQueue{r: r, mark: r.start})
		}
	}
}

func (m *merger) find(r *ifaceReader) *readerQueue {
	for _, q := range m.qs {
		if q.r == r {
			return q
		}
	}
	return nil
}

// add queues a batch from a reader.
func (m *merger) add(l *Live, b *liveBatch) {
	q := m.find(b.r)
	if q == nil {
		m.sync(l)
		if q = m.find(b.r); q == nil {
			q = &readerQueue{r: b.r, mark: b.r.start}
			m.qs = append(m.qs, q)
		}
	}
	q.mark = max(q.mark, b.mark)
	if len(b.ents) == 0 {
		l.putBatch(b)
		return
	}
	q.batches = append(q.batches, b)
	m.pending += len(b.ents)
}

// pop returns the oldest queued packet if no interface can still hand
// over an older one, and the batch it is in (which stays valid until the
// next pop).
func (m *merger) pop(l *Live) (*liveEntry, *liveBatch) {
	if m.spent != nil {
		l.putBatch(m.spent)
		m.spent = nil
	}
	var best *readerQueue
	horizon := int64(math.MaxInt64)
	live := m.qs[:0]
	for _, q := range m.qs {
		if h := q.head(); h != nil {
			if best == nil || h.ts < best.head().ts {
				best = q
			}
		} else if q.r.ended.Load() {
			continue // drop the queue of a finished reader
		} else {
			horizon = min(horizon, q.mark)
		}
		live = append(live, q)
	}
	clear(m.qs[len(live):])
	m.qs = live
	if best == nil {
		return nil, nil
	}
	e := best.head()
	if e.ts > horizon && m.pending < liveMaxPending {
		return nil, nil
	}
	b := best.batches[0]
	best.pos++
	m.pending--
	if best.pos == len(b.ents) {
		// The entry stays readable until the next pop, which recycles
		// its batch.
		m.spent = b
		best.batches[0] = nil
		best.batches = best.batches[1:]
		best.pos = 0
	}
	return e, b
}

// Next returns the next TCP segment captured on any interface, in
// capture-time order across interfaces. It returns ErrIdle when none came
// within LiveOptions.ReadTimeout, and io.EOF once the Live is closed. It
// does not allocate.
func (l *Live) Next(seg *model.Segment) error {
	l.m.sync(l)
	waiting := false // the timer runs for this call
	defer func() {
		if waiting {
			l.timer.Stop()
		}
	}()
	for {
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
			if s == nil {
				continue
			}
			if l.window > 0 && len(l.m.qs) > 1 {
				if l.dedup == nil {
					l.dedup = newDedup(l.window)
				}
				if l.dedup.dup(s) {
					l.dups.Add(1)
					continue
				}
			}
			*seg = *s
			return nil
		}
		// Batches that bring no packet (progress marks of idle
		// interfaces) may keep arriving: the call's timeout must still
		// end it, so it is checked here too, not only while blocked.
		if waiting {
			select {
			case <-l.timer.C:
				waiting = false
				return ErrIdle
			default:
			}
		}
		select {
		case b := <-l.merged:
			l.m.add(l, b)
			continue
		case <-l.done:
			return io.EOF
		default:
		}
		// One timeout for the whole call: idle interfaces keep sending
		// progress marks, which must not keep Next from reporting
		// ErrIdle.
		if !waiting {
			waiting = true
			if l.timer == nil {
				l.timer = time.NewTimer(l.opts.ReadTimeout)
			} else {
				l.timer.Reset(l.opts.ReadTimeout)
			}
		}
		select {
		case b := <-l.merged:
			l.m.add(l, b)
		case <-l.timer.C:
			waiting = false // fired: nothing to stop
			return ErrIdle
		case <-l.done:
			return io.EOF
		}
	}
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

// Stats returns the counters of every interface together: Packets read
// from the kernel, TCPFrames (forwarded copies included, see Duplicates),
// NonTCP, DecodeErrors, KernelDrops (the rings' drop counters), QueueDrops
// (segments Next or Run's consumer could not take) and FilteredOut
// (packets the kernel filter rejected, counted by a second socket).
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
			r.stop.Store(true)
			if r.h.interruptible() {
				r.closeHandle()
			}
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

// dedup remembers recent TCP segments by a hash of the header fields a
// forwarding host does not change, to recognise a packet seen again on
// another interface. It is a direct-mapped table: a slot overwritten by
// another packet before the copy arrives only means a copy is kept, never
// that a distinct packet is dropped (the 64-bit key has to match).
type dedup struct {
	window int64
	slots  []dedupSlot
}

type dedupSlot struct {
	key   uint64
	ts    int64
	iface uint16
	used  bool
}

// dedupSlots is a power of two: at 200,000 packets/s a 50 ms window holds
// 10,000 packets, and the copy of a forwarded packet arrives within a few
// hundred packets.
const dedupSlots = 1 << 15

func newDedup(window int64) *dedup {
	return &dedup{window: window, slots: make([]dedupSlot, dedupSlots)}
}

// dup reports whether seg is a copy, seen on another interface within the
// window, of a segment already recorded; otherwise it records seg.
func (d *dedup) dup(seg *model.Segment) bool {
	k := segmentKey(seg)
	s := &d.slots[k&(dedupSlots-1)]
	if s.used && s.key == k && s.iface != seg.Iface {
		dt := seg.TS - s.ts
		if dt < 0 {
			dt = -dt
		}
		if dt <= d.window {
			return true
		}
	}
	*s = dedupSlot{key: k, ts: seg.TS, iface: seg.Iface, used: true}
	return false
}

// segmentKey hashes what identifies one transmission of a segment: the
// addresses, ports, sequence and acknowledgement numbers, flags, window,
// lengths, IPv4 identification and DF bit, and the TCP timestamps. A
// router changes only the TTL (and the IPv4 checksum), a bridge or a VLAN
// device nothing, so every copy of a packet has the same key; a
// retransmission differs in its IP ID (Linux numbers every IPv4 packet of
// a connection) or its timestamp.
func segmentKey(s *model.Segment) uint64 {
	src, dst := s.Src.Addr().As16(), s.Dst.Addr().As16()
	h := uint64(0x243f6a8885a308d3)
	h = mix(h, loadLE64(src[:8]))
	h = mix(h, loadLE64(src[8:]))
	h = mix(h, loadLE64(dst[:8]))
	h = mix(h, loadLE64(dst[8:]))
	h = mix(h, uint64(s.Src.Port())<<48|uint64(s.Dst.Port())<<32|uint64(s.Seq))
	h = mix(h, uint64(s.Ack)<<32|uint64(s.Window)<<16|uint64(s.Flags)<<8|uint64(s.TCPHdrLen))
	var bits uint64
	if s.IPv6 {
		bits |= 1
	}
	if s.DF {
		bits |= 2
	}
	if s.Opts.Timestamps {
		bits |= 4
	}
	h = mix(h, uint64(s.PayloadLen)<<32|uint64(s.IPID)<<16|bits)
	h = mix(h, uint64(s.Opts.TSVal)<<32|uint64(s.Opts.TSEcr))
	return h
}

func loadLE64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// mix folds v into h (a multiply-xorshift round, as in wyhash).
func mix(h, v uint64) uint64 {
	h ^= v
	h *= 0x9e3779b97f4a7c15
	return h ^ h>>29
}

// interfaceList renders names for an error message: "eth0, lo, veth1".
func interfaceList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
