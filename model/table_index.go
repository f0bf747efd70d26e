package model

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// The flow index: open addressing with linear probing over 8-byte entries
// (the low 32 bits of the key's hash and the slot), the keys themselves
// left in the flow states, where a lookup reads them anyway. It costs
// 10-20 bytes a flow where a map[flowKey]int32 took 60-90, allocates only
// to grow, and deletes without tombstones (backward shift), so a table
// that churns through flows never degrades.

// flowIndex maps a flow key to the slot of its newest flow.
type flowIndex struct {
	ents []idxEnt // a power of two long, or empty
	n    int      // entries in use
	// seed keys the hash, so that addresses chosen by a remote sender
	// cannot be made to collide.
	seed [5]uint64
}

type idxEnt struct {
	hash uint32 // low 32 bits of the key's hash
	slot int32  // 1 + the flow's slot; 0 marks a free entry
}

// idxMinLen is the length of the first entry array.
const idxMinLen = 64

func newFlowIndex() flowIndex {
	var x flowIndex
	for i := range x.seed {
		x.seed[i] = rand.Uint64() | 1
	}
	return x
}

// idxMix folds the 128-bit product of a and b.
func idxMix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hash hashes a flow key.
func (x *flowIndex) hash(k *flowKey) uint64 {
	a0 := binary.LittleEndian.Uint64(k.addr[0][:8])
	a1 := binary.LittleEndian.Uint64(k.addr[0][8:])
	b0 := binary.LittleEndian.Uint64(k.addr[1][:8])
	b1 := binary.LittleEndian.Uint64(k.addr[1][8:])
	p := uint64(k.port[0]) | uint64(k.port[1])<<16
	if k.v6 {
		p |= 1 << 32
	}
	h := idxMix(a0^x.seed[0], a1^x.seed[1]) ^ idxMix(b0^x.seed[2], b1^x.seed[3])
	return idxMix(h^p, x.seed[4])
}

// lookup returns the slot indexed under key k, whose hash is h.
func (t *Table) lookup(k *flowKey, h uint64) (int32, bool) {
	x := &t.index
	if len(x.ents) == 0 {
		return 0, false
	}
	mask := uint32(len(x.ents) - 1)
	h32 := uint32(h)
	for i := h32 & mask; ; i = (i + 1) & mask {
		e := x.ents[i]
		if e.slot == 0 {
			return 0, false
		}
		if e.hash == h32 && t.slot(e.slot-1).key == *k {
			return e.slot - 1, true
		}
	}
}

// indexPut indexes slot under key k (hash h), replacing the slot of an
// older flow with the same key.
func (t *Table) indexPut(k *flowKey, h uint64, slot int32) {
	x := &t.index
	if (x.n+1)*5 > len(x.ents)*4 {
		x.grow()
	}
	mask := uint32(len(x.ents) - 1)
	h32 := uint32(h)
	for i := h32 & mask; ; i = (i + 1) & mask {
		e := &x.ents[i]
		if e.slot == 0 {
			*e = idxEnt{hash: h32, slot: slot + 1}
			x.n++
			return
		}
		if e.hash == h32 && t.slot(e.slot-1).key == *k {
			e.slot = slot + 1
			return
		}
	}
}

// grow doubles the entry array (load at most 4/5), placing every entry
// again by its stored hash.
func (x *flowIndex) grow() {
	old := x.ents
	x.ents = make([]idxEnt, max(2*len(old), idxMinLen))
	mask := uint32(len(x.ents) - 1)
	for _, e := range old {
		if e.slot == 0 {
			continue
		}
		i := e.hash & mask
		for x.ents[i].slot != 0 {
			i = (i + 1) & mask
		}
		x.ents[i] = e
	}
}

// indexDelete removes key k (hash h) from the index if it still points
// at slot.
func (t *Table) indexDelete(k *flowKey, h uint64, slot int32) {
	x := &t.index
	if len(x.ents) == 0 {
		return
	}
	mask := uint32(len(x.ents) - 1)
	h32 := uint32(h)
	i := h32 & mask
	for {
		e := x.ents[i]
		if e.slot == 0 {
			return // not indexed
		}
		if e.hash == h32 && t.slot(e.slot-1).key == *k {
			if e.slot != slot+1 {
				return // a newer flow with the same key holds it
			}
			break
		}
		i = (i + 1) & mask
	}
	// Backward shift: move up every later entry of the run that may sit
	// in the hole (its home is not cyclically within (i, j]).
	j := i
	for {
		j = (j + 1) & mask
		e := x.ents[j]
		if e.slot == 0 {
			break
		}
		home := e.hash & mask
		if (j-home)&mask >= (j-i)&mask {
			x.ents[i] = e
			i = j
		}
	}
	x.ents[i] = idxEnt{}
	x.n--
}
