package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connscope/connscope/internal/corpus"
	"github.com/connscope/connscope/model"
)

// pcapBytes builds a little-endian microsecond pcap with the given link
// type and records (caplen = len(data), wire length = wire or len(data)).
type rec struct {
	data []byte
	wire int
	sec  uint32
	frac uint32
}

func pcapBytes(link uint32, recs ...rec) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, 0xA1B2C3D4)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = le.AppendUint32(b, 262144)
	b = le.AppendUint32(b, link)
	for _, r := range recs {
		wire := r.wire
		if wire == 0 {
			wire = len(r.data)
		}
		b = le.AppendUint32(b, r.sec)
		b = le.AppendUint32(b, r.frac)
		b = le.AppendUint32(b, uint32(len(r.data)))
		b = le.AppendUint32(b, uint32(wire))
		b = append(b, r.data...)
	}
	return b
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// readBytes decodes every segment of an in-memory capture.
func readBytes(t testing.TB, name string, raw []byte) ([]model.Segment, *File, error) {
	t.Helper()
	f, err := NewReader(name, bytes.NewReader(raw))
	if err != nil {
		return nil, nil, err
	}
	var segs []model.Segment
	for {
		var s model.Segment
		err := f.Next(&s)
		if err == io.EOF {
			return segs, f, nil
		}
		if err == ErrIdle {
			continue
		}
		if err != nil {
			return segs, f, err
		}
		segs = append(segs, s)
	}
}

func TestOpen_ErrorsAreOneLineNamingTheFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ngSHB := func() []byte {
		le := binary.LittleEndian
		b := le.AppendUint32(nil, 0x0A0D0D0A)
		b = le.AppendUint32(b, 28)
		b = le.AppendUint32(b, 0x1A2B3C4D)
		b = le.AppendUint16(b, 1)
		b = le.AppendUint16(b, 0)
		b = le.AppendUint64(b, ^uint64(0))
		return le.AppendUint32(b, 28)
	}
	ngIDB := func(link uint16) []byte {
		le := binary.LittleEndian
		b := le.AppendUint32(nil, 1)
		b = le.AppendUint32(b, 20)
		b = le.AppendUint16(b, link)
		b = le.AppendUint16(b, 0)
		b = le.AppendUint32(b, 0)
		return le.AppendUint32(b, 20)
	}
	badVersion := pcapBytes(1)
	badVersion[4] = 3
	tests := []struct {
		name    string
		path    string
		want    string
		wantErr error
	}{
		{"missing", filepath.Join(dir, "nope.pcap"), "open {dir}/nope.pcap: no such file or directory", os.ErrNotExist},
		{"directory", dir, "open {dir}: is a directory, not a capture file", nil},
		{"empty", write("empty.pcap", nil), "open {dir}/empty.pcap: empty file, not a pcap or pcapng capture", ErrNotCapture},
		{"text", write("x.pcap", []byte("hello world\n")), `open {dir}/x.pcap: not a pcap or pcapng capture (starts with "hell")`, ErrNotCapture},
		{"tiny text", write("t.pcap", []byte("ab")), `open {dir}/t.pcap: not a pcap or pcapng capture (starts with "ab")`, ErrNotCapture},
		{"gzipped text", write("x.gz", gzipBytes(t, []byte("hello"))), `open {dir}/x.gz: gzip data is not a pcap or pcapng capture (starts with "hell")`, ErrNotCapture},
		{"gzipped nothing", write("e.gz", gzipBytes(t, nil)), "open {dir}/e.gz: empty gzip data, not a pcap or pcapng capture", ErrNotCapture},
		{"broken gzip header", write("b.gz", []byte{0x1f, 0x8b, 0, 0}), "open {dir}/b.gz: gzip header: unexpected EOF", nil},
		{"pcap header cut", write("h.pcap", pcapBytes(1)[:10]), "open {dir}/h.pcap: pcap file header is cut short (10 of 24 bytes): file truncated", ErrTruncated},
		{"pcap version 3", write("v.pcap", badVersion), "open {dir}/v.pcap: pcap version 3.4: not supported", ErrUnsupported},
		{"pcap link type USER0", write("u.pcap", pcapBytes(147)), "open {dir}/u.pcap: link type 147 (USER0): not supported", ErrUnsupported},
		{"pcapng of one unsupported interface", write("u.pcapng", append(ngSHB(), ngIDB(189)...)), "open {dir}/u.pcapng: link type 189 (USB_LINUX): not supported", ErrUnsupported},
		{"pcapng cut in its section header", write("c.pcapng", ngSHB()[:20]), "{dir}/c.pcapng: pcapng section header block at byte 0 is cut short (file truncated)", ErrTruncated},
		{"pcapng with a bad block length", write("l.pcapng", append(ngSHB(), 1, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0)), "{dir}/l.pcapng: pcapng interface description block at byte 28: block length 13 is invalid (file corrupt)", ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Open(tc.path)
			if err == nil {
				f.Close()
				t.Fatalf("got no error, want %q", tc.want)
			}
			want := strings.ReplaceAll(tc.want, "{dir}", dir)
			if err.Error() != want {
				t.Errorf("got  %q\nwant %q", err, want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("got a multi-line message %q, want one line", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("got error %v, want it to wrap %v", err, tc.wantErr)
			}
		})
	}
}

func TestNext_TruncatedFixture_YieldsEverythingBeforeTheCut(t *testing.T) {
	// truncated.pcap is ipv6-lo.pcap cut inside frame 6; where frame 6
	// starts is read from ipv6-lo.pcap's own record headers.
	orig, err := os.ReadFile(fixture(t, "ipv6-lo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	start := 24
	for i := 0; i < 5; i++ {
		start += 16 + int(binary.LittleEndian.Uint32(orig[start+8:]))
	}
	path := fixture(t, "truncated.pcap")
	segs, st, err := readAll(t, path)
	if len(segs) != 5 || st.Packets != 5 || st.TCPFrames != 5 {
		t.Errorf("got %d segments, %d packets, %d TCP frames; want 5, 5, 5", len(segs), st.Packets, st.TCPFrames)
	}
	want := fmt.Sprintf("%s: frame 6 at byte %d is cut short (file truncated)", path, start)
	if err == nil || err.Error() != want {
		t.Fatalf("got error %v, want %q", err, want)
	}
	var fe *FileError
	if !errors.As(err, &fe) || fe.Frame != 6 || fe.Offset != int64(start) || !errors.Is(err, ErrTruncated) {
		t.Errorf("got %#v, want a *FileError for frame 6 at byte %d wrapping ErrTruncated", err, start)
	}
	// The same data through a pipe-like reader, and the error is sticky.
	raw, _ := os.ReadFile(path)
	_, f, err := readBytes(t, "truncated.pcap", raw)
	if err == nil {
		t.Fatal("got no error, want the truncation")
	}
	var seg model.Segment
	if err2 := f.Next(&seg); err2 != err {
		t.Errorf("got %v on the next call, want the same error %v", err2, err)
	}
}

func TestNext_SharedFuzzCapture_IsTruncatedInFrame2(t *testing.T) {
	path := corpus.Capture(t, "ndpi-fuzz-2021-10-13.pcap")
	segs, st, err := readAll(t, path)
	// Version 2.0: caplen and len are swapped, so frame 1 holds 197 of
	// 524501 bytes (tshark agrees) and the file ends 2 bytes into frame 2.
	if len(segs) != 0 || st.Packets != 1 || st.NonTCP != 1 {
		t.Errorf("got %d segments, %d packets, %d non-TCP; want 0, 1, 1", len(segs), st.Packets, st.NonTCP)
	}
	want := path + ": frame 2 at byte 237 is cut short (file truncated)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// TestNext_CutAnywhere cuts captures at many lengths: every record before
// the cut is returned, then one truncation error naming the next frame,
// whatever the format.
func TestNext_CutAnywhere(t *testing.T) {
	pcapRaw, err := os.ReadFile(fixture(t, "ipv6-lo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	// Record boundaries of the pcap, from its own headers.
	var starts []int
	for off := 24; off < len(pcapRaw); {
		starts = append(starts, off)
		off += 16 + int(binary.LittleEndian.Uint32(pcapRaw[off+8:]))
	}
	for cut := 24; cut < len(pcapRaw); cut += 7 {
		complete := 0
		for complete < len(starts) && (complete+1 == len(starts) && len(pcapRaw) <= cut || complete+1 < len(starts) && starts[complete+1] <= cut) {
			complete++
		}
		segs, _, err := readBytes(t, "cut.pcap", pcapRaw[:cut])
		if cut == starts[complete] {
			if err != nil || len(segs) != complete {
				t.Errorf("cut at %d (a record boundary): got %d segments, %v; want %d, nil", cut, len(segs), err, complete)
			}
			continue
		}
		var fe *FileError
		if len(segs) != complete || !errors.As(err, &fe) || fe.Frame != uint64(complete+1) || fe.Offset != int64(starts[complete]) || !errors.Is(err, ErrTruncated) {
			t.Errorf("cut at %d: got %d segments, %v; want %d and frame %d at byte %d cut short", cut, len(segs), err, complete, complete+1, starts[complete])
		}
	}

	zr, err := os.ReadFile(fixture(t, "mixed.pcapng.gz"))
	if err != nil {
		t.Fatal(err)
	}
	ng := gunzip(t, zr)
	whole, _, err := readBytes(t, "mixed.pcapng", ng)
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(ng); cut += 13 {
		segs, _, err := readBytes(t, "cut.pcapng", ng[:cut])
		if cut == 0 {
			continue // empty: an Open error, checked elsewhere
		}
		if err == nil {
			// Only a cut at a block boundary reads cleanly.
			if len(segs) > len(whole) {
				t.Errorf("cut at %d: got %d segments, more than the whole file's %d", cut, len(segs), len(whole))
			}
			continue
		}
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("cut at %d: got %v, want a truncation error", cut, err)
		}
		for i := range segs {
			if segs[i] != whole[i] {
				t.Fatalf("cut at %d: segment %d differs from the whole file's", cut, i)
			}
		}
	}
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFormats_SameSegments: the same packets in every container variant
// give the same segments.
func TestFormats_SameSegments(t *testing.T) {
	base, _, err := readAll(t, fixture(t, "ipv6-lo.pcap"))
	if err != nil || len(base) == 0 {
		t.Fatalf("ipv6-lo.pcap: %d segments, %v", len(base), err)
	}
	beNsec, _, err := readAll(t, fixture(t, "ipv6-lo-be-nsec.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(fixture(t, "ipv6-lo.pcap"))
	gz, gzFile, err := readBytes(t, "ipv6-lo.pcap.gz", gzipBytes(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := gzFile.Format(); got != "pcap.gz" {
		t.Errorf("got format %q, want pcap.gz", got)
	}
	for name, segs := range map[string][]model.Segment{"big-endian nanosecond pcap": beNsec, "gzipped pcap": gz} {
		if len(segs) != len(base) {
			t.Errorf("%s: got %d segments, want %d", name, len(segs), len(base))
			continue
		}
		for i := range segs {
			if segs[i] != base[i] {
				t.Errorf("%s: segment %d: got %+v, want %+v", name, i, segs[i], base[i])
				break
			}
		}
	}

	// mixed.pcapng.gz: section 1 merges ipv6-lo (interface 0, µs) and
	// sll2-any (interface 1, ns) by time; section 2 (big-endian) carries
	// the inner packets of vxlan.pcap on interface 0 with 2^-20 s units.
	mixed, _, err := readAll(t, fixture(t, "mixed.pcapng.gz"))
	if err != nil {
		t.Fatal(err)
	}
	cooked, _, err := readAll(t, fixture(t, "sll2-any.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	vx, _, err := readAll(t, fixture(t, "vxlan.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if want := len(base) + len(cooked) + len(vx); len(mixed) != want {
		t.Fatalf("mixed.pcapng.gz: got %d segments, want %d", len(mixed), want)
	}
	var lo, sll, inner []model.Segment
	section2 := false
	for i, s := range mixed {
		if i > 0 && s.Frame != mixed[i-1].Frame+1 && s.Frame <= mixed[i-1].Frame {
			t.Fatalf("frame numbers not increasing at %d", i)
		}
		switch {
		case s.Iface == 1:
			sll = append(sll, s)
		case s.Iface == 0 && len(lo) < len(base) && !section2:
			lo = append(lo, s)
		default:
			section2 = true
			inner = append(inner, s)
		}
	}
	same := func(name string, got, want []model.Segment, sameTS bool) {
		if len(got) != len(want) {
			t.Errorf("%s: got %d segments, want %d", name, len(got), len(want))
			return
		}
		for i := range got {
			g, w := got[i], want[i]
			g.Frame, w.Frame, g.Iface, w.Iface = 0, 0, 0, 0
			if !sameTS {
				// 2^-20 s units: within a microsecond, rounded down.
				if d := w.TS - g.TS; d < 0 || d >= 1000 {
					t.Errorf("%s: segment %d: got time %d, want within 1 µs below %d", name, i, g.TS, w.TS)
				}
				g.TS = w.TS
				// The inner packets lost their outer headers.
				g.FrameLen = w.FrameLen
			}
			if g != w {
				t.Errorf("%s: segment %d: got %+v, want %+v", name, i, g, w)
				return
			}
		}
	}
	same("interface 0 (ETHERNET, µs)", lo, base, true)
	same("interface 1 (LINUX_SLL2, ns)", sll, cooked, true)
	same("section 2 (RAW, 2^-20 s)", inner, vx, false)
}

func TestOpen_Stdin(t *testing.T) {
	raw, err := os.ReadFile(fixture(t, "mixed.pcapng.gz"))
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old; r.Close() }()
	go func() {
		w.Write(raw)
		w.Close()
	}()
	f, err := Open("-")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Name() != "stdin" || f.Format() != "pcapng.gz" {
		t.Errorf("got name %q format %q, want stdin pcapng.gz", f.Name(), f.Format())
	}
	n := 0
	var seg model.Segment
	for f.Next(&seg) == nil {
		n++
	}
	want, _, _ := readAll(t, fixture(t, "mixed.pcapng.gz"))
	if n != len(want) {
		t.Errorf("got %d segments from stdin, want %d", n, len(want))
	}
}

// TestPcap_Variants covers pcap variants without fixtures: swapped
// lengths of version 2.2, the "modified" record header, caplen > len, and
// an oversized record.
func TestPcap_Variants(t *testing.T) {
	pkt := ethIPv4TCP(tcpHeader{flags: 0x02}, 0)
	t.Run("version 2.2 swaps the lengths", func(t *testing.T) {
		b := pcapBytes(1, rec{data: pkt, wire: len(pkt)})
		b[6] = 2
		// Write len where caplen goes and the other way round.
		binary.LittleEndian.PutUint32(b[24+8:], 1000)
		binary.LittleEndian.PutUint32(b[24+12:], uint32(len(pkt)))
		segs, _, err := readBytes(t, "v22.pcap", b)
		if err != nil || len(segs) != 1 || segs[0].FrameLen != 1000 {
			t.Errorf("got %d segments, %v; want 1 with FrameLen 1000", len(segs), err)
		}
	})
	t.Run("modified pcap", func(t *testing.T) {
		le := binary.LittleEndian
		b := pcapBytes(1)
		le.PutUint32(b, 0xA1B2CD34)
		b = le.AppendUint32(b, 5)
		b = le.AppendUint32(b, 6)
		b = le.AppendUint32(b, uint32(len(pkt)))
		b = le.AppendUint32(b, uint32(len(pkt)))
		b = append(b, make([]byte, 8)...) // ifindex, protocol, type, pad
		b = append(b, pkt...)
		segs, _, err := readBytes(t, "mod.pcap", b)
		if err != nil || len(segs) != 1 || segs[0].TS != 5e9+6000 || segs[0].Flags != model.FlagSYN {
			t.Errorf("got %+v, %v; want one SYN at 5.000006 s", segs, err)
		}
	})
	t.Run("big-endian microseconds", func(t *testing.T) {
		be := binary.BigEndian
		b := be.AppendUint32(nil, 0xA1B2C3D4)
		b = be.AppendUint16(b, 2)
		b = be.AppendUint16(b, 4)
		b = append(b, make([]byte, 8)...)
		b = be.AppendUint32(b, 65535)
		b = be.AppendUint32(b, 1)
		b = be.AppendUint32(b, 7)
		b = be.AppendUint32(b, 8)
		b = be.AppendUint32(b, uint32(len(pkt)))
		b = be.AppendUint32(b, uint32(len(pkt)))
		b = append(b, pkt...)
		segs, _, err := readBytes(t, "be.pcap", b)
		if err != nil || len(segs) != 1 || segs[0].TS != 7e9+8000 {
			t.Errorf("got %+v, %v; want one segment at 7.000008 s", segs, err)
		}
	})
	t.Run("caplen above len", func(t *testing.T) {
		b := pcapBytes(1, rec{data: pkt, wire: 10})
		segs, _, err := readBytes(t, "c.pcap", b)
		if err != nil || len(segs) != 1 || segs[0].FrameLen != uint32(len(pkt)) {
			t.Errorf("got %d segments, %v; want 1 with FrameLen %d", len(segs), err, len(pkt))
		}
	})
	t.Run("oversized record", func(t *testing.T) {
		b := pcapBytes(1, rec{data: pkt})
		binary.LittleEndian.PutUint32(b[24+8:], 300000)
		_, _, err := readBytes(t, "big.pcap", b)
		want := "big.pcap: frame 1 at byte 24: captured length 300000 is over the 262144-byte limit (file corrupt)"
		if err == nil || err.Error() != want || !errors.Is(err, ErrCorrupt) {
			t.Errorf("got %v, want %q", err, want)
		}
	})
}

// whose packets cover every result, and checks the counters add up.
func TestStats_CountEveryPacketOnce(t *testing.T) {
	segs, st, err := readAll(t, fixture(t, "encaps.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Packets != st.TCPFrames+st.NonTCP+st.DecodeErrors+st.FilteredOut {
		t.Errorf("got %+v: packets is not the sum of the other counters", st)
	}
	if int(st.TCPFrames) != len(segs) || st.NonTCP == 0 || st.DecodeErrors == 0 {
		t.Errorf("got %+v for %d segments, want TCPFrames = segments and some non-TCP and errors", st, len(segs))
	}
}

func TestSetFilter_CountsFilteredOut(t *testing.T) {
	f, err := Open(fixture(t, "encaps.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sawLinks []uint16
	f.SetFilter(func(data []byte, linkType uint16) bool {
		if len(sawLinks) == 0 || sawLinks[len(sawLinks)-1] != linkType {
			sawLinks = append(sawLinks, linkType)
		}
		return linkType != uint16(LinkEthernet) // drop every Ethernet packet
	})
	var seg model.Segment
	n := 0
	for f.Next(&seg) == nil {
		if seg.FrameLen == 0 {
			t.Fatal("got an empty segment")
		}
		n++
	}
	all, stAll, _ := readAll(t, fixture(t, "encaps.pcapng"))
	st := f.Stats()
	var eth uint64
	g, _ := Open(fixture(t, "encaps.pcapng"))
	defer g.Close()
	var p Packet
	for g.ReadPacket(&p) == nil {
		if p.Link == LinkEthernet {
			eth++
		}
	}
	if st.FilteredOut != eth || st.Packets != stAll.Packets {
		t.Errorf("got FilteredOut %d of %d packets, want %d of %d", st.FilteredOut, st.Packets, eth, stAll.Packets)
	}
	if n >= len(all) || n == 0 {
		t.Errorf("got %d segments through the filter, want some but fewer than %d", n, len(all))
	}
	if len(sawLinks) < 2 || sawLinks[0] != uint16(LinkEthernet) {
		t.Errorf("got link types %v passed to the filter, want Ethernet first, then others", sawLinks)
	}
}

func TestGzip_DamageIsReported(t *testing.T) {
	raw, err := os.ReadFile(fixture(t, "ipv6-lo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	whole := gzipBytes(t, raw)
	t.Run("cut compressed stream", func(t *testing.T) {
		segs, _, err := readBytes(t, "cut.pcap.gz", whole[:len(whole)-6]) // into the trailer
		if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "of the uncompressed data is cut short") {
			t.Errorf("got %d segments, %v; want a truncation error in uncompressed bytes", len(segs), err)
		}
	})
	t.Run("bad checksum", func(t *testing.T) {
		bad := append([]byte(nil), whole...)
		bad[len(bad)-8] ^= 0xFF // CRC-32 of the trailer
		all, _, _ := readBytes(t, "ipv6-lo.pcap", raw)
		segs, _, err := readBytes(t, "crc.pcap.gz", bad)
		if err == nil || !strings.Contains(err.Error(), "gzip: invalid checksum") || len(segs) != len(all) {
			t.Errorf("got %d segments, %v; want all %d, then the checksum error", len(segs), err, len(all))
		}
	})
}

func TestNext_DoesNotAllocate(t *testing.T) {
	raw, err := os.ReadFile(fixture(t, "vxlan.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewReader("vxlan.pcap", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var seg model.Segment
	n := testing.AllocsPerRun(40, func() {
		if err := f.Next(&seg); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("got %v allocations per Next, want 0", n)
	}
}

// TestClose_UnblocksNextOnAFIFO: a File reading a FIFO whose writer went
// quiet can be closed from another goroutine, which ends the blocked Next
// (Run relies on this to stop on cancel).
func TestClose_UnblocksNextOnAFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	go func() {
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		w.Write(pcapBytes(1, rec{data: ethIPv4TCP(tcpHeader{flags: 2}, 0)}))
		<-release // hold the FIFO open and silent until the test ends
	}()
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var seg model.Segment
	if err := f.Next(&seg); err != nil {
		t.Fatalf("got %v, want the first segment", err)
	}
	errc := make(chan error, 1)
	go func() {
		var s model.Segment
		errc <- f.Next(&s)
	}()
	f.Close()
	select {
	case err := <-errc:
		if err == nil || err == io.EOF {
			t.Errorf("got %v, want a read error after Close", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next still blocked 10 s after Close")
	}
}
