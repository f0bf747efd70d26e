package kevents

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// This file decodes the pages that a tracefs instance's per-CPU
// trace_pipe_raw files hand out: the kernel's ring buffer sub-buffers,
// described by events/header_page and events/header_event.

// pageLayout says where a sub-buffer keeps its timestamp, its commit word
// and its data (from events/header_page).
type pageLayout struct {
	tsOff, commitOff, commitSize, dataOff int
}

// parseHeaderPage reads events/header_page.
func parseHeaderPage(r io.Reader) (pageLayout, error) {
	f, err := parseFormat(io.MultiReader(r, headerPageSuffix()))
	if err != nil {
		return pageLayout{}, fmt.Errorf("header_page: %w", err)
	}
	ts, c, d := f.Fields["timestamp"], f.Fields["commit"], f.Fields["data"]
	if ts.Size != 8 || (c.Size != 4 && c.Size != 8) || d.Offset == 0 {
		return pageLayout{}, fmt.Errorf("header_page: unexpected layout %+v %+v %+v", ts, c, d)
	}
	return pageLayout{tsOff: ts.Offset, commitOff: c.Offset, commitSize: c.Size, dataOff: d.Offset}, nil
}

// headerPageSuffix completes header_page, which has no name or ID line,
// into something parseFormat accepts.
func headerPageSuffix() io.Reader {
	return strings.NewReader("\nname: header_page\nID: 0\n")
}

// Commit-word flags set by the kernel when it hands a page to a reader
// (kernel/trace/ring_buffer.c): events were lost before this page, and
// their count is stored after the data.
const (
	missedEvents = 1 << 31
	missedStored = 1 << 30
	missedMask   = missedEvents | missedStored
)

// Ring buffer event types (type_len values above the data lengths).
const (
	typePadding    = 29
	typeTimeExtend = 30
	typeTimeStamp  = 31
	tsMSB          = uint64(0x1f) << 59
)

// record is one trace event: its time in trace-clock nanoseconds and its
// data (the event's fields, common_type first), which points into the
// page it came from.
type record struct {
	ts   uint64
	data []byte
}

// parsePage appends a page's records to recs. lost is the number of events
// the kernel reports lost before this page (0 when none; 1 when it lost
// some but could not store the count).
func parsePage(page []byte, lay pageLayout, recs []record) (out []record, lost uint64, err error) {
	if len(page) < lay.dataOff {
		return recs, 0, fmt.Errorf("page of %d bytes shorter than its header", len(page))
	}
	ts := binary.NativeEndian.Uint64(page[lay.tsOff:])
	var commit uint64
	if lay.commitSize == 8 {
		commit = binary.NativeEndian.Uint64(page[lay.commitOff:])
	} else {
		commit = uint64(binary.NativeEndian.Uint32(page[lay.commitOff:]))
	}
	size := int(commit &^ missedMask & 0xffffffff)
	data := page[lay.dataOff:]
	if size > len(data) {
		return recs, 0, fmt.Errorf("page commit %d beyond its %d data bytes", size, len(data))
	}
	if commit&missedEvents != 0 {
		lost = 1
		if commit&missedStored != 0 && size+8 <= len(data) {
			lost = binary.NativeEndian.Uint64(data[size:])
		}
	}
	data = data[:size]
	for off := 0; off+4 <= len(data); {
		hdr := binary.NativeEndian.Uint32(data[off:])
		typeLen, delta := hdr&0x1f, uint64(hdr>>5)
		switch {
		case typeLen == typePadding:
			if delta == 0 || off+8 > len(data) {
				return recs, lost, nil // the rest of the page is empty
			}
			off += 4 + int(binary.NativeEndian.Uint32(data[off+4:]))
			continue
		case typeLen == typeTimeExtend:
			if off+8 > len(data) {
				return recs, lost, fmt.Errorf("truncated time extend at %d", off)
			}
			ts += delta | uint64(binary.NativeEndian.Uint32(data[off+4:]))<<27
			off += 8
			continue
		case typeLen == typeTimeStamp:
			if off+8 > len(data) {
				return recs, lost, fmt.Errorf("truncated time stamp at %d", off)
			}
			abs := delta | uint64(binary.NativeEndian.Uint32(data[off+4:]))<<27
			if ts&tsMSB != 0 { // the kernel keeps only 59 bits (rb_fix_abs_ts)
				abs |= ts & tsMSB
				if abs < ts {
					abs += 1 << 59
				}
			}
			ts = abs
			off += 8
			continue
		}
		var body []byte
		if typeLen == 0 {
			if off+8 > len(data) {
				return recs, lost, fmt.Errorf("truncated event length at %d", off)
			}
			n := int(binary.NativeEndian.Uint32(data[off+4:]))
			if n < 4 || off+4+n > len(data) {
				return recs, lost, fmt.Errorf("event length %d at %d overruns the page", n, off)
			}
			body = data[off+8 : off+4+n]
			off += 4 + n
		} else {
			n := int(typeLen) * 4
			if off+4+n > len(data) {
				return recs, lost, fmt.Errorf("event of %d bytes at %d overruns the page", n, off)
			}
			body = data[off+4 : off+4+n]
			off += 4 + n
		}
		ts += delta
		recs = append(recs, record{ts: ts, data: body})
	}
	return recs, lost, nil
}
