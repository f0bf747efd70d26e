package tui

import (
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
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || isBidiControl(r) {
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
