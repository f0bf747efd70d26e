package capture

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors; every error of a File wraps one of them or an I/O error,
// so callers can tell them apart with errors.Is.
var (
	// ErrNotCapture: the data is neither pcap nor pcapng (plain or gzipped).
	ErrNotCapture = errors.New("not a pcap or pcapng capture")
	// ErrTruncated: the file ends in the middle of a header or record.
	ErrTruncated = errors.New("file truncated")
	// ErrCorrupt: a header or record holds values no valid file has.
	ErrCorrupt = errors.New("file corrupt")
	// ErrUnsupported: a valid file this package cannot use (a link type
	// without TCP decoding, an unknown format version).
	ErrUnsupported = errors.New("not supported")
)

// FileError locates a problem inside a capture file: which record (frame
// or block) and at which byte. Its message is one line naming the file,
// e.g. "x.pcap: frame 1234 at byte 567890 is cut short (file truncated)".
type FileError struct {
	// File is the name given to Open ("stdin" for "-"), as given: Error
	// quotes it when it holds control bytes.
	File string
	// Frame is the 1-based number of the packet record the problem is in,
	// or 0 when it is in another kind of record.
	Frame uint64
	// Record names a non-packet record ("pcapng section header block") when
	// Frame is 0.
	Record string
	// Offset is the byte offset where the record starts, counted in the
	// uncompressed stream when the file is gzipped.
	Offset int64
	// Gzip says Offset counts uncompressed bytes.
	Gzip bool
	// Detail says what is wrong (empty for a plain truncation).
	Detail string
	// Err is ErrTruncated, ErrCorrupt, ErrUnsupported or a read error.
	Err error
}

// Error renders the one-line message. The file name is quoted when it
// holds control bytes (see quoteName).
func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(quoteName(e.File))
	b.WriteString(": ")
	if e.Frame > 0 {
		b.WriteString("frame ")
		b.WriteString(strconv.FormatUint(e.Frame, 10))
	} else {
		b.WriteString(e.Record)
	}
	b.WriteString(" at byte ")
	b.WriteString(strconv.FormatInt(e.Offset, 10))
	if e.Gzip {
		b.WriteString(" of the uncompressed data")
	}
	switch {
	case errors.Is(e.Err, ErrTruncated) && e.Detail == "":
		b.WriteString(" is cut short (file truncated)")
	case errors.Is(e.Err, ErrCorrupt) || errors.Is(e.Err, ErrUnsupported) || errors.Is(e.Err, ErrTruncated):
		b.WriteString(": ")
		b.WriteString(e.Detail)
		b.WriteString(" (")
		b.WriteString(e.Err.Error())
		b.WriteString(")")
	default:
		b.WriteString(": ")
		if e.Detail != "" {
			b.WriteString(e.Detail)
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the sentinel or read error.
func (e *FileError) Unwrap() error { return e.Err }

// quoteName renders a name that came from outside (a file name, an
// interface name) for an error message: as it is when every character is
// printable, and in Go's double-quoted form (strconv.Quote) otherwise.
// Control characters (C0, DEL, C1), escape sequences, bidirectional
// overrides and invalid UTF-8 then appear as \x1b, \u202e and the like,
// so that printing an error can neither drive the terminal nor reorder
// what follows the name.
func quoteName(s string) string {
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// quoteNames applies quoteName to each name.
func quoteNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = quoteName(n)
	}
	return out
}
