package filter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

// ethTCP builds an Ethernet/IPv4/TCP frame (20-byte IP and TCP headers)
// with the given addresses, ports and flags.
func ethTCP(src, dst [4]byte, sport, dport uint16, flags byte) []byte {
	pkt := make([]byte, 14+20+20)
	binary.BigEndian.PutUint16(pkt[12:], etherTypeIPv4)
	ip := pkt[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], 40)
	ip[8] = 64
	ip[9] = ipprotoTCP
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	tcp[12] = 5 << 4
	tcp[13] = flags
	return pkt
}

func TestCompile_EmptyExpressionAcceptsAll(t *testing.T) {
	for _, expr := range []string{"", "   ", "\t\n"} {
		p, err := Compile(expr, LinkTypeEthernet, 96)
		if err != nil {
			t.Fatalf("Compile(%q): %v", expr, err)
		}
		want := []bpf.Instruction{bpf.RetConstant{Val: 96}}
		if got := p.Instructions(); !reflect.DeepEqual(got, want) {
			t.Errorf("Compile(%q) = %v, want %v", expr, got, want)
		}
		if !p.Match(nil) || !p.Match([]byte{1, 2, 3}) {
			t.Errorf("Compile(%q).Match = false, want true for any packet", expr)
		}
	}
}

func TestCompile_SnaplenIsTheAcceptValue(t *testing.T) {
	p, err := Compile("tcp", LinkTypeEthernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	raw := p.Raw()
	pkt := ethTCP([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 1000, 80, 0x02)
	if got := run(raw, pkt, uint32(len(pkt))); got != DefaultSnaplen {
		t.Errorf("accepting run returned %d, want DefaultSnaplen %d", got, DefaultSnaplen)
	}
	p, err = Compile("tcp", LinkTypeEthernet, 128)
	if err != nil {
		t.Fatal(err)
	}
	if got := run(p.Raw(), pkt, uint32(len(pkt))); got != 128 {
		t.Errorf("accepting run returned %d, want snaplen 128", got)
	}
}

// TestCompile_Errors checks the message and the byte offset of the word
// each bad expression is blamed on.
func TestCompile_Errors(t *testing.T) {
	tests := []struct {
		expr    string
		offset  int
		msg     string
		unsupp  bool
		linkTyp uint16
	}{
		{expr: "tcp prot 80", offset: 4, msg: `unknown word "prot"`},
		{expr: "port 80 and", offset: 11, msg: "unexpected end of expression"},
		{expr: "(tcp", offset: 4, msg: `expected ")"`},
		{expr: "tcp)", offset: 3, msg: `unexpected ")"`},
		{expr: "ip and and tcp", offset: 7, msg: `unexpected "and"`},
		{expr: "port 70000", offset: 5, msg: "illegal port number 70000 > 65535"},
		{expr: "host 1.2.3.256", offset: 5, msg: "invalid IPv4 address '1.2.3.256'"},
		{expr: "net 10.0.0.1/8", offset: 4, msg: `non-network bits set in "10.0.0.1/8"`},
		{expr: "net 1.2.3.0/33", offset: 12, msg: "mask length must be <= 32"},
		{expr: "tcp[0:3] = 1", offset: 6, msg: "data size must be 1, 2, or 4"},
		{expr: "tcp[0] / 0 = 1", offset: 9, msg: "division by zero"},
		{expr: "len / ip[0] = 1", offset: 6, msg: "division by zero"},
		{expr: "len << 32 = 1", offset: 7, msg: "shift by more than 31 bits"},
		{expr: "08 = 1", offset: 0, msg: "number 08 contains non-octal digit"},
		{expr: "tcp port 80 $", offset: 12, msg: "illegal character '$'"},
		{expr: "vlan 5000", offset: 5, msg: "VLAN tag 5000 greater than maximum 4095"},
		{expr: "tcp src 80", offset: 8, msg: "'tcp' modifier applied to host"},
		{expr: "ip6 host 1.2.3.4", offset: 9, msg: "'ip6' modifier applied to ip host"},
		{expr: "port 80 or 1.2.3.4", offset: 11, msg: "'port' modifier applied to IP address"},
		{expr: "1.2.3.4", offset: 0, msg: `needs a qualifier`},
		{expr: "udp port http", offset: 9, msg: "port 'http' is tcp"},
		{expr: "TCP", offset: 0, msg: `unknown word "TCP"`},
		{expr: "vlan and tcp", offset: 0, msg: "vlan is not supported on Linux cooked capture v1", linkTyp: LinkTypeLinuxSLL},
		{expr: "ether host 00:11:22:33:44:55", offset: 11, msg: "Ethernet addresses need an Ethernet capture", linkTyp: LinkTypeRaw},
		{expr: "gateway router", offset: 0, msg: `"gateway" is not supported`, unsupp: true},
		{expr: "tcp and mpls", offset: 8, msg: `"mpls" is not supported`, unsupp: true},
		{expr: "pppoes 3", offset: 0, msg: `"pppoes" is not supported`, unsupp: true},
		{expr: "geneve", offset: 0, msg: `"geneve" is not supported`, unsupp: true},
		{expr: "protochain 6", offset: 0, msg: `"protochain" is not supported`, unsupp: true},
		{expr: "port 80 and host example.com", offset: 17, msg: `host name "example.com" needs a DNS lookup`, unsupp: true},
		{expr: "ip broadcast", offset: 0, msg: "needs the interface netmask", unsupp: true},
	}
	for _, tt := range tests {
		lt := tt.linkTyp
		if lt == 0 {
			lt = LinkTypeEthernet
		}
		_, err := Compile(tt.expr, lt, 0)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q): got error %v, want a *SyntaxError", tt.expr, err)
			continue
		}
		if se.Offset != tt.offset {
			t.Errorf("Compile(%q): got offset %d, want %d (%v)", tt.expr, se.Offset, tt.offset, err)
		}
		if !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("Compile(%q): got message %q, want it to contain %q", tt.expr, se.Msg, tt.msg)
		}
		if got := errors.Is(err, ErrUnsupported); got != tt.unsupp {
			t.Errorf("Compile(%q): got errors.Is(err, ErrUnsupported) = %v, want %v", tt.expr, got, tt.unsupp)
		}
		if se.Expr != tt.expr {
			t.Errorf("Compile(%q): got Expr %q, want the expression", tt.expr, se.Expr)
		}
	}
}

func TestSyntaxError_MessageAndCaret(t *testing.T) {
	_, err := Compile("tcp prot 80", LinkTypeEthernet, 0)
	want := `capture filter: unknown word "prot" at column 5: tcp prot 80`
	if err == nil || err.Error() != want {
		t.Fatalf("got error %v, want %s", err, want)
	}
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("got %T, want *SyntaxError", err)
	}
	if got, want := se.Caret(), "tcp prot 80\n    ^"; got != want {
		t.Errorf("got caret\n%s\nwant\n%s", got, want)
	}
	// A caret counts runes, not bytes, before the offending word.
	_, err = Compile("host é", LinkTypeEthernet, 0)
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a *SyntaxError", err)
	}
	if got, want := se.Caret(), "host é\n     ^"; got != want {
		t.Errorf("got caret\n%s\nwant\n%s", got, want)
	}
}

// TestSyntaxError_ControlBytes_AreSpelledOut feeds expressions carrying
// escape sequences, in the text around a word and inside a word taken
// literally with a backslash: neither the message nor the caret may hold
// a byte a terminal acts on, and the caret still points at the word.
func TestSyntaxError_ControlBytes_AreSpelledOut(t *testing.T) {
	for _, tc := range []struct {
		expr, msg, caret string
	}{
		{
			expr:  "tcp\tport\x1b[2J 80",
			msg:   `capture filter: illegal character '\x1b' at column 9: tcp\tport\x1b[2J 80`,
			caret: "tcp\\tport\\x1b[2J 80\n         ^",
		},
		{
			expr:  "ether proto \\ip\x1b]0;t\x07",
			msg:   `capture filter: unknown ether proto 'ip\x1b]0;t\a' at column 13: ether proto \ip\x1b]0;t\a`,
			caret: "ether proto \\ip\\x1b]0;t\\a\n            ^",
		},
		{
			expr:  "host \u202e1.2.3.4",
			msg:   `capture filter: illegal character '\u202e' at column 6: host \u202e1.2.3.4`,
			caret: "host \\u202e1.2.3.4\n     ^",
		},
	} {
		_, err := Compile(tc.expr, LinkTypeEthernet, 0)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("%q: got %v, want a *SyntaxError", tc.expr, err)
		}
		if got := err.Error(); got != tc.msg {
			t.Errorf("%q: got  %s\nwant %s", tc.expr, got, tc.msg)
		}
		if got := se.Caret(); got != tc.caret {
			t.Errorf("%q: got caret\n%s\nwant\n%s", tc.expr, got, tc.caret)
		}
		for _, r := range err.Error() + se.Caret() {
			if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) {
				t.Errorf("%q: output holds %U", tc.expr, r)
			}
		}
	}
}

func TestCompile_UnsupportedLinkType(t *testing.T) {
	for _, lt := range []uint16{10, 105, 127, 239, 65535} {
		_, err := Compile("tcp", lt, 0)
		if !errors.Is(err, ErrLinkType) {
			t.Errorf("Compile(tcp, link type %d): got %v, want ErrLinkType", lt, err)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprint(lt)) {
			t.Errorf("Compile(tcp, link type %d): error %q does not name the link type", lt, err)
		}
		if p, err := Compile("", lt, 0); err != nil || !p.Match([]byte{1}) {
			t.Errorf("Compile(\"\", link type %d): got %v, want a program accepting everything", lt, err)
		}
	}
}

// TestCompile_SameProgramAs checks spellings that libpcap treats as the
// same filter.
func TestCompile_SameProgramAs(t *testing.T) {
	tests := []struct{ a, b string }{
		{"port http", "tcp port 80"},
		{"port domain", "port 53"},
		{"udp port domain", "udp port 53"},
		{"ip proto tcp", "ip proto 6"},
		{`proto \udp`, "proto 17"},
		{"ether proto \\arp", "arp"},
		{"tcp && !udp || icmp", "tcp and not udp or icmp"},
		{"port 80 or 443", "port 80 or port 443"},
		{"host 10.0.0.1 or 10.0.0.2", "host 10.0.0.1 or host 10.0.0.2"},
		{"tcp port (80 or 443)", "tcp port 80 or tcp port 443"},
		{"not port 22 and 23", "not port 22 and port 23"},
		{"net 10", "net 10.0.0.0/8"},
		{"net 172.16", "net 172.16.0.0/16"},
		{"net 192.168.0.0 mask 255.255.0.0", "net 192.168.0.0/16"},
		{"src or dst host 10.0.0.1", "host 10.0.0.1"},
		{"tcp[tcpflags] & tcp-syn != 0", "tcp[13] & 2 != 0"},
		{"icmp[icmptype] == icmp-echo", "icmp[0] = 8"},
		{"length > 0x10", "len > 16"},
		{"len > 010", "len > 8"},
		{"len >= 100", "greater 100"},
		{"len <= 100", "less 100"},
		{"portrange 80", "portrange 80-80"},
		{"portrange 90-80", "portrange 80-90"},
		{"host ::1", "ip6 host 0:0:0:0:0:0:0:1"},
		{"ether host 0:1:2:3:4:5", "ether host 00-01-02-03-04-05"},
		{"ether host 000a.0b0c.0d0e", "ether host 00:0a:0b:0c:0d:0e"},
	}
	for _, tt := range tests {
		pa, err := Compile(tt.a, LinkTypeEthernet, 0)
		if err != nil {
			t.Errorf("Compile(%q): %v", tt.a, err)
			continue
		}
		pb, err := Compile(tt.b, LinkTypeEthernet, 0)
		if err != nil {
			t.Errorf("Compile(%q): %v", tt.b, err)
			continue
		}
		if pa.String() != pb.String() {
			t.Errorf("Compile(%q) differs from Compile(%q):\n%s\nvs\n%s", tt.a, tt.b, pa, pb)
		}
	}
}

// TestCompile_Precedence pins the libpcap rules that surprise people: and
// and or share one precedence (left to right), '%' and '^' take the whole
// right side, and the rest of the arithmetic is conventional.
func TestCompile_Precedence(t *testing.T) {
	tests := []struct {
		expr string
		want bool // the verdict on any packet
	}{
		{"1 + 3 % 2 = 2", true},  // 1 + (3 % 2)
		{"3 % 2 + 1 = 2", false}, // 3 % (2 + 1) = 0
		{"2 * 3 + 1 = 7", true},
		{"1 + 2 * 3 = 7", true},
		{"1 | 2 & 3 = 3", true},             // 1 | (2 & 3)
		{"8 >> 1 + 1 = 2", true},            // 8 >> (1 + 1)
		{"6 ^ 3 & 1 = 7", true},             // 6 ^ (3 & 1)
		{"-1 = 0xffffffff", true},           // 32-bit wrap-around
		{"1 = 1 or 1 = 2 and 1 = 2", false}, // (1=1 or 1=2) and 1=2
		{"1 = 2 and 1 = 2 or 1 = 1", true},
		{"not 1 = 2 and 1 = 1", true},
	}
	pkt := ethTCP([4]byte{1, 1, 1, 1}, [4]byte{2, 2, 2, 2}, 1, 2, 0)
	for _, tt := range tests {
		p, err := Compile(tt.expr, LinkTypeEthernet, 0)
		if err != nil {
			t.Errorf("Compile(%q): %v", tt.expr, err)
			continue
		}
		if got := p.Match(pkt); got != tt.want {
			t.Errorf("Compile(%q).Match = %v, want %v\n%s", tt.expr, got, tt.want, p)
		}
	}
}

func TestProgram_String_LooksLikeTcpdump(t *testing.T) {
	p, err := Compile("tcp", LinkTypeEthernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	// tcpdump -y EN10MB -d tcp, libpcap 1.10.3.
	want := `(000) ldh      [12]
(001) jeq      #0x800           jt 2	jf 4
(002) ldb      [23]
(003) jeq      #0x6             jt 10	jf 11
(004) jeq      #0x86dd          jt 5	jf 11
(005) ldb      [20]
(006) jeq      #0x6             jt 10	jf 7
(007) jeq      #0x2c            jt 8	jf 11
(008) ldb      [54]
(009) jeq      #0x6             jt 10	jf 11
(010) ret      #262144
(011) ret      #0
`
	if got := p.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestDropOutgoing_PrefixesPacketTypeTest(t *testing.T) {
	p, err := Compile("tcp port 80", LinkTypeEthernet, 0, DropOutgoing())
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Compile("tcp port 80", LinkTypeEthernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	ins := p.Instructions()
	wantPrefix := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipTrue: 0, SkipFalse: 1},
		bpf.RetConstant{Val: 0},
	}
	if !reflect.DeepEqual(ins[:3], wantPrefix) {
		t.Errorf("got prefix %v, want %v", ins[:3], wantPrefix)
	}
	if !reflect.DeepEqual(ins[3:], plain.Instructions()) {
		t.Errorf("the program after the prefix differs from the plain program")
	}
	if got, want := len(p.Raw()), len(plain.Raw())+3; got != want {
		t.Errorf("got %d raw instructions, want %d", got, want)
	}
	// Files have no packet type: Match runs the filter alone.
	pkt := ethTCP([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 40000, 80, 0x02)
	if !p.Match(pkt) {
		t.Errorf("Match with the loopback prefix = false, want true")
	}
	if got := run(p.Raw(), pkt, uint32(len(pkt))); got == 0 {
		t.Errorf("the raw program rejected a PACKET_HOST packet")
	}
	if got := PrependLoopbackOutgoingDrop(nil); len(got) != 3 {
		t.Errorf("PrependLoopbackOutgoingDrop(nil) has %d instructions, want 3", len(got))
	}
}

func TestNullByteOrder_ChoosesTheFamilyEncoding(t *testing.T) {
	tests := []struct {
		order binary.ByteOrder
		want  uint32
	}{
		{binary.LittleEndian, 0x02000000},
		{binary.BigEndian, 0x00000002},
	}
	for _, tt := range tests {
		p, err := Compile("ip", LinkTypeNull, 0, NullByteOrder(tt.order))
		if err != nil {
			t.Fatal(err)
		}
		ins := p.Instructions()
		j, ok := ins[1].(bpf.JumpIf)
		if !ok || j.Val != tt.want {
			t.Errorf("%v: got %v, want jeq #%#x after ld [0]", tt.order, ins[1], tt.want)
		}
		pkt := make([]byte, 24)
		tt.order.PutUint32(pkt, afInet)
		pkt[4] = 0x45
		if !p.Match(pkt) {
			t.Errorf("%v: Match = false for an AF_INET frame written in that order", tt.order)
		}
	}
	p, err := Compile("ip", LinkTypeLoop, 0)
	if err != nil {
		t.Fatal(err)
	}
	if j := p.Instructions()[1].(bpf.JumpIf); j.Val != afInet {
		t.Errorf("OpenBSD loopback: got jeq #%#x, want #%#x (network order)", j.Val, afInet)
	}
}

func TestLinkTypes_FindTheNetworkHeader(t *testing.T) {
	ipTCP := ethTCP([4]byte{192, 0, 2, 1}, [4]byte{192, 0, 2, 2}, 1234, 443, 0x12)[14:]
	frame := func(hdr []byte) []byte { return append(append([]byte{}, hdr...), ipTCP...) }
	sll := make([]byte, 16)
	binary.BigEndian.PutUint16(sll[14:], etherTypeIPv4)
	sll2 := make([]byte, 20)
	binary.BigEndian.PutUint16(sll2[0:], etherTypeIPv4)
	null := []byte{2, 0, 0, 0}
	tests := []struct {
		lt   uint16
		pkt  []byte
		opts []Option
	}{
		{LinkTypeLinuxSLL, frame(sll), nil},
		{LinkTypeLinuxSLL2, frame(sll2), nil},
		{LinkTypeRaw, frame(nil), nil},
		{12, frame(nil), nil},
		{14, frame(nil), nil},
		{LinkTypeIPv4, frame(nil), nil},
		{LinkTypeNull, frame(null), []Option{NullByteOrder(binary.LittleEndian)}},
		{LinkTypeLoop, frame([]byte{0, 0, 0, 2}), nil},
	}
	for _, tt := range tests {
		for expr, want := range map[string]bool{
			"tcp port 443 and host 192.0.2.1": true,
			"tcp[13] = 0x12":                  true,
			"ip6 or udp":                      false,
			"src host 192.0.2.2":              false,
		} {
			p, err := Compile(expr, tt.lt, 0, tt.opts...)
			if err != nil {
				t.Errorf("link type %d, %q: %v", tt.lt, expr, err)
				continue
			}
			if got := p.Match(tt.pkt); got != want {
				t.Errorf("link type %d, %q: got %v, want %v\n%s", tt.lt, expr, got, want, p)
			}
		}
	}
	p, err := Compile("ip", LinkTypeIPv6, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Match(frame(nil)) {
		t.Errorf("raw IPv6 link type: \"ip\" matched, want it never to")
	}
}

func TestMatchLen_UsesTheWireLength(t *testing.T) {
	pkt := ethTCP([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 1, 2, 0)
	tests := []struct {
		expr    string
		wireLen int
		want    bool
	}{
		{"greater 1000", 1500, true},
		{"greater 1000", len(pkt), false},
		{"less 100", 1500, false},
		{"less 100", len(pkt), true},
		{"len - 14 = 1486", 1500, true},
		{"tcp and len > 1000", 1500, true},
		{"tcp", 1500, true}, // no len: the VM alone answers
	}
	for _, tt := range tests {
		p, err := Compile(tt.expr, LinkTypeEthernet, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.MatchLen(pkt, tt.wireLen); got != tt.want {
			t.Errorf("%q MatchLen(%d captured, %d on the wire) = %v, want %v", tt.expr, len(pkt), tt.wireLen, got, tt.want)
		}
	}
}

// TestCompile_LongExpressionUsesTrampolines compiles 120 ORed hosts: the
// jumps to the accept at the end cannot be encoded in 8 bits, so the
// program must go through `ja` and still accept exactly those hosts.
func TestCompile_LongExpressionUsesTrampolines(t *testing.T) {
	var hosts [][4]byte
	var parts []string
	for i := 1; i <= 120; i++ {
		h := [4]byte{10, byte(i / 50), byte(i % 50), byte(i)}
		hosts = append(hosts, h)
		parts = append(parts, fmt.Sprintf("host %d.%d.%d.%d", h[0], h[1], h[2], h[3]))
	}
	expr := strings.Join(parts, " or ")
	for _, opts := range [][]Option{nil, {withoutOptimizer()}} {
		p, err := Compile(expr, LinkTypeEthernet, 0, opts...)
		if err != nil {
			t.Fatal(err)
		}
		ins := p.Instructions()
		jumps := 0
		for _, in := range ins {
			if _, ok := in.(bpf.Jump); ok {
				jumps++
			}
		}
		if jumps == 0 || len(ins) < 300 {
			t.Errorf("got %d instructions with %d ja, want more than 300 with trampolines", len(ins), jumps)
		}
		if len(ins) > MaxKernelInstructions {
			t.Errorf("got %d instructions, want at most %d", len(ins), MaxKernelInstructions)
		}
		other := [4]byte{10, 9, 9, 9}
		for i, h := range hosts {
			if !p.Match(ethTCP(h, other, 1, 2, 0)) || !p.Match(ethTCP(other, h, 1, 2, 0)) {
				t.Errorf("host %d (%v): Match = false, want true", i, h)
			}
		}
		if p.Match(ethTCP(other, [4]byte{10, 9, 9, 8}, 1, 2, 0)) {
			t.Errorf("unlisted hosts: Match = true, want false")
		}
	}
}

func TestCompile_VLANShiftsLaterTests(t *testing.T) {
	inner := ethTCP([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 1, 80, 0)
	tagged := append([]byte{}, inner[:12]...)
	tagged = append(tagged, 0x81, 0x00, 0x00, 0x64) // 802.1Q, VLAN 100
	tagged = append(tagged, inner[12:]...)
	tests := []struct {
		expr string
		pkt  []byte
		want bool
	}{
		{"vlan 100 and tcp port 80", tagged, true},
		{"vlan and host 10.0.0.2", tagged, true},
		{"vlan 101", tagged, false},
		{"tcp port 80", tagged, false}, // untagged offsets
		{"tcp or vlan", tagged, true},
		{"vlan or tcp", inner, false}, // tcp after vlan reads 4 bytes on
		{"tcp and not vlan", inner, true},
	}
	for _, tt := range tests {
		p, err := Compile(tt.expr, LinkTypeEthernet, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Match(tt.pkt); got != tt.want {
			t.Errorf("%q: got %v, want %v\n%s", tt.expr, got, tt.want, p)
		}
	}
}

// TestMatch_TruncatedPacketIsRejected checks that a load past the captured
// bytes rejects the packet even under "not", as BPF does.
func TestMatch_TruncatedPacketIsRejected(t *testing.T) {
	pkt := ethTCP([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 1, 80, 0)[:36] // cut inside the TCP header
	for expr, want := range map[string]bool{
		"tcp":                 true,
		"tcp port 80":         false, // the port load fails
		"not tcp port 80":     false, // ... and rejects, under not too
		"src host 10.0.0.1":   true,
		"not tcp[13] & 2 = 2": false,
	} {
		p, err := Compile(expr, LinkTypeEthernet, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Match(pkt); got != want {
			t.Errorf("%q on a cut packet: got %v, want %v", expr, got, want)
		}
	}
}

// TestOptimizer_ProgramSizes pins program sizes against libpcap's
// (tcpdump -y EN10MB -d, libpcap 1.10.3), so the optimizer cannot quietly
// regress. The differential test proves the verdicts.
func TestOptimizer_ProgramSizes(t *testing.T) {
	tests := []struct {
		expr    string
		want    int // ours
		libpcap int
	}{
		{"tcp", 12, 12},
		{"port 80", 24, 24},
		{"tcp port 80", 20, 20},
		{"src port 80", 20, 20},
		{"host 192.168.1.103", 14, 14},
		{"net 10.0.0.0/8", 18, 18},
		{"vlan and tcp", 16, 16},
		{"tcp[13] & 2 != 0", 12, 11},
		{"tcp and not port 22", 23, 23},
		{"portrange 1-1023", 30, 27},
		{longHosts, 970, 481},
	}
	for _, tt := range tests {
		p, err := Compile(tt.expr, LinkTypeEthernet, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(p.Instructions()); got > tt.want {
			t.Errorf("%.40q: got %d instructions, want at most %d (libpcap: %d)", tt.expr, got, tt.want, tt.libpcap)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	pkt := ethTCP([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 40000, 443, 0x18)
	for _, bb := range []struct{ name, expr string }{
		{"tcp_port_443", "tcp port 443"},
		{"tcp_port_80_and_host", "tcp port 80 and host 10.0.0.1"},
		{"syn_only", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"},
		{"port_80", "port 80"},
		{"120_hosts", longHosts},
	} {
		p, err := Compile(bb.expr, LinkTypeEthernet, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%s/%dins", bb.name, len(p.Instructions())), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Match(pkt)
			}
		})
	}
}
