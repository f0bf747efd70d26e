package filter

// pqual is a protocol qualifier (libpcap's Q_IP, Q_TCP, ...).
type pqual uint8

const (
	qDefault pqual = iota
	qLink
	qIP
	qIP6
	qARP
	qRARP
	qTCP
	qUDP
	qSCTP
	qICMP
	qICMP6
	qIGMP
	qIGRP
	qPIM
	qVRRP
	qCARP
	qAH
	qESP
)

// String names the qualifier as it is written in an expression.
func (q pqual) String() string {
	switch q {
	case qLink:
		return "link"
	case qIP:
		return "ip"
	case qIP6:
		return "ip6"
	case qARP:
		return "arp"
	case qRARP:
		return "rarp"
	case qTCP:
		return "tcp"
	case qUDP:
		return "udp"
	case qSCTP:
		return "sctp"
	case qICMP:
		return "icmp"
	case qICMP6:
		return "icmp6"
	case qIGMP:
		return "igmp"
	case qIGRP:
		return "igrp"
	case qPIM:
		return "pim"
	case qVRRP:
		return "vrrp"
	case qCARP:
		return "carp"
	case qAH:
		return "ah"
	case qESP:
		return "esp"
	}
	return "default"
}

// dqual is a direction qualifier.
type dqual uint8

const (
	dDefault dqual = iota
	dSrc
	dDst
	dOr  // "src or dst"
	dAnd // "src and dst"
)

// aqual is an address-type qualifier.
type aqual uint8

const (
	aDefault aqual = iota
	aHost
	aNet
	aPort
	aPortrange
	aProto
)

// String names the qualifier as it is written in an expression.
func (a aqual) String() string {
	switch a {
	case aHost:
		return "host"
	case aNet:
		return "net"
	case aPort:
		return "port"
	case aPortrange:
		return "portrange"
	case aProto:
		return "proto"
	}
	return "host"
}

// qual is the qualifier set of a primitive ("tcp src port"). A bare word
// after and/or inherits the qualifiers of the primitive before it
// ("port 80 or 443"); ok is false where libpcap has nothing to inherit.
type qual struct {
	proto pqual
	dir   dqual
	addr  aqual
	ok    bool
}

// expr is a node of the parsed boolean expression.
type expr interface{ exprPos() int }

// arith is a node of an arithmetic expression (proto[off:size], len, ...).
type arith interface{ arithPos() int }

type (
	andExpr struct {
		l, r expr
		pos  int
	}
	orExpr struct {
		l, r expr
		pos  int
	}
	notExpr struct {
		x   expr
		pos int
	}
	// idExpr is a qualified address, port, protocol or name. tok is the
	// value; prefix (after '/') or mask (after "mask") refine it.
	idExpr struct {
		q      qual
		tok    token
		prefix *token
		mask   *token
	}
	// pnameExpr is a protocol name standing alone: "tcp", "ip6".
	pnameExpr struct {
		pq  pqual
		pos int
	}
	// relExpr compares two arithmetic expressions.
	relExpr struct {
		op   string // > >= = < <= !=
		l, r arith
		pos  int
	}
	// lenExpr is "greater N" or "less N".
	lenExpr struct {
		greater bool
		n       uint32
		pos     int
	}
	// vlanExpr is "vlan" or "vlan N".
	vlanExpr struct {
		id    uint32
		hasID bool
		pos   int
		idPos int
	}
	// castExpr is "[proto] broadcast" or "[proto] multicast".
	castExpr struct {
		pq        pqual
		multicast bool
		pos       int
	}
)

func (e *andExpr) exprPos() int   { return e.pos }
func (e *orExpr) exprPos() int    { return e.pos }
func (e *notExpr) exprPos() int   { return e.pos }
func (e *idExpr) exprPos() int    { return e.tok.pos }
func (e *pnameExpr) exprPos() int { return e.pos }
func (e *relExpr) exprPos() int   { return e.pos }
func (e *lenExpr) exprPos() int   { return e.pos }
func (e *vlanExpr) exprPos() int  { return e.pos }
func (e *castExpr) exprPos() int  { return e.pos }

type (
	numArith struct {
		v   uint32
		pos int
	}
	lenArith struct{ pos int }
	// loadArith is proto[idx:size].
	loadArith struct {
		pq      pqual
		idx     arith
		size    uint32
		pos     int
		sizePos int
	}
	binArith struct {
		op   string // + - * / % & | ^ << >>
		l, r arith
		pos  int
	}
	negArith struct {
		x   arith
		pos int
	}
)

func (a *numArith) arithPos() int  { return a.pos }
func (a *lenArith) arithPos() int  { return a.pos }
func (a *loadArith) arithPos() int { return a.pos }
func (a *binArith) arithPos() int  { return a.pos }
func (a *negArith) arithPos() int  { return a.pos }
