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
		t.Run(fmt.Sprintf("max %d pushes %d", tt.max, tt.pushes), func(t *testing.T) {
			var r boundedRing[int]
			for i := range tt.pushes {
				if abs := r.push(i, tt.max); abs != uint64(i) {
					t.Fatalf("push %d: index got %d, want %d", i, abs, i)
				}
				if cap(r.buf) > tt.max {
					t.Fatalf("push %d: buffer cap %d beyond max %d", i, cap(r.buf), tt.max)
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

func tbSeqInts(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}
