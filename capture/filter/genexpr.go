package filter

import (
	"golang.org/x/net/bpf"
)

// scratchSlots is the number of BPF scratch memory words (BPF_MEMWORDS).
const scratchSlots = 16

// expr compiles e. Code is generated strictly left to right, because
// `vlan` changes the offsets for everything after it in the text.
func (g *gen) expr(e expr) (frag, error) {
	switch e := e.(type) {
	case *andExpr:
		l, err := g.expr(e.l)
		if err != nil {
			return frag{}, err
		}
		r, err := g.expr(e.r)
		if err != nil {
			return frag{}, err
		}
		return and(l, r), nil
	case *orExpr:
		l, err := g.expr(e.l)
		if err != nil {
			return frag{}, err
		}
		r, err := g.expr(e.r)
		if err != nil {
			return frag{}, err
		}
		return or(l, r), nil
	case *notExpr:
		x, err := g.expr(e.x)
		if err != nil {
			return frag{}, err
		}
		return not(x), nil
	case *idExpr:
		return g.id(e)
	case *pnameExpr:
		return g.protoAbbrev(e.pq, e.pos)
	case *relExpr:
		return g.relation(e)
	case *lenExpr:
		ld := []bpf.Instruction{bpf.LoadExtension{Num: bpf.ExtLen}}
		if e.greater {
			return g.test(ld, opJGE, e.n), nil
		}
		return not(g.test(ld, opJGT, e.n)), nil
	case *vlanExpr:
		return g.vlan(e)
	case *castExpr:
		return g.cast(e)
	}
	return frag{}, g.errAt(e.exprPos(), "unsupported expression")
}

// vlan tests for an 802.1Q/802.1ad tag (and its VLAN ID), then moves the
// link-layer payload past the tag for every later test in the expression,
// exactly as libpcap does when it compiles a capture file.
func (g *gen) vlan(e *vlanExpr) (frag, error) {
	if g.link.kind != lkEthernet {
		return frag{}, g.errAt(e.pos, "vlan is not supported on %s", g.link.name)
	}
	if e.hasID && e.id > 4095 {
		return frag{}, g.errAt(e.idPos, "VLAN tag %d greater than maximum 4095", e.id)
	}
	b := g.linkType(etherTypeQ)
	b = or(b, g.linkType(etherTypeQinQ))
	b = or(b, g.linkType(etherTypeQ91))
	if e.hasID {
		b = and(b, g.mcmp(2, g.nl(0), e.id, 0x0fff))
	}
	if g.offNL > maxOffset-4 {
		return frag{}, g.errAt(e.pos, "too many vlan tags")
	}
	g.offLT += 4
	g.offNL += 4
	return b, nil
}

// cast compiles broadcast and multicast.
func (g *gen) cast(e *castExpr) (frag, error) {
	switch e.pq {
	case qDefault, qLink:
		if g.link.kind != lkEthernet {
			return frag{}, g.errAt(e.pos, "link-layer broadcast and multicast need an Ethernet capture, not %s", g.link.name)
		}
		if e.multicast {
			return g.test([]bpf.Instruction{ldAbs(1, 0)}, opJSET, 1), nil
		}
		return g.ehost([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, dDst, e.pos)
	case qIP:
		if !e.multicast {
			return frag{}, unsupportedAt(g.src, e.pos, "ip broadcast needs the interface netmask; use \"dst host 255.255.255.255\"")
		}
		b := g.linkType(etherTypeIPv4)
		return and(b, g.cmp(1, g.nl(16), opJGE, 224)), nil
	case qIP6:
		if e.multicast {
			b := g.linkType(etherTypeIPv6)
			return and(b, g.cmp(1, g.nl(24), opJEQ, 255)), nil
		}
	}
	return frag{}, g.errAt(e.pos, "%s %s is not a valid test", e.pq, map[bool]string{true: "multicast", false: "broadcast"}[e.multicast])
}

// value is a compiled arithmetic expression: either a constant, or code
// that leaves the value in A. conds are the protocol tests its loads need
// (tcp[...] only reads TCP packets); they run before the code.
type value struct {
	isConst bool
	k       uint32
	code    []bpf.Instruction
	conds   frag
}

// toA returns code that leaves v in A.
func (v value) toA() []bpf.Instruction {
	if v.isConst {
		return []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegA, Val: v.k}}
	}
	return v.code
}

// relation compiles "arith relop arith": all protocol tests first (left
// then right), then one straight-line block that computes both sides and
// compares.
func (g *gen) relation(e *relExpr) (frag, error) {
	// l runs first and waits in slot 0 while r runs (in slots 1 and up).
	l, err := g.arith(e.l, 0)
	if err != nil {
		return frag{}, err
	}
	r, err := g.arith(e.r, 1)
	if err != nil {
		return frag{}, err
	}
	conds := and(l.conds, r.conds)
	var op jumpOp
	negate := false
	switch e.op {
	case ">":
		op = opJGT
	case ">=":
		op = opJGE
	case "=":
		op = opJEQ
	case "<":
		op, negate = opJGE, true
	case "<=":
		op, negate = opJGT, true
	case "!=":
		op, negate = opJEQ, true
	}
	var b frag
	switch {
	case l.isConst && r.isConst:
		b = frag{konst: evalJump(op, l.k, r.k)}
	case r.isConst:
		b = g.test(l.toA(), op, r.k)
	default:
		// l waits in scratch slot 0 while r is computed (r may use X
		// and higher slots); then r goes to X and l back to A.
		code := append(append([]bpf.Instruction{}, l.toA()...), bpf.StoreScratch{Src: bpf.RegA, N: 0})
		code = append(code, r.toA()...)
		code = append(code, bpf.TAX{}, bpf.LoadScratch{Dst: bpf.RegA, N: 0})
		blk := g.newBlock(code, op, 0)
		blk.useX = true
		b = frag{head: blk, t: []exit{{blk, true}}, f: []exit{{blk, false}}}
	}
	if negate {
		b = not(b)
	}
	return and(conds, b), nil
}

// evalJump evaluates a jump test on constants.
func evalJump(op jumpOp, a, k uint32) bool {
	switch op {
	case opJEQ:
		return a == k
	case opJGT:
		return a > k
	case opJGE:
		return a >= k
	case opJSET:
		return a&k != 0
	}
	return false
}

var aluOps = map[string]bpf.ALUOp{
	"+": bpf.ALUOpAdd, "-": bpf.ALUOpSub, "*": bpf.ALUOpMul, "/": bpf.ALUOpDiv,
	"%": bpf.ALUOpMod, "&": bpf.ALUOpAnd, "|": bpf.ALUOpOr, "^": bpf.ALUOpXor,
	"<<": bpf.ALUOpShiftLeft, ">>": bpf.ALUOpShiftRight,
}

// foldALU computes a op b at compile time when BPF would not abort.
func foldALU(op bpf.ALUOp, a, b uint32) (uint32, bool) {
	switch op {
	case bpf.ALUOpAdd:
		return a + b, true
	case bpf.ALUOpSub:
		return a - b, true
	case bpf.ALUOpMul:
		return a * b, true
	case bpf.ALUOpDiv:
		if b == 0 {
			return 0, false
		}
		return a / b, true
	case bpf.ALUOpMod:
		if b == 0 {
			return 0, false
		}
		return a % b, true
	case bpf.ALUOpAnd:
		return a & b, true
	case bpf.ALUOpOr:
		return a | b, true
	case bpf.ALUOpXor:
		return a ^ b, true
	case bpf.ALUOpShiftLeft:
		if b >= 32 {
			return 0, true
		}
		return a << b, true
	case bpf.ALUOpShiftRight:
		if b >= 32 {
			return 0, true
		}
		return a >> b, true
	}
	return 0, false
}

// arith compiles an arithmetic expression. slot is the lowest scratch
// slot it may use (lower slots hold operands of enclosing expressions).
func (g *gen) arith(a arith, slot int) (value, error) {
	if slot >= scratchSlots {
		return value{}, g.errAt(a.arithPos(), "expression too complex: needs more than %d scratch registers", scratchSlots)
	}
	switch a := a.(type) {
	case *numArith:
		return value{isConst: true, k: a.v, conds: fragTrue}, nil
	case *lenArith:
		return value{code: []bpf.Instruction{bpf.LoadExtension{Num: bpf.ExtLen}}, conds: fragTrue}, nil
	case *negArith:
		x, err := g.arith(a.x, slot)
		if err != nil {
			return value{}, err
		}
		if x.isConst {
			return value{isConst: true, k: -x.k, conds: x.conds}, nil
		}
		// The VM has no neg instruction: compute 0 - x.
		code := append(append([]bpf.Instruction{}, x.code...),
			bpf.StoreScratch{Src: bpf.RegA, N: slot},
			bpf.LoadConstant{Dst: bpf.RegA, Val: 0},
			bpf.LoadScratch{Dst: bpf.RegX, N: slot},
			bpf.ALUOpX{Op: bpf.ALUOpSub})
		return value{code: code, conds: x.conds}, nil
	case *binArith:
		return g.binary(a, slot)
	case *loadArith:
		return g.load(a, slot)
	}
	return value{}, g.errAt(a.arithPos(), "unsupported arithmetic")
}

// firstImm returns the constant that libpcap's code for a starts with
// ("ld #k"), if it starts with one: a number, or a load or operation whose
// leftmost operand is a number.
func firstImm(a arith) (uint32, bool) {
	switch a := a.(type) {
	case *numArith:
		return a.v, true
	case *loadArith:
		return firstImm(a.idx)
	case *binArith:
		return firstImm(a.l)
	case *negArith:
		return firstImm(a.x)
	}
	return 0, false
}

// binary compiles l op r. libpcap refuses a divisor, or a shift amount,
// whose code starts with "ld #0" (or "ld #k", k > 31): that is a literal
// zero, but also ip[0] or (0 + len), whose first instruction loads the
// same constant. Those errors are copied; a divisor that is zero at run
// time rejects the packet, as in BPF.
func (g *gen) binary(a *binArith, slot int) (value, error) {
	op := aluOps[a.op]
	if k, ok := firstImm(a.r); ok {
		switch {
		case op == bpf.ALUOpDiv && k == 0:
			return value{}, g.errAt(a.r.arithPos(), "division by zero")
		case op == bpf.ALUOpMod && k == 0:
			return value{}, g.errAt(a.r.arithPos(), "modulus by zero")
		case (op == bpf.ALUOpShiftLeft || op == bpf.ALUOpShiftRight) && k > 31:
			return value{}, g.errAt(a.r.arithPos(), "shift by more than 31 bits")
		}
	}
	// l runs first and waits in slot while r runs in the slots above it,
	// so a left-associated chain (a + b + c + ...) needs two slots.
	l, err := g.arith(a.l, slot)
	if err != nil {
		return value{}, err
	}
	r, err := g.arith(a.r, slot+1)
	if err != nil {
		return value{}, err
	}
	conds := and(l.conds, r.conds)
	if l.isConst && r.isConst {
		if k, ok := foldALU(op, l.k, r.k); ok {
			return value{isConst: true, k: k, conds: conds}, nil
		}
	}
	kOK := r.isConst
	switch op {
	case bpf.ALUOpDiv, bpf.ALUOpMod:
		kOK = kOK && r.k != 0 // the kernel refuses a zero constant divisor
	case bpf.ALUOpShiftLeft, bpf.ALUOpShiftRight:
		kOK = kOK && r.k < 32 // and a constant shift of 32 or more
	}
	if kOK {
		code := append(append([]bpf.Instruction{}, l.toA()...), bpf.ALUOpConstant{Op: op, Val: r.k})
		return value{code: code, conds: conds}, nil
	}
	code := append(append([]bpf.Instruction{}, l.toA()...), bpf.StoreScratch{Src: bpf.RegA, N: slot})
	code = append(code, r.toA()...)
	code = append(code, bpf.TAX{}, bpf.LoadScratch{Dst: bpf.RegA, N: slot}, bpf.ALUOpX{Op: op})
	return value{code: code, conds: conds}, nil
}

// load compiles proto[idx:size]. Network-layer offsets count from the
// network header; transport offsets from the IPv4 transport header (libpcap
// reads tcp[] and friends over IPv4 only, first fragments only), icmp6[]
// from a fixed IPv6 header; link[] from the start of the frame.
func (g *gen) load(a *loadArith, slot int) (value, error) {
	size := int(a.size)
	if size != 1 && size != 2 && size != 4 {
		pos := a.sizePos
		if pos == 0 {
			pos = a.pos
		}
		return value{}, g.errAt(pos, "data size must be 1, 2, or 4")
	}
	idx, err := g.arith(a.idx, slot)
	if err != nil {
		return value{}, err
	}
	// load appends "A = packet[base + idx]" to code computed so far.
	load := func(base uint64) []bpf.Instruction {
		if idx.isConst {
			return []bpf.Instruction{ldAbs(size, base+uint64(idx.k))}
		}
		return append(append([]bpf.Instruction{}, idx.code...), bpf.TAX{}, ldInd(size, base))
	}
	switch a.pq {
	case qLink:
		return value{code: load(0), conds: idx.conds}, nil
	case qIP, qIP6, qARP, qRARP:
		abbrev, err := g.protoAbbrev(a.pq, a.pos)
		if err != nil {
			return value{}, err
		}
		return value{code: load(g.nl(0)), conds: and(idx.conds, abbrev)}, nil
	case qTCP, qUDP, qSCTP, qICMP, qIGMP, qIGRP, qPIM, qVRRP, qCARP:
		ip := g.linkType(etherTypeIPv4)
		abbrev, err := g.protoAbbrev(a.pq, a.pos)
		if err != nil {
			return value{}, err
		}
		conds := and(ip, and(idx.conds, and(abbrev, g.ipFrag())))
		var code []bpf.Instruction
		hdr := bpf.LoadMemShift{Off: uint32(min(g.nl(0), maxOffset))}
		if idx.isConst {
			code = []bpf.Instruction{hdr, ldInd(size, g.nl(0)+uint64(idx.k))}
		} else {
			code = append(append([]bpf.Instruction{}, idx.code...),
				hdr, bpf.ALUOpX{Op: bpf.ALUOpAdd}, bpf.TAX{}, ldInd(size, g.nl(0)))
		}
		return value{code: code, conds: conds}, nil
	case qICMP6:
		ip6 := g.linkType(etherTypeIPv6)
		conds := and(and(idx.conds, ip6), g.cmp(1, g.nl(6), opJEQ, ipprotoICMPv6))
		return value{code: load(g.nl(40)), conds: conds}, nil
	}
	return value{}, g.errAt(a.pos, "%s[] is not supported", a.pq)
}
