package model

import (
	"math"
	"testing"
)

func TestPacer_ClockMath(t *testing.T) {
	var p Pacer
	const t0 = int64(1e18)
	steps := []struct {
		name      string
		do        func()
		wall      int64
		wantClock int64
		wantDue   int64
	}{
		{"paused at start", func() {}, 5e9, 0, 0},
		{"play x1 at capture t0", func() { p.Play(10e9, t0) }, 10e9, t0, t0},
		{"1 s later", func() {}, 11e9, t0 + 1e9, t0 + 1e9},
		{"x10 from there", func() { p.SetSpeed(11e9, SpeedX10, t0) }, 12e9, t0 + 11e9, t0 + 11e9},
		{"pause freezes", func() { p.Pause(12e9) }, 50e9, t0 + 11e9, t0 + 11e9},
		{"max plays everything", func() { p.Play(50e9, t0+11e9); p.SetSpeed(50e9, SpeedMax, t0+11e9) }, 60e9, t0 + 11e9, math.MaxInt64},
		{"back to x100 from the last packet", func() { p.SetSpeed(60e9, SpeedX100, t0+30e9) }, 61e9, t0 + 130e9, t0 + 130e9},
		{"wall going backwards does not", func() {}, 0, t0 + 30e9, t0 + 30e9},
		{"move to a stepped packet", func() { p.Pause(61e9); p.MoveTo(70e9, t0+31e9) }, 80e9, t0 + 31e9, t0 + 31e9},
	}
	for _, s := range steps {
		s.do()
		if got := p.Clock(s.wall); got != s.wantClock {
			t.Errorf("%s: clock(%d): got %d, want %d", s.name, s.wall, got, s.wantClock)
		}
		if got := p.Due(s.wall); got != s.wantDue {
			t.Errorf("%s: due(%d): got %d, want %d", s.name, s.wall, got, s.wantDue)
		}
	}
	// Overflow saturates instead of wrapping.
	q := Pacer{}
	q.Play(0, math.MaxInt64-10)
	q.SetSpeed(0, SpeedX100, 0)
	if got := q.Clock(math.MaxInt64 / 2); got != math.MaxInt64 {
		t.Errorf("overflowing clock: got %d, want MaxInt64", got)
	}
}

func TestReplaySpeed_Names(t *testing.T) {
	for s, want := range map[ReplaySpeed]string{SpeedX1: "x1", SpeedX10: "x10", SpeedX100: "x100", SpeedMax: "max"} {
		if got := s.String(); got != want {
			t.Errorf("speed %d: got %q, want %q", s, got, want)
		}
	}
}
