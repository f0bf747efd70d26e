package filter

import (
	"fmt"
	"strings"
)

// maxDepth bounds the parser's recursion (a few levels per parenthesis),
// so hostile input cannot make it, or the code generator after it, go
// arbitrarily deep. Chains of and/or/+ are loops, not recursion, and are
// bounded by nothing but the length of the expression.
const maxDepth = 1000

// parser is a recursive-descent parser for libpcap's grammar. It builds an
// AST without side effects, so it can back up and try another alternative
// where libpcap's LALR parser decides by lookahead ("port 80 or 443" vs
// "port 80 or 443 = len", "(tcp)" vs "(tcp[0]) = 1").
type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

// parse returns the AST of src, or nil for an empty expression.
func parse(src string) (expr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	if p.peek().kind == tEOF {
		return nil, nil
	}
	e, _, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, `"and", "or" or the end of the expression`)
	}
	return e, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekN(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) isPunct(t token, s string) bool { return t.kind == tPunct && t.text == s }

func (p *parser) isKw(t token, k kw) bool { return t.kind == tKw && t.kw == k }

// logical reports whether t is and/&& (isAnd) or or/|| (ok).
func (p *parser) logical(t token) (isAnd, ok bool) {
	switch {
	case p.isKw(t, kwAnd) || p.isPunct(t, "&&"):
		return true, true
	case p.isKw(t, kwOr) || p.isPunct(t, "||"):
		return false, true
	}
	return false, false
}

func (p *parser) isNot(t token) bool { return p.isKw(t, kwNot) || p.isPunct(t, "!") }

// enter counts nesting; leave must be deferred after a successful enter.
func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return errAt(p.src, p.peek().pos, "expression nested too deeply")
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// describe names a token for an error message.
func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tNum:
		return "number " + t.text
	}
	return fmt.Sprintf("%q", t.text)
}

// unexpected reports token t where something else (want) was expected. An
// unknown word gets the short form users see most: `unknown word "prot"`.
func (p *parser) unexpected(t token, want string) *SyntaxError {
	switch t.kind {
	case tID:
		return errAt(p.src, t.pos, "unknown word %q", t.text)
	case tKw:
		if t.kw == kwUnsupported {
			return unsupportedAt(p.src, t.pos, "%q is not supported", t.text)
		}
	case tEOF:
		return errAt(p.src, t.pos, "unexpected end of expression (expected %s)", want)
	}
	return errAt(p.src, t.pos, "unexpected %s (expected %s)", describe(t), want)
}

// better picks the more useful of two errors from alternative parses: an
// unknown word first (it is the usual typo), else the one that got further.
func better(a, b error) error {
	sa, okA := a.(*SyntaxError)
	sb, okB := b.(*SyntaxError)
	switch {
	case !okA:
		return b
	case !okB:
		return a
	case strings.HasPrefix(sb.Msg, "unknown word"):
		return b
	case strings.HasPrefix(sa.Msg, "unknown word"):
		return a
	case sa.Offset > sb.Offset:
		return a
	}
	return b
}

// parseExpr: expr := term { (and|or) (term | id) }. and and or have the
// same precedence and associate to the left, as in libpcap.
func (p *parser) parseExpr() (expr, qual, error) {
	if err := p.enter(); err != nil {
		return nil, qual{}, err
	}
	defer p.leave()
	left, q, err := p.parseTerm()
	if err != nil {
		return nil, qual{}, err
	}
	for {
		opTok := p.peek()
		isAnd, ok := p.logical(opTok)
		if !ok {
			return left, q, nil
		}
		p.i++
		var right expr
		if q.ok {
			// A bare id inherits the previous qualifiers: "port 80 or 443".
			save := p.i
			r, errID := p.parseID(q)
			if errID == nil && !p.atFollow() {
				errID = p.unexpected(p.peek(), `"and", "or" or the end of the expression`)
			}
			if errID == nil {
				right = r
			} else {
				p.i = save
				r2, q2, errTerm := p.parseTerm()
				if errTerm != nil {
					return nil, qual{}, better(errID, errTerm)
				}
				right, q = r2, q2
			}
		} else {
			right, q, err = p.parseTerm()
			if err != nil {
				return nil, qual{}, err
			}
		}
		if isAnd {
			left = &andExpr{l: left, r: right, pos: opTok.pos}
		} else {
			left = &orExpr{l: left, r: right, pos: opTok.pos}
		}
	}
}

// atFollow reports whether the next token can end a bare id.
func (p *parser) atFollow() bool {
	t := p.peek()
	_, ok := p.logical(t)
	return ok || t.kind == tEOF || p.isPunct(t, ")")
}

// parseTerm: term := not term | '(' expr ')' | relation | head id | pname
// | other.
func (p *parser) parseTerm() (expr, qual, error) {
	if err := p.enter(); err != nil {
		return nil, qual{}, err
	}
	defer p.leave()
	t := p.peek()
	switch {
	case p.isNot(t):
		p.i++
		x, q, err := p.parseTerm()
		if err != nil {
			return nil, qual{}, err
		}
		return &notExpr{x: x, pos: t.pos}, q, nil
	case p.isPunct(t, "("):
		save := p.i
		r, errRel := p.parseRelation()
		if errRel == nil {
			return r, qual{}, nil
		}
		p.i = save + 1
		e, _, errExpr := p.parseExpr()
		if errExpr == nil {
			if p.isPunct(p.peek(), ")") {
				p.i++
				return e, qual{}, nil
			}
			errExpr = p.unexpected(p.peek(), `")"`)
		}
		return nil, qual{}, better(errRel, errExpr)
	case t.kind == tKw:
		return p.parseKeywordTerm(t)
	case t.kind == tNum || p.isPunct(t, "-"):
		r, err := p.parseRelation()
		return r, qual{}, err
	case t.kind == tHID || t.kind == tHID6 || t.kind == tEID:
		return nil, qual{}, errAt(p.src, t.pos, `address %s needs a qualifier such as "host" or "net"`, t.text)
	}
	return nil, qual{}, p.unexpected(t, "a filter primitive")
}

// parseKeywordTerm handles terms that start with a keyword.
func (p *parser) parseKeywordTerm(t token) (expr, qual, error) {
	switch t.kw {
	case kwPname:
		next := p.peekN(1)
		switch {
		case p.isPunct(next, "["):
			r, err := p.parseRelation()
			return r, qual{}, err
		case next.kind == tKw && isHeadWord(next.kw):
			return p.parseHeadID()
		case p.isKw(next, kwBroadcast) || p.isKw(next, kwMulticast):
			p.i += 2
			return &castExpr{pq: t.pq, multicast: next.kw == kwMulticast, pos: t.pos}, qual{}, nil
		}
		p.i++
		return &pnameExpr{pq: t.pq, pos: t.pos}, qual{}, nil
	case kwSrc, kwDst, kwHost, kwNet, kwPort, kwPortrange, kwProto, kwProtochain, kwGateway:
		return p.parseHeadID()
	case kwBroadcast, kwMulticast:
		p.i++
		return &castExpr{pq: qDefault, multicast: t.kw == kwMulticast, pos: t.pos}, qual{}, nil
	case kwLess, kwGreater:
		p.i++
		n := p.peek()
		if n.kind != tNum {
			return nil, qual{}, p.unexpected(n, "a number")
		}
		p.i++
		return &lenExpr{greater: t.kw == kwGreater, n: n.num, pos: t.pos}, qual{}, nil
	case kwVlan:
		p.i++
		v := &vlanExpr{pos: t.pos}
		if n := p.peek(); n.kind == tNum || p.isPunct(n, "(") {
			v.idPos = n.pos
			num, err := p.parsePnum()
			if err != nil {
				return nil, qual{}, err
			}
			v.id, v.hasID = num, true
		}
		return v, qual{}, nil
	case kwLen:
		r, err := p.parseRelation()
		return r, qual{}, err
	case kwUnsupported:
		return nil, qual{}, unsupportedAt(p.src, t.pos, "%q is not supported", t.text)
	}
	return nil, qual{}, p.unexpected(t, "a filter primitive")
}

// isHeadWord reports whether k can follow a protocol name in a qualifier
// list ("tcp src port", "ip proto", "ether host").
func isHeadWord(k kw) bool {
	switch k {
	case kwSrc, kwDst, kwHost, kwNet, kwPort, kwPortrange, kwProto, kwProtochain, kwGateway:
		return true
	}
	return false
}

// parsePnum: pnum := NUM | '(' pnum ')'.
func (p *parser) parsePnum() (uint32, error) {
	t := p.peek()
	switch {
	case t.kind == tNum:
		p.i++
		return t.num, nil
	case p.isPunct(t, "("):
		if err := p.enter(); err != nil {
			return 0, err
		}
		defer p.leave()
		p.i++
		v, err := p.parsePnum()
		if err != nil {
			return 0, err
		}
		if !p.isPunct(p.peek(), ")") {
			return 0, p.unexpected(p.peek(), `")"`)
		}
		p.i++
		return v, nil
	}
	return 0, p.unexpected(t, "a number")
}

// parseHeadID: head := [pname] [dir] [host|net|port|portrange] | [pname]
// proto, followed by the id it qualifies.
func (p *parser) parseHeadID() (expr, qual, error) {
	q := qual{ok: true}
	if t := p.peek(); p.isKw(t, kwPname) {
		q.proto = t.pq
		p.i++
	}
	if t := p.peek(); p.isKw(t, kwSrc) || p.isKw(t, kwDst) {
		p.i++
		q.dir = dSrc
		other := kwDst
		if t.kw == kwDst {
			q.dir, other = dDst, kwSrc
		}
		// "src or dst" and "src and dst" are one qualifier.
		if isAnd, ok := p.logical(p.peek()); ok && p.isKw(p.peekN(1), other) {
			p.i += 2
			q.dir = dOr
			if isAnd {
				q.dir = dAnd
			}
		}
	}
	t := p.peek()
	switch {
	case p.isKw(t, kwHost):
		q.addr = aHost
	case p.isKw(t, kwNet):
		q.addr = aNet
	case p.isKw(t, kwPort):
		q.addr = aPort
	case p.isKw(t, kwPortrange):
		q.addr = aPortrange
	case p.isKw(t, kwProto):
		if q.dir != dDefault {
			return nil, qual{}, errAt(p.src, t.pos, `a direction cannot qualify "proto"`)
		}
		q.addr = aProto
	case p.isKw(t, kwGateway) || p.isKw(t, kwProtochain):
		return nil, qual{}, unsupportedAt(p.src, t.pos, "%q is not supported", t.text)
	}
	if q.addr != aDefault {
		p.i++
	}
	// "proto tcp" and "ip proto udp" name the protocol with a keyword,
	// which libpcap only accepts escaped ("proto \tcp"). Only directly
	// after "proto": in "ip proto 6 or tcp" the tcp is a primitive.
	if t := p.peek(); q.addr == aProto && p.isKw(t, kwPname) {
		p.i++
		return &idExpr{q: q, tok: token{kind: tID, text: t.text, pos: t.pos}}, q, nil
	}
	e, err := p.parseID(q)
	if err != nil {
		return nil, qual{}, err
	}
	return e, q, nil
}

// parseID: id := not id | '(' id {(and|or) id} ')' | NUM | HID [/NUM |
// mask HID] | HID6 [/NUM] | EID | name. Every id takes the qualifiers q.
func (p *parser) parseID(q qual) (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.peek()
	switch {
	case p.isNot(t):
		p.i++
		x, err := p.parseID(q)
		if err != nil {
			return nil, err
		}
		return &notExpr{x: x, pos: t.pos}, nil
	case p.isPunct(t, "("):
		p.i++
		left, err := p.parseID(q)
		if err != nil {
			return nil, err
		}
		for {
			opTok := p.peek()
			isAnd, ok := p.logical(opTok)
			if !ok {
				break
			}
			p.i++
			right, err := p.parseID(q)
			if err != nil {
				return nil, err
			}
			if isAnd {
				left = &andExpr{l: left, r: right, pos: opTok.pos}
			} else {
				left = &orExpr{l: left, r: right, pos: opTok.pos}
			}
		}
		if !p.isPunct(p.peek(), ")") {
			return nil, p.unexpected(p.peek(), `")"`)
		}
		p.i++
		return left, nil
	case t.kind == tNum || t.kind == tEID || t.kind == tID:
		p.i++
		return &idExpr{q: q, tok: t}, nil
	case t.kind == tHID || t.kind == tHID6:
		p.i++
		e := &idExpr{q: q, tok: t}
		switch n := p.peek(); {
		case p.isPunct(n, "/"):
			p.i++
			plen := p.peek()
			if plen.kind != tNum {
				return nil, p.unexpected(plen, "a prefix length")
			}
			p.i++
			e.prefix = &plen
		case t.kind == tHID && p.isKw(n, kwMask):
			p.i++
			m := p.peek()
			if m.kind != tHID {
				return nil, p.unexpected(m, "a dotted netmask")
			}
			p.i++
			e.mask = &m
		}
		return e, nil
	}
	return nil, p.unexpected(t, "an address, number or name")
}

// parseRelation: arith relop arith.
func (p *parser) parseRelation() (expr, error) {
	start := p.peek().pos
	l, err := p.parseArith()
	if err != nil {
		return nil, err
	}
	op := p.peek()
	switch {
	case op.kind == tPunct && (op.text == ">" || op.text == ">=" || op.text == "=" ||
		op.text == "==" || op.text == "<" || op.text == "<=" || op.text == "!="):
	default:
		return nil, p.unexpected(op, "a comparison (=, !=, <, <=, >, >=)")
	}
	p.i++
	r, err := p.parseArith()
	if err != nil {
		return nil, err
	}
	rel := op.text
	if rel == "==" {
		rel = "="
	}
	return &relExpr{op: rel, l: l, r: r, pos: start}, nil
}

// binPrec is libpcap's precedence of the binary arithmetic operators.
// '%' and '^' are missing on purpose: libpcap's grammar gives them no
// precedence, so yacc shifts and they take everything to their right.
var binPrec = map[string]int{"|": 1, "&": 2, "<<": 3, ">>": 3, "+": 4, "-": 4, "*": 5, "/": 5}

// parseArith parses a whole arithmetic expression.
func (p *parser) parseArith() (arith, error) { return p.parseBin(1) }

// parseBin is precedence climbing over binPrec.
func (p *parser) parseBin(minPrec int) (arith, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	lhs, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		prec, ok := binPrec[t.text]
		if t.kind != tPunct || !ok || prec < minPrec {
			return lhs, nil
		}
		p.i++
		rhs, err := p.parseBin(prec + 1)
		if err != nil {
			return nil, err
		}
		lhs = &binArith{op: t.text, l: lhs, r: rhs, pos: t.pos}
	}
}

// parseUnary: '-' unary | primary [('%'|'^') arith].
func (p *parser) parseUnary() (arith, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.peek()
	if p.isPunct(t, "-") {
		p.i++
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &negArith{x: x, pos: t.pos}, nil
	}
	x, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	if op := p.peek(); p.isPunct(op, "%") || p.isPunct(op, "^") {
		p.i++
		r, err := p.parseArith()
		if err != nil {
			return nil, err
		}
		x = &binArith{op: op.text, l: x, r: r, pos: op.pos}
	}
	return x, nil
}

// parsePrimary: NUM | len | '(' arith ')' | pname '[' arith [':' NUM] ']'.
func (p *parser) parsePrimary() (arith, error) {
	t := p.peek()
	switch {
	case t.kind == tNum:
		p.i++
		return &numArith{v: t.num, pos: t.pos}, nil
	case p.isKw(t, kwLen):
		p.i++
		return &lenArith{pos: t.pos}, nil
	case p.isPunct(t, "("):
		p.i++
		x, err := p.parseArith()
		if err != nil {
			return nil, err
		}
		if !p.isPunct(p.peek(), ")") {
			return nil, p.unexpected(p.peek(), `")"`)
		}
		p.i++
		return x, nil
	case p.isKw(t, kwPname):
		p.i++
		if !p.isPunct(p.peek(), "[") {
			return nil, p.unexpected(p.peek(), `"["`)
		}
		p.i++
		idx, err := p.parseArith()
		if err != nil {
			return nil, err
		}
		ld := &loadArith{pq: t.pq, idx: idx, size: 1, pos: t.pos}
		if p.isPunct(p.peek(), ":") {
			p.i++
			sz := p.peek()
			if sz.kind != tNum {
				return nil, p.unexpected(sz, "a size (1, 2 or 4)")
			}
			p.i++
			ld.size, ld.sizePos = sz.num, sz.pos
		}
		if !p.isPunct(p.peek(), "]") {
			return nil, p.unexpected(p.peek(), `"]"`)
		}
		p.i++
		return ld, nil
	}
	return nil, p.unexpected(t, "a number, len or proto[offset]")
}
