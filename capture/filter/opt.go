package filter

import (
	"fmt"
	"sort"

	"golang.org/x/net/bpf"
)

// The optimizer makes libpcap-order code shorter without changing any
// verdict. It knows three things along each path:
//
//   - which values A and X hold (a value is a load from a fixed offset,
//     the packet length, a constant, or arithmetic on those: the packet
//     never changes, so equal descriptions mean equal values);
//   - facts learned from the tests taken (value == k, value != k);
//   - a length the packet is known to have (every load so far succeeded).
//
// With these it threads a jump past a block whose test is already decided
// and whose loads cannot fail (skipping it changes nothing, because every
// block computes what it uses itself), and it drops reloads of what a
// register already holds. A block whose load might fail is never skipped:
// the failure rejects the packet, and libpcap's verdict depends on it.

// valKind classifies a value description.
type valKind uint8

const (
	vFresh valKind = iota // unknown; never equal to another value
	vConst                // k
	vAbs                  // packet[k] of size
	vInd                  // packet[X + k] of size, X = value a
	vMSH                  // 4*(packet[k]&0xf)
	vLen                  // packet length
	vALU                  // value a <op> k
	vALUX                 // value a <op> value b
)

type valDef struct {
	kind valKind
	size int
	op   bpf.ALUOp
	k    uint32
	a, b int32
}

// noVal marks a register whose value is unknown.
const noVal = -1

// fact is "value val == k" (eq) or "value val != k".
type fact struct {
	val int32
	eq  bool
	k   uint32
}

func factLess(x, y fact) bool {
	if x.val != y.val {
		return x.val < y.val
	}
	if x.eq != y.eq {
		return x.eq
	}
	return x.k < y.k
}

// state is what is known at one point of one or more paths.
type state struct {
	a, x   int32
	minLen uint64
	facts  []fact // sorted by factLess
}

type optimizer struct {
	defs []valDef
	ids  map[valDef]int32
}

func (o *optimizer) intern(d valDef) int32 {
	if d.kind == vFresh {
		o.defs = append(o.defs, d)
		return int32(len(o.defs) - 1)
	}
	if id, ok := o.ids[d]; ok {
		return id
	}
	o.defs = append(o.defs, d)
	id := int32(len(o.defs) - 1)
	o.ids[d] = id
	return id
}

func (o *optimizer) fresh() int32 { return o.intern(valDef{kind: vFresh}) }

func (o *optimizer) konst(k uint32) int32 { return o.intern(valDef{kind: vConst, k: k}) }

// lookup returns the known value of id under facts, if any.
func (o *optimizer) lookup(id int32, facts []fact) (uint32, bool) {
	if id == noVal {
		return 0, false
	}
	d := o.defs[id]
	switch d.kind {
	case vConst:
		return d.k, true
	case vALU:
		if v, ok := o.lookup(d.a, facts); ok {
			return foldALU(d.op, v, d.k)
		}
	case vALUX:
		va, okA := o.lookup(d.a, facts)
		vb, okB := o.lookup(d.b, facts)
		if okA && okB {
			return foldALU(d.op, va, vb)
		}
	}
	i := sort.Search(len(facts), func(i int) bool { return !factLess(facts[i], fact{val: id, eq: true}) })
	if i < len(facts) && facts[i].val == id && facts[i].eq {
		return facts[i].k, true
	}
	return 0, false
}

// knownNE reports whether facts say id != k.
func knownNE(facts []fact, id int32, k uint32) bool {
	f := fact{val: id, eq: false, k: k}
	i := sort.Search(len(facts), func(i int) bool { return !factLess(facts[i], f) })
	return i < len(facts) && facts[i] == f
}

// holds reports whether facts imply f.
func (o *optimizer) holds(facts []fact, f fact) bool {
	if v, ok := o.lookup(f.val, facts); ok {
		return (v == f.k) == f.eq
	}
	return !f.eq && knownNE(facts, f.val, f.k)
}

// addFact returns facts with f added (a new slice).
func addFact(facts []fact, f fact) []fact {
	i := sort.Search(len(facts), func(i int) bool { return !factLess(facts[i], f) })
	if i < len(facts) && facts[i] == f {
		return facts
	}
	out := make([]fact, 0, len(facts)+1)
	out = append(out, facts[:i]...)
	out = append(out, f)
	return append(out, facts[i:]...)
}

// meet is what holds on every one of several incoming paths.
func (o *optimizer) meet(states []state) state {
	if len(states) == 1 {
		return states[0]
	}
	out := states[0]
	out.facts = nil
	for _, s := range states[1:] {
		if s.a != out.a {
			out.a = noVal
		}
		if s.x != out.x {
			out.x = noVal
		}
		out.minLen = min(out.minLen, s.minLen)
	}
	seen := map[fact]bool{}
	for _, s := range states {
		for _, f := range s.facts {
			if seen[f] {
				continue
			}
			seen[f] = true
			all := true
			for _, t := range states {
				if !o.holds(t.facts, f) {
					all = false
					break
				}
			}
			if all {
				out.facts = append(out.facts, f)
			}
		}
	}
	sort.Slice(out.facts, func(i, j int) bool { return factLess(out.facts[i], out.facts[j]) })
	return out
}

// step applies one statement to st. It reports whether the statement is
// safe to skip: it cannot fail, given what st says about the packet
// length. mem tracks scratch words written earlier in the same block.
func (o *optimizer) step(st *state, in bpf.Instruction, mem map[uint32]int32) (safe bool) {
	switch in := in.(type) {
	case bpf.LoadAbsolute:
		end := uint64(in.Off) + uint64(in.Size)
		safe = end <= st.minLen
		st.minLen = max(st.minLen, end)
		st.a = o.intern(valDef{kind: vAbs, size: in.Size, k: in.Off})
		return safe
	case bpf.LoadIndirect:
		// Success proves the packet reaches Off+Size (X >= 0).
		st.minLen = max(st.minLen, uint64(in.Off)+uint64(in.Size))
		if st.x == noVal {
			st.a = o.fresh()
		} else {
			st.a = o.intern(valDef{kind: vInd, size: in.Size, k: in.Off, a: st.x})
		}
		return false
	case bpf.LoadMemShift:
		end := uint64(in.Off) + 1
		safe = end <= st.minLen
		st.minLen = max(st.minLen, end)
		st.x = o.intern(valDef{kind: vMSH, k: in.Off})
		return safe
	case bpf.LoadConstant:
		if in.Dst == bpf.RegA {
			st.a = o.konst(in.Val)
		} else {
			st.x = o.konst(in.Val)
		}
		return true
	case bpf.LoadExtension:
		if in.Num == bpf.ExtLen {
			st.a = o.intern(valDef{kind: vLen})
			return true
		}
		st.a = o.fresh()
		return false
	case bpf.ALUOpConstant:
		if v, ok := o.lookup(st.a, nil); ok {
			if r, ok := foldALU(in.Op, v, in.Val); ok {
				st.a = o.konst(r)
				return true
			}
		}
		if st.a == noVal {
			st.a = o.fresh()
		} else {
			st.a = o.intern(valDef{kind: vALU, op: in.Op, k: in.Val, a: st.a})
		}
		return in.Val != 0 || (in.Op != bpf.ALUOpDiv && in.Op != bpf.ALUOpMod)
	case bpf.ALUOpX:
		xv, xKnown := o.lookup(st.x, nil)
		safe = (in.Op != bpf.ALUOpDiv && in.Op != bpf.ALUOpMod) || (xKnown && xv != 0)
		if st.a == noVal || st.x == noVal {
			st.a = o.fresh()
		} else {
			st.a = o.intern(valDef{kind: vALUX, op: in.Op, a: st.a, b: st.x})
		}
		return safe
	case bpf.TAX:
		st.x = st.a
		return true
	case bpf.TXA:
		st.a = st.x
		return true
	case bpf.StoreScratch:
		// Scratch words never outlive a block (see block), so writing
		// one is invisible to other blocks.
		if in.Src == bpf.RegA {
			mem[uint32(in.N)] = st.a
		} else {
			mem[uint32(in.N)] = st.x
		}
		return true
	case bpf.LoadScratch:
		v, ok := mem[uint32(in.N)]
		if !ok {
			v = o.fresh()
		}
		if in.Dst == bpf.RegA {
			st.a = v
		} else {
			st.x = v
		}
		return ok
	}
	st.a, st.x = o.fresh(), o.fresh()
	return false
}

// simulate runs b's statements from st; safe means none can fail.
func (o *optimizer) simulate(b *block, st state) (state, bool) {
	safe := true
	mem := map[uint32]int32{}
	for _, in := range b.stmts {
		if !o.step(&st, in, mem) {
			safe = false
		}
	}
	return st, safe
}

// decide returns the outcome of b's test in state st, if it is known.
func (o *optimizer) decide(b *block, st state) (bool, bool) {
	if b.jt == b.jf {
		return true, true
	}
	av, aKnown := o.lookup(st.a, st.facts)
	if b.useX {
		xv, xKnown := o.lookup(st.x, st.facts)
		if aKnown && xKnown {
			return evalJump(b.op, av, xv), true
		}
		return false, false
	}
	if aKnown {
		return evalJump(b.op, av, b.k), true
	}
	if st.a == noVal {
		return false, false
	}
	switch b.op {
	case opJEQ:
		if knownNE(st.facts, st.a, b.k) {
			return false, true
		}
	case opJSET:
		masked := o.intern(valDef{kind: vALU, op: bpf.ALUOpAnd, k: b.k, a: st.a})
		if v, ok := o.lookup(masked, st.facts); ok {
			return v != 0, true
		}
		if knownNE(st.facts, masked, 0) {
			return true, true
		}
	}
	return false, false
}

// learn adds what taking the t (true) or false edge of b says, in state st.
func (o *optimizer) learn(b *block, st state, t bool) state {
	if b.useX || st.a == noVal {
		return st
	}
	switch b.op {
	case opJEQ:
		st.facts = addFact(st.facts, fact{val: st.a, eq: t, k: b.k})
	case opJSET:
		masked := o.intern(valDef{kind: vALU, op: bpf.ALUOpAnd, k: b.k, a: st.a})
		st.facts = addFact(st.facts, fact{val: masked, eq: !t, k: 0})
	}
	return st
}

// maxFacts bounds the facts carried along a path, so that pathological
// expressions cannot make optimization quadratic in memory.
const maxFacts = 512

func succ(b *block, t bool) *block {
	if t {
		return b.jt
	}
	return b.jf
}

// thread redirects every edge past the blocks it can skip. It reports
// whether it changed anything.
func (o *optimizer) thread(root *block) bool {
	changed := false
	in := map[*block][]state{root: {{a: noVal, x: noVal}}}
	for _, b := range topoOrder(root) {
		states := in[b]
		if len(states) == 0 || b.op == opRet {
			continue
		}
		out, _ := o.simulate(b, o.meet(states))
		for _, t := range [2]bool{true, false} {
			est := o.learn(b, out, t)
			if len(est.facts) > maxFacts {
				est.facts = est.facts[:maxFacts]
			}
			target := succ(b, t)
			for target.op != opRet {
				tout, safe := o.simulate(target, est)
				if !safe {
					break
				}
				tout.facts = est.facts
				res, known := o.decide(target, tout)
				if !known {
					break
				}
				// The skipped block leaves the registers as they were;
				// only its outcome is learned.
				learned := o.learn(target, tout, res)
				est.facts = learned.facts
				target = succ(target, res)
				changed = true
			}
			if t {
				b.jt = target
			} else {
				b.jf = target
			}
			in[target] = append(in[target], est)
		}
	}
	return changed
}

// trim drops statements that reload what a register already holds on
// every path into the block.
func (o *optimizer) trim(root *block) {
	order := topoOrder(root)
	exits := map[*block][]state{root: {{a: noVal, x: noVal}}}
	for _, b := range order {
		st := o.meet(exits[b])
		st.facts = nil
		mem := map[uint32]int32{}
		kept := b.stmts[:0:0]
		for _, in := range b.stmts {
			before := st
			o.step(&st, in, mem)
			redundant := false
			switch in.(type) {
			case bpf.LoadAbsolute:
				redundant = before.a == st.a
			case bpf.LoadMemShift:
				redundant = before.x == st.x
			case bpf.LoadConstant:
				redundant = before.a == st.a && before.x == st.x
			}
			if !redundant {
				kept = append(kept, in)
			}
		}
		b.stmts = kept
		if b.op == opRet {
			continue
		}
		exits[b.jt] = append(exits[b.jt], st)
		if b.jf != b.jt {
			exits[b.jf] = append(exits[b.jf], st)
		}
	}
}

// blockKey identifies what a block does: two blocks with the same
// statements, test and successors are interchangeable, because a block
// depends on nothing but the packet.
type blockKey struct {
	stmts  string
	op     jumpOp
	k      uint32
	useX   bool
	retK   uint32
	jt, jf *block
}

// merge makes blocks that do the same thing one block (libpcap does the
// same); the sctp, tcp and udp tails of "port 80" become one, as do the
// ARP and RARP halves of a long "host" list. It reports whether it
// changed anything. The root is never a duplicate: nothing jumps to it.
func merge(root *block) bool {
	order := topoOrder(root)
	canon := map[blockKey]*block{}
	rep := map[*block]*block{}
	changed := false
	for i := len(order) - 1; i >= 0; i-- {
		b := order[i]
		if b.op != opRet {
			if r := rep[b.jt]; r != nil && r != b.jt {
				b.jt, changed = r, true
			}
			if r := rep[b.jf]; r != nil && r != b.jf {
				b.jf, changed = r, true
			}
		}
		raw, err := bpf.Assemble(b.stmts)
		if err != nil {
			rep[b] = b // cannot happen for generated code; keep it apart
			continue
		}
		key := blockKey{stmts: fmt.Sprint(raw), op: b.op, k: b.k, useX: b.useX, retK: b.retK, jt: b.jt, jf: b.jf}
		if b.op == opRet {
			key.jt, key.jf = nil, nil
		}
		if c, ok := canon[key]; ok {
			rep[b] = c
			continue
		}
		canon[key] = b
		rep[b] = b
	}
	return changed
}

// optimize threads jumps and merges equal blocks until nothing changes,
// then trims reloads.
func optimize(root *block) *block {
	o := &optimizer{ids: map[valDef]int32{}}
	for range 16 {
		threaded := o.thread(root)
		merged := merge(root)
		if !threaded && !merged {
			break
		}
	}
	o.trim(root)
	return root
}
