package model

import (
	"fmt"
	"strings"
	"testing"
)

// tbTransitions renders a flow's transitions as "frame:side FROM>TO".
func tbTransitions(f *Flow) string {
	var b strings.Builder
	for i, tr := range f.Transitions {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%s %s>%s", tr.Frame, tr.Side, tr.From, tr.To)
	}
	return b.String()
}

// tbHandshake opens flow 0: A 10.0.0.1:40000 (ISN 1000) to B port 80 (ISN
// 5000), both with timestamps, at 0, 1 and 2 ms.
var tbHandshake = []tbRow{
	{ms: 0, from: tbA, fl: "S", seq: 1000, win: 1000, ts: true},
	{ms: 1, from: tbB, fl: "SA", seq: 5000, ack: 1001, win: 1000, ts: true},
	{ms: 2, from: tbA, fl: "A", seq: 1001, ack: 5001, win: 1000, ts: true},
}

func tbWith(rows ...tbRow) []tbRow {
	return append(append([]tbRow(nil), tbHandshake...), rows...)
}

func TestStates_WireInferred(t *testing.T) {
	open := "1:a CLOSED>SYN-SENT 2:b LISTEN>SYN-RECEIVED 2:a SYN-SENT>ESTABLISHED 3:b SYN-RECEIVED>ESTABLISHED"
	tests := []struct {
		name       string
		rows       []tbRow
		wantTrans  string
		wantA      State
		wantB      State
		wantClient Side
		inferred   bool
	}{
		{
			name: "client closes first",
			rows: tbWith(
				tbRow{ms: 3, from: tbA, fl: "PA", seq: 1001, ack: 5001, n: 10, win: 1000, ts: true},
				tbRow{ms: 4, from: tbA, fl: "FA", seq: 1011, ack: 5001, win: 1000, ts: true},
				tbRow{ms: 5, from: tbB, fl: "A", seq: 5001, ack: 1012, win: 1000, ts: true},
				tbRow{ms: 6, from: tbB, fl: "FA", seq: 5001, ack: 1012, win: 1000, ts: true},
				tbRow{ms: 7, from: tbA, fl: "A", seq: 1012, ack: 5002, win: 1000, ts: true},
			),
			wantTrans: open + " 5:a ESTABLISHED>FIN-WAIT-1 5:b ESTABLISHED>CLOSE-WAIT 6:a FIN-WAIT-1>FIN-WAIT-2" +
				" 7:b CLOSE-WAIT>LAST-ACK 7:a FIN-WAIT-2>TIME-WAIT 8:b LAST-ACK>CLOSED",
			wantA: StateTimeWait, wantB: StateClosed, wantClient: SideA,
		},
		{
			name: "server closes first, FIN with the ACK",
			rows: tbWith(
				tbRow{ms: 4, from: tbB, fl: "FA", seq: 5001, ack: 1001, win: 1000, ts: true},
				tbRow{ms: 5, from: tbA, fl: "FA", seq: 1001, ack: 5002, win: 1000, ts: true},
				tbRow{ms: 6, from: tbB, fl: "A", seq: 5002, ack: 1002, win: 1000, ts: true},
			),
			wantTrans: open + " 4:b ESTABLISHED>FIN-WAIT-1 4:a ESTABLISHED>CLOSE-WAIT" +
				" 5:a CLOSE-WAIT>LAST-ACK 5:b FIN-WAIT-1>TIME-WAIT 6:a LAST-ACK>CLOSED",
			wantA: StateClosed, wantB: StateTimeWait, wantClient: SideA,
		},
		{
			name: "simultaneous close",
			rows: tbWith(
				tbRow{ms: 4, from: tbA, fl: "FA", seq: 1001, ack: 5001, win: 1000, ts: true},
				tbRow{ms: 4.1, from: tbB, fl: "FA", seq: 5001, ack: 1001, win: 1000, ts: true},
				tbRow{ms: 5, from: tbA, fl: "A", seq: 1002, ack: 5002, win: 1000, ts: true},
				tbRow{ms: 5.1, from: tbB, fl: "A", seq: 5002, ack: 1002, win: 1000, ts: true},
			),
			wantTrans: open + " 4:a ESTABLISHED>FIN-WAIT-1 4:b ESTABLISHED>CLOSE-WAIT" +
				" 5:b CLOSE-WAIT>CLOSING 5:a FIN-WAIT-1>CLOSING 6:b CLOSING>TIME-WAIT 7:a CLOSING>TIME-WAIT",
			wantA: StateTimeWait, wantB: StateTimeWait, wantClient: SideA,
		},
		{
			name: "refused",
			rows: []tbRow{
				{ms: 0, from: tbA, fl: "S", seq: 1000, win: 1000},
				{ms: 0.01, from: tbB, fl: "RA", seq: 0, ack: 1001, win: 0},
			},
			wantTrans: "1:a CLOSED>SYN-SENT 2:b UNKNOWN>CLOSED 2:a SYN-SENT>CLOSED",
			wantA:     StateClosed, wantB: StateClosed, wantClient: SideA,
		},
		{
			name: "mid-stream start",
			rows: []tbRow{
				{ms: 0, from: tbB, fl: "PA", seq: 5000, ack: 1000, n: 10, win: 1000},
				{ms: 1, from: tbA, fl: "A", seq: 1000, ack: 5010, win: 1000},
			},
			wantA: StateEstablished, wantB: StateEstablished,
			// A is the first sender (port 80): the client is port 40000.
			wantClient: SideB, inferred: true,
		},
		{
			name: "simultaneous open",
			rows: []tbRow{
				{ms: 0, from: tbA, fl: "S", seq: 1000, win: 1000},
				{ms: 0.1, from: tbB, fl: "S", seq: 5000, win: 1000},
				{ms: 1, from: tbA, fl: "SA", seq: 1000, ack: 5001, win: 1000, want: "retrans"},
				{ms: 1.1, from: tbB, fl: "SA", seq: 5000, ack: 1001, win: 1000, want: "retrans"},
			},
			wantTrans: "1:a CLOSED>SYN-SENT 2:b UNKNOWN>SYN-SENT 2:a SYN-SENT>SYN-RECEIVED" +
				" 3:b SYN-SENT>ESTABLISHED 4:a SYN-RECEIVED>ESTABLISHED",
			wantA: StateEstablished, wantB: StateEstablished, wantClient: SideA,
		},
		{
			name: "half-open: stale server, client in SYN-SENT resets it",
			rows: []tbRow{
				{ms: 0, from: tbA, fl: "S", seq: 1000, win: 1000},
				{ms: 0.1, from: tbB, fl: "A", seq: 7000, ack: 3000, win: 1000, want: "ack-lost-segment"}, // challenge ACK
				{ms: 0.2, from: tbA, fl: "R", seq: 3000, win: 0},
				{ms: 15, from: tbA, fl: "S", seq: 1000, win: 1000, want: "retrans"},
				{ms: 15.1, from: tbB, fl: "SA", seq: 9000, ack: 1001, win: 1000, want: "lost-segment,reused-ports"},
				{ms: 15.2, from: tbA, fl: "A", seq: 1001, ack: 9001, win: 1000, want: "ack-lost-segment"},
			},
			wantTrans: "1:a CLOSED>SYN-SENT 2:b UNKNOWN>ESTABLISHED 3:b ESTABLISHED>CLOSED" +
				" 5:b CLOSED>SYN-RECEIVED 5:a SYN-SENT>ESTABLISHED 6:b SYN-RECEIVED>ESTABLISHED",
			wantA: StateEstablished, wantB: StateEstablished, wantClient: SideA,
		},
		{
			name: "accept queue full: server resends SYN/ACK after the ACK",
			rows: tbWith(
				tbRow{ms: 1000, from: tbB, fl: "SA", seq: 5000, ack: 1001, win: 1000, ts: true, want: "retrans"},
			),
			wantTrans: open + " 4:b ESTABLISHED>SYN-RECEIVED",
			wantA:     StateEstablished, wantB: StateSynReceived, wantClient: SideA,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := tbPlay(t, Config{}, tt.rows)
			f, ok := tbl.Lookup(0)
			if !ok {
				t.Fatal("flow 0 missing")
			}
			if got := tbTransitions(&f); got != tt.wantTrans {
				t.Errorf("transitions:\n got %s\nwant %s", got, tt.wantTrans)
			}
			if f.State != [2]State{tt.wantA, tt.wantB} {
				t.Errorf("states got %s/%s, want %s/%s", f.State[0], f.State[1], tt.wantA, tt.wantB)
			}
			if f.Client != tt.wantClient || f.RoleInferred != tt.inferred {
				t.Errorf("client got %s (inferred %v), want %s (inferred %v)", f.Client, f.RoleInferred, tt.wantClient, tt.inferred)
			}
		})
	}
}

// TestStates_RSTInEachState checks the receiver's acceptance rules (§4.4)
// and that the sender always ends CLOSED.
func TestStates_RSTInEachState(t *testing.T) {
	est := tbWith(tbRow{ms: 3, from: tbA, fl: "PA", seq: 1001, ack: 5001, n: 10, win: 1000, ts: true})
	tests := []struct {
		name          string
		rows          []tbRow
		rst           tbRow
		wantSender    State // sender's state before the RST
		wantEffective bool
		wantA, wantB  State
	}{
		{
			name:       "established, exact seq",
			rows:       est,
			rst:        tbRow{ms: 10, from: tbB, fl: "RA", seq: 5001, ack: 1011, win: 1000, ts: true},
			wantSender: StateEstablished, wantEffective: true,
			wantA: StateClosed, wantB: StateClosed,
		},
		{
			name:       "established, in window but not exact: challenge ACK, no effect",
			rows:       est,
			rst:        tbRow{ms: 10, from: tbB, fl: "R", seq: 5100, win: 0},
			wantSender: StateEstablished, wantEffective: false,
			wantA: StateEstablished, wantB: StateClosed,
		},
		{
			name:       "SYN-SENT, RST without ACK is ignored",
			rows:       tbHandshake[:1],
			rst:        tbRow{ms: 1, from: tbB, fl: "R", seq: 0, win: 0},
			wantSender: StateUnknown, wantEffective: false,
			wantA: StateSynSent, wantB: StateClosed,
		},
		{
			name:       "SYN-RECEIVED server goes back to LISTEN",
			rows:       tbHandshake[:2],
			rst:        tbRow{ms: 2, from: tbA, fl: "R", seq: 1001, win: 0},
			wantSender: StateEstablished, wantEffective: true,
			wantA: StateClosed, wantB: StateListen,
		},
		{
			name: "CLOSE-WAIT takes rcv_nxt-1",
			rows: append(est[:len(est):len(est)],
				tbRow{ms: 4, from: tbA, fl: "FA", seq: 1011, ack: 5001, win: 1000, ts: true},
				tbRow{ms: 5, from: tbB, fl: "A", seq: 5001, ack: 1012, win: 1000, ts: true},
			),
			rst:        tbRow{ms: 6, from: tbA, fl: "R", seq: 1011, win: 0},
			wantSender: StateFinWait2, wantEffective: true,
			wantA: StateClosed, wantB: StateClosed,
		},
		{
			name: "TIME-WAIT killed by an exact RST",
			rows: append(est[:len(est):len(est)],
				tbRow{ms: 4, from: tbA, fl: "FA", seq: 1011, ack: 5001, win: 1000, ts: true},
				tbRow{ms: 5, from: tbB, fl: "FA", seq: 5001, ack: 1012, win: 1000, ts: true},
				tbRow{ms: 6, from: tbA, fl: "A", seq: 1012, ack: 5002, win: 1000, ts: true},
			),
			rst:        tbRow{ms: 7, from: tbB, fl: "R", seq: 5002, win: 0},
			wantSender: StateClosed, wantEffective: true,
			wantA: StateClosed, wantB: StateClosed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := append(tt.rows[:len(tt.rows):len(tt.rows)], tt.rst)
			tbl := tbPlay(t, Config{}, rows)
			f, _ := tbl.Lookup(0)
			if len(f.Resets) != 1 {
				t.Fatalf("resets got %d, want 1", len(f.Resets))
			}
			r := f.Resets[0]
			if r.From != tt.rst.from || r.SenderState != tt.wantSender || r.Effective != tt.wantEffective {
				t.Errorf("reset got from %s sender %s effective %v, want %s %s %v",
					r.From, r.SenderState, r.Effective, tt.rst.from, tt.wantSender, tt.wantEffective)
			}
			if f.State != [2]State{tt.wantA, tt.wantB} {
				t.Errorf("states got %s/%s, want %s/%s (%s)", f.State[0], f.State[1], tt.wantA, tt.wantB, tbTransitions(&f))
			}
		})
	}
}
