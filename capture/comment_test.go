package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/connscope/connscope/model"
)

// commentFixture copies every packet of testdata/ipv6-lo.pcap into a
// pcapng written by CreateWriter, repeated rounds times, giving packet i
// (0-based, over all rounds) the comment commentFor(i). It returns the
// file's path and the comments written.
func commentFixture(t *testing.T, rounds int, commentFor func(i int) string) (string, []string) {
	t.Helper()
	src, err := Open(fixture(t, "ipv6-lo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var pkts []Packet
	for {
		var p Packet
		err := src.ReadPacket(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p.Data = append([]byte(nil), p.Data...)
		pkts = append(pkts, p)
	}
	if len(pkts) == 0 {
		t.Fatal("ipv6-lo.pcap holds no packet")
	}
	path := filepath.Join(t.TempDir(), "owners.pcapng")
	w, err := CreateWriter(path, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.AddInterface("lo", pkts[0].Link, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	var comments []string
	for r := 0; r < rounds; r++ {
		for _, p := range pkts {
			c := commentFor(len(comments))
			ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, p.TS), CaptureLength: len(p.Data), Length: p.WireLen, InterfaceIndex: id}
			if err := w.WritePacket(ci, p.Data, c); err != nil {
				t.Fatal(err)
			}
			comments = append(comments, c)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path, comments
}

// alternateComments comments every third packet not at all, the others
// with an owner comment naming a pid derived from the packet's index, so
// that a stale comment from the previous packet shows up as a mismatch.
func alternateComments(i int) string {
	if i%3 == 2 {
		return ""
	}
	return OwnerComment(1000+i, "proc"+strconv.Itoa(i))
}

func TestComment_ReadPacket_GivesEachPacketItsComment(t *testing.T) {
	path, want := commentFixture(t, 1, alternateComments)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var p Packet
	for i := 0; ; i++ {
		err := f.ReadPacket(&p)
		if errors.Is(err, io.EOF) {
			if i != len(want) {
				t.Fatalf("got %d packets, want %d", i, len(want))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := string(p.Comment); got != want[i] {
			t.Errorf("packet %d: got comment %q, want %q", i+1, got, want[i])
		}
		if want[i] == "" && p.Comment != nil {
			t.Errorf("packet %d: got non-nil empty comment, want nil", i+1)
		}
	}
}

func TestComment_Next_HandsOutTheSegmentsComment(t *testing.T) {
	path, want := commentFixture(t, 1, alternateComments)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seg model.Segment
	n := 0
	for {
		err := f.Next(&seg)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		i := int(seg.Frame) - 1
		if i < 0 || i >= len(want) {
			t.Fatalf("got frame %d, want 1..%d", seg.Frame, len(want))
		}
		if got := string(f.Comment()); got != want[i] {
			t.Errorf("frame %d: got comment %q, want %q", seg.Frame, got, want[i])
		}
		if pid, _, ok := ParseOwnerComment(string(f.Comment())); ok && pid != 1000+i {
			t.Errorf("frame %d: got pid %d, want %d", seg.Frame, pid, 1000+i)
		}
	}
	if n != len(want) {
		t.Errorf("got %d segments, want %d (every packet of the fixture is TCP)", n, len(want))
	}
}

func TestComment_PcapHasNone(t *testing.T) {
	f, err := Open(fixture(t, "ipv6-lo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seg model.Segment
	if err := f.Next(&seg); err != nil {
		t.Fatal(err)
	}
	if c := f.Comment(); c != nil {
		t.Errorf("got comment %q from a pcap, want nil", c)
	}
}

func TestComment_NextAndCommentDoNotAllocate(t *testing.T) {
	path, _ := commentFixture(t, 10, func(i int) string { return OwnerComment(4242, "nginx") })
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seg model.Segment
	var total int
	n := testing.AllocsPerRun(100, func() {
		if err := f.Next(&seg); err != nil {
			t.Fatal(err)
		}
		total += len(f.Comment())
	})
	if n != 0 {
		t.Errorf("got %v allocations per Next+Comment, want 0", n)
	}
	if total == 0 {
		t.Error("got no comment bytes, want the owner comments")
	}
}

// TestComment_Options covers the option lists a packet block may carry,
// malformed ones included: a bad list loses the comment, never the packet.
func TestComment_Options(t *testing.T) {
	pkt := ethIPv4TCP(tcpHeader{flags: 0x02}, 0)
	for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		n := &ngBuilder{order: order}
		le := func(code, length uint16, v ...byte) []byte {
			b := n.order.AppendUint16(nil, code)
			b = n.order.AppendUint16(b, length)
			return append(b, v...)
		}
		cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
		tests := []struct {
			name string
			opts []byte
			want string
		}{
			{"none", nil, ""},
			{"comment", cat(n.opt(1, []byte("hello")), n.opt(0, nil)), "hello"},
			{"comment without end marker", n.opt(1, []byte("abcd")), "abcd"},
			{"after another option", cat(n.opt(2, []byte{1, 2, 3, 4}), n.opt(1, []byte("x")), n.opt(0, nil)), "x"},
			{"first of two comments", cat(n.opt(1, []byte("one")), n.opt(1, []byte("two"))), "one"},
			{"end marker first", cat(n.opt(0, nil), n.opt(1, []byte("late"))), ""},
			{"empty comment", cat(n.opt(1, nil), n.opt(0, nil)), ""},
			{"length past the block", le(1, 200, 'a', 'b', 'c', 'd'), ""},
			{"option header cut", []byte{1, 0}, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				b := &ngBuilder{order: order}
				b.shb().idb(1, 0)
				body := b.order.AppendUint32(nil, 0)
				body = b.order.AppendUint32(body, 0)
				body = b.order.AppendUint32(body, 0)
				body = b.order.AppendUint32(body, uint32(len(pkt)))
				body = b.order.AppendUint32(body, uint32(len(pkt)))
				body = append(body, pkt...)
				for len(body)%4 != 0 {
					body = append(body, 0)
				}
				b.block(6, append(body, tc.opts...))
				f, err := NewReader("options.pcapng", bytes.NewReader(b.b))
				if err != nil {
					t.Fatal(err)
				}
				var seg model.Segment
				if err := f.Next(&seg); err != nil {
					t.Fatalf("got %v, want the packet despite its options", err)
				}
				if got := string(f.Comment()); got != tc.want {
					t.Errorf("got comment %q, want %q", got, tc.want)
				}
			})
		}
	}
}
