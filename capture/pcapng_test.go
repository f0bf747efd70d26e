package capture

import (
	"encoding/binary"
	"testing"
)

// ngBuilder writes pcapng blocks for the pcapng tests.
type ngBuilder struct {
	b     []byte
	order binary.AppendByteOrder
}

func (n *ngBuilder) block(typ uint32, body []byte) *ngBuilder {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	l := uint32(12 + len(body))
	n.b = n.order.AppendUint32(n.b, typ)
	n.b = n.order.AppendUint32(n.b, l)
	n.b = append(n.b, body...)
	n.b = n.order.AppendUint32(n.b, l)
	return n
}

func (n *ngBuilder) shb() *ngBuilder {
	b := n.order.AppendUint32(nil, 0x1A2B3C4D)
	b = n.order.AppendUint16(b, 1)
	b = n.order.AppendUint16(b, 0)
	b = n.order.AppendUint64(b, ^uint64(0))
	return n.block(0x0A0D0D0A, b)
}

func (n *ngBuilder) idb(link uint16, snaplen uint32, opts ...[]byte) *ngBuilder {
	b := n.order.AppendUint16(nil, link)
	b = n.order.AppendUint16(b, 0)
	b = n.order.AppendUint32(b, snaplen)
	for _, o := range opts {
		b = append(b, o...)
	}
	return n.block(1, b)
}

func (n *ngBuilder) opt(code uint16, v []byte) []byte {
	b := n.order.AppendUint16(nil, code)
	b = n.order.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (n *ngBuilder) epb(iface uint32, units uint64, data []byte, wire int) *ngBuilder {
	b := n.order.AppendUint32(nil, iface)
	b = n.order.AppendUint32(b, uint32(units>>32))
	b = n.order.AppendUint32(b, uint32(units))
	b = n.order.AppendUint32(b, uint32(len(data)))
	b = n.order.AppendUint32(b, uint32(wire))
	return n.block(6, append(b, data...))
}

func TestPcapNG_Blocks(t *testing.T) {
	pkt := ethIPv4TCP(tcpHeader{flags: 0x02}, 0)
	raw := append([]byte{2, 0, 0, 0}, ipv4Packet(6, tcpHeader{flags: 0x10}.build(0), nil)...)
	t.Run("timestamps, offsets and packet block kinds", func(t *testing.T) {
		n := &ngBuilder{order: binary.BigEndian}
		n.shb()
		n.idb(1, 0, n.opt(9, []byte{0x80 | 10}), n.opt(14, binary.BigEndian.AppendUint64(nil, 100)), n.opt(0, nil)) // 2^-10 s, +100 s
		n.idb(0, 64, n.opt(9, []byte{3}))                                                                           // ms, snaplen 64
		n.block(0x0BAD, make([]byte, 40))                                                                           // custom block: skipped
		n.epb(0, 1536, pkt, len(pkt))                                                                               // 1.5 s + 100 s
		n.epb(1, 2500, raw, len(raw))                                                                               // 2.5 s
		spb := n.order.AppendUint32(nil, uint32(len(pkt)))
		n.block(3, append(spb, pkt...)) // simple packet block: interface 0, no time
		pb := n.order.AppendUint16(nil, 1)
		pb = n.order.AppendUint16(pb, 0)
		pb = n.order.AppendUint32(pb, 0)
		pb = n.order.AppendUint32(pb, 7000)
		pb = n.order.AppendUint32(pb, uint32(len(raw)))
		pb = n.order.AppendUint32(pb, uint32(len(raw)))
		n.block(2, append(pb, raw...)) // obsolete packet block on interface 1: 7 s
		segs, f, err := readBytes(t, "blocks.pcapng", n.b)
		if err != nil || len(segs) != 4 {
			t.Fatalf("got %d segments, %v; want 4, nil", len(segs), err)
		}
		want := []struct {
			ts    int64
			iface uint16
			frame uint64
		}{{101.5e9, 0, 1}, {2.5e9, 1, 2}, {0, 0, 3}, {7e9, 1, 4}}
		for i, w := range want {
			if segs[i].TS != w.ts || segs[i].Iface != w.iface || segs[i].Frame != w.frame {
				t.Errorf("segment %d: got ts %d iface %d frame %d, want %d %d %d", i, segs[i].TS, segs[i].Iface, segs[i].Frame, w.ts, w.iface, w.frame)
			}
		}
		if f.Format() != "pcapng" {
			t.Errorf("got format %q, want pcapng", f.Format())
		}
	})
	t.Run("packets of an unsupported interface are not TCP", func(t *testing.T) {
		n := &ngBuilder{order: binary.LittleEndian}
		n.shb().idb(189, 0).idb(1, 0).epb(0, 0, pkt, len(pkt)).epb(1, 0, pkt, len(pkt))
		segs, f, err := readBytes(t, "usb.pcapng", n.b)
		if err != nil || len(segs) != 1 || segs[0].Iface != 1 || segs[0].Frame != 2 {
			t.Fatalf("got %+v, %v; want one segment, frame 2 on interface 1", segs, err)
		}
		if st := f.Stats(); st.NonTCP != 1 || st.DecodeErrors != 0 {
			t.Errorf("got %d non-TCP and %d errors, want 1 and 0", st.NonTCP, st.DecodeErrors)
		}
	})
	t.Run("large unread block is skipped", func(t *testing.T) {
		n := &ngBuilder{order: binary.LittleEndian}
		n.shb().idb(1, 0).block(4, make([]byte, 3<<20)).epb(0, 0, pkt, len(pkt))
		segs, _, err := readBytes(t, "nrb.pcapng", n.b)
		if err != nil || len(segs) != 1 {
			t.Errorf("got %d segments, %v; want 1, nil", len(segs), err)
		}
	})
	errCases := []struct {
		name  string
		build func(n *ngBuilder)
		want  string
	}{
		{"packet on an undefined interface", func(n *ngBuilder) { n.shb().idb(1, 0).epb(3, 0, pkt, len(pkt)) },
			"e.pcapng: frame 1 at byte 48: interface 3 is not defined (the section has 1) (file corrupt)"},
		{"captured length beyond its block", func(n *ngBuilder) {
			n.shb().idb(1, 0).epb(0, 0, pkt, len(pkt))
			binary.LittleEndian.PutUint32(n.b[48+20:], 500)
		}, "e.pcapng: frame 1 at byte 48: captured length 500 does not fit in its 88-byte block (file corrupt)"},
		{"block lengths differ", func(n *ngBuilder) {
			n.shb().idb(1, 0).epb(0, 0, pkt, len(pkt))
			binary.LittleEndian.PutUint32(n.b[len(n.b)-4:], 96)
		}, "e.pcapng: frame 1 at byte 48: block length 88 at its start and 96 at its end differ (file corrupt)"},
		{"bad byte-order magic", func(n *ngBuilder) {
			n.shb()
			n.b[8] = 0
		}, "e.pcapng: pcapng section header block at byte 0: byte-order magic 0x003c2b1a is invalid (file corrupt)"},
		{"pcapng version 2", func(n *ngBuilder) {
			n.shb().idb(1, 0)
			binary.LittleEndian.PutUint16(n.b[12:], 2)
		}, "e.pcapng: pcapng section header block at byte 0: pcapng version 2.0 (not supported)"},
		{"huge packet block", func(n *ngBuilder) {
			n.shb().idb(1, 0)
			n.b = n.order.AppendUint32(n.b, 6)
			n.b = n.order.AppendUint32(n.b, 8<<20)
			n.b = append(n.b, make([]byte, 100)...)
		}, "e.pcapng: frame 1 at byte 48: block length 8388608 is over the 1048576-byte limit for this block type (file corrupt)"},
		{"absurd block length", func(n *ngBuilder) {
			n.shb().idb(1, 0)
			n.b = n.order.AppendUint32(n.b, 5)
			n.b = n.order.AppendUint32(n.b, 0xFFFFFFF0)
			n.b = append(n.b, make([]byte, 100)...)
		}, "e.pcapng: pcapng block of type 0x5 at byte 48: block length 4294967280 is invalid (file corrupt)"},
		{"packet block cut", func(n *ngBuilder) {
			n.shb().idb(1, 0).epb(0, 0, pkt, len(pkt))
			n.b = n.b[:len(n.b)-10]
		}, "e.pcapng: frame 1 at byte 48 is cut short (file truncated)"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			n := &ngBuilder{order: binary.LittleEndian}
			tc.build(n)
			_, _, err := readBytes(t, "e.pcapng", n.b)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestStats_CountEveryPacketOnce reads the crafted encapsulation capture,
