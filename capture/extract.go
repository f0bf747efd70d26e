package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/connscope/connscope/model"
)

// Extract copies the packets of src that keep(seg) accepts, among frames
// first..last (1-based, inclusive; last 0 means to the end), into a new
// pcapng file at dst, one interface block per link type met. It returns how
// many packets it wrote. src is read from its current position, so pass a
// freshly opened File; Extract does not close it. A read error after some
// packets (a truncated source) still leaves a valid dst holding them, and
// is returned.
func Extract(src *File, dst string, first, last uint64, keep func(seg *model.Segment) bool) (int, error) {
	w, err := CreateWriter(dst, WriterOptions{})
	if err != nil {
		return 0, err
	}
	ifaces := map[LinkType]int{}
	var (
		p   Packet
		seg model.Segment
		dec Decoder
		n   int
	)
	readErr := func() error {
		for {
			if err := src.ReadPacket(&p); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			if p.Frame < first {
				continue
			}
			if last != 0 && p.Frame > last {
				return nil
			}
			if r, _ := dec.Decode(p.Data, p.WireLen, p.Link, &seg); r != ResultSegment {
				continue
			}
			seg.Frame, seg.TS = p.Frame, p.TS
			if !keep(&seg) {
				continue
			}
			id, ok := ifaces[p.Link]
			if !ok {
				if id, err = w.AddInterface(fmt.Sprintf("%s#%d", src.Name(), len(ifaces)), p.Link, 0, ""); err != nil {
					return err
				}
				ifaces[p.Link] = id
			}
			ci := gopacket.CaptureInfo{
				Timestamp:      time.Unix(0, p.TS),
				CaptureLength:  len(p.Data),
				Length:         p.WireLen,
				InterfaceIndex: id,
			}
			if err := w.WritePacket(ci, p.Data, ""); err != nil {
				return err
			}
			n++
		}
	}()
	if err := w.Close(); err != nil && readErr == nil {
		readErr = fmt.Errorf("write %s: %w", dst, err)
	}
	if n == 0 && readErr == nil {
		os.Remove(dst)
		return 0, fmt.Errorf("%s: no packet of that flow between frames %d and %d", src.Name(), first, last)
	}
	return n, readErr
}
