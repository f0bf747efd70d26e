package model

// boundedRing keeps the newest max entries pushed into it. Its buffer is
// allocated lazily, first for as many entries as the caller expects most
// rings to hold, and grows by half up to max, so a flow that records one
// event pays for two slots, not for the whole ring; once full it
// overwrites the oldest entry and counts it as dropped.
//
// Entries have an absolute index (0 for the first push ever); an entry that
// is still held can be reached and updated through it, which is how a
// retransmission burst keeps counting into the event that opened it.
type boundedRing[T any] struct {
	buf   []T
	total uint64 // entries ever pushed
}

// First allocations of the flows' rings: a handshake alone makes four
// transitions (a complete flow nine or ten); most flows with events or
// resets have one or two.
const (
	transFirstCap = 4
	eventFirstCap = 2
	resetFirstCap = 2
)

// push appends v, dropping the oldest entry when limit are held, and
// returns v's absolute index; first is the size of the buffer's first
// allocation. limit must be at least 1.
func (r *boundedRing[T]) push(v T, first, limit int) uint64 {
	abs := r.total
	r.total++
	if len(r.buf) < limit {
		if len(r.buf) == cap(r.buf) {
			// Grow by half: most flows stop after a handful of entries.
			c := cap(r.buf)
			n := min(max(c+c/2, c+1, first), limit)
			nb := make([]T, len(r.buf), n)
			copy(nb, r.buf)
			r.buf = nb
		}
		// Until the ring is full, absolute index == position.
		r.buf = append(r.buf, v)
		return abs
	}
	r.buf[abs%uint64(len(r.buf))] = v
	return abs
}

// at returns the entry with absolute index abs, or nil when it was never
// pushed or has been overwritten.
func (r *boundedRing[T]) at(abs uint64) *T {
	n := uint64(len(r.buf))
	if n == 0 || abs >= r.total || r.total-abs > n {
		return nil
	}
	return &r.buf[abs%n]
}

// size is the number of entries held.
func (r *boundedRing[T]) size() int { return len(r.buf) }

// dropped is the number of entries that fell out, saturated to uint32.
func (r *boundedRing[T]) dropped() uint32 {
	d := r.total - uint64(len(r.buf))
	if d > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(d)
}

// nth returns the i-th held entry, oldest first (0 <= i < size()).
func (r *boundedRing[T]) nth(i int) *T {
	n := uint64(len(r.buf))
	start := uint64(0)
	if r.total > n {
		start = r.total % n
	}
	return &r.buf[(start+uint64(i))%n]
}

// transWide is a Transition in full: what the state machines record and
// what a snapshot reads back.
type transWide struct {
	ts       int64
	frame    uint64
	side     Side // the endpoint that changed
	cause    Side // the sender of the segment that caused it
	from, to State
}

// transRec is the compact form of a transition kept in a flow's ring:
// 16 bytes rather than 24, its frame an offset from the flow's first
// frame.
type transRec struct {
	ts       int64
	dframe   uint32
	side     Side
	cause    Side
	from, to State
}

// transRing is a flow's transitions. They are kept compact while every
// frame lies less than 2^32 frames past the flow's first one; the rare
// flow that outlives that (or is fed frames out of order) has its ring
// converted, once, to full records, so no frame is ever cut.
type transRing struct {
	r    boundedRing[transRec]
	wide *boundedRing[transWide]
}

// push records w, keeping at most limit; base is the flow's first frame.
func (t *transRing) push(w transWide, base uint64, limit int) {
	if t.wide == nil {
		if d := w.frame - base; d <= 1<<32-1 {
			t.r.push(transRec{ts: w.ts, dframe: uint32(d), side: w.side, cause: w.cause, from: w.from, to: w.to}, transFirstCap, limit)
			return
		}
		t.widen(base)
	}
	t.wide.push(w, transFirstCap, limit)
}

// widen converts the held records to full ones, in place: same positions,
// same count of records ever pushed.
func (t *transRing) widen(base uint64) {
	w := &boundedRing[transWide]{total: t.r.total}
	if n := len(t.r.buf); n > 0 {
		w.buf = make([]transWide, n, cap(t.r.buf))
		for i, c := range t.r.buf {
			w.buf[i] = transWide{ts: c.ts, frame: base + uint64(c.dframe), side: c.side, cause: c.cause, from: c.from, to: c.to}
		}
	}
	t.wide = w
	t.r = boundedRing[transRec]{}
}

// size is the number of transitions held.
func (t *transRing) size() int {
	if t.wide != nil {
		return t.wide.size()
	}
	return t.r.size()
}

// dropped is the number of transitions that fell out, saturated to uint32.
func (t *transRing) dropped() uint32 {
	if t.wide != nil {
		return t.wide.dropped()
	}
	return t.r.dropped()
}

// nth returns the i-th held transition, oldest first (0 <= i < size());
// base is the flow's first frame.
func (t *transRing) nth(i int, base uint64) transWide {
	if t.wide != nil {
		return *t.wide.nth(i)
	}
	c := t.r.nth(i)
	return transWide{ts: c.ts, frame: base + uint64(c.dframe), side: c.side, cause: c.cause, from: c.from, to: c.to}
}
