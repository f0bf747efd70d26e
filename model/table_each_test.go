package model

import (
	"reflect"
	"testing"
)

// TestTable_EachIsTheSnapshotsFlows: Each visits the flows of Snapshot,
// in its order and field for field; EachBrief the same without resets
// and events. Flows with resets, retransmissions and rings that wrapped
// are in the table, and one flow was removed.
func TestTable_EachIsTheSnapshotsFlows(t *testing.T) {
	tbl := NewTable(Config{EventRing: 8})
	for i := range 50 {
		segs := tbFlowSegs(i, int64(i)*1e9)
		if i%3 == 0 {
			// The server resets instead of its FIN; the client retransmits.
			rst := segs[6]
			rst.Flags = FlagRST | FlagACK
			segs = append(segs[:6], segs[3], rst)
		}
		for j := range segs {
			segs[j].Frame = uint64(10*i + j + 1)
			tbl.Apply(&segs[j])
		}
	}
	tbl.Expire(1 << 62) // nothing to expire without retention; the IDs stay
	snap := tbl.Snapshot(60e9)
	if len(snap.Flows) != 50 {
		t.Fatalf("%d flows in the snapshot, want 50", len(snap.Flows))
	}
	var full, brief []Flow
	tbl.Each(func(f *Flow) bool {
		c := *f
		c.Transitions = append([]Transition(nil), f.Transitions...)
		c.Resets = append([]Reset(nil), f.Resets...)
		c.Events = append([]Event(nil), f.Events...)
		c.Facts.ResetHops = append([]ResetHop(nil), f.Facts.ResetHops...)
		full = append(full, c)
		return true
	})
	tbl.EachBrief(func(f *Flow) bool {
		c := *f
		c.Transitions = append([]Transition(nil), f.Transitions...)
		brief = append(brief, c)
		return true
	})
	resets := 0
	for i := range snap.Flows {
		want := snap.Flows[i]
		resets += len(want.Resets)
		if !equalFlow(full[i], want) {
			t.Fatalf("Each flow %d:\n got %+v\nwant %+v", i, full[i], want)
		}
		want.Resets, want.Events, want.Facts.ResetHops, want.ResetsDropped, want.EventsDropped = nil, nil, nil, 0, 0
		if !equalFlow(brief[i], want) {
			t.Fatalf("EachBrief flow %d:\n got %+v\nwant %+v", i, brief[i], want)
		}
	}
	if resets == 0 {
		t.Fatal("no flow with a reset: the test compares nothing of them")
	}
	// Fill, in batches of 7, two batches alternating: each flow is the
	// snapshot's, and a batch's flows stay as filled while the other
	// batch is filled.
	var bs [2]FlowBatch
	pos, done := 0, 0
	for i := 0; ; i++ {
		b, other := &bs[i%2], &bs[1-i%2]
		next := tbl.Fill(b, pos, 7)
		if next == pos {
			break
		}
		pos = next
		for j := range other.Flows {
			if !equalFlow(other.Flows[j], snap.Flows[done-len(other.Flows)+j]) {
				t.Fatalf("batch %d changed when batch %d was filled", i-1, i)
			}
		}
		for j := range b.Flows {
			if !equalFlow(b.Flows[j], snap.Flows[done+j]) {
				t.Fatalf("Fill flow %d:\n got %+v\nwant %+v", done+j, b.Flows[j], snap.Flows[done+j])
			}
		}
		done += len(b.Flows)
	}
	if done != len(snap.Flows) {
		t.Fatalf("Fill gave %d flows, want %d", done, len(snap.Flows))
	}
	n := 0
	tbl.Each(func(*Flow) bool { n++; return n < 3 })
	if n != 3 {
		t.Errorf("Each went on after visit returned false: %d visits", n)
	}
}

// equalFlow compares flows, an empty slice equal to a nil one.
func equalFlow(a, b Flow) bool {
	norm := func(f *Flow) {
		if len(f.Transitions) == 0 {
			f.Transitions = nil
		}
		if len(f.Resets) == 0 {
			f.Resets = nil
		}
		if len(f.Events) == 0 {
			f.Events = nil
		}
		if len(f.Facts.ResetHops) == 0 {
			f.Facts.ResetHops = nil
		}
	}
	norm(&a)
	norm(&b)
	return reflect.DeepEqual(a, b)
}
