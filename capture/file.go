package capture

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/connscope/connscope/model"
)

// MaxCaptureLength is the largest captured packet a file may hold: libpcap's
// and Wireshark's maximum snapshot length. A longer record means a corrupt
// file, and refusing it keeps memory bounded whatever the input.
const MaxCaptureLength = 262144

// FilterFunc is a per-packet capture filter for file replay: it sees the
// captured bytes and the packet's link type and returns false to drop the
// packet before decoding (counted in SourceStats.FilteredOut). A compiled
// BPF program run in a VM fits here.
type FilterFunc func(data []byte, linkType uint16) bool

// Packet is one captured packet as read from a file, before decoding.
type Packet struct {
	// Data is the captured bytes. It points into the File's buffer and is
	// valid only until the next read from the File.
	Data []byte
	// TS is the capture time in nanoseconds since the Unix epoch.
	TS int64
	// WireLen is the original length of the packet on the wire.
	WireLen int
	// Link is the framing of Data.
	Link LinkType
	// Iface is the pcapng interface index (0 for pcap).
	Iface uint16
	// Frame is the 1-based number of the packet in the file.
	Frame uint64
	// Comment is the packet's first pcapng comment (opt_comment), nil
	// when it has none (always for pcap, which has no comments, and for
	// pcapng simple packet blocks, which have no options). Like Data it
	// points into the File's buffer and is valid until the next read: -w
	// stores the owning process here (see ParseOwnerComment, which gives
	// the command as plain text). The bytes are the file's, unchecked:
	// like the packet's, they must not be printed as they are.
	Comment []byte
}

type fileFormat uint8

const (
	formatPcap fileFormat = iota
	formatPcapNG
)

// File reads packets from a pcap or pcapng file, plain or gzipped, and
// decodes them into segments. Next and ReadPacket must be called from one
// goroutine; Stats may be called from any.
type File struct {
	name   string
	format fileFormat
	gz     bool
	in     *input
	// closer is the opened file, nil for stdin and NewReader. A gzip
	// reader holds nothing that needs closing, and leaving it alone lets
	// Close run while another goroutine is blocked in Next: the pending
	// read of the file then fails, and Next returns.
	closer io.Closer

	pcap pcapState
	ng   ngState

	frame uint64 // number of the last packet read
	err   error  // sticky: once reading failed, it stays failed
	// quiet counts the records (packets without a segment, pcapng blocks
	// without a packet) the current call of Next has read; at IdleAfter
	// it returns ErrIdle.
	quiet  int
	dec    Decoder
	filter FilterFunc
	pkt    Packet

	stats sourceCounters
}

// sourceCounters are the shared, atomically updated counters of a source.
// The reader accumulates in plain fields and publishes on every return, so
// the hot loop pays no atomic operation per skipped packet.
type sourceCounters struct {
	packets, tcp, nonTCP, decodeErrors, filtered, queueDrops, kernelDrops atomic.Uint64
}

func (c *sourceCounters) snapshot() model.SourceStats {
	return model.SourceStats{
		Packets:      c.packets.Load(),
		TCPFrames:    c.tcp.Load(),
		NonTCP:       c.nonTCP.Load(),
		DecodeErrors: c.decodeErrors.Load(),
		KernelDrops:  c.kernelDrops.Load(),
		QueueDrops:   c.queueDrops.Load(),
		FilteredOut:  c.filtered.Load(),
	}
}

// Open opens a capture file; path "-" reads standard input. The format is
// found from the first bytes, never from the name: pcap (both byte orders,
// microsecond or nanosecond timestamps, and the "modified" variant),
// pcapng, or either of them gzipped. Errors are one line naming the file:
// a missing file, a directory, an empty or non-capture file, a header cut
// short, or a pcap whose link type cannot carry TCP we decode.
func Open(path string) (*File, error) {
	var (
		rd     io.Reader
		closer io.Closer
		name   = path
	)
	if path == "-" {
		name = "stdin"
		rd = os.Stdin
	} else {
		osf, err := os.Open(path)
		if err != nil {
			return nil, pathError(path, err) // *PathError: "open x.pcap: no such file or directory"
		}
		st, err := osf.Stat()
		if err != nil {
			osf.Close()
			return nil, fmt.Errorf("open %s: %w", quoteName(path), unwrapPath(err))
		}
		if st.IsDir() {
			osf.Close()
			return nil, fmt.Errorf("open %s: is a directory, not a capture file", quoteName(path))
		}
		rd, closer = osf, osf
	}
	f, err := newFile(name, rd)
	if err != nil {
		if closer != nil {
			closer.Close()
		}
		return nil, err
	}
	f.closer = closer
	return f, nil
}

// NewReader reads a capture from r, which Open would otherwise open; name
// is used in error messages. r is read forward only.
func NewReader(name string, r io.Reader) (*File, error) {
	return newFile(name, r)
}

func newFile(name string, rd io.Reader) (*File, error) {
	f := &File{name: name, in: newInput(rd)}
	head, err := f.in.peek(4)
	if len(head) == 0 {
		if err == io.EOF {
			return nil, fmt.Errorf("open %s: empty file, %w", quoteName(name), ErrNotCapture)
		}
		return nil, fmt.Errorf("open %s: %w", quoteName(name), err)
	}
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(f.in)
		if err != nil {
			return nil, fmt.Errorf("open %s: gzip header: %w", quoteName(name), err)
		}
		f.gz = true
		f.in = newInput(zr)
		head, err = f.in.peek(4)
		if len(head) == 0 {
			if err == io.EOF {
				return nil, fmt.Errorf("open %s: empty gzip data, %w", quoteName(name), ErrNotCapture)
			}
			return nil, fmt.Errorf("open %s: gzip: %w", quoteName(name), err)
		}
	}
	if len(head) == 4 {
		if be32(head) == 0x0A0D0D0A {
			f.format = formatPcapNG
			if err := f.ngOpen(); err != nil {
				return nil, err
			}
			return f, nil
		}
		if _, ok := pcapMagic(head); ok {
			f.format = formatPcap
			if err := f.pcapOpen(); err != nil {
				return nil, err
			}
			return f, nil
		}
	}
	what := ""
	if f.gz {
		what = "gzip data is "
	}
	return nil, fmt.Errorf("open %s: %s%w (starts with %q)", quoteName(name), what, ErrNotCapture, head)
}

// Name returns the name the File was opened with ("stdin" for "-").
func (f *File) Name() string { return f.name }

// Format describes the container: "pcap", "pcapng", with ".gz" appended
// for gzipped input.
func (f *File) Format() string {
	s := "pcap"
	if f.format == formatPcapNG {
		s = "pcapng"
	}
	if f.gz {
		s += ".gz"
	}
	return s
}

// SetFilter installs a per-packet filter run before decoding (nil removes
// it). Packets it rejects are counted in Stats().FilteredOut.
func (f *File) SetFilter(fn FilterFunc) { f.filter = fn }

// Close releases the file; it may be called while another goroutine is
// blocked in Next on a pipe or FIFO, which then returns an error. Closing
// the File of stdin does not close stdin.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	return err
}

// Stats returns the counters so far. It is safe to call from any
// goroutine; the values are exact whenever Next has returned.
func (f *File) Stats() model.SourceStats { return f.stats.snapshot() }

// AddQueueDrops adds to the QueueDrops counter; Run calls it for a live
// replay whose consumer falls behind.
func (f *File) AddQueueDrops(n uint64) { f.stats.queueDrops.Add(n) }

// Comment returns the pcapng comment of the packet that produced the
// segment Next returned last (nil when it had none), so a replay of a -w
// capture can recover each packet's owning process without Next
// allocating. It points into the File's buffer: valid until the next call
// of Next or ReadPacket, to be copied (or parsed) before then. The bytes
// are the file's, unchecked (see Packet.Comment).
func (f *File) Comment() []byte { return f.pkt.Comment }

// ReadPacket reads the next packet without decoding it. It returns io.EOF
// at the clean end of the file, and a *FileError (wrapping ErrTruncated,
// ErrCorrupt, ErrUnsupported or a read error) when the file is damaged;
// every packet before the damage is returned first. Errors are sticky.
// Packets read this way are counted in Stats().Packets only. Unlike Next,
// ReadPacket never returns ErrIdle: it reads on to the next packet.
func (f *File) ReadPacket(p *Packet) error {
	if err := f.read(p, false); err != nil {
		return err
	}
	f.stats.packets.Add(1)
	return nil
}

// errYield is read's way of saying that Next should return ErrIdle: the
// call has read IdleAfter records without a packet.
var errYield = errors.New("capture: yield")

// read reads the next packet. With yield, it gives up with errYield once
// the current call of Next has read IdleAfter records (see File.quiet).
func (f *File) read(p *Packet, yield bool) error {
	if f.err != nil {
		return f.err
	}
	var err error
	if f.format == formatPcap {
		err = f.pcapNext(p)
	} else {
		err = f.ngNext(p, yield)
	}
	if err != nil && err != errYield {
		f.err = err
	}
	return err
}

// Next decodes the next TCP segment into seg, skipping (and counting)
// packets that carry none. It returns io.EOF at the end of the file, or the
// error that ended reading (see ReadPacket). It does not allocate.
//
// Next returns ErrIdle, with seg untouched, once it has read IdleAfter
// packets (or pcapng blocks) in a row that gave no segment: a file of
// nothing but other traffic, damage or filtered packets then still hands
// control back to the caller regularly, which checks its context and
// calls Next again. ErrIdle is not sticky and not an error.
func (f *File) Next(seg *model.Segment) error {
	var packets, nonTCP, decErrs, filtered uint64
	defer func() {
		// Published once per call, not per packet (see sourceCounters).
		f.stats.packets.Add(packets)
		if nonTCP != 0 {
			f.stats.nonTCP.Add(nonTCP)
		}
		if decErrs != 0 {
			f.stats.decodeErrors.Add(decErrs)
		}
		if filtered != 0 {
			f.stats.filtered.Add(filtered)
		}
	}()
	p := &f.pkt
	f.quiet = 0
	for {
		if err := f.read(p, true); err != nil {
			if err == errYield {
				return ErrIdle
			}
			return err
		}
		packets++
		if f.filter != nil && !f.filter(p.Data, uint16(p.Link)) {
			filtered++
			if f.quiet++; f.quiet >= IdleAfter {
				return ErrIdle
			}
			continue
		}
		r, _ := f.dec.Decode(p.Data, p.WireLen, p.Link, seg)
		switch r {
		case ResultSegment:
			seg.TS = p.TS
			seg.Frame = p.Frame
			seg.Iface = p.Iface
			f.stats.tcp.Add(1)
			return nil
		case ResultError:
			if !p.Link.Supported() {
				// A pcapng interface of a link type we cannot decode:
				// its packets are simply not TCP to us.
				nonTCP++
			} else {
				decErrs++
			}
		default:
			nonTCP++
		}
		if f.quiet++; f.quiet >= IdleAfter {
			return ErrIdle
		}
	}
}

// fileErr builds a *FileError for the record starting at off.
func (f *File) fileErr(frame uint64, record string, off int64, detail string, err error) error {
	return &FileError{File: f.name, Frame: frame, Record: record, Offset: off, Gzip: f.gz, Detail: detail, Err: err}
}

// readErr turns an input error met inside a record into a FileError:
// running out of data is a truncation, anything else a read error.
func (f *File) readErr(frame uint64, record string, off int64, err error) error {
	var short errShortRead
	if errors.As(err, &short) || err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return f.fileErr(frame, record, off, "", ErrTruncated)
	}
	return f.fileErr(frame, record, off, "", err)
}

// Read lets gzip read the raw input through the sniffing buffer.
func (in *input) Read(p []byte) (int, error) {
	if in.w > in.r {
		n := copy(p, in.buf[in.r:in.w])
		in.skip(n)
		return n, nil
	}
	if in.err != nil {
		return 0, in.err
	}
	n, err := in.rd.Read(p)
	in.off += int64(n)
	if err != nil {
		in.err = err
	}
	return n, err
}
