package filter

import (
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"
)

// tokKind classifies a token the way libpcap's scanner does.
type tokKind uint8

const (
	tEOF   tokKind = iota
	tNum           // a number, or a named constant such as tcp-syn
	tHID           // dotted IPv4 address or prefix: 10.1, 10.1.2, 10.1.2.3
	tHID6          // IPv6 address
	tEID           // Ethernet (MAC) address
	tID            // any other word that is not a keyword (host or service names)
	tKw            // keyword
	tPunct         // operator or bracket; text says which
)

// kw identifies a keyword.
type kw uint8

const (
	kwNone kw = iota
	kwDst
	kwSrc
	kwHost
	kwNet
	kwMask
	kwPort
	kwPortrange
	kwProto
	kwGateway
	kwProtochain
	kwLess
	kwGreater
	kwBroadcast
	kwMulticast
	kwLen
	kwVlan
	kwAnd
	kwOr
	kwNot
	kwPname       // a protocol name; token.pq says which
	kwUnsupported // a pcap-filter keyword this compiler does not compile
)

// token is one lexical unit; pos is its byte offset in the expression.
type token struct {
	kind tokKind
	kw   kw
	pq   pqual // for kwPname
	text string
	num  uint32 // for tNum
	pos  int
}

// keywords maps pcap-filter keywords to their meaning. Keywords are case
// sensitive, as in libpcap ("TCP" is a host name there).
var keywords = map[string]token{
	"dst":        {kw: kwDst},
	"src":        {kw: kwSrc},
	"host":       {kw: kwHost},
	"net":        {kw: kwNet},
	"mask":       {kw: kwMask},
	"port":       {kw: kwPort},
	"portrange":  {kw: kwPortrange},
	"proto":      {kw: kwProto},
	"gateway":    {kw: kwGateway},
	"protochain": {kw: kwProtochain},
	"less":       {kw: kwLess},
	"greater":    {kw: kwGreater},
	"broadcast":  {kw: kwBroadcast},
	"multicast":  {kw: kwMulticast},
	"len":        {kw: kwLen},
	"length":     {kw: kwLen},
	"vlan":       {kw: kwVlan},
	"and":        {kw: kwAnd},
	"or":         {kw: kwOr},
	"not":        {kw: kwNot},

	"link":  {kw: kwPname, pq: qLink},
	"ether": {kw: kwPname, pq: qLink},
	"ppp":   {kw: kwPname, pq: qLink},
	"slip":  {kw: kwPname, pq: qLink},
	"fddi":  {kw: kwPname, pq: qLink},
	"tr":    {kw: kwPname, pq: qLink},
	"wlan":  {kw: kwPname, pq: qLink},
	"ip":    {kw: kwPname, pq: qIP},
	"ip6":   {kw: kwPname, pq: qIP6},
	"arp":   {kw: kwPname, pq: qARP},
	"rarp":  {kw: kwPname, pq: qRARP},
	"tcp":   {kw: kwPname, pq: qTCP},
	"udp":   {kw: kwPname, pq: qUDP},
	"sctp":  {kw: kwPname, pq: qSCTP},
	"icmp":  {kw: kwPname, pq: qICMP},
	"icmp6": {kw: kwPname, pq: qICMP6},
	"igmp":  {kw: kwPname, pq: qIGMP},
	"igrp":  {kw: kwPname, pq: qIGRP},
	"pim":   {kw: kwPname, pq: qPIM},
	"vrrp":  {kw: kwPname, pq: qVRRP},
	"carp":  {kw: kwPname, pq: qCARP},
	"ah":    {kw: kwPname, pq: qAH},
	"esp":   {kw: kwPname, pq: qESP},
}

// unsupportedWords are pcap-filter keywords outside connscope's needs
// (other link layers, tunnels, 802.11, ATM, SS7, pf). They get a clear
// "not supported" error rather than "unknown word". ("byte" is here too:
// libpcap 1.10 compiles "byte N & M" without loading the byte.)
var unsupportedWords = strings.Fields(`
	atalk aarp decnet lat sca moprc mopdl iso esis es-is isis is-is l1 l2 iih
	lsp snp csnp psnp clnp stp ipx netbeui radio mpls pppoed pppoes geneve
	vxlan batadv inbound outbound ifindex llc lane metac bcc sc ilmic oamf4ec
	oamf4sc oam oamf4 connectmsg metaconnect vpi vci fisu lssu msu hfisu hlssu
	hmsu sio opc dpc sls hsio hopc hdpc hsls on ifname rnr rulenum reason rset
	ruleset srnr srulenum action type subtype dir direction addr1 addr2 addr3
	addr4 address1 address2 address3 address4 ra ta byte`)

// namedNumbers are the constants libpcap's scanner turns into numbers.
var namedNumbers = map[string]uint32{
	"icmptype": 0, "icmpcode": 1,
	"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4,
	"icmp-redirect": 5, "icmp-echo": 8, "icmp-routeradvert": 9,
	"icmp-routersolicit": 10, "icmp-timxceed": 11, "icmp-paramprob": 12,
	"icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
	"icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,

	"icmp6type": 0, "icmp6code": 1,
	"icmp6-destinationunreach": 1, "icmp6-packettoobig": 2,
	"icmp6-timeexceeded": 3, "icmp6-parameterproblem": 4,
	"icmp6-echo": 128, "icmp6-echoreply": 129,
	"icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
	"icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133,
	"icmp6-routeradvert": 134, "icmp6-neighborsolicit": 135,
	"icmp6-neighboradvert": 136, "icmp6-redirect": 137,
	"icmp6-routerrenum": 138, "icmp6-nodeinformationquery": 139,
	"icmp6-nodeinformationresponse": 140, "icmp6-ineighbordiscoverysolicit": 141,
	"icmp6-ineighbordiscoveryadvert": 142, "icmp6-multicastlistenerreportv2": 143,
	"icmp6-homeagentdiscoveryrequest": 144, "icmp6-homeagentdiscoveryreply": 145,
	"icmp6-mobileprefixsolicit": 146, "icmp6-mobileprefixadvert": 147,
	"icmp6-certpathsolicit": 148, "icmp6-certpathadvert": 149,
	"icmp6-multicastrouteradvert": 151, "icmp6-multicastroutersolicit": 152,
	"icmp6-multicastrouterterm": 153,

	"tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04,
	"tcp-push": 0x08, "tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40,
	"tcp-cwr": 0x80,
}

func init() {
	for _, w := range unsupportedWords {
		keywords[w] = token{kw: kwUnsupported}
	}
}

// macRE is libpcap's MAC pattern: six 1-2 digit hex groups separated by
// ':', '-' or '.', three 4-digit groups separated by '.', or 12 hex digits.
var macRE = func() *regexp.Regexp {
	const b, b2 = `[0-9A-Fa-f][0-9A-Fa-f]?`, `[0-9A-Fa-f]{4}`
	six := func(sep string) string {
		return b + sep + b + sep + b + sep + b + sep + b + sep + b
	}
	re := regexp.MustCompile(`^(?:` + six(`:`) + `|` + six(`-`) + `|` + six(`\.`) +
		`|` + b2 + `\.` + b2 + `\.` + b2 + `|` + b2 + b2 + b2 + `)`)
	re.Longest()
	return re
}()

// bogusMACRE is libpcap's "{B}:+({B}:+)+": colon-separated hex that is
// neither a MAC nor an IPv6 address.
var bogusMACRE = func() *regexp.Regexp {
	re := regexp.MustCompile(`^[0-9A-Fa-f][0-9A-Fa-f]?:+(?:[0-9A-Fa-f][0-9A-Fa-f]?:+)+`)
	re.Longest()
	return re
}()

// lex splits expr into tokens, ending with a tEOF token.
func lex(expr string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '\\':
			// "\tcp" is the word tcp without its keyword meaning.
			j := i + 1
			for j < len(expr) && !strings.ContainsRune(" !()\n\t", rune(expr[j])) {
				j++
			}
			if j == i+1 {
				return nil, errAt(expr, i, "lone backslash")
			}
			toks = append(toks, token{kind: tID, text: expr[i+1 : j], pos: i})
			i = j
			continue
		case isAlnum(c) || c == ':':
			t, n, err := lexWord(expr, i)
			if err != nil {
				return nil, err
			}
			if n > 0 {
				toks = append(toks, t)
				i += n
				continue
			}
			// A ':' that starts no address is the size separator of
			// proto[offset:size].
		}
		if n := punctLen(expr[i:]); n > 0 {
			toks = append(toks, token{kind: tPunct, text: expr[i : i+n], pos: i})
			i += n
			continue
		}
		r, _ := utf8.DecodeRuneInString(expr[i:])
		return nil, errAt(expr, i, "illegal character %q", r)
	}
	return append(toks, token{kind: tEOF, pos: len(expr)}), nil
}

// punctLen returns the length of the operator at the start of s, or 0.
func punctLen(s string) int {
	if len(s) >= 2 {
		switch s[:2] {
		case ">=", "<=", "!=", "==", "<<", ">>", "&&", "||":
			return 2
		}
	}
	if strings.IndexByte("+-*/%:[]!<>()&|^=", s[0]) >= 0 {
		return 1
	}
	return 0
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// lexWord takes the longest token starting at expr[i], breaking ties in
// the order of libpcap's scanner rules: number, IPv4, MAC, IPv6, bogus MAC,
// then word (keyword, named constant or name).
func lexWord(expr string, i int) (token, int, error) {
	s := expr[i:]
	lens := [...]int{numLen(s), hidLen(s), matchLen(macRE, s), v6Len(s), matchLen(bogusMACRE, s), idLen(s)}
	best, which := 0, -1
	for k, n := range lens {
		if n > best {
			best, which = n, k
		}
	}
	if which < 0 {
		return token{}, 0, nil
	}
	text := s[:best]
	switch which {
	case 0:
		v, err := parseNum(text)
		if err != nil {
			return token{}, 0, errAt(expr, i, "%s", err.Error())
		}
		return token{kind: tNum, num: v, text: text, pos: i}, best, nil
	case 1:
		return token{kind: tHID, text: text, pos: i}, best, nil
	case 2:
		return token{kind: tEID, text: text, pos: i}, best, nil
	case 3:
		return token{kind: tHID6, text: text, pos: i}, best, nil
	case 4:
		return token{}, 0, errAt(expr, i, "bogus ethernet address %s", text)
	}
	if t, ok := keywords[text]; ok {
		t.kind, t.text, t.pos = tKw, text, i
		return t, best, nil
	}
	if v, ok := namedNumbers[text]; ok {
		return token{kind: tNum, num: v, text: text, pos: i}, best, nil
	}
	return token{kind: tID, text: text, pos: i}, best, nil
}

// numLen matches ([0-9]+|0[xX][0-9A-Fa-f]+).
func numLen(s string) int {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isHex(s[2]) {
		j := 3
		for j < len(s) && isHex(s[j]) {
			j++
		}
		return j
	}
	j := 0
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	return j
}

// hidLen matches N.N, N.N.N or N.N.N.N (N as in numLen), longest first.
func hidLen(s string) int {
	n := numLen(s)
	if n == 0 {
		return 0
	}
	best := 0
	for parts := 1; parts < 4; parts++ {
		if n >= len(s) || s[n] != '.' {
			break
		}
		m := numLen(s[n+1:])
		if m == 0 {
			break
		}
		n += 1 + m
		best = n
	}
	return best
}

// idLen matches [A-Za-z0-9]([-_.A-Za-z0-9]*[.A-Za-z0-9])?.
func idLen(s string) int {
	if len(s) == 0 || !isAlnum(s[0]) {
		return 0
	}
	j := 1
	for j < len(s) && (isAlnum(s[j]) || s[j] == '-' || s[j] == '_' || s[j] == '.') {
		j++
	}
	for j > 1 && (s[j-1] == '-' || s[j-1] == '_') {
		j--
	}
	return j
}

// v6Len returns the length of the longest IPv6 address at the start of s.
// The longest textual IPv6 address has 45 characters, which bounds the
// search whatever the input.
func v6Len(s string) int {
	j := 0
	for j < len(s) && j < 45 && (isHex(s[j]) || s[j] == ':' || s[j] == '.') {
		j++
	}
	for ; j >= 2; j-- {
		cand := s[:j]
		if !strings.Contains(cand, ":") {
			return 0
		}
		if a, err := netip.ParseAddr(cand); err == nil && a.Is6() && a.Zone() == "" {
			return j
		}
	}
	return 0
}

func matchLen(re *regexp.Regexp, s string) int {
	if loc := re.FindStringIndex(s); loc != nil {
		return loc[1]
	}
	return 0
}

// numError is a number that does not convert; its text is the message.
type numError string

func (e numError) Error() string { return string(e) }

// parseNum converts decimal, 0x hex and leading-0 octal as libpcap does.
func parseNum(s string) (uint32, error) {
	base, digits := uint64(10), s
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, digits = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, digits = 8, s[1:]
	}
	var v uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		}
		if d >= base {
			return 0, numError("number " + s + " contains non-octal digit")
		}
		v = v*base + d
		if v > 0xffffffff {
			return 0, numError("number " + s + " overflows 32 bits")
		}
	}
	return uint32(v), nil
}
