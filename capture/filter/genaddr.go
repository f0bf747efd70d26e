package filter

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
)

// hostOp4 tests an IPv4 address at srcOff/dstOff of the header that
// EtherType et announces.
func (g *gen) hostOp4(addr, mask uint32, dir dqual, et uint32, srcOff, dstOff uint32) frag {
	one := func(off uint32) func() frag {
		return func() frag {
			b0 := g.linkType(et)
			return and(b0, g.mcmp(4, g.nl(off), addr, mask))
		}
	}
	return dirCombine(dir, one(srcOff), one(dstOff))
}

// host4 is "[ip|arp|rarp] [dir] host|net": without a protocol it also
// matches the sender and target addresses of ARP and RARP.
func (g *gen) host4(addr, mask uint32, q qual, pos int) (frag, error) {
	switch q.proto {
	case qDefault:
		b0 := g.hostOp4(addr, mask, q.dir, etherTypeIPv4, 12, 16)
		b1 := g.hostOp4(addr, mask, q.dir, etherTypeARP, 14, 24)
		b0 = or(b0, b1)
		return or(b0, g.hostOp4(addr, mask, q.dir, etherTypeRARP, 14, 24)), nil
	case qIP:
		return g.hostOp4(addr, mask, q.dir, etherTypeIPv4, 12, 16), nil
	case qARP:
		return g.hostOp4(addr, mask, q.dir, etherTypeARP, 14, 24), nil
	case qRARP:
		return g.hostOp4(addr, mask, q.dir, etherTypeRARP, 14, 24), nil
	case qLink:
		return frag{}, g.errAt(pos, "link-layer modifier applied to %s", hostOrNet(q))
	case qIP6:
		return frag{}, g.errAt(pos, "'ip6' modifier applied to ip %s", hostOrNet(q))
	}
	return frag{}, g.errAt(pos, "'%s' modifier applied to %s", q.proto, hostOrNet(q))
}

func hostOrNet(q qual) string {
	if q.addr == aNet {
		return "net"
	}
	return "host"
}

// host6 is "[ip6] [dir] host|net" for an IPv6 address: the four words of
// the address, first to last, after the EtherType test.
func (g *gen) host6(addr, mask [16]byte, q qual, pos int) (frag, error) {
	switch q.proto {
	case qDefault, qIP6:
	case qLink:
		return frag{}, g.errAt(pos, "link-layer modifier applied to ip6 %s", hostOrNet(q))
	default:
		return frag{}, g.errAt(pos, "'%s' modifier applied to ip6 %s", q.proto, hostOrNet(q))
	}
	one := func(off uint32) func() frag {
		return func() frag {
			b := g.linkType(etherTypeIPv6)
			for i := range uint32(4) {
				a := binary.BigEndian.Uint32(addr[4*i:])
				m := binary.BigEndian.Uint32(mask[4*i:])
				b = and(b, g.mcmp(4, g.nl(off+4*i), a, m))
			}
			return b
		}
	}
	return dirCombine(q.dir, one(8), one(24)), nil
}

// ehost compares Ethernet addresses; the link header never moves with
// `vlan`.
func (g *gen) ehost(mac [6]byte, dir dqual, pos int) (frag, error) {
	if g.link.kind != lkEthernet {
		return frag{}, g.errAt(pos, "Ethernet addresses need an Ethernet capture, not %s", g.link.name)
	}
	one := func(off uint64) func() frag {
		return func() frag {
			w := g.cmp(4, off+2, opJEQ, binary.BigEndian.Uint32(mac[2:]))
			return and(w, g.cmp(2, off, opJEQ, uint32(binary.BigEndian.Uint16(mac[:2]))))
		}
	}
	return dirCombine(dir, one(6), one(0)), nil
}

// atoin parses a dotted IPv4 address or prefix ("10", "10.1", ...) into
// its value and its length in bits, as libpcap's __pcap_atoin does.
func atoin(s string) (uint32, uint32, bool) {
	var v, bits uint32
	for _, part := range strings.Split(s, ".") {
		n, err := strconv.ParseUint(part, 10, 32)
		if err != nil || n > 255 || bits == 32 {
			return 0, 0, false
		}
		v = v<<8 | uint32(n)
		bits += 8
	}
	return v, bits, true
}

// id compiles an address, port, protocol or name with its qualifiers.
func (g *gen) id(e *idExpr) (frag, error) {
	q, t := e.q, e.tok
	switch t.kind {
	case tNum:
		return g.ncode(t.num, 32, true, q, t.pos)
	case tHID, tHID6:
		what := "IP address"
		switch {
		case e.prefix != nil:
			what = "IP address and prefix length"
		case e.mask != nil:
			what = "IP address and netmask"
		}
		switch q.addr {
		case aPort, aPortrange, aProto:
			return frag{}, g.errAt(t.pos, "'%s' modifier applied to %s", q.addr, what)
		}
		if t.kind == tHID6 {
			plen := uint32(128)
			if e.prefix != nil {
				plen = e.prefix.num
			}
			return g.mcode6(t, plen, q)
		}
		v, vlen, ok := atoin(t.text)
		if !ok {
			return frag{}, g.errAt(t.pos, "invalid IPv4 address '%s'", t.text)
		}
		if e.prefix == nil && e.mask == nil {
			return g.ncode(v, vlen, false, q, t.pos)
		}
		return g.mcode(e, v<<(32-vlen), q)
	case tEID:
		mac, ok := parseMAC(t.text)
		if !ok {
			return frag{}, g.errAt(t.pos, "invalid Ethernet address %s", t.text)
		}
		if (q.addr == aHost || q.addr == aDefault) && q.proto == qLink {
			return g.ehost(mac, q.dir, t.pos)
		}
		return frag{}, g.errAt(t.pos, "Ethernet address used in non-ether expression")
	}
	return g.scode(t, q)
}

// ncode compiles a number or a dotted IPv4 prefix of vlen bits.
func (g *gen) ncode(v, vlen uint32, isNum bool, q qual, pos int) (frag, error) {
	switch q.addr {
	case aDefault, aHost, aNet:
		if q.proto == qLink {
			return frag{}, g.errAt(pos, "illegal link layer address")
		}
		mask := uint32(0xffffffff)
		if isNum && q.addr == aNet {
			// "net 10" is 10.0.0.0/8: promote a short network number.
			for v != 0 && v&0xff000000 == 0 {
				v <<= 8
				mask <<= 8
			}
		} else {
			// "host 10.1" is 10.1.0.0/16: promote a short address.
			v <<= 32 - vlen
			mask <<= 32 - vlen
		}
		return g.host4(v, mask, q, pos)
	case aPort, aPortrange:
		ipproto, err := g.portProto(q, pos)
		if err != nil {
			return frag{}, err
		}
		if v > 65535 {
			return frag{}, g.errAt(pos, "illegal port number %d > 65535", v)
		}
		return g.port(ipproto, v, v, q.addr == aPortrange, q.dir), nil
	case aProto:
		return g.proto(v, q.proto, pos)
	}
	return frag{}, g.errAt(pos, "unexpected qualifier")
}

// mcode compiles "net A/len" and "net A mask M".
func (g *gen) mcode(e *idExpr, n uint32, q qual) (frag, error) {
	var m uint32
	if e.mask != nil {
		mv, mlen, ok := atoin(e.mask.text)
		if !ok {
			return frag{}, g.errAt(e.mask.pos, "invalid IPv4 address '%s'", e.mask.text)
		}
		m = mv << (32 - mlen)
		if n&^m != 0 {
			return frag{}, g.errAt(e.tok.pos, `non-network bits set in "%s mask %s"`, e.tok.text, e.mask.text)
		}
	} else {
		plen := e.prefix.num
		if plen > 32 {
			return frag{}, g.errAt(e.prefix.pos, "mask length must be <= 32")
		}
		if plen > 0 {
			m = 0xffffffff << (32 - plen)
		}
		if n&^m != 0 {
			return frag{}, g.errAt(e.tok.pos, `non-network bits set in "%s/%d"`, e.tok.text, plen)
		}
	}
	if q.addr != aNet {
		return frag{}, g.errAt(e.tok.pos, "Mask syntax for networks only")
	}
	return g.host4(n, m, q, e.tok.pos)
}

// mcode6 compiles an IPv6 address or prefix.
func (g *gen) mcode6(t token, plen uint32, q qual) (frag, error) {
	a, err := netip.ParseAddr(t.text)
	if err != nil {
		return frag{}, g.errAt(t.pos, "invalid IPv6 address %s", t.text)
	}
	if plen > 128 {
		return frag{}, g.errAt(t.pos, "mask length must be <= 128")
	}
	addr := a.As16()
	var mask [16]byte
	for i := range uint32(16) {
		switch {
		case plen >= 8*(i+1):
			mask[i] = 0xff
		case plen > 8*i:
			mask[i] = byte(0xff << (8*(i+1) - plen))
		}
		if addr[i]&^mask[i] != 0 {
			return frag{}, g.errAt(t.pos, `non-network bits set in "%s/%d"`, t.text, plen)
		}
	}
	if q.addr != aNet && plen != 128 {
		return frag{}, g.errAt(t.pos, "Mask syntax for networks only")
	}
	return g.host6(addr, mask, q, t.pos)
}

// parseMAC reads the MAC forms libpcap's scanner accepts.
func parseMAC(s string) ([6]byte, bool) {
	var mac [6]byte
	var hex string
	switch {
	case strings.ContainsAny(s, ":-") || strings.Count(s, ".") == 5:
		parts := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '-' || r == '.' })
		if len(parts) != 6 {
			return mac, false
		}
		for _, p := range parts {
			if len(p) == 1 {
				p = "0" + p
			}
			hex += p
		}
	default:
		hex = strings.ReplaceAll(s, ".", "")
	}
	if len(hex) != 12 {
		return mac, false
	}
	for i := range mac {
		v, err := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
		if err != nil {
			return mac, false
		}
		mac[i] = byte(v)
	}
	return mac, true
}

// scode compiles a name: a service for port, a protocol for proto, a
// numeric range for portrange. Host and network names need DNS or
// /etc/networks, which a pure compiler cannot consult.
func (g *gen) scode(t token, q qual) (frag, error) {
	switch q.addr {
	case aDefault, aHost:
		if q.proto == qLink {
			return frag{}, unsupportedAt(g.src, t.pos, "Ethernet host name %q needs /etc/ethers; use the address", t.text)
		}
		return frag{}, unsupportedAt(g.src, t.pos, "host name %q needs a DNS lookup; use an address", t.text)
	case aNet:
		return frag{}, unsupportedAt(g.src, t.pos, "network name %q needs a lookup; use an address", t.text)
	case aPort:
		ipproto, err := g.portProto(q, t.pos)
		if err != nil {
			return frag{}, err
		}
		s, ok := services[t.text]
		if !ok {
			return frag{}, g.errAt(t.pos, "unknown port name %q (give the number)", t.text)
		}
		// A name registered for one transport means that transport.
		proto := s.proto
		if ipproto != ipprotoUndef {
			if proto != ipprotoUndef && proto != ipproto {
				return frag{}, g.errAt(t.pos, "port '%s' is %s", t.text, ipprotoName(proto))
			}
			proto = ipproto
		}
		return g.port(proto, s.port, s.port, false, q.dir), nil
	case aPortrange:
		ipproto, err := g.portProto(q, t.pos)
		if err != nil {
			return frag{}, err
		}
		lo, hi, ok := parseRange(t.text)
		if !ok {
			return frag{}, g.errAt(t.pos, "invalid port range %q (give LOW-HIGH)", t.text)
		}
		if lo > 65535 || hi > 65535 {
			return frag{}, g.errAt(t.pos, "illegal port number %d > 65535", max(lo, hi))
		}
		return g.port(ipproto, lo, hi, true, q.dir), nil
	case aProto:
		if q.proto == qLink {
			v, ok := etherProtocols[t.text]
			if !ok {
				return frag{}, g.errAt(t.pos, "unknown ether proto '%s'", t.text)
			}
			return g.proto(v, q.proto, t.pos)
		}
		v, ok := ipProtocols[t.text]
		if !ok {
			return frag{}, g.errAt(t.pos, "unknown ip proto '%s'", t.text)
		}
		return g.proto(v, q.proto, t.pos)
	}
	return frag{}, g.errAt(t.pos, "unknown word %q", t.text)
}

// parseRange reads "LOW-HIGH" with decimal numbers.
func parseRange(s string) (uint32, uint32, bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, false
	}
	lo, err1 := strconv.ParseUint(a, 10, 32)
	hi, err2 := strconv.ParseUint(b, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uint32(lo), uint32(hi), true
}
