package procinfo

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
)

// diagMsg describes one inet_diag_msg to encode.
type diagMsg struct {
	family        uint8
	state, timer  uint8
	retrans       uint8
	local, remote netip.AddrPort
	cookie        uint64
	expires       uint32
	rq, wq        uint32
	uid, inode    uint32
	info          []byte // INET_DIAG_INFO payload; nil: no attribute
}

var ne = binary.NativeEndian

// nlmsg wraps a payload in a netlink header.
func nlmsg(typ, flags uint16, seq uint32, payload []byte) []byte {
	b := make([]byte, nlmsgHdrLen, nlmsgHdrLen+len(payload)+3)
	ne.PutUint32(b[0:], uint32(nlmsgHdrLen+len(payload)))
	ne.PutUint16(b[4:], typ)
	ne.PutUint16(b[6:], flags)
	ne.PutUint32(b[8:], seq)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (m diagMsg) encode() []byte {
	b := make([]byte, inetDiagMsgLen)
	b[0], b[1], b[2], b[3] = m.family, m.state, m.timer, m.retrans
	binary.BigEndian.PutUint16(b[4:], m.local.Port())
	binary.BigEndian.PutUint16(b[6:], m.remote.Port())
	put := func(off int, a netip.Addr) {
		if m.family == afInet {
			v := a.As4()
			copy(b[off:], v[:])
		} else {
			v := a.As16()
			copy(b[off:], v[:])
		}
	}
	put(8, m.local.Addr())
	put(24, m.remote.Addr())
	ne.PutUint32(b[44:], uint32(m.cookie))
	ne.PutUint32(b[48:], uint32(m.cookie>>32))
	ne.PutUint32(b[52:], m.expires)
	ne.PutUint32(b[56:], m.rq)
	ne.PutUint32(b[60:], m.wq)
	ne.PutUint32(b[64:], m.uid)
	ne.PutUint32(b[68:], m.inode)
	// An attribute we ignore first, to check attributes are walked.
	b = append(b, 5, 0, 8, 0, 1, 0, 0, 0) // INET_DIAG_TOS (type 5), 1 byte + padding
	if m.info != nil {
		a := make([]byte, rtaHdrLen)
		ne.PutUint16(a[0:], uint16(rtaHdrLen+len(m.info)))
		ne.PutUint16(a[2:], inetDiagInfo)
		b = append(b, a...)
		b = append(b, m.info...)
	}
	return b
}

// tcpInfoBytes builds a struct tcp_info of n bytes with distinct values.
func tcpInfoBytes(n int) []byte {
	b := make([]byte, 232)
	b[2], b[3], b[4] = 1, 2, 3 // retransmits, probes, backoff
	for off, v := range map[int]uint32{
		8: 204000, 16: 1448, 24: 7, 32: 2, 44: 10, 52: 20, 56: 30,
		68: 1500, 72: 750, 76: 99, 80: 10, 100: 5, 144: 64, 148: 900,
	} {
		ne.PutUint32(b[off:], v)
	}
	for off, v := range map[int]uint64{120: 1 << 40, 128: 12345, 200: 1<<40 + 100, 208: 100} {
		ne.PutUint64(b[off:], v)
	}
	return b[:n]
}

func TestDiagParser_Sockets(t *testing.T) {
	ap := netip.MustParseAddrPort
	full := model.TCPInfo{
		Retransmits: 1, Probes: 2, Backoff: 3, RTO: 204 * time.Millisecond, SndMSS: 1448, Unacked: 7, Lost: 2,
		LastDataSent: 10 * time.Millisecond, LastDataRecv: 20 * time.Millisecond, LastAckRecv: 30 * time.Millisecond,
		RTT: 1500 * time.Microsecond, RTTVar: 750 * time.Microsecond, SndSSThresh: 99, Cwnd: 10, TotalRetrans: 5,
		BytesAcked: 1 << 40, BytesReceived: 12345, NotSentBytes: 64, MinRTT: 900 * time.Microsecond,
		BytesSent: 1<<40 + 100, BytesRetrans: 100,
	}
	// A kernel older than 4.x sends a shorter struct: later fields stay 0.
	short := model.TCPInfo{
		Retransmits: 1, Probes: 2, Backoff: 3, RTO: 204 * time.Millisecond, SndMSS: 1448, Unacked: 7, Lost: 2,
		LastDataSent: 10 * time.Millisecond, LastDataRecv: 20 * time.Millisecond, LastAckRecv: 30 * time.Millisecond,
		RTT: 1500 * time.Microsecond, RTTVar: 750 * time.Microsecond, SndSSThresh: 99, Cwnd: 10, TotalRetrans: 5,
	}
	tests := []struct {
		name string
		in   diagMsg
		want model.Socket
	}{
		{
			name: "ipv4 established",
			in: diagMsg{family: afInet, state: 1, timer: 2, local: ap("10.0.0.1:8080"), remote: ap("10.0.0.2:51000"),
				cookie: 0x1122334455667788, expires: 7200000, rq: 0, wq: 10, uid: 33, inode: 987654, info: tcpInfoBytes(232)},
			want: model.Socket{NetNS: 77, Family: model.FamilyIPv4, Local: ap("10.0.0.1:8080"), Remote: ap("10.0.0.2:51000"),
				State: model.StateEstablished, RawState: 1, Inode: 987654, Cookie: 0x1122334455667788, UID: 33, SendQ: 10,
				Timer: model.TimerKeepalive, TimerExpires: 7200 * time.Second, Info: full, HasInfo: true},
		},
		{
			name: "ipv6 dual-stack peer is unmapped",
			in: diagMsg{family: afInet6, state: 8, local: ap("[::ffff:127.0.0.1]:80"), remote: ap("[::ffff:127.0.0.1]:40000"),
				inode: 5, info: tcpInfoBytes(104)},
			want: model.Socket{NetNS: 77, Family: model.FamilyIPv6, Local: ap("127.0.0.1:80"), Remote: ap("127.0.0.1:40000"),
				State: model.StateCloseWait, RawState: 8, Inode: 5, Info: short, HasInfo: true},
		},
		{
			name: "ipv6 listener",
			in:   diagMsg{family: afInet6, state: 10, local: ap("[::]:443"), remote: ap("[::]:0"), rq: 3, wq: 511, inode: 6, info: tcpInfoBytes(232)},
			want: model.Socket{NetNS: 77, Family: model.FamilyIPv6, Local: ap("[::]:443"), Remote: ap("[::]:0"),
				State: model.StateListen, RawState: 10, Inode: 6, RecvQ: 3, SendQ: 511, Info: full, HasInfo: true},
		},
		{
			name: "time-wait has no info and no inode",
			in:   diagMsg{family: afInet, state: 6, timer: 3, retrans: 0, expires: 59000, local: ap("10.0.0.1:40000"), remote: ap("10.0.0.2:80")},
			want: model.Socket{NetNS: 77, Family: model.FamilyIPv4, Local: ap("10.0.0.1:40000"), Remote: ap("10.0.0.2:80"),
				State: model.StateTimeWait, RawState: 6, Timer: model.TimerTimeWait, TimerExpires: 59 * time.Second},
		},
		{
			name: "request socket",
			in:   diagMsg{family: afInet, state: 12, timer: 1, retrans: 2, local: ap("10.0.0.1:80"), remote: ap("10.0.0.2:40000")},
			want: model.Socket{NetNS: 77, Family: model.FamilyIPv4, Local: ap("10.0.0.1:80"), Remote: ap("10.0.0.2:40000"),
				State: model.StateSynReceived, RawState: 12, Timer: model.TimerRetransmit, TimerRetrans: 2},
		},
	}
	for _, tt := range tests {
		p := diagParser{netns: 77, seq: 9}
		buf := append(nlmsg(sockDiagByFamily, 2, 9, tt.in.encode()), nlmsg(nlmsgDone, 2, 9, []byte{0, 0, 0, 0})...)
		got, done, err := p.parse(buf, nil)
		if err != nil || !done || len(got) != 1 {
			t.Errorf("%s: got %d sockets, done %v, err %v; want 1, true, nil", tt.name, len(got), done, err)
			continue
		}
		if !reflect.DeepEqual(got[0], tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got[0], tt.want)
		}
	}
}

func TestDiagParser_Framing(t *testing.T) {
	ap := netip.MustParseAddrPort
	sock := diagMsg{family: afInet, state: 1, local: ap("1.2.3.4:1"), remote: ap("5.6.7.8:2"), inode: 1}.encode()
	errMsg := make([]byte, 4+nlmsgHdrLen)
	ne.PutUint32(errMsg, uint32(0xffffffff)) // -EPERM
	doneErr := make([]byte, 4)
	ne.PutUint32(doneErr, uint32(0xfffffff4)) // -ENOMEM
	tests := []struct {
		name      string
		buf       []byte
		wantSocks int
		wantDone  bool
		wantIntr  bool
		wantErr   string
	}{
		{name: "tcp_diag reply type", buf: nlmsg(tcpDiagGetSock, 2, 9, sock), wantSocks: 1},
		{name: "two in one buffer", buf: append(nlmsg(sockDiagByFamily, 2, 9, sock), nlmsg(sockDiagByFamily, 2, 9, sock)...), wantSocks: 2},
		{name: "other sequence skipped", buf: append(nlmsg(sockDiagByFamily, 2, 8, sock), nlmsg(sockDiagByFamily, 2, 9, sock)...), wantSocks: 1},
		{name: "interrupted dump", buf: nlmsg(sockDiagByFamily, 2|nlmFDumpIntr, 9, sock), wantSocks: 1, wantIntr: true},
		{name: "done without payload", buf: nlmsg(nlmsgDone, 2, 9, nil), wantDone: true},
		{name: "done with errno", buf: nlmsg(nlmsgDone, 2, 9, doneErr), wantDone: true, wantErr: "errno 12"},
		{name: "error message", buf: nlmsg(nlmsgError, 0, 9, errMsg), wantDone: true, wantErr: "refused"},
		{name: "ack is not an error", buf: nlmsg(nlmsgError, 0, 9, make([]byte, 4+nlmsgHdrLen)), wantDone: false},
		{name: "truncated header", buf: []byte{1, 2, 3}, wantErr: "header needs 16"},
		{name: "length past the end", buf: nlmsg(sockDiagByFamily, 2, 9, sock)[:40], wantErr: "out of bounds"},
		{name: "length under header", buf: func() []byte { b := nlmsg(sockDiagByFamily, 2, 9, sock); ne.PutUint32(b, 4); return b }(), wantErr: "out of bounds"},
		{name: "short body", buf: nlmsg(sockDiagByFamily, 2, 9, sock[:30]), wantErr: "inet_diag_msg of 30 bytes"},
		{name: "bad family", buf: nlmsg(sockDiagByFamily, 2, 9, append([]byte{99}, sock[1:]...)), wantErr: "address family 99"},
		{name: "bad attribute length", buf: nlmsg(sockDiagByFamily, 2, 9, append(sock[:inetDiagMsgLen:inetDiagMsgLen], 200, 0, 2, 0)), wantErr: "attribute length 200"},
	}
	for _, tt := range tests {
		p := diagParser{netns: 1, seq: 9}
		got, done, err := p.parse(tt.buf, nil)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: got error %v, want one containing %q", tt.name, err, tt.wantErr)
			}
		} else if err != nil {
			t.Errorf("%s: got error %v", tt.name, err)
		}
		if len(got) != tt.wantSocks || done != tt.wantDone || p.intr != tt.wantIntr {
			t.Errorf("%s: got %d sockets, done %v, intr %v; want %d, %v, %v", tt.name, len(got), done, p.intr, tt.wantSocks, tt.wantDone, tt.wantIntr)
		}
	}
}

func TestDiagRequest(t *testing.T) {
	b := diagRequest(afInet6, 42)
	if len(b) != 72 {
		t.Fatalf("length: got %d, want 72", len(b))
	}
	if got := ne.Uint32(b[0:]); got != 72 {
		t.Errorf("nlmsg_len: got %d, want 72", got)
	}
	if got := ne.Uint16(b[4:]); got != sockDiagByFamily {
		t.Errorf("type: got %d, want %d", got, sockDiagByFamily)
	}
	if got := ne.Uint16(b[6:]); got != nlmFRequest|nlmFDump {
		t.Errorf("flags: got %#x, want %#x", got, nlmFRequest|nlmFDump)
	}
	if got := ne.Uint32(b[8:]); got != 42 {
		t.Errorf("seq: got %d, want 42", got)
	}
	if b[16] != afInet6 || b[17] != ipprotoTCP || b[18] != 1<<(inetDiagInfo-1) {
		t.Errorf("family/protocol/ext: got %d/%d/%#x", b[16], b[17], b[18])
	}
	// Every state 1..13: NEW_SYN_RECV (12) and BOUND_INACTIVE (13) too.
	if got := ne.Uint32(b[20:]); got != 0x3ffe {
		t.Errorf("states: got %#x, want 0x3ffe", got)
	}
}

func TestDiagRequestBoth(t *testing.T) {
	b := diagRequestBoth(7)
	if len(b) != 76 || ne.Uint32(b[0:]) != 76 {
		t.Fatalf("length: got %d (nlmsg_len %d), want 76", len(b), ne.Uint32(b[0:]))
	}
	if got := ne.Uint16(b[4:]); got != tcpDiagGetSock {
		t.Errorf("type: got %d, want %d (TCPDIAG_GETSOCK)", got, tcpDiagGetSock)
	}
	if ne.Uint16(b[6:]) != nlmFRequest|nlmFDump || ne.Uint32(b[8:]) != 7 {
		t.Errorf("flags/seq: got %#x/%d", ne.Uint16(b[6:]), ne.Uint32(b[8:]))
	}
	// struct inet_diag_req: family (AF_UNSPEC: both), ext at 3, states at 52.
	if b[16] != 0 || b[19] != 1<<(inetDiagInfo-1) || ne.Uint32(b[16+52:]) != 0x3ffe {
		t.Errorf("family/ext/states: got %d/%#x/%#x", b[16], b[19], ne.Uint32(b[16+52:]))
	}
}

// FuzzDiagParse: no input panics the parser, and what it returns is a
// prefix of the buffer's sockets.
func FuzzDiagParse(f *testing.F) {
	ap := netip.MustParseAddrPort
	f.Add(nlmsg(sockDiagByFamily, 2, 9, diagMsg{family: afInet, state: 1, local: ap("1.2.3.4:1"), remote: ap("5.6.7.8:2"), info: tcpInfoBytes(232)}.encode()))
	f.Add(nlmsg(nlmsgDone, 2, 9, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := diagParser{seq: 9}
		socks, _, _ := p.parse(b, nil)
		if len(socks) > len(b)/(nlmsgHdrLen+inetDiagMsgLen) {
			t.Errorf("got %d sockets from %d bytes", len(socks), len(b))
		}
	})
}
