package tui

import (
	"net/netip"

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
	colNetNS
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

// column describes one column: its title, the sort key it maps to
// (model.NumSortKeys: none), its widths (minimum, preferred, maximum) and
// its priority when the terminal is too narrow for all (lower drops
// last).
type column struct {
	title          string
	key            model.SortKey
	min, pref, max int
	right          bool
	prio           int
}

// columns is indexed by colID and listed in display order. An IPv4
// endpoint needs at most 21 cells ("255.255.255.255:65535"). At 80
// columns the endpoints, the state, the process with its pid whole and
// the finding stay (then who reset, idle time, retransmissions); the
// namespace shows only when the rows are in several.
var columns = [numCols]column{
	colStream:  {"#", model.SortID, 4, 5, 7, true, 15},
	colLocal:   {"LOCAL", model.SortLocal, 12, 21, 21, false, 1},
	colRemote:  {"REMOTE", model.SortRemote, 12, 21, 21, false, 0},
	colState:   {"STATE", model.SortState, 10, 10, 10, false, 2},
	colProc:    {"PROC", model.SortProc, 10, 14, 22, false, 3},
	colNetNS:   {"NETNS", model.NumSortKeys, 6, 12, 20, false, 7},
	colAge:     {"AGE", model.SortAge, 6, 6, 6, true, 10},
	colIdle:    {"IDLE", model.SortIdle, 6, 6, 6, true, 6},
	colIn:      {"IN", model.SortBytesIn, 5, 5, 5, true, 11},
	colOut:     {"OUT", model.SortBytesOut, 5, 5, 5, true, 12},
	colRate:    {"RATE", model.SortRate, 7, 7, 7, true, 13},
	colRetrans: {"RETR", model.SortRetrans, 4, 4, 5, true, 8},
	colRST:     {"RST", model.SortRST, 5, 5, 5, false, 5},
	colZeroWin: {"ZW", model.SortZeroWin, 3, 3, 4, true, 14},
	colRTT:     {"RTT", model.SortRTT, 7, 7, 7, true, 9},
	colFinding: {"FINDING", model.SortFinding, 8, 16, 30, false, 4},
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

// colWidths is the widest content of each column in the rows shown, for
// the columns whose content varies most (endpoints, process, finding); 0
// when not measured.
type colWidths [numCols]int

// fitColumns picks the columns that fit in width cells. In priority order
// each column takes its preferred width (no more than its content needs),
// or its minimum when that is all that is left, or is skipped; the
// minimum of the essential columns (remote, local, state) stays reserved
// until they are placed. What remains grows the addresses to the widest
// shown (an IPv6 address may need 47 cells), then the findings, namespace
// and process columns to their content. Hidden columns (no data for them)
// never show.
func fitColumns(width int, hidden [numCols]bool, data colWidths) layout {
	var lay layout
	avail := width - markerWidth
	// Measured columns take the widest in the data, but an IPv6 address
	// only claims its full width once the other columns are placed.
	need := func(c colID) int {
		w := data[c]
		if w == 0 { // not measured, or no rows to measure
			if c == colFinding || c == colProc || c == colNetNS {
				return columns[c].max
			}
			return columns[c].pref
		}
		if c == colLocal || c == colRemote {
			return max(columns[c].min, min(w, wideAddr))
		}
		return max(columns[c].min, min(w, columns[c].max))
	}
	pref := func(c colID) int {
		return min(need(c), max(columns[c].pref, columns[c].min))
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
	grow(colFinding, need(colFinding))
	grow(colNetNS, need(colNetNS))
	grow(colProc, need(colProc))
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
