package model

import (
	"net/netip"
	"slices"
)

// The diagnosis says who broke each connection and why (DESIGN.md §5):
// the rules behind every FindingLabel, from a Flow snapshot (with the
// per-side timings of Flow.Facts, which the Table keeps as it applies
// segments), sharpened by the kernel's view (KernelIndex) when the caller
// has it. The rules are tested on real kernel traffic: the scenario suite
// in testdata/scenarios and its ground truth.
//
// This file is the engine: thresholds, the per-snapshot context, Diagnose
// and how findings are added and merged. The rules live in one file per
// family: diagnosis_resets.go (who sent a RST and why), diagnosis_opening.go
// (handshakes never answered, full accept queues), diagnosis_datapath.go
// (zero windows, loss, idle drops and races), diagnosis_leaks.go
// (CLOSE-WAIT, TIME-WAIT churn, fd leaks); diagnosis_text.go renders
// sides and durations for the summaries.

// Thresholds tune the rules. DefaultThresholds returns the values the
// scenario suite is tested with; durations are in nanoseconds.
type Thresholds struct {
	// Idle is the quiet (no data, SYN, FIN or RST either way) that makes a
	// connection idle: a RST after it is an abortive close of an idle
	// connection, a RST sooner after the peer's data a close with unread
	// data, and a FIN after it an idle timeout.
	Idle int64
	// IdleDrop is the quiet before data that the path then dropped or
	// reset, for middlebox_idle_drop.
	IdleDrop int64
	// ZeroWindow is how long a zero window must last to be a stall.
	ZeroWindow int64
	// CloseWait is how long a socket may sit in CLOSE-WAIT.
	CloseWait int64
	// LossMinRetrans, LossMinPackets and LossMinPercent: a direction
	// needs at least that many retransmissions (plain and fast), packets,
	// and that share of retransmitted packets for loss_retransmit.
	LossMinRetrans uint32
	LossMinPackets uint64
	LossMinPercent float64
	// ChurnMinFlows short connections from one address to one server
	// endpoint, each closed first by that address within ChurnWindow of
	// the snapshot and no longer than ChurnMaxLife, make time_wait_churn.
	ChurnMinFlows int
	ChurnWindow   int64
	ChurnMaxLife  int64
	// FDLeakMinPerMin and FDLeakHorizon: a process whose fd count grows at
	// least that fast and would reach its soft limit within that many
	// seconds is leaking.
	FDLeakMinPerMin float64
	FDLeakHorizon   float64
}

// DefaultThresholds returns the rules' default thresholds.
func DefaultThresholds() Thresholds {
	return Thresholds{
		Idle:            1e9,
		IdleDrop:        2e9,
		ZeroWindow:      1e9,
		CloseWait:       5e9,
		LossMinRetrans:  3,
		LossMinPackets:  20,
		LossMinPercent:  1,
		ChurnMinFlows:   100,
		ChurnWindow:     60e9, // Linux holds a TIME-WAIT for 60 s
		ChurnMaxLife:    10e9,
		FDLeakMinPerMin: 1,
		FDLeakHorizon:   3600,
	}
}

// DiagOptions are the optional inputs of a diagnosis.
type DiagOptions struct {
	// Kernel is the kernel's view joined to flows; nil without procinfo.
	Kernel *KernelIndex
	// Events are the kernel's events (tracepoints) by socket; nil without
	// them.
	Events *KernelEvents
	// Thresholds tune the rules; the zero value means DefaultThresholds.
	Thresholds Thresholds
}

// DiagContext is what the diagnosis of one snapshot shares across its
// flows: the time, the optional inputs and what the flows of one endpoint
// show together (see ends): many connections, one cause.
type DiagContext struct {
	now   int64
	opt   DiagOptions
	churn map[churnKey]int
	ends  map[epKey]*endpointFacts
	// kernelCW counts, per local endpoint, the owned sockets the kernel
	// lists in CLOSE-WAIT, silent for at least Idle (or of unknown
	// silence).
	kernelCW map[netip.AddrPort]int
}

// endpointFacts is what the capture shows about one endpoint across its
// connections: when it answered SYNs (a listener alive), after how long a
// quiet it closes connections itself (its idle timeout), and how it
// treats its peers' FINs (a server that leaves every connection in
// CLOSE-WAIT never calls close()).
type endpointFacts struct {
	// answered are the times of the connections whose SYN it answered,
	// sorted.
	answered []int64
	// idleMin and idleN: the shortest quiet after which it sent the first
	// FIN of a connection, over idleN connections (quiets under Idle do
	// not count: those are no idle timeout).
	idleMin int64
	idleN   int
	// limitTurns and limitN: the answers it had sent when it closed a
	// connection right after its own answer, over limitN connections.
	limitTurns uint16
	limitN     int
	// cwLeft counts connections it left in CLOSE-WAIT (the peer's FIN
	// acknowledged, no FIN of its own, no data since); cwClosed those it
	// closed after its peer's FIN; cwOldest the earliest peer FIN of the
	// ones left.
	cwLeft, cwClosed int
	cwOldest         int64
}

// epKey is an endpoint as a map key: fixed-size bytes hash faster than
// a netip.AddrPort, which the diagnosis looks up for every flow.
type epKey struct {
	a [16]byte
	p uint16
}

func epKeyOf(ep netip.AddrPort) epKey { return epKey{a: ep.Addr().As16(), p: ep.Port()} }

// endpoint returns the facts of ep, creating them.
func (c *DiagContext) endpoint(ep netip.AddrPort) *endpointFacts {
	k := epKeyOf(ep)
	e := c.ends[k]
	if e == nil {
		e = &endpointFacts{}
		c.ends[k] = e
	}
	return e
}

type churnKey struct {
	closer netip.Addr
	server netip.AddrPort
}

// NewDiagContext prepares the diagnosis of the flows of s.
func NewDiagContext(s *Snapshot, opt DiagOptions) *DiagContext {
	if s == nil {
		return NewDiagContextAt(0, opt).Ready()
	}
	c := NewDiagContextAt(s.Now, opt)
	for i := range s.Flows {
		c.Learn(&s.Flows[i])
	}
	return c.Ready()
}

// NewDiagContextAt starts the diagnosis of flows that are not in one
// snapshot (a table streamed at the end of a run): Learn each flow, then
// Ready, then Diagnose them. now is what Snapshot.Now would be.
func NewDiagContextAt(now int64, opt DiagOptions) *DiagContext {
	if opt.Thresholds == (Thresholds{}) {
		opt.Thresholds = DefaultThresholds()
	}
	return &DiagContext{opt: opt, now: now, churn: map[churnKey]int{}, ends: map[epKey]*endpointFacts{}}
}

// Learn adds what one flow shows across connections (its endpoints'
// habits, the churn it is part of). It keeps nothing of f, and reads
// neither its resets nor its events (Table.EachBrief leaves them out).
func (c *DiagContext) Learn(f *Flow) {
	if k, ok := c.churnKey(f); ok {
		c.churn[k]++
	}
	c.learn(f)
}

// Ready ends the learning and adds the kernel view's own counts; it
// returns c.
func (c *DiagContext) Ready() *DiagContext {
	for _, e := range c.ends {
		slices.Sort(e.answered)
	}
	opt := c.opt
	if x := opt.Kernel; x != nil && x.View != nil && !x.View.OwnersOnly {
		c.kernelCW = map[netip.AddrPort]int{}
		for i := range x.View.Sockets {
			s := &x.View.Sockets[i]
			if s.State == StateCloseWait && s.Owner == OwnerKnown &&
				(!s.HasInfo || int64(min(s.Info.LastDataRecv, s.Info.LastDataSent)) >= opt.Thresholds.Idle) {
				c.kernelCW[s.Local]++
			}
		}
	}
	return c
}

// learn adds what one flow shows about its endpoints.
func (c *DiagContext) learn(f *Flow) {
	if f.Kind != FlowWire || f.Client > SideB {
		return
	}
	sv := f.Client.Other()
	if f.Dir[sv].SYNACK > 0 {
		e := c.endpoint(f.Endpoint(sv))
		e.answered = append(e.answered, f.FirstTS)
	}
	ff := &f.Facts
	if !ff.Known {
		return
	}
	for _, x := range [2]Side{SideA, SideB} {
		y := x.Other()
		first := ff.FINQuiet[x] >= 0 && (ff.FINQuiet[y] < 0 || finBefore(f, x, y))
		switch {
		case first && ff.FINQuiet[x] >= c.opt.Thresholds.Idle:
			e := c.endpoint(f.Endpoint(x))
			if e.idleN == 0 || ff.FINQuiet[x] < e.idleMin {
				e.idleMin = ff.FINQuiet[x]
			}
			e.idleN++
		case first && x == sv && ff.FINAfterOwnData[x] && ff.Turns[x] >= 2:
			e := c.endpoint(f.Endpoint(x))
			if e.limitN == 0 || ff.Turns[x] < e.limitTurns {
				e.limitTurns = ff.Turns[x]
			}
			e.limitN++
		}
		// How x treats its peer's FIN.
		if ff.FINQuiet[y] < 0 || !finBefore(f, y, x) {
			continue
		}
		switch {
		case ff.FINQuiet[x] >= 0:
			c.endpoint(f.Endpoint(x)).cwClosed++
		case f.State[x] == StateCloseWait && ff.LastDataTS[x] <= finTime(f, y):
			e := c.endpoint(f.Endpoint(x))
			t := finTime(f, y)
			if e.cwLeft == 0 || t < e.cwOldest {
				e.cwOldest = t
			}
			e.cwLeft++
		}
	}
}

// finTime returns the time of side s's first FIN (0: none known).
func finTime(f *Flow, s Side) int64 {
	for i := range f.Transitions {
		t := &f.Transitions[i]
		if t.Side == s && (t.To == StateFinWait1 || t.To == StateLastAck || t.To == StateClosing) {
			return t.TS
		}
	}
	return 0
}

// finBefore reports whether x's first FIN came before y's (or y sent
// none).
func finBefore(f *Flow, x, y Side) bool {
	tx, ty := finTime(f, x), finTime(f, y)
	return tx != 0 && (ty == 0 || tx < ty || tx == ty && x == f.Client)
}

// churnKey returns the key of a short connection whose active closer holds
// the TIME-WAIT, if f is one.
func (c *DiagContext) churnKey(f *Flow) (churnKey, bool) {
	th := &c.opt.Thresholds
	if f.Client > SideB || c.now-f.LastTS > th.ChurnWindow || f.LastTS-f.FirstTS > th.ChurnMaxLife {
		return churnKey{}, false
	}
	for _, s := range [2]Side{SideA, SideB} {
		if f.State[s] == StateTimeWait {
			return churnKey{closer: f.Endpoint(s).Addr(), server: f.Endpoint(f.Client.Other())}, true
		}
	}
	return churnKey{}, false
}

// DiagnoseSnapshot diagnoses every flow of s and returns the findings by
// flow index. It fills each Reset.Cause, so call it before sharing s.
func DiagnoseSnapshot(s *Snapshot, opt DiagOptions) [][]Finding {
	c := NewDiagContext(s, opt)
	out := make([][]Finding, len(s.Flows))
	for i := range s.Flows {
		out[i] = Diagnose(&s.Flows[i], c)
		s.Flows[i].Findings = out[i]
	}
	return out
}

// Cause labels of resets that are no finding of their own.
const (
	// CauseAfterReset: sent by a stack answering the peer after an
	// earlier RST of the same flow closed its side.
	CauseAfterReset = "after_reset"
	// CauseHalfOpenRecovery: a client in SYN-SENT answering the stale
	// server's challenge ACK (the server's old connection is reset).
	CauseHalfOpenRecovery = "half_open_recovery"
)

// diag is one flow's diagnosis in progress.
type diag struct {
	f     *Flow
	c     *DiagContext
	th    *Thresholds
	facts *FlowFacts // nil when the flow carries none
	cl    Side       // client, or SideA when unknown
	sv    Side
	sock  [2]*Socket // each side's socket in the kernel's view
	out   []Finding
	// ends caches each side's endpoint facts (endOf).
	ends   [2]*endpointFacts
	endsOK [2]bool
}

// endOf returns what other connections showed of side x's endpoint, nil
// when nothing (looked up once per flow and side).
func (d *diag) endOf(x Side) *endpointFacts {
	if x > SideB {
		return nil
	}
	if !d.endsOK[x] {
		d.ends[x], d.endsOK[x] = d.c.ends[epKeyOf(d.f.Endpoint(x))], true
	}
	return d.ends[x]
}

// Diagnose returns the findings of one flow, most severe first, and
// writes each of its resets' Cause (the label of the finding it supports,
// CauseAfterReset or CauseHalfOpenRecovery). A nil c diagnoses from the
// flow alone with the default thresholds.
func Diagnose(f *Flow, c *DiagContext) []Finding {
	if f == nil {
		return nil
	}
	if c == nil {
		c = NewDiagContext(nil, DiagOptions{})
		c.now = f.LastTS
	}
	d := &diag{f: f, c: c, th: &c.opt.Thresholds, cl: f.Client, sv: f.Client.Other()}
	if d.cl > SideB {
		d.cl, d.sv = SideA, SideB
	}
	if f.Facts.Known {
		d.facts = &f.Facts
	}
	if x := c.opt.Kernel; x != nil && x.View != nil {
		for _, s := range [2]Side{SideA, SideB} {
			d.sock[s] = x.socketOf(f.Endpoint(s), f.Endpoint(s.Other()))
		}
	}
	d.resets()
	d.openingRules()
	d.zeroWindow()
	d.loss()
	d.foldSYNRetry()
	d.idleDrop()
	d.idleRaceEOF()
	d.closeWait()
	d.churn()
	slices.SortStableFunc(d.out, func(a, b Finding) int {
		if a.Severity != b.Severity {
			return int(b.Severity) - int(a.Severity)
		}
		return int(a.Label) - int(b.Label)
	})
	return d.out
}

// foldSYNRetry folds a lost first SYN into the flow's loss_retransmit:
// the path that lost enough of its segments lost the SYN too, one cause
// and one finding, which says so.
func (d *diag) foldSYNRetry() {
	i := slices.IndexFunc(d.out, func(f Finding) bool { return f.Label == FindingSYNRetry })
	j := slices.IndexFunc(d.out, func(f Finding) bool { return f.Label == FindingLossRetransmit })
	if i < 0 || j < 0 {
		return
	}
	retry := d.synRetry()
	if retry == nil {
		return
	}
	d.out[j].Summary += "; the client's first SYN went unanswered too (connect() waited " + dur(retry.TS-d.f.FirstTS) +
		" for its retransmission)"
	d.out[j].Frames = mergeFrames(d.out[j].Frames, d.out[i].Frames)
	d.out = slices.Delete(d.out, i, i+1)
}

// socketOf returns the socket whose local end is local and remote end
// remote, or nil.
func (x *KernelIndex) socketOf(local, remote netip.AddrPort) *Socket {
	if i, ok := x.byEnds[endsOf(local, remote)]; ok {
		return &x.View.Sockets[i]
	}
	return nil
}

func (d *diag) has(l FindingLabel) bool {
	for i := range d.out {
		if d.out[i].Label == l {
			return true
		}
	}
	return false
}

// add records a finding that rests on the wire; a second one of a label
// only adds its frames.
func (d *diag) add(l FindingLabel, sev Severity, side Side, summary string, frames ...uint64) {
	d.addEv(l, sev, EvidenceWire, side, summary, frames...)
}

// addEv records a finding and what it rests on.
func (d *diag) addEv(l FindingLabel, sev Severity, ev Evidence, side Side, summary string, frames ...uint64) {
	fr := make([]uint64, 0, len(frames))
	for _, n := range frames {
		if n != 0 {
			fr = append(fr, n)
		}
	}
	for i := range d.out {
		if d.out[i].Label == l {
			d.out[i].Frames = mergeFrames(d.out[i].Frames, fr)
			return
		}
	}
	d.out = append(d.out, Finding{Label: l, Severity: sev, Evidence: ev, Side: side, Summary: summary, Frames: mergeFrames(nil, fr)})
}

func mergeFrames(a, b []uint64) []uint64 {
	a = append(a, b...)
	slices.Sort(a)
	return slices.Compact(a)
}

// maxClockGap is how far the snapshot may lie beyond a flow's last packet
// before the capture's clock is taken as discontinuous (files of several
// captures concatenated): durations then end at the flow's last packet.
const maxClockGap = 24 * 3600e9

// end is the time "until now" durations of this flow run to.
func (d *diag) end() int64 {
	if d.c.now-d.f.LastTS > maxClockGap || d.c.now < d.f.LastTS {
		return d.f.LastTS
	}
	return d.c.now
}

// transitionTo returns the first transition of side s into one of the
// states, or nil.
func (d *diag) transitionTo(s Side, states ...State) *Transition {
	for i := range d.f.Transitions {
		t := &d.f.Transitions[i]
		if t.Side == s && slices.Contains(states, t.To) {
			return t
		}
	}
	return nil
}

// finOf returns the transition that marks side s's first FIN, nil when
// none is known.
func (d *diag) finOf(s Side) *Transition {
	return d.transitionTo(s, StateFinWait1, StateLastAck, StateClosing)
}
