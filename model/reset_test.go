package model

import (
	"strings"
	"testing"
)

// tbRemote is an established flow 0 where B (port 80) is 7 hops away
// (TTL 57) with a per-socket IP ID counter (100, 101, 102), A is the
// capturing host (TTL 64), and both negotiated timestamps.
var tbRemote = []tbRow{
	{ms: 0, from: tbA, fl: "S", seq: 1000, win: 1000, ts: true, ipid: 10},
	{ms: 20, from: tbB, fl: "SA", seq: 5000, ack: 1001, win: 1000, ts: true, ttl: 57, ipid: 100},
	{ms: 21, from: tbA, fl: "A", seq: 1001, ack: 5001, win: 1000, ts: true, ipid: 11},
	{ms: 22, from: tbA, fl: "PA", seq: 1001, ack: 5001, n: 10, win: 1000, ts: true, ipid: 12},
	{ms: 42, from: tbB, fl: "A", seq: 5001, ack: 1011, win: 1000, ts: true, ttl: 57, ipid: 101},
	{ms: 43, from: tbB, fl: "PA", seq: 5001, ack: 1011, n: 10, win: 1000, ts: true, ttl: 57, ipid: 102},
	{ms: 44, from: tbA, fl: "A", seq: 1011, ack: 5011, win: 1000, ts: true, ipid: 13},
}

func TestReset_Attribution(t *testing.T) {
	tests := []struct {
		name  string
		pre   []tbRow
		rst   tbRow
		after []tbRow
		want  Reset // Frame, TS and Cause are not compared
		// wantDetail must appear in the RST event's detail.
		wantDetail string
	}{
		{
			name:       "refused: stateless form",
			pre:        []tbRow{{ms: 0, from: tbA, fl: "S", seq: 1000, win: 1000}},
			rst:        tbRow{ms: 0.01, from: tbB, fl: "RA", seq: 0, ack: 1001, win: 0},
			want:       Reset{From: SideB, SenderState: StateClosed, Form: ResetStateless, Stateless: true, Effective: true},
			wantDetail: "stateless RST, effective",
		},
		{
			name: "application abort: socket form, IP ID continues",
			pre:  tbRemote,
			rst:  tbRow{ms: 60, from: tbB, fl: "RA", seq: 5011, ack: 1011, win: 1000, ts: true, ttl: 57, ipid: 103},
			want: Reset{From: SideB, SenderState: StateEstablished, Form: ResetSocket, Effective: true},
		},
		{
			name: "socket form with a foreign IP ID and TTL: middlebox suspected",
			pre:  tbRemote,
			rst:  tbRow{ms: 60, from: tbB, fl: "RA", seq: 5011, ack: 1011, win: 1000, ts: true, ttl: 61, ipid: 9000},
			want: Reset{
				From: SideB, SenderState: StateEstablished, Form: ResetSocket, Effective: true,
				TTLMismatch: true, IPIDMismatch: true, MiddleboxSuspected: true,
			},
			wantDetail: "signals: ttl,ip-id; middlebox suspected",
		},
		{
			name: "TTL alone is not enough",
			pre:  tbRemote,
			rst:  tbRow{ms: 60, from: tbB, fl: "R", seq: 5011, win: 0, ttl: 250},
			want: Reset{From: SideB, SenderState: StateEstablished, Form: ResetStateless, Stateless: true, Effective: true, TTLMismatch: true},
		},
		{
			name: "hop count within 2 of the others",
			pre:  tbRemote,
			rst:  tbRow{ms: 60, from: tbB, fl: "R", seq: 5011, win: 0, ttl: 55},
			want: Reset{From: SideB, SenderState: StateEstablished, Form: ResetStateless, Stateless: true, Effective: true},
		},
		{
			name: "no timestamps while negotiated, window 0, ID set: other form",
			pre:  tbRemote,
			rst:  tbRow{ms: 60, from: tbB, fl: "RA", seq: 5011, ack: 1011, win: 0, ttl: 57, ipid: 103},
			want: Reset{From: SideB, SenderState: StateEstablished, Form: ResetOther, Effective: true},
			// one signal: not suspected
			wantDetail: "other RST, effective; signals: options",
		},
		{
			name: "sent by the capturing host: never suspected",
			pre:  tbRemote,
			rst:  tbRow{ms: 60, from: tbA, fl: "RA", seq: 1011, ack: 5011, win: 1000, ipid: 7000},
			want: Reset{From: SideA, SenderState: StateEstablished, Form: ResetOther, Effective: true},
		},
		{
			name:  "the claimed sender keeps talking: forged",
			pre:   tbRemote,
			rst:   tbRow{ms: 60, from: tbB, fl: "R", seq: 5011, win: 0, ttl: 57},
			after: []tbRow{{ms: 61, from: tbB, fl: "PA", seq: 5011, ack: 1011, n: 10, win: 1000, ts: true, ttl: 57, ipid: 103}},
			want: Reset{
				From: SideB, SenderState: StateEstablished, Form: ResetStateless, Stateless: true,
				Effective: true, MiddleboxSuspected: true,
			},
			wantDetail: "signals: race; middlebox suspected",
		},
		{
			name:  "the receiver keeps sending new data: not effective",
			pre:   tbRemote,
			rst:   tbRow{ms: 60, from: tbB, fl: "R", seq: 5011, win: 0, ttl: 57},
			after: []tbRow{{ms: 200, from: tbA, fl: "PA", seq: 1011, ack: 5011, n: 10, win: 1000, ts: true, ipid: 14}},
			want:  Reset{From: SideB, SenderState: StateEstablished, Form: ResetStateless, Stateless: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := append(append(tt.pre[:len(tt.pre):len(tt.pre)], tt.rst), tt.after...)
			tbl := NewTable(Config{})
			for i, r := range rows {
				s := r.segment(i)
				tbl.Apply(&s)
			}
			f, _ := tbl.Lookup(0)
			if len(f.Resets) != 1 {
				t.Fatalf("resets got %d, want 1", len(f.Resets))
			}
			got := f.Resets[0]
			got.Frame, got.TS = 0, 0
			if got != tt.want {
				t.Errorf("reset:\n got %+v\nwant %+v", got, tt.want)
			}
			var detail string
			for _, e := range f.Events {
				if e.Kind == EventRST {
					detail = e.Detail
				}
			}
			if tt.wantDetail != "" && !strings.Contains(detail, tt.wantDetail) {
				t.Errorf("RST event detail got %q, want it to contain %q", detail, tt.wantDetail)
			}
			if strings.Contains(detail, "middlebox suspected") != got.MiddleboxSuspected {
				t.Errorf("RST event detail %q does not match the reset %+v", detail, got)
			}
		})
	}
}

// TestReset_DisprovedRestoresState: a disproved RST gives the endpoint its
// state back, and the flow counts as open again.
func TestReset_DisprovedRestoresState(t *testing.T) {
	tests := []struct {
		name  string
		after tbRow
		want  [2]State
	}{
		{"receiver alive", tbRow{ms: 200, from: tbA, fl: "PA", seq: 1011, ack: 5011, n: 10, win: 1000, ts: true}, [2]State{StateEstablished, StateClosed}},
		{"claimed sender alive", tbRow{ms: 61, from: tbB, fl: "PA", seq: 5011, ack: 1011, n: 10, win: 1000, ts: true, ttl: 57}, [2]State{StateClosed, StateEstablished}},
		{"crossing data within an RTT", tbRow{ms: 60.5, from: tbA, fl: "PA", seq: 1011, ack: 5011, n: 10, win: 1000, ts: true}, [2]State{StateClosed, StateClosed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := append(tbRemote[:len(tbRemote):len(tbRemote)],
				tbRow{ms: 60, from: tbB, fl: "R", seq: 5011, win: 0, ttl: 57}, tt.after)
			tbl := NewTable(Config{})
			for i, r := range rows {
				s := r.segment(i)
				tbl.Apply(&s)
			}
			f, _ := tbl.Lookup(0)
			if f.State != tt.want {
				t.Errorf("states got %s/%s, want %s/%s (%s)", f.State[0], f.State[1], tt.want[0], tt.want[1], tbTransitions(&f))
			}
		})
	}
}

func TestReset_FormOf(t *testing.T) {
	tests := []struct {
		name  string
		s     Segment
		tsNeg bool
		want  ResetForm
	}{
		{"IPv4 ID 0, window 0, no options", Segment{Flags: FlagRST}, false, ResetStateless},
		{"IPv6 window 0, no options", Segment{Flags: FlagRST | FlagACK, IPv6: true, IPID: 0}, true, ResetStateless},
		{"IPv4 ID set", Segment{Flags: FlagRST, IPID: 5}, false, ResetOther},
		{"RST|ACK, window, timestamps", Segment{Flags: FlagRST | FlagACK, Window: 64, IPID: 9, Opts: TCPOptions{Timestamps: true, Len: 12}}, true, ResetSocket},
		{"RST|ACK, window, timestamps missing", Segment{Flags: FlagRST | FlagACK, Window: 64, IPID: 9}, true, ResetOther},
		{"RST|ACK, window, none negotiated", Segment{Flags: FlagRST | FlagACK, Window: 64, IPID: 9}, false, ResetSocket},
	}
	for _, tt := range tests {
		if got := rstForm(&tt.s, tt.tsNeg); got != tt.want {
			t.Errorf("%s: form got %s, want %s", tt.name, got, tt.want)
		}
	}
}
