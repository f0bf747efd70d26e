package model

import (
	"context"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// trkHandshake returns a handshake, one request and a reset on one flow,
// one packet a second from t0, as four segments with frames 1..4.
func trkHandshake(t0 int64, client, server string) []Segment {
	c, s := netip.MustParseAddrPort(client), netip.MustParseAddrPort(server)
	mk := func(i int, src, dst netip.AddrPort, fl TCPFlags, seq, ack, n uint32) Segment {
		return Segment{TS: t0 + int64(i)*1e9, Frame: uint64(i + 1), Src: src, Dst: dst, Flags: fl,
			Seq: seq, Ack: ack, PayloadLen: n, Window: 1000, TTL: 64}
	}
	return []Segment{
		mk(0, c, s, FlagSYN, 100, 0, 0),
		mk(1, s, c, FlagSYN|FlagACK, 500, 101, 0),
		mk(2, c, s, FlagACK|FlagPSH, 101, 501, 10),
		mk(3, s, c, FlagRST|FlagACK, 501, 111, 0),
	}
}

// trkWait polls cond until it holds or 10 s pass: the tracker runs on its
// own goroutine, so tests wait for the state they expect, never a time.
func trkWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// trkStart runs a tracker over batches in its own goroutine; the returned
// function cancels it and returns Run's error.
func trkStart(t *testing.T, cfg TrackerConfig, batches ...[]Segment) (*Tracker, chan []Segment, func() error) {
	t.Helper()
	tr := NewTracker(cfg)
	segs := make(chan []Segment, len(batches)+1)
	for _, b := range batches {
		segs <- b
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx, segs, nil) }()
	var once sync.Once
	var err error
	return tr, segs, func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
}

func TestTracker_ReplayStartsPausedOnFirstPacketThenSteps(t *testing.T) {
	segs := trkHandshake(1e18, "10.0.0.1:1000", "10.0.0.2:80")
	tr, _, stop := trkStart(t, TrackerConfig{PublishEvery: time.Hour}, segs[:2], segs[2:])
	defer stop()

	trkWait(t, "the first packet", func() bool { return tr.Replay().Applied == 1 })
	snap := tr.Latest()
	if snap == nil || len(snap.Flows) != 1 || snap.Flows[0].Dir[DirAB].Packets != 1 {
		t.Fatalf("after start: got snapshot %+v, want one flow with one packet", snap)
	}
	if st := tr.Replay(); st.Playing || st.Ended || st.Clock != segs[0].TS || st.Start != segs[0].TS {
		t.Errorf("after start: got status %+v, want paused at the first packet's time", st)
	}
	for want := uint64(2); want <= 4; want++ {
		tr.Control(ReplayStep)
		trkWait(t, "a step", func() bool { return tr.Replay().Applied == want })
		if got := tr.Latest().Source.Packets; got != want {
			t.Errorf("after step to %d: got snapshot with %d packets, want %d", want, got, want)
		}
		if got := tr.Replay().Clock; got != segs[want-1].TS {
			t.Errorf("after step to %d: got clock %d, want %d", want, got, segs[want-1].TS)
		}
	}
}

func TestTracker_JumpToEndAppliesEverythingAndReturns(t *testing.T) {
	a := trkHandshake(1e18, "10.0.0.1:1000", "10.0.0.2:80")
	b := trkHandshake(1e18+10e9, "10.0.0.1:1001", "10.0.0.2:80")
	for i := range b {
		b[i].Frame += 4
	}
	tr := NewTracker(TrackerConfig{StartAtEnd: true, PublishEvery: time.Hour})
	segs := make(chan []Segment, 2)
	segs <- a
	segs <- b
	close(segs)
	if err := tr.Run(context.Background(), segs, nil); err != nil {
		t.Fatalf("Run: got %v, want nil at the end of the source", err)
	}
	snap := tr.Latest()
	if len(snap.Flows) != 2 || snap.Now != b[3].TS || snap.Source.Packets != 8 {
		t.Errorf("final snapshot: got %d flows, now %d, %d packets; want 2 flows, now %d, 8 packets",
			len(snap.Flows), snap.Now, snap.Source.Packets, b[3].TS)
	}
	if st := tr.Replay(); !st.Ended || st.Playing || st.ToEnd || st.Applied != 8 {
		t.Errorf("final status: got %+v, want ended, paused, 8 applied", st)
	}
	if r := snap.Flows[0].Resets; len(r) != 1 || r[0].From != SideB {
		t.Errorf("flow 0 resets: got %+v, want one from the server (B)", r)
	}
	// Commands after the end are ignored, never blocking.
	for i := 0; i < 1000; i++ {
		tr.Control(ReplayToggle)
	}
}

func TestTracker_PlaysAtRecordedSpeed(t *testing.T) {
	var wall atomic.Int64 // the test's clock
	segs := trkHandshake(1e18, "10.0.0.1:1000", "10.0.0.2:80")
	tr, _, stop := trkStart(t, TrackerConfig{PublishEvery: time.Hour, Now: wall.Load}, segs)
	defer stop()
	trkWait(t, "the first packet", func() bool { return tr.Replay().Applied == 1 })

	tr.Control(ReplayPlay) // x1 from the first packet, at wall 0
	trkWait(t, "play", func() bool { return tr.Replay().Playing })
	wall.Store(1500e6) // 1.5 s later: packets at +0 s and +1 s are due
	trkWait(t, "the second packet", func() bool { return tr.Replay().Applied == 2 })
	if got := tr.Replay().Applied; got != 2 {
		t.Fatalf("at +1.5 s: got %d packets, want 2 (the third is due at +2 s)", got)
	}
	tr.Control(ReplayFaster) // x10 from capture time +1.5 s
	trkWait(t, "x10", func() bool { return tr.Replay().Speed == SpeedX10 })
	wall.Store(1500e6 + 160e6) // +1.6 s of capture at x10: +3.1 s, all due
	trkWait(t, "the rest", func() bool { return tr.Replay().Applied == 4 })

	tr.Control(ReplayPause)
	trkWait(t, "pause", func() bool { return !tr.Replay().Playing })
	if err := stop(); err != context.Canceled {
		t.Errorf("Run after cancel: got %v, want context.Canceled", err)
	}
}

func TestTracker_ReleasesAppliedBatches(t *testing.T) {
	segs := trkHandshake(1e18, "10.0.0.1:1000", "10.0.0.2:80")
	var released [][]Segment
	tr := NewTracker(TrackerConfig{StartAtEnd: true, Release: func(b []Segment) { released = append(released, b) }})
	ch := make(chan []Segment, 2)
	ch <- segs[:1]
	ch <- segs[1:]
	close(ch)
	if err := tr.Run(context.Background(), ch, nil); err != nil {
		t.Fatal(err)
	}
	if len(released) != 2 || len(released[0]) != 1 || len(released[1]) != 3 {
		t.Errorf("released batches: got %d (%v), want the 2 batches of 1 and 3 segments", len(released), released)
	}
}

func TestTracker_LiveAppliesAtOnceWithWallTime(t *testing.T) {
	now := func() int64 { return 4.2e18 }
	segs := trkHandshake(1e18, "10.0.0.1:1000", "10.0.0.2:80")
	tr := NewTracker(TrackerConfig{Live: true, Now: now, PublishEvery: time.Hour,
		Source: func() SourceStats { return SourceStats{Packets: 99, KernelDrops: 3} }})
	ch := make(chan []Segment, 1)
	ch <- segs
	close(ch)
	if err := tr.Run(context.Background(), ch, nil); err != nil {
		t.Fatalf("Run: got %v, want nil", err)
	}
	snap := tr.Latest()
	if snap.Now != 4.2e18 || snap.Source.Packets != 99 || snap.Source.KernelDrops != 3 {
		t.Errorf("live snapshot: got now %d source %+v, want wall time 4.2e18 and the source's counters", snap.Now, snap.Source)
	}
	if st := tr.Replay(); !st.Live || st.Applied != 4 {
		t.Errorf("live status: got %+v, want live with 4 applied", st)
	}
}

func TestTracker_PacketsCarryVerdicts(t *testing.T) {
	segs := trkHandshake(1e18, "10.0.0.1:1000", "10.0.0.2:80")
	tr := NewTracker(TrackerConfig{StartAtEnd: true})
	ch := make(chan []Segment, 1)
	ch <- segs
	close(ch)
	if err := tr.Run(context.Background(), ch, nil); err != nil {
		t.Fatal(err)
	}
	fp, ok := tr.Packets(0)
	if !ok || len(fp.Records) != 4 {
		t.Fatalf("Packets(0): got %d records (ok=%v), want 4", len(fp.Records), ok)
	}
	want := []struct {
		dir            Side
		relSeq, relAck uint32
		flags          TCPFlags
	}{
		{SideA, 0, 0, FlagSYN},
		{SideB, 0, 1, FlagSYN | FlagACK},
		{SideA, 1, 1, FlagACK | FlagPSH},
		{SideB, 1, 11, FlagRST | FlagACK},
	}
	for i, w := range want {
		r := fp.Records[i]
		if r.Dir != w.dir || r.RelSeq != w.relSeq || r.RelAck != w.relAck || r.Flags != w.flags || r.Frame != uint64(i+1) {
			t.Errorf("record %d: got %+v, want dir %v seq %d ack %d flags %v", i, r, w.dir, w.relSeq, w.relAck, w.flags)
		}
	}
	if _, ok := tr.Packets(7); ok {
		t.Errorf("Packets(7): got a log for an unknown flow")
	}
}

func TestTracker_EvictedFlowsLeaveThePacketLog(t *testing.T) {
	var segs []Segment
	for i := 0; i < 5; i++ {
		s := trkHandshake(1e18+int64(i)*10e9, "10.0.0.1:"+itoaTest(1000+i), "10.0.0.2:80")
		segs = append(segs, s[:2]...)
	}
	tr := NewTracker(TrackerConfig{StartAtEnd: true, Table: Config{MaxFlows: 2}})
	ch := make(chan []Segment, 1)
	ch <- segs
	close(ch)
	if err := tr.Run(context.Background(), ch, nil); err != nil {
		t.Fatal(err)
	}
	if got := tr.PacketLogStats().Flows; got != 2 {
		t.Errorf("packet logs after evictions: got %d flows, want 2 (the table's cap)", got)
	}
	if got := tr.Latest().Table.Evicted; got != 3 {
		t.Errorf("evicted flows: got %d, want 3", got)
	}
}

func itoaTest(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

func TestTracker_KernelViewIsIndexed(t *testing.T) {
	tr := NewTracker(TrackerConfig{Live: true, PublishEvery: time.Hour})
	segs := make(chan []Segment)
	kern := make(chan *KernelView, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx, segs, kern) }()
	kern <- &KernelView{
		Sockets: []Socket{{Local: netip.MustParseAddrPort("10.0.0.2:80"), Remote: netip.MustParseAddrPort("10.0.0.1:1000"),
			State: StateCloseWait, Owner: OwnerKnown, PID: 7}},
		Processes: []Process{{PID: 7, Command: "nginx"}},
	}
	trkWait(t, "the kernel view", func() bool { return tr.Kernel() != nil })
	cancel()
	<-done
	f := &Flow{A: netip.MustParseAddrPort("10.0.0.1:1000"), B: netip.MustParseAddrPort("10.0.0.2:80"), Client: SideA}
	s, side, ok := tr.Kernel().Lookup(f)
	if !ok || side != SideB || s.State != StateCloseWait {
		t.Fatalf("Lookup: got %+v, %v, %v; want the server's CLOSE-WAIT socket on side B", s, side, ok)
	}
	if p := tr.Kernel().Process(s); p == nil || p.Command != "nginx" {
		t.Errorf("Process: got %+v, want nginx", p)
	}
}

func TestKernelIndex_Lookup(t *testing.T) {
	ap := netip.MustParseAddrPort
	v := &KernelView{Sockets: []Socket{
		{Local: ap("0.0.0.0:80"), State: StateListen},
		{Local: ap("127.0.0.1:5000"), Remote: ap("127.0.0.1:80"), State: StateEstablished},
		{Local: ap("127.0.0.1:80"), Remote: ap("127.0.0.1:5000"), State: StateEstablished},
		{Local: ap("10.0.0.2:80"), Remote: ap("10.0.0.9:4000"), State: StateTimeWait, Owner: OwnerKernel},
	}}
	x := NewKernelIndex(v)
	tests := []struct {
		name     string
		f        Flow
		wantSide Side
		wantOK   bool
	}{
		{"loopback: the client's socket", Flow{A: ap("127.0.0.1:80"), B: ap("127.0.0.1:5000"), Client: SideB}, SideB, true},
		{"server end here", Flow{A: ap("10.0.0.9:4000"), B: ap("10.0.0.2:80"), Client: SideA}, SideB, true},
		{"v4-mapped addresses", Flow{A: ap("[::ffff:10.0.0.9]:4000"), B: ap("[::ffff:10.0.0.2]:80")}, SideB, true},
		{"no socket", Flow{A: ap("10.0.0.5:1"), B: ap("10.0.0.6:2")}, SideNone, false},
	}
	for _, tc := range tests {
		s, side, ok := x.Lookup(&tc.f)
		if side != tc.wantSide || ok != tc.wantOK || (ok && s == nil) {
			t.Errorf("%s: got side %v ok %v, want side %v ok %v", tc.name, side, ok, tc.wantSide, tc.wantOK)
		}
	}
	var nilIndex *KernelIndex
	if _, _, ok := nilIndex.Lookup(&tests[0].f); ok {
		t.Errorf("nil index: got a socket, want none")
	}
	if p := x.Process(&v.Sockets[3]); p != nil {
		t.Errorf("Process of a TIME-WAIT socket: got %+v, want nil", p)
	}
	// Both ends of the loopback connection are sockets here: each side
	// finds its own.
	lo := tests[0].f
	if got := x.LookupSide(&lo, SideB); got != 1 {
		t.Errorf("LookupSide(client): got socket %d, want 1", got)
	}
	if got := x.LookupSide(&lo, SideA); got != 2 {
		t.Errorf("LookupSide(server): got socket %d, want 2", got)
	}
	if got := x.LookupSide(&tests[3].f, SideA); got != -1 {
		t.Errorf("LookupSide(no socket): got %d, want -1", got)
	}
}

func TestPacer_ClockMath(t *testing.T) {
	var p pacer
	const t0 = int64(1e18)
	steps := []struct {
		name      string
		do        func()
		wall      int64
		wantClock int64
		wantDue   int64
	}{
		{"paused at start", func() {}, 5e9, 0, 0},
		{"play x1 at capture t0", func() { p.play(10e9, t0) }, 10e9, t0, t0},
		{"1 s later", func() {}, 11e9, t0 + 1e9, t0 + 1e9},
		{"x10 from there", func() { p.setSpeed(11e9, SpeedX10, t0) }, 12e9, t0 + 11e9, t0 + 11e9},
		{"pause freezes", func() { p.pause(12e9) }, 50e9, t0 + 11e9, t0 + 11e9},
		{"max plays everything", func() { p.play(50e9, t0+11e9); p.setSpeed(50e9, SpeedMax, t0+11e9) }, 60e9, t0 + 11e9, math.MaxInt64},
		{"back to x100 from the last packet", func() { p.setSpeed(60e9, SpeedX100, t0+30e9) }, 61e9, t0 + 130e9, t0 + 130e9},
		{"wall going backwards does not", func() {}, 0, t0 + 30e9, t0 + 30e9},
		{"move to a stepped packet", func() { p.pause(61e9); p.moveTo(70e9, t0+31e9) }, 80e9, t0 + 31e9, t0 + 31e9},
	}
	for _, s := range steps {
		s.do()
		if got := p.clock(s.wall); got != s.wantClock {
			t.Errorf("%s: clock(%d): got %d, want %d", s.name, s.wall, got, s.wantClock)
		}
		if got := p.due(s.wall); got != s.wantDue {
			t.Errorf("%s: due(%d): got %d, want %d", s.name, s.wall, got, s.wantDue)
		}
	}
	// Overflow saturates instead of wrapping.
	q := pacer{}
	q.play(0, math.MaxInt64-10)
	q.setSpeed(0, SpeedX100, 0)
	if got := q.clock(math.MaxInt64 / 2); got != math.MaxInt64 {
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
