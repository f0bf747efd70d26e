package filter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrUnsupported is wrapped by the errors for pcap-filter words that this
// compiler recognises but does not compile (gateway, mpls, host names that
// need a DNS lookup, ...), so a caller can tell "valid for tcpdump, not for
// us" from a plain mistake.
var ErrUnsupported = errors.New("not supported by connscope's capture filter compiler")

// ErrLinkType is wrapped by the error Compile returns for a link type whose
// header layout the compiler does not know.
var ErrLinkType = errors.New("link type not supported for capture filters")

// SyntaxError is a compile error tied to one word of the expression: a word
// that does not parse, a value out of range, or a primitive that is not
// supported. Offset is the byte offset of the word in Expr.
type SyntaxError struct {
	Expr   string // the whole expression as given
	Offset int    // byte offset of the offending word in Expr
	Msg    string // what is wrong, e.g. `unknown word "prot"`
	err    error  // optional sentinel (ErrUnsupported) for errors.Is
}

// Error prints the message with a 1-based column and the expression, e.g.
// `capture filter: unknown word "prot" at column 5: tcp prot 80`. Control
// characters, bidirectional overrides and invalid UTF-8 in the expression
// (or in a word the message quotes) are spelled out as Go escapes (\x1b,
// \t, \u202e), so that the message is one line that cannot drive a
// terminal.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("capture filter: %s at column %d: %s", escape(e.Msg), e.Offset+1, escape(e.Expr))
}

// Unwrap returns ErrUnsupported for unsupported primitives, nil otherwise.
func (e *SyntaxError) Unwrap() error { return e.err }

// Caret returns the expression and, below it, a caret under the offending
// word, for a terminal that shows the error under the input:
//
//	tcp prot 80
//	    ^
//
// The expression is escaped as in Error, and the caret still lines up.
func (e *SyntaxError) Caret() string {
	off := min(max(e.Offset, 0), len(e.Expr))
	// Count runes, not bytes, so the caret lines up under non-ASCII input.
	pad := utf8.RuneCountInString(escape(e.Expr[:off]))
	return escape(e.Expr) + "\n" + strings.Repeat(" ", pad) + "^"
}

// escape spells out, as Go escapes, every rune of s that is not printable
// (control characters, DEL, C1, bidirectional overrides, other format
// characters) and every byte that is not UTF-8; s is returned as it is
// when it has none.
func escape(s string) string {
	plain := true
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && w == 1) || !unicode.IsPrint(r) {
			plain = false
			break
		}
		i += w
	}
	if plain {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && w == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+w])
		default:
			q := strconv.QuoteRune(r) // '\x1b'
			b.WriteString(q[1 : len(q)-1])
		}
		i += w
	}
	return b.String()
}

// errAt builds a *SyntaxError at byte offset off.
func errAt(expr string, off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Expr: expr, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// unsupportedAt builds a *SyntaxError wrapping ErrUnsupported.
func unsupportedAt(expr string, off int, format string, args ...any) *SyntaxError {
	e := errAt(expr, off, format, args...)
	e.err = ErrUnsupported
	return e
}
