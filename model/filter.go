package model

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FilterTerm documents one form of the display filter language: an
// example and what it keeps. FilterLanguage lists them for the help
// screen, the man page and the README, so the three say the same.
type FilterTerm struct {
	Example, Meaning string
}

// FilterLanguage is the display filter language, one term per form, in
// the order a person learns them.
func FilterLanguage() []FilterTerm {
	return []FilterTerm{
		{"port 8080", "either endpoint's port (port>1024 works too)"},
		{"host 10.0.0.2", "either endpoint's address; net 10.0.0.0/8 a prefix"},
		{"state close_wait", "the local state, or either side's wire state"},
		{"proc nginx", "an owning process whose name contains the word"},
		{"pid 1234", "an owning process ID"},
		{"finding idle", "a finding whose label contains the word; bare finding: any"},
		{"rst retrans zerowin", "a counter above zero (also keepalive dupack ooo lost syn fin)"},
		{"retrans>0 rtt>=50ms", "a field compared with = != < <= > >= (idle>30s bytes>1m age<5s rate>10k)"},
		{"closed open inferred", "closed or open flows, roles inferred (no SYN seen); v4 v6"},
		{"a and b, a or b, not a", "also && || ! and ( ); adjacent terms are and-ed"},
		{"anything else", "free text: part of an address, process, state or finding"},
	}
}

// Filter is a parsed display filter. The zero of *Filter (nil) matches
// every flow, so an empty filter needs no special case.
//
// The language (case-insensitive keywords):
//
//	port 8080            either endpoint's port
//	host 10.0.0.2        either endpoint's address (net 10.0.0.0/8 for a prefix)
//	state close_wait     the local state, or either side's wire state
//	proc nginx           an owning process whose name contains the word
//	pid 1234             an owning process ID
//	finding idle         a finding whose label contains the word (bare: any finding;
//	                     a word no label contains is an error, unless it starts a
//	                     term of its own: finding port 80)
//	rst  retrans  zerowin ...   a counter above zero
//	retrans>0  rtt>=50ms  idle>30s  bytes>1M   a field compared with = != < <= > >=
//	closed  open  inferred  v4  v6
//	and  or  not  &&  ||  !  ( )    adjacent terms are and-ed
//	anything else        free text: a substring of an address, process or finding
//
// Durations take a unit (us, ms, s, m, h); without one, rtt and irtt count
// milliseconds and age and idle seconds. Sizes take k, m or g (powers of
// 1024).
type Filter struct {
	src  string
	root filterNode
}

// FilterError is a syntax error with the byte offset in the filter text
// where it was found, so an input line can point at it while typing.
type FilterError struct {
	Pos int
	Msg string
}

// Error returns "col N: message", with N counted in characters from 1.
func (e *FilterError) Error() string { return fmt.Sprintf("col %d: %s", e.Pos+1, e.Msg) }

// ParseFilter parses src. Blank input gives a nil filter that matches
// everything. The error, when not nil, is a *FilterError.
func ParseFilter(src string) (*Filter, error) {
	p := &filterParser{src: src}
	p.lex()
	if p.err != nil {
		return nil, p.err
	}
	if len(p.toks) == 0 {
		return nil, nil
	}
	root := p.parseOr()
	if p.err == nil && p.pos < len(p.toks) {
		p.fail(p.toks[p.pos].pos, fmt.Sprintf("unexpected %q", p.toks[p.pos].text))
	}
	if p.err != nil {
		return nil, p.err
	}
	return &Filter{src: src, root: root}, nil
}

// String returns the text the filter was parsed from.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.src
}

// Match reports whether the entry passes the filter at time now (used by
// age and idle). A nil filter matches everything.
func (f *Filter) Match(e *FlowEntry, now int64) bool {
	if f == nil {
		return true
	}
	return f.root.match(e, now)
}

// filterNode is one node of the filter's syntax tree.
type filterNode interface {
	match(e *FlowEntry, now int64) bool
}

type (
	andNode  struct{ l, r filterNode }
	orNode   struct{ l, r filterNode }
	notNode  struct{ x filterNode }
	portNode struct {
		op cmpOp
		n  int64
	}
	hostNode  struct{ addr netip.Addr }
	netNode   struct{ pfx netip.Prefix }
	stateNode struct{ s State }
	procNode  struct{ word string }
	pidNode   struct{ pid int }
	findNode  struct{ word string } // empty word: any finding
	textNode  struct{ word string } // lower case
	boolNode  func(e *FlowEntry) bool
	fieldNode struct {
		f  *filterField
		op cmpOp
		n  int64
	}
)

func (n andNode) match(e *FlowEntry, now int64) bool { return n.l.match(e, now) && n.r.match(e, now) }
func (n orNode) match(e *FlowEntry, now int64) bool  { return n.l.match(e, now) || n.r.match(e, now) }
func (n notNode) match(e *FlowEntry, now int64) bool { return !n.x.match(e, now) }
func (n boolNode) match(e *FlowEntry, _ int64) bool  { return n(e) }

func (n portNode) match(e *FlowEntry, _ int64) bool {
	return n.op.eval(int64(e.Flow.A.Port()), n.n) || n.op.eval(int64(e.Flow.B.Port()), n.n)
}

func (n hostNode) match(e *FlowEntry, _ int64) bool {
	return e.Flow.A.Addr().Unmap() == n.addr || e.Flow.B.Addr().Unmap() == n.addr
}

func (n netNode) match(e *FlowEntry, _ int64) bool {
	return n.pfx.Contains(e.Flow.A.Addr().Unmap()) || n.pfx.Contains(e.Flow.B.Addr().Unmap())
}

func (n stateNode) match(e *FlowEntry, _ int64) bool {
	return e.State() == n.s || e.Flow.State[SideA] == n.s || e.Flow.State[SideB] == n.s
}

func (n procNode) match(e *FlowEntry, _ int64) bool {
	for _, o := range e.Owners {
		if containsFold(o.Name, n.word) {
			return true
		}
	}
	return false
}

func (n pidNode) match(e *FlowEntry, _ int64) bool {
	for _, o := range e.Owners {
		if o.PID == n.pid {
			return true
		}
	}
	return false
}

func (n findNode) match(e *FlowEntry, _ int64) bool {
	if n.word == "" {
		return len(e.Findings) > 0
	}
	for _, f := range e.Findings {
		if containsFold(f.Label.String(), n.word) {
			return true
		}
	}
	return false
}

func (n textNode) match(e *FlowEntry, _ int64) bool {
	f := e.Flow
	if containsFold(f.A.String(), n.word) || containsFold(f.B.String(), n.word) {
		return true
	}
	if containsFold(e.State().String(), n.word) {
		return true
	}
	for _, o := range e.Owners {
		if containsFold(o.Name, n.word) || strconv.Itoa(o.PID) == n.word {
			return true
		}
	}
	for _, x := range e.Findings {
		if containsFold(x.Label.String(), n.word) {
			return true
		}
	}
	return false
}

func (n fieldNode) match(e *FlowEntry, now int64) bool { return n.op.eval(n.f.get(e, now), n.n) }

// containsFold reports whether sub occurs in s, ignoring ASCII case; sub
// is already lower case.
func containsFold(s, sub string) bool {
	if len(sub) > len(s) {
		return false
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// cmpOp is a comparison operator of a field term.
type cmpOp uint8

const (
	opGT cmpOp = iota // default for a bare field: > 0
	opGE
	opLT
	opLE
	opEQ
	opNE
)

func (o cmpOp) eval(a, b int64) bool {
	switch o {
	case opGT:
		return a > b
	case opGE:
		return a >= b
	case opLT:
		return a < b
	case opLE:
		return a <= b
	case opEQ:
		return a == b
	}
	return a != b
}

// unit is how a field's numbers are written.
type unit uint8

const (
	unitCount unit = iota
	unitBytes
	unitRate     // bytes per second
	unitMillis   // a duration whose bare numbers are milliseconds
	unitDuration // a duration whose bare numbers are seconds
)

// filterField is a numeric field of a flow entry that terms can compare.
type filterField struct {
	name string
	unit unit
	get  func(e *FlowEntry, now int64) int64
}

func sumDir(f func(c *Counters) uint32) func(e *FlowEntry, _ int64) int64 {
	return func(e *FlowEntry, _ int64) int64 {
		return int64(f(&e.Flow.Dir[0])) + int64(f(&e.Flow.Dir[1]))
	}
}

var filterFields = []filterField{
	{"packets", unitCount, func(e *FlowEntry, _ int64) int64 {
		return int64(e.Flow.Dir[0].Packets + e.Flow.Dir[1].Packets)
	}},
	{"bytes", unitBytes, func(e *FlowEntry, _ int64) int64 { return int64(e.BytesIn() + e.BytesOut()) }},
	{"in", unitBytes, func(e *FlowEntry, _ int64) int64 { return int64(e.BytesIn()) }},
	{"out", unitBytes, func(e *FlowEntry, _ int64) int64 { return int64(e.BytesOut()) }},
	{"rate", unitRate, func(e *FlowEntry, _ int64) int64 { return int64(e.Rate) }},
	{"retrans", unitCount, func(e *FlowEntry, _ int64) int64 { return int64(e.Retrans()) }},
	{"rst", unitCount, func(e *FlowEntry, _ int64) int64 { return int64(e.RSTs()) }},
	{"syn", unitCount, sumDir(func(c *Counters) uint32 { return c.SYN + c.SYNACK })},
	{"fin", unitCount, sumDir(func(c *Counters) uint32 { return c.FIN })},
	{"zerowin", unitCount, func(e *FlowEntry, _ int64) int64 { return int64(e.ZeroWindows()) }},
	{"dupack", unitCount, sumDir(func(c *Counters) uint32 { return c.DuplicateAck })},
	{"ooo", unitCount, sumDir(func(c *Counters) uint32 { return c.OutOfOrder })},
	{"lost", unitCount, sumDir(func(c *Counters) uint32 { return c.LostSegment })},
	{"keepalive", unitCount, sumDir(func(c *Counters) uint32 { return c.KeepAlive })},
	{"rtt", unitMillis, func(e *FlowEntry, _ int64) int64 { return e.RTT() }},
	{"irtt", unitMillis, func(e *FlowEntry, _ int64) int64 { return e.Flow.IRTT }},
	{"age", unitDuration, func(e *FlowEntry, now int64) int64 { return e.Age(now) }},
	{"idle", unitDuration, func(e *FlowEntry, now int64) int64 { return e.Idle(now) }},
	{"id", unitCount, func(e *FlowEntry, _ int64) int64 { return int64(e.Flow.ID) }},
}

func lookupField(name string) *filterField {
	for i := range filterFields {
		if filterFields[i].name == name {
			return &filterFields[i]
		}
	}
	return nil
}

// FilterFields lists the names of the numeric fields, for help screens.
func FilterFields() []string {
	names := make([]string, len(filterFields))
	for i, f := range filterFields {
		names[i] = f.name
	}
	return names
}

var filterFlags = map[string]boolNode{
	"closed":   func(e *FlowEntry) bool { return e.Flow.Closed() },
	"open":     func(e *FlowEntry) bool { return !e.Flow.Closed() },
	"inferred": func(e *FlowEntry) bool { return e.Flow.RoleInferred || e.Flow.Client == SideNone },
	"v4":       func(e *FlowEntry) bool { return e.Flow.A.Addr().Unmap().Is4() },
	"v6":       func(e *FlowEntry) bool { return !e.Flow.A.Addr().Unmap().Is4() },
}

// tokKind classifies a lexical token.
type tokKind uint8

const (
	tokWord tokKind = iota
	tokString
	tokOp // = != < <= > >=
	tokLParen
	tokRParen
	tokAnd
	tokOr
	tokNot
)

type token struct {
	kind tokKind
	text string // words lower-cased; strings unquoted
	pos  int
}

type filterParser struct {
	src  string
	toks []token
	pos  int
	err  *FilterError
}

func (p *filterParser) fail(pos int, msg string) {
	if p.err == nil {
		p.err = &FilterError{Pos: pos, Msg: msg}
	}
}

// lex splits the source into tokens. Words run until a blank, a
// parenthesis, a comparison or a boolean operator character, so that
// "retrans>0" is three tokens and IPv6 addresses stay whole.
func (p *filterParser) lex() {
	s := p.src
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			p.toks = append(p.toks, token{tokLParen, "(", i})
			i++
		case c == ')':
			p.toks = append(p.toks, token{tokRParen, ")", i})
			i++
		case c == '&' || c == '|':
			if i+1 < len(s) && s[i+1] == c {
				k := tokAnd
				if c == '|' {
					k = tokOr
				}
				p.toks = append(p.toks, token{k, s[i : i+2], i})
				i += 2
				continue
			}
			p.fail(i, fmt.Sprintf("%q: use %c%c", c, c, c))
			return
		case c == '!' && (i+1 >= len(s) || s[i+1] != '='):
			p.toks = append(p.toks, token{tokNot, "!", i})
			i++
		case c == '<' || c == '>' || c == '=' || c == '!':
			n := 1
			if i+1 < len(s) && s[i+1] == '=' {
				n = 2
			}
			op := s[i : i+n]
			if op == "==" {
				op = "="
			}
			p.toks = append(p.toks, token{tokOp, op, i})
			i += n
		case c == '"':
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				p.fail(i, "unterminated quote")
				return
			}
			p.toks = append(p.toks, token{tokString, strings.ToLower(s[i+1 : i+1+end]), i})
			i += end + 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n()&|!<>=\"", rune(s[j])) {
				_, w := utf8.DecodeRuneInString(s[j:])
				j += w
			}
			w := strings.ToLower(s[i:j])
			switch w {
			case "and":
				p.toks = append(p.toks, token{tokAnd, w, i})
			case "or":
				p.toks = append(p.toks, token{tokOr, w, i})
			case "not":
				p.toks = append(p.toks, token{tokNot, w, i})
			default:
				p.toks = append(p.toks, token{tokWord, w, i})
			}
			i = j
		}
	}
}

func (p *filterParser) peek() (token, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return token{}, false
}

// end is the position just past the input, where "missing" errors point.
func (p *filterParser) end() int { return len(p.src) }

func (p *filterParser) parseOr() filterNode {
	l := p.parseAnd()
	for p.err == nil {
		t, ok := p.peek()
		if !ok || t.kind != tokOr {
			break
		}
		p.pos++
		r := p.parseAnd()
		l = orNode{l, r}
	}
	return l
}

func (p *filterParser) parseAnd() filterNode {
	l := p.parseUnary()
	for p.err == nil {
		t, ok := p.peek()
		if !ok || t.kind == tokOr || t.kind == tokRParen {
			break
		}
		if t.kind == tokAnd {
			p.pos++
		}
		r := p.parseUnary()
		l = andNode{l, r}
	}
	return l
}

func (p *filterParser) parseUnary() filterNode {
	t, ok := p.peek()
	if ok && t.kind == tokNot {
		p.pos++
		return notNode{p.parseUnary()}
	}
	return p.parsePrimary()
}

func (p *filterParser) parsePrimary() filterNode {
	t, ok := p.peek()
	if !ok {
		p.fail(p.end(), "expression expected")
		return nil
	}
	switch t.kind {
	case tokLParen:
		p.pos++
		x := p.parseOr()
		if p.err != nil {
			return nil
		}
		if c, ok := p.peek(); !ok || c.kind != tokRParen {
			p.fail(t.pos, "unclosed (")
			return nil
		}
		p.pos++
		return x
	case tokString:
		p.pos++
		return textNode{t.text}
	case tokWord:
		p.pos++
		return p.parseTerm(t)
	}
	p.fail(t.pos, fmt.Sprintf("unexpected %q", t.text))
	return nil
}

// arg consumes the word after keyword kw, or fails with want.
func (p *filterParser) arg(kw token, want string) (token, bool) {
	t, ok := p.peek()
	if !ok || (t.kind != tokWord && t.kind != tokString) {
		pos := p.end()
		if ok {
			pos = t.pos
		}
		p.fail(pos, kw.text+": "+want)
		return token{}, false
	}
	p.pos++
	return t, true
}

// optOp consumes a comparison operator if one follows.
func (p *filterParser) optOp() (cmpOp, string, bool) {
	t, ok := p.peek()
	if !ok || t.kind != tokOp {
		return 0, "", false
	}
	p.pos++
	op := map[string]cmpOp{">": opGT, ">=": opGE, "<": opLT, "<=": opLE, "=": opEQ, "!=": opNE}[t.text]
	return op, t.text, true
}

func (p *filterParser) parseTerm(kw token) filterNode {
	switch kw.text {
	case "port":
		op, _, hasOp := p.optOp()
		if !hasOp {
			op = opEQ
		}
		t, ok := p.arg(kw, "want a port number")
		if !ok {
			return nil
		}
		n, err := strconv.ParseUint(t.text, 10, 16)
		if err != nil {
			p.fail(t.pos, fmt.Sprintf("port: %q is not a port number (0-65535)", t.text))
			return nil
		}
		return portNode{op, int64(n)}
	case "host":
		t, ok := p.arg(kw, "want an IP address")
		if !ok {
			return nil
		}
		a, err := netip.ParseAddr(t.text)
		if err != nil {
			p.fail(t.pos, fmt.Sprintf("host: %q is not an IP address", t.text))
			return nil
		}
		return hostNode{a.Unmap()}
	case "net":
		t, ok := p.arg(kw, "want a prefix like 10.0.0.0/8")
		if !ok {
			return nil
		}
		pfx, err := netip.ParsePrefix(t.text)
		if err != nil {
			p.fail(t.pos, fmt.Sprintf("net: %q is not a prefix like 10.0.0.0/8", t.text))
			return nil
		}
		return netNode{pfx.Masked()}
	case "state":
		t, ok := p.arg(kw, "want a state like established or close_wait")
		if !ok {
			return nil
		}
		s, ok := ParseState(t.text)
		if !ok {
			p.fail(t.pos, fmt.Sprintf("state: unknown state %q", t.text))
			return nil
		}
		return stateNode{s}
	case "proc":
		t, ok := p.arg(kw, "want a process name")
		if !ok {
			return nil
		}
		return procNode{t.text}
	case "pid":
		t, ok := p.arg(kw, "want a process ID")
		if !ok {
			return nil
		}
		n, err := strconv.Atoi(t.text)
		if err != nil || n < 0 {
			p.fail(t.pos, fmt.Sprintf("pid: %q is not a process ID", t.text))
			return nil
		}
		return pidNode{n}
	case "finding":
		// A word after finding is its argument when a label contains it
		// ("finding idle": idle_timeout_race, middlebox_idle_drop), even
		// when the word is also a field; a keyword no label contains, or
		// a field being compared ("finding idle>5s"), starts a term of
		// its own after a bare finding (any finding).
		t, ok := p.peek()
		if !ok || (t.kind != tokWord && t.kind != tokString) {
			return findNode{} // bare: any finding
		}
		compared := p.pos+1 < len(p.toks) && p.toks[p.pos+1].kind == tokOp
		w := strings.ReplaceAll(t.text, "-", "_")
		if !compared {
			for _, l := range FindingLabels() {
				if strings.Contains(l.String(), w) {
					p.pos++
					return findNode{w}
				}
			}
		}
		if compared || isKeyword(t.text) {
			return findNode{}
		}
		p.fail(t.pos, fmt.Sprintf("finding: no label contains %q (labels: %s)", t.text, findingLabelList()))
		return nil
	}
	if b, ok := filterFlags[kw.text]; ok {
		return b
	}
	if f := lookupField(kw.text); f != nil {
		op, opText, hasOp := p.optOp()
		if !hasOp {
			return fieldNode{f, opGT, 0}
		}
		t, ok := p.peek()
		if !ok || t.kind != tokWord {
			pos := p.end()
			if ok {
				pos = t.pos
			}
			p.fail(pos, fmt.Sprintf("%s%s: want %s", kw.text, opText, f.unit.example()))
			return nil
		}
		p.pos++
		n, err := parseValue(t.text, f.unit)
		if err != nil {
			p.fail(t.pos, fmt.Sprintf("%s: %q is not %s", kw.text, t.text, f.unit.example()))
			return nil
		}
		return fieldNode{f, op, n}
	}
	if t, ok := p.peek(); ok && t.kind == tokOp {
		p.fail(kw.pos, fmt.Sprintf("unknown field %q (fields: %s)", kw.text, strings.Join(FilterFields(), " ")))
		return nil
	}
	return textNode{kw.text}
}

func findingLabelList() string {
	var names []string
	for _, l := range FindingLabels() {
		names = append(names, l.String())
	}
	return strings.Join(names, " ")
}

// isKeyword reports words that start a term of their own, so that a bare
// "finding" followed by one is not read as a label.
func isKeyword(w string) bool {
	switch w {
	case "port", "host", "net", "state", "proc", "pid", "finding":
		return true
	}
	_, flag := filterFlags[w]
	return flag || lookupField(w) != nil
}

func (u unit) example() string {
	switch u {
	case unitBytes:
		return "a size like 1500 or 2m"
	case unitRate:
		return "a rate in bytes/s like 10k"
	case unitMillis, unitDuration:
		return "a duration like 250ms or 30s"
	}
	return "a number"
}

// parseValue reads a number in the field's unit and returns it in the
// field's base (count, bytes, bytes/s, nanoseconds).
func parseValue(s string, u unit) (int64, error) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, suffix := s[:i], s[i:]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	mult := 1.0
	switch u {
	case unitCount:
		if suffix != "" {
			return 0, fmt.Errorf("unexpected unit %q", suffix)
		}
	case unitBytes, unitRate:
		switch strings.TrimSuffix(strings.TrimSuffix(suffix, "/s"), "b") {
		case "":
		case "k":
			mult = 1 << 10
		case "m":
			mult = 1 << 20
		case "g":
			mult = 1 << 30
		default:
			return 0, fmt.Errorf("unknown size unit %q", suffix)
		}
	case unitMillis, unitDuration:
		switch suffix {
		case "":
			mult = 1e9
			if u == unitMillis {
				mult = 1e6
			}
		case "ns":
		case "us", "µs":
			mult = 1e3
		case "ms":
			mult = 1e6
		case "s":
			mult = 1e9
		case "m":
			mult = 60e9
		case "h":
			mult = 3600e9
		default:
			return 0, fmt.Errorf("unknown duration unit %q", suffix)
		}
	}
	r := v * mult
	if r > math.MaxInt64/2 {
		return 0, fmt.Errorf("too large: %q", s)
	}
	return int64(r), nil
}
