package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gopacket/gopacket"

	"github.com/connscope/connscope/model"
)

// Defaults of WriterOptions.
const (
	// DefaultWriterBuffer is how many bytes of whole blocks the Writer
	// gathers before it writes them out.
	DefaultWriterBuffer = 64 << 10
	// DefaultWriterFlushEvery bounds how long a packet may wait in the
	// buffer: a process killed outright loses at most this much.
	DefaultWriterFlushEvery = 250 * time.Millisecond
	// maxCommentLen caps a packet comment; pcapng options hold at most
	// 65,535 bytes and a comment is meant to be one line.
	maxCommentLen = 1024
)

// ErrWriterClosed is returned by a Writer's methods after Close.
var ErrWriterClosed = errors.New("pcapng writer closed")

// WriterOptions configure NewWriter. The zero value uses the defaults.
type WriterOptions struct {
	// BufferSize is how many bytes are gathered before a write (0:
	// DefaultWriterBuffer).
	BufferSize int
	// FlushEvery writes out whatever is buffered at most this long after
	// it was added (0: DefaultWriterFlushEvery; negative: only when the
	// buffer is full, on Flush and on Close).
	FlushEvery time.Duration
	// Comment is written in the section header (the capture's comment).
	Comment string
}

// Writer writes a pcapng capture: one section, an interface block per
// interface (each with its own link type), a packet block per packet with
// an optional comment, and interface statistics. It is what -w writes and
// what Open reads back.
//
// Only whole blocks are handed to the underlying writer, one buffer at a
// time, and the buffer is written out when full, FlushEvery after a
// packet, on Flush and on Close. So however the process ends (Ctrl-C and
// SIGTERM go through Close; even SIGKILL), the file is a valid capture
// holding every packet up to the last write. A Writer is safe for
// concurrent use.
//
// A write that fails (a full disk: ENOSPC, an I/O error) or writes only
// part of the buffer may leave part of a block in the file. When the
// Writer writes a regular file (CreateWriter, or NewWriter given an
// *os.File that is one, stdout redirected to a file included), it then
// cuts the file back to the end of the last whole block, so the file stays
// a valid capture of every packet before the failed write. On a pipe or a
// terminal (-w - into another program) nothing can be taken back: the
// reader may get part of a block, as it would from tcpdump. Either way the
// error is sticky: nothing is written after it, every later call returns
// it, Err reports it and Close returns it.
type Writer struct {
	mu      sync.Mutex
	name    string // for messages, quoted when it holds control bytes
	w       io.Writer
	closer  io.Closer // the file CreateWriter opened
	buf     []byte
	size    int
	every   time.Duration
	timer   *time.Timer
	armed   bool
	ifaces  int
	packets uint64 // packets written out
	pending uint64 // packets in buf
	err     error
	closed  bool

	// file is the regular file written, when its end can be cut back
	// after a failed write: whole blocks end at offset base+written.
	file          *os.File
	base, written int64
}

// pcapng block types and option codes (draft-ietf-opsawg-pcapng).
const (
	ngSHB = 0x0A0D0D0A
	ngIDB = 0x00000001
	ngISB = 0x00000005
	ngEPB = 0x00000006

	ngOptEnd      = 0
	ngOptComment  = 1
	ngShbOS       = 3
	ngShbUserAppl = 4
	ngIfName      = 2
	ngIfTsresol   = 9
	ngIfFilter    = 11
	ngIsbEndTime  = 3
	ngIsbIfRecv   = 4
	ngIsbOSDrop   = 7
)

// NewWriter starts a pcapng capture on w: it writes the section header
// and hands it to w at once, so that even a capture with no packet is a
// valid file. Add interfaces with AddInterface before writing their
// packets.
//
// w may be any writer: a pipe or os.Stdout writes the capture to another
// program as it is made. When w is an *os.File on a regular file, a failed
// write is cut back to the last whole block (see Writer); Close does not
// close w.
func NewWriter(w io.Writer, opts WriterOptions) (*Writer, error) {
	name := "pcapng output"
	if f, ok := w.(*os.File); ok {
		name = f.Name()
		if f == os.Stdout {
			name = "stdout"
		}
	}
	wr, err := newWriter(name, w, nil, opts)
	if err != nil {
		return nil, err
	}
	return wr, nil
}

// CreateWriter creates (or truncates) the file at path and starts a pcapng
// capture in it; Close closes the file. Path "-" writes to standard output
// instead, as tcpdump -w - does (Close then leaves stdout open). When even
// the section header cannot be written (a full disk), the file is removed
// and the error returned.
func CreateWriter(path string, opts WriterOptions) (*Writer, error) {
	if path == "-" {
		return NewWriter(os.Stdout, opts)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, pathError(path, err) // *PathError: "open x.pcapng: permission denied"
	}
	w, err := newWriter(path, f, f, opts)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return w, nil
}

// newWriter starts a capture on w; closer, when not nil, is the file
// CreateWriter created (empty, written from its start).
func newWriter(name string, w io.Writer, closer io.Closer, opts WriterOptions) (*Writer, error) {
	wr := &Writer{name: quoteName(name), w: w, closer: closer, size: opts.BufferSize, every: opts.FlushEvery}
	if f, ok := w.(*os.File); ok {
		// A failed write can be cut back only in a regular file where
		// the writes land at a known offset.
		if closer != nil {
			wr.file = f
		} else if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if off, ok := writeOffset(f, st.Size()); ok {
				wr.file, wr.base = f, off
			}
		}
	}
	if wr.size <= 0 {
		wr.size = DefaultWriterBuffer
	}
	if wr.every == 0 {
		wr.every = DefaultWriterFlushEvery
	}
	wr.buf = make([]byte, 0, wr.size+512)

	start := len(wr.buf)
	wr.buf = le32(wr.buf, ngSHB)
	wr.buf = le32(wr.buf, 0) // total length, patched below
	wr.buf = le32(wr.buf, 0x1A2B3C4D)
	wr.buf = le16(wr.buf, 1) // version 1.0
	wr.buf = le16(wr.buf, 0)
	wr.buf = le64(wr.buf, ^uint64(0)) // section length unknown
	if opts.Comment != "" {
		wr.buf = ngOption(wr.buf, ngOptComment, []byte(oneLine(opts.Comment)))
	}
	wr.buf = ngOption(wr.buf, ngShbOS, []byte(runtime.GOOS))
	wr.buf = ngOption(wr.buf, ngShbUserAppl, []byte("connscope"))
	wr.buf = ngEnd(wr.buf, start)
	if err := wr.flushLocked(); err != nil {
		return nil, err
	}
	return wr, nil
}

// AddInterface adds an interface block and returns its ID, which packets
// of that interface carry in gopacket.CaptureInfo.InterfaceIndex. IDs are
// 0, 1, 2 ... in the order of the calls. filter, if not empty, is recorded
// as the capture filter of the interface.
func (w *Writer) AddInterface(name string, link LinkType, snaplen int, filter string) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return 0, err
	}
	if snaplen <= 0 || snaplen > MaxCaptureLength {
		snaplen = MaxCaptureLength
	}
	start := len(w.buf)
	w.buf = le32(w.buf, ngIDB)
	w.buf = le32(w.buf, 0)
	w.buf = le16(w.buf, uint16(link))
	w.buf = le16(w.buf, 0)
	w.buf = le32(w.buf, uint32(snaplen))
	if name != "" {
		w.buf = ngOption(w.buf, ngIfName, []byte(oneLine(name)))
	}
	w.buf = ngOption(w.buf, ngIfTsresol, []byte{9}) // nanoseconds
	if filter != "" {
		// The first byte says the filter is in libpcap's syntax.
		w.buf = ngOption(w.buf, ngIfFilter, append([]byte{0}, oneLine(filter)...))
	}
	w.buf = ngEnd(w.buf, start)
	id := w.ifaces
	w.ifaces++
	return id, w.afterWrite()
}

// WritePacket writes one packet of interface ci.InterfaceIndex (an ID
// AddInterface returned) with its capture time and original length from
// ci. data is copied. A non-empty comment is stored with the packet (for
// the owning process, see OwnerComment); it is kept to one line of at
// most 1,024 bytes.
func (w *Writer) WritePacket(ci gopacket.CaptureInfo, data []byte, comment string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if ci.InterfaceIndex < 0 || ci.InterfaceIndex >= w.ifaces {
		return fmt.Errorf("write %s: packet of interface %d, but only %d interfaces were added", w.name, ci.InterfaceIndex, w.ifaces)
	}
	if len(data) > MaxCaptureLength {
		data = data[:MaxCaptureLength]
	}
	wire := ci.Length
	if wire < len(data) {
		wire = len(data)
	}
	var ts uint64
	if !ci.Timestamp.IsZero() {
		ts = uint64(ci.Timestamp.UnixNano())
	}
	start := len(w.buf)
	w.buf = le32(w.buf, ngEPB)
	w.buf = le32(w.buf, 0)
	w.buf = le32(w.buf, uint32(ci.InterfaceIndex))
	w.buf = le32(w.buf, uint32(ts>>32))
	w.buf = le32(w.buf, uint32(ts))
	w.buf = le32(w.buf, uint32(len(data)))
	w.buf = le32(w.buf, uint32(wire))
	w.buf = append(w.buf, data...)
	w.buf = pad4(w.buf)
	if comment != "" {
		w.buf = ngOption(w.buf, ngOptComment, []byte(oneLine(comment)))
	}
	w.buf = ngEnd(w.buf, start)
	w.pending++
	return w.afterWrite()
}

// WriteInterfaceStats writes an interface statistics block for interface
// id at time ts (ns since the epoch): read is how many packets the capture
// read, dropped how many the kernel dropped for want of buffer space. The
// block records read+dropped as received (isb_ifrecv) and dropped as
// isb_osdrop; Wireshark shows them in the capture file properties.
func (w *Writer) WriteInterfaceStats(id int, ts int64, read, dropped uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if id < 0 || id >= w.ifaces {
		return fmt.Errorf("write %s: statistics of interface %d, but only %d interfaces were added", w.name, id, w.ifaces)
	}
	start := len(w.buf)
	w.buf = le32(w.buf, ngISB)
	w.buf = le32(w.buf, 0)
	w.buf = le32(w.buf, uint32(id))
	w.buf = le32(w.buf, uint32(uint64(ts)>>32))
	w.buf = le32(w.buf, uint32(ts))
	var v [8]byte
	tsHalves := func(t int64) []byte {
		binary.LittleEndian.PutUint32(v[:4], uint32(uint64(t)>>32))
		binary.LittleEndian.PutUint32(v[4:], uint32(t))
		return v[:]
	}
	w.buf = ngOption(w.buf, ngIsbEndTime, tsHalves(ts))
	binary.LittleEndian.PutUint64(v[:], read+dropped)
	w.buf = ngOption(w.buf, ngIsbIfRecv, v[:])
	binary.LittleEndian.PutUint64(v[:], dropped)
	w.buf = ngOption(w.buf, ngIsbOSDrop, v[:])
	w.buf = ngEnd(w.buf, start)
	return w.afterWrite()
}

// Flush writes out every buffered block.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	return w.flushLocked()
}

// Close flushes the buffer and, for a Writer made by CreateWriter, closes
// the file. It returns the first error the Writer met. Calling it again
// returns nil.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	err := w.flushLocked()
	if w.closer != nil {
		if cerr := w.closer.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", w.name, unwrapPath(cerr))
			w.err = err
		}
	}
	return err
}

// Err returns the first write error, or nil.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Packets returns how many packets were written out or are buffered to
// be. After a write error it is what the file holds (on a regular file):
// the packets of the failed write are not counted.
func (w *Writer) Packets() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.packets + w.pending
}

// usable returns why nothing can be written, if so. w.mu must be held.
func (w *Writer) usable() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return fmt.Errorf("write %s: %w", w.name, ErrWriterClosed)
	}
	return nil
}

// afterWrite writes the buffer out when it is full, or makes sure a timer
// will. w.mu must be held.
func (w *Writer) afterWrite() error {
	if len(w.buf) >= w.size {
		return w.flushLocked()
	}
	if w.every > 0 && !w.armed {
		w.armed = true
		if w.timer == nil {
			w.timer = time.AfterFunc(w.every, w.timedFlush)
		} else {
			w.timer.Reset(w.every)
		}
	}
	return nil
}

func (w *Writer) timedFlush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	if !w.closed {
		_ = w.flushLocked() // sticky in w.err
	}
}

// flushLocked hands the buffered blocks to the underlying writer in one
// write. On a failed or short write it cuts a regular file back to its
// last whole block and makes the error sticky. w.mu must be held.
func (w *Writer) flushLocked() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.w.Write(w.buf)
	if err == nil && n < len(w.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		// os.File wraps its errors in a *PathError naming the file,
		// which this message names already.
		w.err = fmt.Errorf("write %s: %w", w.name, unwrapPath(err))
		if n > 0 && w.file != nil {
			if terr := w.file.Truncate(w.base + w.written); terr != nil {
				w.err = fmt.Errorf("%w (and cutting the file back to its last whole block failed: %v)", w.err, unwrapPath(terr))
			}
		}
		w.buf, w.pending = w.buf[:0], 0
		return w.err
	}
	w.written += int64(n)
	w.packets += w.pending
	w.buf, w.pending = w.buf[:0], 0
	return nil
}

// unwrapPath returns the error inside a *PathError (which names the file
// again), or err.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// pathError returns err, a *PathError about path, with the path quoted
// when it holds control bytes (see quoteName).
func pathError(path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return &os.PathError{Op: pe.Op, Path: quoteName(path), Err: pe.Err}
	}
	return err
}

// OwnerComment is the packet comment naming the process that owns a
// packet's socket: "connscope: pid=1234 comm=nginx". ParseOwnerComment
// reads it back.
func OwnerComment(pid int, comm string) string {
	return "connscope: pid=" + strconv.Itoa(pid) + " comm=" + oneLine(comm)
}

// ResetComment is the comment of a RST the sending host's kernel recorded
// sending, with its reason: "connscope: rst=TCP_ABORT_ON_CLOSE", followed
// by the owner comment's fields when owner is one ("connscope: rst=REASON
// pid=1234 comm=nginx"), so one comment carries both. A replay reads the
// reason back with ParseResetComment and the owner with
// ParseOwnerComment. A reason that is not a kernel reason name
// (capitals, digits, underscores) gives owner unchanged.
func ResetComment(reason, owner string) string {
	if !isReasonName(reason) {
		return owner
	}
	c := "connscope: rst=" + reason
	if rest, ok := strings.CutPrefix(owner, "connscope: "); ok && strings.HasPrefix(rest, "pid=") {
		c += " " + rest
	}
	return c
}

// ParseResetComment reads the reason of a comment written by
// ResetComment.
func ParseResetComment(s string) (reason string, ok bool) {
	rest, found := strings.CutPrefix(s, "connscope: rst=")
	if !found {
		return "", false
	}
	reason, _, _ = strings.Cut(rest, " ")
	if !isReasonName(reason) {
		return "", false
	}
	return reason, true
}

// maxReasonLen bounds a recorded reset reason; the kernel's longest
// names are about 30 characters.
const maxReasonLen = 64

// isReasonName reports a kernel reason name: 1 to maxReasonLen capitals,
// digits and underscores (a comment read from a file may hold anything).
func isReasonName(s string) bool {
	if s == "" || len(s) > maxReasonLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// ParseOwnerComment reads a comment written by OwnerComment (or by
// ResetComment with an owner). The command is everything after "comm="
// (a command name may hold spaces), made plain text as OwnerComment makes
// it: a comment read from a file may have been written by anyone, and the
// command goes on to be printed.
func ParseOwnerComment(s string) (pid int, comm string, ok bool) {
	rest, found := strings.CutPrefix(s, "connscope: ")
	if !found {
		return 0, "", false
	}
	if r, isReset := strings.CutPrefix(rest, "rst="); isReset {
		if _, rest, found = strings.Cut(r, " "); !found {
			return 0, "", false
		}
	}
	rest, found = strings.CutPrefix(rest, "pid=")
	if !found {
		return 0, "", false
	}
	num, comm, found := strings.Cut(rest, " comm=")
	if !found {
		return 0, "", false
	}
	pid, err := strconv.Atoi(num)
	if err != nil || pid < 0 {
		return 0, "", false
	}
	return pid, model.Sanitize(comm), true
}

// oneLine makes a name or comment one printable line (see model.Sanitize:
// escape sequences go whole, payload included) of at most maxCommentLen
// bytes, cut at a character boundary.
func oneLine(s string) string {
	s = model.Sanitize(s)
	if len(s) > maxCommentLen {
		cut := maxCommentLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

func le16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func le32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func le64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// ngOption appends one option (code, length, value padded to 4 bytes).
func ngOption(b []byte, code uint16, val []byte) []byte {
	b = le16(b, code)
	b = le16(b, uint16(len(val)))
	b = append(b, val...)
	return pad4(b)
}

// ngEnd appends the end-of-options marker when the block has options,
// then the trailing length, and patches the leading length of the block
// that starts at start.
func ngEnd(b []byte, start int) []byte {
	// Fixed fields end where the first option starts; an SHB, IDB, ISB
	// or EPB always gets at least one option here, or none: check the
	// block for any byte beyond its fixed part.
	if hasOptions(b, start) {
		b = le16(b, ngOptEnd)
		b = le16(b, 0)
	}
	b = le32(b, 0)
	n := uint32(len(b) - start)
	binary.LittleEndian.PutUint32(b[start+4:], n)
	binary.LittleEndian.PutUint32(b[len(b)-4:], n)
	return b
}

// hasOptions reports whether the block being built at start has options
// after its fixed part.
func hasOptions(b []byte, start int) bool {
	var fixed int
	switch binary.LittleEndian.Uint32(b[start:]) {
	case ngSHB:
		fixed = 24
	case ngIDB:
		fixed = 16
	case ngISB:
		fixed = 20
	case ngEPB:
		capLen := int(binary.LittleEndian.Uint32(b[start+20:]))
		fixed = 28 + (capLen+3)&^3
	}
	return len(b)-start > fixed
}
