package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/internal/corpus"
	"github.com/connscope/connscope/model"
)

// headless opens a headless pipeline over segs and runs it to the end.
func headless(t *testing.T, cfg Config, segs []model.Segment) *Pipeline {
	t.Helper()
	cfg.Source, cfg.SourceName = &sliceSource{segs: segs}, "test"
	p, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return p
}

// resetFlows returns n connections, 10 s apart, each reset by its server
// right after the client's request.
func resetFlows(n int) []model.Segment {
	var segs []model.Segment
	for i := range n {
		s := handshake(1e18+int64(i)*10e9, "10.0.0.1:"+strconv.Itoa(1000+i), "10.0.0.2:80")
		for j := range s {
			s[j].Frame = uint64(4*i + j + 1)
		}
		segs = append(segs, s...)
	}
	return segs
}

func TestHeadless_EvictedFlowsAreStreamedDiagnosedNotKept(t *testing.T) {
	var got []model.FlowID
	p := headless(t, Config{
		Table: model.Config{MaxFlows: 2},
		OnRemove: func(e *model.FlowEntry, evicted bool) {
			if !evicted {
				t.Errorf("flow %d: removed as expired, want evicted", e.Flow.ID)
			}
			if len(e.Findings) == 0 {
				t.Errorf("flow %d: streamed without its diagnosis", e.Flow.ID)
			}
			got = append(got, e.Flow.ID)
		},
	}, resetFlows(5))
	if len(got) != 3 || got[0] != 0 || got[2] != 2 {
		t.Errorf("streamed flows: got %v, want the 3 oldest (0, 1, 2)", got)
	}
	snap := p.Latest()
	if len(snap.Flows) != 2 || snap.Table.Evicted != 3 {
		t.Errorf("final snapshot: got %d flows, %d evicted; want 2 and 3", len(snap.Flows), snap.Table.Evicted)
	}
}

func TestHeadless_RetentionExpiresClosedFlows(t *testing.T) {
	var expired int
	p := headless(t, Config{
		Table:    model.Config{Retention: 15e9},
		OnRemove: func(e *model.FlowEntry, evicted bool) { expired++ },
	}, resetFlows(5))
	// The flows end at +3 s, +13 s, ... +43 s: at the end (+43 s) those
	// whose last packet is 15 s old or more are gone.
	snap := p.Latest()
	if len(snap.Flows) != 2 || snap.Table.Expired != 3 || expired != 3 {
		t.Errorf("final snapshot: got %d flows, %d expired (%d streamed); want 2 kept and 3 expired", len(snap.Flows), snap.Table.Expired, expired)
	}
}

func TestHeadless_SelectionIsTheDisplayFilterAndProcess(t *testing.T) {
	p := headless(t, Config{Display: "port 1003"}, resetFlows(5))
	snap := p.Latest()
	var kept []model.FlowID
	for i := range snap.Rows {
		if p.Keep(&snap.Rows[i], snap.Now) {
			kept = append(kept, snap.Rows[i].Flow.ID)
		}
	}
	if len(kept) != 1 || kept[0] != 3 {
		t.Errorf("kept rows: got %v, want flow 3 only", kept)
	}
	if got, want := p.Selection(), "(port 1003)"; got != want {
		t.Errorf("selection: got %q, want %q", got, want)
	}
	if got, want := SelectionText("rst", 42, "nginx"), "(rst) and pid 42 and proc nginx"; got != want {
		t.Errorf("SelectionText: got %q, want %q", got, want)
	}
}

func TestOpen_InvalidDisplayFilterSaysWhere(t *testing.T) {
	_, err := Open(Config{Display: "port >> 3", Source: &sliceSource{}})
	var fe *model.FilterError
	if !errors.Is(err, ErrDisplayFilter) || !errors.As(err, &fe) {
		t.Fatalf("Open: got %v, want a display filter error with its position", err)
	}
}

func TestKeepProcess(t *testing.T) {
	p := &model.Process{PID: 7, Command: "NGINX: worker"}
	for _, tc := range []struct {
		pid  int
		word string
		want bool
	}{{0, "", true}, {7, "", true}, {8, "", false}, {0, "nginx", true}, {7, "worker", true}, {0, "apache", false}} {
		if got := keepProcess(p, tc.pid, tc.word); got != tc.want {
			t.Errorf("keepProcess(pid %d, %q): got %v, want %v", tc.pid, tc.word, got, tc.want)
		}
	}
}

var ap = netip.MustParseAddrPort

// closeWaitFlow is a connection the client closed 10 s before the end of
// the capture and the server never closed: CLOSE-WAIT on the wire.
func closeWaitFlow() *model.Snapshot {
	tbl := model.NewTable(model.Config{})
	c, s := ap("10.0.0.1:40000"), ap("10.0.0.2:8080")
	t0 := int64(1e18)
	for i, seg := range []model.Segment{
		{Src: c, Dst: s, Flags: model.FlagSYN, Seq: 100},
		{Src: s, Dst: c, Flags: model.FlagSYN | model.FlagACK, Seq: 500, Ack: 101},
		{Src: c, Dst: s, Flags: model.FlagACK, Seq: 101, Ack: 501},
		{Src: c, Dst: s, Flags: model.FlagFIN | model.FlagACK, Seq: 101, Ack: 501},
		{Src: s, Dst: c, Flags: model.FlagACK, Seq: 501, Ack: 102},
	} {
		seg.TS, seg.Frame, seg.Window, seg.TTL = t0+int64(i)*1e6, uint64(i+1), 1000, 64
		tbl.Apply(&seg)
	}
	snap := tbl.Snapshot(t0 + 10e9)
	return &snap
}

// TestJoin_OwnersFromCommentsAreNoStateEvidence is the -w replay case: a
// kernel view rebuilt from packet comments names owners, but its sockets
// carry no state, so the diagnosis must read the wire as without a kernel
// view (the server left in CLOSE-WAIT) and the row must show no kernel
// state.
func TestJoin_OwnersFromCommentsAreNoStateEvidence(t *testing.T) {
	plain := closeWaitFlow()
	Join(plain, JoinOptions{})
	owned := closeWaitFlow()
	v := &model.KernelView{OwnersOnly: true, Sockets: []model.Socket{
		{Local: ap("10.0.0.2:8080"), Remote: ap("10.0.0.1:40000"), State: model.StateUnknown, Owner: model.OwnerKnown, PID: 9},
	}, Processes: []model.Process{{PID: 9, Command: "leaky"}}}
	Join(owned, JoinOptions{Kernel: model.NewKernelIndex(v)})
	labels := func(s *model.Snapshot) []model.FindingLabel {
		var out []model.FindingLabel
		for _, f := range s.Rows[0].Findings {
			out = append(out, f.Label)
		}
		return out
	}
	if got := labels(plain); len(got) != 1 || got[0] != model.FindingCloseWaitLeak {
		t.Fatalf("without a kernel view: got %v, want close_wait_leak", got)
	}
	if got, want := labels(owned), labels(plain); len(got) != len(want) || got[0] != want[0] {
		t.Errorf("with owners from comments: got %v, want the same as without (%v)", got, want)
	}
	e := &owned.Rows[0]
	if o, ok := e.Owner(model.SideB); !ok || o.PID != 9 || e.Local != model.SideB || e.KernelState != model.StateUnknown {
		t.Errorf("row: got owners %+v local %v kernel state %v, want pid 9 on the server side and no kernel state", e.Owners, e.Local, e.KernelState)
	}
	if len(owned.KernelOnly) != 0 {
		t.Errorf("kernel-only rows from comment owners: got %d, want none", len(owned.KernelOnly))
	}
}

func TestJoin_KernelOnlyRowsKeepTheirFirstSighting(t *testing.T) {
	view := func(at int64) *model.KernelIndex {
		return model.NewKernelIndex(&model.KernelView{At: at, Sockets: []model.Socket{
			{Local: ap("0.0.0.0:8080"), State: model.StateListen},
			{Local: ap("10.0.0.2:8080"), Remote: ap("10.0.0.9:5000"), State: model.StateTimeWait},
			{Local: ap("10.0.0.2:8080"), Remote: ap("10.0.0.7:6000"), State: model.StateCloseWait, Cookie: 77,
				Owner: model.OwnerKnown, PID: 3, HasInfo: true, Info: model.TCPInfo{LastDataSent: 6 * time.Second, LastDataRecv: 6 * time.Second}},
		}, Processes: []model.Process{{PID: 3, Command: "py"}}})
	}
	seen := map[model.FlowID]int64{}
	first := &model.Snapshot{Now: 1e18}
	Join(first, JoinOptions{Kernel: view(1e18), FirstSeen: seen})
	later := &model.Snapshot{Now: 1e18 + 9e9}
	Join(later, JoinOptions{Kernel: view(1e18 + 9e9), FirstSeen: seen, Prev: first})
	if len(later.KernelOnly) != 1 || len(later.Rows) != 1 {
		t.Fatalf("kernel-only rows: got %d (%d rows), want the CLOSE-WAIT socket only", len(later.KernelOnly), len(later.Rows))
	}
	f := later.KernelOnly[0]
	// First seen: the first view's last activity (6 s before it), kept
	// although the later view's last activity is later.
	if f.Kind != model.FlowKernelOnly || f.ID != 77 || f.FirstTS != 1e18-6e9 || f.LastTS != 1e18+3e9 || f.State[model.SideA] != model.StateCloseWait {
		t.Errorf("kernel-only row: got %+v, want cookie 77 in CLOSE-WAIT first seen 6 s before the first view", f)
	}
	e := later.Row(model.Key{Kind: model.FlowKernelOnly, ID: 77})
	if e == nil || e.KernelState != model.StateCloseWait || len(e.Owners) != 1 || e.Owners[0].Name != "py" {
		t.Errorf("row by key: got %+v, want the socket's state and owner", e)
	}
	// Silent for 6 s in CLOSE-WAIT as the kernel says: past the threshold.
	if len(f.Findings) == 0 || f.Findings[0].Label != model.FindingCloseWaitLeak {
		t.Errorf("kernel-only findings: got %+v, want close_wait_leak", f.Findings)
	}
}

func TestJoin_RatesFollowTheBytesBetweenSnapshots(t *testing.T) {
	mk := func(now int64, bytes uint64) *model.Snapshot {
		f := model.Flow{ID: 4, A: ap("10.0.0.1:1"), B: ap("10.0.0.2:2"), FirstTS: 0, LastTS: now}
		f.Dir[0].PayloadBytes = bytes
		return &model.Snapshot{Now: now, Flows: []model.Flow{f}}
	}
	a := mk(1e9, 1000)
	Join(a, JoinOptions{})
	b := mk(3e9, 5000)
	Join(b, JoinOptions{Prev: a})
	if got := b.Rows[0].Rate; got != 2000 {
		t.Errorf("rate: got %v bytes/s, want 2000 (4000 bytes in 2 s)", got)
	}
}

func TestMailbox_LatestWins(t *testing.T) {
	m := NewMailbox[int]()
	if _, ok := m.Take(); ok {
		t.Fatal("empty mailbox: got a value")
	}
	for i := range 5 {
		m.Put(i)
	}
	if v, ok := m.Take(); !ok || v != 4 {
		t.Errorf("after five puts: got %d, %v; want 4", v, ok)
	}
	// Many writers never block, and the reader gets one of the last.
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				m.Put(w*1000 + i)
			}
		}()
	}
	wg.Wait()
	if _, ok := m.Take(); !ok {
		t.Error("after concurrent puts: got nothing")
	}
}

func TestGroup_JoinsEveryGoroutineAndAFatalErrorStopsThem(t *testing.T) {
	g := newGroup(context.Background())
	probs := &problems{}
	var ended atomic.Int32
	for range 3 {
		g.Go("waiter", false, probs, func(ctx context.Context) error {
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond)
			ended.Add(1)
			return ctx.Err()
		})
	}
	g.Go("poller", false, probs, func(context.Context) error { return errors.New("poll failed") })
	boom := errors.New("boom")
	g.Go("tracker", true, probs, func(context.Context) error { return boom })
	if err := g.Wait(); !errors.Is(err, boom) {
		t.Errorf("Wait: got %v, want the fatal error", err)
	}
	if ended.Load() != 3 {
		t.Errorf("Wait returned with %d of 3 goroutines ended", ended.Load())
	}
	if ps := probs.snapshot(); len(ps) != 1 || ps[0].String() != "poller: poll failed" {
		t.Errorf("problems: got %v, want the non-fatal error once", ps)
	}
}

func TestFindings_RaisedOnceEachAlsoWhenEvicted(t *testing.T) {
	got := map[model.Key][]model.FindingLabel{}
	cfg := Config{
		Table: model.Config{MaxFlows: 2},
		OnFinding: func(ev FindingEvent) {
			got[ev.Row.Key()] = append(got[ev.Row.Key()], ev.Finding.Label)
		},
	}
	p := headless(t, cfg, resetFlows(5))
	if len(got) != 5 {
		t.Fatalf("findings raised on %d flows, want all 5 (3 evicted, 2 at the end): %v", len(got), got)
	}
	for k, ls := range got {
		if len(ls) != 1 {
			t.Errorf("flow %v: raised %v, want its one finding once", k, ls)
		}
	}
	// Raising again from the same rows adds nothing.
	snap := p.Latest()
	for i := range snap.Rows {
		e := &snap.Rows[i]
		p.c.raise(e, snap.Now, p.c.raised[e.Key()])
	}
	for k, ls := range got {
		if len(ls) != 1 {
			t.Errorf("flow %v after a second pass: raised %v", k, ls)
		}
	}
}

// TestCore_WhatTheKernelProvedStays: a finding resting on the kernel's
// view stays when a later view no longer shows its cause (the socket
// closed, the process exited).
func TestCore_WhatTheKernelProvedStays(t *testing.T) {
	cfg := &Config{}
	c := newCore(cfg, &problems{}, nil)
	cl, sv := ap("10.0.0.1:40000"), ap("10.0.0.2:8080")
	t0 := int64(1e18)
	for i, seg := range []model.Segment{
		{Src: cl, Dst: sv, Flags: model.FlagSYN, Seq: 100},
		{Src: sv, Dst: cl, Flags: model.FlagSYN | model.FlagACK, Seq: 500, Ack: 101},
		{Src: cl, Dst: sv, Flags: model.FlagACK, Seq: 101, Ack: 501},
		{Src: cl, Dst: sv, Flags: model.FlagFIN | model.FlagACK, Seq: 101, Ack: 501},
		{Src: sv, Dst: cl, Flags: model.FlagACK, Seq: 501, Ack: 102},
	} {
		seg.TS, seg.Frame, seg.Window, seg.TTL = t0+int64(i)*1e6, uint64(i+1), 1000, 64
		c.table.Apply(&seg)
	}
	leak := &model.KernelView{At: t0 + 1e9, Sockets: []model.Socket{{Local: sv, Remote: cl, State: model.StateCloseWait,
		Owner: model.OwnerKnown, PID: 7, HasInfo: true, Info: model.TCPInfo{LastDataSent: 9 * time.Second, LastDataRecv: 9 * time.Second}}},
		Processes: []model.Process{{PID: 7, Command: "leaky"}}}
	c.setKernel(leak)
	first := c.snapshot(t0+1e9, model.SourceStats{})
	if f := first.Rows[0].Findings; len(f) != 1 || f[0].Label != model.FindingCloseWaitLeak || f[0].Evidence != model.EvidenceBoth {
		t.Fatalf("with the kernel's view: got %+v, want close_wait_leak resting on both", f)
	}
	c.setKernel(&model.KernelView{At: t0 + 2e9})
	later := c.snapshot(t0+2e9, model.SourceStats{})
	if f := later.Rows[0].Findings; len(f) != 1 || f[0].Label != model.FindingCloseWaitLeak {
		t.Errorf("after the socket left the kernel's view: got %+v, want the close_wait_leak it proved", f)
	}
}

// rowText renders what a row shows, every field of its flow included, so
// two rows compare by content.
func rowText(e *model.FlowEntry) string {
	return fmt.Sprintf("%+v|%v|%v|%d|%v|%v|%g", *e.Flow, e.Findings, e.Owners, e.KernelState, e.Local, e.History, e.Rate)
}

// TestHeadless_EndRowsAreTheFinalSnapshotsRows runs every shared capture
// (and the demo) twice: once to a final snapshot, once streaming the end
// with EndRows. The rows streamed must be the snapshot's kept rows, in
// order and field for field, the findings raised the same, and the
// snapshot without rows the same counters.
func TestHeadless_EndRowsAreTheFinalSnapshotsRows(t *testing.T) {
	files := []string{demoPcap}
	for _, e := range corpus.Captures(t) {
		files = append(files, e.Path)
	}
	for _, display := range []string{"", "finding"} {
		for _, path := range files {
			var raisedSnap, raisedEnd []string
			onFinding := func(out *[]string) func(FindingEvent) {
				return func(ev FindingEvent) { *out = append(*out, ev.Finding.Label.String()) }
			}
			p, err := Open(Config{File: path, Display: display, OnFinding: onFinding(&raisedSnap)})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Run(context.Background()); err != nil && !errors.As(err, new(*capture.FileError)) {
				t.Fatalf("%s: %v", path, err)
			}
			snap := p.Latest()
			var want []string
			for i := range snap.Rows {
				if p.Keep(&snap.Rows[i], snap.Now) {
					want = append(want, rowText(&snap.Rows[i]))
				}
			}
			var got []string
			q, err := Open(Config{File: path, Display: display, OnFinding: onFinding(&raisedEnd), EndRows: func(e *model.FlowEntry) error {
				got = append(got, rowText(e))
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Run(context.Background()); err != nil && !errors.As(err, new(*capture.FileError)) {
				t.Fatalf("%s: %v", path, err)
			}
			end := q.Latest()
			name := filepath.Base(path) + " display=" + display
			if !slices.Equal(got, want) {
				t.Errorf("%s: EndRows gave %d rows, the final snapshot keeps %d; first difference at %d", name, len(got), len(want), firstDiff(got, want))
			}
			if !slices.Equal(raisedEnd, raisedSnap) {
				t.Errorf("%s: findings raised %v with EndRows, %v without", name, raisedEnd, raisedSnap)
			}
			if len(end.Rows) != 0 || len(end.Flows) != 0 || end.Table != snap.Table || end.Source != snap.Source ||
				end.Now != snap.Now && snap.Table.FlowsCreated > 0 { // no TCP: the time is the clock's
				t.Errorf("%s: the end's snapshot: %d rows, %d flows, table %+v, source %+v, now %d; want none, none, %+v, %+v, %d",
					name, len(end.Rows), len(end.Flows), end.Table, end.Source, end.Now, snap.Table, snap.Source, snap.Now)
			}
		}
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
