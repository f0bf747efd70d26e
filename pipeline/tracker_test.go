package pipeline

import (
	"context"
	"io"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
)

// handshake returns a handshake, one request and a reset on one flow,
// one packet a second from t0, as four segments with frames 1..4.
func handshake(t0 int64, client, server string) []model.Segment {
	c, s := netip.MustParseAddrPort(client), netip.MustParseAddrPort(server)
	mk := func(i int, src, dst netip.AddrPort, fl model.TCPFlags, seq, ack, n uint32) model.Segment {
		return model.Segment{TS: t0 + int64(i)*1e9, Frame: uint64(i + 1), Src: src, Dst: dst, Flags: fl,
			Seq: seq, Ack: ack, PayloadLen: n, Window: 1000, TTL: 64}
	}
	return []model.Segment{
		mk(0, c, s, model.FlagSYN, 100, 0, 0),
		mk(1, s, c, model.FlagSYN|model.FlagACK, 500, 101, 0),
		mk(2, c, s, model.FlagACK|model.FlagPSH, 101, 501, 10),
		mk(3, s, c, model.FlagRST|model.FlagACK, 501, 111, 0),
	}
}

// sliceSource is a capture.Source over segments already decoded; stats,
// when set, replaces its counters.
type sliceSource struct {
	segs  []model.Segment
	i     atomic.Int64
	stats *model.SourceStats
}

func (s *sliceSource) Next(seg *model.Segment) error {
	i := s.i.Load()
	if int(i) >= len(s.segs) {
		return io.EOF
	}
	*seg = s.segs[i]
	s.i.Add(1)
	return nil
}

func (s *sliceSource) Stats() model.SourceStats {
	if s.stats != nil {
		return *s.stats
	}
	n := uint64(s.i.Load())
	return model.SourceStats{Packets: n, TCPFrames: n}
}

// waitFor polls cond until it holds or 10 s pass: the pipeline runs on its
// own goroutines, so tests wait for the state they expect, never a time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// start opens an interactive pipeline over segs and runs it; stop cancels
// it and returns Run's error.
func start(t *testing.T, cfg Config, segs []model.Segment) (p *Pipeline, stop func() error) {
	t.Helper()
	if cfg.Source == nil {
		cfg.Source = &sliceSource{segs: segs}
	}
	cfg.SourceName, cfg.Interactive = "test", true
	p, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, run(t, p)
}

// run runs an opened pipeline until stop (or the test's end) cancels it;
// stop returns Run's error.
func run(t *testing.T, p *Pipeline) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var stopped bool
	var runErr error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
		}
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestTracker_ReplayStartsPausedOnFirstPacketThenSteps(t *testing.T) {
	segs := handshake(1e18, "10.0.0.1:1000", "10.0.0.2:80")
	p, _ := start(t, Config{PublishEvery: time.Hour}, segs)

	waitFor(t, "the first packet", func() bool { return p.Replay().Applied == 1 })
	snap := p.Latest()
	if snap == nil || len(snap.Flows) != 1 || snap.Flows[0].Dir[model.DirAB].Packets != 1 {
		t.Fatalf("after start: got snapshot %+v, want one flow with one packet", snap)
	}
	if st := p.Replay(); st.Playing || st.Ended || st.Clock != segs[0].TS || st.Start != segs[0].TS {
		t.Errorf("after start: got status %+v, want paused at the first packet's time", st)
	}
	for want := uint64(2); want <= 4; want++ {
		p.Control(model.ReplayStep)
		waitFor(t, "a step", func() bool { return p.Replay().Applied == want })
		if got := p.Latest().Flows[0].Dir[0].Packets + p.Latest().Flows[0].Dir[1].Packets; got != want {
			t.Errorf("after step to %d: the snapshot shows %d packets", want, got)
		}
		if got := p.Replay().Clock; got != segs[want-1].TS {
			t.Errorf("after step to %d: got clock %d, want %d", want, got, segs[want-1].TS)
		}
	}
}

func TestTracker_JumpToEndAppliesEverythingAndEnds(t *testing.T) {
	a := handshake(1e18, "10.0.0.1:1000", "10.0.0.2:80")
	b := handshake(1e18+10e9, "10.0.0.1:1001", "10.0.0.2:80")
	for i := range b {
		b[i].Frame += 4
	}
	p, stop := start(t, Config{StartAtEnd: true, PublishEvery: time.Hour}, append(a, b...))
	waitFor(t, "the end", func() bool { return p.Replay().Ended })
	snap := p.Latest()
	if len(snap.Flows) != 2 || snap.Now != b[3].TS || snap.Source.Packets != 8 {
		t.Errorf("final snapshot: got %d flows, now %d, %d packets; want 2 flows, now %d, 8 packets",
			len(snap.Flows), snap.Now, snap.Source.Packets, b[3].TS)
	}
	if st := p.Replay(); st.Playing || st.ToEnd || st.Applied != 8 {
		t.Errorf("final status: got %+v, want ended, paused, 8 applied", st)
	}
	if r := snap.Flows[0].Resets; len(r) != 1 || r[0].From != model.SideB {
		t.Errorf("flow 0 resets: got %+v, want one from the server (B)", r)
	}
	if len(snap.Rows) != 2 || len(snap.Rows[0].Findings) == 0 || snap.Rows[0].Findings[0].Label != snap.Flows[0].Findings[0].Label {
		t.Errorf("final rows: got %d rows, want one per flow carrying its findings", len(snap.Rows))
	}
	// Commands after the end are ignored, never blocking.
	for range 1000 {
		p.Control(model.ReplayToggle)
	}
	if err := stop(); err != nil {
		t.Errorf("Run after the end and a cancel: got %v, want nil (the UI quit)", err)
	}
}

func TestTracker_PlaysAtRecordedSpeed(t *testing.T) {
	var wall atomic.Int64 // the test's clock
	segs := handshake(1e18, "10.0.0.1:1000", "10.0.0.2:80")
	p, stop := start(t, Config{PublishEvery: time.Hour, Clock: func() time.Time { return time.Unix(0, wall.Load()) }}, segs)
	waitFor(t, "the first packet", func() bool { return p.Replay().Applied == 1 })

	p.Control(model.ReplayPlay) // x1 from the first packet, at wall 0
	waitFor(t, "play", func() bool { return p.Replay().Playing })
	wall.Store(1500e6) // 1.5 s later: packets at +0 s and +1 s are due
	waitFor(t, "the second packet", func() bool { return p.Replay().Applied == 2 })
	if got := p.Replay().Applied; got != 2 {
		t.Fatalf("at +1.5 s: got %d packets, want 2 (the third is due at +2 s)", got)
	}
	p.Control(model.ReplayFaster) // x10 from capture time +1.5 s
	waitFor(t, "x10", func() bool { return p.Replay().Speed == model.SpeedX10 })
	wall.Store(1500e6 + 160e6) // +1.6 s of capture at x10: +3.1 s, all due
	waitFor(t, "the rest", func() bool { return p.Replay().Applied == 4 })

	p.Control(model.ReplayPause)
	waitFor(t, "pause", func() bool { return !p.Replay().Playing })
	if err := stop(); err != nil {
		t.Errorf("Run after cancel: got %v, want nil (the UI quit)", err)
	}
}

func TestTracker_SnapshotsCarryTheSourceCounters(t *testing.T) {
	segs := handshake(1e18, "10.0.0.1:1000", "10.0.0.2:80")
	src := &sliceSource{segs: segs, stats: &model.SourceStats{Packets: 99, KernelDrops: 3}}
	p, _ := start(t, Config{Source: src, StartAtEnd: true, PublishEvery: 5 * time.Millisecond}, nil)
	waitFor(t, "the end", func() bool { return p.Replay().Ended })
	snap := p.Latest()
	if snap.Source.Packets != 99 || snap.Source.KernelDrops != 3 {
		t.Errorf("snapshot: got source %+v, want the source's counters", snap.Source)
	}
}

func TestTracker_PacketsCarryVerdicts(t *testing.T) {
	segs := handshake(1e18, "10.0.0.1:1000", "10.0.0.2:80")
	p, _ := start(t, Config{StartAtEnd: true}, segs)
	waitFor(t, "the end", func() bool { return p.Replay().Ended })
	fp, ok := p.Packets(0)
	if !ok || len(fp.Records) != 4 {
		t.Fatalf("Packets(0): got %d records (ok=%v), want 4", len(fp.Records), ok)
	}
	want := []struct {
		dir            model.Side
		relSeq, relAck uint32
		flags          model.TCPFlags
	}{
		{model.SideA, 0, 0, model.FlagSYN},
		{model.SideB, 0, 1, model.FlagSYN | model.FlagACK},
		{model.SideA, 1, 1, model.FlagACK | model.FlagPSH},
		{model.SideB, 1, 11, model.FlagRST | model.FlagACK},
	}
	for i, w := range want {
		r := fp.Records[i]
		if r.Dir != w.dir || r.RelSeq != w.relSeq || r.RelAck != w.relAck || r.Flags != w.flags || r.Frame != uint64(i+1) {
			t.Errorf("record %d: got %+v, want dir %v seq %d ack %d flags %v", i, r, w.dir, w.relSeq, w.relAck, w.flags)
		}
	}
	if _, ok := p.Packets(7); ok {
		t.Errorf("Packets(7): got a log for an unknown flow")
	}
}

// manyFlows returns n handshakes of two segments each, 10 s apart.
func manyFlows(n int) []model.Segment {
	var segs []model.Segment
	for i := range n {
		s := handshake(1e18+int64(i)*10e9, "10.0.0.1:"+strconv.Itoa(1000+i), "10.0.0.2:80")
		for j := range s[:2] {
			s[j].Frame = uint64(2*i + j + 1)
		}
		segs = append(segs, s[:2]...)
	}
	return segs
}

func TestTracker_EvictedFlowsLeaveThePacketLog(t *testing.T) {
	p, _ := start(t, Config{StartAtEnd: true, Table: model.Config{MaxFlows: 2}}, manyFlows(5))
	waitFor(t, "the end", func() bool { return p.Replay().Ended })
	p.tr.mu.Lock()
	got := p.c.log.Stats().Flows
	p.tr.mu.Unlock()
	if got != 2 {
		t.Errorf("packet logs after evictions: got %d flows, want 2 (the table's cap)", got)
	}
	if got := p.Latest().Table.Evicted; got != 3 {
		t.Errorf("evicted flows: got %d, want 3", got)
	}
}

func TestTracker_RestartReplaysTheFileFromItsFirstPacket(t *testing.T) {
	p, err := Open(Config{File: "../testdata/ipv6-lo.pcap", Interactive: true, StartAtEnd: true, PublishEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, p)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitFor(t, "the end", func() bool { return p.Replay().Ended })
	first := p.Latest()
	if st := p.Replay(); !st.CanRestart || st.Applied != 26 {
		t.Fatalf("at the end: got %+v, want 26 segments applied and a restart possible", st)
	}
	p.Control(model.ReplayRestart)
	waitFor(t, "the restart", func() bool { st := p.Replay(); return !st.Ended && st.Applied < 26 })
	p.Control(model.ReplayToEnd)
	waitFor(t, "the end again", func() bool { return p.Replay().Ended && p.Replay().Applied == 26 })
	waitFor(t, "the final snapshot", func() bool { s := p.Latest(); return s.Seq > first.Seq && len(s.Flows) == len(first.Flows) })
	again := p.Latest()
	if again.Source.Packets != first.Source.Packets || again.Table.FlowsCreated != first.Table.FlowsCreated {
		t.Errorf("after the restart: got %d packets, %d flows; want the same as the first reading (%d, %d)",
			again.Source.Packets, again.Table.FlowsCreated, first.Source.Packets, first.Table.FlowsCreated)
	}
	// A source that cannot be read again says so.
	q, _ := start(t, Config{StartAtEnd: true}, handshake(1e18, "10.0.0.1:1000", "10.0.0.2:80"))
	if q.Replay().CanRestart {
		t.Error("a source that cannot be reopened offers a restart")
	}
}
