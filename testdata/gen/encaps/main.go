// Command encaps writes encaps.pcapng: hand-built packets, one pcapng
// interface per link type, that exercise every framing, tunnel and corner
// case of the capture decoder which the kernel of the fixture machine
// cannot produce (it has no GRE, MPLS, PPPoE or Geneve devices). Which of
// them tshark puts in a TCP stream, and with which fields, is recorded in
// testdata/golden by `go test ./capture -run TestFields_ -update-tshark`; the
// decoder is tested against that, not against this program's intent.
//
// Each packet's comment (pcapng opt_comment) says what it is. The output
// is deterministic. Usage: go run ./testdata/gen/encaps -o testdata/encaps.pcapng
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
)

var be = binary.BigEndian

func u16(v uint16) []byte { return be.AppendUint16(nil, v) }
func u32(v uint32) []byte { return be.AppendUint32(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

// Addresses: each packet gets its own source port so tshark keeps frames
// apart even where 4-tuples would otherwise repeat.
var (
	v4a = []byte{10, 1, 0, 1}
	v4b = []byte{10, 1, 0, 2}
	v4o = []byte{172, 16, 0, 1} // outer (tunnel) endpoints
	v4p = []byte{172, 16, 0, 2}
	v6a = []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	v6b = []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}
	v6o = []byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	v6p = []byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}
)

var nextPort uint16 = 40000

// TCP flag bits.
const (
	fin = 0x01
	syn = 0x02
	rst = 0x04
	psh = 0x08
	ack = 0x10
)

// tcpSeg builds a TCP header (options padded to 4 bytes) and payload.
func tcpSeg(flags byte, opts []byte, payload int) []byte {
	nextPort++
	for len(opts)%4 != 0 {
		opts = append(opts, 1) // NOP
	}
	off := byte((20 + len(opts)) / 4)
	h := cat(u16(nextPort), u16(80), u32(1000+uint32(nextPort)), u32(7777), []byte{off << 4, flags}, u16(29200), u16(0), u16(0), opts)
	return append(h, bytes.Repeat([]byte{'d'}, payload)...)
}

// synOpts are a Linux SYN's options: MSS, SACK permitted, timestamps, WS 7.
var synOpts = cat([]byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10}, u32(12345), u32(0), []byte{1, 3, 3, 7})

func ip4(proto byte, payload []byte) []byte { return ip4x(proto, payload, 0x4000, -1, nil) }

// ip4x builds an IPv4 header: frag is the flags+offset word, tot the total
// length (-1: correct), opts IP options (padded).
func ip4x(proto byte, payload []byte, frag uint16, tot int, opts []byte) []byte {
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	ihl := 20 + len(opts)
	if tot < 0 {
		tot = ihl + len(payload)
	}
	h := cat([]byte{0x40 | byte(ihl/4), 0}, u16(uint16(tot)), u16(0x1234), u16(frag), []byte{64, proto}, u16(0), v4a, v4b, opts)
	return append(h, payload...)
}

// ip4o is an outer IPv4 header between the tunnel endpoints.
func ip4o(proto byte, payload []byte) []byte {
	h := cat([]byte{0x45, 0}, u16(uint16(20+len(payload))), u16(0x4321), u16(0), []byte{255, proto}, u16(0), v4o, v4p)
	return append(h, payload...)
}

func ip6(next byte, payload []byte) []byte { return ip6x(next, payload, -1, v6a, v6b) }

func ip6x(next byte, payload []byte, plen int, src, dst []byte) []byte {
	if plen < 0 {
		plen = len(payload)
	}
	h := cat(u32(0x60000000), u16(uint16(plen)), []byte{next, 61}, src, dst)
	return append(h, payload...)
}

func eth(etype uint16, payload []byte) []byte {
	return cat([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}, u16(etype), payload)
}

func udp(sport, dport uint16, payload []byte) []byte {
	return cat(u16(sport), u16(dport), u16(uint16(8+len(payload))), u16(0), payload)
}

func gre(flags, proto uint16, extra []byte, payload []byte) []byte {
	return cat(u16(flags), u16(proto), extra, payload)
}

type pkt struct {
	iface   int
	data    []byte
	wireLen int // 0: len(data)
	comment string
}

var ifaces = []struct {
	link uint16
	name string
}{
	{1, "ethernet"}, {0, "null"}, {108, "loop"}, {101, "raw"}, {12, "raw12"}, {14, "raw14"},
	{228, "ipv4"}, {229, "ipv6"}, {113, "sll"}, {276, "sll2"}, {9, "ppp"}, {50, "ppp_hdlc"},
	{104, "c_hdlc"}, {239, "nflog"}, {10, "fddi"},
}

const (
	ifEth = iota
	ifNull
	ifLoop
	ifRaw
	ifRaw12
	ifRaw14
	ifIPv4
	ifIPv6
	ifSLL
	ifSLL2
	ifPPP
	ifPPPHDLC
	ifCHDLC
	ifNFLOG
	ifFDDI
)

func packets() []pkt {
	var ps []pkt
	add := func(iface int, comment string, data []byte) {
		ps = append(ps, pkt{iface: iface, data: data, comment: comment})
	}
	t4 := func() []byte { return ip4(6, tcpSeg(syn, synOpts, 0)) }
	t6 := func() []byte { return ip6(6, tcpSeg(ack|psh, nil, 12)) }

	// Ethernet and its shims.
	add(ifEth, "ethernet ipv4 syn with options", eth(0x0800, t4()))
	add(ifEth, "ethernet ipv4 with IP options, pure ack, padded to 60", append(eth(0x0800, ip4x(6, tcpSeg(ack, nil, 0), 0x4000, -1, []byte{1, 1, 1, 0})), make([]byte, 2)...))
	add(ifEth, "ethernet ipv6", eth(0x86DD, t6()))
	add(ifEth, "802.1Q", eth(0x8100, cat(u16(10), u16(0x0800), t4())))
	add(ifEth, "802.1ad + 802.1Q", eth(0x88A8, cat(u16(20), u16(0x8100), u16(10), u16(0x0800), t4())))
	add(ifEth, "0x9100 + 802.1Q", eth(0x9100, cat(u16(30), u16(0x8100), u16(10), u16(0x86DD), t6())))
	llc := func(p []byte) []byte { return cat([]byte{0xAA, 0xAA, 3, 0, 0, 0}, u16(0x0800), p) }
	snap := llc(t4())
	add(ifEth, "802.3 length + LLC/SNAP", eth(uint16(len(snap)), snap))
	pppoe := func(proto uint16, p []byte) []byte {
		return eth(0x8864, cat([]byte{0x11, 0}, u16(0x0101), u16(uint16(2+len(p))), u16(proto), p))
	}
	add(ifEth, "PPPoE session ipv4", pppoe(0x0021, t4()))
	add(ifEth, "PPPoE session ipv6", pppoe(0x0057, t6()))
	add(ifEth, "MPLS one label, ipv4", eth(0x8847, cat(u32(100<<12|1<<8|64), t4())))
	add(ifEth, "MPLS two labels, ipv6", eth(0x8847, cat(u32(100<<12|64), u32(200<<12|1<<8|64), t6())))
	add(ifEth, "MPLS IPv4 explicit null", eth(0x8847, cat(u32(0<<12|1<<8|64), t4())))
	add(ifEth, "MPLS pseudowire: control word + ethernet", eth(0x8847, cat(u32(300<<12|1<<8|64), u32(0), eth(0x0800, t4()))))
	add(ifEth, "MPLS pseudowire without control word", eth(0x8847, cat(u32(301<<12|1<<8|64), eth(0x0800, t4()))))

	// GRE and ERSPAN.
	add(ifEth, "GRE ipv4", eth(0x0800, ip4o(47, gre(0, 0x0800, nil, t4()))))
	add(ifEth, "GRE checksum+key+seq, ipv4", eth(0x0800, ip4o(47, gre(0xB000, 0x0800, cat(u32(0), u32(42), u32(7)), t4()))))
	add(ifEth, "GRE key, transparent ethernet bridging", eth(0x0800, ip4o(47, gre(0x2000, 0x6558, u32(5000), eth(0x0800, t4())))))
	add(ifEth, "GRE ipv6 payload over ipv6", eth(0x86DD, ip6x(47, gre(0, 0x86DD, nil, t6()), -1, v6o, v6p)))
	add(ifEth, "enhanced GRE (PPTP) with seq and ack, PPP ipv4", eth(0x0800, ip4o(47, gre(0x3081, 0x880B, cat(u16(0), u16(9), u32(3), u32(2)), cat([]byte{0xFF, 3}, u16(0x0021), t4())))))
	add(ifEth, "ERSPAN type I (GRE 0x88be, no sequence)", eth(0x0800, ip4o(47, gre(0, 0x88BE, nil, eth(0x0800, t4())))))
	add(ifEth, "ERSPAN type II", eth(0x0800, ip4o(47, gre(0x1000, 0x88BE, u32(1), cat(u32(1<<28|5), u32(1), eth(0x8100, cat(u16(7), u16(0x0800), t4())))))))
	add(ifEth, "ERSPAN type III with platform subheader", eth(0x0800, ip4o(47, gre(0x1000, 0x22EB, u32(1), cat(u32(2<<28|6), u32(99), u16(0), u16(0x0001), u32(3<<26), u32(0), eth(0x0800, t4()))))))

	// IP in IP.
	add(ifEth, "IPv4 in IPv4", eth(0x0800, ip4o(4, t4())))
	add(ifEth, "IPv6 in IPv4 (6in4)", eth(0x0800, ip4o(41, t6())))
	add(ifEth, "IPv4 in IPv6", eth(0x86DD, ip6x(4, t4(), -1, v6o, v6p)))
	add(ifEth, "IPv6 in IPv6", eth(0x86DD, ip6x(41, t6(), -1, v6o, v6p)))
	add(ifEth, "IPv4 in GRE in IPv6 in IPv4", eth(0x0800, ip4o(41, ip6x(47, gre(0, 0x0800, nil, t4()), -1, v6o, v6p))))

	// IPv6 extension headers and fragments.
	ext := cat([]byte{43, 0, 1, 4, 0, 0, 0, 0}, // hop-by-hop: PadN
		[]byte{60, 2, 0, 0, 0, 0, 0, 0}, v6o, // routing type 0, one address
		[]byte{6, 0, 1, 4, 0, 0, 0, 0}) // destination options, then TCP
	add(ifEth, "IPv6 hop-by-hop, routing, destination options", eth(0x86DD, ip6(0, cat(ext, tcpSeg(ack, nil, 5)))))
	add(ifEth, "IPv6 atomic fragment", eth(0x86DD, ip6(44, cat([]byte{6, 0}, u16(0), u32(77), tcpSeg(ack, nil, 5)))))
	add(ifEth, "IPv6 first fragment (more fragments)", eth(0x86DD, ip6(44, cat([]byte{6, 0}, u16(1), u32(78), tcpSeg(ack, nil, 5)))))
	add(ifEth, "IPv6 later fragment", eth(0x86DD, ip6(44, cat([]byte{6, 0}, u16(8<<3), u32(79), bytes.Repeat([]byte{'f'}, 16)))))
	add(ifEth, "IPv4 first fragment (MF)", eth(0x0800, ip4x(6, tcpSeg(ack, nil, 8), 0x2000, -1, nil)))
	add(ifEth, "IPv4 later fragment", eth(0x0800, ip4x(6, bytes.Repeat([]byte{'f'}, 16), 0x0004, -1, nil)))
	add(ifEth, "IPv6 with an AH header", eth(0x86DD, ip6(51, cat([]byte{6, 4, 0, 0}, u32(0x100), u32(1), make([]byte, 12), tcpSeg(ack, nil, 3)))))

	// ICMP errors quoting TCP.
	quoted4 := ip4(6, tcpSeg(syn, nil, 0)[:8])
	add(ifEth, "ICMP port unreachable quoting TCP", eth(0x0800, ip4o(1, cat([]byte{3, 3}, u16(0), u32(0), quoted4))))
	quoted6 := ip6(6, tcpSeg(syn, nil, 0)[:8])
	add(ifEth, "ICMPv6 unreachable quoting TCP", eth(0x86DD, ip6x(58, cat([]byte{1, 4}, u16(0), u32(0), quoted6), -1, v6o, v6p)))
	add(ifEth, "ICMP echo request", eth(0x0800, ip4o(1, cat([]byte{8, 0}, u16(0), u32(1), []byte("ping")))))

	// UDP tunnels.
	add(ifEth, "VXLAN", eth(0x0800, ip4o(17, udp(51000, 4789, cat(u32(0x08000000), u32(42<<8), eth(0x0800, t4()))))))
	add(ifEth, "Geneve with an option", eth(0x0800, ip4o(17, udp(51001, 6081, cat([]byte{1, 0}, u16(0x6558), u32(42<<8), u16(0x0103), []byte{0x80, 0}, eth(0x0800, t4()))))))
	gtpBody := cat(u16(0), []byte{0, 0x85}, []byte{1, 0x09, 0, 0}, t4()) // seq, N-PDU, next type; one extension
	add(ifEth, "GTP-U with an extension header", eth(0x0800, ip4o(17, udp(2152, 2152, cat([]byte{0x34, 0xFF}, u16(uint16(len(gtpBody))), u32(1), gtpBody)))))
	add(ifEth, "VXLAN-GPE carrying IPv6", eth(0x0800, ip4o(17, udp(51002, 4790, cat([]byte{0x0C, 0, 0, 2}, u32(42<<8), t6())))))
	l2tpPPP := cat([]byte{0xFF, 3}, u16(0x0021), t4())
	add(ifEth, "L2TPv2 data with length and sequence, PPP ipv4", eth(0x0800, ip4o(17, udp(1701, 1701, cat(u16(0x4802), u16(uint16(12+len(l2tpPPP))), u16(3), u16(5), u16(1), u16(0), l2tpPPP)))))
	add(ifEth, "L2TPv2 data with a zero length field", eth(0x0800, ip4o(17, udp(1701, 1701, cat(u16(0x4802), u16(0), u16(3), u16(5), u16(1), u16(0), l2tpPPP)))))
	add(ifEth, "L2TPv2 control message (not TCP)", eth(0x0800, ip4o(17, udp(1701, 1701, cat(u16(0xC802), u16(12), u16(3), u16(0), u16(0), u16(0))))))
	add(ifEth, "Teredo with origin indication", eth(0x0800, ip4o(17, udp(3544, 51003, cat(u16(0), u16(0xFFFF), []byte{0x3f, 0xfe, 0xff, 0xfe}, t6())))))
	add(ifEth, "DNS query (not TCP)", eth(0x0800, ip4o(17, udp(53000, 53, cat(u16(1), u16(0x0100), u16(1), u16(0), u16(0), u16(0), []byte{0}, u16(1), u16(1))))))
	add(ifEth, "ARP (not IP)", eth(0x0806, cat(u16(1), u16(0x0800), []byte{6, 4}, u16(1), make([]byte, 20))))

	// TCP header and length corner cases.
	full := eth(0x0800, ip4(6, tcpSeg(ack|psh, nil, 10)))
	for _, n := range []int{15, 16, 19} {
		f := make([]byte, 14+20+n)
		copy(f, full)
		ps = append(ps, pkt{iface: ifEth, data: f, wireLen: len(full), comment: fmt.Sprintf("TCP header cut at %d bytes by the snaplen", n)})
		full = eth(0x0800, ip4(6, tcpSeg(ack|psh, nil, 10)))
	}
	cutOpts := eth(0x0800, ip4(6, tcpSeg(syn, synOpts, 0)))
	ps = append(ps, pkt{iface: ifEth, data: cutOpts[:14+20+30], wireLen: len(cutOpts), comment: "TCP options cut by the snaplen"})
	bogus := tcpSeg(ack, nil, 10)
	bogus[12] = 4 << 4
	add(ifEth, "TCP data offset 4 (bogus)", eth(0x0800, ip4(6, bogus)))
	long := tcpSeg(ack, bytes.Repeat([]byte{1}, 20), 0)
	add(ifEth, "TCP header longer than the IP payload", eth(0x0800, ip4x(6, long, 0x4000, 40, nil)))
	add(ifEth, "IPv4 total length 0 (TSO)", eth(0x0800, ip4x(6, tcpSeg(ack|psh, nil, 100), 0x4000, 0, nil)))
	add(ifEth, "IPv4 total length beyond the frame", eth(0x0800, ip4x(6, tcpSeg(ack|psh, nil, 5), 0x4000, 1000, nil)))
	big := eth(0x0800, ip4(6, tcpSeg(ack|psh, nil, 1400)))
	ps = append(ps, pkt{iface: ifEth, data: big[:14+20+20+6], wireLen: len(big), comment: "payload cut by the snaplen"})
	add(ifEth, "IPv6 payload length 0", eth(0x86DD, ip6x(6, tcpSeg(ack, nil, 4), 0, v6a, v6b)))
	add(ifEth, "IPv4 header length 16 (bogus)", eth(0x0800, func() []byte { b := ip4(6, tcpSeg(ack, nil, 0)); b[0] = 0x44; return b }()))
	add(ifEth, "IPv4 total length shorter than its header", eth(0x0800, ip4x(6, tcpSeg(ack, nil, 0), 0x4000, 16, nil)))
	add(ifEth, "window scale 15 (clamped to 14)", eth(0x0800, ip4(6, tcpSeg(syn, []byte{3, 3, 15}, 0))))
	add(ifEth, "SACK blocks", eth(0x0800, ip4(6, tcpSeg(ack, cat([]byte{1, 1, 5, 18}, u32(100), u32(200), u32(300), u32(400)), 0))))
	add(ifEth, "timestamp option with a bad length", eth(0x0800, ip4(6, tcpSeg(ack, cat([]byte{8, 8}, u32(1), u16(0)), 0))))
	add(ifEth, "RST from a stateless stack (window 0, IP ID 0)", eth(0x0800, func() []byte {
		b := ip4(6, tcpSeg(rst, nil, 0))
		b[4], b[5] = 0, 0
		b[20+14], b[20+15] = 0, 0
		return b
	}()))
	add(ifEth, "ethernet truncated before the EtherType", make([]byte, 12))
	add(ifEth, "IPv4 header cut short", eth(0x0800, ip4(6, nil)[:12]))

	// Loopback families, both byte orders.
	add(ifNull, "NULL AF_INET little-endian", cat(le32(2), t4()))
	add(ifNull, "NULL AF_INET big-endian", cat(u32(2), t4()))
	add(ifNull, "NULL AF_INET6 24 little-endian", cat(le32(24), t6()))
	add(ifNull, "NULL AF_INET6 28 little-endian", cat(le32(28), t6()))
	add(ifNull, "NULL AF_INET6 30 big-endian", cat(u32(30), t6()))
	add(ifNull, "NULL AF_INET6 10 (Linux) little-endian", cat(le32(10), t6()))
	add(ifLoop, "LOOP AF_INET", cat(u32(2), t4()))
	add(ifLoop, "LOOP AF_INET6 24", cat(u32(24), t6()))
	add(ifLoop, "LOOP AF_INET little-endian", cat(le32(2), t4()))

	// Raw IP.
	add(ifRaw, "RAW ipv4", t4())
	add(ifRaw, "RAW ipv6", t6())
	add(ifRaw12, "RAW(12) ipv4", t4())
	add(ifRaw14, "RAW(14) ipv6", t6())
	add(ifIPv4, "IPV4", t4())
	add(ifIPv6, "IPV6", t6())

	// Linux cooked captures.
	sll := func(pkttype, proto uint16, p []byte) []byte {
		return cat(u16(pkttype), u16(1), u16(6), []byte{2, 0, 0, 0, 0, 1, 0, 0}, u16(proto), p)
	}
	add(ifSLL, "SLL ipv4 outgoing", sll(4, 0x0800, t4()))
	add(ifSLL, "SLL 802.2 LLC/SNAP", sll(0, 0x0004, llc(t4())))
	add(ifSLL, "SLL VLAN-tagged", sll(0, 0x8100, cat(u16(10), u16(0x0800), t4())))
	sll2 := func(proto uint16, p []byte) []byte {
		return cat(u16(proto), u16(0), u32(3), u16(1), []byte{0, 6}, []byte{2, 0, 0, 0, 0, 1, 0, 0}, p)
	}
	add(ifSLL2, "SLL2 ipv6", sll2(0x86DD, t6()))
	add(ifSLL2, "SLL2 ipv4", sll2(0x0800, t4()))

	// PPP framings.
	add(ifPPP, "PPP with address/control, ipv4", cat([]byte{0xFF, 3}, u16(0x0021), t4()))
	add(ifPPP, "PPP protocol-field compressed, ipv4", cat([]byte{0x21}, t4()))
	add(ifPPP, "PPP ipv6", cat(u16(0x0057), t6()))
	add(ifPPPHDLC, "PPP_HDLC ipv4", cat([]byte{0xFF, 3}, u16(0x0021), t4()))
	add(ifCHDLC, "Cisco HDLC ipv4", cat([]byte{0x0F, 0}, u16(0x0800), t4()))
	add(ifCHDLC, "Cisco HDLC ipv6", cat([]byte{0x0F, 0}, u16(0x86DD), t6()))

	// NFLOG.
	tlv := func(le bool, typ uint16, v []byte) []byte {
		n := uint16(4 + len(v))
		var h []byte
		if le {
			h = cat(le16(n), le16(typ))
		} else {
			h = cat(u16(n), u16(typ))
		}
		b := cat(h, v)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	add(ifNFLOG, "NFLOG little-endian TLVs, ipv4", cat([]byte{2, 0}, u16(5), tlv(true, 1, cat(u16(0x0800), []byte{3, 0})), tlv(true, 10, []byte("prefix\x00")), tlv(true, 9, t4())))
	add(ifNFLOG, "NFLOG big-endian TLVs, ipv6", cat([]byte{10, 0}, u16(5), tlv(false, 1, cat(u16(0x86DD), []byte{3, 0})), tlv(false, 9, t6())))
	part := ip4(6, tcpSeg(ack|psh, nil, 200))
	add(ifNFLOG, "NFLOG payload shorter than the IP packet (copy range)", cat([]byte{2, 0}, u16(5), tlv(true, 9, part[:60])))

	// FDDI.
	fddi := func(fc byte, p []byte) []byte { return cat([]byte{fc}, make([]byte, 12), p) }
	add(ifFDDI, "FDDI async LLC ipv4", fddi(0x50, llc(t4())))
	add(ifFDDI, "FDDI SMT frame (not LLC)", fddi(0x41, llc(t4())))
	return ps
}

func write(path string) error {
	w := &bytes.Buffer{}
	le := binary.LittleEndian
	block := func(typ uint32, body []byte) {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		n := uint32(12 + len(body))
		w.Write(le.AppendUint32(le.AppendUint32(nil, typ), n))
		w.Write(body)
		w.Write(le.AppendUint32(nil, n))
	}
	opt := func(b []byte, code uint16, v []byte) []byte {
		b = le.AppendUint16(b, code)
		b = le.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	shb := le.AppendUint32(nil, 0x1A2B3C4D)
	shb = le.AppendUint16(shb, 1)
	shb = le.AppendUint16(shb, 0)
	shb = le.AppendUint64(shb, ^uint64(0))
	block(0x0A0D0D0A, opt(shb, 0, nil))
	for _, i := range ifaces {
		b := le.AppendUint16(nil, i.link)
		b = le.AppendUint16(b, 0)
		b = le.AppendUint32(b, 262144)
		b = opt(b, 2, []byte(i.name))
		b = opt(b, 9, []byte{9})
		block(1, opt(b, 0, nil))
	}
	ts := uint64(1700000000) * 1e9
	for n, p := range packets() {
		wire := p.wireLen
		if wire == 0 {
			wire = len(p.data)
		}
		t := ts + uint64(n)*1e6
		b := le.AppendUint32(nil, uint32(p.iface))
		b = le.AppendUint32(b, uint32(t>>32))
		b = le.AppendUint32(b, uint32(t))
		b = le.AppendUint32(b, uint32(len(p.data)))
		b = le.AppendUint32(b, uint32(wire))
		b = append(b, p.data...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		b = opt(b, 1, []byte(p.comment))
		block(6, opt(b, 0, nil))
	}
	return os.WriteFile(path, w.Bytes(), 0o644)
}

func main() {
	out := flag.String("o", "testdata/encaps.pcapng", "output file")
	flag.Parse()
	if err := write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "encaps:", err)
		os.Exit(1)
	}
}
