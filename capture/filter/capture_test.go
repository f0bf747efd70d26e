package filter

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/connscope/connscope/internal/corpus"
)

// testPacket is one packet of a test capture.
type testPacket struct {
	data     []byte
	wireLen  int
	linkType uint16
}

// testCapture is a capture file loaded for the differential test.
type testCapture struct {
	name    string // file name, for messages and goldens
	raw     []byte // file bytes (decompressed when gzipped)
	packets []testPacket
	order   binary.ByteOrder // byte order of the writer (for BSD loopback)
	skip    string           // why the file cannot be compared, if it cannot
}

// capturePaths lists the shared public captures (see internal/corpus
// for when they are absent) and the repository's own fixtures.
func capturePaths(t testing.TB) []string {
	t.Helper()
	var paths []string
	for _, c := range corpus.Captures(t) {
		paths = append(paths, c.Path)
	}
	root := corpus.Root(t)
	for _, pat := range []string{
		filepath.Join(root, "testdata", "*.pcap*"),
		filepath.Join(root, "testdata", "*", "*.pcap*"),
	} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			base := filepath.Base(p)
			switch {
			case strings.HasSuffix(base, ".json"), strings.HasSuffix(base, ".md"):
				continue
			case strings.HasSuffix(base, ".pcap"), strings.HasSuffix(base, ".pcapng"),
				strings.HasSuffix(base, ".trace"), strings.HasSuffix(base, ".gz"):
				if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
					paths = append(paths, p)
				}
			}
		}
	}
	sort.Strings(paths)
	return paths
}

// loadCapture reads every packet of a pcap or pcapng file (plain or
// gzipped) with pcapgo, which is independent of the code under test.
func loadCapture(path string) (*testCapture, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	c := &testCapture{name: filepath.Base(path), raw: raw, order: binary.BigEndian}
	if len(raw) < 12 {
		return nil, errors.New("too short for a capture file")
	}
	if binary.BigEndian.Uint32(raw) == 0x0a0d0d0a {
		pkts, order, err := readPcapng(raw)
		if err != nil {
			return nil, err
		}
		c.packets, c.order = pkts, order
		return c, nil
	}
	if raw[0] == 0xd4 || raw[0] == 0x4d {
		c.order = binary.LittleEndian
	}
	lt, pkts, err := readPcap(raw)
	if err != nil {
		return nil, err
	}
	for i := range pkts {
		pkts[i].linkType = lt
	}
	c.packets = pkts
	return c, nil
}

// readPcapng reads the packets of a pcapng file (every section, enhanced,
// simple and obsolete packet blocks), each with its interface's link type.
// The byte order returned is the first section's. A block cut short ends
// the list.
func readPcapng(raw []byte) ([]testPacket, binary.ByteOrder, error) {
	var (
		pkts   []testPacket
		first  binary.ByteOrder
		bo     binary.ByteOrder = binary.LittleEndian
		ifaces []uint16
	)
	for off := 0; off+12 <= len(raw); {
		var btype uint32
		if binary.BigEndian.Uint32(raw[off:]) == 0x0a0d0d0a {
			btype = 0x0a0d0d0a
			bo = binary.BigEndian
			if binary.LittleEndian.Uint32(raw[off+8:]) == 0x1a2b3c4d {
				bo = binary.LittleEndian
			}
			if first == nil {
				first = bo
			}
			ifaces = nil
		} else {
			btype = bo.Uint32(raw[off:])
		}
		blen := int(bo.Uint32(raw[off+4:]))
		if blen < 12 || blen > len(raw)-off {
			break
		}
		body := raw[off+8 : off+blen-4]
		off += blen
		switch btype {
		case 1: // interface description
			if len(body) < 2 {
				return nil, nil, errors.New("short interface block")
			}
			ifaces = append(ifaces, bo.Uint16(body))
		case 2, 6: // obsolete and enhanced packet blocks
			if len(body) < 20 {
				return nil, nil, errors.New("short packet block")
			}
			id := int(bo.Uint32(body))
			if btype == 2 {
				id = int(bo.Uint16(body))
			}
			caplen, origlen := int(bo.Uint32(body[12:])), int(bo.Uint32(body[16:]))
			if id >= len(ifaces) || caplen > len(body)-20 {
				return nil, nil, fmt.Errorf("packet block for interface %d of %d, %d bytes", id, len(ifaces), caplen)
			}
			pkts = append(pkts, testPacket{data: body[20 : 20+caplen], wireLen: origlen, linkType: ifaces[id]})
		case 3: // simple packet block
			if len(body) < 4 || len(ifaces) == 0 {
				return nil, nil, errors.New("bad simple packet block")
			}
			origlen := int(bo.Uint32(body))
			caplen := min(origlen, len(body)-4)
			pkts = append(pkts, testPacket{data: body[4 : 4+caplen], wireLen: origlen, linkType: ifaces[0]})
		}
	}
	if first == nil {
		first = binary.LittleEndian
	}
	return pkts, first, nil
}

// readPcap reads a classic pcap file of either byte order and either
// timestamp precision. A record cut short ends the list, as in tcpdump.
// (pcapgo refuses some valid files, e.g. minor version 0.)
func readPcap(raw []byte) (uint16, []testPacket, error) {
	if len(raw) < 24 {
		return 0, nil, errors.New("pcap header cut short")
	}
	var order binary.ByteOrder
	switch binary.BigEndian.Uint32(raw) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		order = binary.BigEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		order = binary.LittleEndian
	default:
		return 0, nil, errors.New("not a pcap file")
	}
	lt := uint16(order.Uint32(raw[20:]) & 0xffff)
	var pkts []testPacket
	for off := 24; off+16 <= len(raw); {
		incl := int(order.Uint32(raw[off+8:]))
		orig := int(order.Uint32(raw[off+12:]))
		off += 16
		if incl > len(raw)-off {
			break
		}
		pkts = append(pkts, testPacket{data: raw[off : off+incl], wireLen: orig})
		off += incl
	}
	return lt, pkts, nil
}

// loadCaptures loads every test capture and marks the ones that cannot be
// compared, with the reason.
func loadCaptures(t testing.TB) []*testCapture {
	t.Helper()
	var out []*testCapture
	for _, p := range capturePaths(t) {
		c, err := loadCapture(p)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		switch {
		case len(c.packets) == 0:
			c.skip = "no packets"
		default:
			lt := c.packets[0].linkType
			for _, pk := range c.packets {
				if pk.linkType != lt {
					c.skip = "interfaces of different link types (libpcap filters one link type per file)"
				}
			}
			if _, ok := linkFor(lt); !ok && c.skip == "" {
				c.skip = "link type " + linkTypeName(lt) + " is not supported for filters (libpcap supports it; connscope decodes it but does not filter it)"
			}
		}
		out = append(out, c)
	}
	return out
}

func linkTypeName(lt uint16) string {
	switch lt {
	case 10:
		return "10 (FDDI)"
	case 239:
		return "239 (NFLOG)"
	}
	return strconv.Itoa(int(lt))
}
