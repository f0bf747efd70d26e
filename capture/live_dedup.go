package capture

import (
	"github.com/connscope/connscope/model"
)

// dedup remembers recent TCP segments by a hash of the header fields a
// forwarding host does not change, to recognise a packet seen again on
// another interface. It is a direct-mapped table: a slot overwritten by
// another packet before the copy arrives only means a copy is kept, never
// that a distinct packet is dropped (the 64-bit key has to match).
type dedup struct {
	window int64
	slots  []dedupSlot
}

type dedupSlot struct {
	key   uint64
	ts    int64
	iface uint16
	used  bool
}

// dedupSlots is a power of two: at 200,000 packets/s a 50 ms window holds
// 10,000 packets, and the copy of a forwarded packet arrives within a few
// hundred packets.
const dedupSlots = 1 << 15

func newDedup(window int64) *dedup {
	return &dedup{window: window, slots: make([]dedupSlot, dedupSlots)}
}

// dup reports whether seg is a copy, seen on another interface within the
// window, of a segment already recorded; otherwise it records seg.
func (d *dedup) dup(seg *model.Segment) bool {
	k := segmentKey(seg)
	s := &d.slots[k&(dedupSlots-1)]
	if s.used && s.key == k && s.iface != seg.Iface {
		dt := seg.TS - s.ts
		if dt < 0 {
			dt = -dt
		}
		if dt <= d.window {
			return true
		}
	}
	*s = dedupSlot{key: k, ts: seg.TS, iface: seg.Iface, used: true}
	return false
}

// segmentKey hashes what identifies one transmission of a segment: the
// addresses, ports, sequence and acknowledgement numbers, flags, window,
// lengths, IPv4 identification and DF bit, and the TCP timestamps. A
// router changes only the TTL (and the IPv4 checksum), a bridge or a VLAN
// device nothing, so every copy of a packet has the same key; a
// retransmission differs in its IP ID (Linux numbers every IPv4 packet of
// a connection) or its timestamp.
func segmentKey(s *model.Segment) uint64 {
	src, dst := s.Src.Addr().As16(), s.Dst.Addr().As16()
	h := uint64(0x243f6a8885a308d3)
	h = mix(h, loadLE64(src[:8]))
	h = mix(h, loadLE64(src[8:]))
	h = mix(h, loadLE64(dst[:8]))
	h = mix(h, loadLE64(dst[8:]))
	h = mix(h, uint64(s.Src.Port())<<48|uint64(s.Dst.Port())<<32|uint64(s.Seq))
	h = mix(h, uint64(s.Ack)<<32|uint64(s.Window)<<16|uint64(s.Flags)<<8|uint64(s.TCPHdrLen))
	var bits uint64
	if s.IPv6 {
		bits |= 1
	}
	if s.DF {
		bits |= 2
	}
	if s.Opts.Timestamps {
		bits |= 4
	}
	h = mix(h, uint64(s.PayloadLen)<<32|uint64(s.IPID)<<16|bits)
	h = mix(h, uint64(s.Opts.TSVal)<<32|uint64(s.Opts.TSEcr))
	return h
}

func loadLE64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// mix folds v into h (a multiply-xorshift round, as in wyhash).
func mix(h, v uint64) uint64 {
	h ^= v
	h *= 0x9e3779b97f4a7c15
	return h ^ h>>29
}
