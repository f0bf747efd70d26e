package capture

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/connscope/connscope/model"
)

// fuzzSeedFiles are the captures the fuzzers start from: our fixtures and
// the small captures of the shared corpus.
func fuzzSeedFiles(f *testing.F) [][]byte {
	f.Helper()
	var paths []string
	for _, name := range fixtureNames {
		paths = append(paths, fixture(f, name))
	}
	paths = append(paths, oracleCaptures(f)...)
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= 64<<10 {
			out = append(out, b)
		}
	}
	return out
}

// FuzzOpenAndRead feeds arbitrary bytes to the file reader: it must never
// panic or hang, keep its counters consistent, and end with io.EOF or one
// clear error line.
func FuzzOpenAndRead(f *testing.F) {
	for _, b := range fuzzSeedFiles(f) {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte("hello"))
	f.Add(gzipBytes(f, pcapBytes(1, rec{data: ethIPv4TCP(tcpHeader{flags: 2}, 0)})))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader("fuzz.pcap", bytes.NewReader(data))
		if err != nil {
			if msg := err.Error(); msg == "" || strings.Contains(msg, "\n") || !strings.Contains(msg, "fuzz.pcap") {
				t.Fatalf("got Open error %q, want one line naming the file", msg)
			}
			return
		}
		defer r.Close()
		var seg model.Segment
		var last uint64
		for i := 0; ; i++ {
			if i > 1_000_000 {
				t.Fatal("more than a million returns of Next on a fuzz input")
			}
			err := r.Next(&seg)
			if err == io.EOF {
				break
			}
			if err == ErrIdle {
				continue
			}
			if err != nil {
				var fe *FileError
				if !errors.As(err, &fe) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("got %T %q, want a one-line *FileError", err, err)
				}
				if again := r.Next(&seg); again != err {
					t.Fatalf("got %v after %v, want the same error again", again, err)
				}
				break
			}
			if seg.Frame <= last {
				t.Fatalf("got frame %d after %d", seg.Frame, last)
			}
			last = seg.Frame
			checkSegment(t, &seg)
		}
		st := r.Stats()
		if st.Packets != st.TCPFrames+st.NonTCP+st.DecodeErrors {
			t.Fatalf("got %+v: packets is not the sum of the others", st)
		}
	})
}

// checkSegment asserts what holds for every decoded segment.
func checkSegment(t *testing.T, seg *model.Segment) {
	t.Helper()
	if seg.TCPHdrLen%4 != 0 || seg.TCPHdrLen > 60 {
		t.Fatalf("got TCP header length %d", seg.TCPHdrLen)
	}
	if !seg.HeaderCut && seg.TCPHdrLen < 20 {
		t.Fatalf("got a %d-byte TCP header not marked cut", seg.TCPHdrLen)
	}
	if seg.PayloadLen > seg.FrameLen {
		t.Fatalf("got payload %d in a %d-byte frame", seg.PayloadLen, seg.FrameLen)
	}
	if seg.Opts.WScale < -1 || seg.Opts.WScale > maxWScale {
		t.Fatalf("got window scale %d", seg.Opts.WScale)
	}
	// IPv4 addresses are 4-byte addresses, never v4-in-v6; an IPv6 header
	// may carry a v4-mapped address, which stays an IPv6 address (as in
	// tshark), so that it never merges with an IPv4 flow.
	for _, a := range []netip.Addr{seg.Src.Addr(), seg.Dst.Addr()} {
		if a.Is4() == seg.IPv6 || !a.IsValid() {
			t.Fatalf("got addresses %v -> %v with IPv6 %v", seg.Src, seg.Dst, seg.IPv6)
		}
	}
}

// fuzzLinks are the link types FuzzDecode picks from (and one unsupported).
var fuzzLinks = []LinkType{
	LinkEthernet, LinkNull, LinkLoop, LinkRaw, LinkIPv4, LinkIPv6, LinkLinuxSLL, LinkLinuxSLL2,
	LinkPPP, LinkPPPHDLC, LinkCHDLC, LinkNFLOG, LinkFDDI, LinkRaw12, LinkRaw14, 147,
}

// FuzzDecode feeds arbitrary packet bytes to the decoder under every link
// type: it must never panic, and what it returns must be consistent.
func FuzzDecode(f *testing.F) {
	for _, b := range fuzzSeedFiles(f) {
		r, err := NewReader("seed", bytes.NewReader(b))
		if err != nil {
			continue
		}
		var p Packet
		for i := 0; i < 200 && r.ReadPacket(&p) == nil; i++ {
			for k, l := range fuzzLinks {
				if l == p.Link {
					f.Add(append([]byte(nil), p.Data...), uint8(k), uint16(p.WireLen))
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, link uint8, wire uint16) {
		lt := fuzzLinks[int(link)%len(fuzzLinks)]
		var d Decoder
		seg := model.Segment{Frame: 9}
		r, err := d.Decode(data, int(wire), lt, &seg)
		if (err != nil) != (r == ResultError) {
			t.Fatalf("got %v with error %v", r, err)
		}
		wantLen := max(int(wire), len(data))
		if int(seg.FrameLen) != wantLen || seg.Frame != 0 {
			t.Fatalf("got FrameLen %d Frame %d, want %d 0", seg.FrameLen, seg.Frame, wantLen)
		}
		if r == ResultSegment {
			checkSegment(t, &seg)
		}
	})
}
