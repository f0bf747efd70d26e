package capture

import (
	"net/netip"

	"github.com/connscope/connscope/model"
)

// ipv4 decodes an IPv4 header at off and what it carries.
func (p *parser) ipv4(off int) (Result, error) {
	if p.enter() {
		return ResultError, errTooDeep
	}
	if len(p.data) < off+20 {
		return ResultError, errIPv4Short
	}
	b := p.data[off:]
	ihl := int(b[0]&0x0F) * 4
	if b[0]>>4 != 4 || ihl < 20 {
		return ResultError, errIPv4Bad
	}
	// A total length of 0 is what TSO-capable NICs hand to the capture for
	// outgoing super-segments; tshark then keeps the frame's length.
	if tot := int(be16(b[2:])); tot != 0 {
		if tot < ihl {
			return ResultError, errIPv4Len
		}
		p.shrink(off, tot)
	}
	if len(p.data) < off+ihl {
		return ResultError, errIPv4Short
	}
	b = p.data[off:]
	seg := p.seg
	seg.IPv6 = false
	seg.TTL = b[8]
	seg.IPID = be16(b[4:])
	frag := be16(b[6:])
	seg.DF = frag&0x4000 != 0
	p.src = netip.AddrFrom4([4]byte(b[12:16]))
	p.dst = netip.AddrFrom4([4]byte(b[16:20]))
	if frag&0x3FFF != 0 { // more fragments, or a non-zero offset
		return ResultFragment, nil
	}
	return p.transport(b[9], off+ihl)
}

// ipv6 decodes an IPv6 header at off, its extension headers, and what
// they carry.
func (p *parser) ipv6(off int) (Result, error) {
	if p.enter() {
		return ResultError, errTooDeep
	}
	if len(p.data) < off+40 {
		return ResultError, errIPv6Short
	}
	b := p.data[off:]
	if b[0]>>4 != 6 {
		return ResultError, errIPv6Bad
	}
	plen := int(be16(b[4:]))
	if plen == 0 {
		// tshark 4.0 does not dissect TCP under a zero payload length
		// (it reports a malformed packet), so neither do we.
		return ResultError, errIPv6Len
	}
	seg := p.seg
	seg.IPv6 = true
	seg.TTL = b[7]
	seg.IPID = 0
	seg.DF = false
	p.src = netip.AddrFrom16([16]byte(b[8:24]))
	p.dst = netip.AddrFrom16([16]byte(b[24:40]))
	p.shrink(off, 40+plen)
	next := b[6]
	off += 40
	for {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if p.enter() {
				return ResultError, errTooDeep
			}
			if len(p.data) < off+2 {
				return ResultError, errIPv6Ext
			}
			next, off = p.data[off], off+(int(p.data[off+1])+1)*8
		case 51: // authentication header: length in 4-byte units, minus 2
			if p.enter() {
				return ResultError, errTooDeep
			}
			if len(p.data) < off+2 {
				return ResultError, errIPv6Ext
			}
			next, off = p.data[off], off+(int(p.data[off+1])+2)*4
		case 44: // fragment
			if p.enter() {
				return ResultError, errTooDeep
			}
			if len(p.data) < off+8 {
				return ResultError, errIPv6Ext
			}
			// An "atomic" fragment (offset 0, no more fragments) is a
			// whole packet: tshark dissects what it carries.
			if be16(p.data[off+2:])&0xFFF9 != 0 {
				return ResultFragment, nil
			}
			next, off = p.data[off], off+8
		default:
			if len(p.data) < off {
				return ResultError, errIPv6Ext
			}
			return p.transport(next, off)
		}
	}
}

// transport dispatches on the IP protocol number of the payload at off.
func (p *parser) transport(proto uint8, off int) (Result, error) {
	switch proto {
	case 6:
		return p.tcp(off)
	case 4:
		return p.ipv4(off)
	case 41:
		return p.ipv6(off)
	case 47:
		return p.gre(off)
	case 17:
		return p.udp(off)
	case 1:
		return p.icmpError(off, false)
	case 58:
		return p.icmpError(off, true)
	}
	return ResultNotTCP, nil
}

// icmpError tells an ICMP (or ICMPv6) error quoting a TCP header from any
// other ICMP message. The quote is the start of the offending packet; it is
// never a segment of a connection.
func (p *parser) icmpError(off int, v6 bool) (Result, error) {
	if len(p.data) < off+8 {
		return ResultNotTCP, nil
	}
	typ := p.data[off]
	q := off + 8
	if !v6 {
		switch typ {
		case 3, 4, 5, 11, 12:
		default:
			return ResultNotTCP, nil
		}
		if len(p.data) >= q+20 && p.data[q]>>4 == 4 && p.data[q+9] == 6 {
			return ResultICMPQuoted, nil
		}
		return ResultNotTCP, nil
	}
	if typ < 1 || typ > 4 {
		return ResultNotTCP, nil
	}
	if len(p.data) < q+40 || p.data[q]>>4 != 6 {
		return ResultNotTCP, nil
	}
	next, pos := p.data[q+6], q+40
	for i := 0; i < 8; i++ {
		switch next {
		case 6:
			return ResultICMPQuoted, nil
		case 0, 43, 60:
			if len(p.data) < pos+2 {
				return ResultNotTCP, nil
			}
			next, pos = p.data[pos], pos+(int(p.data[pos+1])+1)*8
		case 44:
			if len(p.data) < pos+8 {
				return ResultNotTCP, nil
			}
			next, pos = p.data[pos], pos+8
		default:
			return ResultNotTCP, nil
		}
	}
	return ResultNotTCP, nil
}

// tcp decodes the TCP header at off into the segment.
func (p *parser) tcp(off int) (Result, error) {
	avail := len(p.data) - off
	if avail < tcpMinFields {
		return ResultError, errTCPShort
	}
	b := p.data[off:]
	seg := p.seg
	seg.Src = netip.AddrPortFrom(p.src, be16(b[0:]))
	seg.Dst = netip.AddrPortFrom(p.dst, be16(b[2:]))
	seg.Seq = be32(b[4:])
	seg.Ack = be32(b[8:])
	hl := int(b[12]>>4) * 4
	seg.TCPHdrLen = uint8(hl)
	seg.Flags = model.TCPFlags(b[13])
	seg.Window = be16(b[14:])
	if hl < 20 {
		// tshark stops at a bogus data offset before the fields after the
		// sequence number: no ack, flags or window, so it counts no SYN,
		// FIN or RST for the frame. Keep to that.
		seg.Ack, seg.Flags, seg.Window = 0, 0, 0
	}
	if pay := p.end - off - hl; pay > 0 {
		seg.PayloadLen = uint32(pay)
	}
	// tshark still puts a segment whose header is cut short (by the
	// snapshot length or by its own IP length) or bogus (data offset < 5)
	// in its stream, but does not analyse it.
	seg.HeaderCut = avail < 20 || hl < 20 || avail < hl
	if hl > 20 {
		seg.Opts.Len = uint8(hl - 20)
		lim := hl
		if avail < lim {
			lim = avail
		}
		if lim > 20 {
			parseOptions(b[20:lim], &seg.Opts)
		}
	}
	return ResultSegment, nil
}

// maxWScale is the largest window-scale shift RFC 7323 allows; tshark
// clamps larger values to it, and so do we.
const maxWScale = 14

// parseOptions reads the TCP options the analysis needs. It stops at the
// end-of-list option or at the first option whose length is impossible;
// options with a wrong length for their kind are ignored.
func parseOptions(o []byte, opts *model.TCPOptions) {
	for i := 0; i < len(o); {
		kind := o[i]
		if kind == 0 {
			return
		}
		if kind == 1 {
			i++
			continue
		}
		if i+1 >= len(o) {
			return
		}
		n := int(o[i+1])
		if n < 2 || i+n > len(o) {
			return
		}
		v := o[i+2 : i+n]
		switch kind {
		case 2:
			if n == 4 {
				opts.MSS = be16(v)
			}
		case 3:
			if n == 3 {
				s := v[0]
				if s > maxWScale {
					s = maxWScale
				}
				opts.WScale = int8(s)
			}
		case 4:
			if n == 2 {
				opts.SACKPermitted = true
			}
		case 5:
			if n >= 10 {
				opts.SACK = true
			}
		case 8:
			if n == 10 {
				opts.Timestamps = true
				opts.TSVal = be32(v)
				opts.TSEcr = be32(v[4:])
			}
		}
		i += n
	}
}
