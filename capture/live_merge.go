package capture

import (
	"math"
)

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
