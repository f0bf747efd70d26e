package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/connscope/connscope/model"
)

// detailTab is a tab of the drill-down.
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

// detailView is the drill-down: one flow's summary above a bar of tabs
// and the current tab's lines, scrolled. It routes between the tabs, each
// a small model in a file of its own, and keeps where each is scrolled.
type detailView struct {
	key    model.Key
	tab    detailTab
	scroll [numTabs]int
	// width and height are the body's: the summary, the tab bar and the
	// tab's lines share them.
	width, height int
	// The ladder owns the flow's packet log, which the root fetches and
	// routes here; its fields are the drill-down's (d.pkts, d.loaded).
	ladderTab
}

// tab is one tab of the drill-down: the lines it draws for a flow.
type tab interface {
	lines(c *tabCtx) []string
}

// tabCtx is what a tab draws from: the root's state, the row (its flow,
// socket, owners and findings), and the width.
type tabCtx struct {
	*paneCtx
	e     *model.FlowEntry
	f     *model.Flow
	finds []model.Finding
	width int
}

// current is the tab shown.
func (d *detailView) current() tab {
	switch d.tab {
	case tabEvents:
		return eventsTab{}
	case tabStates:
		return statesTab{}
	case tabCounters:
		return countersTab{}
	case tabKernel:
		return kernelTab{}
	}
	return &d.ladderTab
}

// open resets the view for row k.
func (d *detailView) open(k model.Key) {
	*d = detailView{key: k, width: d.width, height: d.height}
}

// setSize adopts the body's size.
func (d *detailView) setSize(w, h int) { d.width, d.height = w, h }

// setPackets stores a packet log, dropping one for another flow.
func (d *detailView) setPackets(msg packetsMsg) {
	if d.key == (model.Key{Kind: model.FlowWire, ID: msg.id}) {
		d.ladderTab.setPackets(msg)
	}
}

// flow returns the flow the drill-down shows, from rs (filtered out or
// not), or nil when the table no longer has it.
func (d *detailView) flow(rs *rowSet) (*model.FlowEntry, *model.Flow) {
	e := rs.entry(d.key)
	if e == nil {
		return nil, nil
	}
	return e, e.Flow
}

// update handles a key: scrolling and changing tabs are the drill-down's
// own; the rest are asks of the root.
func (d *detailView) update(msg tea.KeyMsg, c *paneCtx) intent {
	k := c.keys
	if delta, ok := moveKey(k, msg, d.height-4); ok {
		d.scrollBy(delta, c)
		return intent{}
	}
	switch {
	case key.Matches(msg, k.Back):
		return intent{do: doShowTable}
	case key.Matches(msg, k.NextTab):
		d.tab = (d.tab + 1) % numTabs
	case key.Matches(msg, k.PrevTab):
		d.tab = (d.tab + numTabs - 1) % numTabs
	case key.Matches(msg, k.Procs):
		return intent{do: doShowProcs}
	case key.Matches(msg, k.Findings):
		return intent{do: doShowFindings}
	}
	return intent{}
}

// parts lays the drill-down out in its height: the header (cut to fit),
// the flow, and the current tab's lines with the height left for them.
func (d *detailView) parts(c *paneCtx) (head []string, f *model.Flow, body []string, bodyH int) {
	e, f := d.flow(c.rows)
	if f == nil {
		return nil, nil, nil, 0
	}
	t := tabCtx{paneCtx: c, e: e, f: f, finds: e.Findings, width: d.width}
	head = header(&t, e)
	// The header takes at most a third of a short screen; what it loses
	// first is at its end (timing, kernel), never the title or resets.
	height := d.height
	budget := max(2, min(len(head), height/3+2))
	if height < 8 {
		budget = 1
	}
	head = head[:min(budget, len(head))]
	bodyH = max(height-len(head)-1, 0)
	return head, f, d.current().lines(&t), bodyH
}

// view renders the drill-down in its height.
func (d *detailView) view(c *paneCtx) string {
	head, f, body, bodyH := d.parts(c)
	if f == nil {
		what := fmt.Sprintf("Flow #%d", d.key.ID)
		if d.key.Kind == model.FlowKernelOnly {
			what = "Socket"
		}
		return padLines([]string{
			c.st.title.Render(what),
			c.st.dim.Render("it is no longer in the table (closed, expired or evicted); esc goes back"),
		}, d.width, d.height)
	}
	lines := append(slices.Clone(head), d.tabBar(c.st, f))
	off := clampScroll(d.scroll[d.tab], len(body), bodyH)
	lines = append(lines, body[min(off, len(body)):min(off+bodyH, len(body))]...)
	return padLines(lines, d.width, d.height)
}

// scrollBy moves the current tab by delta lines (clamped).
func (d *detailView) scrollBy(delta int, c *paneCtx) {
	_, f, body, bodyH := d.parts(c)
	if f == nil {
		return
	}
	t := d.tab
	d.scroll[t] = clampScroll(d.scroll[t]+delta, len(body), bodyH)
}

// tabHints are the drill-down's key hints, longest first: the tab bar
// keeps the longest that fits.
var tabHints = []string{"   tab: next pane · esc: back · w: save", "  tab · esc: back · w: save", "  esc: back"}

// tabBar renders the pane names, the current one marked, and the key
// hints that fit. The counts are those the panes list.
func (d *detailView) tabBar(st *styles, f *model.Flow) string {
	var b strings.Builder
	for t := detailTab(0); t < numTabs; t++ {
		name := tabNames[t]
		switch t {
		case tabEvents:
			if n := len(f.Events); n > 0 {
				name += " " + strconv.Itoa(n)
			}
		case tabStates:
			if n := len(f.Transitions); n > 0 {
				name += " " + strconv.Itoa(n)
			}
		}
		b.WriteByte(' ')
		if t == d.tab {
			b.WriteString(st.tabOn.Render("[" + name + "]"))
		} else {
			b.WriteString(st.tab.Render(" " + name + " "))
		}
	}
	used := ansi.StringWidth(b.String())
	for _, h := range tabHints {
		if used+ansi.StringWidth(h) <= d.width {
			b.WriteString(st.dim.Render(h))
			break
		}
	}
	return b.String()
}

// leftSide is the side drawn on the left of the ladder: the client when
// known.
func leftSide(f *model.Flow) model.Side {
	if f.Client == model.SideB {
		return model.SideB
	}
	return model.SideA
}

// endpointName is "client 10.0.0.1:51000", "peer 10.0.0.1:51000" when
// the roles are unknown (sanitising is not needed: addresses are
// formatted by netip).
func endpointName(f *model.Flow, s model.Side) string {
	return roleName(f, s) + " " + fmtAddr(f.Endpoint(s), 60)
}

// header builds the summary above the tabs, most important lines first
// so a short terminal keeps them.
func header(c *tabCtx, e *model.FlowEntry) []string {
	st, f, finds, width := c.st, c.f, c.finds, c.width
	l, r := leftSide(f), leftSide(f).Other()
	roles := "(client sent the SYN)"
	name := fmt.Sprintf("Flow #%d", f.ID)
	switch {
	case isKernelOnly(f):
		name, roles = "Socket", "(the kernel lists it; no packet of it was seen)"
	case f.Client == model.SideNone:
		roles = "(roles unknown: no SYN seen)"
	case f.RoleInferred:
		roles = "(roles inferred: no SYN seen)"
	}
	title := st.title.Render(name) + "  " +
		endpointName(f, l) + " " + flowArrow(f) + " " + endpointName(f, r) + "  " + st.dim.Render(roles)
	lines := []string{title}

	// Resets: who sent them is the first question.
	switch n := len(f.Resets); {
	case n > 0:
		x := f.Resets[n-1]
		line := st.err.Render("RST") + " " + resetText(st, f, x)
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
		lines = append(lines, st.dim.Render("no findings"))
	}
	for _, x := range finds {
		mark := model.SeverityMark(x.Severity) + " "
		// The explanation is the point of the pane: wrap it rather than
		// cut it at the terminal's edge.
		head := mark + x.Label.String()
		text := model.Sanitize(x.Summary)
		if len(x.Frames) > 0 {
			text += "  (frames " + model.FrameList(x.Frames, 6) + ")"
		}
		first := lipgloss.Width(head) + 2
		for i, part := range wrapWords(text, width-first, width-4) {
			if i == 0 {
				lines = append(lines, st.severityStyle(x.Severity).Render(head)+"  "+part)
			} else {
				lines = append(lines, "    "+part)
			}
		}
	}
	timing := fmt.Sprintf("age %s · idle %s · frames %d-%d · iRTT %s",
		model.Duration(e.Age(c.now())), model.Duration(e.Idle(c.now())), f.FirstFrame, f.LastFrame, model.RTT(f.IRTT))
	if isKernelOnly(f) {
		timing = "idle " + model.Duration(e.Idle(c.now())) + " (the kernel's last send or receive)"
	}
	for _, s := range []model.Side{l, r} {
		if a := f.AckRTT[s]; a.Samples > 0 {
			timing += fmt.Sprintf(" · RTT %s data %s avg", roleName(f, s), model.RTT(a.Avg()))
		}
	}
	lines = append(lines, timing)
	lines = append(lines, kernelSummary(c.paneCtx, e))
	return lines
}

// resetText describes one reset: who, from which state, its wire form and
// whether it looked forged.
func resetText(st *styles, f *model.Flow, x model.Reset) string {
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
		s += " — " + st.warn.Render("middlebox suspected")
	}
	if x.Cause != "" {
		s += " — " + model.Sanitize(x.Cause)
	}
	if x.KernelReason != "" {
		s += " (the kernel's reason: " + model.Sanitize(x.KernelReason) + ")"
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

// kernelSummary is one line on the flow's socket and owner, or why there
// is none.
func kernelSummary(c *paneCtx, e *model.FlowEntry) string {
	if c.kernel == nil {
		return c.st.dim.Render("kernel: " + c.kernelNote())
	}
	f, s, side := e.Flow, e.Socket, e.Local
	if s == nil {
		return c.st.dim.Render("kernel: no socket on this host for this flow")
	}
	line := fmt.Sprintf("kernel: %s socket %s", roleName(f, side), s.State)
	if s.HasInfo {
		line += fmt.Sprintf("  rtt %s  cwnd %d  retrans %d", model.RTT(int64(s.Info.RTT)), s.Info.Cwnd, s.Info.TotalRetrans)
	}
	if o, ok := e.Owner(side); ok {
		line += fmt.Sprintf("  · %s pid %d", model.Sanitize(o.Name), o.PID)
	} else if note := s.OwnerNote(); note != "" {
		line += "  · " + model.Sanitize(note)
	}
	return line
}

// wrapWords breaks text into lines of at most first cells for the first
// line and rest cells after it, at spaces (a word longer than a line is
// cut by the caller's fitting); a number stays on the line of its unit
// ("60.0 s").
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
	words := joinUnits(strings.Fields(text))
	for _, w := range words {
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

// joinUnits glues a unit word ("s", "ms", "min" ...) to the number before
// it, so that a line break never falls between them.
func joinUnits(words []string) []string {
	out := words[:0:0]
	for _, w := range words {
		bare := strings.TrimRight(w, ",;:.)")
		if n := len(out); n > 0 && isUnit(bare) && endsInDigit(out[n-1]) {
			out[n-1] += " " + w
			continue
		}
		out = append(out, w)
	}
	return out
}

func isUnit(w string) bool {
	switch w {
	case "µs", "ms", "s", "min", "h", "d":
		return true
	}
	return false
}

func endsInDigit(w string) bool { return w != "" && w[len(w)-1] >= '0' && w[len(w)-1] <= '9' }
