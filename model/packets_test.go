package model

import "testing"

func frames(fp FlowPackets) []uint64 {
	out := make([]uint64, len(fp.Records))
	for i, r := range fp.Records {
		out[i] = r.Frame
	}
	return out
}

func equalFrames(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPacketLog_KeepsHeadAndNewestTail(t *testing.T) {
	tests := []struct {
		name        string
		n           uint64
		wantFrames  []uint64
		wantGapAt   int
		wantSkipped uint64
	}{
		{"fewer than head", 2, []uint64{1, 2}, 2, 0},
		{"head and part of tail", 5, []uint64{1, 2, 3, 4, 5}, 3, 0},
		{"head and full tail", 6, []uint64{1, 2, 3, 4, 5, 6}, 3, 0},
		{"tail wraps once", 8, []uint64{1, 2, 3, 6, 7, 8}, 3, 2},
		{"tail wraps many times", 100, []uint64{1, 2, 3, 98, 99, 100}, 3, 94},
	}
	for _, tc := range tests {
		l := NewPacketLog(PacketLogConfig{Head: 3, Tail: 3, MaxRecords: 100})
		for f := uint64(1); f <= tc.n; f++ {
			l.Add(7, PacketRecord{Frame: f})
		}
		fp, ok := l.Flow(7)
		if !ok {
			t.Fatalf("%s: got no log, want one", tc.name)
		}
		if got := frames(fp); !equalFrames(got, tc.wantFrames) {
			t.Errorf("%s: got frames %v, want %v", tc.name, got, tc.wantFrames)
		}
		if fp.GapAt != tc.wantGapAt || fp.Skipped != tc.wantSkipped {
			t.Errorf("%s: got gap at %d skipping %d, want at %d skipping %d", tc.name, fp.GapAt, fp.Skipped, tc.wantGapAt, tc.wantSkipped)
		}
		if got := l.Stats().Records; got != len(tc.wantFrames) {
			t.Errorf("%s: got %d records held, want %d", tc.name, got, len(tc.wantFrames))
		}
	}
}

func TestPacketLog_EvictsLeastRecentlyActiveFlow(t *testing.T) {
	l := NewPacketLog(PacketLogConfig{Head: 2, Tail: 2, MaxRecords: 8})
	steps := []struct {
		flow  FlowID
		count int
	}{
		{1, 3}, {2, 3}, {1, 1}, // 1 and 2 hold 4 and 3 records
		{3, 2}, // 9 records: 2 is the least recently active
	}
	f := uint64(0)
	for _, s := range steps {
		for i := 0; i < s.count; i++ {
			f++
			l.Add(s.flow, PacketRecord{Frame: f})
		}
	}
	if _, ok := l.Flow(2); ok {
		t.Errorf("flow 2: got a log, want it evicted")
	}
	for _, id := range []FlowID{1, 3} {
		if _, ok := l.Flow(id); !ok {
			t.Errorf("flow %d: got no log, want it kept", id)
		}
	}
	st := l.Stats()
	if st.Evicted != 1 || st.EvictedRecords != 3 || st.Records != 6 || st.Flows != 2 {
		t.Errorf("stats: got %+v, want 1 eviction of 3 records, 6 records in 2 flows", st)
	}
	// The evicted flow comes back: its log says earlier packets are gone.
	l.Add(2, PacketRecord{Frame: 99})
	fp, _ := l.Flow(2)
	if !fp.Restarted || !equalFrames(frames(fp), []uint64{99}) {
		t.Errorf("flow 2 after eviction: got %+v, want a restarted log holding frame 99", fp)
	}
}

func TestPacketLog_ForgetReleasesRecords(t *testing.T) {
	l := NewPacketLog(PacketLogConfig{Head: 1, Tail: 4, MaxRecords: 100})
	for i := 0; i < 4; i++ {
		l.Add(1, PacketRecord{Frame: uint64(i)})
		l.Add(2, PacketRecord{Frame: uint64(i)})
	}
	l.Forget(1)
	l.Forget(42) // unknown: no effect
	if _, ok := l.Flow(1); ok {
		t.Errorf("flow 1: got a log after Forget, want none")
	}
	if st := l.Stats(); st.Records != 4 || st.Flows != 1 || st.Evicted != 0 {
		t.Errorf("stats: got %+v, want 4 records in 1 flow, no eviction", st)
	}
	l.Add(1, PacketRecord{Frame: 50})
	if fp, _ := l.Flow(1); fp.Restarted {
		t.Errorf("flow 1 re-created after Forget: got Restarted, want a fresh log")
	}
}

func TestPacketLog_CopyIsIndependent(t *testing.T) {
	l := NewPacketLog(PacketLogConfig{Head: 1, Tail: 2})
	for f := uint64(1); f <= 3; f++ {
		l.Add(1, PacketRecord{Frame: f})
	}
	fp, _ := l.Flow(1)
	l.Add(1, PacketRecord{Frame: 4})
	if got, want := frames(fp), []uint64{1, 2, 3}; !equalFrames(got, want) {
		t.Errorf("copy after a later Add: got %v, want %v", got, want)
	}
}

func BenchmarkPacketLogAdd(b *testing.B) {
	l := NewPacketLog(PacketLogConfig{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		l.Add(FlowID(i%1000), PacketRecord{Frame: uint64(i)})
	}
}
