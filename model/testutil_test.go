package model

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// The model tests build every Segment with segSpec.segment, through one of
// two scenario forms on top of it: a table of rows (tbRow), each one
// segment with explicit numbers and the flags tshark gives it, or a
// conversation (dxConv) that keeps the sequence numbers consistent as it
// goes.

// tbT0 is the capture time of a scenario's start: 1.7e9 s, away from the
// epoch (a SYN at time 0 disables the iRTT, a quirk tested on its own).
const tbT0 = int64(1_700_000_000) * 1e9

// segSpec describes one test segment; segment builds it. Zero values take
// the defaults of a Linux IPv4 segment: TTL 64, DF set, no TCP options.
// The header and frame lengths follow from the options and the payload.
type segSpec struct {
	ts       int64
	frame    uint64
	src, dst netip.AddrPort
	flags    TCPFlags
	seq, ack uint32
	n        uint32 // payload length
	win      uint16
	ttl      uint8 // 0: 64
	ipid     uint16
	wscale   int8   // window-scale option: 0 none, else shift+1
	mss      uint16 // MSS option, 0 none
	tsopt    bool   // timestamps option
	sackOK   bool   // SACK-permitted option
}

// segment builds the Segment p describes. Options are laid out as Linux
// does: MSS 4 bytes, SACK-permitted in the timestamps' padding (or 4 bytes
// alone), timestamps 12, window scale 4.
func (p segSpec) segment() Segment {
	s := Segment{
		TS: p.ts, Frame: p.frame, Src: p.src, Dst: p.dst,
		Seq: p.seq, Ack: p.ack, Window: p.win, Flags: p.flags, PayloadLen: p.n,
		TTL: p.ttl, IPID: p.ipid, DF: true,
		Opts: TCPOptions{WScale: -1, MSS: p.mss, Timestamps: p.tsopt, SACKPermitted: p.sackOK},
	}
	if s.TTL == 0 {
		s.TTL = 64
	}
	if p.wscale != 0 {
		s.Opts.WScale = p.wscale - 1
		s.Opts.Len += 4
	}
	if p.mss != 0 {
		s.Opts.Len += 4
	}
	switch {
	case p.tsopt:
		s.Opts.Len += 12
	case p.sackOK:
		s.Opts.Len += 4
	}
	s.TCPHdrLen = 20 + s.Opts.Len
	s.FrameLen = 14 + 20 + uint32(s.TCPHdrLen) + s.PayloadLen
	return s
}

// tbFlags parses flags written as letters of "SAFRP".
func tbFlags(letters string) TCPFlags {
	var fl TCPFlags
	for _, c := range letters {
		switch c {
		case 'S':
			fl |= FlagSYN
		case 'A':
			fl |= FlagACK
		case 'F':
			fl |= FlagFIN
		case 'R':
			fl |= FlagRST
		case 'P':
			fl |= FlagPSH
		}
	}
	return fl
}

// Rows: a scenario is a list of tbRow, one segment each, between the
// endpoint pairs of tbConns.

// tbA and tbB name the sender of a row: the client-side endpoint (first
// address of the pair) or the server side.
const (
	tbA = SideA
	tbB = SideB
)

// tbConns are the endpoint pairs rows refer to by index.
var tbConns = [][2]netip.AddrPort{
	{netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80")},
	{netip.MustParseAddrPort("10.0.0.1:40001"), netip.MustParseAddrPort("10.0.0.2:80")},
	{netip.MustParseAddrPort("10.0.0.1:40002"), netip.MustParseAddrPort("10.0.0.2:80")},
	{netip.MustParseAddrPort("10.0.0.1:40003"), netip.MustParseAddrPort("10.0.0.2:80")},
	{netip.MustParseAddrPort("10.0.0.1:40004"), netip.MustParseAddrPort("10.0.0.2:80")},
	{netip.MustParseAddrPort("10.0.0.1:40005"), netip.MustParseAddrPort("10.0.0.2:80")},
}

// tbRow is one segment of a scenario and what Apply must say about it.
type tbRow struct {
	ms       float64 // capture time, ms after tbT0
	c        int     // index into tbConns
	from     Side    // tbA: first endpoint of the pair sends
	fl       string  // flags, letters of "SAFRP"
	seq, ack uint32
	n        uint32 // payload length
	win      uint16
	ws       int8 // window-scale option: 0 none, else shift+1
	ts       bool // timestamps option
	ttl      uint8
	ipid     uint16
	flow     FlowID // the flow Apply must put it in
	want     string // AnalysisFlag.String() Apply must return
}

// segment builds the Segment of row r, frame i+1.
func (r tbRow) segment(i int) Segment {
	src, dst := tbConns[r.c][0], tbConns[r.c][1]
	if r.from == tbB {
		src, dst = dst, src
	}
	return segSpec{
		ts: tbT0 + int64(r.ms*1e6), frame: uint64(i + 1), src: src, dst: dst, flags: tbFlags(r.fl),
		seq: r.seq, ack: r.ack, n: r.n, win: r.win, ttl: r.ttl, ipid: r.ipid, wscale: r.ws, tsopt: r.ts,
	}.segment()
}

// tbPlay applies rows to a new table and checks each verdict's flow and
// flags; it returns the table for further checks.
func tbPlay(t *testing.T, cfg Config, rows []tbRow) *Table {
	t.Helper()
	tbl := NewTable(cfg)
	for i, r := range rows {
		s := r.segment(i)
		v := tbl.Apply(&s)
		if got := v.Flags.String(); got != r.want {
			t.Errorf("frame %d (%.1f ms %s seq %d ack %d len %d): flags got %q, want %q",
				i+1, r.ms, r.fl, r.seq, r.ack, r.n, got, r.want)
		}
		if v.Flow != r.flow {
			t.Errorf("frame %d: flow got %d, want %d", i+1, v.Flow, r.flow)
		}
	}
	return tbl
}

// tbSumFlags adds up the wanted flags of rows per flow and direction, the
// counters a table must end with.
func tbSumFlags(rows []tbRow) map[FlowID]*[2]Counters {
	out := map[FlowID]*[2]Counters{}
	// The sending side of a row within its flow: A is whoever sent the
	// flow's first row.
	first := map[FlowID]Side{}
	for i, r := range rows {
		if _, ok := first[r.flow]; !ok {
			first[r.flow] = r.from
		}
		d := SideA
		if r.from != first[r.flow] {
			d = SideB
		}
		if out[r.flow] == nil {
			out[r.flow] = new([2]Counters)
		}
		c := &out[r.flow][d]
		var fl AnalysisFlag
		for _, name := range strings.Split(r.want, ",") {
			for b, n := range anFlagNames {
				if n == name {
					fl |= 1 << b
				}
			}
		}
		anCount(c, fl)
		s := r.segment(i)
		c.Packets++
		c.PayloadBytes += uint64(s.PayloadLen)
		c.FrameBytes += uint64(s.FrameLen)
		switch {
		case s.Flags&(FlagSYN|FlagACK) == FlagSYN|FlagACK:
			c.SYNACK++
		case s.Flags&FlagSYN != 0:
			c.SYN++
		}
		if s.Flags&FlagFIN != 0 {
			c.FIN++
		}
		if s.Flags&FlagRST != 0 {
			c.RST++
		}
	}
	return out
}

// Conversations.

// dxRun collects the segments of several conversations.
type dxRun struct {
	segs  []Segment
	convs int
}

// dxConv builds one connection's segments with consistent seq/ack numbers.
// Side A is the client (10.0.0.1, TTL 64: the capturing host), side B the
// server one hop away (TTL 63).
type dxConv struct {
	run *dxRun
	ep  [2]netip.AddrPort
	nxt [2]uint32
	ttl [2]uint8
	id  [2]uint16
	win [2]uint16
	ms  float64
}

// conv starts a connection from the next client port to server.
func (r *dxRun) conv(server string) *dxConv {
	r.convs++
	return &dxConv{
		run: r,
		ep: [2]netip.AddrPort{
			netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(40000+r.convs)),
			netip.MustParseAddrPort(server),
		},
		nxt: [2]uint32{1000 * uint32(r.convs), 5_000_000},
		ttl: [2]uint8{64, 63},
		id:  [2]uint16{100, 7000},
		win: [2]uint16{502, 509},
	}
}

// at sets the time (ms after tbT0) of the next segment.
func (c *dxConv) at(ms float64) *dxConv { c.ms = ms; return c }

// emit appends one segment from side from, with timestamps (and on a SYN
// the options Linux sends); edit, when set, adjusts it first. A segment at
// the sender's next sequence number advances it.
func (c *dxConv) emit(from Side, fl TCPFlags, n uint32, edit func(*segSpec)) *dxConv {
	to := from.Other()
	p := segSpec{
		ts: tbT0 + int64(c.ms*1e6), src: c.ep[from], dst: c.ep[to], flags: fl,
		seq: c.nxt[from], ack: c.nxt[to], n: n, win: c.win[from],
		ttl: c.ttl[from], ipid: c.id[from], tsopt: true,
	}
	if fl&FlagSYN != 0 {
		p.wscale, p.mss, p.sackOK = 7+1, 1460, true
		if fl&FlagACK == 0 {
			p.ack = 0
		}
	}
	c.id[from]++
	if edit != nil {
		edit(&p)
	}
	s := p.segment()
	if s.Seq == c.nxt[from] {
		c.nxt[from] += s.SeqLen()
	}
	c.run.segs = append(c.run.segs, s)
	c.ms += 0.05
	return c
}

// handshake sends the SYN, SYN/ACK and ACK.
func (c *dxConv) handshake() *dxConv {
	return c.emit(SideA, FlagSYN, 0, nil).emit(SideB, FlagSYN|FlagACK, 0, nil).emit(SideA, FlagACK, 0, nil)
}

// data sends n bytes from a side and the other side's ACK.
func (c *dxConv) data(from Side, n uint32) *dxConv {
	return c.emit(from, FlagACK|FlagPSH, n, nil).emit(from.Other(), FlagACK, 0, nil)
}

// fin sends a FIN from a side and the other side's ACK.
func (c *dxConv) fin(from Side) *dxConv {
	return c.emit(from, FlagFIN|FlagACK, 0, nil).emit(from.Other(), FlagACK, 0, nil)
}

// rstSocket: a RST/ACK from the connection's socket (abort).
func (c *dxConv) rstSocket(from Side) *dxConv { return c.emit(from, FlagRST|FlagACK, 0, nil) }

// rstStateless: Linux's stateless RST answering an ACK-bearing segment,
// sent with the given TTL.
func (c *dxConv) rstStateless(from Side, ttl uint8) *dxConv {
	return c.emit(from, FlagRST, 0, func(p *segSpec) {
		p.ack, p.win, p.ipid, p.ttl, p.tsopt = 0, 0, 0, ttl, false
	})
}

// keepalive: an empty probe at SND.NXT-1.
func (c *dxConv) keepalive(from Side) *dxConv {
	return c.emit(from, FlagACK, 0, func(p *segSpec) { p.seq-- })
}

// resend retransmits n bytes from seq.
func (c *dxConv) resend(from Side, seq, n uint32) *dxConv {
	return c.emit(from, FlagACK|FlagPSH, n, func(p *segSpec) { p.seq = seq })
}

// dxSnapshot plays the run through a Table in time order and returns the
// snapshot taken at nowMS (0: the last packet).
func (r *dxRun) dxSnapshot(nowMS float64) Snapshot {
	segs := slices.Clone(r.segs)
	slices.SortStableFunc(segs, func(a, b Segment) int { return int(a.TS - b.TS) })
	tbl := NewTable(Config{})
	var last int64
	for i := range segs {
		segs[i].Frame = uint64(i + 1)
		tbl.Apply(&segs[i])
		last = segs[i].TS
	}
	if nowMS != 0 {
		last = tbT0 + int64(nowMS*1e6)
	}
	return tbl.Snapshot(last)
}
