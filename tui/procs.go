package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/connscope/connscope/model"
)

// procsView is the processes pane: a cursor on a process (kept by PID
// across polls), its scroll position and size. Enter filters the table to
// the process's connections.
type procsView struct {
	cursor, offset int
	sel            int32 // the PID under the cursor
	width, height  int
}

// setSize adopts the body's size.
func (v *procsView) setSize(w, h int) { v.width, v.height = w, h }

// update handles a key: moving the cursor, Enter to show the process's
// connections, or back to the table.
func (v *procsView) update(msg tea.KeyMsg, c *paneCtx) intent {
	procs := sortedProcs(c)
	if d, ok := moveKey(c.keys, msg, max(v.height-procsHead(c), 1)); ok {
		v.move(d, procs)
		v.follow(c)
		return intent{}
	}
	switch {
	case key.Matches(msg, c.keys.Enter):
		if v.cursor < len(procs) {
			return intent{do: doFilterTo, text: "pid " + strconv.Itoa(int(procs[v.cursor].PID)), back: viewProcs}
		}
	case key.Matches(msg, c.keys.Back, c.keys.Procs):
		return intent{do: doShowTable}
	case key.Matches(msg, c.keys.Findings):
		return intent{do: doShowFindings}
	}
	return intent{}
}

// move moves the cursor by delta processes and remembers its PID.
func (v *procsView) move(delta int, procs []*model.Process) {
	v.cursor = max(min(v.cursor+delta, len(procs)-1), 0)
	if v.cursor < len(procs) {
		v.sel = procs[v.cursor].PID
	}
}

// scrollBy moves the cursor by delta (the mouse wheel).
func (v *procsView) scrollBy(delta int, c *paneCtx) {
	v.move(delta, sortedProcs(c))
	v.follow(c)
}

// restore puts the cursor back on the selected PID after a new poll.
func (v *procsView) restore(c *paneCtx) {
	procs := sortedProcs(c)
	if i := slices.IndexFunc(procs, func(p *model.Process) bool { return p.PID == v.sel }); i >= 0 {
		v.cursor = i
	}
	v.move(0, procs)
	v.follow(c)
}

// fdRatio is how full a process's fd table is, 0 when the limit is
// unknown or unlimited.
func fdRatio(p *model.Process) float64 {
	if p.FDSoftLimit == 0 || p.FDSoftLimit == model.FDUnlimited {
		return 0
	}
	return float64(p.FDs) / float64(p.FDSoftLimit)
}

// sparkline draws the fd history in at most w cells.
func sparkline(h []model.FDSample, w int) string {
	if len(h) == 0 || w <= 0 {
		return ""
	}
	if len(h) > w {
		h = h[len(h)-w:]
	}
	lo, hi := h[0].FDs, h[0].FDs
	for _, s := range h {
		lo, hi = min(lo, s.FDs), max(hi, s.FDs)
	}
	const bars = "▁▂▃▄▅▆▇█"
	runes := []rune(bars)
	var b strings.Builder
	for _, s := range h {
		i := 0
		if hi > lo {
			i = (s.FDs - lo) * (len(runes) - 1) / (hi - lo)
		}
		b.WriteRune(runes[i])
	}
	return b.String()
}

// sortedProcs is the snapshot's processes (those the selection keeps),
// fullest fd tables first.
func sortedProcs(c *paneCtx) []*model.Process {
	if c.kernel == nil || c.snap == nil {
		return nil
	}
	procs := make([]*model.Process, len(c.snap.Processes))
	for i := range c.snap.Processes {
		procs[i] = &c.snap.Processes[i]
	}
	slices.SortStableFunc(procs, func(a, b *model.Process) int {
		if c := cmp.Compare(fdRatio(b), fdRatio(a)); c != 0 {
			return c
		}
		if c := cmp.Compare(b.FDs, a.FDs); c != 0 {
			return c
		}
		return cmp.Compare(a.PID, b.PID)
	})
	return procs
}

// procCol is a column of the processes pane.
type procCol uint8

const (
	pcPID procCol = iota
	pcCommand
	pcNetNS
	pcUser
	pcFDs
	pcUse
	pcGrowth
	pcLeft
	pcTrend
	pcSockets
	numProcCols
)

// procCols are the pane's columns in display order: title, width, right
// alignment and priority (lower stays longer when the pane is narrow).
// SOCKETS takes what is left, at least its width.
var procCols = [numProcCols]struct {
	title string
	w     int
	right bool
	prio  int
}{
	pcPID:     {"PID", 7, true, 0},
	pcCommand: {"COMMAND", 16, false, 1},
	pcNetNS:   {"NETNS", 16, false, 5},
	pcUser:    {"USER", 10, false, 8},
	pcFDs:     {"FDS/LIMIT", 15, true, 2},
	pcUse:     {"USE", 5, true, 6},
	pcGrowth:  {"GROWTH", 9, true, 4},
	pcLeft:    {"FULL IN", 8, true, 3},
	pcTrend:   {"TREND", 12, false, 7},
	pcSockets: {"SOCKETS", 24, false, 0},
}

// procLayout picks the columns that fit in width, dropping the least
// important first; NETNS shows only when processes live in several
// namespaces.
func procLayout(width int, netns bool) []procCol {
	on := [numProcCols]bool{}
	for c := range on {
		on[c] = procCol(c) != pcNetNS || netns
	}
	used := func() int {
		n := 0
		for c := range on {
			if on[c] {
				n += procCols[c].w + 1
			}
		}
		return n
	}
	for p := 8; p > 0 && used() > width; p-- {
		for c := range on {
			if procCols[c].prio == p {
				on[c] = false
			}
		}
	}
	var out []procCol
	for c := range on {
		if on[c] {
			out = append(out, procCol(c))
		}
	}
	return out
}

// procsHead is the lines above the processes: title, the note on what the
// poll could not see, the column header.
func procsHead(c *paneCtx) int {
	if c.kernel == nil {
		return 0
	}
	return 2 + len(model.LimitationNotes(c.kernel.View.Limitations))
}

// view renders the pane: the head, then the processes from the scroll
// offset that keeps the cursor on screen, then the TIME-WAIT summary.
func (v *procsView) view(c *paneCtx) string {
	st := c.st
	if c.kernel == nil {
		return padLines([]string{st.title.Render("Processes"), "", st.dim.Render(c.kernelNote())}, v.width, v.height)
	}
	head, body, first := v.lines(c)
	off := v.fitOffset(len(head), body, first)
	return padLines(append(head, body[off:]...), v.width, v.height)
}

// fitOffset is the scroll offset that keeps the cursor's process line on
// screen, starting from the current one.
func (v *procsView) fitOffset(headH int, body []string, first []int) int {
	h := max(v.height-headH, 1)
	off, at := v.offset, 0
	if v.cursor < len(first) {
		at = first[v.cursor]
	}
	if at < off {
		off = at
	}
	if at >= off+h {
		off = at - h + 1
	}
	return clampScroll(off, len(body), h)
}

// follow scrolls so that the cursor stays on screen (after a move or a
// new poll).
func (v *procsView) follow(c *paneCtx) {
	if c.kernel == nil {
		return
	}
	head, body, first := v.lines(c)
	v.offset = v.fitOffset(len(head), body, first)
}

// lines renders the processes pane: each process's fds against its
// limit, the trend and time left, its sockets by state and its listeners'
// accept queues, fullest fd tables first; then TIME-WAIT by port. first
// holds the body line of each process.
func (v *procsView) lines(c *paneCtx) (head, body []string, first []int) {
	st := c.st
	vw := c.kernel.View
	procs := sortedProcs(c)
	hint := "  fds vs RLIMIT_NOFILE, fullest first · enter: its connections · esc: back"
	head = []string{truncate(st.title.Render(fmt.Sprintf("Processes (%d)", len(procs)))+st.dim.Render(hint), v.width)}
	for _, l := range model.LimitationNotes(vw.Limitations) {
		head = append(head, st.dim.Render(truncate("note: "+model.Sanitize(l), v.width)))
	}
	netns := false
	for _, p := range procs {
		netns = netns || p.NetNS != procs[0].NetNS
	}
	cols := procLayout(v.width, netns)
	cell := func(col procCol, s string) string {
		d := procCols[col]
		if col == pcSockets {
			return s
		}
		return fit(s, d.w, d.right)
	}
	var hdr []string
	for _, col := range cols {
		hdr = append(hdr, cell(col, procCols[col].title))
	}
	head = append(head, st.header.Render(fit("  "+strings.Join(hdr, " "), v.width, false)))
	for i, p := range procs {
		first = append(first, len(body))
		left := model.TimeToFDLimit(p, true)
		growth := "-"
		if p.FDGrowthPerMin >= 0.1 {
			growth = fmt.Sprintf("+%.1f/min", p.FDGrowthPerMin)
		}
		use := "-"
		if r := fdRatio(p); r > 0 {
			use = strconv.Itoa(int(r*100+0.5)) + "%"
		}
		var parts []string
		for _, col := range cols {
			var s string
			switch col {
			case pcPID:
				s = strconv.Itoa(int(p.PID))
			case pcCommand:
				s = truncate(model.Sanitize(p.Command), procCols[col].w)
			case pcNetNS:
				s = c.nsName(p.NetNS)
			case pcUser:
				s = model.Sanitize(p.User)
			case pcFDs:
				s = strconv.Itoa(p.FDs) + "/" + model.Limit(p.FDSoftLimit)
			case pcUse:
				s = use
			case pcGrowth:
				s = growth
			case pcLeft:
				s = left
			case pcTrend:
				s = sparkline(p.FDHistory, procCols[col].w)
			case pcSockets:
				s = socketCounts(p)
			}
			parts = append(parts, cell(col, s))
		}
		mark := "  "
		if i == v.cursor {
			mark = "> "
		}
		line := truncate(mark+strings.Join(parts, " "), v.width)
		// The warning colour marks a process near or at its limit; the
		// words (AT LIMIT, the percentage) say it without colour.
		switch {
		case i == v.cursor:
			line = st.selectedLine(fit(line, v.width, false))
		case model.AtFDLimit(p) || fdRatio(p) >= 0.7 || p.FDGrowthPerMin >= 1:
			line = st.warn.Render(line)
		}
		body = append(body, line)
		for _, l := range p.Listeners {
			q := fmt.Sprintf("          listen %s  accept queue %d/%d", l.Local, l.AcceptQueue, l.Backlog)
			if l.Backlog > 0 && l.AcceptQueue >= l.Backlog {
				q = st.err.Render(q + "  FULL")
			}
			body = append(body, truncate(q, v.width))
		}
	}
	if len(procs) == 0 {
		body = append(body, "", st.dim.Render("  no process owns a TCP socket that the selection keeps"))
	}
	if len(vw.TimeWait) > 0 {
		body = append(body, "", st.title.Render("TIME-WAIT by local port (no owner: the kernel holds them)"))
		for _, t := range vw.TimeWait {
			r := strconv.Itoa(int(t.First))
			if t.Last != t.First {
				r += "-" + strconv.Itoa(int(t.Last))
			}
			what := "client side"
			if t.Listening {
				what = "server port: this side closed first"
			}
			body = append(body, fmt.Sprintf("  %-13s %6d  %s in %s", r, t.Count, what, c.nsName(t.NetNS)))
		}
	}
	return head, body, first
}

// socketCounts is "CLOSE-WAIT 206 ESTAB 3 LISTEN 1": the states in use,
// those that point at a problem first, then by count.
func socketCounts(p *model.Process) string {
	type sc struct {
		s model.State
		n int
	}
	var list []sc
	for s, n := range p.SocketsByState {
		if n > 0 {
			list = append(list, sc{model.State(s), n})
		}
	}
	urgent := func(s model.State) int {
		switch s {
		case model.StateCloseWait, model.StateSynReceived, model.StateLastAck:
			return 0
		}
		return 1
	}
	slices.SortStableFunc(list, func(a, b sc) int {
		if c := cmp.Compare(urgent(a.s), urgent(b.s)); c != 0 {
			return c
		}
		return cmp.Compare(b.n, a.n)
	})
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = stateShort(x.s) + " " + strconv.Itoa(x.n)
	}
	return strings.Join(parts, " ")
}
