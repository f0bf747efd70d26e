package model

import (
	"net/netip"
	"strings"
	"testing"
)

// Builders for the flow-table tests: a scenario is a list of tbRow, one
// segment each, between the endpoint pairs of tbConns.

// tbA and tbB name the sender of a row: the client-side endpoint (first
// address of the pair) or the server side.
const (
	tbA = SideA
	tbB = SideB
)

// tbT0 is the capture time of a scenario's start: 1.7e9 s, away from the
// epoch (a SYN at time 0 disables the iRTT, a quirk tested on its own).
const tbT0 = int64(1_700_000_000) * 1e9

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
	var fl TCPFlags
	for _, c := range r.fl {
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
	src, dst := tbConns[r.c][0], tbConns[r.c][1]
	if r.from == tbB {
		src, dst = dst, src
	}
	s := Segment{
		TS: tbT0 + int64(r.ms*1e6), Frame: uint64(i + 1), Src: src, Dst: dst,
		Seq: r.seq, Ack: r.ack, Window: r.win, Flags: fl, PayloadLen: r.n,
		TCPHdrLen: 20, TTL: r.ttl, IPID: r.ipid, DF: true,
		Opts: TCPOptions{WScale: -1},
	}
	if s.TTL == 0 {
		s.TTL = 64
	}
	if r.ws != 0 {
		s.Opts.WScale = r.ws - 1
		s.Opts.Len += 4
	}
	if r.ts {
		s.Opts.Timestamps = true
		s.Opts.Len += 12
	}
	s.TCPHdrLen += s.Opts.Len
	s.FrameLen = 14 + 20 + uint32(s.TCPHdrLen) + s.PayloadLen
	return s
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
