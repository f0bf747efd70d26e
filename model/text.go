package model

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file is the one place where connscope words numbers and names for
// people: the UI, the report and the diagnosis texts all use it, so a
// duration, a limit or a role reads the same everywhere.
//
// Each quantity has two forms:
//
//   - the cell form, for table columns: at most 7 cells, no space before
//     the unit ("850µs", "4.1ms", "2.5h", "<0.01ms");
//   - the sentence form, for prose and wide panes: a space before the unit
//     ("850 µs", "4.1 ms", "2 h 30 min", "<0.01 ms").
//
// Units are µs, ms, s, min, h and, past two days, d; a quantity that is
// infinite or was not measured is "-" in both forms.

// Sanitize makes a string from packets, capture files or /proc safe to
// print on one terminal line: escape sequences (CSI, OSC, DCS and the
// like, 7-bit and 8-bit) are removed whole, payload included, other
// control characters (C0, DEL, C1) and bidirectional overrides are
// dropped, tabs and line breaks become spaces, and invalid UTF-8 becomes
// U+FFFD. A hostile process name can therefore neither move the cursor,
// recolour the screen, set the window title nor reorder what follows it.
// Sanitize is idempotent, and returns a plain ASCII string unchanged
// without allocating.
func Sanitize(s string) string {
	if isPlainASCII(s) {
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
		case IsBidiControl(r):
		default:
			b.WriteString(s[i : i+w])
		}
		i += w
	}
	return b.String()
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// IsBidiControl reports the embedding, override and isolate controls that
// can visually reorder the text after them (the "Trojan Source" set),
// which Sanitize drops.
func IsBidiControl(r rune) bool {
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

// skipCSI skips parameter (0x30-0x3f) and intermediate (0x20-0x2f) bytes
// and the final byte (0x40-0x7e) of a control sequence.
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

// Time units in nanoseconds.
const (
	usNS  = int64(1e3)
	msNS  = int64(1e6)
	sNS   = int64(1e9)
	minNS = 60 * sNS
	hNS   = 60 * minNS
	dNS   = 24 * hNS
)

// Duration is the sentence form of a duration: "0 s", "46 µs", "4.1 ms",
// "48 ms", "2.0 s", "45 s", "3 min 5 s", "2 h 3 min", "3 d 4 h"; "-" when
// negative (infinite or not measured).
func Duration(ns int64) string {
	switch {
	case ns < 0:
		return "-"
	case ns == 0:
		return "0 s"
	case ns < msNS:
		return strconv.FormatInt(ns/usNS, 10) + " µs"
	case ns < 10*msNS:
		return strconv.FormatFloat(float64(ns)/1e6, 'f', 1, 64) + " ms"
	case ns < sNS:
		return strconv.FormatInt(ns/msNS, 10) + " ms"
	case ns < minNS:
		return strconv.FormatFloat(float64(ns)/1e9, 'f', 1, 64) + " s"
	case ns < hNS:
		return strconv.FormatInt(ns/minNS, 10) + " min " + strconv.FormatInt(ns%minNS/sNS, 10) + " s"
	case ns < 2*dNS:
		return strconv.FormatInt(ns/hNS, 10) + " h " + strconv.FormatInt(ns%hNS/minNS, 10) + " min"
	}
	return strconv.FormatInt(ns/dNS, 10) + " d " + strconv.FormatInt(ns%dNS/hNS, 10) + " h"
}

// DurationCell is the cell form of a duration, at most 6 cells, with the
// precision a person reads at a glance: "0", "<1µs", "850µs", "4.1ms",
// "48ms", "2.0s", "45s", "3.1min", "45min", "2.5h", "23h", "3.5d",
// "157d"; "-" when negative (infinite or not measured).
func DurationCell(ns int64) string {
	one := func(v float64, unit string) string { return strconv.FormatFloat(v, 'f', 1, 64) + unit }
	whole := func(v int64, unit string) string { return strconv.FormatInt(v, 10) + unit }
	switch {
	case ns < 0:
		return "-"
	case ns == 0:
		return "0"
	case ns < usNS:
		return "<1µs"
	case ns < msNS:
		return whole(ns/usNS, "µs")
	case ns < 10*msNS:
		return one(float64(ns)/1e6, "ms")
	case ns < sNS:
		return whole(ns/msNS, "ms")
	case ns < 10*sNS:
		return one(float64(ns)/1e9, "s")
	case ns < minNS:
		return whole(ns/sNS, "s")
	case ns < 10*minNS:
		return one(float64(ns/sNS)/60, "min")
	case ns < hNS:
		return whole(ns/minNS, "min")
	case ns < 10*hNS:
		return one(float64(ns/minNS)/60, "h")
	case ns < 2*dNS:
		return whole(ns/hNS, "h")
	case ns < 10*dNS:
		return one(float64(ns/hNS)/24, "d")
	}
	return whole(ns/dNS, "d")
}

// Seconds is the sentence form of a duration given in seconds (a time
// left, a timeout); negative means infinite or not measured: "-".
func Seconds(s float64) string {
	if s < 0 {
		return "-"
	}
	return Duration(int64(s * 1e9))
}

// RTT is the sentence form of a round-trip time, in milliseconds as ping
// and ss print them: "<0.01 ms" (loopback), "0.31 ms", "12.4 ms",
// "1.20 s", then as Duration from 10 s; "-" when not measured (zero or
// negative).
func RTT(ns int64) string {
	switch {
	case ns <= 0:
		return "-"
	case ns >= 10*sNS:
		return Duration(ns)
	case ns < 10*usNS:
		return "<0.01 ms"
	case ns < 10*msNS:
		return strconv.FormatFloat(float64(ns)/1e6, 'f', 2, 64) + " ms"
	case ns < sNS:
		return strconv.FormatFloat(float64(ns)/1e6, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(float64(ns)/1e9, 'f', 2, 64) + " s"
}

// RTTCell is the cell form of RTT, at most 7 cells: "<0.01ms", "0.31ms",
// "12.4ms", "1.20s", then as DurationCell from 10 s; "-" when not
// measured.
func RTTCell(ns int64) string {
	if ns >= 10*sNS {
		return DurationCell(ns)
	}
	return strings.Replace(RTT(ns), " ", "", 1)
}

// Plural is "1 flow", "3 flows", "0 processes": the count and the noun,
// which takes -es after s, x, z, ch and sh.
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	suffix := "s"
	for _, end := range [...]string{"s", "x", "z", "ch", "sh"} {
		if strings.HasSuffix(noun, end) {
			suffix = "es"
			break
		}
	}
	return strconv.Itoa(n) + " " + noun + suffix
}

// RoleWord names side s of f by its role: "client" or "server" when the
// roles are known (seen or inferred), "peer" otherwise.
func RoleWord(f *Flow, s Side) string {
	switch {
	case f.Client > SideB || s > SideB:
		return "peer"
	case s == f.Client:
		return "client"
	}
	return "server"
}

// Role names side s of f with its address: "client 10.0.0.1:51000",
// "server [::1]:8080", or "endpoint 10.0.0.2:80" when the roles are
// unknown.
func Role(f *Flow, s Side) string {
	ep := f.Endpoint(s)
	if f.Client > SideB || s > SideB {
		return "endpoint " + ep.String()
	}
	return RoleWord(f, s) + " " + ep.String()
}

// Arrow joins two endpoints in the one arrow style of every view:
// "client → server" when the first is known to have opened the
// connection, "⇢" when that was inferred (no SYN seen), "↔" for a
// socket's two ends or unknown roles.
func Arrow(opened, inferred bool) string {
	switch {
	case !opened:
		return "↔"
	case inferred:
		return "⇢"
	}
	return "→"
}

// Limit renders a resource limit such as RLIMIT_NOFILE: "1024",
// "unlimited" for FDUnlimited, "?" when unknown (0).
func Limit(n uint64) string {
	switch n {
	case 0:
		return "?"
	case FDUnlimited:
		return "unlimited"
	}
	return strconv.FormatUint(n, 10)
}

// FrameList renders evidence frames compactly: "3,4,9"; past maxN frames,
// the first maxN-1, an ellipsis and the last with the count:
// "3,4,5,6,7 … 90 (12 frames)"; "-" for none. maxN below 2 counts as 2.
func FrameList(fr []uint64, maxN int) string {
	if len(fr) == 0 {
		return "-"
	}
	maxN = max(maxN, 2)
	var b strings.Builder
	for i, x := range fr {
		if i == maxN-1 && len(fr) > maxN {
			b.WriteString(" … " + strconv.FormatUint(fr[len(fr)-1], 10) + " (" + strconv.Itoa(len(fr)) + " frames)")
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(x, 10))
	}
	return b.String()
}

// SeverityMark is the colour-free mark of a severity, two cells wide:
// "!!" critical, "! " warning, "i " info. Views put it before a finding
// so that its weight reads without colour (NO_COLOR, a report in a file).
func SeverityMark(s Severity) string {
	switch s {
	case SeverityCritical:
		return "!!"
	case SeverityWarning:
		return "! "
	}
	return "i "
}

// AtFDLimit reports whether a process holds as many fds as its known,
// finite soft limit allows: new sockets and files fail with EMFILE.
func AtFDLimit(p *Process) bool {
	return p.FDSoftLimit != 0 && p.FDSoftLimit != FDUnlimited && uint64(max(p.FDs, 0)) >= p.FDSoftLimit
}

// AtLimitText is what a time-to-limit column or sentence says of a
// process that has reached its fd limit.
const AtLimitText = "AT LIMIT"

// TimeToFDLimit says when a process runs out of fds at its current growth:
// AtLimitText once it has, the time left in the sentence form (cell when
// cell is set) while it grows, "-" when it does not grow or has no finite
// limit.
func TimeToFDLimit(p *Process, cell bool) string {
	switch {
	case AtFDLimit(p):
		return AtLimitText
	case p.SecondsToLimit < 0:
		return "-"
	case cell:
		return DurationCell(int64(p.SecondsToLimit * 1e9))
	}
	return Seconds(p.SecondsToLimit)
}

// LimitationNotes words a kernel view's limitations (what a poll could not
// see) for a note shown once: the case of a root connscope in a container
// or user namespace, where only pid 1's fd table is out of reach, is said
// calmly as what it is rather than as the system call that failed.
func LimitationNotes(lims []string) []string {
	out := make([]string, 0, len(lims))
	for _, l := range lims {
		if strings.HasPrefix(l, "the fd tables of 1 process are not readable (pid 1: ") {
			l = "pid 1 is not inspectable from here (connscope runs inside a container or user namespace): its sockets show no owner"
		}
		out = append(out, l)
	}
	return out
}
