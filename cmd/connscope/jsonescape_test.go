package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// unsafeForTerminal reports a character JSON output must never hold raw:
// a C0 or C1 control, DEL, or a bidirectional control.
func unsafeForTerminal(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || isBidiControl(r)
}

// TestJSONWriter_EscapesEveryControl: every C0, DEL, C1 and
// bidirectional control in a string comes out as a \uXXXX escape that
// decodes back to the same string.
func TestJSONWriter_EscapesEveryControl(t *testing.T) {
	var in strings.Builder
	in.WriteString("name ")
	for r := rune(0); r < 0x20; r++ {
		in.WriteRune(r)
	}
	for r := rune(0x7f); r <= 0x9f; r++ {
		in.WriteRune(r)
	}
	for _, r := range []rune{0x61c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069} {
		in.WriteRune(r)
	}
	in.WriteString(" é ☃ \x1b]0;title\x07\x1b[2J end")
	var out bytes.Buffer
	jw := newJSONWriter(&out)
	if err := jw.line(summary{Type: "summary", Source: in.String()}); err != nil {
		t.Fatal(err)
	}
	if err := jw.flush(); err != nil {
		t.Fatal(err)
	}
	line := out.String()
	for i, r := range strings.TrimSuffix(line, "\n") {
		if unsafeForTerminal(r) {
			t.Fatalf("raw %U at byte %d of %q", r, i, line)
		}
	}
	for _, want := range []string{`\u001b`, `\u007f`, `\u0080`, `\u009f`, `\u202e`, `\u2066`, `\u061c`, `\u200f`, "é ☃"} {
		if !strings.Contains(line, want) {
			t.Errorf("output %q lacks %q", line, want)
		}
	}
	var back summary
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Source != in.String() {
		t.Errorf("decoded %q, want %q", back.Source, in.String())
	}
}

// FuzzAppendJSONSafe: for any string, the escaped line holds no control
// character and decodes to what encoding/json would have decoded.
func FuzzAppendJSONSafe(f *testing.F) {
	f.Add("plain")
	f.Add("\x1b]0;x\x07\u202e\u0085\x7f")
	f.Add("\xff\xfe invalid")
	f.Fuzz(func(t *testing.T, s string) {
		var out bytes.Buffer
		jw := newJSONWriter(&out)
		if err := jw.line(map[string]string{"s": s}); err != nil {
			t.Fatal(err)
		}
		jw.flush()
		b := out.Bytes()
		for i := 0; i < len(b)-1; {
			r, n := utf8.DecodeRune(b[i:])
			if unsafeForTerminal(r) {
				t.Fatalf("raw %U in %q", r, b)
			}
			i += n
		}
		var got, want map[string]string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		plain, _ := json.Marshal(map[string]string{"s": s})
		json.Unmarshal(plain, &want)
		if got["s"] != want["s"] {
			t.Fatalf("decoded %q, want %q", got["s"], want["s"])
		}
	})
}
