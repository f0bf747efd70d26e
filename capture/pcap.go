package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// pcapState is what the pcap file header says about every record.
type pcapState struct {
	order    binary.ByteOrder
	fracMul  int64 // ns per unit of the fraction field: 1000 (µs) or 1 (ns)
	recLen   int   // record header length: 16, or 24 for the "modified" format
	swapLens bool  // versions before 2.3 stored caplen and len the other way round
	minor3   bool  // version 2.3: swapped only when caplen > len
	link     LinkType
}

// pcapMagic recognises the four pcap magic numbers and the "modified"
// (Kuznetzov) variant in either byte order.
func pcapMagic(b []byte) (pcapState, bool) {
	var s pcapState
	switch be32(b) {
	case 0xA1B2C3D4:
		s.order, s.fracMul, s.recLen = binary.BigEndian, 1000, 16
	case 0xD4C3B2A1:
		s.order, s.fracMul, s.recLen = binary.LittleEndian, 1000, 16
	case 0xA1B23C4D:
		s.order, s.fracMul, s.recLen = binary.BigEndian, 1, 16
	case 0x4D3CB2A1:
		s.order, s.fracMul, s.recLen = binary.LittleEndian, 1, 16
	case 0xA1B2CD34:
		s.order, s.fracMul, s.recLen = binary.BigEndian, 1000, 24
	case 0x34CDB2A1:
		s.order, s.fracMul, s.recLen = binary.LittleEndian, 1000, 24
	default:
		return s, false
	}
	return s, true
}

// pcapOpen reads the 24-byte file header.
func (f *File) pcapOpen() error {
	h, err := f.in.peek(24)
	if err != nil {
		var short errShortRead
		if errors.As(err, &short) {
			return fmt.Errorf("open %s: pcap file header is cut short (%d of 24 bytes): %w", quoteName(f.name), len(h), ErrTruncated)
		}
		return fmt.Errorf("open %s: %w", quoteName(f.name), err)
	}
	s, _ := pcapMagic(h)
	major, minor := s.order.Uint16(h[4:]), s.order.Uint16(h[6:])
	if major != 2 {
		return fmt.Errorf("open %s: pcap version %d.%d: %w", quoteName(f.name), major, minor, ErrUnsupported)
	}
	// libpcap before 0.4 (format 2.2 and older) wrote the two lengths the
	// other way round; 2.3 files may be either, told apart by caplen <= len.
	s.swapLens = minor < 3
	s.minor3 = minor == 3
	// The low 16 bits are the link type; bits 16-25 are reserved and the
	// top bits describe an FCS, which we do not need.
	lt := s.order.Uint32(h[20:]) & 0x03FFFFFF
	if lt > 0xFFFF || !LinkType(lt).Supported() {
		return fmt.Errorf("open %s: link type %d (%v): %w", quoteName(f.name), lt, LinkType(lt), ErrUnsupported)
	}
	s.link = LinkType(lt)
	f.pcap = s
	f.in.skip(24)
	return nil
}

// pcapNext reads one record.
func (f *File) pcapNext(p *Packet) error {
	s := &f.pcap
	in := f.in
	off := in.off
	frame := f.frame + 1
	h, err := in.peek(s.recLen)
	if err != nil {
		if err == io.EOF {
			return err // clean end: no byte of a next record
		}
		return f.readErr(frame, "", off, err)
	}
	sec := s.order.Uint32(h[0:])
	frac := s.order.Uint32(h[4:])
	capLen := s.order.Uint32(h[8:])
	wireLen := s.order.Uint32(h[12:])
	if s.swapLens || (s.minor3 && capLen > wireLen) {
		capLen, wireLen = wireLen, capLen
	}
	if capLen > MaxCaptureLength {
		return f.fileErr(frame, "", off, fmt.Sprintf("captured length %d is over the %d-byte limit", capLen, MaxCaptureLength), ErrCorrupt)
	}
	n := s.recLen + int(capLen)
	rec, err := in.peek(n)
	if err != nil {
		return f.readErr(frame, "", off, err)
	}
	in.skip(n)
	f.frame = frame
	if wireLen < capLen {
		wireLen = capLen
	}
	*p = Packet{
		Data:    rec[s.recLen:n:n],
		TS:      int64(sec)*1e9 + int64(frac)*s.fracMul,
		WireLen: int(wireLen),
		Link:    s.link,
		Frame:   frame,
	}
	return nil
}
