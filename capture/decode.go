package capture

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/connscope/connscope/model"
)

// Result says what Decode found in a packet.
type Result uint8

// Decode results. Only ResultSegment fills a usable Segment.
const (
	// ResultSegment: the packet carries a TCP header (possibly cut short by
	// the snapshot length, see model.Segment.HeaderCut) and seg holds it.
	ResultSegment Result = iota
	// ResultNotTCP: a well-formed packet of another protocol.
	ResultNotTCP
	// ResultICMPQuoted: an ICMP or ICMPv6 error quoting a TCP header. The
	// quoted header is not a segment of any connection.
	ResultICMPQuoted
	// ResultFragment: an IP fragment. Fragments are not reassembled, so a
	// fragmented TCP segment is not analysed (see doc.go).
	ResultFragment
	// ResultError: the packet is malformed or cut short before the TCP
	// fields a segment needs; the error says where.
	ResultError
)

var resultNames = [...]string{"segment", "not-tcp", "icmp-quoted", "fragment", "error"}

// String names the result.
func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return "unknown"
}

// ErrUnsupportedLink is Decode's error for a link type it has no decoder
// for (see LinkType.Supported).
var ErrUnsupportedLink = errors.New("link type not supported")

// Decode errors. They are fixed values so that decoding never allocates;
// callers that report one add the frame number themselves.
var (
	errLinkShort   = errors.New("link-layer header cut short")
	errLinkBad     = errors.New("malformed link-layer header")
	errIPv4Short   = errors.New("IPv4 header cut short")
	errIPv4Bad     = errors.New("malformed IPv4 header (version or header length)")
	errIPv4Len     = errors.New("IPv4 total length shorter than its header")
	errIPv6Short   = errors.New("IPv6 header cut short")
	errIPv6Bad     = errors.New("malformed IPv6 header (version)")
	errIPv6Len     = errors.New("IPv6 payload length 0 (jumbogram or segmentation offload)")
	errIPv6Ext     = errors.New("IPv6 extension header cut short")
	errTCPShort    = errors.New("TCP header cut short before the window field")
	errTunnelShort = errors.New("tunnel or shim header cut short")
	errTooDeep     = errors.New("too many nested headers")
)

// maxDepth bounds the nesting of headers (VLAN tags, tunnels, MPLS labels,
// IPv6 extension headers) so that a crafted packet cannot make a decode run
// long; real traffic stays far below it.
const maxDepth = 40

// tcpMinFields is how much of a TCP header must be captured for the
// segment to be placed in its stream: ports, seq, ack, data offset, flags
// and window. tshark 4.0 assigns tcp.stream from 16 captured bytes on (and
// none below), so we do the same; such a short header is marked HeaderCut.
const tcpMinFields = 16

// Decoder turns captured packets into model.Segments. It keeps no state
// between packets and never allocates; the zero value is ready to use, and
// since Decode does not modify it, one Decoder may serve several
// goroutines.
type Decoder struct{}

// Decode decodes one packet. data is the captured bytes, wireLen the
// packet's original length (0 or less than len(data) means len(data)); link
// is the framing of data. On ResultSegment every field of seg is set except
// TS, Frame and Iface, which belong to the source and are left zero; on any
// other result seg holds no segment (it is reset, with whatever outer
// fields were decoded). The error is non-nil only with ResultError; it is
// one of a fixed set of values and names what was wrong.
//
// Lengths follow tshark: each IP header shrinks the "reported" length of
// the packet to its total length (never grows it), and the TCP payload
// length is that reported length minus the TCP header, so Ethernet padding
// is not counted and a snaplen cut does not shrink it.
func (d *Decoder) Decode(data []byte, wireLen int, link LinkType, seg *model.Segment) (Result, error) {
	*seg = model.Segment{}
	seg.Opts.WScale = -1
	end := wireLen
	if end < len(data) {
		end = len(data)
	}
	seg.FrameLen = uint32(end)
	p := parser{data: data, end: end, seg: seg}
	switch link {
	case LinkEthernet:
		return p.ethernet(0)
	case LinkNull:
		return p.null(0, false)
	case LinkLoop:
		return p.null(0, true)
	case LinkRaw, LinkRaw12, LinkRaw14:
		return p.ip(0)
	case LinkIPv4:
		return p.ipv4(0)
	case LinkIPv6:
		return p.ipv6(0)
	case LinkLinuxSLL:
		return p.sll(0)
	case LinkLinuxSLL2:
		return p.sll2(0)
	case LinkPPP, LinkPPPHDLC:
		return p.ppp(0)
	case LinkCHDLC:
		return p.chdlc(0)
	case LinkNFLOG:
		return p.nflog(0)
	case LinkFDDI:
		return p.fddi(0)
	}
	return ResultError, ErrUnsupportedLink
}

// parser is the state of one Decode call. It lives on the stack.
type parser struct {
	data []byte
	// end is tshark's "reported length" of the innermost layer so far, in
	// frame coordinates: the original frame length, shrunk by every IP
	// total length (and UDP or NFLOG payload length) met on the way in.
	end   int
	seg   *model.Segment
	src   netip.Addr
	dst   netip.Addr
	depth int
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// enter counts one more nested header and reports whether the limit is hit.
func (p *parser) enter() bool {
	p.depth++
	return p.depth > maxDepth
}

// shrink lowers the reported end to off+n, as tshark's set_actual_length
// does: never raise it.
//
// The captured bytes past the new end are cut off too: like a tshark tvb,
// an inner header can never be read from the outer layer's trailer.
func (p *parser) shrink(off, n int) {
	if off+n < p.end {
		p.end = off + n
		if p.end < len(p.data) {
			p.data = p.data[:p.end]
		}
	}
}

// ethernet decodes an Ethernet II or 802.3 header at off.
func (p *parser) ethernet(off int) (Result, error) {
	if p.enter() {
		return ResultError, errTooDeep
	}
	if len(p.data) < off+14 {
		return ResultError, errLinkShort
	}
	return p.etherType(be16(p.data[off+12:]), off+14, true)
}

// etherType dispatches on an EtherType value t for the payload at off.
// lengthOK says t may be an 802.3 length field (Ethernet and VLAN tags),
// followed by 802.2 LLC.
func (p *parser) etherType(t uint16, off int, lengthOK bool) (Result, error) {
	switch t {
	case 0x0800:
		return p.ipv4(off)
	case 0x86DD:
		return p.ipv6(off)
	case 0x8100, 0x88A8, 0x9100, 0x9200, 0x9300:
		// 802.1Q, 802.1ad and the pre-standard QinQ tags: TCI, then the
		// next type or length.
		if p.enter() {
			return ResultError, errTooDeep
		}
		if len(p.data) < off+4 {
			return ResultError, errLinkShort
		}
		return p.etherType(be16(p.data[off+2:]), off+4, true)
	case 0x8847, 0x8848:
		return p.mpls(off)
	case 0x8864:
		return p.pppoe(off)
	case 0x6558:
		// Transparent Ethernet bridging (NVGRE, gretap, Geneve).
		return p.ethernet(off)
	case 0x880B:
		// PPP, as carried by PPTP's enhanced GRE.
		return p.ppp(off)
	}
	if lengthOK && t <= 1500 {
		return p.llc(off)
	}
	return ResultNotTCP, nil
}

// llc decodes an 802.2 LLC header, with SNAP, at off.
func (p *parser) llc(off int) (Result, error) {
	if p.enter() {
		return ResultError, errTooDeep
	}
	if len(p.data) < off+3 {
		return ResultError, errLinkShort
	}
	dsap, ssap, ctrl := p.data[off], p.data[off+1], p.data[off+2]
	hdr := 3
	if ctrl&3 != 3 {
		hdr = 4 // I and S frames have a 2-byte control field
	}
	switch {
	case dsap == 0xAA && ssap == 0xAA && hdr == 3:
		// SNAP: OUI then EtherType. OUI 00-00-00 (RFC 1042) and 00-00-F8
		// (Cisco) carry EtherTypes; other OUIs carry their own protocols.
		if len(p.data) < off+8 {
			return ResultError, errLinkShort
		}
		oui := uint32(p.data[off+3])<<16 | uint32(p.data[off+4])<<8 | uint32(p.data[off+5])
		if oui != 0 && oui != 0xF8 {
			return ResultNotTCP, nil
		}
		return p.etherType(be16(p.data[off+6:]), off+8, false)
	case dsap == 0x06 && ssap == 0x06:
		// The IP SAP: IPv4 straight after LLC.
		return p.ipv4(off + hdr)
	}
	return ResultNotTCP, nil
}

// null decodes the 4-byte address family of BSD loopback. LINKTYPE_NULL
// stores it in the byte order of the machine that captured, so either
// order is accepted (the family is small: a value with its high half set
// is byte-swapped); LINKTYPE_LOOP is always in network order, and, as in
// tshark, a little-endian value there is not decoded.
func (p *parser) null(off int, loop bool) (Result, error) {
	if len(p.data) < off+4 {
		return ResultError, errLinkShort
	}
	fam := be32(p.data[off:])
	if !loop && fam&0xFFFF0000 != 0 {
		fam = binary.LittleEndian.Uint32(p.data[off:])
	}
	switch fam {
	case 2: // AF_INET everywhere
		return p.ipv4(off + 4)
	case 24, 28, 30: // AF_INET6 on NetBSD/OpenBSD, FreeBSD, Darwin
		// (Linux's 10 never appears: Linux loopback is Ethernet-framed,
		// and tshark does not decode it either.)
		return p.ipv6(off + 4)
	}
	return ResultNotTCP, nil
}

// sll decodes a Linux cooked v1 header (16 bytes, protocol last).
func (p *parser) sll(off int) (Result, error) {
	if len(p.data) < off+16 {
		return ResultError, errLinkShort
	}
	return p.cooked(be16(p.data[off+2:]), be16(p.data[off+14:]), off+16)
}

// sll2 decodes a Linux cooked v2 header (20 bytes, protocol first).
func (p *parser) sll2(off int) (Result, error) {
	if len(p.data) < off+20 {
		return ResultError, errLinkShort
	}
	return p.cooked(be16(p.data[off+8:]), be16(p.data[off:]), off+20)
}

// cooked dispatches a Linux cooked header's protocol field, which holds an
// EtherType except for a few small Linux-specific values.
func (p *parser) cooked(hatype, proto uint16, off int) (Result, error) {
	const arphrdNetlink = 824
	if hatype == arphrdNetlink {
		return ResultNotTCP, nil
	}
	switch proto {
	case 0x0004: // ETH_P_802_2: an LLC header follows
		return p.llc(off)
	}
	if proto < 0x0600 {
		return ResultNotTCP, nil // Novell 802.3, CAN, and other non-IP payloads
	}
	return p.etherType(proto, off, false)
}

// ip decodes an IP header whose version comes from its first nibble.
func (p *parser) ip(off int) (Result, error) {
	if len(p.data) <= off {
		return ResultError, errLinkShort
	}
	switch p.data[off] >> 4 {
	case 4:
		return p.ipv4(off)
	case 6:
		return p.ipv6(off)
	}
	return ResultNotTCP, nil
}

// ppp decodes a PPP header: optional HDLC address and control bytes
// (FF 03), then a 1- or 2-byte protocol field.
func (p *parser) ppp(off int) (Result, error) {
	if p.enter() {
		return ResultError, errTooDeep
	}
	if len(p.data) >= off+2 && p.data[off] == 0xFF && p.data[off+1] == 0x03 {
		off += 2
	}
	if len(p.data) < off+1 {
		return ResultError, errLinkShort
	}
	var proto uint16
	if p.data[off]&1 == 1 { // protocol-field compression: one odd byte
		proto = uint16(p.data[off])
		off++
	} else {
		if len(p.data) < off+2 {
			return ResultError, errLinkShort
		}
		proto = be16(p.data[off:])
		off += 2
	}
	switch proto {
	case 0x0021:
		return p.ipv4(off)
	case 0x0057:
		return p.ipv6(off)
	case 0x0281, 0x0283:
		return p.mpls(off)
	}
	return ResultNotTCP, nil
}

// pppoe decodes a PPPoE session header (RFC 2516) and the PPP protocol.
func (p *parser) pppoe(off int) (Result, error) {
	if len(p.data) < off+6 {
		return ResultError, errTunnelShort
	}
	if p.data[off] != 0x11 || p.data[off+1] != 0 {
		return ResultNotTCP, nil // not version 1, type 1, session data
	}
	return p.ppp(off + 6)
}

// chdlc decodes a Cisco HDLC header: address, control, EtherType.
func (p *parser) chdlc(off int) (Result, error) {
	if len(p.data) < off+4 {
		return ResultError, errLinkShort
	}
	return p.etherType(be16(p.data[off+2:]), off+4, false)
}

// fddi decodes an FDDI header (frame control, two addresses) and its LLC.
func (p *parser) fddi(off int) (Result, error) {
	if len(p.data) < off+13 {
		return ResultError, errLinkShort
	}
	// Only asynchronous and synchronous LLC frames (FC 0x50-0x57,
	// 0xD0-0xD7) carry LLC; SMT and MAC frames do not.
	if p.data[off]&0x70 != 0x50 {
		return ResultNotTCP, nil
	}
	return p.llc(off + 13)
}

// mpls decodes an MPLS label stack down to its bottom and the IP packet
// under it, told by an explicit-null label or by the version nibble.
// Ethernet pseudowires are not decoded: tshark tells them apart (with or
// without a control word) by looking the MAC addresses up in its OUI
// database, which we do not carry; guessing differently would put
// segments in streams tshark does not have.
func (p *parser) mpls(off int) (Result, error) {
	var label uint32
	for {
		if p.enter() {
			return ResultError, errTooDeep
		}
		if len(p.data) < off+4 {
			return ResultError, errTunnelShort
		}
		label = be32(p.data[off:])
		off += 4
		if label&0x100 != 0 { // bottom of stack
			break
		}
	}
	switch label >> 12 {
	case 0:
		return p.ipv4(off) // IPv4 explicit null
	case 2:
		return p.ipv6(off) // IPv6 explicit null
	}
	if len(p.data) <= off {
		return ResultError, errTunnelShort
	}
	switch p.data[off] >> 4 {
	case 4:
		return p.ipv4(off)
	case 6:
		return p.ipv6(off)
	}
	return ResultNotTCP, nil
}

// nflog decodes a Linux NFLOG record: a 4-byte header, then TLVs whose
// length and type are in the host byte order of the capturing machine. The
// packet is the payload TLV (type 9); its length bounds the reported
// length, as the kernel may copy only part of the packet.
func (p *parser) nflog(off int) (Result, error) {
	if len(p.data) < off+4 {
		return ResultError, errLinkShort
	}
	if p.data[off+1] != 0 { // version 0 is the only one
		return ResultError, errLinkBad
	}
	off += 4
	// Byte order: decided on the first TLV, whose length must fit.
	var order binary.ByteOrder = binary.LittleEndian
	if len(p.data) >= off+4 {
		if n := int(binary.LittleEndian.Uint16(p.data[off:])); n < 4 || off+n > len(p.data) {
			order = binary.BigEndian
		}
	}
	for i := 0; len(p.data) >= off+4; i++ {
		if i > 64 {
			return ResultError, errTooDeep
		}
		n := int(order.Uint16(p.data[off:]))
		typ := order.Uint16(p.data[off+2:]) & 0x7FFF // high bit: nested flag
		if n < 4 {
			return ResultError, errLinkBad
		}
		if typ == 9 {
			// The TLV may claim more than was captured (a snaplen cut):
			// its length still bounds the packet, as in tshark.
			p.shrink(off+4, n-4)
			return p.ip(off + 4)
		}
		off += (n + 3) &^ 3
	}
	return ResultNotTCP, nil
}
