package capture

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/connscope/connscope/model"
)

// Source is anything Run can drain: a File, or a live capture handle.
type Source interface {
	// Next decodes the next TCP segment into seg. It returns io.EOF when
	// the source is exhausted, ErrIdle when it has nothing yet (a live
	// read timeout, or IdleAfter packets without a segment), or the error
	// that ended the source.
	Next(seg *model.Segment) error
	// Stats returns the source's counters; it must be safe to call from
	// any goroutine.
	Stats() model.SourceStats
}

// BatchSource is a Source that hands over many segments per call, and
// whose wait Run can bound and cancel; Run then reads it on its own
// goroutine, with no lock or hand-over per segment (Live is one).
type BatchSource interface {
	Source
	// NextBatch appends to dst, up to its capacity, the segments Next
	// would return one after the other: it waits for the first as Next
	// does (returning Next's errors, dst unchanged), but returns ErrIdle
	// at deadline (if not zero) or once cancel is closed, then it takes
	// every one that is ready without waiting.
	NextBatch(dst []model.Segment, deadline time.Time, cancel <-chan struct{}) ([]model.Segment, error)
}

// DropCounter is implemented by sources that report Run's queue drops in
// their own Stats (File does), so one SourceStats shows every drop.
type DropCounter interface {
	AddQueueDrops(n uint64)
}

// ErrIdle is returned by a Source's Next when it has no segment yet but
// hands control back: a Live's read timeout passed, or a File or Live read
// IdleAfter packets in a row that gave no segment. It is not an error:
// the caller checks its context (or flushes what it has) and calls Next
// again. Run does so.
var ErrIdle = errors.New("capture: no segment yet")

// IdleAfter bounds the packets (and pcapng blocks) one call of Next reads
// without producing a segment: after that many it returns ErrIdle. At the
// 40-50 ns a skipped packet costs, 4,096 of them take about 0.2 ms, so a
// caller that checks its context on every return from Next notices a
// cancellation within that time even in a file of nothing but other
// traffic.
const IdleAfter = 4096

// Defaults for RunOptions.
const (
	DefaultBatchSize  = 1024
	DefaultFlushEvery = 50 * time.Millisecond
	// DefaultQueuedBatches is how many full batches may wait between the
	// reading goroutine and the send in file mode (the reader then waits).
	DefaultQueuedBatches = 4
	// LiveQueuedBatches is the same for a live source, where the oldest
	// waiting batch is then dropped and counted. Four batches are only
	// about 13 ms at 300k packets/s, where a garbage collection or a busy
	// CPU made the queue drop; 32 ride out about 100 ms.
	LiveQueuedBatches = 32
)

// RunOptions configure Run. The zero value means file replay with the
// defaults.
type RunOptions struct {
	// Live makes every send non-blocking: when the consumer is behind,
	// the batch is dropped and its segments counted in QueueDrops, so that
	// the reader keeps draining the kernel ring. Without Live the send
	// blocks, so a file replay is complete and deterministic.
	Live bool
	// BatchSize is the most segments per batch (DefaultBatchSize if 0).
	BatchSize int
	// FlushEvery is the period at which whatever is pending is sent as a
	// partial batch (DefaultFlushEvery if 0), so that a quiet link or a
	// slow pipe still delivers within that time.
	FlushEvery time.Duration
	// Pool, if set, supplies the batches; the consumer may hand each
	// batch back with Pool.Put once it is done with it. Without a pool
	// every batch is freshly allocated and belongs to the consumer. The
	// pool's batch size should be BatchSize (it is the default for it).
	Pool *BatchPool
}

// BatchPool recycles segment batches between Run and its consumer. It
// holds at most a fixed number of free batches; Put beyond that lets the
// batch go to the garbage collector. Safe for concurrent use.
type BatchPool struct {
	free chan []model.Segment
	size int
}

// NewBatchPool returns a pool keeping up to keep free batches of
// batchSize segments (DefaultBatchSize if batchSize <= 0).
func NewBatchPool(keep, batchSize int) *BatchPool {
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	if keep < 0 {
		keep = 0
	}
	return &BatchPool{free: make(chan []model.Segment, keep), size: batchSize}
}

// Get returns an empty batch with room for the pool's batch size.
func (p *BatchPool) Get() []model.Segment {
	select {
	case b := <-p.free:
		return b[:0]
	default:
		return make([]model.Segment, 0, p.size)
	}
}

// Put hands a batch back. The caller must not touch it afterwards.
func (p *BatchPool) Put(b []model.Segment) {
	if cap(b) < p.size {
		return
	}
	select {
	case p.free <- b[:0]:
	default:
	}
}

// Run reads src until it ends and sends its segments on out in batches of
// up to opts.BatchSize, or whatever is pending every opts.FlushEvery. Each
// batch sent belongs to the consumer: Run never touches it again (with a
// Pool, the consumer may return it). Batches keep the source's order.
//
// Run returns nil when the source is exhausted (io.EOF) and every batch was
// sent; the source's error (for a file, a *FileError after all segments
// before the damage were sent); or ctx's error when ctx is cancelled. Run
// never closes out, so several sources may share it: close it after Run
// returns. Reading happens on a goroutine of Run's own, so that a partial
// batch is flushed on time even while a read blocks (a pipe, a quiet live
// link). If ctx is cancelled while that goroutine is blocked in Next, Run
// returns at once and the goroutine ends at its next return from Next;
// closing the source makes that happen (File.Close does, except for stdin,
// which the end of the process takes care of).
//
// A BatchSource is read on the calling goroutine instead, a batch at a
// time, each wait bounded by the flush deadline and ended by ctx; and in
// live mode a consumer that is behind is waited for, as in a file replay:
// the source's own buffer holds the backlog (a Live's kernel rings, which
// drop and count only once full), so no CPU goes to reading and decoding
// packets that would then be dropped.
func Run(ctx context.Context, src Source, out chan<- []model.Segment, opts RunOptions) error {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
		if opts.Pool != nil {
			opts.BatchSize = opts.Pool.size
		}
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = DefaultFlushEvery
	}
	pool := opts.Pool
	if pool == nil {
		pool = NewBatchPool(0, opts.BatchSize)
	}
	if bs, ok := src.(BatchSource); ok {
		return runBatches(ctx, bs, out, opts, pool)
	}
	drops := func(n int) {
		if dc, ok := src.(DropCounter); ok && n > 0 {
			dc.AddQueueDrops(uint64(n))
		}
	}
	b := &batcher{pool: pool, size: opts.BatchSize, live: opts.Live, drops: drops, notify: make(chan struct{}, 1)}
	b.cond = sync.NewCond(&b.mu)
	b.cur = pool.Get()
	go b.read(src)

	tick := time.NewTicker(opts.FlushEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			b.stop()
			return ctx.Err()
		case <-b.notify:
		case <-tick.C:
			b.flush()
		}
		for {
			batch, done, err := b.pop()
			if batch == nil {
				if done {
					b.stop()
					if err == io.EOF {
						return nil
					}
					return err
				}
				break
			}
			if opts.Live {
				select {
				case out <- batch:
				default:
					drops(len(batch))
					pool.Put(batch) // never seen by the consumer
				}
				continue
			}
			select {
			case out <- batch:
			case <-ctx.Done():
				b.stop()
				return ctx.Err()
			}
		}
	}
}

// runBatches is Run for a BatchSource.
func runBatches(ctx context.Context, src BatchSource, out chan<- []model.Segment, opts RunOptions, pool *BatchPool) error {
	var cur []model.Segment
	var first time.Time // when cur got its first segment
	get := func() {
		cur = pool.Get()
		if cap(cur) < opts.BatchSize {
			cur = make([]model.Segment, 0, opts.BatchSize)
		}
		cur = cur[:0:opts.BatchSize]
	}
	send := func() error {
		select {
		case out <- cur:
		case <-ctx.Done():
			pool.Put(cur)
			return ctx.Err()
		}
		get()
		return nil
	}
	get()
	for {
		if err := ctx.Err(); err != nil {
			pool.Put(cur)
			return err
		}
		var deadline time.Time
		if len(cur) > 0 {
			deadline = first.Add(opts.FlushEvery)
		}
		n := len(cur)
		var err error
		cur, err = src.NextBatch(cur, deadline, ctx.Done())
		if err != nil && err != ErrIdle {
			if len(cur) > 0 {
				if serr := send(); serr != nil {
					return serr
				}
			}
			pool.Put(cur)
			if err == io.EOF {
				return nil
			}
			return err
		}
		if len(cur) == 0 {
			continue
		}
		now := time.Now()
		if n == 0 && len(cur) > 0 {
			first = now
		}
		if len(cur) >= opts.BatchSize || !now.Before(first.Add(opts.FlushEvery)) {
			if err := send(); err != nil {
				return err
			}
		}
	}
}

// batcher hands segments from the reading goroutine to Run's goroutine.
// The reader appends to cur; a full cur, or a partial one taken by the
// flush timer, moves to the queue, which only Run's goroutine pops, so the
// order of segments is kept whoever closes a batch.
type batcher struct {
	mu      sync.Mutex
	cond    *sync.Cond // the reader waits here for room in the queue
	cur     []model.Segment
	queue   [][]model.Segment
	done    bool  // the reader has finished
	err     error // why it finished
	stopped bool  // Run has returned
	pool    *BatchPool
	size    int
	live    bool
	drops   func(n int) // counts segments dropped in live mode
	notify  chan struct{}
}

// wake tells Run's goroutine there is work, without blocking.
func (b *batcher) wake() {
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// read is the reading goroutine.
func (b *batcher) read(src Source) {
	var seg model.Segment
	for {
		err := src.Next(&seg)
		b.mu.Lock()
		if b.stopped {
			// Run has returned (its context was cancelled): stop
			// reading, within IdleAfter packets of a source that keeps
			// producing nothing.
			b.mu.Unlock()
			return
		}
		if err == ErrIdle {
			b.mu.Unlock()
			continue // the flush timer sends what is pending
		}
		if err != nil {
			b.done, b.err = true, err
			b.closeCur()
			b.mu.Unlock()
			b.wake()
			return
		}
		b.cur = append(b.cur, seg)
		if len(b.cur) >= b.size {
			b.closeCur()
			if b.live {
				if len(b.queue) > LiveQueuedBatches {
					// Run's goroutine is not even keeping up with the
					// non-blocking send: drop the oldest batch.
					b.drops(len(b.queue[0]))
					b.pool.Put(b.queue[0])
					b.queue[0] = nil
					b.queue = b.queue[1:]
				}
			} else {
				for len(b.queue) >= DefaultQueuedBatches && !b.stopped {
					b.cond.Wait()
				}
			}
			b.mu.Unlock()
			b.wake()
			continue
		}
		b.mu.Unlock()
	}
}

// closeCur moves a non-empty cur to the queue. b.mu must be held.
func (b *batcher) closeCur() {
	if len(b.cur) == 0 {
		return
	}
	b.queue = append(b.queue, b.cur)
	b.cur = b.pool.Get()
}

// flush moves the pending partial batch to the queue.
func (b *batcher) flush() {
	b.mu.Lock()
	b.closeCur()
	b.mu.Unlock()
}

// pop takes the oldest queued batch; when none is queued it reports
// whether the reader is done, and why.
func (b *batcher) pop() (batch []model.Segment, done bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		return nil, b.done, b.err
	}
	batch = b.queue[0]
	b.queue[0] = nil
	b.queue = b.queue[1:]
	b.cond.Signal()
	return batch, false, nil
}

// stop tells the reader to end and releases it if it waits for room.
func (b *batcher) stop() {
	b.mu.Lock()
	b.stopped = true
	b.cond.Broadcast()
	b.mu.Unlock()
}
