package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/connscope/connscope/model"
)

// Packet builders for the decoder tests. Addresses are fixed so that
// expectations stay readable.

var (
	testSrc4 = netip.MustParseAddr("192.0.2.1")
	testDst4 = netip.MustParseAddr("198.51.100.2")
	testSrc6 = netip.MustParseAddr("2001:db8::1")
	testDst6 = netip.MustParseAddr("2001:db8::2")
)

// linuxSynOpts are the options of a Linux SYN: MSS 1460, SACK permitted,
// timestamps 1000/0, NOP, window scale 7.
var linuxSynOpts = []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 1, 3, 3, 7}

type tcpHeader struct {
	sport, dport uint16
	seq, ack     uint32
	flags        byte
	win          uint16
	opts         []byte
	dataOff      int // header length in bytes; 0 means 20 + len(opts)
}

func (h tcpHeader) build(payload int) []byte {
	if h.sport == 0 {
		h.sport, h.dport = 40000, 80
	}
	opts := append([]byte(nil), h.opts...)
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	off := h.dataOff
	if off == 0 {
		off = 20 + len(opts)
	}
	b := binary.BigEndian.AppendUint16(nil, h.sport)
	b = binary.BigEndian.AppendUint16(b, h.dport)
	b = binary.BigEndian.AppendUint32(b, h.seq)
	b = binary.BigEndian.AppendUint32(b, h.ack)
	b = append(b, byte(off/4)<<4, h.flags)
	b = binary.BigEndian.AppendUint16(b, h.win)
	b = append(b, 0, 0, 0, 0)
	b = append(b, opts...)
	return append(b, bytes.Repeat([]byte{'p'}, payload)...)
}

// ipv4Packet builds an IPv4 header (TTL 64, ID 0x1234, DF) around payload;
// mod may change the header before it is returned.
func ipv4Packet(proto byte, payload []byte, mod func(h []byte)) []byte {
	h := []byte{0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0}
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	h = append(h, testSrc4.AsSlice()...)
	h = append(h, testDst4.AsSlice()...)
	if mod != nil {
		mod(h)
	}
	return append(h, payload...)
}

// ipv6Packet builds an IPv6 header (hop limit 57) around payload.
func ipv6Packet(next byte, payload []byte) []byte {
	h := []byte{0x60, 0, 0, 0, 0, 0, next, 57}
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h = append(h, testSrc6.AsSlice()...)
	h = append(h, testDst6.AsSlice()...)
	return append(h, payload...)
}

func udpPacket(sport, dport uint16, payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	return append(append(b, 0, 0), payload...)
}

func ether(etype uint16, payload []byte) []byte {
	b := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, byte(etype >> 8), byte(etype)}
	return append(b, payload...)
}

func ethIPv4TCP(h tcpHeader, payload int) []byte {
	return ether(0x0800, ipv4Packet(6, h.build(payload), nil))
}

func TestDecode_IPv4SYN_FillsEveryField(t *testing.T) {
	pkt := ethIPv4TCP(tcpHeader{sport: 51000, dport: 443, seq: 0xfffffff0, ack: 7, flags: 0x02, win: 64240, opts: linuxSynOpts}, 0)
	var d Decoder
	seg := model.Segment{TS: 99, Frame: 5, Iface: 3} // stale values must be cleared
	r, err := d.Decode(pkt, 0, LinkEthernet, &seg)
	if r != ResultSegment || err != nil {
		t.Fatalf("got %v, %v; want segment, nil", r, err)
	}
	want := model.Segment{
		Src: netip.AddrPortFrom(testSrc4, 51000), Dst: netip.AddrPortFrom(testDst4, 443),
		Seq: 0xfffffff0, Ack: 7, Window: 64240, Flags: model.FlagSYN,
		PayloadLen: 0, FrameLen: uint32(len(pkt)), TCPHdrLen: 40, TTL: 64, IPID: 0x1234, DF: true,
		Opts: model.TCPOptions{WScale: 7, MSS: 1460, Timestamps: true, TSVal: 1000, SACKPermitted: true, Len: 20},
	}
	if seg != want {
		t.Errorf("got  %+v\nwant %+v", seg, want)
	}
	if !seg.Src.Addr().Is4() {
		t.Errorf("got source %v, want a 4-byte address (not v4-in-v6)", seg.Src.Addr())
	}
}

func TestDecode_IPv6Data_FillsEveryField(t *testing.T) {
	tcp := tcpHeader{sport: 8080, dport: 42270, seq: 1, ack: 2, flags: 0x18, win: 512}.build(100)
	pkt := ether(0x86DD, ipv6Packet(6, tcp))
	var d Decoder
	var seg model.Segment
	if r, err := d.Decode(pkt, 0, LinkEthernet, &seg); r != ResultSegment || err != nil {
		t.Fatalf("got %v, %v; want segment, nil", r, err)
	}
	want := model.Segment{
		Src: netip.AddrPortFrom(testSrc6, 8080), Dst: netip.AddrPortFrom(testDst6, 42270),
		Seq: 1, Ack: 2, Window: 512, Flags: model.FlagPSH | model.FlagACK, PayloadLen: 100,
		FrameLen: uint32(len(pkt)), TCPHdrLen: 20, TTL: 57, IPv6: true,
		Opts: model.TCPOptions{WScale: -1},
	}
	if seg != want {
		t.Errorf("got  %+v\nwant %+v", seg, want)
	}
}

func TestDecode_Results(t *testing.T) {
	syn := tcpHeader{flags: 0x02}.build(0)
	full := ethIPv4TCP(tcpHeader{flags: 0x18}, 10)
	nest := func(layers int, leaf []byte) []byte {
		b := leaf
		for i := 0; i < layers; i++ {
			b = ipv4Packet(4, b, nil)
		}
		return ether(0x0800, b)
	}
	vlans := func(n int) []byte {
		b := ipv4Packet(6, syn, nil)
		for i := 0; i < n; i++ {
			b = append([]byte{0, 10, 0x08, 0}, b...)
			if i > 0 {
				b[2], b[3] = 0x81, 0x00
			}
		}
		return ether(0x8100, b)
	}
	icmpErr := append([]byte{3, 3, 0, 0, 0, 0, 0, 0}, ipv4Packet(6, syn[:8], nil)...)
	icmp6Err := append([]byte{1, 4, 0, 0, 0, 0, 0, 0}, ipv6Packet(6, syn[:8])...)
	tests := []struct {
		name    string
		link    LinkType
		pkt     []byte
		wireLen int
		want    Result
		wantErr error
		cut     bool
	}{
		{"plain segment", LinkEthernet, full, 0, ResultSegment, nil, false},
		{"UDP", LinkEthernet, ether(0x0800, ipv4Packet(17, []byte{0, 53, 0, 53, 0, 8, 0, 0}, nil)), 0, ResultNotTCP, nil, false},
		{"ARP", LinkEthernet, ether(0x0806, make([]byte, 28)), 0, ResultNotTCP, nil, false},
		{"ICMP error quoting TCP", LinkEthernet, ether(0x0800, ipv4Packet(1, icmpErr, nil)), 0, ResultICMPQuoted, nil, false},
		{"ICMPv6 error quoting TCP", LinkEthernet, ether(0x86DD, ipv6Packet(58, icmp6Err)), 0, ResultICMPQuoted, nil, false},
		{"ICMP echo", LinkEthernet, ether(0x0800, ipv4Packet(1, []byte{8, 0, 0, 0, 0, 1, 0, 1}, nil)), 0, ResultNotTCP, nil, false},
		{"IPv4 first fragment", LinkEthernet, ether(0x0800, ipv4Packet(6, syn, func(h []byte) { h[6] = 0x20 })), 0, ResultFragment, nil, false},
		{"IPv4 later fragment", LinkEthernet, ether(0x0800, ipv4Packet(6, syn, func(h []byte) { h[6], h[7] = 0, 8 })), 0, ResultFragment, nil, false},
		{"IPv6 fragment", LinkEthernet, ether(0x86DD, ipv6Packet(44, append([]byte{6, 0, 0, 1, 0, 0, 0, 9}, syn...))), 0, ResultFragment, nil, false},
		{"IPv6 atomic fragment", LinkEthernet, ether(0x86DD, ipv6Packet(44, append([]byte{6, 0, 0, 0, 0, 0, 0, 9}, syn...))), 0, ResultSegment, nil, false},
		{"TCP header cut at 15 bytes", LinkEthernet, full[:14+20+15], len(full), ResultError, errTCPShort, false},
		{"TCP header cut at 16 bytes", LinkEthernet, full[:14+20+16], len(full), ResultSegment, nil, true},
		{"TCP header cut at 19 bytes", LinkEthernet, full[:14+20+19], len(full), ResultSegment, nil, true},
		{"TCP data offset 4", LinkEthernet, ethIPv4TCP(tcpHeader{dataOff: 16}, 4), 0, ResultSegment, nil, true},
		{"IPv4 header length 16", LinkEthernet, ether(0x0800, ipv4Packet(6, syn, func(h []byte) { h[0] = 0x44 })), 0, ResultError, errIPv4Bad, false},
		{"IPv4 version 6 under EtherType IPv4", LinkEthernet, ether(0x0800, ipv4Packet(6, syn, func(h []byte) { h[0] = 0x65 })), 0, ResultError, errIPv4Bad, false},
		{"IPv4 total length below header", LinkEthernet, ether(0x0800, ipv4Packet(6, syn, func(h []byte) { h[2], h[3] = 0, 16 })), 0, ResultError, errIPv4Len, false},
		{"IPv4 header cut", LinkEthernet, ether(0x0800, ipv4Packet(6, nil, nil)[:19]), 0, ResultError, errIPv4Short, false},
		{"IPv6 payload length 0", LinkEthernet, func() []byte { b := ether(0x86DD, ipv6Packet(6, syn)); b[14+4], b[14+5] = 0, 0; return b }(), 0, ResultError, errIPv6Len, false},
		{"IPv6 extension header cut", LinkEthernet, ether(0x86DD, ipv6Packet(0, []byte{6})), 0, ResultError, errIPv6Ext, false},
		{"Ethernet cut before EtherType", LinkEthernet, make([]byte, 13), 0, ResultError, errLinkShort, false},
		{"unsupported link type", LinkType(147), full, 0, ResultError, ErrUnsupportedLink, false},
		{"40 VLAN tags", LinkEthernet, vlans(40), 0, ResultError, errTooDeep, false},
		{"8 VLAN tags", LinkEthernet, vlans(8), 0, ResultSegment, nil, false},
		{"IPv4 in IPv4 x 45", LinkEthernet, nest(45, ipv4Packet(6, syn, nil)), 0, ResultError, errTooDeep, false},
		{"IPv4 in IPv4 x 3", LinkEthernet, nest(3, ipv4Packet(6, syn, nil)), 0, ResultSegment, nil, false},
		{"empty packet", LinkRaw, nil, 0, ResultError, errLinkShort, false},
		{"raw IP of version 5", LinkRaw, []byte{0x50, 0, 0, 0}, 0, ResultNotTCP, nil, false},
	}
	var d Decoder
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seg model.Segment
			r, err := d.Decode(tc.pkt, tc.wireLen, tc.link, &seg)
			if r != tc.want || !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, %v; want %v, %v", r, err, tc.want, tc.wantErr)
			}
			if (err != nil) != (r == ResultError) {
				t.Errorf("got error %v with result %v: an error must come with ResultError only", err, r)
			}
			if r == ResultSegment && seg.HeaderCut != tc.cut {
				t.Errorf("got HeaderCut %v, want %v", seg.HeaderCut, tc.cut)
			}
		})
	}
}

// TestDecode_PayloadLen checks tshark's tcp.len rule: IP length minus
// headers, bounded by the frame's original length, never negative.
func TestDecode_PayloadLen(t *testing.T) {
	withTot := func(tot uint16, payload int) []byte {
		return ether(0x0800, ipv4Packet(6, tcpHeader{flags: 0x18}.build(payload), func(h []byte) {
			binary.BigEndian.PutUint16(h[2:], tot)
		}))
	}
	padded := append(ethIPv4TCP(tcpHeader{flags: 0x10}, 0), 0, 0, 0, 0, 0, 0)
	big := ethIPv4TCP(tcpHeader{flags: 0x18}, 1400)
	long := ethIPv4TCP(tcpHeader{flags: 0x10, opts: bytes.Repeat([]byte{1}, 20)}, 0)
	binary.BigEndian.PutUint16(long[14+2:], 40) // IP payload 20, TCP header 40
	bogus := ethIPv4TCP(tcpHeader{flags: 0x12, dataOff: 16}, 10)
	v6big := ether(0x86DD, ipv6Packet(6, tcpHeader{flags: 0x18}.build(5)))
	binary.BigEndian.PutUint16(v6big[14+4:], 500)
	tests := []struct {
		name    string
		pkt     []byte
		wireLen int
		want    uint32
	}{
		{"Ethernet padding not counted", padded, 0, 0},
		{"snaplen cut: IP length counts", big[:14+20+20+6], len(big), 1400},
		{"IPv4 total length 0 (TSO): frame length counts", withTot(0, 100), 0, 100},
		{"IPv4 total length 0, snaplen cut", withTot(0, 100)[:70], 14 + 20 + 20 + 100, 100},
		{"IPv4 total length beyond the frame", withTot(1000, 5), 0, 5},
		{"TCP header longer than IP payload", long, 0, 0},
		{"bogus data offset: IP payload minus 16", bogus, 0, 14},
		{"IPv6 payload length beyond the frame", v6big, 0, 5},
	}
	var d Decoder
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seg model.Segment
			if r, err := d.Decode(tc.pkt, tc.wireLen, LinkEthernet, &seg); r != ResultSegment {
				t.Fatalf("got %v, %v; want a segment", r, err)
			}
			if seg.PayloadLen != tc.want {
				t.Errorf("got PayloadLen %d, want %d", seg.PayloadLen, tc.want)
			}
		})
	}
}

func TestDecode_BogusDataOffsetKeepsOnlyWhatTsharkReads(t *testing.T) {
	pkt := ethIPv4TCP(tcpHeader{seq: 5, ack: 9, flags: 0x12, win: 100, dataOff: 16}, 10)
	var d Decoder
	var seg model.Segment
	if r, _ := d.Decode(pkt, 0, LinkEthernet, &seg); r != ResultSegment {
		t.Fatalf("got %v, want a segment", r)
	}
	if seg.Seq != 5 || seg.Ack != 0 || seg.Flags != 0 || seg.Window != 0 || !seg.HeaderCut || seg.TCPHdrLen != 16 {
		t.Errorf("got seq %d ack %d flags %v window %d cut %v hdrlen %d; want 5 0 none 0 true 16",
			seg.Seq, seg.Ack, seg.Flags, seg.Window, seg.HeaderCut, seg.TCPHdrLen)
	}
}

func TestDecode_Options(t *testing.T) {
	ts := []byte{8, 10, 0, 0, 0, 5, 0, 0, 0, 6}
	tests := []struct {
		name string
		opts []byte
		want model.TCPOptions
	}{
		{"none", nil, model.TCPOptions{WScale: -1}},
		{"Linux SYN", linuxSynOpts, model.TCPOptions{WScale: 7, MSS: 1460, Timestamps: true, TSVal: 1000, SACKPermitted: true, Len: 20}},
		{"window scale 15 clamps to 14", []byte{3, 3, 15}, model.TCPOptions{WScale: 14, Len: 4}},
		{"window scale 0", []byte{3, 3, 0}, model.TCPOptions{WScale: 0, Len: 4}},
		{"timestamps", append([]byte{1, 1}, ts...), model.TCPOptions{WScale: -1, Timestamps: true, TSVal: 5, TSEcr: 6, Len: 12}},
		{"timestamp of wrong length ignored", []byte{8, 8, 0, 0, 0, 1, 0, 0}, model.TCPOptions{WScale: -1, Len: 8}},
		{"SACK block", []byte{1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2}, model.TCPOptions{WScale: -1, SACK: true, Len: 12}},
		{"empty SACK is no block", []byte{5, 2, 1, 1}, model.TCPOptions{WScale: -1, Len: 4}},
		{"end of list stops parsing", []byte{0, 0, 0, 0, 2, 4, 1, 0}, model.TCPOptions{WScale: -1, Len: 8}},
		{"zero length stops parsing", []byte{30, 0, 2, 4, 1, 0, 0, 0}, model.TCPOptions{WScale: -1, Len: 8}},
		{"length past the header stops parsing", []byte{2, 4, 0, 10, 30, 40, 0, 0}, model.TCPOptions{WScale: -1, MSS: 10, Len: 8}},
		{"unknown option skipped", []byte{30, 4, 0, 0, 2, 4, 0, 9}, model.TCPOptions{WScale: -1, MSS: 9, Len: 8}},
	}
	var d Decoder
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seg model.Segment
			if r, err := d.Decode(ethIPv4TCP(tcpHeader{flags: 0x02, opts: tc.opts}, 0), 0, LinkEthernet, &seg); r != ResultSegment {
				t.Fatalf("got %v, %v; want a segment", r, err)
			}
			if seg.Opts != tc.want {
				t.Errorf("got %+v, want %+v", seg.Opts, tc.want)
			}
		})
	}
}

// TestDecode_OptionsCutBySnaplen: only the captured options are read, and
// the header is marked cut.
func TestDecode_OptionsCutBySnaplen(t *testing.T) {
	pkt := ethIPv4TCP(tcpHeader{flags: 0x02, opts: linuxSynOpts}, 0)
	var d Decoder
	var seg model.Segment
	if r, _ := d.Decode(pkt[:14+20+28], len(pkt), LinkEthernet, &seg); r != ResultSegment {
		t.Fatalf("got %v, want a segment", r)
	}
	want := model.TCPOptions{WScale: -1, MSS: 1460, SACKPermitted: true, Len: 20}
	if seg.Opts != want || !seg.HeaderCut || seg.FrameLen != uint32(len(pkt)) {
		t.Errorf("got opts %+v cut %v framelen %d; want %+v true %d", seg.Opts, seg.HeaderCut, seg.FrameLen, want, len(pkt))
	}
}

func TestDecode_LinkTypes(t *testing.T) {
	ip4 := ipv4Packet(6, tcpHeader{flags: 0x02}.build(0), nil)
	ip6 := ipv6Packet(6, tcpHeader{flags: 0x02}.build(0))
	le := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	be := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	nflogTLV := func(order binary.AppendByteOrder, typ uint16, v []byte) []byte {
		b := order.AppendUint16(nil, uint16(4+len(v)))
		b = order.AppendUint16(b, typ)
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	tests := []struct {
		name string
		link LinkType
		pkt  []byte
		v6   bool
	}{
		{"NULL AF_INET little-endian", LinkNull, cat(le(2), ip4), false},
		{"NULL AF_INET big-endian", LinkNull, cat(be(2), ip4), false},
		{"NULL AF_INET6 (Darwin 30)", LinkNull, cat(le(30), ip6), true},
		{"LOOP AF_INET6 (FreeBSD 28)", LinkLoop, cat(be(28), ip6), true},
		{"RAW IPv4", LinkRaw, ip4, false},
		{"RAW(14) IPv6", LinkRaw14, ip6, true},
		{"IPV4", LinkIPv4, ip4, false},
		{"IPV6", LinkIPv6, ip6, true},
		{"LINUX_SLL", LinkLinuxSLL, cat([]byte{0, 4, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0}, ip4), false},
		{"LINUX_SLL2", LinkLinuxSLL2, cat([]byte{0x86, 0xDD, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0}, ip6), true},
		{"PPP", LinkPPP, cat([]byte{0xFF, 3, 0, 0x21}, ip4), false},
		{"PPP compressed protocol", LinkPPP, cat([]byte{0x21}, ip4), false},
		{"PPP_HDLC IPv6", LinkPPPHDLC, cat([]byte{0xFF, 3, 0, 0x57}, ip6), true},
		{"C_HDLC", LinkCHDLC, cat([]byte{0x0F, 0, 0x08, 0}, ip4), false},
		{"NFLOG little-endian", LinkNFLOG, cat([]byte{2, 0, 0, 1}, nflogTLV(binary.LittleEndian, 1, []byte{8, 0, 3, 0}), nflogTLV(binary.LittleEndian, 9, ip4)), false},
		{"NFLOG big-endian", LinkNFLOG, cat([]byte{10, 0, 0, 1}, nflogTLV(binary.BigEndian, 9, ip6)), true},
		{"FDDI", LinkFDDI, cat([]byte{0x50}, make([]byte, 12), []byte{0xAA, 0xAA, 3, 0, 0, 0, 0x08, 0}, ip4), false},
		{"Ethernet 802.3 + SNAP", LinkEthernet, cat(make([]byte, 12), []byte{0, 60, 0xAA, 0xAA, 3, 0, 0, 0, 0x86, 0xDD}, ip6), true},
		{"Ethernet PPPoE", LinkEthernet, ether(0x8864, cat([]byte{0x11, 0, 0, 1, 0, 0, 0, 0x21}, ip4)), false},
		{"Ethernet MPLS", LinkEthernet, ether(0x8847, cat([]byte{0, 0x64, 0x11, 64}, ip6)), true},
		{"Ethernet GRE key+seq", LinkEthernet, ether(0x0800, ipv4Packet(47, cat([]byte{0x30, 0, 0x08, 0, 0, 0, 0, 1, 0, 0, 0, 2}, ip4), nil)), false},
		{"Ethernet VXLAN", LinkEthernet, ether(0x0800, ipv4Packet(17, udpPacket(49152, 4789, cat([]byte{8, 0, 0, 0, 0, 0, 1, 0}, ether(0x86DD, ip6))), nil)), true},
	}
	var d Decoder
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seg model.Segment
			r, err := d.Decode(tc.pkt, 0, tc.link, &seg)
			if r != ResultSegment {
				t.Fatalf("got %v, %v; want a segment", r, err)
			}
			wantSrc := testSrc4
			if tc.v6 {
				wantSrc = testSrc6
			}
			if seg.Src.Addr() != wantSrc || seg.IPv6 != tc.v6 || seg.Flags != model.FlagSYN {
				t.Errorf("got src %v v6 %v flags %v; want %v %v S", seg.Src.Addr(), seg.IPv6, seg.Flags, wantSrc, tc.v6)
			}
		})
	}
}

// TestDecode_TunnelUsesInnermostHeader: addresses, TTL and ID come from
// the IP header that carries TCP, not the outer one.
func TestDecode_TunnelUsesInnermostHeader(t *testing.T) {
	inner := ipv4Packet(6, tcpHeader{flags: 0x10}.build(3), func(h []byte) { h[8] = 33; h[4], h[5] = 0, 7 })
	outer := ipv6Packet(4, inner)
	var d Decoder
	var seg model.Segment
	if r, _ := d.Decode(ether(0x86DD, outer), 0, LinkEthernet, &seg); r != ResultSegment {
		t.Fatalf("got %v, want a segment", r)
	}
	if seg.IPv6 || seg.TTL != 33 || seg.IPID != 7 || seg.Src.Addr() != testSrc4 || seg.PayloadLen != 3 {
		t.Errorf("got v6 %v ttl %d id %d src %v len %d; want false 33 7 %v 3", seg.IPv6, seg.TTL, seg.IPID, seg.Src.Addr(), seg.PayloadLen, testSrc4)
	}
}

func TestDecode_DoesNotAllocate(t *testing.T) {
	pkts := []struct {
		link LinkType
		data []byte
	}{
		{LinkEthernet, ethIPv4TCP(tcpHeader{flags: 0x02, opts: linuxSynOpts}, 0)},
		{LinkEthernet, ether(0x86DD, ipv6Packet(6, tcpHeader{flags: 0x18}.build(50)))},
		{LinkEthernet, ether(0x0806, make([]byte, 28))},
		{LinkEthernet, make([]byte, 5)},
		{LinkNull, append([]byte{2, 0, 0, 0}, ipv4Packet(6, tcpHeader{}.build(0), nil)...)},
	}
	var d Decoder
	var seg model.Segment
	for _, p := range pkts {
		if n := testing.AllocsPerRun(100, func() { d.Decode(p.data, 0, p.link, &seg) }); n != 0 {
			t.Errorf("link %v: got %v allocations per decode, want 0", p.link, n)
		}
	}
}

func TestLinkType_String(t *testing.T) {
	tests := []struct {
		l    LinkType
		want string
	}{{LinkEthernet, "ETHERNET"}, {LinkLinuxSLL2, "LINUX_SLL2"}, {147, "USER0"}, {4242, "LINKTYPE_4242"}}
	for _, tc := range tests {
		if got := tc.l.String(); got != tc.want {
			t.Errorf("LinkType(%d): got %q, want %q", tc.l, got, tc.want)
		}
	}
	if LinkType(147).Supported() || !LinkNFLOG.Supported() {
		t.Errorf("got Supported %v for 147 and %v for NFLOG, want false and true", LinkType(147).Supported(), LinkNFLOG.Supported())
	}
}

// TestDecode_SnaplenCutsNeverChangeASegment cuts every TCP packet of the
// fixtures at every length, as a smaller snaplen would (the wire length
// stays): while the TCP header is whole the segment must not change at
// all; once the cut reaches the header the segment is marked HeaderCut
// and keeps its addresses, ports and sequence number; below 16 bytes of
// TCP there is no segment; and no shorter cut ever gives a segment again.
func TestDecode_SnaplenCutsNeverChangeASegment(t *testing.T) {
	var d Decoder
	checked := 0
	for _, name := range fixtureNames {
		f, err := Open(fixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		var p Packet
		for f.ReadPacket(&p) == nil {
			var full model.Segment
			if r, _ := d.Decode(p.Data, p.WireLen, p.Link, &full); r != ResultSegment || full.HeaderCut {
				continue
			}
			data := append([]byte(nil), p.Data...)
			state := 0 // 0: whole header, 1: header cut, 2: no segment
			for n := len(data); n >= 0; n-- {
				var seg model.Segment
				r, _ := d.Decode(data[:n], p.WireLen, p.Link, &seg)
				switch {
				case r == ResultSegment && !seg.HeaderCut:
					if state != 0 || seg != full {
						t.Fatalf("%s frame %d cut at %d: got %+v, want %+v (state %d)", name, p.Frame, n, seg, full, state)
					}
				case r == ResultSegment:
					if state == 2 || seg.Src != full.Src || seg.Dst != full.Dst || seg.Seq != full.Seq || seg.PayloadLen != full.PayloadLen {
						t.Fatalf("%s frame %d cut at %d: got %+v, want a cut header of %+v (state %d)", name, p.Frame, n, seg, full, state)
					}
					state = 1
				default:
					state = 2
				}
			}
			checked++
		}
		f.Close()
	}
	if checked < 150 {
		t.Errorf("checked %d segments, want at least 150", checked)
	}
}
