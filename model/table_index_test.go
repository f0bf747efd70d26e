package model

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestFlowIndex_MatchesMap drives the index through random puts,
// replacements and deletions beside a map that follows the same rules,
// once with the real hash and once with hashes that collide on purpose
// (equal low bits, so every probe compares keys), and checks after every
// step that both agree and that every entry is reachable from its home.
func TestFlowIndex_MatchesMap(t *testing.T) {
	hashes := []struct {
		name string
		h    func(x *flowIndex, k *flowKey, i int) uint64
	}{
		{"seeded", func(x *flowIndex, k *flowKey, _ int) uint64 { return x.hash(k) }},
		{"colliding", func(_ *flowIndex, _ *flowKey, i int) uint64 { return uint64(i%5) << 3 }},
	}
	for _, hf := range hashes {
		t.Run(hf.name, func(t *testing.T) {
			const nkeys, nslots, steps = 300, 1024, 20_000
			tbl := NewTable(Config{})
			tbl.chunks = make([][]flowState, nslots/tblChunk)
			for i := range tbl.chunks {
				tbl.chunks[i] = make([]flowState, tblChunk)
			}
			keys := make([]flowKey, nkeys)
			for i := range keys {
				keys[i].addr[0][15] = byte(i)
				keys[i].addr[1][14] = byte(i >> 8)
				keys[i].port = [2]uint16{uint16(i), 443}
			}
			hash := func(i int) uint64 { return hf.h(&tbl.index, &keys[i], i) }
			ref := map[int]int32{} // key number -> slot
			slotKey := map[int32]int{}
			rng := rand.New(rand.NewPCG(1, 2))
			for step := range steps {
				i := rng.IntN(nkeys)
				switch cur, ok := ref[i]; {
				case ok && rng.IntN(2) == 0:
					tbl.indexDelete(&keys[i], hash(i), cur)
					delete(ref, i)
					delete(slotKey, cur)
				case len(slotKey) < nslots:
					// A new flow of key i in a free slot (replacing the
					// older flow's entry, as a reused 4-tuple does).
					s := int32(rng.IntN(nslots))
					for _, used := slotKey[s]; used; _, used = slotKey[s] {
						s = (s + 1) % nslots
					}
					tbl.slot(s).key = keys[i]
					tbl.indexPut(&keys[i], hash(i), s)
					if ok {
						delete(slotKey, cur)
					}
					ref[i] = s
					slotKey[s] = i
				}
				// Deleting a key whose entry points at another slot is a
				// no-op (an older flow of a reused 4-tuple goes).
				if j := rng.IntN(nkeys); rng.IntN(8) == 0 {
					tbl.indexDelete(&keys[j], hash(j), -5)
				}
				if err := checkIndex(tbl, keys, ref, hash); err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
			}
		})
	}
}

func checkIndex(tbl *Table, keys []flowKey, ref map[int]int32, hash func(int) uint64) error {
	x := &tbl.index
	if x.n != len(ref) {
		return fmt.Errorf("index holds %d entries, want %d", x.n, len(ref))
	}
	used := 0
	mask := uint32(len(x.ents) - 1)
	for i, e := range x.ents {
		if e.slot == 0 {
			continue
		}
		used++
		// Linear probing: no free entry between an entry's home and it.
		for j := e.hash & mask; j != uint32(i); j = (j + 1) & mask {
			if x.ents[j].slot == 0 {
				return fmt.Errorf("entry %d cut off from its home %d by a free entry at %d", i, e.hash&mask, j)
			}
		}
	}
	if used != x.n || x.n*5 > len(x.ents)*4 {
		return fmt.Errorf("%d entries used in %d, count says %d", used, len(x.ents), x.n)
	}
	for i := range keys {
		got, ok := tbl.lookup(&keys[i], hash(i))
		want, wok := ref[i]
		if ok != wok || got != want {
			return fmt.Errorf("key %d: lookup got (%d, %v), want (%d, %v)", i, got, ok, want, wok)
		}
	}
	return nil
}

// TestTable_IndexFollowsChurn runs a table at its cap with reused
// 4-tuples: every live flow that is the newest of its 4-tuple must be
// found, and the index must hold nothing else.
func TestTable_IndexFollowsChurn(t *testing.T) {
	tbl := NewTable(Config{MaxFlows: 200})
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20_000 {
		// 600 4-tuples, each flow opened by a SYN with a fresh ISN: a
		// 4-tuple seen again starts a new flow (reused ports).
		s := tbFlowSegs(rng.IntN(600), int64(i)*1e6)[0]
		s.Seq = rng.Uint32()
		tbl.Apply(&s)
	}
	newest := map[flowKey]FlowID{}
	for _, e := range tbl.byID {
		if e.slot >= 0 {
			f := tbl.slot(e.slot)
			newest[f.key] = max(newest[f.key], f.id)
		}
	}
	found := 0
	for _, e := range tbl.byID {
		if e.slot < 0 {
			continue
		}
		f := tbl.slot(e.slot)
		got, ok := tbl.lookup(&f.key, tbl.index.hash(&f.key))
		if ok && got == e.slot {
			found++
		}
		if newest[f.key] == f.id && (!ok || got != e.slot) {
			t.Fatalf("flow %d, the newest of its 4-tuple: lookup got (%d, %v), want slot %d", f.id, got, ok, e.slot)
		}
	}
	if found != tbl.index.n || tbl.Len() != 200 {
		t.Errorf("index holds %d entries, %d of them live flows; table holds %d flows, want 200", tbl.index.n, found, tbl.Len())
	}
}
