package pipeline

import (
	"cmp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/connscope/connscope/model"
)

// core is the part of the pipeline every mode shares: it owns the flow
// table, and turns it into snapshots by one set of rules, the kernel join,
// the diagnosis, the rows' rates and the selection, so that the UI, the
// report, the JSON and the metrics give the same answer. It is used from
// one goroutine (the tracker's, or the headless loop).
type core struct {
	cfg   *Config
	table *model.Table
	// log is the per-flow packet log of the drill-down (interactive only);
	// the tracker guards it.
	log *model.PacketLog
	// kernel is the latest kernel view, indexed; note says why there is
	// none.
	kernel *model.KernelIndex
	note   string
	// pollErr is the first poll's error: the kernel view will not come.
	// The poller's goroutine sets it.
	pollErr atomic.Pointer[string]
	probs   *problems
	sel     *model.Filter // nil: everything is selected
	seq     uint64
	// prev is the previous snapshot (for rates).
	prev *model.Snapshot
	// firstSeen is when each kernel-only socket (by cookie) first appeared
	// in a kernel view: its age, since the kernel does not say when it
	// opened. It holds only the sockets of the latest view.
	firstSeen map[model.FlowID]int64
	// now is the time removed flows are diagnosed at (the latest packet's
	// or wall time).
	now int64
	// raised holds, per row with findings, the labels already handed to
	// OnFinding (a bit per label); it holds only the latest snapshot's
	// rows.
	raised map[model.Key]uint64
	// writeErr, when set, returns the -w file's write error (sticky),
	// which each snapshot shows as a problem from the moment it happens.
	writeErr func() error
}

func newCore(cfg *Config, probs *problems, sel *model.Filter) *core {
	c := &core{cfg: cfg, probs: probs, sel: sel, firstSeen: map[model.FlowID]int64{}}
	tcfg := cfg.Table
	tcfg.OnRemove = c.onRemove
	c.table = model.NewTable(tcfg)
	return c
}

// reset empties the table for a replay from the start; the kernel view
// and the snapshot numbering carry on.
func (c *core) reset() {
	tcfg := c.cfg.Table
	tcfg.OnRemove = c.onRemove
	c.table = model.NewTable(tcfg)
	if c.log != nil {
		c.log = model.NewPacketLog(model.PacketLogConfig{})
	}
	c.prev, c.now, c.raised = nil, 0, nil
	clear(c.firstSeen)
}

// setKernel adopts a new kernel view.
func (c *core) setKernel(v *model.KernelView) {
	if v == nil {
		return
	}
	c.kernel = model.NewKernelIndex(v)
}

// onRemove is the table's OnRemove: a flow leaves the table (evicted by
// the flow cap, or expired after its retention). Its packet log goes with
// it; a headless run that streams flows gets it diagnosed and joined, if
// the selection keeps it.
func (c *core) onRemove(f model.Flow, evicted bool) {
	if c.log != nil {
		c.log.Forget(f.ID)
	}
	if c.cfg.OnRemove == nil && c.cfg.OnFinding == nil {
		return
	}
	kx := stateIndex(c.kernel)
	dc := model.NewDiagContext(&model.Snapshot{Now: max(c.now, f.LastTS)}, model.DiagOptions{Kernel: kx})
	f.Findings = model.Diagnose(&f, dc)
	var e model.FlowEntry
	joinFlow(&e, &f, c.kernel, nil)
	e.Findings = f.Findings
	if c.cfg.OnFinding != nil {
		c.raise(&e, c.now, c.raised[e.Key()])
		delete(c.raised, e.Key())
	}
	if c.cfg.OnRemove != nil && c.keep(&e, c.now) {
		c.cfg.OnRemove(&e, evicted)
	}
}

// snapshot copies the table at now and joins, diagnoses and rates it.
func (c *core) snapshot(now int64, src model.SourceStats) *model.Snapshot {
	s := c.table.Snapshot(now)
	c.seq++
	s.Seq = c.seq
	s.Source = src
	s.KernelNote = c.note
	if e := c.pollErr.Load(); e != nil && c.kernel == nil {
		s.KernelNote = "no process data: " + *e
	}
	if c.writeErr != nil {
		if err := c.writeErr(); err != nil {
			c.probs.add("write", err.Error())
		}
	}
	s.Problems = c.probs.snapshot()
	Join(&s, JoinOptions{Kernel: c.kernel, SocketFilter: c.cfg.SocketFilter, FirstSeen: c.firstSeen, Prev: c.prev})
	s.Processes = c.processes()
	c.prev = &s
	if c.cfg.OnFinding != nil {
		raised := make(map[model.Key]uint64, len(c.raised))
		for i := range s.Rows {
			e := &s.Rows[i]
			if len(e.Findings) > 0 {
				raised[e.Key()] = c.raise(e, s.Now, c.raised[e.Key()])
			}
		}
		c.raised = raised
	}
	return &s
}

// raise hands e's findings not in done to OnFinding, if the selection
// keeps e, and returns done with them.
func (c *core) raise(e *model.FlowEntry, now int64, done uint64) uint64 {
	keep := c.keep(e, now)
	for i := range e.Findings {
		bit := uint64(1) << (e.Findings[i].Label % 64)
		if done&bit != 0 {
			continue
		}
		done |= bit
		if keep {
			c.cfg.OnFinding(FindingEvent{Now: now, Row: e, Finding: &e.Findings[i]})
		}
	}
	return done
}

// JoinOptions are the inputs of Join besides the snapshot.
type JoinOptions struct {
	// Kernel is the kernel view to join (nil: none).
	Kernel *model.KernelIndex
	// SocketFilter, when set, decides which sockets without packets
	// become rows.
	SocketFilter func(*model.Socket) bool
	// FirstSeen maps each kernel-only socket (by ID) to when it first
	// appeared; Join updates it to the sockets of this view. Nil: each
	// socket counts from this view.
	FirstSeen map[model.FlowID]int64
	// Prev is the previous snapshot, for rates (nil: none).
	Prev *model.Snapshot
}

// Join completes a snapshot of the flow table into what every view shows:
// it joins each flow to its socket, state and owners in the kernel view,
// adds a row for each socket no flow claimed, diagnoses every row against
// the kernel view (when its sockets are evidence of state), and sets the
// rows' rates from the previous snapshot. It is the one place these rules
// live.
func Join(s *model.Snapshot, o JoinOptions) {
	s.Kernel = o.Kernel
	var matched []bool
	kx := stateIndex(o.Kernel)
	if kx != nil {
		matched = make([]bool, len(kx.View.Sockets))
	}
	s.Rows = make([]model.FlowEntry, len(s.Flows), len(s.Flows)+8)
	for i := range s.Flows {
		joinFlow(&s.Rows[i], &s.Flows[i], o.Kernel, matched)
	}
	s.KernelOnly = kernelOnly(kx, matched, o.SocketFilter, o.FirstSeen)

	dc := model.NewDiagContext(s, model.DiagOptions{Kernel: kx})
	for i := range s.Flows {
		s.Flows[i].Findings = model.Diagnose(&s.Flows[i], dc)
		s.Rows[i].Findings = s.Flows[i].Findings
	}
	for i := range s.KernelOnly {
		f := &s.KernelOnly[i]
		f.Findings = model.Diagnose(f, dc)
		var e model.FlowEntry
		joinFlow(&e, f, o.Kernel, nil)
		e.Findings = f.Findings
		s.Rows = append(s.Rows, e)
	}
	var prev []model.FlowEntry
	var prevNow int64
	if o.Prev != nil {
		prev, prevNow = o.Prev.Rows, o.Prev.Now
	}
	rates(s.Rows, s.Now, prev, prevNow)
}

// stateIndex is x when its sockets are evidence of state (not owners
// rebuilt from packet comments), else nil.
func stateIndex(x *model.KernelIndex) *model.KernelIndex {
	if x == nil || x.View.OwnersOnly {
		return nil
	}
	return x
}

// joinFlow makes e the row of f: its socket's side and state when the
// kernel view has one (marking it, and on loopback its peer, in matched),
// and the processes owning its sockets.
func joinFlow(e *model.FlowEntry, f *model.Flow, x *model.KernelIndex, matched []bool) {
	*e = model.FlowEntry{Flow: f, Local: model.SideNone}
	if x == nil {
		return
	}
	var si, pi int
	var side model.Side
	if f.Kind == model.FlowKernelOnly {
		side, si = model.SideA, x.LookupSide(f, model.SideA)
	} else {
		si, side = x.LookupIndex(f)
	}
	if si < 0 {
		return
	}
	pi = x.LookupSide(f, side.Other())
	if matched != nil {
		matched[si] = true
		if pi >= 0 {
			matched[pi] = true // loopback: the peer's socket is this flow's too
		}
	}
	e.Local = side
	s := &x.View.Sockets[si]
	e.Socket = s
	if !x.View.OwnersOnly {
		e.KernelState = s.State
	}
	if p := x.Process(s); p != nil {
		e.Owners = append(e.Owners, model.OwnerRef{PID: int(p.PID), Name: p.Command, Side: side})
	}
	if pi >= 0 {
		if p := x.Process(&x.View.Sockets[pi]); p != nil {
			e.Owners = append(e.Owners, model.OwnerRef{PID: int(p.PID), Name: p.Command, Side: side.Other()})
		}
	}
}

// kernelOnly makes a row for every socket of a state-bearing kernel view
// that no flow claimed, except listeners and TIME-WAIT (the processes
// pane counts those), in ID order: side A is the local end, its state the
// kernel's, its first time when connscope first saw it, its last the
// kernel's last send or receive.
func kernelOnly(kx *model.KernelIndex, matched []bool, keep func(*model.Socket) bool, firstSeen map[model.FlowID]int64) []model.Flow {
	if kx == nil {
		clear(firstSeen)
		return nil
	}
	socks := kx.View.Sockets
	var out []model.Flow
	for i := range socks {
		s := &socks[i]
		if matched[i] || s.State == model.StateListen || s.State == model.StateTimeWait || !s.Remote.IsValid() {
			continue
		}
		if keep != nil && !keep(s) {
			continue
		}
		id := model.FlowID(s.Cookie)
		if s.Cookie == 0 { // no cookie: the position, stable within a poll
			id = model.FlowID(i)
		}
		first := kx.View.At
		if t, ok := firstSeen[id]; ok {
			first = t
		}
		last := kx.View.At
		if s.HasInfo {
			last -= int64(min(s.Info.LastDataSent, s.Info.LastDataRecv))
		}
		out = append(out, model.Flow{
			Kind: model.FlowKernelOnly, ID: id,
			A: s.Local, B: s.Remote, Client: model.SideNone,
			State:   [2]model.State{s.State, model.StateUnknown},
			FirstTS: min(first, last), LastTS: last,
		})
	}
	if firstSeen != nil {
		// Keep only this view's sockets: the map is bounded by the view.
		clear(firstSeen)
		for i := range out {
			firstSeen[out[i].ID] = out[i].FirstTS
		}
	}
	slices.SortFunc(out, func(a, b model.Flow) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// rates sets each row's recent throughput from the previous snapshot's
// rows: both are in key order, so one merge pass pairs them.
func rates(rows []model.FlowEntry, now int64, prev []model.FlowEntry, prevNow int64) {
	dt := now - prevNow
	j := 0
	for i := range rows {
		e := &rows[i]
		f := e.Flow
		k := f.Key()
		bytes := f.Dir[0].PayloadBytes + f.Dir[1].PayloadBytes
		for j < len(prev) && prev[j].Flow.Key().Compare(k) < 0 {
			j++
		}
		switch {
		case j < len(prev) && prev[j].Flow.Key() == k:
			p := prev[j].Flow
			pb := p.Dir[0].PayloadBytes + p.Dir[1].PayloadBytes
			switch {
			case dt <= 0: // paused or same instant: keep the last rate
				e.Rate = prev[j].Rate
			case bytes > pb:
				e.Rate = float64(bytes-pb) * 1e9 / float64(dt)
			}
		case f.LastTS > f.FirstTS: // new since the last snapshot: its mean rate
			e.Rate = float64(bytes) * 1e9 / float64(f.LastTS-f.FirstTS)
		}
	}
}

// keep reports whether the selection (display filter, --pid, --proc)
// keeps a row.
func (c *core) keep(e *model.FlowEntry, now int64) bool {
	return c.sel == nil || c.sel.Match(e, now)
}

// processes returns the kernel view's processes the selection keeps.
func (c *core) processes() []model.Process {
	if c.kernel == nil {
		return nil
	}
	ps := c.kernel.View.Processes
	if c.cfg.PID == 0 && c.cfg.Proc == "" {
		return ps
	}
	var out []model.Process
	for i := range ps {
		if keepProcess(&ps[i], c.cfg.PID, c.cfg.Proc) {
			out = append(out, ps[i])
		}
	}
	return out
}

// keepProcess is the --pid/--proc rule for a process: the same as the
// display filter's `pid N` and `proc WORD` (the name contains the word,
// in any case).
func keepProcess(p *model.Process, pid int, word string) bool {
	if pid != 0 && int(p.PID) != pid {
		return false
	}
	return word == "" || strings.Contains(strings.ToLower(p.Command), strings.ToLower(word))
}
