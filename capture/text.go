package capture

import (
	"strings"
	"unicode/utf8"
)

// plainText makes text that came from outside (a process name, a packet
// comment read from a file) one printable line: escape sequences (CSI,
// OSC, DCS and the like, 7-bit and 8-bit) are removed whole, payload
// included, other control characters (C0, DEL, C1) and bidirectional
// overrides are dropped, tabs and line breaks become spaces, and invalid
// UTF-8 becomes U+FFFD. It follows the rules of the UI's sanitiser, which
// this package cannot import, so that what capture hands on as text (an
// owner's command name) is already safe to print.
func plainText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && w <= 1:
			b.WriteRune(utf8.RuneError)
			i++
			continue
		case r == 0x1b:
			i = skipEscape(s, i+1)
			continue
		case r == 0x9b: // 8-bit CSI
			i = skipCSI(s, i+w)
			continue
		case r == 0x90 || r == 0x9d || r == 0x98 || r == 0x9e || r == 0x9f: // 8-bit DCS, OSC, SOS, PM, APC
			i = skipControlString(s, i+w)
			continue
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		case isBidiControl(r):
		default:
			b.WriteString(s[i : i+w])
		}
		i += w
	}
	return b.String()
}

// isBidiControl reports the embedding, override and isolate controls that
// can visually reorder the text after them.
func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}

// skipEscape returns the index just past the escape sequence whose ESC
// byte precedes i.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		return skipCSI(s, i+1)
	case ']', 'P', 'X', '^', '_':
		return skipControlString(s, i+1)
	}
	// nF sequences: intermediates 0x20-0x2f, then one final byte.
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
		i++
	}
	if i < len(s) && s[i] >= 0x30 && s[i] <= 0x7e {
		i++
	}
	return i
}

// skipCSI returns the index just past a control sequence's parameters,
// intermediates and final byte.
func skipCSI(s string, i int) int {
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x3f {
		i++
	}
	if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
		i++
	}
	return i
}

// skipControlString skips a control string (OSC, DCS, ...) up to and
// including its terminator: BEL, ESC \ or the 8-bit ST. An unterminated
// string runs to the end, so its payload is never shown.
func skipControlString(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == 0x07:
			return i + 1
		case s[i] == 0x1b:
			if i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
			return i + 1
		case strings.HasPrefix(s[i:], "\u009c"):
			return i + len("\u009c")
		}
		i++
	}
	return i
}
