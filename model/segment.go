package model

import (
	"net/netip"
	"strings"
)

// TCPFlags holds the TCP control bits of a segment, in wire order.
type TCPFlags uint8

// TCP control bits.
const (
	FlagFIN TCPFlags = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// Has reports whether every bit of f2 is set in f.
func (f TCPFlags) Has(f2 TCPFlags) bool { return f&f2 == f2 }

// String renders the flags tcpdump-style: "S", "S.", "F.", "R.", "P." ...
func (f TCPFlags) String() string {
	var b strings.Builder
	for _, x := range [...]struct {
		bit TCPFlags
		c   byte
	}{{FlagSYN, 'S'}, {FlagFIN, 'F'}, {FlagRST, 'R'}, {FlagPSH, 'P'}, {FlagURG, 'U'}, {FlagECE, 'E'}, {FlagCWR, 'W'}} {
		if f&x.bit != 0 {
			b.WriteByte(x.c)
		}
	}
	if f&FlagACK != 0 {
		b.WriteByte('.')
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// TCPOptions are the TCP options the analysis needs, decoded once.
type TCPOptions struct {
	// WScale is the window-scale shift from the WS option, or -1 when the
	// option is absent.
	WScale int8
	// MSS is the maximum segment size option, 0 when absent.
	MSS uint16
	// Timestamps reports a TS option; TSVal and TSEcr are its values.
	Timestamps   bool
	TSVal, TSEcr uint32
	// SACKPermitted and SACK report the SACK-permitted option and SACK
	// blocks.
	SACKPermitted bool
	SACK          bool
	// Len is the number of option bytes (TCP header length - 20).
	Len uint8
}

// Segment is one TCP segment as seen on the wire: the small, fixed-size value
// capture decodes each packet into. It holds no reference to packet buffers.
type Segment struct {
	// TS is the capture time in nanoseconds since the Unix epoch.
	TS int64
	// Frame is the 1-based number of the packet in its source (file order,
	// or arrival order for live capture).
	Frame uint64
	// Src and Dst are the innermost IP addresses carrying the TCP header,
	// with the TCP ports.
	Src, Dst netip.AddrPort
	// Seq and Ack are the raw 32-bit sequence and acknowledgement fields
	// (Ack is taken whether or not the ACK flag is set).
	Seq, Ack uint32
	// Window is the raw, unscaled 16-bit window field.
	Window uint16
	Flags  TCPFlags
	// PayloadLen is the TCP payload length derived from the IP length
	// (so Ethernet padding is not counted and snaplen cuts do not shrink
	// it).
	PayloadLen uint32
	// FrameLen is the original length of the frame on the wire.
	FrameLen uint32
	// TCPHdrLen is the TCP header length in bytes (data offset * 4).
	TCPHdrLen uint8
	// TTL is the IPv4 TTL or the IPv6 hop limit.
	TTL uint8
	// IPID is the IPv4 identification field (0 for IPv6).
	IPID uint16
	// IPv6 is set for segments carried in IPv6.
	IPv6 bool
	// DF is the IPv4 don't-fragment bit.
	DF   bool
	Opts TCPOptions
	// Iface is the index of the interface the packet was captured on
	// (pcapng interface ID, or the live source's interface number).
	Iface uint16
	// HeaderCut is set when the TCP header was cut short by the snapshot
	// length (or is bogus). With its fixed 20 bytes present (TCPHdrLen >=
	// 20) the segment is still analysed, as tshark does, but gets no
	// analysis flags; with less, only the packet and its SYN/FIN/RST bits
	// are counted.
	HeaderCut bool
}

// SeqLen is the sequence space the segment uses: payload plus one for SYN
// and one for FIN.
func (s *Segment) SeqLen() uint32 {
	n := s.PayloadLen
	if s.Flags&FlagSYN != 0 {
		n++
	}
	if s.Flags&FlagFIN != 0 {
		n++
	}
	return n
}
