package tui

import (
	"strconv"
	"strings"

	"github.com/connscope/connscope/model"
)

// tableView is the connection table's cursor and scroll state. The
// selection is a flow ID, so it survives refreshes and re-sorts.
type tableView struct {
	cursor, offset int
	sel            model.FlowID
	hasSel         bool
	height         int // visible rows
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
		t.sel = rs.view[t.cursor].Flow.ID
		t.hasSel = true
	}
}

// move moves the cursor by delta rows within n rows.
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

// cellCtx is what cells need beyond the entry.
type cellCtx struct {
	now int64
}

// cell formats one cell; only visible rows ever reach it.
func cell(c colID, e *model.FlowEntry, x cellCtx, w int) string {
	f := e.Flow
	switch c {
	case colStream:
		if isSocketRow(f) {
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
		if len(e.Owners) == 0 {
			return "-"
		}
		return Sanitize(e.Owners[0].Name) + "/" + strconv.Itoa(e.Owners[0].PID)
	case colAge:
		if isSocketRow(f) { // the kernel does not say when it opened
			return "-"
		}
		return fmtDur(e.Age(x.now))
	case colIdle:
		return fmtDur(e.Idle(x.now))
	case colIn:
		return fmtBytes(e.BytesIn())
	case colOut:
		return fmtBytes(e.BytesOut())
	case colRate:
		return fmtRate(e.Rate)
	case colRetrans:
		return countOrBlank(uint64(e.Retrans()))
	case colRST:
		return rstWho(f)
	case colZeroWin:
		return countOrBlank(uint64(e.ZeroWindows()))
	case colRTT:
		return fmtRTT(e.RTT())
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

// roleName names a side by its role: "client" or "server" when roles are
// known, "local" or "remote" for a socket seen without packets, else "A"
// or "B".
func roleName(f *model.Flow, s model.Side) string {
	switch {
	case s == model.SideNone:
		return "?"
	case isSocketRow(f) && s == model.SideA:
		return "local"
	case isSocketRow(f):
		return "remote"
	case f.Client == model.SideNone:
		return strings.ToUpper(s.String())
	case s == f.Client:
		return "client"
	}
	return "server"
}

// rstWho says who reset a flow, for the RST column: "srv", "cli", "both",
// "mbox?" when a middlebox is suspected, "" without RST.
func rstWho(f *model.Flow) string {
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
		return strings.ToUpper(s.String())
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
		return st.selected.Render(b.String())
	}
	return b.String()
}
