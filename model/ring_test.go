package model

import (
	"fmt"
	"testing"
)

func TestBoundedRing(t *testing.T) {
	tests := []struct {
		max, pushes int
		wantHeld    string
		wantDropped uint32
	}{
		{max: 1, pushes: 3, wantHeld: "[2]", wantDropped: 2},
		{max: 5, pushes: 3, wantHeld: "[0 1 2]", wantDropped: 0},
		{max: 5, pushes: 5, wantHeld: "[0 1 2 3 4]", wantDropped: 0},
		{max: 5, pushes: 12, wantHeld: "[7 8 9 10 11]", wantDropped: 7},
		{max: 16, pushes: 40, wantHeld: fmt.Sprint(tbSeqInts(24, 40)), wantDropped: 24},
	}
	for _, tt := range tests {
		for _, first := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("max %d pushes %d first %d", tt.max, tt.pushes, first), func(t *testing.T) {
				var r boundedRing[int]
				for i := range tt.pushes {
					if abs := r.push(i, first, tt.max); abs != uint64(i) {
						t.Fatalf("push %d: index got %d, want %d", i, abs, i)
					}
					if cap(r.buf) > tt.max || cap(r.buf) < min(first, tt.max) {
						t.Fatalf("push %d: buffer cap %d, want between the first allocation %d and max %d", i, cap(r.buf), first, tt.max)
					}
				}
				var held []int
				for i := range r.size() {
					held = append(held, *r.nth(i))
				}
				if got := fmt.Sprint(held); got != tt.wantHeld || r.dropped() != tt.wantDropped {
					t.Errorf("held %s dropped %d, want %s dropped %d", got, r.dropped(), tt.wantHeld, tt.wantDropped)
				}
				// The newest entry is reachable by its index, dropped ones are not.
				if p := r.at(uint64(tt.pushes - 1)); p == nil || *p != tt.pushes-1 {
					t.Errorf("at(newest) got %v, want %d", p, tt.pushes-1)
				}
				if tt.wantDropped > 0 && r.at(0) != nil {
					t.Errorf("at(0) got an entry, want nil after it was dropped")
				}
				if r.at(uint64(tt.pushes)) != nil {
					t.Errorf("at(next) got an entry, want nil")
				}
			})
		}
	}
}

func tbSeqInts(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

// TestTransRing_FramesFarApart checks that transitions keep their exact
// frames whether they fit the compact form or not: the ring turns to
// full records, once, at the first frame 2^32 or more past the base (or
// before it), keeping its order, its count and what it dropped.
func TestTransRing_FramesFarApart(t *testing.T) {
	const base = 1000
	frames := []uint64{base, base + 1, base + 1<<32 - 1, base + 1<<32, base + 5, base - 1, base + 1<<40, 1<<64 - 1}
	for _, max := range []int{3, 16} {
		t.Run(fmt.Sprintf("max %d", max), func(t *testing.T) {
			var r transRing
			var want []transWide
			for i, fr := range frames {
				w := transWide{ts: int64(i) * 7, frame: fr, side: Side(i & 1), cause: Side(i >> 1 & 1), from: State(i % int(numStates)), to: State((i + 1) % int(numStates))}
				r.push(w, base, max)
				want = append(want, w)
				if wide := r.wide != nil; wide != (i >= 3) {
					t.Fatalf("push %d (frame %d): full records %v, want %v", i, fr, wide, i >= 3)
				}
				held := want[len(want)-min(len(want), max):]
				if r.size() != len(held) || r.dropped() != uint32(len(want)-len(held)) {
					t.Fatalf("push %d: held %d dropped %d, want %d and %d", i, r.size(), r.dropped(), len(held), len(want)-len(held))
				}
				for j := range held {
					if got := r.nth(j, base); got != held[j] {
						t.Fatalf("push %d: entry %d got %+v, want %+v", i, j, got, held[j])
					}
				}
			}
		})
	}
}

// TestTable_TransitionFramesFarApart follows a flow whose close comes
// 2^33 frames after its opening (a long connection in a long live
// capture): its transitions and events are those of the same flow with
// close frames, frames apart.
func TestTable_TransitionFramesFarApart(t *testing.T) {
	const gap = 1 << 33
	play := func(gap uint64) (Flow, *flowState) {
		tbl := NewTable(Config{})
		for i, s := range tbFlowSegs(0, tbT0) {
			s.Frame = uint64(i + 1)
			if i >= 5 { // the FINs and the last ACK
				s.Frame += gap
			}
			tbl.Apply(&s)
		}
		fl, _ := tbl.Lookup(0)
		return fl, tbl.slot(0)
	}
	near, _ := play(0)
	far, f := play(gap)
	if f.cold.trans.wide == nil {
		t.Fatal("transitions 2^33 frames apart kept in compact records")
	}
	unshift := func(fr uint64) uint64 {
		if fr > gap {
			return fr - gap
		}
		return fr
	}
	if len(far.Transitions) != len(near.Transitions) || len(far.Transitions) != 9 || len(far.Events) != len(near.Events) {
		t.Fatalf("transitions got %d, events %d; want %d and %d", len(far.Transitions), len(far.Events), len(near.Transitions), len(near.Events))
	}
	for i, tr := range far.Transitions {
		w := near.Transitions[i]
		if w.Frame > 5 {
			w.Frame += gap
		}
		if tr != w {
			t.Errorf("transition %d got %+v, want %+v", i, tr, w)
		}
	}
	for i, ev := range far.Events {
		ev.Frame = unshift(ev.Frame)
		if ev != near.Events[i] {
			t.Errorf("event %d got %+v, want %+v", i, ev, near.Events[i])
		}
	}
}
