package model

import (
	"net/netip"
	"testing"
)

func ids(es []*FlowEntry) []FlowID {
	out := make([]FlowID, len(es))
	for i, e := range es {
		out[i] = e.Flow.ID
	}
	return out
}

func TestSortEntries_EveryKey(t *testing.T) {
	tests := []struct {
		key      SortKey
		wantAsc  []FlowID
		wantDesc []FlowID
	}{
		{SortID, []FlowID{0, 1, 2}, []FlowID{2, 1, 0}},
		// local: client 10.0.0.1 (flow 0), fe80::2 (flow 1 local B), 192.168.1.5 (flow 2)
		{SortLocal, []FlowID{0, 2, 1}, []FlowID{1, 2, 0}},
		{SortRemote, []FlowID{0, 2, 1}, []FlowID{1, 2, 0}},
		// local states: ESTABLISHED (0), LISTEN from the kernel (1), ESTABLISHED (2)
		{SortState, []FlowID{1, 0, 2}, []FlowID{0, 2, 1}},
		{SortProc, []FlowID{0, 1, 2}, []FlowID{2, 1, 0}},
		// first packets at 1 s, 5 s, 0 s: the oldest has the largest age
		{SortAge, []FlowID{1, 0, 2}, []FlowID{2, 0, 1}},
		// last packets at 2 s, 5 s, 1 s
		{SortIdle, []FlowID{1, 0, 2}, []FlowID{2, 0, 1}},
		{SortBytesIn, []FlowID{1, 2, 0}, []FlowID{0, 1, 2}},
		{SortBytesOut, []FlowID{1, 2, 0}, []FlowID{0, 1, 2}},
		{SortRate, []FlowID{1, 2, 0}, []FlowID{0, 1, 2}},
		{SortRetrans, []FlowID{1, 2, 0}, []FlowID{0, 1, 2}},
		{SortRST, []FlowID{1, 2, 0}, []FlowID{0, 1, 2}},
		{SortZeroWin, []FlowID{1, 2, 0}, []FlowID{0, 1, 2}},
		{SortRTT, []FlowID{2, 0, 1}, []FlowID{1, 0, 2}},
		{SortFinding, []FlowID{1, 2, 0}, []FlowID{0, 1, 2}},
	}
	for _, tc := range tests {
		es := filterFixtures()
		SortEntries(es, tc.key, false)
		if got := ids(es); !equalIDs(got, tc.wantAsc) {
			t.Errorf("sort by %v ascending: got %v, want %v", tc.key, got, tc.wantAsc)
		}
		SortEntries(es, tc.key, true)
		if got := ids(es); !equalIDs(got, tc.wantDesc) {
			t.Errorf("sort by %v descending: got %v, want %v", tc.key, got, tc.wantDesc)
		}
	}
}

func TestSortEntries_TiesKeepAscendingIDBothWays(t *testing.T) {
	var es []*FlowEntry
	for _, id := range []FlowID{5, 3, 9, 1} {
		es = append(es, &FlowEntry{Flow: &Flow{ID: id, A: netip.MustParseAddrPort("10.0.0.1:1"), Client: SideA}})
	}
	for _, desc := range []bool{false, true} {
		SortEntries(es, SortRetrans, desc)
		if got, want := ids(es), []FlowID{1, 3, 5, 9}; !equalIDs(got, want) {
			t.Errorf("equal keys, desc=%v: got %v, want %v", desc, got, want)
		}
	}
}

func TestSortKey_NamesRoundTrip(t *testing.T) {
	for k := SortKey(0); k < NumSortKeys; k++ {
		got, ok := ParseSortKey(k.String())
		if !ok || got != k {
			t.Errorf("ParseSortKey(%q): got %v, %v; want %v, true", k.String(), got, ok, k)
		}
	}
	if _, ok := ParseSortKey("nope"); ok {
		t.Errorf("ParseSortKey(nope): got ok, want not ok")
	}
	if got := NumSortKeys.String(); got != "unknown" {
		t.Errorf("out-of-range key: got %q, want unknown", got)
	}
}

func TestFlowEntry_LocalSideFallsBackToClient(t *testing.T) {
	f := &Flow{A: netip.MustParseAddrPort("10.0.0.1:1"), B: netip.MustParseAddrPort("10.0.0.2:2")}
	tests := []struct {
		local, client Side
		want          Side
	}{
		{SideB, SideA, SideB},
		{SideNone, SideB, SideB},
		{SideNone, SideNone, SideA},
	}
	for _, tc := range tests {
		f.Client = tc.client
		e := FlowEntry{Flow: f, Local: tc.local}
		if got := e.LocalSide(); got != tc.want {
			t.Errorf("local=%v client=%v: got local side %v, want %v", tc.local, tc.client, got, tc.want)
		}
		if got := e.RemoteSide(); got != tc.want.Other() {
			t.Errorf("local=%v client=%v: got remote side %v, want %v", tc.local, tc.client, got, tc.want.Other())
		}
	}
}

// TestSortEntries_KeyedMatchesComparator checks the one-word keys against
// the comparator on flows whose values collide and go negative-adjacent.
func TestSortEntries_KeyedMatchesComparator(t *testing.T) {
	var es []*FlowEntry
	for i := 0; i < 300; i++ {
		f := &Flow{ID: FlowID(i), A: netip.MustParseAddrPort("10.0.0.1:1"), Client: SideA,
			FirstTS: int64(i%7) * 1e9, LastTS: int64(i%5) * 1e9, IRTT: int64(i % 3 * 1000),
			State: [2]State{State(i % 12), State(i % 5)}}
		f.Dir[0] = Counters{PayloadBytes: uint64(i % 11), RST: uint32(i % 2), Retransmission: uint32(i % 4)}
		f.Dir[1] = Counters{PayloadBytes: uint64(i % 13), ZeroWindow: uint32(i % 3)}
		e := &FlowEntry{Flow: f, Local: SideNone, Rate: float64(i%9) / 2}
		for j := 0; j < i%3; j++ {
			e.Findings = append(e.Findings, Finding{Label: FindingRefused, Severity: Severity(i % 3)})
		}
		es = append(es, e)
	}
	for k := SortKey(0); k < NumSortKeys; k++ {
		for _, desc := range []bool{false, true} {
			got := append([]*FlowEntry(nil), es...)
			SortEntries(got, k, desc)
			for i := 1; i < len(got); i++ {
				c := compareKey(got[i-1], got[i], k)
				if desc {
					c = -c
				}
				if c > 0 || (c == 0 && got[i-1].Flow.ID > got[i].Flow.ID) {
					t.Errorf("sort by %v desc=%v: flows %d then %d are out of order", k, desc, got[i-1].Flow.ID, got[i].Flow.ID)
					break
				}
			}
		}
	}
}
