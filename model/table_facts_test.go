package model

import (
	"slices"
	"testing"
)

// TestTable_Facts checks the FlowFacts a Table publishes for the
// diagnosis. Expectations name frames (1-based, in time order); the test
// turns them into times.
func TestTable_Facts(t *testing.T) {
	type span [2]int // {from frame, to frame}; {0, 0}: none
	tests := []struct {
		name  string
		build func(r *dxRun)
		last  [2]int // each side's last frame
		data  [2]int // each side's last data frame (0: none)
		fin   [2]span
		rto   [2]span
		pause span
		// pauseSide, pauseData describe the segment that ended the pause.
		pauseSide Side
		pauseData bool
		hops      []ResetHop
	}{
		{name: "keep-alives and their ACKs do not break a pause; the FIN ends it", build: func(r *dxRun) {
			// 1-3 handshake, 4-5 A's data, 6-7 B's data, 8 a 1-byte
			// keep-alive, 9 its ACK, 10-11 B's FIN.
			r.conv("10.0.0.2:80").handshake().data(SideA, 6).data(SideB, 3).at(1500).
				emit(SideA, FlagACK, 1, func(p *segSpec) { p.seq-- }).emit(SideB, FlagACK, 0, nil).at(3000).fin(SideB)
		}, last: [2]int{11, 10}, data: [2]int{4, 6}, fin: [2]span{{}, {6, 10}},
			pause: span{6, 10}, pauseSide: SideB},
		{name: "data after a long quiet ends a pause", build: func(r *dxRun) {
			// 1-3 handshake, 4-5 A's data, 6-7 A's data 2 s later.
			r.conv("10.0.0.2:80").handshake().data(SideA, 6).at(2000).data(SideA, 7)
		}, last: [2]int{6, 7}, data: [2]int{6, 0}, pause: span{4, 6}, pauseSide: SideA, pauseData: true},
		{name: "a quiet shorter than PauseMin is no pause", build: func(r *dxRun) {
			r.conv("10.0.0.2:80").handshake().data(SideA, 6).at(900).data(SideA, 7)
		}, last: [2]int{6, 7}, data: [2]int{6, 0}},
		{name: "a timeout retransmission dates the RTO from the peer's last segment", build: func(r *dxRun) {
			// 1-3 handshake, 4-5 A's data, 6 A's data never ACKed, 7 and 8 its retransmissions.
			c := r.conv("10.0.0.2:80").handshake().data(SideA, 6).at(100)
			seq := c.nxt[SideA]
			c.emit(SideA, FlagACK|FlagPSH, 7, nil).at(300).resend(SideA, seq, 7).at(700).resend(SideA, seq, 7)
		}, last: [2]int{8, 5}, data: [2]int{8, 0}, rto: [2]span{{5, 8}, {}}},
		{name: "a RST one hop closer than its sender", build: func(r *dxRun) {
			// 1-3 handshake, 4-5 A's data, 6-7 B's data, 8 A's data, 9 the RST.
			r.conv("10.0.0.2:80").handshake().data(SideA, 6).data(SideB, 3).at(100).
				emit(SideA, FlagACK|FlagPSH, 7, nil).rstStateless(SideB, 64)
		}, last: [2]int{8, 9}, data: [2]int{8, 6}, hops: []ResetHop{{Frame: 9, Delta: -1, SenderHops: 1}}},
		{name: "a RST from another initial TTL", build: func(r *dxRun) {
			r.conv("10.0.0.2:80").handshake().data(SideA, 6).data(SideB, 3).at(100).
				emit(SideA, FlagACK|FlagPSH, 7, nil).rstStateless(SideB, 128)
		}, last: [2]int{8, 9}, data: [2]int{8, 6}, hops: []ResetHop{{Frame: 9, ClassDiffers: true, SenderHops: 1}}},
		{name: "a sender mixing initial TTLs gives no hop comparison", build: func(r *dxRun) {
			c := r.conv("10.0.0.2:80").handshake().data(SideA, 6).data(SideB, 3)
			c.ttl[SideB] = 120
			c.data(SideB, 3).at(100).emit(SideA, FlagACK|FlagPSH, 7, nil).rstStateless(SideB, 64)
		}, last: [2]int{10, 11}, data: [2]int{10, 8}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r dxRun
			tc.build(&r)
			snap := r.dxSnapshot(0)
			if len(snap.Flows) != 1 {
				t.Fatalf("flows got %d, want 1", len(snap.Flows))
			}
			segs := slices.Clone(r.segs)
			slices.SortStableFunc(segs, func(a, b Segment) int { return int(a.TS - b.TS) })
			ts := func(frame int) int64 {
				if frame == 0 {
					return 0
				}
				return segs[frame-1].TS
			}
			var want FlowFacts
			want.Known = true
			want.FINQuiet = [2]int64{-1, -1}
			for s := range 2 {
				want.LastTS[s] = ts(tc.last[s])
				want.LastDataTS[s], want.LastDataFrame[s] = ts(tc.data[s]), uint64(tc.data[s])
				if sp := tc.fin[s]; sp != (span{}) {
					want.FINQuiet[s] = ts(sp[1]) - ts(sp[0])
				}
				if sp := tc.rto[s]; sp != (span{}) {
					want.MaxRTO[s] = ts(sp[1]) - ts(sp[0])
				}
			}
			if tc.pause != (span{}) {
				end := segs[tc.pause[1]-1]
				want.Pause = Pause{From: ts(tc.pause[0]), To: end.TS, Frame: uint64(tc.pause[1]),
					Side: tc.pauseSide, Flags: end.Flags, Data: tc.pauseData}
			}
			want.ResetHops = tc.hops
			got := snap.Flows[0].Facts
			if got.Known != want.Known || got.LastTS != want.LastTS || got.LastDataTS != want.LastDataTS ||
				got.LastDataFrame != want.LastDataFrame || got.FINQuiet != want.FINQuiet || got.MaxRTO != want.MaxRTO ||
				got.Pause != want.Pause || !slices.Equal(got.ResetHops, want.ResetHops) {
				t.Errorf("facts:\n got %+v\nwant %+v", got, want)
			}
			if h, ok := got.ResetHop(9); ok != (len(tc.hops) > 0 && tc.hops[0].Frame == 9) || ok && h != tc.hops[0] {
				t.Errorf("ResetHop(9) got %+v, %v; want the entry of frame 9 exactly when listed", h, ok)
			}
		})
	}
	var none *FlowFacts
	if _, ok := none.ResetHop(1); ok {
		t.Error("ResetHop on nil facts got ok, want none")
	}
}

// TestTable_ColdPartOnFirstUse checks that a flow without any rare fact
// holds no cold part and still publishes the defaults (no FIN quiet: -1),
// and that its first data segment gives it one.
func TestTable_ColdPartOnFirstUse(t *testing.T) {
	tbl := NewTable(Config{})
	segs := tbFlowSegs(0, tbT0)
	for i := range 4 {
		s := segs[2] // plain ACKs both ways: a mid-stream flow, no transition
		if i%2 == 1 {
			s.Src, s.Dst, s.Seq, s.Ack = s.Dst, s.Src, s.Ack, s.Seq
		}
		s.TS += int64(i) * 1e6
		tbl.Apply(&s)
	}
	f := tbl.slot(0)
	if f.cold != nil {
		t.Fatalf("plain ACKs allocated the cold part: %+v", *f.cold)
	}
	fl, _ := tbl.Lookup(0)
	if got := fl.Facts.FINQuiet; got != [2]int64{-1, -1} || fl.Facts.LastDataTS != [2]int64{} ||
		fl.AckRTT != [2]RTTStats{} || fl.Transitions != nil || fl.Events != nil {
		t.Errorf("without a cold part: FINQuiet %v, LastDataTS %v, AckRTT %+v, %d transitions, %d events; want -1s and nothing",
			got, fl.Facts.LastDataTS, fl.AckRTT, len(fl.Transitions), len(fl.Events))
	}
	data := segs[3]
	data.TS += 10e6
	tbl.Apply(&data)
	fl, _ = tbl.Lookup(0)
	if f.cold == nil || fl.Facts.LastDataTS[SideA] != data.TS || fl.Facts.FINQuiet != [2]int64{-1, -1} || fl.Facts.Turns[SideA] != 1 {
		t.Errorf("after data: cold %v, LastDataTS %v, FINQuiet %v, Turns %v; want a cold part, A's data at %d, -1s, 1 turn",
			f.cold != nil, fl.Facts.LastDataTS, fl.Facts.FINQuiet, fl.Facts.Turns, data.TS)
	}
}
