package capture

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/connscope/connscope/model"
)

// errReadTimeout is what a packetHandle's read returns when its poll
// timeout passed without a packet.
var errReadTimeout = errors.New("read timeout")

// packetHandle is one interface's packet socket.
type packetHandle interface {
	// read returns the next packet. data is only valid until the next
	// call. It returns errReadTimeout when nothing came within the
	// handle's poll timeout, which must be short (tens of milliseconds):
	// that is how the reader notices Close.
	read() (data []byte, ci gopacket.CaptureInfo, err error)
	// stats returns the kernel's cumulative counters since the handle was
	// armed: packets it passed to the socket and drops for want of room.
	stats() (packets, drops uint64, err error)
	// close releases the socket. It must not be called while a read is
	// in progress: gopacket's ring crashes when it is unmapped under a
	// reader.
	close()
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
	exited chan struct{} // closed when run returns, after its last hand-over

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
	defer close(r.exited)
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
		l.lost(r.idx, failure)
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
