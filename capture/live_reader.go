package capture

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connscope/connscope/model"
)

// ringPollTimeout bounds how long a busy reader waits for a block, so
// that it notices Close (the ring must not be unmapped under a reader) and
// tells Next how far it has got.
const ringPollTimeout = 50 * time.Millisecond

// errReadTimeout is what a packetHandle's read returns when its poll
// timeout passed without a packet.
var errReadTimeout = errors.New("read timeout")

// packetHandle is one packet socket of an interface (an interface may
// have several, sharing its packets by flow).
type packetHandle interface {
	// read returns the next packet: its captured bytes, only valid until
	// the next call, its capture time (ns since the epoch) and its length
	// on the wire. It returns errReadTimeout when nothing came within the
	// handle's poll timeout, which must be short (tens of milliseconds):
	// that is how the reader notices Close.
	read() (data []byte, ts int64, wire int, err error)
	// ready reports whether read would return a packet without waiting.
	ready() bool
	// stats returns the kernel's cumulative counters since the handle was
	// armed: packets it passed to the socket and drops for want of room.
	stats() (packets, drops uint64, err error)
	// close releases the socket. It must not be called while a read is
	// in progress: the ring is unmapped.
	close()
	// setWait sets how long read waits before errReadTimeout (the
	// reader lengthens it while the whole capture is idle).
	setWait(d time.Duration)
	// wake makes a read in progress, and every later one, return
	// errReadTimeout at once: the reader is being stopped. It may be
	// called from any goroutine, also after close.
	wake()
}

// rejectCounter counts, in the kernel, the packets the capture filter
// rejects on one interface.
type rejectCounter interface {
	count() uint64
	close()
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
	// liveBatchSize is the most packets a reader hands over at once: about
	// a ring block's worth of headers (a block is handed over when full),
	// so that a block costs Next one wake-up.
	liveBatchSize = 1024
	// liveArenaMax: a batch whose packet bytes reach this is handed over
	// early (whole packets with a large snaplen).
	liveArenaMax = 1 << 20
	// liveQueue is how many batches may wait for Next. A reader whose
	// batch does not fit waits: the backlog stays in the kernel ring,
	// which is much larger.
	liveQueue = 8
	// liveIdleLag: when the ring has nothing to read, every packet
	// captured more than this long ago has been read. The ring hands a
	// block over at most its block timeout (10 ms, in jiffies) after its
	// first packet; the rest is slack for the timer and the scheduler.
	liveIdleLag = int64(40 * time.Millisecond)
	// liveIdleWait is the longest a reader waits for a packet while the
	// whole capture is idle (nothing on any interface for liveIdleAfter):
	// its wait doubles from the ring's poll timeout up to this, so an idle
	// capture wakes a few times a second, not twenty per interface. Any
	// interface's traffic brings every reader back to the poll timeout,
	// which bounds how long one interface's packets wait for another's
	// progress mark.
	liveIdleWait  = 400 * time.Millisecond
	liveIdleAfter = int64(time.Second)
	// liveMaxPending bounds what Next holds back waiting for a slow
	// interface; beyond it, order gives way to memory.
	liveMaxPending = 1 << 16
)

// ifaceReader reads one packet socket of an interface. Its counters are
// published by its goroutine and read by Stats.
type ifaceReader struct {
	l      *Live
	g      *readerGroup
	idx    uint16 // index in Interfaces()
	name   string
	link   LinkType
	wid    int
	kindex int   // the kernel's interface index
	start  int64 // when it started (ns): its first mark
	ended  atomic.Bool

	h       packetHandle
	rejects rejectCounter // the first reader of a group has it
	stop    atomic.Bool

	packets, tcp, nonTCP, decodeErrors atomic.Uint64

	// hmu guards the handle against Stats while the reader closes it.
	hmu        sync.Mutex
	hclosed    bool
	kernDrops  uint64 // kernel drops so far
	rejectedAt uint64 // rejected packets counted when the handle closed
}

// readerGroup is the readers of one interface, started together: the
// members of its fanout group. When one fails (the interface went down
// or away), the others stop too, and the interface is reported lost once
// the last has ended.
type readerGroup struct {
	members []*ifaceReader
	running atomic.Int32
	mu      sync.Mutex
	failure error // the first member's failure
}

// fail records why the group stops, unless it already failed, and stops
// every member.
func (g *readerGroup) fail(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failure == nil {
		g.failure = err
		for _, r := range g.members {
			r.halt()
		}
	}
}

// err is why the group stopped, nil if it did not fail.
func (g *readerGroup) err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.failure
}

// halt tells the reader to stop, waking it from a wait.
func (r *ifaceReader) halt() {
	r.stop.Store(true)
	r.h.wake()
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

// hand gives a batch to Next, waiting while Next is liveQueue batches
// behind: meanwhile the kernel ring holds what comes, and drops (and
// counts) only once it is full. Reading on and dropping here instead
// would spend the CPU that Next lacks on packets that are then thrown
// away, and leave the ring's room unused. It returns false, the batch
// recycled, when the Live is closed.
func (l *Live) hand(b *liveBatch) bool {
	select {
	case l.merged <- b:
		return true
	default:
	}
	select {
	case l.merged <- b:
		return true
	case <-l.done:
		l.putBatch(b)
		return false
	}
}

// run is the goroutine of one reader.
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
		if len(b.ents) > 0 {
			l.busyAt.Store(time.Now().UnixNano())
		}
		publish()
		b.mark = mark
		if !l.hand(b) {
			r.stop.Store(true)
		}
		b = l.getBatch(r)
	}
	wait, base := ringPollTimeout, ringPollTimeout
	r.h.setWait(wait)
	setWait := func(d time.Duration) {
		if d != wait {
			wait = d
			r.h.setWait(d)
		}
	}
	for !r.stop.Load() {
		if len(b.ents) > 0 && !r.h.ready() {
			// Everything the kernel has handed over is read: pass it
			// on now rather than after the next wait. Whatever is not
			// handed over yet was captured at most the ring's lag ago.
			flush(max(lastTS, time.Now().UnixNano()-liveIdleLag))
			continue
		}
		data, ts, wire, err := r.h.read()
		if err != nil {
			if err == errReadTimeout {
				// Nothing left to read: everything captured before
				// now minus the ring's lag is in.
				now := time.Now().UnixNano()
				flush(max(lastTS, now-liveIdleLag))
				if now-l.busyAt.Load() > liveIdleAfter {
					setWait(min(2*wait, liveIdleWait))
				} else {
					setWait(base)
				}
				continue
			}
			if !r.stop.Load() {
				failure = err
			}
			break
		}
		if wait != base {
			setWait(base)
		}
		packets++
		lastTS = max(lastTS, ts)
		n := len(b.ents)
		b.ents = b.ents[:n+1]
		e := &b.ents[n]
		e.ts, e.wire = ts, int32(wire)
		e.res, _ = dec.Decode(data, wire, r.link, &e.seg)
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
		if len(b.ents) == cap(b.ents) || len(b.arena) >= liveArenaMax {
			flush(lastTS)
		}
	}
	if failure != nil {
		r.g.fail(failure)
	}
	if r.g.err() == nil && len(b.ents) > 0 {
		flush(lastTS)
	} else {
		publish()
	}
	l.putBatch(b)
	r.closeHandle()
	r.ended.Store(true)
	if r.g.running.Add(-1) == 0 {
		if err := r.g.err(); err != nil {
			l.lost(r.idx, err)
			l.event(LiveEvent{Kind: EventIfaceLost, Iface: r.name, Err: err})
		}
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
