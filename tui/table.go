package tui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/connscope/connscope/model"
)

// tableView is the connection table pane: its cursor, scroll and size.
// The selection is a row key, so it survives refreshes and re-sorts. The
// rows, their layout and their order belong to the root, which lends them
// in a paneCtx.
type tableView struct {
	cursor, offset int
	sel            model.Key
	hasSel         bool
	height         int // visible rows
	width, bodyH   int // the pane: the header and the visible rows
}

// setSize adopts the body's size: a header line, then the rows.
func (t *tableView) setSize(w, h int) {
	t.width, t.bodyH = w, h
	t.height = max(h-1, 1)
}

// update handles a key: movement is the table's own; the rest are asks
// of the root (open a flow, filter, sort, change screen).
func (t *tableView) update(msg tea.KeyMsg, c *paneCtx) intent {
	k := c.keys
	if d, ok := moveKey(k, msg, t.height); ok {
		t.move(d, c.rows)
		return intent{}
	}
	switch {
	case key.Matches(msg, k.Enter):
		if t.cursor < len(c.rows.view) {
			return intent{do: doOpenFlow, key: c.rows.view[t.cursor].Key()}
		}
	case key.Matches(msg, k.Back):
		return intent{do: doClearFilter}
	case key.Matches(msg, k.Filter):
		return intent{do: doEditFilter}
	case key.Matches(msg, k.SortNext):
		return intent{do: doSortNext}
	case key.Matches(msg, k.SortReverse):
		return intent{do: doReverse}
	case key.Matches(msg, k.SortCol):
		n := int(msg.Runes[0] - '1')
		if n < len(c.lay.cols) && columns[c.lay.cols[n]].key < model.NumSortKeys {
			return intent{do: doSortBy, sort: columns[c.lay.cols[n]].key}
		}
	case key.Matches(msg, k.Procs):
		return intent{do: doShowProcs}
	case key.Matches(msg, k.Findings):
		return intent{do: doShowFindings}
	}
	return intent{}
}

// selected is the row under the cursor.
func (t *tableView) selected(rs *rowSet) (model.Key, bool) {
	if t.cursor < len(rs.view) {
		return rs.view[t.cursor].Key(), true
	}
	return model.Key{}, false
}

// view draws the header and only the visible rows.
func (t *tableView) view(c *paneCtx) string {
	height := t.bodyH
	lines := make([]string, 0, height)
	lines = append(lines, c.st.header.Render(headerLine(*c.lay, c.sortKey, c.desc)))
	x := cellCtx{now: c.now(), ns: c.nsName}
	end := min(t.offset+height-1, len(c.rows.view))
	for i := t.offset; i < end; i++ {
		lines = append(lines, rowLine(*c.lay, c.rows.view[i], x, i == t.cursor, c.st))
	}
	if len(c.rows.view) == 0 {
		lines = append(lines, "", c.st.dim.Render("  "+emptyText(c)))
	}
	return padLines(lines, t.width, height)
}

// emptyText explains an empty table.
func emptyText(c *paneCtx) string {
	switch {
	case c.snap == nil:
		return "waiting for data…"
	case len(c.snap.Rows) > 0:
		return "no row matches the filter " + model.Sanitize(c.filter) + " (esc clears it)"
	case c.opts.Live && len(c.ifaces) > 0:
		return model.Sanitize(c.ifaces[0].Name) + " is " + c.ifaces[0].State + ": capture starts when it comes up"
	case c.opts.Live:
		return "no TCP connection seen yet: waiting for traffic"
	case c.replay.Ended && c.replay.CanRestart:
		return "no TCP connection in this capture (space: replay from the start)"
	case c.replay.Ended:
		return "no TCP connection in this capture"
	case !c.replay.Playing && !c.replay.ToEnd:
		return "paused before the first packet: space plays, . steps, > jumps to the end"
	}
	return "no TCP connection yet: reading…"
}

// summary is the selected flow in one line, for the info line under the
// table: who talks to whom, who reset it, its worst finding.
func (t *tableView) summary(c *paneCtx) string {
	st := c.st
	if t.cursor >= len(c.rows.view) {
		switch {
		case c.snap == nil:
			return st.dim.Render("waiting for the first snapshot…")
		case len(c.snap.Rows) == 0:
			return st.dim.Render("no TCP connection yet")
		}
		return st.dim.Render("no row matches the filter (esc clears it)")
	}
	e := c.rows.view[t.cursor]
	f := e.Flow
	l := leftSide(f)
	id := fmt.Sprintf("#%d", f.ID)
	if isKernelOnly(f) {
		id = "socket"
	}
	parts := []string{id + " " + endpointName(f, l) + " " + flowArrow(f) + " " + endpointName(f, l.Other())}
	if n := len(f.Resets); n > 0 {
		x := f.Resets[n-1]
		parts = append(parts, st.err.Render("RST by "+roleName(f, x.From))+" in "+x.SenderState.String())
	}
	if n := e.Retrans(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d retrans", n))
	}
	if len(e.Findings) > 0 {
		x := e.Findings[0]
		parts = append(parts, st.severityStyle(x.Severity).Render(model.SeverityMark(x.Severity)+x.Label.String()))
	}
	parts = append(parts, st.dim.Render("enter: details"))
	return truncate(strings.Join(parts, " · "), t.width)
}

// restore puts the cursor back on the selected flow after the view
// changed; when that flow is gone it keeps the cursor position.
func (t *tableView) restore(rs *rowSet) {
	if t.hasSel {
		if i := rs.index(t.sel); i >= 0 {
			t.cursor = i
		}
	}
	t.clamp(len(rs.view))
	t.remember(rs)
}

// remember records the flow under the cursor as the selection.
func (t *tableView) remember(rs *rowSet) {
	if t.cursor < len(rs.view) {
		t.sel = rs.view[t.cursor].Key()
		t.hasSel = true
	}
}

// move moves the cursor by delta rows within the rows of rs.
func (t *tableView) move(delta int, rs *rowSet) {
	t.cursor += delta
	t.clamp(len(rs.view))
	t.remember(rs)
}

// moveTo puts the cursor on row i.
func (t *tableView) moveTo(i int, rs *rowSet) {
	t.cursor = i
	t.clamp(len(rs.view))
	t.remember(rs)
}

// clamp keeps cursor and offset inside n rows and the cursor on screen.
func (t *tableView) clamp(n int) {
	t.cursor = max(min(t.cursor, n-1), 0)
	h := max(t.height, 1)
	if t.cursor < t.offset {
		t.offset = t.cursor
	}
	if t.cursor >= t.offset+h {
		t.offset = t.cursor - h + 1
	}
	t.offset = max(min(t.offset, n-h), 0)
}

// rowAt maps a screen row (0 = first data row) to a view index, -1 if
// none.
func (t *tableView) rowAt(y, n int) int {
	i := t.offset + y
	if y < 0 || i >= n {
		return -1
	}
	return i
}

// cellCtx is what cells need beyond the entry: the snapshot's time and
// the namespace names.
type cellCtx struct {
	now int64
	ns  func(inode uint64) string
}

// cell formats one cell; only visible rows ever reach it.
func cell(c colID, e *model.FlowEntry, x cellCtx, w int) string {
	f := e.Flow
	switch c {
	case colStream:
		if isKernelOnly(f) {
			return "-"
		}
		return strconv.FormatUint(uint64(f.ID), 10)
	case colLocal:
		return fmtAddr(f.Endpoint(e.LocalSide()), w)
	case colRemote:
		return fmtAddr(f.Endpoint(e.RemoteSide()), w)
	case colState:
		return stateShort(e.State())
	case colProc:
		return procCell(e, w)
	case colNetNS:
		if e.Socket == nil || x.ns == nil {
			return "-"
		}
		return x.ns(e.Socket.NetNS)
	case colAge:
		if isKernelOnly(f) { // the kernel does not say when it opened
			return "-"
		}
		return model.DurationCell(e.Age(x.now))
	case colIdle:
		return model.DurationCell(e.Idle(x.now))
	case colIn:
		return fmtBytes(e.BytesIn())
	case colOut:
		return fmtBytes(e.BytesOut())
	case colRate:
		return fmtRate(e.Rate)
	case colRetrans:
		return countOrBlank(uint64(e.Retrans()))
	case colRST:
		return rstWho(e)
	case colZeroWin:
		return countOrBlank(uint64(e.ZeroWindows()))
	case colRTT:
		return model.RTTCell(e.RTT())
	case colFinding:
		if len(e.Findings) == 0 {
			return ""
		}
		s := e.Findings[0].Label.String()
		if n := len(e.Findings) - 1; n > 0 {
			s += " +" + strconv.Itoa(n)
		}
		return s
	}
	return ""
}

// countOrBlank leaves zero counters blank so that problems stand out.
func countOrBlank(n uint64) string {
	if n == 0 {
		return ""
	}
	return fmtCount(n)
}

// procCell is "name/pid" in w cells: the name is cut, never the pid,
// which is what the person types next (pid N, kill).
func procCell(e *model.FlowEntry, w int) string {
	if len(e.Owners) == 0 {
		return "-"
	}
	o := e.Owners[0]
	pid := "/" + strconv.Itoa(o.PID)
	return truncate(model.Sanitize(o.Name), max(w-len(pid), 2)) + pid
}

// roleName names a side: "client" or "server" when the roles are known,
// "peer" when not (model.RoleWord), and "local" or "remote" for a socket
// seen without packets.
func roleName(f *model.Flow, s model.Side) string {
	switch {
	case isKernelOnly(f) && s == model.SideA:
		return "local"
	case isKernelOnly(f):
		return "remote"
	}
	return model.RoleWord(f, s)
}

// flowArrow joins a flow's two ends in the one arrow style: client →
// server, ⇢ when the client was inferred, ↔ for a socket's ends or
// unknown roles.
func flowArrow(f *model.Flow) string {
	return model.Arrow(f.Client != model.SideNone && !isKernelOnly(f), f.RoleInferred)
}

// rstWho says who reset a flow, for the RST column: "srv", "cli", "both",
// "mbox?" when a middlebox is suspected, "loc" or "rem" (this host's end
// or the other) when the roles are unknown, "" without RST.
func rstWho(e *model.FlowEntry) string {
	f := e.Flow
	var from [2]bool
	mbox := false
	for _, r := range f.Resets {
		if r.From < model.SideNone {
			from[r.From] = true
		}
		mbox = mbox || r.MiddleboxSuspected
	}
	if len(f.Resets) == 0 { // the ring may be empty while counters are not
		from[0], from[1] = f.Dir[0].RST > 0, f.Dir[1].RST > 0
	}
	short := func(s model.Side) string {
		switch roleName(f, s) {
		case "client":
			return "cli"
		case "server":
			return "srv"
		}
		switch {
		case e.Local == model.SideNone:
			return "peer"
		case s == e.Local:
			return "loc"
		}
		return "rem"
	}
	switch {
	case mbox:
		return "mbox?"
	case from[0] && from[1]:
		return "both"
	case from[0]:
		return short(model.SideA)
	case from[1]:
		return short(model.SideB)
	}
	return ""
}

// headerLine renders the column titles, marking the sort column.
func headerLine(lay layout, key model.SortKey, desc bool) string {
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", markerWidth))
	for i, c := range lay.cols {
		if i > 0 {
			b.WriteByte(' ')
		}
		t := columns[c].title
		if columns[c].key == key {
			if desc {
				t += "▼"
			} else {
				t += "▲"
			}
		}
		b.WriteString(fit(t, lay.widths[c], columns[c].right))
	}
	return b.String()
}

// rowLine renders one row, exactly the layout's width. The cursor row is
// plain text styled whole (so the highlight is unbroken); other rows
// colour the cells that carry a verdict.
func rowLine(lay layout, e *model.FlowEntry, x cellCtx, selected bool, st *styles) string {
	var b strings.Builder
	if selected {
		b.WriteString("> ")
	} else {
		b.WriteString("  ")
	}
	for i, c := range lay.cols {
		if i > 0 {
			b.WriteByte(' ')
		}
		w := lay.widths[c]
		txt := fit(cell(c, e, x, w), w, columns[c].right)
		if !selected && !st.mono {
			switch c {
			case colState:
				txt = st.stateStyle(e.State()).Render(txt)
			case colRST, colRetrans, colZeroWin:
				if strings.TrimSpace(txt) != "" {
					txt = st.warn.Render(txt)
				}
			case colFinding:
				if len(e.Findings) > 0 {
					txt = st.severityStyle(e.Severity()).Render(txt)
				}
			}
		}
		b.WriteString(txt)
	}
	if selected {
		return st.selectedLine(b.String())
	}
	return b.String()
}
