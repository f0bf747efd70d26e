package pipeline

import (
	"cmp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/connscope/connscope/kevents"
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
	// events is the store of the kernel's events (nil without them), kev
	// their reader (for its loss counters), eventsNote what of them is
	// missing and why.
	events *model.KernelEvents
	// recorded are the kernel's events a replayed file's comments
	// recorded (a Partial store; nil: none), used where events is nil.
	recorded   *model.KernelEvents
	kev        eventStats
	eventsNote string
	lostSeen   uint64
	// leaked remembers each process's fd_leak once raised, so it stays
	// while the process lives although its count stopped climbing;
	// procRaised the process findings already handed to OnFinding. Both
	// hold only the processes of the latest kernel view.
	leaked     map[procKey]model.ProcessFinding
	procRaised map[procKey]bool
	// sticky keeps, per row, the findings that rested on the kernel's
	// word: the kernel view moves on (a listener's queue drains, a socket
	// closes, the process exits) but what it proved stays proven. It holds
	// only the latest snapshot's rows.
	sticky map[model.Key][]model.Finding
	// writeErr, when set, returns the -w file's write error (sticky),
	// which each snapshot shows as a problem from the moment it happens.
	writeErr func() error
}

// procKey names one finding of one process (a PID and its start time).
type procKey struct {
	pid   int32
	start uint64
	label model.FindingLabel
}

func newCore(cfg *Config, probs *problems, sel *model.Filter) *core {
	c := &core{cfg: cfg, probs: probs, sel: sel, firstSeen: map[model.FlowID]int64{},
		leaked: map[procKey]model.ProcessFinding{}, procRaised: map[procKey]bool{}}
	tcfg := cfg.Table
	tcfg.OnRemove = c.onRemove
	c.table = model.NewTable(tcfg)
	return c
}

// eventStats is what the core reads of the kernel event reader.
type eventStats interface{ Stats() kevents.Stats }

// forgetEvents is how long a socket's kernel history outlives its last
// event: long after its connection could still be shown.
const forgetEvents = 10 * 60e9

// addEvents applies a batch of the kernel's events, and records the
// events the reader or the kernel lost (their absence then proves
// nothing).
func (c *core) addEvents(b []model.KernelEvent) {
	var last int64
	for i := range b {
		c.events.Add(&b[i])
		last = max(last, b[i].Time)
	}
	if c.kev != nil {
		st := c.kev.Stats()
		if lost := st.KernelLost + st.QueueDropped; lost > c.lostSeen {
			c.events.NoteLost(lost-c.lostSeen, last)
			c.lostSeen = lost
		}
	}
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
	if v.OwnersOnly && len(v.Recorded) > 0 {
		c.recorded = model.NewKernelEvents(model.KernelEventsConfig{})
		c.recorded.Partial = true
		for i := range v.Recorded {
			c.recorded.Add(&v.Recorded[i])
		}
	}
}

// kernelEvents returns the store the diagnosis reads the kernel's events
// from: the live one, else the one a replayed file recorded (nil: none).
func (c *core) kernelEvents() *model.KernelEvents {
	if c.events != nil {
		return c.events
	}
	return c.recorded
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
	dc := model.NewDiagContext(&model.Snapshot{Now: max(c.now, f.LastTS)}, model.DiagOptions{Kernel: kx, Events: c.kernelEvents()})
	f.Findings = model.Diagnose(&f, dc)
	var e model.FlowEntry
	joinFlow(&e, &f, c.kernel, nil)
	joinEvents(&e, c.kernelEvents())
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
	c.header(&s, src)
	Join(&s, JoinOptions{Kernel: c.kernel, Events: c.kernelEvents(), SocketFilter: c.cfg.SocketFilter, FirstSeen: c.firstSeen, Prev: c.prev})
	c.stick(&s)
	s.Processes = c.processes()
	s.ProcessFindings = c.processFindings(s.ProcessFindings)
	c.prev = &s
	if c.cfg.OnFinding != nil {
		c.raiseProcesses(&s)
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

// raiseProcesses hands the process findings of s not raised yet to
// OnFinding.
func (c *core) raiseProcesses(s *model.Snapshot) {
	for i := range s.ProcessFindings {
		pf := &s.ProcessFindings[i]
		k := procKey{pf.PID, pf.StartTicks, pf.Label}
		if !c.procRaised[k] {
			c.procRaised[k] = true
			c.cfg.OnFinding(FindingEvent{Now: s.Now, Process: pf, Finding: &pf.Finding})
		}
	}
}

// header sets what a snapshot says besides its flows.
func (c *core) header(s *model.Snapshot, src model.SourceStats) {
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
	s.EventsNote = c.eventsNote
	if c.events != nil {
		c.events.Forget(s.Now - forgetEvents)
		s.EventsHeld = c.events.Len()
		s.EventsLost = c.events.Lost
	}
}

// stream is the end of a headless run without a copy of the table: what
// snapshot would publish, row by row. It learns the cross-connection
// facts from every flow, then fills, joins, diagnoses and rates each flow
// in turn and hands it to visit (the rows a snapshot would hold, in its
// order, kernel-only rows last; visit and OnFinding are called on a
// goroutine of stream's own, one row at a time), and returns the
// snapshot without its
// flows and rows: the counters, the kernel view, the processes and their
// findings. Only the rows the selection keeps are visited. A row and its
// flow are only valid during visit. An error from
// visit ends the stream and is returned.
func (c *core) stream(now int64, src model.SourceStats, visit func(*model.FlowEntry) error) (*model.Snapshot, error) {
	s := &model.Snapshot{Now: now, Table: c.table.Stats()}
	c.header(s, src)
	s.Kernel = c.kernel
	kx := stateIndex(c.kernel)
	events := c.kernelEvents()
	var matched []bool
	if kx != nil {
		matched = make([]bool, len(kx.View.Sockets))
	}
	dc := model.NewDiagContextAt(now, model.DiagOptions{Kernel: kx, Events: events})
	c.table.EachBrief(func(f *model.Flow) bool {
		dc.Learn(f)
		return true
	})
	dc.Ready()

	var rc rateCursor
	if c.prev != nil {
		rc = rateCursor{prev: c.prev.Rows, prevNow: c.prev.Now}
	}
	// Two goroutines share the work: this one fills, joins, diagnoses
	// and rates a batch of rows while the other hands the previous batch
	// to OnFinding and visit (the output's formatting, as costly).
	var bs [endBatches]endBatch
	free := make(chan *endBatch, len(bs))
	for i := range bs {
		free <- &bs[i]
	}
	full := make(chan *endBatch, len(bs))
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range full {
			for i := range b.rows {
				e := &b.rows[i]
				if err == nil && c.cfg.OnFinding != nil && len(e.Findings) > 0 {
					c.raise(e, now, c.raised[e.Key()])
				}
				if err == nil && c.keep(e, now) {
					err = visit(e)
				}
			}
			free <- b
		}
	}()
	prepare := func(e *model.FlowEntry) {
		f := e.Flow
		joinEvents(e, events)
		f.Findings = model.Diagnose(f, dc)
		e.Findings = f.Findings
		if old := c.sticky[e.Key()]; len(old) > 0 {
			stickRow(e, old)
		}
		rc.set(e, now)
	}
	for pos := 0; ; {
		b := <-free
		next := c.table.Fill(&b.flows, pos, endBatchSize)
		if next == pos {
			free <- b
			break
		}
		pos = next
		b.rows = b.rows[:0]
		for i := range b.flows.Flows {
			b.rows = append(b.rows, model.FlowEntry{})
			e := &b.rows[len(b.rows)-1]
			joinFlow(e, &b.flows.Flows[i], c.kernel, matched)
			prepare(e)
		}
		full <- b
	}
	// The sockets no flow claimed, once every flow has claimed its own.
	b := <-free
	b.flows.Flows = kernelOnly(kx, matched, c.cfg.SocketFilter, c.firstSeen)
	b.rows = b.rows[:0]
	for i := range b.flows.Flows {
		b.rows = append(b.rows, model.FlowEntry{})
		e := &b.rows[len(b.rows)-1]
		joinFlow(e, &b.flows.Flows[i], c.kernel, nil)
		prepare(e)
	}
	full <- b
	close(full)
	<-done
	if err != nil {
		return s, err
	}
	if kx != nil {
		s.ProcessFindings = model.DiagnoseProcesses(kx.View, model.Thresholds{})
	}
	s.Processes = c.processes()
	s.ProcessFindings = c.processFindings(s.ProcessFindings)
	if c.cfg.OnFinding != nil {
		c.raiseProcesses(s)
	}
	return s, nil
}

// The end of a headless run streams its rows in batches between two
// goroutines (see stream).
const (
	endBatches   = 4
	endBatchSize = 256
)

// endBatch is a batch of the end's rows and the flows they point to.
type endBatch struct {
	flows model.FlowBatch
	rows  []model.FlowEntry
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
	// Events are the kernel's events by socket (nil: none).
	Events *model.KernelEvents
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
		joinEvents(&s.Rows[i], o.Events)
	}
	s.KernelOnly = kernelOnly(kx, matched, o.SocketFilter, o.FirstSeen)

	dc := model.NewDiagContext(s, model.DiagOptions{Kernel: kx, Events: o.Events})
	for i := range s.Flows {
		s.Flows[i].Findings = model.Diagnose(&s.Flows[i], dc)
		s.Rows[i].Findings = s.Flows[i].Findings
	}
	for i := range s.KernelOnly {
		f := &s.KernelOnly[i]
		f.Findings = model.Diagnose(f, dc)
		var e model.FlowEntry
		joinFlow(&e, f, o.Kernel, nil)
		joinEvents(&e, o.Events)
		e.Findings = f.Findings
		s.Rows = append(s.Rows, e)
	}
	if kx != nil {
		s.ProcessFindings = model.DiagnoseProcesses(kx.View, model.Thresholds{})
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
		e.PeerSocket = &x.View.Sockets[pi]
		if p := x.Process(&x.View.Sockets[pi]); p != nil {
			e.Owners = append(e.Owners, model.OwnerRef{PID: int(p.PID), Name: p.Command, Side: side.Other()})
		}
	}
}

// joinEvents hands a row the kernel's history of each of its sockets on
// this host, and names a side's owner from it when the kernel view had
// none (a connection too short for any poll to see).
func joinEvents(e *model.FlowEntry, k *model.KernelEvents) {
	if k == nil {
		return
	}
	f := e.Flow
	for _, s := range [2]model.Side{model.SideA, model.SideB} {
		h := k.Share(f.Endpoint(s), f.Endpoint(s.Other()))
		if h == nil {
			continue
		}
		e.History[s] = h
		if e.Local == model.SideNone {
			e.Local = s
		}
		if _, ok := e.Owner(s); !ok && h.Owner.PID > 0 {
			e.Owners = append(e.Owners, model.OwnerRef{PID: h.Owner.PID, Name: h.Owner.Name, Side: s})
		}
	}
	// The local side's owner first.
	if len(e.Owners) > 1 && e.Owners[0].Side != e.Local {
		e.Owners[0], e.Owners[1] = e.Owners[1], e.Owners[0]
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
	rc := rateCursor{prev: prev, prevNow: prevNow}
	for i := range rows {
		rc.set(&rows[i], now)
	}
}

// rateCursor sets the rates of rows given in key order from the previous
// snapshot's rows (in the same order), walking both once.
type rateCursor struct {
	prev    []model.FlowEntry
	prevNow int64
	j       int
}

// set sets e's rate: its bytes since the previous snapshot over the time
// between them, else its mean rate since it began.
func (r *rateCursor) set(e *model.FlowEntry, now int64) {
	dt := now - r.prevNow
	f := e.Flow
	k := f.Key()
	bytes := f.Dir[0].PayloadBytes + f.Dir[1].PayloadBytes
	prev := r.prev
	for r.j < len(prev) && prev[r.j].Flow.Key().Compare(k) < 0 {
		r.j++
	}
	switch j := r.j; {
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

// stick gives each row back the findings the kernel's word proved in an
// earlier snapshot and the current view no longer shows, and remembers the
// current ones.
func (c *core) stick(s *model.Snapshot) {
	next := make(map[model.Key][]model.Finding, len(c.sticky))
	for i := range s.Rows {
		e := &s.Rows[i]
		k := e.Key()
		stickRow(e, c.sticky[k])
		for _, f := range e.Findings {
			if f.Evidence != model.EvidenceWire {
				next[k] = append(next[k], f)
			}
		}
	}
	c.sticky = next
}

// stickRow gives e back the findings of old it no longer has.
func stickRow(e *model.FlowEntry, old []model.Finding) {
	for _, o := range old {
		if !slices.ContainsFunc(e.Findings, func(f model.Finding) bool { return f.Label == o.Label }) {
			e.Findings = append(e.Findings, o)
			e.Flow.Findings = e.Findings
		}
	}
}

// processFindings completes the process findings of a snapshot: an fd_leak
// raised earlier stays while its process lives (its count may have
// stopped climbing at the limit), and the selection (--pid, --proc)
// applies. It forgets the processes that are gone.
func (c *core) processFindings(found []model.ProcessFinding) []model.ProcessFinding {
	if c.kernel == nil || c.kernel.View.OwnersOnly {
		return nil
	}
	alive := map[[2]uint64]bool{}
	for i := range c.kernel.View.Processes {
		p := &c.kernel.View.Processes[i]
		alive[[2]uint64{uint64(p.PID), p.StartTicks}] = true
	}
	has := map[procKey]bool{}
	for _, pf := range found {
		k := procKey{pf.PID, pf.StartTicks, pf.Label}
		has[k] = true
		if pf.Label == model.FindingFDLeak {
			c.leaked[k] = pf
		}
	}
	for k, pf := range c.leaked {
		switch {
		case !alive[[2]uint64{uint64(k.pid), k.start}]:
			delete(c.leaked, k)
		case !has[k]:
			pf.Summary += "; its count has stopped climbing since"
			found = append(found, pf)
		}
	}
	for k := range c.procRaised {
		if !alive[[2]uint64{uint64(k.pid), k.start}] {
			delete(c.procRaised, k)
		}
	}
	out := found[:0]
	for _, pf := range found {
		if c.cfg.PID != 0 && int(pf.PID) != c.cfg.PID {
			continue
		}
		if c.cfg.Proc != "" && !strings.Contains(strings.ToLower(pf.Command), strings.ToLower(c.cfg.Proc)) {
			continue
		}
		out = append(out, pf)
	}
	slices.SortStableFunc(out, func(a, b model.ProcessFinding) int { return cmp.Compare(a.PID, b.PID) })
	return out
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
