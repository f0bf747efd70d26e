package model

import (
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize_HostileStrings(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "nginx: worker", "nginx: worker"},
		{"unicode kept", "サーバー ünïcode", "サーバー ünïcode"},
		{"sgr colour", "\x1b[31mred\x1b[0m", "red"},
		{"cursor moves", "a\x1b[2J\x1b[H\x1b[10;20Hb", "ab"},
		{"private mode", "x\x1b[?1049hy", "xy"},
		{"osc title bel", "\x1b]0;pwned\x07name", "name"},
		{"osc title st", "\x1b]2;pwned\x1b\\name", "name"},
		{"osc 52 clipboard", "\x1b]52;c;ZWNobyBoaQ==\x07ok", "ok"},
		{"osc 8 hyperlink", "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\", "click"},
		{"unterminated osc", "ok\x1b]0;forever", "ok"},
		{"dcs", "\x1bPq#0;2;0;0;0\x1b\\x", "x"},
		{"charset nF", "\x1b(0lqk\x1b(B", "lqk"},
		{"two-byte esc", "a\x1bcb", "ab"},
		{"lone esc at end", "abc\x1b", "abc"},
		{"8-bit csi", "a\u009b31mb", "ab"},
		{"8-bit osc", "a\u009d0;t\u009cb", "ab"},
		{"c0 controls", "a\x00b\x07c\x08d", "abcd"},
		{"del", "a\x7fb", "ab"},
		{"c1 controls", "a\u0085b\u0084c", "abc"},
		{"newlines and tabs", "a\nb\r\nc\td", "a b  c d"},
		{"invalid utf8", "a\xffb\xc3", "a\ufffdb\ufffd"},
		{"bidi override", "file\u202etxt.exe", "filetxt.exe"},
		{"bidi isolate", "\u2067abc\u2069", "abc"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		if got := Sanitize(tc.in); got != tc.want {
			t.Errorf("%s: Sanitize(%q): got %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

// TestSanitize_OutputIsAlwaysSafe checks the invariant on every byte
// value and on pairs after ESC: nothing below 0x20, no DEL, no C1, valid
// UTF-8.
func TestSanitize_OutputIsAlwaysSafe(t *testing.T) {
	var ins []string
	for c := 0; c < 256; c++ {
		ins = append(ins, "x"+string(rune(c))+"y", "x"+string([]byte{byte(c)})+"y", "\x1b"+string([]byte{byte(c)})+"z")
	}
	for _, in := range ins {
		assertSafe(t, in, Sanitize(in))
	}
}

func assertSafe(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("Sanitize(%q): got invalid UTF-8 %q", in, out)
	}
	for _, r := range out {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || IsBidiControl(r) {
			t.Errorf("Sanitize(%q): got control %U in %q", in, r, out)
		}
	}
	if strings.ContainsRune(out, 0x1b) {
		t.Errorf("Sanitize(%q): got ESC in %q", in, out)
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"\x1b[31m", "\x1b]0;t\x07", "\xff", "a\u202eb", "\u009b1m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := Sanitize(in)
		assertSafe(t, in, out)
		if again := Sanitize(out); again != out {
			t.Errorf("Sanitize is not idempotent on %q: got %q then %q", in, out, again)
		}
	})
}

func TestDuration_SentenceAndCellForms(t *testing.T) {
	tests := []struct {
		ns             int64
		sentence, cell string
	}{
		{-1, "-", "-"},
		{0, "0 s", "0"},
		{400, "0 µs", "<1µs"},
		{46_000, "46 µs", "46µs"},
		{850_000, "850 µs", "850µs"},
		{4_100_000, "4.1 ms", "4.1ms"},
		{48_000_000, "48 ms", "48ms"},
		{2_000_000_000, "2.0 s", "2.0s"},
		{45_000_000_000, "45.0 s", "45s"},
		{185 * sNS, "3 min 5 s", "3.1min"},
		{45 * minNS, "45 min 0 s", "45min"},
		{2*hNS + 30*minNS, "2 h 30 min", "2.5h"},
		{23 * hNS, "23 h 0 min", "23h"},
		{3*dNS + 12*hNS, "3 d 12 h", "3.5d"},
		{1929205 * sNS, "22 d 7 h", "22d"},
		{157 * dNS, "157 d 0 h", "157d"},
	}
	for _, tc := range tests {
		if got := Duration(tc.ns); got != tc.sentence {
			t.Errorf("Duration(%d): got %q, want %q", tc.ns, got, tc.sentence)
		}
		got := DurationCell(tc.ns)
		if got != tc.cell {
			t.Errorf("DurationCell(%d): got %q, want %q", tc.ns, got, tc.cell)
		}
		if n := utf8.RuneCountInString(got); n > 6 {
			t.Errorf("DurationCell(%d) = %q: %d cells, want at most 6", tc.ns, got, n)
		}
	}
}

func TestRTT_LoopbackIsNotZero(t *testing.T) {
	tests := []struct {
		ns             int64
		sentence, cell string
	}{
		{0, "-", "-"},
		{3_000, "<0.01 ms", "<0.01ms"},
		{80_000, "0.08 ms", "0.08ms"},
		{12_400_000, "12.4 ms", "12.4ms"},
		{1_200_000_000, "1.20 s", "1.20s"},
	}
	for _, tc := range tests {
		if got := RTT(tc.ns); got != tc.sentence {
			t.Errorf("RTT(%d): got %q, want %q", tc.ns, got, tc.sentence)
		}
		if got := RTTCell(tc.ns); got != tc.cell {
			t.Errorf("RTTCell(%d): got %q, want %q", tc.ns, got, tc.cell)
		}
	}
}

func TestText_WordsAndMarks(t *testing.T) {
	f := &Flow{A: netip.MustParseAddrPort("10.0.0.1:51000"), B: netip.MustParseAddrPort("10.0.0.2:80"), Client: SideB}
	unknown := &Flow{A: f.A, B: f.B, Client: SideNone}
	checks := []struct{ got, want string }{
		{Plural(1, "flow"), "1 flow"},
		{Plural(3, "flow"), "3 flows"},
		{Plural(0, "process"), "0 processes"},
		{Plural(2, "match"), "2 matches"},
		{RoleWord(f, SideA), "server"},
		{RoleWord(f, SideB), "client"},
		{RoleWord(unknown, SideA), "peer"},
		{Role(f, SideB), "client 10.0.0.2:80"},
		{Role(unknown, SideA), "endpoint 10.0.0.1:51000"},
		{Limit(0), "?"},
		{Limit(1024), "1024"},
		{Limit(FDUnlimited), "unlimited"},
		{FrameList(nil, 6), "-"},
		{FrameList([]uint64{3, 4, 9}, 6), "3,4,9"},
		{FrameList([]uint64{1, 2, 3, 4, 5, 6, 7, 90}, 6), "1,2,3,4,5 … 90 (8 frames)"},
		{FrameList([]uint64{1, 2, 3, 4, 5, 6}, 6), "1,2,3,4,5,6"},
		{SeverityMark(SeverityCritical), "!!"},
		{SeverityMark(SeverityWarning), "! "},
		{SeverityMark(SeverityInfo), "i "},
		{Seconds(-1), "-"},
		{Seconds(90), "1 min 30 s"},
		{Arrow(true, false), "→"},
		{Arrow(true, true), "⇢"},
		{Arrow(false, false), "↔"},
	}
	for i, c := range checks {
		if c.got != c.want {
			t.Errorf("check %d: got %q, want %q", i, c.got, c.want)
		}
	}
}

func TestFDLimitWords(t *testing.T) {
	tests := []struct {
		p             Process
		cell, sentece string
		at            bool
	}{
		{Process{FDs: 64, FDSoftLimit: 64, SecondsToLimit: 0, FDGrowthPerMin: 10}, "AT LIMIT", "AT LIMIT", true},
		{Process{FDs: 64, FDSoftLimit: 64, SecondsToLimit: -1}, "AT LIMIT", "AT LIMIT", true}, // not growing, but full
		{Process{FDs: 10, FDSoftLimit: 64, SecondsToLimit: 90, FDGrowthPerMin: 36}, "1.5min", "1 min 30 s", false},
		{Process{FDs: 10, FDSoftLimit: 64, SecondsToLimit: -1}, "-", "-", false},
		{Process{FDs: 10, FDSoftLimit: FDUnlimited, SecondsToLimit: -1}, "-", "-", false},
		{Process{FDs: 10, FDSoftLimit: 0, SecondsToLimit: -1}, "-", "-", false},
	}
	for i, tc := range tests {
		if got := AtFDLimit(&tc.p); got != tc.at {
			t.Errorf("%d: AtFDLimit: got %v, want %v", i, got, tc.at)
		}
		if got := TimeToFDLimit(&tc.p, true); got != tc.cell {
			t.Errorf("%d: TimeToFDLimit cell: got %q, want %q", i, got, tc.cell)
		}
		if got := TimeToFDLimit(&tc.p, false); got != tc.sentece {
			t.Errorf("%d: TimeToFDLimit sentence: got %q, want %q", i, got, tc.sentece)
		}
	}
}

func TestLimitationNotes_Pid1SaidCalmly(t *testing.T) {
	in := []string{
		"the fd tables of 1 process are not readable (pid 1: readlink /proc/1/fd: permission denied): their sockets show no owner",
		"the fd tables of 3 processes are not readable (pid 7: permission denied): their sockets show no owner",
	}
	got := LimitationNotes(in)
	if len(got) != 2 || strings.Contains(got[0], "permission denied") || !strings.HasPrefix(got[0], "pid 1 is not inspectable") {
		t.Errorf("the pid 1 note: got %q, want it said without the failed call", got[0])
	}
	if got[1] != in[1] {
		t.Errorf("another limitation changed: got %q, want %q", got[1], in[1])
	}
}
