package capture

// gre decodes a GRE header (RFC 2784/2890, and PPTP's version 1) and its
// payload: IP, Ethernet (0x6558), ERSPAN type I/II (0x88BE) and III
// (0x22EB), MPLS or PPP.
func (p *parser) gre(off int) (Result, error) {
	if p.enter() {
		return ResultError, errTooDeep
	}
	if len(p.data) < off+4 {
		return ResultError, errTunnelShort
	}
	flags := be16(p.data[off:])
	proto := be16(p.data[off+2:])
	hdr := 4
	switch flags & 7 {
	case 0:
		if flags&0xC000 != 0 { // checksum or routing present: checksum + offset
			hdr += 4
		}
		if flags&0x2000 != 0 { // key
			hdr += 4
		}
		if flags&0x1000 != 0 { // sequence number
			hdr += 4
		}
		if flags&0x4000 != 0 {
			// Source route entries (RFC 1701), ending with an empty one.
			for {
				if p.enter() {
					return ResultError, errTooDeep
				}
				if len(p.data) < off+hdr+4 {
					return ResultError, errTunnelShort
				}
				n := int(p.data[off+hdr+3])
				hdr += 4 + n
				if n == 0 {
					break
				}
			}
		}
	case 1:
		// Enhanced GRE (PPTP): the key field is always present (payload
		// length and call ID), then optional sequence and ack numbers.
		hdr += 4
		if flags&0x1000 != 0 {
			hdr += 4
		}
		if flags&0x0080 != 0 {
			hdr += 4
		}
	default:
		return ResultNotTCP, nil
	}
	off += hdr
	if len(p.data) < off {
		return ResultError, errTunnelShort
	}
	switch proto {
	case 0x88BE:
		// ERSPAN type II carries an 8-byte header and needs the sequence
		// number; without it the payload is type I, bare Ethernet.
		if flags&0x1000 == 0 {
			return p.ethernet(off)
		}
		if len(p.data) < off+8 {
			return ResultError, errTunnelShort
		}
		return p.ethernet(off + 8)
	case 0x22EB:
		return p.erspan3(off)
	}
	return p.etherType(proto, off, false)
}

// erspan3 decodes an ERSPAN type III header: 12 bytes, plus an 8-byte
// platform subheader when the O flag is set; the frame type says whether
// Ethernet or IP follows.
func (p *parser) erspan3(off int) (Result, error) {
	if len(p.data) < off+12 {
		return ResultError, errTunnelShort
	}
	w := be16(p.data[off+10:]) // P(1) FT(5) HW ID(6) D(1) Gra(2) O(1)
	hdr := 12
	if w&1 != 0 {
		hdr += 8
	}
	switch (w >> 10) & 0x1F {
	case 0:
		return p.ethernet(off + hdr)
	case 2:
		return p.ip(off + hdr)
	}
	return ResultNotTCP, nil
}

// udp decodes a UDP header and follows the UDP tunnels tshark dissects by
// default port: VXLAN (4789), VXLAN-GPE (4790), Geneve (6081), GTP-U
// (2152), L2TPv2 (1701) and Teredo (3544). Like tshark, the lower port is
// tried first.
func (p *parser) udp(off int) (Result, error) {
	if len(p.data) < off+8 {
		return ResultError, errTunnelShort
	}
	sp, dp := be16(p.data[off:]), be16(p.data[off+2:])
	if n := int(be16(p.data[off+4:])); n >= 8 {
		p.shrink(off, n)
	}
	lo, hi := sp, dp
	if lo > hi {
		lo, hi = hi, lo
	}
	if r, ok, err := p.udpTunnel(lo, off+8); ok {
		return r, err
	}
	if r, ok, err := p.udpTunnel(hi, off+8); ok {
		return r, err
	}
	return ResultNotTCP, nil
}

// udpTunnel decodes the tunnel registered on port, if any; ok is false
// when the port is not a tunnel port.
func (p *parser) udpTunnel(port uint16, off int) (r Result, ok bool, err error) {
	switch port {
	case 4789: // VXLAN: 8-byte header, then Ethernet
		if len(p.data) < off+8 {
			return ResultError, true, errTunnelShort
		}
		r, err = p.ethernet(off + 8)
		return r, true, err
	case 4790: // VXLAN-GPE: next protocol in byte 3
		if len(p.data) < off+8 {
			return ResultError, true, errTunnelShort
		}
		switch p.data[off+3] {
		case 1:
			r, err = p.ipv4(off + 8)
		case 2:
			r, err = p.ipv6(off + 8)
		case 3:
			r, err = p.ethernet(off + 8)
		default:
			r = ResultNotTCP
		}
		return r, true, err
	case 6081: // Geneve: 8 bytes + options, EtherType-like protocol
		if len(p.data) < off+8 {
			return ResultError, true, errTunnelShort
		}
		if p.data[off]>>6 != 0 {
			return ResultNotTCP, true, nil
		}
		optLen := int(p.data[off]&0x3F) * 4
		if len(p.data) < off+8+optLen {
			return ResultError, true, errTunnelShort
		}
		r, err = p.etherType(be16(p.data[off+2:]), off+8+optLen, false)
		return r, true, err
	case 2152: // GTP-U
		r, err = p.gtpu(off)
		return r, true, err
	case 1701:
		r, err = p.l2tp(off)
		return r, true, err
	case 3544:
		r, err = p.teredo(off)
		return r, true, err
	}
	return ResultNotTCP, false, nil
}

// l2tp decodes an L2TPv2 data message (RFC 2661) and the PPP frame it
// carries; control messages and other versions carry no TCP.
func (p *parser) l2tp(off int) (Result, error) {
	if len(p.data) < off+2 {
		return ResultError, errTunnelShort
	}
	flags := be16(p.data[off:])
	if flags&0x8000 != 0 || flags&0x000F != 2 {
		return ResultNotTCP, nil
	}
	hdr := 6 // flags, tunnel ID, session ID
	if flags&0x4000 != 0 {
		hdr += 2 // length of the whole message
	}
	if flags&0x0800 != 0 {
		hdr += 4 // Ns, Nr
	}
	if flags&0x4000 != 0 {
		if len(p.data) < off+4 {
			return ResultError, errTunnelShort
		}
		n := int(be16(p.data[off+2:]))
		if n < hdr {
			return ResultNotTCP, nil // tshark stops at a length below the header
		}
		p.shrink(off, n)
	}
	if flags&0x0200 != 0 {
		// Offset size, then that many bytes of padding.
		if len(p.data) < off+hdr+2 {
			return ResultError, errTunnelShort
		}
		hdr += 2 + int(be16(p.data[off+hdr:]))
	}
	if len(p.data) < off+hdr {
		return ResultError, errTunnelShort
	}
	return p.ppp(off + hdr)
}

// teredo decodes Teredo (RFC 4380): optional authentication and origin
// indication headers, then an IPv6 packet.
func (p *parser) teredo(off int) (Result, error) {
	pos := off
	if len(p.data) >= pos+4 && be16(p.data[pos:]) == 1 {
		// Authentication: ID and value lengths, nonce (8), confirmation (1).
		pos += 4 + int(p.data[pos+2]) + int(p.data[pos+3]) + 9
	}
	if len(p.data) >= pos+8 && be16(p.data[pos:]) == 0 {
		pos += 8 // origin indication: port and address
	}
	if len(p.data) <= pos || p.data[pos]>>4 != 6 {
		return ResultNotTCP, nil
	}
	return p.ipv6(pos)
}

// gtpu decodes a GTPv1-U header and its extension headers; a G-PDU carries
// an IP packet.
func (p *parser) gtpu(off int) (Result, error) {
	if len(p.data) < off+8 {
		return ResultError, errTunnelShort
	}
	flags, msg := p.data[off], p.data[off+1]
	if flags>>5 != 1 || flags&0x10 == 0 || msg != 0xFF {
		return ResultNotTCP, nil // not GTPv1, or not a G-PDU
	}
	pos := off + 8
	if flags&0x07 != 0 {
		// Sequence number, N-PDU number and next extension type.
		if len(p.data) < pos+4 {
			return ResultError, errTunnelShort
		}
		next := p.data[pos+3]
		pos += 4
		for next != 0 && flags&0x04 != 0 {
			if p.enter() {
				return ResultError, errTooDeep
			}
			if len(p.data) < pos+1 {
				return ResultError, errTunnelShort
			}
			n := int(p.data[pos]) * 4
			if n == 0 || len(p.data) < pos+n {
				return ResultError, errTunnelShort
			}
			next = p.data[pos+n-1]
			pos += n
		}
	}
	return p.ip(pos)
}
