package tui

import (
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/connscope/connscope/model"
)

func TestFormat_Numbers(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{fmtBytes(0), "0"},
		{fmtBytes(999), "999"},
		{fmtBytes(1000), "1.0K"},
		{fmtBytes(1536), "1.5K"},
		{fmtBytes(40 << 20), "40M"},
		{fmtBytes(1023 << 10), "1.0M"},
		{fmtBytes(1 << 62), "4.0E"},
		{fmtRate(0.2), "0"},
		{fmtRate(512), "512/s"},
		{fmtRate(2048), "2.0K/s"},
		{fmtCount(9999), "9999"},
		{fmtCount(12_345), "12K"},
		{fmtCount(3_400_000), "3.4M"},
		{fmtRel(60_020_000_000), "60.020000"},
		{fmtRel(-1_500_000), "-0.001500"},
		{fmtClock(0, time.UTC, false), "--:--:--"},
		{fmtClock(base+ms(1500), time.UTC, false), "22:13:21.500000"},
		{fmtClock(base, time.UTC, true), "2023-11-14 22:13:20.000000"},
	}
	for i, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("case %d: got %q, want %q", i, tc.got, tc.want)
		}
	}
	// Durations and byte counts stay within their columns.
	for ns := int64(1); ns < int64(1e9)*86400*9999; ns = ns*3 + 7 {
		if s := model.DurationCell(ns); ansi.StringWidth(s) > columns[colAge].min {
			t.Errorf("DurationCell(%d) = %q: wider than the %d-cell column", ns, s, columns[colAge].min)
		}
		if s := model.RTTCell(ns); ansi.StringWidth(s) > columns[colRTT].min {
			t.Errorf("RTTCell(%d) = %q: wider than the %d-cell column", ns, s, columns[colRTT].min)
		}
	}
	for n := uint64(1); n < 1<<63; n = n*3 + 1 {
		if s := fmtBytes(n); len(s) > 5 {
			t.Errorf("fmtBytes(%d) = %q: wider than the 5-cell column", n, s)
		}
	}
}

func TestFmtAddr_KeepsThePort(t *testing.T) {
	tests := []struct {
		in   string
		w    int
		want string
	}{
		{"10.0.0.1:51000", 21, "10.0.0.1:51000"},
		{"10.0.0.1:51000", 12, "…0.0.1:51000"},
		{"[2001:db8::10]:443", 12, "…b8::10]:443"},
		{"[::ffff:10.0.0.1]:80", 21, "10.0.0.1:80"},
		{"10.0.0.1:51000", 4, "10.…"},
	}
	for _, tc := range tests {
		got := fmtAddr(ap(tc.in), tc.w)
		if got != tc.want || ansi.StringWidth(got) > tc.w {
			t.Errorf("fmtAddr(%s, %d): got %q, want %q", tc.in, tc.w, got, tc.want)
		}
	}
}

func TestFitColumns(t *testing.T) {
	v4 := [2]int{14, 13}
	tests := []struct {
		name     string
		width    int
		addrW    [2]int
		hideProc bool
		want     []colID // must be shown
		wantNot  []colID
	}{
		{"140 cells: everything", 140, v4, true, []colID{colStream, colLocal, colRemote, colState, colAge, colIdle, colIn, colOut, colRate, colRetrans, colRST, colZeroWin, colRTT, colFinding}, []colID{colProc}},
		{"80 cells: the essentials and the verdicts", 80, v4, true, []colID{colLocal, colRemote, colState, colFinding, colRST, colIdle}, []colID{colStream, colRate}},
		{"80 cells with processes: endpoints, state, process, finding", 80, [2]int{15, 15}, false, []colID{colLocal, colRemote, colState, colProc, colFinding}, []colID{colStream, colRate}},
		{"40 cells: local, remote, state", 40, v4, true, []colID{colLocal, colRemote, colState}, []colID{colFinding}},
		{"process column when there is data", 140, v4, false, []colID{colProc}, nil},
		{"10 cells: the remote end, cut", 10, v4, true, []colID{colRemote}, []colID{colLocal}},
	}
	for _, tc := range tests {
		var hidden [numCols]bool
		hidden[colProc] = tc.hideProc
		hidden[colNetNS] = true
		lay := fitColumns(tc.width, hidden, colWidths{colLocal: tc.addrW[0], colRemote: tc.addrW[1]})
		on := map[colID]bool{}
		used := markerWidth - 1
		for _, c := range lay.cols {
			on[c] = true
			used += lay.widths[c] + 1
		}
		if used > tc.width {
			t.Errorf("%s: got %d cells of columns, want at most %d", tc.name, used, tc.width)
		}
		for _, c := range tc.want {
			if !on[c] {
				t.Errorf("%s: column %s missing", tc.name, columns[c].title)
			}
		}
		for _, c := range tc.wantNot {
			if on[c] {
				t.Errorf("%s: column %s shown, want it dropped", tc.name, columns[c].title)
			}
		}
	}
	// IPv6 addresses grow the address columns once the rest is placed.
	lay := fitColumns(200, [numCols]bool{colProc: true}, colWidths{colLocal: 40, colRemote: 44})
	if lay.widths[colLocal] != 40 || lay.widths[colRemote] != 44 {
		t.Errorf("wide IPv6 at 200 cells: got widths %d and %d, want 40 and 44", lay.widths[colLocal], lay.widths[colRemote])
	}
}

// TestSSThresh_InfinityIsADash: the kernel's TCP_INFINITE_SSTHRESH is not
// a number a person should read.
func TestSSThresh_InfinityIsADash(t *testing.T) {
	if got := ssthresh(2147483647); got != "-" {
		t.Errorf("ssthresh(infinite): got %q, want -", got)
	}
	if got := ssthresh(42); got != "42" {
		t.Errorf("ssthresh(42): got %q, want 42", got)
	}
}
