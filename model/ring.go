package model

// boundedRing keeps the newest max entries pushed into it. Its buffer is
// allocated lazily and grows by half up to max, so a flow that records
// two transitions pays for four slots, not for the whole ring; once full it
// overwrites the oldest entry and counts it as dropped.
//
// Entries have an absolute index (0 for the first push ever); an entry that
// is still held can be reached and updated through it, which is how a
// retransmission burst keeps counting into the event that opened it.
type boundedRing[T any] struct {
	buf   []T
	total uint64 // entries ever pushed
}

// boundedRingFirstCap is the first allocation of a ring's buffer.
const boundedRingFirstCap = 4

// push appends v, dropping the oldest entry when max are held, and returns
// v's absolute index. max must be at least 1.
func (r *boundedRing[T]) push(v T, max int) uint64 {
	abs := r.total
	r.total++
	if len(r.buf) < max {
		if len(r.buf) == cap(r.buf) {
			// Grow by half: most flows stop after a handful of entries.
			n := cap(r.buf) + cap(r.buf)/2
			if n < boundedRingFirstCap {
				n = boundedRingFirstCap
			}
			if n > max {
				n = max
			}
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
