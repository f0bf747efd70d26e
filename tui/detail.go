package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/charmbracelet/lipgloss"

	"github.com/connscope/connscope/model"
)

// detailTab is a pane of the drill-down.
type detailTab uint8

const (
	tabLadder detailTab = iota
	tabEvents
	tabStates
	tabCounters
	tabKernel
	numTabs
)

var tabNames = [numTabs]string{"Ladder", "Events", "States", "Counters", "Kernel"}

// detailView is the drill-down's state: which flow, which pane, where each
// pane is scrolled, and the flow's packet log as last fetched.
type detailView struct {
	id     model.FlowID
	tab    detailTab
	scroll [numTabs]int
	// pkts is the packet log of flow id; loaded once an answer arrived.
	pkts   model.FlowPackets
	pktsOK bool
	loaded bool
	// askedAt is the flow's LastFrame when packets were last requested:
	// the log is fetched again only when the flow saw new packets.
	askedAt uint64
	asked   bool
}

// open resets the view for flow id.
func (d *detailView) open(id model.FlowID) {
	*d = detailView{id: id}
}

// needsFetch reports whether the packet log is older than the flow.
func (d *detailView) needsFetch(f *model.Flow) bool {
	return f != nil && (!d.asked || f.LastFrame != d.askedAt)
}

// setPackets stores an answer, dropping one for another flow.
func (d *detailView) setPackets(msg packetsMsg) {
	if msg.id == d.id {
		d.pkts, d.pktsOK, d.loaded = msg.pkt, msg.ok, true
	}
}

// detailFlow returns the flow the drill-down shows, from the current rows
// (filtered out or not), or nil when the table no longer has it.
func (m *Model) detailFlow() (*model.FlowEntry, *model.Flow) {
	e := m.rows.entry(m.detail.id)
	if e == nil {
		return nil, nil
	}
	return e, e.Flow
}

// findingsOf asks the diagnosis for one flow's findings.
func (m *Model) findingsOf(f *model.Flow) []model.Finding {
	if m.opts.Findings == nil || f == nil {
		return nil
	}
	return m.opts.Findings(f)
}

// evidence collects the frames the ladder highlights: every finding's
// evidence and every reset.
func evidence(f *model.Flow, finds []model.Finding) map[uint64]bool {
	ev := map[uint64]bool{}
	for _, x := range finds {
		for _, fr := range x.Frames {
			ev[fr] = true
		}
	}
	for _, r := range f.Resets {
		ev[r.Frame] = true
	}
	return ev
}

// leftSide is the side drawn on the left of the ladder: the client when
// known.
func leftSide(f *model.Flow) model.Side {
	if f.Client == model.SideB {
		return model.SideB
	}
	return model.SideA
}

// endpointName is "client 10.0.0.1:51000" (sanitising is not needed:
// addresses are formatted by netip).
func endpointName(f *model.Flow, s model.Side) string {
	return roleName(f, s) + " " + fmtAddr(f.Endpoint(s), 60)
}

// detailHeader builds the summary above the panes, most important lines
// first so a short terminal keeps them.
func (m *Model) detailHeader(e *model.FlowEntry, f *model.Flow, finds []model.Finding) []string {
	st := &m.st
	l, r := leftSide(f), leftSide(f).Other()
	roles := "(client sent the SYN)"
	name := fmt.Sprintf("Flow #%d", f.ID)
	switch {
	case isSocketRow(f):
		name, roles = "Socket", "(the kernel lists it; no packet of it was seen)"
	case f.Client == model.SideNone:
		roles = "(roles unknown: no SYN seen)"
	case f.RoleInferred:
		roles = "(roles inferred: no SYN seen)"
	}
	title := st.title.Render(name) + "  " +
		endpointName(f, l) + " → " + endpointName(f, r) + "  " + st.dim.Render(roles)
	lines := []string{title}

	// Resets: who sent them is the first question.
	switch n := len(f.Resets); {
	case n > 0:
		x := f.Resets[n-1]
		line := st.err.Render("RST") + " " + m.resetText(f, x)
		if n > 1 || f.ResetsDropped > 0 {
			line += st.dim.Render(fmt.Sprintf("  (%d resets: see Events)", n+int(f.ResetsDropped)))
		}
		lines = append(lines, line)
	case f.Dir[0].RST+f.Dir[1].RST > 0:
		lines = append(lines, st.err.Render("RST")+" sent by "+rstSenders(f))
	}
	for _, s := range []model.Side{l, r} {
		c := f.Dir[s]
		state := f.State[s]
		line := fmt.Sprintf("%-6s %-11s sent %s pkts %s", roleName(f, s), state.String(),
			fmtCount(c.Packets), fmtBytes(c.PayloadBytes))
		if n := c.RetransmissionField(); n > 0 {
			line += fmt.Sprintf("  retrans %d", n)
		}
		if c.RST > 0 {
			line += fmt.Sprintf("  rst %d", c.RST)
		}
		if c.ZeroWindow > 0 {
			line += fmt.Sprintf("  zero-win %d", c.ZeroWindow)
		}
		if f.ZeroWindowNow[s] {
			line += "  " + st.warn.Render("window closed now")
		}
		lines = append(lines, line)
	}
	if len(finds) == 0 {
		if m.opts.Findings == nil {
			lines = append(lines, st.dim.Render("no diagnosis in this view"))
		} else {
			lines = append(lines, st.dim.Render("no findings"))
		}
	}
	for _, x := range finds {
		mark := "● "
		if x.Severity == model.SeverityCritical {
			mark = "▲ "
		}
		// The explanation is the point of the pane: wrap it rather than
		// cut it at the terminal's edge.
		head := mark + x.Label.String()
		text := Sanitize(x.Summary)
		if len(x.Frames) > 0 {
			text += "  (frames " + joinFrames(x.Frames, 6) + ")"
		}
		first := lipgloss.Width(head) + 2
		for i, part := range wrapWords(text, m.width-first, m.width-4) {
			if i == 0 {
				lines = append(lines, st.severityStyle(x.Severity).Render(head)+"  "+part)
			} else {
				lines = append(lines, "    "+part)
			}
		}
	}
	timing := fmt.Sprintf("age %s  idle %s  frames %d-%d  iRTT %s",
		fmtDur(e.Age(m.now())), fmtDur(e.Idle(m.now())), f.FirstFrame, f.LastFrame, fmtRTT(f.IRTT))
	if isSocketRow(f) {
		timing = "idle " + fmtDur(e.Idle(m.now())) + " (the kernel's last send or receive)"
	}
	for _, s := range []model.Side{l, r} {
		if a := f.AckRTT[s]; a.Samples > 0 {
			timing += fmt.Sprintf("  RTT %s data %s avg", roleName(f, s), fmtRTT(a.Avg()))
		}
	}
	lines = append(lines, timing)
	lines = append(lines, m.kernelSummary(f))
	return lines
}

// resetText describes one reset: who, from which state, its wire form and
// whether it looked forged.
func (m *Model) resetText(f *model.Flow, x model.Reset) string {
	s := fmt.Sprintf("by %s at frame %d (+%s) from %s, %s form", endpointName(f, x.From), x.Frame,
		fmtRel(x.TS-f.FirstTS), x.SenderState, x.Form)
	if x.Effective {
		s += ", accepted"
	}
	var odd []string
	if x.TTLMismatch {
		odd = append(odd, "TTL differs")
	}
	if x.IPIDMismatch {
		odd = append(odd, "IP ID out of sequence")
	}
	if len(odd) > 0 {
		s += ", " + strings.Join(odd, ", ")
	}
	if x.MiddleboxSuspected {
		s += " — " + m.st.warn.Render("middlebox suspected")
	}
	if x.Cause != "" {
		s += " — " + Sanitize(x.Cause)
	}
	return s
}

// rstSenders names the RST senders from the counters alone.
func rstSenders(f *model.Flow) string {
	var who []string
	for _, s := range []model.Side{model.SideA, model.SideB} {
		if n := f.Dir[s].RST; n > 0 {
			who = append(who, fmt.Sprintf("%s (%d)", endpointName(f, s), n))
		}
	}
	return strings.Join(who, " and ")
}

func joinFrames(fr []uint64, maxN int) string {
	var b strings.Builder
	for i, x := range fr {
		if i == maxN {
			b.WriteString(fmt.Sprintf(" +%d", len(fr)-maxN))
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(x, 10))
	}
	return b.String()
}

// kernelSummary is one line on the flow's socket and owner, or why there
// is none.
func (m *Model) kernelSummary(f *model.Flow) string {
	if m.kernel == nil {
		return m.st.dim.Render("kernel: " + m.kernelNote())
	}
	s, side, ok := m.kernel.Lookup(f)
	if !ok {
		return m.st.dim.Render("kernel: no socket on this host for this flow")
	}
	line := fmt.Sprintf("kernel: %s socket %s", roleName(f, side), s.State)
	if s.HasInfo {
		line += fmt.Sprintf("  rtt %s  cwnd %d  retrans %d", fmtRTT(int64(s.Info.RTT)), s.Info.Cwnd, s.Info.TotalRetrans)
	}
	if p := m.kernel.Process(s); p != nil {
		line += fmt.Sprintf("  · %s/%d", Sanitize(p.Command), p.PID)
	} else if note := s.OwnerNote(); note != "" {
		line += "  · " + Sanitize(note)
	}
	return line
}

// tabBar renders the pane names, the current one marked.
func (m *Model) tabBar(f *model.Flow) string {
	var b strings.Builder
	for t := detailTab(0); t < numTabs; t++ {
		name := tabNames[t]
		switch t {
		case tabEvents:
			if n := len(f.Events) + len(f.Resets); n > 0 {
				name += " " + strconv.Itoa(n)
			}
		case tabStates:
			if n := len(f.Transitions); n > 0 {
				name += " " + strconv.Itoa(n)
			}
		}
		b.WriteByte(' ')
		if t == m.detail.tab {
			b.WriteString(m.st.tabOn.Render("[" + name + "]"))
		} else {
			b.WriteString(m.st.tab.Render(" " + name + " "))
		}
	}
	b.WriteString(m.st.dim.Render("   tab: next pane · esc: back · w: save"))
	return b.String()
}

// detailBody returns every line of the current pane.
func (m *Model) detailBody(f *model.Flow, finds []model.Finding, width int) []string {
	switch m.detail.tab {
	case tabEvents:
		return m.eventLines(f, finds)
	case tabStates:
		return m.stateLines(f)
	case tabCounters:
		return counterLines(f)
	case tabKernel:
		return m.kernelLines(f)
	}
	return m.ladderLines(f, finds, width)
}

// ladderCols sets the ladder's columns for a width.
type ladderCols struct {
	frame, time, lane, seq, ack, ln, win int
}

func ladderLayout(width int) ladderCols {
	switch {
	case width >= 110:
		return ladderCols{frame: 7, time: 11, lane: 22, seq: 10, ack: 10, ln: 6, win: 6}
	case width >= 72:
		return ladderCols{frame: 6, time: 10, lane: 16, seq: 9, ack: 9, ln: 5, win: 5}
	}
	return ladderCols{frame: 5, time: 9, lane: max(8, min(16, width-22)), ln: 5}
}

// flagWords names flags as Wireshark does, lowest bit first ("SYN,ACK",
// "FIN,PSH,ACK"), or "" for none.
func flagWords(f model.TCPFlags) string {
	names := [...]string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"}
	var parts []string
	for i, n := range names {
		if f&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, ",")
}

// lane draws one arrow with the flags on it, left to right when the
// sender is on the left. Flags are spelled out when they fit, else in
// tcpdump's letters.
func lane(fl model.TCPFlags, w int, rightward bool) string {
	body := w - 1 // one cell for the arrowhead
	flags := flagWords(fl)
	if len(flags) > body-2 {
		flags = fl.String()
	}
	if len(flags) > body-2 {
		flags = flags[:max(body-2, 0)]
	}
	left := (body - len(flags)) / 2
	right := body - len(flags) - left
	s := strings.Repeat("─", left) + flags + strings.Repeat("─", right)
	if rightward {
		return s + "▶"
	}
	return "◀" + s
}

// ladderLines draws the flow's packets: time, direction, flags, relative
// seq/ack, length, window and analysis flags; evidence frames marked.
func (m *Model) ladderLines(f *model.Flow, finds []model.Finding, width int) []string {
	d := &m.detail
	switch {
	case !d.loaded:
		return []string{m.st.dim.Render("loading packets…")}
	case !d.pktsOK:
		return []string{m.st.dim.Render("no packet log for this flow: it was evicted to bound memory, or the source keeps none")}
	}
	c := ladderLayout(width)
	left := leftSide(f)
	ev := evidence(f, finds)
	hdr := " " + fit("FRAME", c.frame, true) + " " + fit("TIME", c.time, true) + " " +
		fit(roleName(f, left)+" ⇄ "+roleName(f, left.Other()), c.lane, false)
	if c.seq > 0 {
		hdr += " " + fit("SEQ", c.seq, true) + " " + fit("ACK", c.ack, true)
	}
	hdr += " " + fit("LEN", c.ln, true)
	if c.win > 0 {
		hdr += " " + fit("WIN", c.win, true)
	}
	hdr += " ANALYSIS"
	out := []string{m.st.header.Render(hdr)}
	p := &d.pkts
	if p.Restarted {
		out = append(out, m.st.dim.Render("   ··· earlier packets were dropped from the log to bound memory ···"))
	}
	for i, r := range p.Records {
		if i == p.GapAt && p.Skipped > 0 {
			out = append(out, m.st.dim.Render(fmt.Sprintf("   ··· %d packets not kept ···", p.Skipped)))
		}
		mark := " "
		if ev[r.Frame] {
			mark = "*"
		}
		line := mark + fit(strconv.FormatUint(r.Frame, 10), c.frame, true) + " " +
			fit(fmtRel(r.TS-f.FirstTS), c.time, true) + " " + lane(r.Flags, c.lane, r.Dir == left)
		if c.seq > 0 {
			line += " " + fit(strconv.FormatUint(uint64(r.RelSeq), 10), c.seq, true) +
				" " + fit(strconv.FormatUint(uint64(r.RelAck), 10), c.ack, true)
		}
		line += " " + fit(strconv.FormatUint(uint64(r.Len), 10), c.ln, true)
		if c.win > 0 {
			line += " " + fit(strconv.FormatUint(uint64(r.Window), 10), c.win, true)
		}
		if a := r.Analysis.String(); a != "" {
			line += " " + a
		}
		switch {
		case ev[r.Frame]:
			line = m.st.evidence.Render(line)
		case r.Flags.Has(model.FlagRST):
			line = m.st.err.Render(line)
		case r.Analysis != 0:
			line = m.st.warn.Render(line)
		}
		out = append(out, line)
	}
	return out
}

// eventLines lists findings, resets and events with their frames.
func (m *Model) eventLines(f *model.Flow, finds []model.Finding) []string {
	st := &m.st
	var out []string
	if len(finds) > 0 {
		out = append(out, st.title.Render("Findings"))
		for _, x := range finds {
			out = append(out, "  "+st.severityStyle(x.Severity).Render(x.Label.String())+"  "+Sanitize(x.Summary))
			if len(x.Frames) > 0 {
				out = append(out, "    evidence frames "+joinFrames(x.Frames, 20))
			}
		}
		out = append(out, "")
	}
	out = append(out, st.title.Render(fmt.Sprintf("Resets (%d)", len(f.Resets))))
	if f.ResetsDropped > 0 {
		out = append(out, st.dim.Render(fmt.Sprintf("  %d older resets not kept", f.ResetsDropped)))
	}
	if len(f.Resets) == 0 {
		out = append(out, st.dim.Render("  none"))
	}
	for _, x := range f.Resets {
		out = append(out, "  "+m.resetText(f, x))
	}
	out = append(out, "", st.title.Render(fmt.Sprintf("Events (%d)", len(f.Events))))
	if f.EventsDropped > 0 {
		out = append(out, st.dim.Render(fmt.Sprintf("  %d older events not kept", f.EventsDropped)))
	}
	if len(f.Events) == 0 {
		out = append(out, st.dim.Render("  none"))
	}
	for _, x := range f.Events {
		line := fmt.Sprintf("  frame %-7d +%-12s %-7s %-14s", x.Frame, fmtRel(x.TS-f.FirstTS), roleName(f, x.Side), x.Kind)
		if x.Count > 1 {
			line += fmt.Sprintf(" x%d", x.Count)
		}
		if x.Detail != "" {
			line += " " + Sanitize(x.Detail)
		}
		out = append(out, line)
	}
	return out
}

// stateLines shows both ends' states now and their transitions.
func (m *Model) stateLines(f *model.Flow) []string {
	st := &m.st
	l := leftSide(f)
	out := []string{
		fmt.Sprintf("%s now %s · %s now %s", roleName(f, l), st.stateStyle(f.State[l]).Render(f.State[l].String()),
			roleName(f, l.Other()), st.stateStyle(f.State[l.Other()]).Render(f.State[l.Other()].String())),
		"",
		st.title.Render(fmt.Sprintf("Transitions (%d)", len(f.Transitions))),
	}
	if f.TransitionsDropped > 0 {
		out = append(out, st.dim.Render(fmt.Sprintf("  %d older transitions not kept", f.TransitionsDropped)))
	}
	if len(f.Transitions) == 0 {
		out = append(out, st.dim.Render("  none"))
	}
	for _, t := range f.Transitions {
		out = append(out, fmt.Sprintf("  +%-12s frame %-7d %-6s %s → %s", fmtRel(t.TS-f.FirstTS), t.Frame,
			roleName(f, t.Side), t.From, st.stateStyle(t.To).Render(t.To.String())))
	}
	out = append(out, "", st.title.Render("Round trips"), "  initial RTT "+fmtRTT(f.IRTT))
	for _, s := range []model.Side{l, l.Other()} {
		a := f.AckRTT[s]
		out = append(out, fmt.Sprintf("  %s's data acked: %d samples, min %s avg %s max %s", roleName(f, s),
			a.Samples, fmtRTT(a.Min), fmtRTT(a.Avg()), fmtRTT(a.Max)))
	}
	return out
}

// counterLines is the per-direction table of analysis counters.
func counterLines(f *model.Flow) []string {
	l := leftSide(f)
	a, b := f.Dir[l], f.Dir[l.Other()]
	rows := []struct {
		name string
		x, y uint64
	}{
		{"packets", a.Packets, b.Packets},
		{"payload bytes", a.PayloadBytes, b.PayloadBytes},
		{"frame bytes", a.FrameBytes, b.FrameBytes},
		{"SYN", uint64(a.SYN), uint64(b.SYN)},
		{"SYN/ACK", uint64(a.SYNACK), uint64(b.SYNACK)},
		{"FIN", uint64(a.FIN), uint64(b.FIN)},
		{"RST", uint64(a.RST), uint64(b.RST)},
		{"retransmission", uint64(a.Retransmission), uint64(b.Retransmission)},
		{"fast retransmission", uint64(a.FastRetransmission), uint64(b.FastRetransmission)},
		{"spurious retransmission", uint64(a.SpuriousRetransmission), uint64(b.SpuriousRetransmission)},
		{"out of order", uint64(a.OutOfOrder), uint64(b.OutOfOrder)},
		{"lost segment", uint64(a.LostSegment), uint64(b.LostSegment)},
		{"ACKed lost segment", uint64(a.AckLostSegment), uint64(b.AckLostSegment)},
		{"duplicate ACK", uint64(a.DuplicateAck), uint64(b.DuplicateAck)},
		{"zero window", uint64(a.ZeroWindow), uint64(b.ZeroWindow)},
		{"zero window probe", uint64(a.ZeroWindowProbe), uint64(b.ZeroWindowProbe)},
		{"zero window probe ACK", uint64(a.ZeroWindowProbeAck), uint64(b.ZeroWindowProbeAck)},
		{"keep-alive", uint64(a.KeepAlive), uint64(b.KeepAlive)},
		{"keep-alive ACK", uint64(a.KeepAliveAck), uint64(b.KeepAliveAck)},
		{"window update", uint64(a.WindowUpdate), uint64(b.WindowUpdate)},
		{"window full", uint64(a.WindowFull), uint64(b.WindowFull)},
		{"reused ports", uint64(a.ReusedPorts), uint64(b.ReusedPorts)},
	}
	out := []string{fmt.Sprintf("%-24s %12s %12s", "sent by", roleName(f, l), roleName(f, l.Other()))}
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%-24s %12d %12d", r.name, r.x, r.y))
	}
	return out
}

// kernelLines shows the flow's socket, TCP_INFO and owning process, or
// says why they are missing.
func (m *Model) kernelLines(f *model.Flow) []string {
	st := &m.st
	if m.kernel == nil {
		return []string{st.dim.Render(m.kernelNote())}
	}
	v := m.kernel.View
	s, side, ok := m.kernel.Lookup(f)
	if !ok {
		out := []string{st.dim.Render(fmt.Sprintf("no socket on this host matches this flow (the kernel lists %d sockets):", len(v.Sockets))),
			st.dim.Render("it closed before the last poll, or neither end is on this host")}
		return append(out, limitationLines(st, v)...)
	}
	out := []string{st.title.Render("Socket") + fmt.Sprintf("  %s end, %s → %s", roleName(f, side), s.Local, s.Remote),
		fmt.Sprintf("  state %s  recv-q %d  send-q %d  uid %d  inode %d", s.State, s.RecvQ, s.SendQ, s.UID, s.Inode)}
	if s.Timer != model.TimerNone {
		out = append(out, fmt.Sprintf("  timer %s in %s (%d retries)", s.Timer, fmtDur(int64(s.TimerExpires)), s.TimerRetrans))
	}
	if label := v.NetNSLabel(s.NetNS); s.NetNS != 0 && label != "" {
		out = append(out, "  namespace "+Sanitize(label))
	}
	out = append(out, "", st.title.Render("TCP_INFO"))
	if !s.HasInfo {
		out = append(out, st.dim.Render("  none: TIME-WAIT and request sockets carry no TCP_INFO"))
	} else {
		i := s.Info
		out = append(out,
			fmt.Sprintf("  rtt %s ± %s  min %s  rto %s", fmtRTT(int64(i.RTT)), fmtRTT(int64(i.RTTVar)), fmtRTT(int64(i.MinRTT)), fmtRTT(int64(i.RTO))),
			fmt.Sprintf("  cwnd %d  ssthresh %d  mss %d  unacked %d  lost %d", i.Cwnd, i.SndSSThresh, i.SndMSS, i.Unacked, i.Lost),
			fmt.Sprintf("  retransmits %d (total %d, %s bytes)  probes %d  backoff %d", i.Retransmits, i.TotalRetrans, fmtBytes(i.BytesRetrans), i.Probes, i.Backoff),
			fmt.Sprintf("  bytes acked %s  received %s  sent %s  not sent %s", fmtBytes(i.BytesAcked), fmtBytes(i.BytesReceived), fmtBytes(i.BytesSent), fmtBytes(uint64(i.NotSentBytes))),
			fmt.Sprintf("  last send %s ago  last recv %s ago  last ack %s ago", fmtDur(int64(i.LastDataSent)), fmtDur(int64(i.LastDataRecv)), fmtDur(int64(i.LastAckRecv))))
	}
	out = append(out, "", st.title.Render("Process"))
	p := m.kernel.Process(s)
	if p == nil {
		out = append(out, st.dim.Render("  "+Sanitize(s.OwnerNote())))
		return append(out, limitationLines(st, v)...)
	}
	out = append(out, fmt.Sprintf("  %s  pid %d  user %s", Sanitize(p.Command), p.PID, Sanitize(p.User)))
	if len(p.Cmdline) > 0 {
		args := make([]string, len(p.Cmdline))
		for i, a := range p.Cmdline {
			args[i] = Sanitize(a)
		}
		out = append(out, "  "+strings.Join(args, " "))
	}
	out = append(out, "  fds "+fdsText(p))
	if len(s.SharedWith) > 0 {
		var pids []string
		for _, x := range s.SharedWith {
			pids = append(pids, strconv.Itoa(int(x)))
		}
		out = append(out, "  socket shared with pids "+strings.Join(pids, ","))
	}
	if p.Note != "" {
		out = append(out, st.dim.Render("  "+Sanitize(p.Note)))
	}
	return out
}

// fdsText is "123 / 1024 soft (4096 hard), +2.0/min, full in 7m".
func fdsText(p *model.Process) string {
	lim := func(n uint64) string {
		switch n {
		case 0:
			return "?"
		case model.FDUnlimited:
			return "unlimited"
		}
		return strconv.FormatUint(n, 10)
	}
	s := fmt.Sprintf("%d / %s soft (%s hard)", p.FDs, lim(p.FDSoftLimit), lim(p.FDHardLimit))
	if p.FDGrowthPerMin >= 0.1 {
		s += fmt.Sprintf(", +%.1f/min", p.FDGrowthPerMin)
	}
	if p.SecondsToLimit >= 0 && p.FDGrowthPerMin >= 0.1 {
		s += ", full in " + fmtDur(int64(p.SecondsToLimit*1e9))
	}
	return s
}

func limitationLines(st *styles, v *model.KernelView) []string {
	var out []string
	for _, l := range v.Limitations {
		out = append(out, st.warn.Render("  ! "+Sanitize(l)))
	}
	return out
}

// detailParts lays the drill-down out in height lines: the header (cut
// to fit), the flow, its findings and the current pane's lines with the
// height left for them.
func (m *Model) detailParts(height int) (head []string, f *model.Flow, finds []model.Finding, body []string, bodyH int) {
	e, f := m.detailFlow()
	if f == nil {
		return nil, nil, nil, nil, 0
	}
	finds = m.findingsOf(f)
	head = m.detailHeader(e, f, finds)
	// The header takes at most a third of a short screen; what it loses
	// first is at its end (timing, kernel), never the title or resets.
	budget := max(2, min(len(head), height/3+2))
	if height < 8 {
		budget = 1
	}
	head = head[:min(budget, len(head))]
	bodyH = max(height-len(head)-1, 0)
	return head, f, finds, m.detailBody(f, finds, m.width), bodyH
}

// renderDetail renders the drill-down in the space above the status bar.
func (m *Model) renderDetail(height int) string {
	head, f, _, body, bodyH := m.detailParts(height)
	if f == nil {
		what := fmt.Sprintf("Flow #%d", m.detail.id)
		if m.detail.id >= socketIDBase {
			what = "Socket"
		}
		return padLines([]string{
			m.st.title.Render(what),
			m.st.dim.Render("it is no longer in the table (closed, expired or evicted); esc goes back"),
		}, m.width, height)
	}
	lines := append(slices.Clone(head), m.tabBar(f))
	off := clampScroll(m.detail.scroll[m.detail.tab], len(body), bodyH)
	lines = append(lines, body[min(off, len(body)):min(off+bodyH, len(body))]...)
	return padLines(lines, m.width, height)
}

// scrollDetail moves the current pane by delta lines (clamped).
func (m *Model) scrollDetail(delta int) {
	_, f, _, body, bodyH := m.detailParts(m.bodyHeight())
	if f == nil {
		return
	}
	t := m.detail.tab
	m.detail.scroll[t] = clampScroll(m.detail.scroll[t]+delta, len(body), bodyH)
}

// clampScroll keeps a scroll offset inside a body of n lines shown h at a
// time.
func clampScroll(off, n, h int) int {
	return max(min(off, n-h), 0)
}

// wrapWords breaks text into lines of at most first cells for the first
// line and rest cells after it, at spaces (a word longer than a line is
// cut by the caller's fitting).
func wrapWords(text string, first, rest int) []string {
	if first < 10 {
		first = 10
	}
	if rest < 10 {
		rest = 10
	}
	var out []string
	var cur strings.Builder
	limit := first
	for _, w := range strings.Fields(text) {
		if cur.Len() > 0 && lipgloss.Width(cur.String())+1+lipgloss.Width(w) > limit {
			out = append(out, cur.String())
			cur.Reset()
			limit = rest
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(w)
	}
	if cur.Len() > 0 || len(out) == 0 {
		out = append(out, cur.String())
	}
	return out
}
