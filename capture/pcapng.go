package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
)

// pcapng block types we read; every other block is skipped.
const (
	blockSHB = 0x0A0D0D0A // section header
	blockIDB = 1          // interface description
	blockPB  = 2          // obsolete packet block
	blockSPB = 3          // simple packet block
	blockEPB = 6          // enhanced packet block
)

// maxBlockLen is the largest pcapng block accepted at all, as in Wireshark;
// blocks we do not read (name resolution, statistics, secrets) may be up
// to this long and are skipped without buffering. Blocks we read must fit
// in the input buffer (1 MiB), far above any real packet block.
const maxBlockLen = 16 << 20

// maxIfaces bounds the interfaces of one section: the interface index of a
// Segment is 16 bits.
const maxIfaces = 1 << 16

// ngIface is one interface of the current section.
type ngIface struct {
	link     LinkType
	snaplen  uint32
	pow2     bool  // if_tsresol is a power of 2 (else of 10)
	shift    uint8 // pow2: units per second = 1 << shift
	mul, div int64 // power of 10: ns = units * mul / div
	offsetNS int64 // if_tsoffset, in ns
}

// ngState is the reader's view of the current section.
type ngState struct {
	order  binary.ByteOrder
	ifaces []ngIface
}

// ns converts a timestamp in this interface's units to Unix nanoseconds.
func (i *ngIface) ns(units uint64) int64 {
	var t int64
	switch {
	case !i.pow2 && i.div == 1:
		t = int64(units) * i.mul
	case !i.pow2:
		t = int64(units / uint64(i.div))
	case i.shift == 0:
		t = int64(units) * 1e9
	case i.shift >= 64:
		t = 0
	default:
		sec := units >> i.shift
		frac := units & (1<<i.shift - 1)
		hi, lo := bits.Mul64(frac, 1e9)
		t = int64(sec)*1e9 + int64(hi<<(64-i.shift)|lo>>i.shift)
	}
	return t + i.offsetNS
}

// setResolution applies an if_tsresol value.
func (i *ngIface) setResolution(r uint8) {
	if r&0x80 != 0 {
		i.pow2, i.shift = true, r&0x7F
		return
	}
	i.pow2 = false
	e := int(r)
	if e > 27 {
		e = 27 // 10^-27 s units: any 64-bit count is well under 1 ns
	}
	i.mul, i.div = 1, 1
	for ; e < 9; e++ {
		i.mul *= 10
	}
	for ; e > 9; e-- {
		if i.div < 1e18 {
			i.div *= 10
		}
	}
}

// ngOpen reads the section header and every block up to the first packet
// (at most IdleAfter of them, so that Open returns soon whatever follows),
// so that a file whose interfaces all have unsupported link types fails
// at Open with a clear message.
func (f *File) ngOpen() error {
	f.ng.order = binary.LittleEndian
	for range IdleAfter {
		stop, err := f.ngBlock(nil)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if stop {
			break
		}
	}
	if len(f.ng.ifaces) == 0 {
		return nil
	}
	for _, i := range f.ng.ifaces {
		if i.link.Supported() {
			return nil
		}
	}
	lt := f.ng.ifaces[0].link
	return fmt.Errorf("open %s: link type %d (%v): %w", quoteName(f.name), uint16(lt), lt, ErrUnsupported)
}

// ngNext reads blocks until a packet block. With yield, each block that
// is not a packet counts in f.quiet, and once that reaches IdleAfter it
// returns errYield with the block read, so that Next returns ErrIdle.
func (f *File) ngNext(p *Packet, yield bool) error {
	for {
		stop, err := f.ngBlock(p)
		if err != nil {
			return err
		}
		if stop {
			return nil
		}
		if f.quiet++; yield && f.quiet >= IdleAfter {
			return errYield
		}
	}
}

func blockName(typ uint32) string {
	switch typ {
	case blockSHB:
		return "pcapng section header block"
	case blockIDB:
		return "pcapng interface description block"
	}
	return fmt.Sprintf("pcapng block of type 0x%x", typ)
}

// ngBlock processes the next block. A packet block fills p and returns
// stop; with p == nil it returns stop before a packet block, leaving it
// unread. It returns io.EOF at a clean end of the file.
func (f *File) ngBlock(p *Packet) (stop bool, err error) {
	in := f.in
	off := in.off
	h, err := in.peek(12) // the smallest block is 12 bytes
	if err == io.EOF {
		return true, io.EOF
	}
	if err != nil {
		if len(h) >= 4 {
			if t := f.ng.order.Uint32(h); t == blockEPB || t == blockSPB || t == blockPB {
				return true, f.readErr(f.frame+1, "", off, err)
			}
		}
		return true, f.readErr(0, "pcapng block", off, err)
	}
	typ := f.ng.order.Uint32(h)
	if be32(h) == blockSHB {
		typ = blockSHB
		switch be32(h[8:]) {
		case 0x1A2B3C4D:
			f.ng.order = binary.BigEndian
		case 0x4D3C2B1A:
			f.ng.order = binary.LittleEndian
		default:
			return true, f.fileErr(0, blockName(typ), off, fmt.Sprintf("byte-order magic %#x is invalid", h[8:12]), ErrCorrupt)
		}
	}
	order := f.ng.order
	length := order.Uint32(h[4:])
	isPacket := typ == blockEPB || typ == blockSPB || typ == blockPB
	var frame uint64
	record := ""
	if isPacket {
		if p == nil {
			return true, nil
		}
		frame = f.frame + 1
	} else {
		record = blockName(typ)
	}
	if length < 12 || length%4 != 0 || length > maxBlockLen {
		return true, f.fileErr(frame, record, off, fmt.Sprintf("block length %d is invalid", length), ErrCorrupt)
	}
	if length > bufSize {
		if isPacket || typ == blockSHB || typ == blockIDB {
			return true, f.fileErr(frame, record, off, fmt.Sprintf("block length %d is over the %d-byte limit for this block type", length, bufSize), ErrCorrupt)
		}
		if err := in.discard(int64(length)); err != nil {
			return true, f.readErr(0, record, off, err)
		}
		return false, nil
	}
	b, err := in.peek(int(length))
	if err != nil {
		return true, f.readErr(frame, record, off, err)
	}
	if end := order.Uint32(b[length-4:]); end != length {
		return true, f.fileErr(frame, record, off, fmt.Sprintf("block length %d at its start and %d at its end differ", length, end), ErrCorrupt)
	}
	body := b[8 : length-4]
	switch typ {
	case blockSHB:
		if len(body) < 16 {
			return true, f.fileErr(0, record, off, "section header is too short", ErrCorrupt)
		}
		if major := order.Uint16(body[4:]); major != 1 {
			return true, f.fileErr(0, record, off, fmt.Sprintf("pcapng version %d.%d", major, order.Uint16(body[6:])), ErrUnsupported)
		}
		f.ng.ifaces = f.ng.ifaces[:0]
	case blockIDB:
		if len(body) < 8 {
			return true, f.fileErr(0, record, off, "interface description is too short", ErrCorrupt)
		}
		if len(f.ng.ifaces) >= maxIfaces {
			return true, f.fileErr(0, record, off, fmt.Sprintf("more than %d interfaces", maxIfaces), ErrCorrupt)
		}
		iface := ngIface{link: LinkType(order.Uint16(body)), snaplen: order.Uint32(body[4:])}
		iface.setResolution(6)
		f.ngOptions(body[8:], &iface)
		f.ng.ifaces = append(f.ng.ifaces, iface)
	case blockEPB, blockPB:
		if len(body) < 20 {
			return true, f.fileErr(frame, "", off, "packet block is too short", ErrCorrupt)
		}
		var id uint32
		if typ == blockEPB {
			id = order.Uint32(body)
		} else {
			id = uint32(order.Uint16(body))
		}
		units := uint64(order.Uint32(body[4:]))<<32 | uint64(order.Uint32(body[8:]))
		capLen, wireLen := order.Uint32(body[12:]), order.Uint32(body[16:])
		if capLen > MaxCaptureLength {
			return true, f.fileErr(frame, "", off, fmt.Sprintf("captured length %d is over the %d-byte limit", capLen, MaxCaptureLength), ErrCorrupt)
		}
		if int(capLen) > len(body)-20 {
			return true, f.fileErr(frame, "", off, fmt.Sprintf("captured length %d does not fit in its %d-byte block", capLen, length), ErrCorrupt)
		}
		if int(id) >= len(f.ng.ifaces) {
			return true, f.fileErr(frame, "", off, fmt.Sprintf("interface %d is not defined (the section has %d)", id, len(f.ng.ifaces)), ErrCorrupt)
		}
		iface := &f.ng.ifaces[id]
		if wireLen < capLen {
			wireLen = capLen
		}
		*p = Packet{
			Data:    body[20 : 20+capLen : 20+capLen],
			TS:      iface.ns(units),
			WireLen: int(wireLen),
			Link:    iface.link,
			Iface:   uint16(id),
			Frame:   frame,
			Comment: f.ngComment(body[min(20+(int(capLen)+3)&^3, len(body)):]),
		}
		in.skip(int(length))
		f.frame = frame
		return true, nil
	case blockSPB:
		if len(body) < 4 {
			return true, f.fileErr(frame, "", off, "packet block is too short", ErrCorrupt)
		}
		if len(f.ng.ifaces) == 0 {
			return true, f.fileErr(frame, "", off, "interface 0 is not defined (the section has 0)", ErrCorrupt)
		}
		iface := &f.ng.ifaces[0]
		wireLen := order.Uint32(body)
		capLen := uint32(len(body) - 4)
		if wireLen < capLen {
			capLen = wireLen
		}
		if iface.snaplen != 0 && iface.snaplen < capLen {
			capLen = iface.snaplen
		}
		if capLen > MaxCaptureLength {
			return true, f.fileErr(frame, "", off, fmt.Sprintf("captured length %d is over the %d-byte limit", capLen, MaxCaptureLength), ErrCorrupt)
		}
		*p = Packet{
			Data:    body[4 : 4+capLen : 4+capLen],
			WireLen: int(wireLen),
			Link:    iface.link,
			Frame:   frame,
		}
		in.skip(int(length))
		f.frame = frame
		return true, nil
	}
	in.skip(int(length))
	return false, nil
}

// optComment is the pcapng option code of a comment (opt_comment), valid
// in every block that has options.
const optComment = 1

// ngComment returns the value of the first comment among a packet block's
// options o, nil when there is none. A malformed option list ends the
// search quietly: the packet itself is intact, only its annotation is
// lost. The result aliases o (no copy, no allocation).
func (f *File) ngComment(o []byte) []byte {
	order := f.ng.order
	for len(o) >= 4 {
		code, n := order.Uint16(o), int(order.Uint16(o[2:]))
		if code == 0 || 4+n > len(o) {
			return nil
		}
		if code == optComment {
			if n == 0 {
				return nil
			}
			return o[4 : 4+n : 4+n]
		}
		pad := (n + 3) &^ 3
		if 4+pad > len(o) {
			return nil
		}
		o = o[4+pad:]
	}
	return nil
}

// ngOptions reads the interface options we need: if_tsresol (9) and
// if_tsoffset (14). Malformed options end the list quietly, as the
// options themselves are not needed to read packets.
func (f *File) ngOptions(o []byte, iface *ngIface) {
	order := f.ng.order
	for len(o) >= 4 {
		code, n := order.Uint16(o), int(order.Uint16(o[2:]))
		if code == 0 || 4+n > len(o) {
			return
		}
		v := o[4 : 4+n]
		switch {
		case code == 9 && n >= 1:
			iface.setResolution(v[0])
		case code == 14 && n == 8:
			iface.offsetNS = int64(order.Uint64(v)) * 1e9
		}
		pad := (n + 3) &^ 3
		if 4+pad > len(o) {
			return
		}
		o = o[4+pad:]
	}
}
