package tui

import (
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
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
		{fmtDur(-5), "0"},
		{fmtDur(850_000), "850us"},
		{fmtDur(12e6), "12ms"},
		{fmtDur(1.25e9), "1.2s"},
		{fmtDur(45e9), "45s"},
		{fmtDur(int64(5*time.Minute + 12*time.Second)), "5m12s"},
		{fmtDur(int64(2*time.Hour + 3*time.Minute)), "2h03m"},
		{fmtDur(int64(3*24*time.Hour + 4*time.Hour)), "3d04h"},
		{fmtDur(int64(157 * 24 * time.Hour)), "157d"},
		{fmtRTT(0), "-"},
		{fmtRTT(310_000), "0.31ms"},
		{fmtRTT(12_400_000), "12.4ms"},
		{fmtRTT(1_200_000_000), "1.20s"},
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
		if s := fmtDur(ns); len(s) > 6 {
			t.Errorf("fmtDur(%d) = %q: wider than the 6-cell column", ns, s)
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
		{"80 cells: the essentials and the verdicts", 80, v4, true, []colID{colLocal, colRemote, colState, colFinding, colRST, colRetrans}, []colID{colStream, colRate}},
		{"40 cells: local, remote, state", 40, v4, true, []colID{colLocal, colRemote, colState}, []colID{colFinding}},
		{"process column when there is data", 140, v4, false, []colID{colProc}, nil},
		{"10 cells: the remote end, cut", 10, v4, true, []colID{colRemote}, []colID{colLocal}},
	}
	for _, tc := range tests {
		var hidden [numCols]bool
		hidden[colProc] = tc.hideProc
		lay := fitColumns(tc.width, hidden, tc.addrW)
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
	lay := fitColumns(200, [numCols]bool{colProc: true}, [2]int{40, 44})
	if lay.widths[colLocal] != 40 || lay.widths[colRemote] != 44 {
		t.Errorf("wide IPv6 at 200 cells: got widths %d and %d, want 40 and 44", lay.widths[colLocal], lay.widths[colRemote])
	}
}
