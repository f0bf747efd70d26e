package filter

import (
	"container/heap"

	"golang.org/x/net/bpf"
)

// maxSkip is the farthest a conditional jump reaches (its offsets are 8
// bits); farther targets go through an unconditional `ja` trampoline.
const maxSkip = 255

// finish closes a frag with the two return blocks and returns the entry.
func (g *gen) finish(f frag, snaplen uint32) *block {
	g.nextID++
	accept := &block{id: g.nextID, op: opRet, retK: snaplen}
	g.nextID++
	reject := &block{id: g.nextID, op: opRet, retK: 0}
	if f.isConst() {
		if f.konst {
			return accept
		}
		return reject
	}
	patch(f.t, accept)
	patch(f.f, reject)
	return f.head
}

// reachable lists the blocks reachable from root.
func reachable(root *block) []*block {
	seen := map[*block]bool{root: true}
	out := []*block{root}
	for i := 0; i < len(out); i++ {
		b := out[i]
		if b.op == opRet {
			continue
		}
		for _, s := range [2]*block{b.jt, b.jf} {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// blockHeap orders ready blocks by creation, so the layout follows the
// order of the expression wherever the graph allows.
type blockHeap []*block

func (h blockHeap) Len() int           { return len(h) }
func (h blockHeap) Less(i, j int) bool { return h[i].id < h[j].id }
func (h blockHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *blockHeap) Push(x any)        { *h = append(*h, x.(*block)) }
func (h *blockHeap) Pop() any {
	old := *h
	b := old[len(old)-1]
	*h = old[:len(old)-1]
	return b
}

// topoOrder returns the reachable blocks so that every jump goes forward
// (Kahn's algorithm, lowest id first among the ready blocks).
func topoOrder(root *block) []*block {
	blocks := reachable(root)
	indeg := make(map[*block]int, len(blocks))
	for _, b := range blocks {
		if b.op != opRet {
			indeg[b.jt]++
			indeg[b.jf]++
		}
	}
	h := &blockHeap{root}
	order := make([]*block, 0, len(blocks))
	for h.Len() > 0 {
		b := heap.Pop(h).(*block)
		order = append(order, b)
		if b.op == opRet {
			continue
		}
		succ := [2]*block{b.jt, b.jf}
		if b.jt == b.jf {
			succ[1] = nil
			indeg[b.jt]-- // both edges go to one block
		}
		for _, s := range succ {
			if s == nil {
				continue
			}
			indeg[s]--
			if indeg[s] == 0 {
				heap.Push(h, s)
			}
		}
	}
	return order
}

var jumpConds = map[jumpOp]bpf.JumpTest{
	opJEQ:  bpf.JumpEqual,
	opJGT:  bpf.JumpGreaterThan,
	opJGE:  bpf.JumpGreaterOrEqual,
	opJSET: bpf.JumpBitsSet,
}

// edge is one branch of a block.
type edge struct {
	b *block
	t bool
}

// trampRef names the idx'th trampoline after owner's branch.
type trampRef struct {
	owner *block
	idx   int
}

// layout linearises the graph. A conditional jump reaches at most 255
// instructions; a farther target is reached through a `ja` trampoline
// placed right after some branch between the jump and its target, shared
// by every jump that can reach it (a long OR of hosts has hundreds of
// jumps to the same accept). Adding trampolines moves code, so the layout
// repeats until every jump reaches; trampolines are only ever added, at
// most one per target and branch, so it ends.
func layout(root *block) []bpf.Instruction {
	order := topoOrder(root)
	pos := make(map[*block]int, len(order))
	tramps := map[*block][]*block{} // targets of the trampolines after b's branch
	via := map[edge]trampRef{}
	branchAt := func(b *block) int { return pos[b] + len(b.stmts) }
	trampAt := func(r trampRef) int { return branchAt(r.owner) + 1 + r.idx }
	for {
		n := 0
		for _, b := range order {
			pos[b] = n
			n += len(b.stmts) + 1 + len(tramps[b])
		}
		// Trampolines by target, to share them.
		byTarget := map[*block][]trampRef{}
		for _, b := range order {
			for i, t := range tramps[b] {
				byTarget[t] = append(byTarget[t], trampRef{b, i})
			}
		}
		added := false
		for i := len(order) - 1; i >= 0; i-- {
			b := order[i]
			if b.op == opRet {
				continue
			}
			br := branchAt(b)
			for _, t := range [2]bool{true, false} {
				e := edge{b, t}
				target := succ(b, t)
				if r, ok := via[e]; ok {
					if p := trampAt(r); p > br && p-br-1 <= maxSkip {
						continue
					}
					delete(via, e)
				}
				if pos[target]-br-1 <= maxSkip {
					continue
				}
				found := false
				for _, r := range byTarget[target] {
					if p := trampAt(r); p > br && p-br-1 <= maxSkip {
						via[e], found = r, true
						break
					}
				}
				if !found {
					r := trampRef{b, len(tramps[b])}
					tramps[b] = append(tramps[b], target)
					byTarget[target] = append(byTarget[target], r)
					via[e] = r
					added = true
				}
			}
		}
		if !added {
			break
		}
	}
	var out []bpf.Instruction
	for _, b := range order {
		out = append(out, b.stmts...)
		if b.op == opRet {
			out = append(out, bpf.RetConstant{Val: b.retK})
			continue
		}
		br := branchAt(b)
		skip := func(t bool) uint8 {
			if r, ok := via[edge{b, t}]; ok {
				return uint8(trampAt(r) - br - 1)
			}
			return uint8(pos[succ(b, t)] - br - 1)
		}
		if b.useX {
			out = append(out, bpf.JumpIfX{Cond: jumpConds[b.op], SkipTrue: skip(true), SkipFalse: skip(false)})
		} else {
			out = append(out, bpf.JumpIf{Cond: jumpConds[b.op], Val: b.k, SkipTrue: skip(true), SkipFalse: skip(false)})
		}
		for i, target := range tramps[b] {
			p := br + 1 + i
			out = append(out, bpf.Jump{Skip: uint32(pos[target] - (p + 1))})
		}
	}
	return out
}
