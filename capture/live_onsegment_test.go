package capture

import (
	"bytes"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
)

// OnSegment gets each segment Next returns, with its packet's bytes, and
// nothing for a packet that carries no segment or for a forwarded copy.
func TestLive_OnSegment_GetsEachReturnedSegmentWithItsPacket(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	type got struct {
		frame uint64
		data  []byte
		iface int
		wire  int
	}
	var seen []got
	opts := LiveOptions{OnSegment: func(seg *model.Segment, pkt SegmentPacket) {
		seen = append(seen, got{seg.Frame, bytes.Clone(pkt.Data), pkt.Iface, pkt.Length})
	}}
	h0, h1 := newScriptHandle(t), newScriptHandle(t)
	l := engine(t, opts, h0, h1)
	syn := tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", sport: 1000, dport: 80, flags: model.FlagSYN}.bytes()
	h0.pkts <- scriptPacket{syn, t0}
	nextN(t, l, 1)
	// The same packet forwarded to the other interface is a copy: not
	// returned, not handed over. A UDP packet carries no segment.
	h1.pkts <- scriptPacket{syn, t0.Add(time.Microsecond)}
	h1.pkts <- scriptPacket{udpFrame(), t0.Add(time.Millisecond)}
	other := tcpFrame{src: "10.0.0.3", dst: "10.0.0.4", sport: 1001, dport: 80, flags: model.FlagSYN}.bytes()
	h1.pkts <- scriptPacket{other, t0.Add(2 * time.Millisecond)}
	nextN(t, l, 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 {
		t.Fatalf("OnSegment called %d times, want 2 (the returned segments): %+v", len(seen), seen)
	}
	if seen[0].frame != 1 || !bytes.Equal(seen[0].data, syn) || seen[0].iface != 0 || seen[0].wire != len(syn) {
		t.Errorf("first: got frame %d iface %d wire %d, %d bytes; want frame 1 iface 0 and the SYN's %d bytes", seen[0].frame, seen[0].iface, seen[0].wire, len(seen[0].data), len(syn))
	}
	if seen[1].frame != 4 || !bytes.Equal(seen[1].data, other) || seen[1].iface != 1 {
		t.Errorf("second: got frame %d iface %d; want frame 4 on iface 1 with its bytes", seen[1].frame, seen[1].iface)
	}
}

func TestCaptureInfo_RoundTripsThroughTheWriter(t *testing.T) {
	var buf syncBuffer
	w, err := NewWriter(&buf, WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.AddInterface("lo", LinkEthernet, 160, "")
	if err != nil {
		t.Fatal(err)
	}
	data := tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", sport: 1000, dport: 80, flags: model.FlagSYN}.bytes()
	if err := w.WritePacket(CaptureInfo(1700000000123456789, len(data), len(data)+100, id), data, ""); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := NewReader("x", bytes.NewReader(buf.bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var seg model.Segment
	if err := f.Next(&seg); err != nil {
		t.Fatal(err)
	}
	if seg.TS != 1700000000123456789 {
		t.Errorf("got ts %d, want 1700000000123456789", seg.TS)
	}
}
