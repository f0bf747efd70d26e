package procinfo

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/connscope/connscope/model"
)

// The INET_DIAG wire format, from linux/netlink.h, linux/sock_diag.h and
// linux/inet_diag.h. It is parsed here, without build tags, so the parser
// is tested (and fuzzed) on every platform; only the socket is Linux's.
const (
	nlmsgHdrLen      = 16
	nlmsgError       = 2
	nlmsgDone        = 3
	nlmFRequest      = 0x1
	nlmFDump         = 0x300 // NLM_F_ROOT | NLM_F_MATCH
	nlmFDumpIntr     = 0x10
	sockDiagByFamily = 20
	tcpDiagGetSock   = 18 // the original tcp_diag request, both families in one walk

	afInet  = 2
	afInet6 = 10

	ipprotoTCP = 6

	inetDiagReqLen = 56 // struct inet_diag_req_v2
	inetDiagReqV1  = 60 // struct inet_diag_req
	inetDiagMsgLen = 72 // struct inet_diag_msg
	inetDiagInfo   = 2  // INET_DIAG_INFO: struct tcp_info
	rtaHdrLen      = 4

	// diagStates asks for every state, NEW_SYN_RECV and BOUND_INACTIVE
	// included (bits 1..13): the library's 0xfff stops at CLOSING.
	diagStates = 1<<14 - 2
)

// diagRequest returns the netlink message asking for every TCP socket of
// one address family with TCP_INFO.
func diagRequest(family uint8, seq uint32) []byte {
	b := nlmsgHeader(sockDiagByFamily, seq, inetDiagReqLen)
	r := b[nlmsgHdrLen:]
	r[0] = family
	r[1] = ipprotoTCP
	r[2] = 1 << (inetDiagInfo - 1) // idiag_ext
	binary.NativeEndian.PutUint32(r[4:], diagStates)
	return b
}

// diagRequestBoth returns the original tcp_diag request (TCPDIAG_GETSOCK
// with struct inet_diag_req), which dumps IPv4 and IPv6 sockets in one
// walk of the kernel's hash tables. Per-family requests walk them twice,
// and a walk costs about as much for a namespace with no sockets as for
// one with all of them, since every namespace shares the tables: this
// halves the cost of each namespace dumped.
func diagRequestBoth(seq uint32) []byte {
	b := nlmsgHeader(tcpDiagGetSock, seq, inetDiagReqV1)
	r := b[nlmsgHdrLen:]
	r[0] = 0                       // AF_UNSPEC: both families
	r[3] = 1 << (inetDiagInfo - 1) // idiag_ext
	binary.NativeEndian.PutUint32(r[52:], diagStates)
	return b
}

func nlmsgHeader(typ uint16, seq uint32, payload int) []byte {
	b := make([]byte, nlmsgHdrLen+payload)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], typ)
	ne.PutUint16(b[6:], nlmFRequest|nlmFDump)
	ne.PutUint32(b[8:], seq)
	return b
}

// diagParser turns receive buffers of one dump into sockets.
type diagParser struct {
	netns uint64
	seq   uint32
	intr  bool // a message carried NLM_F_DUMP_INTR
}

// parse appends the sockets in buf (one or more netlink messages) to socks.
// done reports the end of the dump. A malformed message stops the parse
// with an error naming its offset; sockets before it are kept.
func (p *diagParser) parse(buf []byte, socks []model.Socket) (out []model.Socket, done bool, err error) {
	ne := binary.NativeEndian
	for off := 0; off < len(buf); {
		if len(buf)-off < nlmsgHdrLen {
			return socks, false, fmt.Errorf("netlink message at byte %d: %d bytes left, header needs %d", off, len(buf)-off, nlmsgHdrLen)
		}
		mlen := int(ne.Uint32(buf[off:]))
		typ := ne.Uint16(buf[off+4:])
		flags := ne.Uint16(buf[off+6:])
		if mlen < nlmsgHdrLen || mlen > len(buf)-off {
			return socks, false, fmt.Errorf("netlink message at byte %d: length %d out of bounds (%d bytes left)", off, mlen, len(buf)-off)
		}
		if seq := ne.Uint32(buf[off+8:]); seq != p.seq {
			// A reply to an older request (a dump abandoned after an
			// error): not ours, skip it.
			off += align4(mlen)
			continue
		}
		if flags&nlmFDumpIntr != 0 {
			p.intr = true
		}
		body := buf[off+nlmsgHdrLen : off+mlen]
		switch typ {
		case nlmsgDone:
			if len(body) >= 4 {
				if e := int32(ne.Uint32(body)); e < 0 {
					return socks, true, fmt.Errorf("socket dump ended with errno %d", -e)
				}
			}
			return socks, true, nil
		case nlmsgError:
			if len(body) < 4 {
				return socks, true, fmt.Errorf("netlink error message at byte %d too short", off)
			}
			if e := int32(ne.Uint32(body)); e != 0 {
				return socks, true, fmt.Errorf("socket dump refused: %w", syscall.Errno(-e))
			}
		case sockDiagByFamily, tcpDiagGetSock:
			s, err := p.socket(body)
			if err != nil {
				return socks, false, fmt.Errorf("socket message at byte %d: %w", off, err)
			}
			socks = append(socks, s)
		}
		off += align4(mlen)
	}
	return socks, false, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// socket decodes one struct inet_diag_msg and its attributes.
func (p *diagParser) socket(b []byte) (model.Socket, error) {
	var s model.Socket
	if len(b) < inetDiagMsgLen {
		return s, fmt.Errorf("inet_diag_msg of %d bytes, want %d", len(b), inetDiagMsgLen)
	}
	ne := binary.NativeEndian
	s.NetNS = p.netns
	s.RawState = b[1]
	s.State = model.StateFromLinux(b[1])
	s.Timer = model.SocketTimer(b[2])
	s.TimerRetrans = b[3]
	sport := binary.BigEndian.Uint16(b[4:])
	dport := binary.BigEndian.Uint16(b[6:])
	switch b[0] {
	case afInet:
		s.Family = model.FamilyIPv4
		s.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[8:12])), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[24:28])), dport)
	case afInet6:
		s.Family = model.FamilyIPv6
		s.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])).Unmap(), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[24:40])).Unmap(), dport)
	default:
		return s, fmt.Errorf("address family %d", b[0])
	}
	s.Cookie = uint64(ne.Uint32(b[44:])) | uint64(ne.Uint32(b[48:]))<<32
	s.TimerExpires = time.Duration(ne.Uint32(b[52:])) * time.Millisecond
	s.RecvQ = ne.Uint32(b[56:])
	s.SendQ = ne.Uint32(b[60:])
	s.UID = ne.Uint32(b[64:])
	s.Inode = uint64(ne.Uint32(b[68:]))
	for a := b[inetDiagMsgLen:]; len(a) >= rtaHdrLen; {
		alen := int(ne.Uint16(a))
		if alen < rtaHdrLen || alen > len(a) {
			return s, fmt.Errorf("attribute length %d out of bounds (%d bytes left)", alen, len(a))
		}
		if ne.Uint16(a[2:]) == inetDiagInfo {
			s.Info = parseTCPInfo(a[rtaHdrLen:alen])
			s.HasInfo = true
		}
		a = a[min(align4(alen), len(a)):]
	}
	return s, nil
}

// parseTCPInfo decodes struct tcp_info (linux/tcp.h). Older kernels send a
// shorter struct: fields past its end stay zero.
func parseTCPInfo(b []byte) model.TCPInfo {
	ne := binary.NativeEndian
	u8 := func(off int) uint8 {
		if off < len(b) {
			return b[off]
		}
		return 0
	}
	u32 := func(off int) uint32 {
		if off+4 <= len(b) {
			return ne.Uint32(b[off:])
		}
		return 0
	}
	u64 := func(off int) uint64 {
		if off+8 <= len(b) {
			return ne.Uint64(b[off:])
		}
		return 0
	}
	us := func(off int) time.Duration { return time.Duration(u32(off)) * time.Microsecond }
	ms := func(off int) time.Duration { return time.Duration(u32(off)) * time.Millisecond }
	return model.TCPInfo{
		Retransmits:   u8(2),
		Probes:        u8(3),
		Backoff:       u8(4),
		RTO:           us(8),
		SndMSS:        u32(16),
		Unacked:       u32(24),
		Lost:          u32(32),
		LastDataSent:  ms(44),
		LastDataRecv:  ms(52),
		LastAckRecv:   ms(56),
		RTT:           us(68),
		RTTVar:        us(72),
		SndSSThresh:   u32(76),
		Cwnd:          u32(80),
		TotalRetrans:  u32(100),
		BytesAcked:    u64(120),
		BytesReceived: u64(128),
		NotSentBytes:  u32(144),
		MinRTT:        us(148),
		BytesSent:     u64(200),
		BytesRetrans:  u64(208),
	}
}
