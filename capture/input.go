package capture

import (
	"errors"
	"io"
)

// input is a forward-only buffered reader that hands out slices of its own
// buffer (no copy, no allocation per record) and knows the offset of every
// byte in the stream. It needs no Seek, so pipes and stdin work.
type input struct {
	rd  io.Reader
	buf []byte
	r   int   // start of unread data in buf
	w   int   // end of valid data in buf
	off int64 // stream offset of buf[r]
	err error // sticky error from rd (io.EOF at the end)
}

// bufSize is the most the buffer grows to: it holds the largest record we
// accept (a 256 KiB packet plus its header) with room to spare, so a record
// never needs a second buffer. It starts at initialBufSize, enough for most
// files' records, and grows only when a record needs it.
const (
	bufSize        = 1 << 20
	initialBufSize = 256 << 10
)

func newInput(rd io.Reader) *input {
	return &input{rd: rd, buf: make([]byte, initialBufSize)}
}

// errShortRead is returned by peek when the stream ends inside the bytes
// asked for; n bytes were available.
type errShortRead struct{ n int }

func (e errShortRead) Error() string { return "unexpected end of data" }

// peek returns the next n bytes without consuming them. n must not exceed
// bufSize. At a clean end of stream (no byte left) it returns io.EOF;
// when only some bytes are left it returns errShortRead; a read error of
// the underlying reader is returned as is.
func (in *input) peek(n int) ([]byte, error) {
	if in.w-in.r >= n {
		return in.buf[in.r : in.r+n], nil
	}
	if n > len(in.buf) {
		// Grow (once or twice per file at most): a record larger than
		// the initial buffer. Callers never ask for more than bufSize.
		size := 2 * len(in.buf)
		for size < n {
			size *= 2
		}
		if size > bufSize {
			size = bufSize
		}
		buf := make([]byte, size)
		in.w = copy(buf, in.buf[in.r:in.w])
		in.r = 0
		in.buf = buf
	} else if in.r > 0 {
		copy(in.buf, in.buf[in.r:in.w])
		in.w -= in.r
		in.r = 0
	}
	for in.w < n && in.err == nil {
		m, err := in.rd.Read(in.buf[in.w:])
		in.w += m
		if err != nil {
			in.err = err
		} else if m == 0 {
			// A reader that returns nothing and no error repeatedly would
			// spin forever; io.ReadFull's rule is to give up.
			in.err = io.ErrNoProgress
		}
	}
	if in.w >= n {
		return in.buf[:n], nil
	}
	if in.err == io.EOF {
		if in.w == 0 {
			return nil, io.EOF
		}
		return in.buf[:in.w], errShortRead{in.w}
	}
	if errors.Is(in.err, io.ErrUnexpectedEOF) {
		// A gzip stream cut short: even at a record boundary of the
		// uncompressed data, the file is truncated, not cleanly ended.
		return in.buf[:in.w], errShortRead{in.w}
	}
	return in.buf[:in.w], in.err
}

// discard consumes n bytes, which may be more than the buffer holds. It
// returns errShortRead (or the reader's error) when the stream ends first.
func (in *input) discard(n int64) error {
	for n > 0 {
		avail := int64(in.w - in.r)
		if avail == 0 {
			want := int64(len(in.buf))
			if n < want {
				want = n
			}
			if _, err := in.peek(int(want)); err != nil && in.w-in.r == 0 {
				if err == io.EOF {
					return errShortRead{}
				}
				return err
			}
			avail = int64(in.w - in.r)
		}
		if avail > n {
			avail = n
		}
		in.r += int(avail)
		in.off += avail
		n -= avail
	}
	return nil
}

// skip consumes n bytes that a preceding peek returned.
func (in *input) skip(n int) {
	in.r += n
	in.off += int64(n)
}
