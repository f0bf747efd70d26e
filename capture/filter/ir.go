package filter

import "golang.org/x/net/bpf"

// jumpOp is the test at the end of a basic block.
type jumpOp uint8

const (
	opRet  jumpOp = iota // the block returns retK
	opJEQ                // A == k (or X)
	opJGT                // A > k
	opJGE                // A >= k
	opJSET               // A & k != 0
)

// block is a basic block: straight-line statements, then either a return
// or a two-way branch. Blocks form a DAG (classic BPF jumps only forward).
//
// Every block the generator makes loads whatever its test and statements
// use: no block relies on A, X or scratch memory left by another. The
// optimizer depends on this to skip or thread through blocks safely.
type block struct {
	id     int
	stmts  []bpf.Instruction
	op     jumpOp
	k      uint32
	useX   bool // compare A with X instead of k
	retK   uint32
	jt, jf *block
}

// exit is a dangling branch of a block: its true (t) or false edge.
type exit struct {
	b *block
	t bool
}

func (e exit) set(to *block) {
	if e.t {
		e.b.jt = to
	} else {
		e.b.jf = to
	}
}

// frag is a compiled boolean: a sub-graph whose dangling exits mean true
// (t) or false (f), in the manner of libpcap's backpatching. A constant has
// no blocks (head == nil) and its value in konst.
type frag struct {
	head  *block
	konst bool
	t, f  []exit
}

var (
	fragTrue  = frag{konst: true}
	fragFalse = frag{konst: false}
)

func (f frag) isConst() bool { return f.head == nil }

func concat(a, b []exit) []exit {
	out := make([]exit, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}

func patch(exits []exit, to *block) {
	for _, e := range exits {
		e.set(to)
	}
}

// and evaluates a, then b when a is true. A constant false on the right
// still lets a run first, because a's loads may reject a short packet.
func and(a, b frag) frag {
	switch {
	case a.isConst() && a.konst:
		return b
	case a.isConst():
		return a // b is never reached
	case b.isConst() && b.konst:
		return a
	case b.isConst():
		return frag{head: a.head, f: concat(a.t, a.f)}
	}
	patch(a.t, b.head)
	return frag{head: a.head, t: b.t, f: concat(a.f, b.f)}
}

// or evaluates a, then b when a is false.
func or(a, b frag) frag {
	switch {
	case a.isConst() && !a.konst:
		return b
	case a.isConst():
		return a
	case b.isConst() && !b.konst:
		return a
	case b.isConst():
		return frag{head: a.head, t: concat(a.t, a.f)}
	}
	patch(a.f, b.head)
	return frag{head: a.head, t: concat(a.t, b.t), f: b.f}
}

// not swaps the meaning of the exits.
func not(a frag) frag {
	if a.isConst() {
		return frag{konst: !a.konst}
	}
	return frag{head: a.head, t: a.f, f: a.t}
}
