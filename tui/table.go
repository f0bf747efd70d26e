package tui

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/connscope/connscope/model"
)

// colID names a column of the connection table.
type colID uint8

const (
	colStream colID = iota // stream index
	colLocal
	colRemote
	colState
	colProc
	colAge
	colIdle
	colIn
	colOut
	colRate
	colRetrans
	colRST
	colZeroWin
	colRTT
	colFinding
	numCols
)

// column describes one column: its title, the sort key it maps to, its
// widths (minimum, preferred, maximum) and its priority when the terminal
// is too narrow for all (lower drops last).
type column struct {
	title          string
	key            model.SortKey
	min, pref, max int
	right          bool
	prio           int
}

// columns is indexed by colID and listed in display order. An IPv4
// endpoint needs at most 21 cells ("255.255.255.255:65535").
var columns = [numCols]column{
	colStream:  {"#", model.SortID, 4, 5, 7, true, 14},
	colLocal:   {"LOCAL", model.SortLocal, 12, 21, 21, false, 1},
	colRemote:  {"REMOTE", model.SortRemote, 12, 21, 21, false, 0},
	colState:   {"STATE", model.SortState, 10, 10, 10, false, 2},
	colProc:    {"PROC", model.SortProc, 8, 12, 20, false, 7},
	colAge:     {"AGE", model.SortAge, 6, 6, 6, true, 9},
	colIdle:    {"IDLE", model.SortIdle, 6, 6, 6, true, 6},
	colIn:      {"IN", model.SortBytesIn, 5, 5, 5, true, 10},
	colOut:     {"OUT", model.SortBytesOut, 5, 5, 5, true, 11},
	colRate:    {"RATE", model.SortRate, 7, 7, 7, true, 12},
	colRetrans: {"RETR", model.SortRetrans, 4, 4, 5, true, 5},
	colRST:     {"RST", model.SortRST, 5, 5, 5, false, 4},
	colZeroWin: {"ZW", model.SortZeroWin, 3, 3, 4, true, 13},
	colRTT:     {"RTT", model.SortRTT, 7, 7, 7, true, 8},
	colFinding: {"FINDING", model.SortFinding, 8, 16, 30, false, 3},
}

// wideAddr is the width of any endpoint, the most an address column takes:
// "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535".
const wideAddr = 47

// layout is the set of columns shown at one width, with their widths.
type layout struct {
	cols   []colID
	widths [numCols]int
}

// markerWidth is the cursor marker ("> ") before each row.
const markerWidth = 2

// fitColumns picks the columns that fit in width cells. In priority order
// each column takes its preferred width, or its minimum when that is all
// that is left, or is skipped; the minimum of the essential columns
// (remote, local, state) stays reserved until they are placed. What
// remains grows the addresses to the widest shown (addrW, local and
// remote; an IPv6 address may need 47 cells), then the findings and
// process columns. Hidden columns (no data for them) never show.
func fitColumns(width int, hidden [numCols]bool, addrW [2]int) layout {
	var lay layout
	avail := width - markerWidth
	// Addresses take the widest in the data, but an IPv6 one only claims
	// its full width once the other columns are placed.
	need := func(c colID) int {
		w := 0
		switch c {
		case colLocal:
			w = addrW[0]
		case colRemote:
			w = addrW[1]
		}
		if w == 0 { // not an address, or no rows to measure
			return columns[c].pref
		}
		return max(columns[c].min, min(w, wideAddr))
	}
	pref := func(c colID) int {
		if c == colLocal || c == colRemote {
			return min(need(c), columns[c].pref)
		}
		return need(c)
	}
	order := make([]colID, 0, numCols)
	for p := 0; p <= int(numCols); p++ {
		for c := colID(0); c < numCols; c++ {
			if columns[c].prio == p && !hidden[c] {
				order = append(order, c)
			}
		}
	}
	const essential = 2 // priorities 0..2
	reserved := 0
	for _, c := range order {
		if columns[c].prio <= essential {
			reserved += columns[c].min + 1
		}
	}
	var on [numCols]bool
	used := 0
	for _, c := range order {
		sep := 0
		if used > 0 {
			sep = 1
		}
		if columns[c].prio <= essential {
			reserved -= columns[c].min + 1
		}
		for _, w := range []int{pref(c), columns[c].min} {
			if used+sep+w+reserved <= avail {
				on[c], lay.widths[c] = true, w
				used += sep + w
				break
			}
		}
	}
	if !on[colRemote] && avail > 0 { // too narrow even for that: the remote end, cut
		on, lay.widths = [numCols]bool{colRemote: true}, [numCols]int{colRemote: avail}
		used = avail
	}
	grow := func(c colID, to int) {
		if on[c] {
			g := max(min(to-lay.widths[c], avail-used), 0)
			lay.widths[c] += g
			used += g
		}
	}
	grow(colRemote, need(colRemote))
	grow(colLocal, need(colLocal))
	grow(colFinding, columns[colFinding].max)
	grow(colProc, columns[colProc].max)
	for c := colID(0); c < numCols; c++ {
		if on[c] {
			lay.cols = append(lay.cols, c)
		}
	}
	return lay
}

// addrWidth is the cells an endpoint takes, computed without formatting
// for IPv4 (the common case, once per flow per snapshot).
func addrWidth(ap netip.AddrPort) int {
	a := ap.Addr().Unmap()
	if !a.Is4() {
		return len(netip.AddrPortFrom(a, ap.Port()).String())
	}
	digits := func(n int) int {
		switch {
		case n >= 10000:
			return 5
		case n >= 1000:
			return 4
		case n >= 100:
			return 3
		case n >= 10:
			return 2
		}
		return 1
	}
	b := a.As4()
	return digits(int(b[0])) + digits(int(b[1])) + digits(int(b[2])) + digits(int(b[3])) + 3 + 1 + digits(int(ap.Port()))
}

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
