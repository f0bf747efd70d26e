package capture

import (
	"math"
)

// merger is Next's view of the readers: what each has handed over and not
// yet been returned, and how far it has got.
type merger struct {
	gen     uint64 // l.readerGen the list was last synced with
	qs      []*readerQueue
	ifaces  int // distinct interfaces among qs (readers of a fanout group share one)
	pending int
	spent   *liveBatch // emptied by the last pop, recycled by the next
	// run is the queue the last pop took from, while its head is at or
	// before limit: no other queue has or can get anything older, so pop
	// takes from it without looking at the others.
	run   *readerQueue
	limit int64
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
	m.recount()
}

// recount counts the distinct interfaces of the queues, whose list just
// changed.
func (m *merger) recount() {
	m.run = nil
	n := 0
	for i, q := range m.qs {
		seen := false
		for _, p := range m.qs[:i] {
			if p.r.idx == q.r.idx {
				seen = true
				break
			}
		}
		if !seen {
			n++
		}
	}
	m.ifaces = n
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
			m.recount()
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
	if q := m.run; q != nil {
		if h := q.head(); h != nil && h.ts <= m.limit {
			return m.take(q)
		}
		m.run = nil
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
	if len(live) < len(m.qs) {
		clear(m.qs[len(live):])
		m.qs = live
		m.recount()
	}
	if best == nil {
		return nil, nil
	}
	e := best.head()
	if e.ts > horizon && m.pending < liveMaxPending {
		return nil, nil
	}
	// Until the next oldest head, or the horizon, best goes first. (A
	// batch queued later never lowers that limit: a reader's packets come
	// after the mark it had.)
	limit := horizon
	for _, q := range m.qs {
		if h := q.head(); h != nil && q != best {
			limit = min(limit, h.ts)
		}
	}
	m.run, m.limit = best, limit
	return m.take(best)
}

// take pops the head of q.
func (m *merger) take(q *readerQueue) (*liveEntry, *liveBatch) {
	b := q.batches[0]
	e := &b.ents[q.pos]
	q.pos++
	m.pending--
	if q.pos == len(b.ents) {
		// The entry stays readable until the next pop, which recycles
		// its batch.
		m.spent = b
		q.batches[0] = nil
		q.batches = q.batches[1:]
		q.pos = 0
	}
	return e, b
}
