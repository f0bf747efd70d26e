package model

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// This file says who broke each connection and why (DESIGN.md §5): the
// rules behind every FindingLabel, from a Flow snapshot (with the per-side
// timings of Flow.Facts, which the Table keeps as it applies segments),
// sharpened by the kernel's view (KernelIndex) when the caller has it.
// The rules are tested on real kernel traffic: the scenario suite in
// testdata/scenarios and its ground truth.

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
	// Thresholds tune the rules; the zero value means DefaultThresholds.
	Thresholds Thresholds
}

// DiagContext is what the diagnosis of one snapshot shares across its
// flows: the time, the optional inputs and the cross-flow counts some
// rules need (short connections per address and server endpoint).
type DiagContext struct {
	now   int64
	opt   DiagOptions
	churn map[churnKey]int
}

type churnKey struct {
	closer netip.Addr
	server netip.AddrPort
}

// NewDiagContext prepares the diagnosis of the flows of s.
func NewDiagContext(s *Snapshot, opt DiagOptions) *DiagContext {
	if opt.Thresholds == (Thresholds{}) {
		opt.Thresholds = DefaultThresholds()
	}
	c := &DiagContext{opt: opt, churn: map[churnKey]int{}}
	if s == nil {
		return c
	}
	c.now = s.Now
	for i := range s.Flows {
		if k, ok := c.churnKey(&s.Flows[i]); ok {
			c.churn[k]++
		}
	}
	return c
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
	d.idleDrop()
	d.idleRaceEOF()
	d.closeWait()
	d.churn()
	d.fdLeak()
	slices.SortStableFunc(d.out, func(a, b Finding) int {
		if a.Severity != b.Severity {
			return int(b.Severity) - int(a.Severity)
		}
		return int(a.Label) - int(b.Label)
	})
	return d.out
}

// socketOf returns the socket whose local end is local and remote end
// remote, or nil.
func (x *KernelIndex) socketOf(local, remote netip.AddrPort) *Socket {
	k := [2]netip.AddrPort{
		netip.AddrPortFrom(local.Addr().Unmap(), local.Port()),
		netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port()),
	}
	if i, ok := x.byEnds[k]; ok {
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

// add records a finding; a second one of a label only adds its frames.
func (d *diag) add(l FindingLabel, sev Severity, side Side, summary string, frames ...uint64) {
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
	d.out = append(d.out, Finding{Label: l, Severity: sev, Side: side, Summary: summary, Frames: mergeFrames(nil, fr)})
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

// role names a side for a summary: "server 10.0.0.2:8080".
func (d *diag) role(s Side) string {
	ep := d.f.Endpoint(s)
	if d.f.Client > SideB {
		return "endpoint " + ep.String()
	}
	if s == d.f.Client {
		return "client " + ep.String()
	}
	return "server " + ep.String()
}

// roleWord is "client" or "server" ("peer" when roles are unknown).
func (d *diag) roleWord(s Side) string {
	if d.f.Client > SideB {
		return "peer"
	}
	if s == d.f.Client {
		return "client"
	}
	return "server"
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

// --- resets -----------------------------------------------------------------

// resets explains each RST and reports the finding it supports.
func (d *diag) resets() {
	var sent [2]bool
	for i := range d.f.Resets {
		r := &d.f.Resets[i]
		x := r.From
		if x > SideB {
			continue
		}
		if sent[x] || sent[x.Other()] {
			// The stack answering after an earlier RST of the flow.
			r.Cause = CauseAfterReset
			sent[x] = true
			continue
		}
		sent[x] = true
		if x == d.cl && d.f.Client <= SideB && r.SenderState == StateSynSent {
			r.Cause = CauseHalfOpenRecovery
			continue
		}
		if l := d.reset(r); l != FindingNone {
			r.Cause = l.String()
		}
	}
}

// synchronized reports a state in which an abort sends a socket RST.
func synchronized(s State) bool {
	switch s {
	case StateEstablished, StateCloseWait, StateFinWait1, StateFinWait2, StateClosing, StateLastAck:
		return true
	}
	return false
}

// reset classifies the first RST of its sender and reports its finding.
func (d *diag) reset(r *Reset) FindingLabel {
	f, x := d.f, r.From
	y := x.Other()
	cx, cy := &f.Dir[x], &f.Dir[y]
	if cx.Packets+cy.Packets <= uint64(cx.RST)+uint64(cy.RST) {
		return FindingNone // a lone RST: nothing says what it ended
	}
	hop, hopKnown := d.facts.ResetHop(r.Frame)
	pathHop := hopKnown && hop.SenderHops > 0 && (hop.Delta != 0 || hop.ClassDiffers)
	if r.MiddleboxSuspected || pathHop {
		if p, ok := d.idleBefore(y, r.TS); ok {
			d.add(FindingMiddleboxIdleDrop, SeverityCritical, SideNone, d.role(y)+" sent data after "+dur(p.To-p.From)+
				" idle and a RST in the name of "+d.role(x)+" answered it from "+hopText(hop, hopKnown)+
				": a NAT or firewall on the path had dropped the idle connection", p.Frame, r.Frame)
			return FindingMiddleboxIdleDrop
		}
		d.add(FindingMiddleboxInjected, SeverityCritical, SideNone, "a RST claiming to come from "+d.role(x)+
			" was not sent by it ("+d.forgeryText(r, hop, hopKnown)+"): a middlebox on the path forged it", r.Frame)
		return FindingMiddleboxInjected
	}
	switch {
	case x == d.sv && cx.SYNACK == 0 && cy.SYN > 0 && cx.PayloadBytes == 0 && cy.PayloadBytes == 0 && cx.Packets == uint64(cx.RST):
		after := ""
		if g := r.TS - f.FirstTS; g >= 0 {
			after = " (RST " + dur(g) + " after the SYN)"
		}
		d.add(FindingRefused, SeverityWarning, x, d.role(x)+" refused the connection: nothing listens on port "+
			strconv.Itoa(int(f.Endpoint(x).Port()))+", or a firewall rejects it"+after, f.FirstFrame, r.Frame)
		return FindingRefused
	case x == d.sv && cx.SYNACK > 0 && cx.PayloadBytes == 0 && r.Form == ResetStateless &&
		cx.Packets == uint64(cx.SYNACK)+uint64(cx.RST) && cy.Packets > uint64(cy.SYN):
		d.add(FindingAcceptQueueOverflow, SeverityCritical, x, d.role(x)+" answered the handshake, then reset it from SYN-RECEIVED "+
			"when the client's ACK arrived: its listener's accept queue was full"+d.listenerText()+
			" (the client saw connect() succeed, then a reset)", r.Frame)
		return FindingAcceptQueueOverflow
	case d.keepaliveBefore(x, r):
		return FindingKeepaliveTimeout
	}
	if fin := d.finOf(x); fin != nil && fin.Frame < r.Frame && r.Form == ResetStateless {
		if d.raced(x, fin) {
			d.add(FindingIdleTimeoutRace, SeverityWarning, x, d.role(x)+" closed the connection after "+dur(d.facts.FINQuiet[x])+
				" idle (its idle timeout); the "+d.nextData(y)+" came "+dur(d.facts.LastDataTS[y]-fin.TS)+
				" after the FIN and drew a RST: the keep-alive race", fin.Frame, d.facts.LastDataFrame[y], r.Frame)
			return FindingIdleTimeoutRace
		}
		d.add(FindingRSTAfterClose, SeverityWarning, x, d.role(x)+" had closed the connection, but the "+d.roleWord(y)+
			" kept writing"+d.dataAfterFIN(y, fin.TS)+"; "+d.roleWord(x)+"'s stack answered with a RST (data lost)",
			fin.Frame, d.factsFrame(y), r.Frame)
		return FindingRSTAfterClose
	}
	if r.Form == ResetStateless && (synchronized(r.SenderState) || cx.SYN+cx.SYNACK > 0) {
		d.add(FindingHalfOpenPeerLost, SeverityWarning, x, d.role(x)+" had no socket for the connection any more: "+
			"its stack answered the "+d.roleWord(y)+"'s data with a stateless RST (it lost the connection without a FIN: "+
			"restart, crash, or a reset that never arrived)", d.factsFrame(y), r.Frame)
		return FindingHalfOpenPeerLost
	}
	if !synchronized(r.SenderState) {
		return FindingNone
	}
	return d.abort(r)
}

// abort tells a close with unread data from an abortive close: the kernel's
// receive queue when known, else the timing (a RST within Idle of the
// peer's data, or after at least Idle of quiet).
func (d *diag) abort(r *Reset) FindingLabel {
	x := r.From
	y := x.Other()
	if s := d.sock[x]; s != nil && s.RecvQ > 0 {
		d.add(FindingCloseWithUnreadData, SeverityWarning, x, d.role(x)+" reset the connection instead of closing it with "+
			strconv.FormatUint(uint64(s.RecvQ), 10)+" bytes of the "+d.roleWord(y)+"'s data unread (Recv-Q): its application closed with unread input",
			r.Frame)
		return FindingCloseWithUnreadData
	}
	if ff := d.facts; ff != nil {
		p := ff.Pause
		idle := p.Frame == r.Frame && p.To-p.From >= d.th.Idle
		if !idle && ff.LastDataTS[y] != 0 && r.TS-ff.LastDataTS[y] < d.th.Idle && r.TS >= ff.LastDataTS[y] {
			d.add(FindingCloseWithUnreadData, SeverityWarning, x, d.role(x)+" reset the connection instead of closing it, "+
				dur(r.TS-ff.LastDataTS[y])+" after the "+d.roleWord(y)+"'s last data: most likely its application closed with unread input "+
				"(an SO_LINGER 0 abort right after reading looks the same on the wire; the kernel's Recv-Q tells them apart)",
				ff.LastDataFrame[y], r.Frame)
			return FindingCloseWithUnreadData
		}
		if idle {
			d.add(FindingAbortiveClose, SeverityInfo, x, d.role(x)+" aborted the connection with a RST instead of a FIN after "+
				dur(p.To-p.From)+" idle (SO_LINGER 0, a killed process or ss -K)", r.Frame)
			return FindingAbortiveClose
		}
	}
	d.add(FindingAbortiveClose, SeverityInfo, x, d.role(x)+" aborted the connection with a RST instead of a FIN "+
		"(SO_LINGER 0, a killed process, or close() with unread input)", r.Frame)
	return FindingAbortiveClose
}

// keepaliveBefore reports a keep-alive timeout, and records its finding:
// x probed, the peer never answered the probes, and x then reset.
func (d *diag) keepaliveBefore(x Side, r *Reset) bool {
	y := x.Other()
	cx, cy := &d.f.Dir[x], &d.f.Dir[y]
	if cx.KeepAlive == 0 || cy.KeepAliveAck >= cx.KeepAlive || cy.ZeroWindow > 0 {
		return false
	}
	var first, last *Event
	probes := uint32(0)
	for i := range d.f.Events {
		e := &d.f.Events[i]
		if e.Kind == EventKeepAlive && e.Side == x && e.Frame < r.Frame {
			if first == nil {
				first = e
			}
			last = e
			probes += e.Count
		}
	}
	if first == nil {
		return false
	}
	d.add(FindingKeepaliveTimeout, SeverityWarning, x, d.role(x)+" reset the connection after "+strconv.Itoa(int(probes))+
		" unanswered keep-alive probes over "+dur(r.TS-first.TS)+": the "+d.roleWord(y)+" or the path went silent",
		first.Frame, last.Frame, r.Frame)
	return true
}

// idleBefore returns the pause that y's data ended just before t, when it
// lasted at least IdleDrop.
func (d *diag) idleBefore(y Side, t int64) (Pause, bool) {
	if d.facts == nil {
		return Pause{}, false
	}
	p := d.facts.Pause
	ok := p.Side == y && p.Data && p.To-p.From >= d.th.IdleDrop && t >= p.To && t-p.To <= d.th.Idle
	return p, ok
}

func (d *diag) forgeryText(r *Reset, hop ResetHop, hopKnown bool) string {
	var sig []string
	if hopKnown && (hop.Delta != 0 || hop.ClassDiffers) {
		sig = append(sig, hopText(hop, true))
	} else if r.TTLMismatch {
		sig = append(sig, "TTL unlike its other packets")
	}
	if r.IPIDMismatch {
		sig = append(sig, "IP ID out of its sequence")
	}
	if r.MiddleboxSuspected {
		sig = append(sig, "its traffic or signals contradict it")
	}
	return strings.Join(sig, "; ")
}

func hopText(h ResetHop, known bool) string {
	switch {
	case !known:
		return "the path"
	case h.ClassDiffers:
		return "another initial TTL than the sender's"
	case h.Delta < 0:
		return plural(-int(h.Delta), "hop") + " closer than the sender"
	case h.Delta > 0:
		return plural(int(h.Delta), "hop") + " farther than the sender"
	}
	return "the sender's distance"
}

// raced reports the keep-alive race: x sent its FIN after at least Idle of
// quiet, and the peer's data followed the FIN within Idle (it was already
// on its way, or sent before the peer's application saw the FIN).
func (d *diag) raced(x Side, fin *Transition) bool {
	ff := d.facts
	y := x.Other()
	return ff != nil && ff.FINQuiet[x] >= d.th.Idle && ff.LastDataTS[y] > fin.TS && ff.LastDataTS[y]-fin.TS <= d.th.Idle
}

// nextData names what the peer sent next: a client's request, a server's
// data.
func (d *diag) nextData(y Side) string {
	if d.f.Client <= SideB && y == d.f.Client {
		return "client's next request"
	}
	return d.roleWord(y) + "'s next data"
}

func (d *diag) dataAfterFIN(y Side, t int64) string {
	if d.facts == nil || d.facts.LastDataTS[y] < t {
		return ""
	}
	return " (" + dur(d.facts.LastDataTS[y]-t) + " after the FIN)"
}

func (d *diag) factsFrame(s Side) uint64 {
	if d.facts == nil {
		return 0
	}
	return d.facts.LastDataFrame[s]
}

// --- opening -----------------------------------------------------------------

// openingRules: SYNs never answered (syn_timeout, or accept_queue_overflow
// when the kernel shows the listener full), and connections waiting in a
// full accept queue.
func (d *diag) openingRules() {
	f, cl, sv := d.f, d.cl, d.sv
	if f.Client > SideB {
		return
	}
	l, full := d.fullListener()
	if f.Dir[cl].SYN >= 2 && f.Dir[sv].Packets == 0 && d.end()-f.FirstTS >= d.th.Idle {
		span := dur(f.LastTS - f.FirstTS)
		n := strconv.Itoa(int(f.Dir[cl].SYN))
		if full {
			d.add(FindingAcceptQueueOverflow, SeverityCritical, sv, d.role(sv)+" never answered "+n+" SYNs over "+span+
				": its listener's accept queue is full"+listenerNumbers(l, d.listenStats(l)), f.FirstFrame, f.LastFrame)
			return
		}
		d.add(FindingSYNTimeout, SeverityCritical, sv, d.role(sv)+" never answered: "+n+" SYNs over "+span+
			" (filtered or blackholed)", f.FirstFrame, f.LastFrame)
		return
	}
	if s := d.sock[sv]; full && s != nil && s.Owner == OwnerKernel && f.Dir[sv].PayloadBytes == 0 &&
		(s.State == StateEstablished || s.State == StateCloseWait) {
		d.add(FindingAcceptQueueOverflow, SeverityCritical, sv, "the connection waits in the accept queue of "+d.role(sv)+
			", which is full"+listenerNumbers(l, d.listenStats(l))+": the server process does not call accept() fast enough",
			f.FirstFrame)
	}
}

// fullListener finds the listener of the server endpoint in the kernel's
// view and reports whether its accept queue is full (beyond its backlog)
// or its namespace counted overflows since the previous poll.
func (d *diag) fullListener() (*Socket, bool) {
	x := d.c.opt.Kernel
	if x == nil || x.View == nil || d.f.Client > SideB {
		return nil, false
	}
	ep := d.f.Endpoint(d.sv)
	addr := ep.Addr().Unmap()
	var best *Socket
	for i := range x.View.Sockets {
		s := &x.View.Sockets[i]
		if s.State != StateListen || s.Local.Port() != ep.Port() {
			continue
		}
		if a := s.Local.Addr().Unmap(); a == addr || a.IsUnspecified() {
			best = s
			if a == addr {
				break
			}
		}
	}
	if best == nil {
		return nil, false
	}
	if best.RecvQ > best.SendQ {
		return best, true
	}
	st := d.listenStats(best)
	return best, st != nil && st.OverflowsDelta > 0 && best.RecvQ >= best.SendQ
}

func (d *diag) listenStats(l *Socket) *ListenStats {
	x := d.c.opt.Kernel
	if l == nil || x == nil || x.View == nil {
		return nil
	}
	for i := range x.View.Namespaces {
		if x.View.Namespaces[i].Inode == l.NetNS {
			return &x.View.Namespaces[i].Listen
		}
	}
	return nil
}

// listenerText adds the kernel's queue figures to a wire-only finding.
func (d *diag) listenerText() string {
	l, _ := d.fullListener()
	return listenerNumbers(l, d.listenStats(l))
}

func listenerNumbers(l *Socket, st *ListenStats) string {
	if l == nil {
		return ""
	}
	s := " (" + strconv.FormatUint(uint64(l.RecvQ), 10) + " queued, backlog " + strconv.FormatUint(uint64(l.SendQ), 10)
	if st != nil && st.OverflowsDelta > 0 {
		s += "; " + strconv.FormatUint(st.OverflowsDelta, 10) + " overflows since the last poll"
	}
	return s + ")"
}

// --- data path -----------------------------------------------------------------

// zeroWindow reports a side whose window stayed at zero for ZeroWindow,
// while data could still flow to it (no FIN from either side yet: some
// stacks close their window as they close).
func (d *diag) zeroWindow() {
	closing := uint64(0)
	for _, s := range [2]Side{SideA, SideB} {
		if t := d.finOf(s); t != nil && (closing == 0 || t.Frame < closing) {
			closing = t.Frame
		}
	}
	for _, z := range [2]Side{SideA, SideB} {
		var start *Event
		var best int64
		var from, to uint64
		for i := range d.f.Events {
			e := &d.f.Events[i]
			if e.Side != z {
				continue
			}
			switch e.Kind {
			case EventZeroWindowStart:
				if closing == 0 || e.Frame < closing {
					start = e
				}
			case EventZeroWindowEnd:
				if start != nil && e.TS-start.TS > best {
					best, from, to = e.TS-start.TS, start.Frame, e.Frame
				}
				start = nil
			}
		}
		if start != nil && d.f.ZeroWindowNow[z] && d.end()-start.TS > best {
			best, from, to = d.end()-start.TS, start.Frame, 0
		}
		if best >= d.th.ZeroWindow {
			still := ""
			if to == 0 {
				still = " (still closed)"
			}
			d.add(FindingZeroWindowStall, SeverityWarning, z, d.role(z)+" advertised a zero window for "+dur(best)+still+
				": its application stopped reading", from, to)
		}
	}
}

// loss reports a direction whose retransmissions pass the thresholds.
func (d *diag) loss() {
	for _, s := range [2]Side{SideA, SideB} {
		c := &d.f.Dir[s]
		n := c.Retransmission + c.FastRetransmission
		if n < d.th.LossMinRetrans || c.Packets < d.th.LossMinPackets ||
			float64(n)*100 < d.th.LossMinPercent*float64(c.Packets) {
			continue
		}
		pct := float64(n) * 100 / float64(c.Packets)
		sev := SeverityWarning
		if pct >= 10 {
			sev = SeverityCritical
		}
		text := d.role(s) + " retransmitted " + strconv.Itoa(int(n)) + " of " + strconv.FormatUint(c.Packets, 10) +
			" segments (" + strconv.FormatFloat(pct, 'f', 1, 64) + "%; " + strconv.Itoa(int(c.FastRetransmission)) +
			" fast, " + strconv.Itoa(int(c.Retransmission)) + " plain)"
		if d.facts != nil && d.facts.MaxRTO[s] >= 1e6 {
			text += "; it waited up to " + dur(d.facts.MaxRTO[s]) + " after the " + d.roleWord(s.Other()) + "'s last packet before resending (RTO)"
		}
		d.add(FindingLossRetransmit, sev, s, text, d.eventFrames(EventRetransmission, s, 3)...)
	}
}

// eventFrames returns the frames of the first n events of a kind from s.
func (d *diag) eventFrames(k EventKind, s Side, n int) []uint64 {
	var out []uint64
	for i := range d.f.Events {
		if e := &d.f.Events[i]; e.Kind == k && e.Side == s && len(out) < n {
			out = append(out, e.Frame)
		}
	}
	return out
}

// idleDrop: after a long pause a side's data is retransmitted and the
// peer never sends anything again: the path forgot the connection.
func (d *diag) idleDrop() {
	ff := d.facts
	if ff == nil || len(d.f.Resets) > 0 {
		return
	}
	p := ff.Pause
	if !p.Data || p.Side > SideB || p.To-p.From < d.th.IdleDrop {
		return
	}
	x, y := p.Side, p.Side.Other()
	if ff.LastTS[y] >= p.To || d.f.Dir[x].Retransmission == 0 {
		return
	}
	resent := d.eventFrames(EventRetransmission, x, 1)
	d.add(FindingMiddleboxIdleDrop, SeverityCritical, SideNone, "after "+dur(p.To-p.From)+" idle, "+d.role(x)+"'s data was "+
		"retransmitted "+strconv.Itoa(int(d.f.Dir[x].Retransmission))+" times and never answered (the "+d.roleWord(y)+
		" had been silent since): a NAT or firewall on the path dropped the idle connection", append([]uint64{p.Frame}, resent...)...)
}

// idleRaceEOF: a side closed after being idle and the peer's request came
// after the FIN, without a RST (the peer read EOF).
func (d *diag) idleRaceEOF() {
	ff := d.facts
	if ff == nil || d.has(FindingIdleTimeoutRace) || d.has(FindingRSTAfterClose) {
		return
	}
	for _, x := range [2]Side{SideA, SideB} {
		y := x.Other()
		fin := d.finOf(x)
		if fin == nil || !d.raced(x, fin) {
			continue
		}
		if yf := d.finOf(y); yf != nil && yf.TS < fin.TS {
			continue // x only answered the peer's close
		}
		d.add(FindingIdleTimeoutRace, SeverityWarning, x, d.role(x)+" closed the connection after "+dur(ff.FINQuiet[x])+
			" idle (its idle timeout); the "+d.nextData(y)+" came "+dur(ff.LastDataTS[y]-fin.TS)+
			" after the FIN: the keep-alive race", fin.Frame, ff.LastDataFrame[y])
	}
}

// --- leaks -----------------------------------------------------------------

// closeWait reports a side left in CLOSE-WAIT: on the wire since the
// peer's FIN, or in the kernel with an owner and no traffic.
func (d *diag) closeWait() {
	for _, w := range [2]Side{SideA, SideB} {
		s := d.sock[w]
		if s != nil && s.State != StateCloseWait {
			continue // the kernel knows better: it moved on
		}
		if s != nil && s.Owner == OwnerKernel {
			continue // waiting in an accept queue: no process holds it
		}
		var since int64 = -1
		var frame uint64
		if d.f.State[w] == StateCloseWait {
			t := d.transitionTo(w, StateCloseWait)
			// A side that still sends data is half-closed by design (the
			// peer shut down its writing and waits for the answer).
			if t != nil && (d.facts == nil || d.facts.LastDataTS[w] < t.TS) {
				since, frame = d.end()-t.TS, t.Frame
			}
		}
		if s != nil && s.HasInfo {
			idle := min(s.Info.LastDataRecv, s.Info.LastDataSent)
			since = max(since, int64(idle))
		}
		if since < d.th.CloseWait {
			continue
		}
		owner := ""
		if s != nil {
			if p := d.c.opt.Kernel.Process(s); p != nil {
				owner = " (process " + p.Command + " pid " + strconv.Itoa(int(p.PID)) + ")"
			}
		}
		d.add(FindingCloseWaitLeak, SeverityWarning, w, d.role(w)+" has been in CLOSE-WAIT for "+dur(since)+
			" since the "+d.roleWord(w.Other())+"'s FIN, silent and not closing"+owner+": its application never calls close()", frame)
	}
}

// churn reports a short connection among many from one address to one
// server endpoint, each leaving a TIME-WAIT on the active closer.
func (d *diag) churn() {
	k, ok := d.c.churnKey(d.f)
	if !ok {
		return
	}
	n := d.c.churn[k]
	if n < d.th.ChurnMinFlows {
		return
	}
	closer := SideA
	if d.f.State[SideB] == StateTimeWait {
		closer = SideB
	}
	d.add(FindingTimeWaitChurn, SeverityInfo, closer, d.roleWord(closer)+" "+k.closer.String()+" opened "+strconv.Itoa(n)+
		" short connections to "+k.server.String()+" and closed each first: every one holds a TIME-WAIT socket "+
		"for 60 s (reuse connections instead)", d.f.FirstFrame)
}

// fdLeak reports a connection whose owning process's fd count climbs to
// its limit.
func (d *diag) fdLeak() {
	x := d.c.opt.Kernel
	if x == nil {
		return
	}
	for _, s := range [2]Side{SideA, SideB} {
		p := x.Process(d.sock[s])
		if p == nil || p.FDGrowthPerMin < d.th.FDLeakMinPerMin || p.SecondsToLimit < 0 || p.SecondsToLimit > d.th.FDLeakHorizon {
			continue
		}
		left := "it has reached it (new sockets and files fail with EMFILE)"
		if p.SecondsToLimit > 0 {
			left = "at this rate it runs out in " + dur(int64(p.SecondsToLimit*1e9))
		}
		sev := SeverityWarning
		if p.SecondsToLimit < 600 {
			sev = SeverityCritical
		}
		d.add(FindingFDLeak, sev, s, "process "+p.Command+" (pid "+strconv.Itoa(int(p.PID))+"), owner of the "+d.roleWord(s)+
			" socket, holds "+strconv.Itoa(p.FDs)+" fds of its limit "+limitText(p.FDSoftLimit)+", growing "+
			strconv.FormatFloat(p.FDGrowthPerMin, 'f', 0, 64)+" per minute: "+left)
	}
}

func limitText(l uint64) string {
	if l == FDUnlimited {
		return "unlimited"
	}
	return strconv.FormatUint(l, 10)
}

// --- text -----------------------------------------------------------------

// dur renders a duration for a summary: "46 µs", "4.1 ms", "48 ms",
// "2.0 s", "3 min 5 s".
func dur(ns int64) string {
	switch {
	case ns < 0:
		return "0 s"
	case ns < 1e6:
		return strconv.FormatInt(ns/1e3, 10) + " µs"
	case ns < 10e6:
		return strconv.FormatFloat(float64(ns)/1e6, 'f', 1, 64) + " ms"
	case ns < 1e9:
		return strconv.FormatInt(ns/1e6, 10) + " ms"
	case ns < 60e9:
		return strconv.FormatFloat(float64(ns)/1e9, 'f', 1, 64) + " s"
	case ns < 3600e9:
		return strconv.FormatInt(ns/60e9, 10) + " min " + strconv.FormatInt(ns%60e9/1e9, 10) + " s"
	}
	return strconv.FormatInt(ns/3600e9, 10) + " h " + strconv.FormatInt(ns%3600e9/60e9, 10) + " min"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
