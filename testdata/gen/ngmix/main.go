// Command ngmix re-encodes connscope's real-traffic fixtures into the file
// variants the capture reader must handle (see testdata/README.md):
//
//   - mixed.pcapng: two sections. Section 1 (little-endian) has interface 0
//     (ETHERNET, microsecond timestamps) carrying ipv6-lo.pcap and interface 1
//     (LINUX_SLL2, nanosecond timestamps) carrying sll2-any.pcap, merged by
//     time, then an interface statistics block. Section 2 (big-endian) has
//     one RAW interface with binary timestamps (2^-20 s) carrying the inner
//     IP packets of vxlan.pcap.
//   - ipv6-lo-be-nsec.pcap: ipv6-lo.pcap as a big-endian, nanosecond pcap.
//
// The sources are read with gopacket's pcapgo, independently of the reader
// under test. Usage: go run ./testdata/gen/ngmix -dir testdata
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/gopacket/gopacket/pcapgo"
)

type packet struct {
	ts      int64 // ns
	data    []byte
	wireLen int
	iface   uint32
}

func readPcap(path string) ([]packet, uint16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	var out []packet
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out, uint16(r.LinkType()), nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, packet{ts: ci.Timestamp.UnixNano(), data: data, wireLen: ci.Length})
	}
}

// ngWriter writes pcapng blocks in one byte order.
type ngWriter struct {
	buf   bytes.Buffer
	order binary.ByteOrder
}

func (w *ngWriter) block(typ uint32, body []byte) {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	var h [8]byte
	w.order.PutUint32(h[0:], typ)
	w.order.PutUint32(h[4:], n)
	w.buf.Write(h[:])
	w.buf.Write(body)
	var t [4]byte
	w.order.PutUint32(t[:], n)
	w.buf.Write(t[:])
}

func (w *ngWriter) option(b []byte, code uint16, v []byte) []byte {
	var h [4]byte
	w.order.PutUint16(h[0:], code)
	w.order.PutUint16(h[2:], uint16(len(v)))
	b = append(b, h[:]...)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (w *ngWriter) section() {
	b := make([]byte, 16)
	w.order.PutUint32(b[0:], 0x1A2B3C4D)
	w.order.PutUint16(b[4:], 1)
	w.order.PutUint16(b[6:], 0)
	w.order.PutUint64(b[8:], ^uint64(0)) // section length unknown
	b = w.option(b, 4, []byte("connscope testdata/gen/ngmix"))
	b = w.option(b, 0, nil)
	w.block(0x0A0D0D0A, b)
}

func (w *ngWriter) iface(link uint16, name string, tsresol uint8) {
	b := make([]byte, 8)
	w.order.PutUint16(b[0:], link)
	w.order.PutUint32(b[4:], 262144)
	b = w.option(b, 2, []byte(name))
	b = w.option(b, 9, []byte{tsresol})
	b = w.option(b, 0, nil)
	w.block(1, b)
}

// units converts ns to the interface's timestamp units.
func units(ns int64, tsresol uint8) uint64 {
	switch tsresol {
	case 6:
		return uint64(ns / 1000)
	case 9:
		return uint64(ns)
	case 0x94: // 2^-20 s
		sec, frac := ns/1e9, ns%1e9
		return uint64(sec)<<20 | uint64(frac<<20/1e9)
	}
	return 0 // not used: only the three resolutions above are written
}

func (w *ngWriter) packet(p packet, tsresol uint8) {
	u := units(p.ts, tsresol)
	b := make([]byte, 20, 20+len(p.data))
	w.order.PutUint32(b[0:], p.iface)
	w.order.PutUint32(b[4:], uint32(u>>32))
	w.order.PutUint32(b[8:], uint32(u))
	w.order.PutUint32(b[12:], uint32(len(p.data)))
	w.order.PutUint32(b[16:], uint32(p.wireLen))
	b = append(b, p.data...)
	w.block(6, b)
}

func (w *ngWriter) stats(iface uint32, ts int64) {
	u := units(ts, 9)
	b := make([]byte, 12)
	w.order.PutUint32(b[0:], iface)
	w.order.PutUint32(b[4:], uint32(u>>32))
	w.order.PutUint32(b[8:], uint32(u))
	b = w.option(b, 0, nil)
	w.block(5, b)
}

func run(dir string) error {
	lo, loLink, err := readPcap(filepath.Join(dir, "ipv6-lo.pcap"))
	if err != nil {
		return err
	}
	cooked, cookedLink, err := readPcap(filepath.Join(dir, "sll2-any.pcap"))
	if err != nil {
		return err
	}
	vx, _, err := readPcap(filepath.Join(dir, "vxlan.pcap"))
	if err != nil {
		return err
	}
	if loLink != 1 || cookedLink != 276 {
		return fmt.Errorf("unexpected link types %d and %d", loLink, cookedLink)
	}

	le := &ngWriter{order: binary.LittleEndian}
	le.section()
	le.iface(loLink, "lo", 6)
	le.iface(cookedLink, "any", 9)
	var merged []packet
	for _, p := range lo {
		p.iface = 0
		merged = append(merged, p)
	}
	for _, p := range cooked {
		p.iface = 1
		merged = append(merged, p)
	}
	sort.SliceStable(merged, func(i, j int) bool { return merged[i].ts < merged[j].ts })
	for _, p := range merged {
		if p.iface == 0 {
			le.packet(p, 6)
		} else {
			le.packet(p, 9)
		}
	}
	le.stats(1, merged[len(merged)-1].ts)

	be := &ngWriter{order: binary.BigEndian}
	be.section()
	be.iface(101, "vx0", 0x94)
	// Inner packets: outer Ethernet(14) IPv4(20) UDP(8) VXLAN(8), inner
	// Ethernet(14); keep IPv4 and IPv6 only.
	const hdr = 14 + 20 + 8 + 8 + 14
	for _, p := range vx {
		if len(p.data) < hdr {
			continue
		}
		et := binary.BigEndian.Uint16(p.data[hdr-2:])
		if et != 0x0800 && et != 0x86DD {
			continue
		}
		be.packet(packet{ts: p.ts, data: p.data[hdr:], wireLen: p.wireLen - hdr}, 0x94)
	}
	out := append(le.buf.Bytes(), be.buf.Bytes()...)
	if err := os.WriteFile(filepath.Join(dir, "mixed.pcapng"), out, 0o644); err != nil {
		return err
	}

	// Big-endian nanosecond pcap of ipv6-lo.
	var b bytes.Buffer
	h := make([]byte, 24)
	binary.BigEndian.PutUint32(h[0:], 0xA1B23C4D)
	binary.BigEndian.PutUint16(h[4:], 2)
	binary.BigEndian.PutUint16(h[6:], 4)
	binary.BigEndian.PutUint32(h[16:], 262144)
	binary.BigEndian.PutUint32(h[20:], uint32(loLink))
	b.Write(h)
	for _, p := range lo {
		r := make([]byte, 16)
		binary.BigEndian.PutUint32(r[0:], uint32(p.ts/1e9))
		binary.BigEndian.PutUint32(r[4:], uint32(p.ts%1e9))
		binary.BigEndian.PutUint32(r[8:], uint32(len(p.data)))
		binary.BigEndian.PutUint32(r[12:], uint32(p.wireLen))
		b.Write(r)
		b.Write(p.data)
	}
	return os.WriteFile(filepath.Join(dir, "ipv6-lo-be-nsec.pcap"), b.Bytes(), 0o644)
}

func main() {
	dir := flag.String("dir", "testdata", "directory holding the source fixtures and receiving the output")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "ngmix:", err)
		os.Exit(1)
	}
}
