package filter

import (
	"encoding/binary"

	"golang.org/x/net/bpf"
)

// maxOffset caps constant packet offsets. Any offset at or beyond it is
// past every possible packet, so the load fails (and rejects) just as the
// original offset would; capping keeps offsets clear of the kernel's
// negative "ancillary data" range (SKF_AD_OFF and friends) and of int
// overflow on 32-bit hosts.
const maxOffset = 0x3fffffff

// gen turns the AST into blocks, following libpcap's gencode.c so that
// every test happens in the same order (which decides the verdict for a
// packet too short for some load).
type gen struct {
	src       string
	link      linkInfo
	offLT     uint32 // offset of the protocol field; `vlan` moves it
	offNL     uint32 // offset of the network header; `vlan` moves it
	nullOrder binary.ByteOrder
	nextID    int
}

func (g *gen) errAt(pos int, format string, args ...any) error {
	return errAt(g.src, pos, format, args...)
}

func (g *gen) newBlock(stmts []bpf.Instruction, op jumpOp, k uint32) *block {
	g.nextID++
	return &block{id: g.nextID, stmts: stmts, op: op, k: k}
}

// test makes a one-block boolean: run stmts, then test A against k.
func (g *gen) test(stmts []bpf.Instruction, op jumpOp, k uint32) frag {
	b := g.newBlock(stmts, op, k)
	return frag{head: b, t: []exit{{b, true}}, f: []exit{{b, false}}}
}

func ldAbs(size int, off uint64) bpf.Instruction {
	return bpf.LoadAbsolute{Off: uint32(min(off, maxOffset)), Size: size}
}

func ldInd(size int, off uint64) bpf.Instruction {
	return bpf.LoadIndirect{Off: uint32(min(off, maxOffset)), Size: size}
}

// cmp tests the size-byte value at off against k.
func (g *gen) cmp(size int, off uint64, op jumpOp, k uint32) frag {
	return g.test([]bpf.Instruction{ldAbs(size, off)}, op, k)
}

// mcmp tests (value at off) & mask == k; a full mask needs no `and`.
func (g *gen) mcmp(size int, off uint64, k, mask uint32) frag {
	stmts := []bpf.Instruction{ldAbs(size, off)}
	if mask != 0xffffffff {
		stmts = append(stmts, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
	}
	return g.test(stmts, opJEQ, k)
}

func (g *gen) nl(off uint32) uint64 { return uint64(g.offNL) + uint64(off) }

// linkType tests the network protocol, given as an EtherType, in the
// link-layer header (libpcap's gen_linktype).
func (g *gen) linkType(et uint32) frag {
	switch g.link.kind {
	case lkEthernet, lkSLL, lkSLL2:
		return g.cmp(2, uint64(g.offLT), opJEQ, et)
	case lkRaw:
		var v uint32
		switch et {
		case etherTypeIPv4:
			v = 0x40
		case etherTypeIPv6:
			v = 0x60
		default:
			return fragFalse
		}
		return g.test([]bpf.Instruction{ldAbs(1, 0), bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0}}, opJEQ, v)
	case lkIPv4:
		return frag{konst: et == etherTypeIPv4}
	case lkIPv6:
		return frag{konst: et == etherTypeIPv6}
	case lkNull, lkLoop:
		switch et {
		case etherTypeIPv4:
			return g.family(afInet)
		case etherTypeIPv6:
			// AF_INET6 differs between systems; libpcap checks every
			// value a capture file may hold, in this order.
			b := g.family(afInet6Darwin)
			b24 := g.family(afInet6BSD)
			return or(b, or(b24, g.family(afInet6FreeBSD)))
		}
		return fragFalse
	}
	return fragFalse
}

// family tests the 4-byte address family of a loopback header. For BSD
// loopback it is in the capturing host's byte order; BPF loads
// big-endian, so compare with the bytes reread.
func (g *gen) family(fam uint32) frag {
	if g.link.kind == lkNull {
		var b [4]byte
		g.nullOrder.PutUint32(b[:], fam)
		fam = binary.BigEndian.Uint32(b[:])
	}
	return g.cmp(4, 0, opJEQ, fam)
}

// etherProto is "ether proto N": an EtherType the user chose.
func (g *gen) etherProto(et uint32, pos int) (frag, error) {
	switch g.link.kind {
	case lkEthernet, lkSLL, lkSLL2:
		if et <= 1500 {
			return frag{}, unsupportedAt(g.src, pos, "ether proto %d (an 802.2 LLC SAP) is not supported", et)
		}
		switch et {
		case 0x809b, 0x80f3, 0x8137: // AppleTalk, AARP, IPX: also LLC/SNAP encapsulated
			return frag{}, unsupportedAt(g.src, pos, "ether proto %#x is not supported", et)
		}
	}
	return g.linkType(et), nil
}

func (g *gen) ipFrag() frag {
	// True for the first (or only) fragment: no fragment offset.
	return not(g.test([]bpf.Instruction{ldAbs(2, g.nl(6))}, opJSET, 0x1fff))
}

func (g *gen) protoIPv4(v uint32) frag {
	b0 := g.linkType(etherTypeIPv4)
	return and(b0, g.cmp(1, g.nl(9), opJEQ, v))
}

// protoIPv6 checks the next header, and the one after a fragment header.
func (g *gen) protoIPv6(v uint32) frag {
	b0 := g.linkType(etherTypeIPv6)
	direct := g.cmp(1, g.nl(6), opJEQ, v)
	isFrag := g.cmp(1, g.nl(6), opJEQ, ipprotoFrag)
	inner := g.cmp(1, g.nl(40), opJEQ, v)
	return and(b0, or(direct, and(isFrag, inner)))
}

// proto is "[ip|ip6|ether] proto N".
func (g *gen) proto(v uint32, pq pqual, pos int) (frag, error) {
	switch pq {
	case qDefault:
		b0 := g.protoIPv4(v)
		return or(b0, g.protoIPv6(v)), nil
	case qLink:
		return g.etherProto(v, pos)
	case qIP:
		return g.protoIPv4(v), nil
	case qIP6:
		return g.protoIPv6(v), nil
	case qARP, qRARP:
		return frag{}, g.errAt(pos, "%s does not encapsulate another protocol", pq)
	}
	return frag{}, g.errAt(pos, "'%s proto' is bogus", pq)
}

// protoAbbrev is a protocol name standing alone ("tcp", "ip6").
func (g *gen) protoAbbrev(pq pqual, pos int) (frag, error) {
	switch pq {
	case qIP:
		return g.linkType(etherTypeIPv4), nil
	case qIP6:
		return g.linkType(etherTypeIPv6), nil
	case qARP:
		return g.linkType(etherTypeARP), nil
	case qRARP:
		return g.linkType(etherTypeRARP), nil
	case qTCP:
		return g.proto(ipprotoTCP, qDefault, pos)
	case qUDP:
		return g.proto(ipprotoUDP, qDefault, pos)
	case qSCTP:
		return g.proto(ipprotoSCTP, qDefault, pos)
	case qPIM:
		return g.proto(ipprotoPIM, qDefault, pos)
	case qAH:
		return g.proto(ipprotoAH, qDefault, pos)
	case qESP:
		return g.proto(ipprotoESP, qDefault, pos)
	case qICMP:
		return g.protoIPv4(ipprotoICMP), nil
	case qIGMP:
		return g.protoIPv4(ipprotoIGMP), nil
	case qIGRP:
		return g.protoIPv4(ipprotoIGRP), nil
	case qVRRP, qCARP:
		return g.protoIPv4(ipprotoVRRP), nil
	case qICMP6:
		return g.protoIPv6(ipprotoICMPv6), nil
	}
	return frag{}, g.errAt(pos, `"%s" alone is not a test (did you mean "%s host" or "%s proto"?)`, pq, pq, pq)
}

// dirCombine applies a direction to a source atom (off 0) and a
// destination atom (off 2 for ports).
func dirCombine(dir dqual, src, dst func() frag) frag {
	switch dir {
	case dSrc:
		return src()
	case dDst:
		return dst()
	case dAnd:
		a := src()
		return and(a, dst())
	}
	a := src()
	return or(a, dst())
}

// portCmp4 compares the 16-bit port at off in the IPv4 transport header,
// whose start comes from the header length in the packet.
func (g *gen) portCmp4(off uint32, op jumpOp, k uint32) frag {
	return g.test([]bpf.Instruction{
		bpf.LoadMemShift{Off: uint32(min(g.nl(0), maxOffset))},
		ldInd(2, g.nl(off)),
	}, op, k)
}

// portCmp6 compares the 16-bit port at off after a fixed IPv6 header.
func (g *gen) portCmp6(off uint32, op jumpOp, k uint32) frag {
	return g.cmp(2, g.nl(40+off), op, k)
}

// portAtoms builds the per-direction tests: a single port, or a range.
func (g *gen) portAtoms(v6 bool, lo, hi uint32, isRange bool, dir dqual) frag {
	cmp := g.portCmp4
	if v6 {
		cmp = g.portCmp6
	}
	atom := func(off uint32) func() frag {
		return func() frag {
			if !isRange {
				return cmp(off, opJEQ, lo)
			}
			ge := cmp(off, opJGE, lo)
			return and(ge, not(cmp(off, opJGT, hi)))
		}
	}
	return dirCombine(dir, atom(0), atom(2))
}

// portOp is one transport protocol's port test (libpcap's gen_portop and
// gen_portop6): protocol, first fragment (IPv4 only), then the ports.
func (g *gen) portOp(v6 bool, ipproto uint8, lo, hi uint32, isRange bool, dir dqual) frag {
	if v6 {
		b0 := g.cmp(1, g.nl(6), opJEQ, uint32(ipproto))
		return and(b0, g.portAtoms(true, lo, hi, isRange, dir))
	}
	b0 := g.cmp(1, g.nl(9), opJEQ, uint32(ipproto))
	b0 = and(b0, g.ipFrag())
	return and(b0, g.portAtoms(false, lo, hi, isRange, dir))
}

// portFamily is the port test for one IP version; ipproto 0 means tcp,
// udp or sctp, tested in libpcap's order (sctp, tcp, udp).
func (g *gen) portFamily(v6 bool, ipproto uint8, lo, hi uint32, isRange bool, dir dqual) frag {
	et := uint32(etherTypeIPv4)
	if v6 {
		et = etherTypeIPv6
	}
	b0 := g.linkType(et)
	var b1 frag
	if ipproto != ipprotoUndef {
		b1 = g.portOp(v6, ipproto, lo, hi, isRange, dir)
	} else {
		sctp := g.portOp(v6, ipprotoSCTP, lo, hi, isRange, dir)
		tcp := g.portOp(v6, ipprotoTCP, lo, hi, isRange, dir)
		udp := g.portOp(v6, ipprotoUDP, lo, hi, isRange, dir)
		b1 = or(sctp, or(tcp, udp))
	}
	return and(b0, b1)
}

// port is "[tcp|udp|sctp] [dir] port N" or "portrange LO-HI": IPv6 first,
// then IPv4, as libpcap emits it.
func (g *gen) port(ipproto uint8, lo, hi uint32, isRange bool, dir dqual) frag {
	if isRange && lo > hi {
		lo, hi = hi, lo
	}
	b6 := g.portFamily(true, ipproto, lo, hi, isRange, dir)
	return or(b6, g.portFamily(false, ipproto, lo, hi, isRange, dir))
}

// portProto maps the protocol qualifier of "port" to an IP protocol.
func (g *gen) portProto(q qual, pos int) (uint8, error) {
	switch q.proto {
	case qDefault:
		return ipprotoUndef, nil
	case qTCP:
		return ipprotoTCP, nil
	case qUDP:
		return ipprotoUDP, nil
	case qSCTP:
		return ipprotoSCTP, nil
	}
	return 0, g.errAt(pos, "illegal qualifier of '%s': %s", q.addr, q.proto)
}
