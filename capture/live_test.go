package capture

import (
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/connscope/connscope/model"
)

// These tests drive Live's engine (readers, frame numbering, forwarded-copy
// removal, hand-over to Next, Close) with scripted handles, so they need
// neither root nor Linux. live_linux_test.go runs it on real sockets.

// scriptPacket is one packet a scriptHandle returns.
type scriptPacket struct {
	data []byte
	ts   time.Time
}

// scriptHandle returns its packets, then read timeouts. It fails the test
// if it is closed while a read is in progress, which would crash a ring
// (it is unmapped).
type scriptHandle struct {
	t       *testing.T
	pkts    chan scriptPacket
	inRead  atomic.Bool
	closed  atomic.Bool
	unblock chan struct{}
	drops   uint64
	once    sync.Once
}

func newScriptHandle(t *testing.T) *scriptHandle {
	return &scriptHandle{t: t, pkts: make(chan scriptPacket, 100000), unblock: make(chan struct{})}
}

func (h *scriptHandle) read() ([]byte, int64, int, error) {
	h.inRead.Store(true)
	defer h.inRead.Store(false)
	if h.closed.Load() {
		return nil, 0, 0, errors.New("read on a closed handle")
	}
	select {
	case p := <-h.pkts:
		return p.data, p.ts.UnixNano(), len(p.data), nil
	case <-time.After(5 * time.Millisecond):
		return nil, 0, 0, errReadTimeout
	case <-h.unblock:
		return nil, 0, 0, errors.New("closed")
	}
}

func (h *scriptHandle) ready() bool { return len(h.pkts) > 0 }

func (h *scriptHandle) setWait(time.Duration) {}
func (h *scriptHandle) wake()                 {}

func (h *scriptHandle) stats() (uint64, uint64, error) { return 0, h.drops, nil }

func (h *scriptHandle) close() {
	if h.inRead.Load() {
		h.t.Errorf("handle closed while a read was in progress")
	}
	h.closed.Store(true)
	h.once.Do(func() { close(h.unblock) })
}

// tcpFrame builds an Ethernet/IPv4/TCP frame with the fields the tests
// vary.
type tcpFrame struct {
	src, dst     string
	sport, dport uint16
	seq, ack     uint32
	flags        model.TCPFlags
	ttl          uint8
	ipid         uint16
	payload      int
}

func (f tcpFrame) bytes() []byte {
	ttl := f.ttl
	if ttl == 0 {
		ttl = 64
	}
	b := make([]byte, 14+20+20+f.payload)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+20+f.payload))
	binary.BigEndian.PutUint16(ip[4:], f.ipid)
	ip[6] = 0x40 // DF
	ip[8] = ttl
	ip[9] = 6
	s, d := netip.MustParseAddr(f.src).As4(), netip.MustParseAddr(f.dst).As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], f.sport)
	binary.BigEndian.PutUint16(tcp[2:], f.dport)
	binary.BigEndian.PutUint32(tcp[4:], f.seq)
	binary.BigEndian.PutUint32(tcp[8:], f.ack)
	tcp[12] = 5 << 4
	tcp[13] = byte(f.flags)
	binary.BigEndian.PutUint16(tcp[14:], 64240)
	return b
}

// udpFrame is an Ethernet/IPv4/UDP frame: a packet that is not TCP.
func udpFrame() []byte {
	b := tcpFrame{src: "10.0.0.1", dst: "10.0.0.2"}.bytes()[:14+20+8]
	b[14+9] = 17
	binary.BigEndian.PutUint16(b[14+2:], 28)
	return b
}

// engine starts a Live over scripted handles, one per interface.
func engine(t *testing.T, opts LiveOptions, handles ...*scriptHandle) *Live {
	t.Helper()
	l := newLive(opts)
	for i, h := range handles {
		if !l.start("if"+string(rune('0'+i)), 10+i, 1, LinkEthernet, MethodRing, []packetHandle{h}, nil) {
			t.Fatal("start refused on a fresh Live")
		}
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// nextN reads n segments from l, failing after a deadline.
func nextN(t *testing.T, l *Live, n int) []model.Segment {
	t.Helper()
	var out []model.Segment
	deadline := time.Now().Add(5 * time.Second)
	for len(out) < n {
		var s model.Segment
		err := l.Next(&s)
		switch {
		case err == nil:
			out = append(out, s)
		case err == ErrIdle:
			if time.Now().After(deadline) {
				t.Fatalf("got %d segments before the deadline, want %d", len(out), n)
			}
		default:
			t.Fatalf("Next: %v after %d segments", err, len(out))
		}
	}
	return out
}

// waitStats polls Stats until ok accepts them.
func waitStats(t *testing.T, l *Live, ok func(model.SourceStats) bool) model.SourceStats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := l.Stats()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never settled: %+v", s)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLive_FramesNumberEveryPacket_SegmentsOnlyForTCP(t *testing.T) {
	h := newScriptHandle(t)
	l := engine(t, LiveOptions{}, h)
	t0 := time.Unix(1700000000, 0)
	h.pkts <- scriptPacket{tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 80, seq: 1, flags: model.FlagSYN}.bytes(), t0}
	h.pkts <- scriptPacket{udpFrame(), t0.Add(time.Millisecond)}
	h.pkts <- scriptPacket{[]byte{1, 2, 3}, t0.Add(2 * time.Millisecond)} // cut inside the Ethernet header
	h.pkts <- scriptPacket{tcpFrame{src: "10.0.0.2", dst: "10.0.0.1", sport: 80, dport: 40000, seq: 9, ack: 2, flags: model.FlagSYN | model.FlagACK}.bytes(), t0.Add(3 * time.Millisecond)}

	segs := nextN(t, l, 2)
	for i, want := range []struct {
		frame uint64
		ts    int64
		flags model.TCPFlags
	}{{1, t0.UnixNano(), model.FlagSYN}, {4, t0.Add(3 * time.Millisecond).UnixNano(), model.FlagSYN | model.FlagACK}} {
		s := segs[i]
		if s.Frame != want.frame || s.TS != want.ts || s.Flags != want.flags || s.Iface != 0 {
			t.Errorf("segment %d: got frame %d ts %d flags %v iface %d, want frame %d ts %d flags %v iface 0",
				i, s.Frame, s.TS, s.Flags, s.Iface, want.frame, want.ts, want.flags)
		}
	}
	st := waitStats(t, l, func(s model.SourceStats) bool { return s.Packets == 4 })
	want := model.SourceStats{Packets: 4, TCPFrames: 2, NonTCP: 1, DecodeErrors: 1}
	if st != want {
		t.Errorf("got stats %+v, want %+v", st, want)
	}
}

func TestLive_CopyOnAnotherInterface_IsOnePacket(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	base := tcpFrame{src: "10.1.0.2", dst: "10.2.0.2", sport: 40000, dport: 80, seq: 100, ack: 7, flags: model.FlagACK, ipid: 11, payload: 10}
	routed := base
	routed.ttl = 63 // a router decrements the TTL
	otherID := base
	otherID.ipid = 12 // a retransmission has a new IP ID
	tests := []struct {
		name      string
		second    tcpFrame
		secondIf  int
		delay     time.Duration
		wantSegs  int
		wantDupes uint64
	}{
		{"routed copy on the other interface", routed, 1, 20 * time.Microsecond, 1, 1},
		{"bridged copy, same bytes, other interface", base, 1, 0, 1, 1},
		{"copy that arrives first on the egress side", routed, 1, -20 * time.Microsecond, 1, 1},
		{"same bytes again on the same interface", base, 0, time.Millisecond, 2, 0},
		{"same bytes on the other interface after the window", base, 1, 80 * time.Millisecond, 2, 0},
		{"retransmission with a new IP ID", otherID, 1, time.Millisecond, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h0, h1 := newScriptHandle(t), newScriptHandle(t)
			l := engine(t, LiveOptions{}, h0, h1)
			h0.pkts <- scriptPacket{base.bytes(), t0}
			// The second copy is only queued once the first was taken,
			// so the order across the two readers is known.
			nextN(t, l, 1)
			hs := []*scriptHandle{h0, h1}
			hs[tc.secondIf].pkts <- scriptPacket{tc.second.bytes(), t0.Add(tc.delay)}
			// A marker after it on the same interface shows when the
			// second copy was handled.
			marker := tcpFrame{src: "10.9.0.1", dst: "10.9.0.2", sport: 1, dport: 2, flags: model.FlagSYN}
			hs[tc.secondIf].pkts <- scriptPacket{marker.bytes(), t0.Add(time.Second)}
			got := 1 + len(nextN(t, l, tc.wantSegs))
			if got != tc.wantSegs+1 {
				t.Fatalf("got %d segments, want %d", got, tc.wantSegs+1)
			}
			st := waitStats(t, l, func(s model.SourceStats) bool { return s.Packets == 3 })
			if d := l.Duplicates(); d != tc.wantDupes {
				t.Errorf("got %d duplicates, want %d", d, tc.wantDupes)
			}
			if st.TCPFrames != 3 {
				t.Errorf("got TCPFrames %d, want 3 (copies count as TCP frames)", st.TCPFrames)
			}
		})
	}
}

func TestLive_Merge_ReturnsCaptureTimeOrderAcrossInterfaces(t *testing.T) {
	// Capture times a little in the future: an idle interface's "nothing
	// older than now minus the ring's lag" cannot pass them before every
	// packet is queued, so the order must come from the merge alone.
	t0 := time.Now().Add(300 * time.Millisecond)
	h0, h1 := newScriptHandle(t), newScriptHandle(t)
	l := engine(t, LiveOptions{}, h0, h1)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	pkt := func(seq uint32) []byte {
		return tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", sport: 1000, dport: 80, seq: seq, flags: model.FlagACK, ipid: uint16(seq)}.bytes()
	}
	// Interface 0 hands over its later packets before interface 1 hands
	// over the one in between.
	h0.pkts <- scriptPacket{pkt(1), at(1)}
	h0.pkts <- scriptPacket{pkt(3), at(3)}
	h0.pkts <- scriptPacket{pkt(5), at(5)}
	h1.pkts <- scriptPacket{pkt(2), at(2)}
	h1.pkts <- scriptPacket{pkt(4), at(4)}
	segs := nextN(t, l, 5)
	for i, s := range segs {
		wantIface := uint16(i % 2)
		if s.Seq != uint32(i+1) || s.Iface != wantIface || s.Frame != uint64(i+1) {
			t.Errorf("segment %d: got seq %d iface %d frame %d, want seq %d iface %d frame %d", i, s.Seq, s.Iface, s.Frame, i+1, wantIface, i+1)
		}
	}
}

func TestLive_OneInterface_DoesNotWaitForTheClock(t *testing.T) {
	h := newScriptHandle(t)
	l := engine(t, LiveOptions{ReadTimeout: time.Minute}, h)
	// Far in the future: with another interface this would wait for it.
	h.pkts <- scriptPacket{tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", sport: 1, dport: 2, flags: model.FlagSYN}.bytes(), time.Now().Add(time.Hour)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var s model.Segment
		if err := l.Next(&s); err != nil {
			t.Errorf("Next: %v", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		l.Close()
		<-done
		t.Fatal("Next held back the only interface's packet")
	}
}

func TestLive_DedupOff_KeepsEveryCopy(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	f := tcpFrame{src: "10.1.0.2", dst: "10.2.0.2", sport: 40000, dport: 80, seq: 100, flags: model.FlagACK}
	h0, h1 := newScriptHandle(t), newScriptHandle(t)
	l := engine(t, LiveOptions{DedupWindow: -1}, h0, h1)
	h0.pkts <- scriptPacket{f.bytes(), t0}
	nextN(t, l, 1)
	h1.pkts <- scriptPacket{f.bytes(), t0}
	if s := nextN(t, l, 1)[0]; s.Iface != 1 || s.Frame != 2 {
		t.Errorf("got iface %d frame %d, want iface 1 frame 2", s.Iface, s.Frame)
	}
	if d := l.Duplicates(); d != 0 {
		t.Errorf("got %d duplicates with dedup off, want 0", d)
	}
}

func TestLive_TeeAndWriter_GetEveryPacketInFrameOrder(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	var (
		mu     sync.Mutex
		teed   []int // iface per packet, in Tee order
		lens   []int
		wbuf   syncBuffer
		frames []uint64
	)
	w, err := NewWriter(&wbuf, WriterOptions{FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	opts := LiveOptions{
		Writer: w,
		Tee: func(iface int, ci gopacket.CaptureInfo, data []byte) {
			mu.Lock()
			teed = append(teed, iface)
			lens = append(lens, len(data))
			mu.Unlock()
		},
		Comment: func(seg *model.Segment) string {
			frames = append(frames, seg.Frame) // called under the Live's lock
			return OwnerComment(int(seg.Frame), "srv")
		},
	}
	h0, h1 := newScriptHandle(t), newScriptHandle(t)
	l := engine(t, opts, h0, h1)
	h0.pkts <- scriptPacket{tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", sport: 1000, dport: 80, flags: model.FlagSYN}.bytes(), t0}
	nextN(t, l, 1)
	h1.pkts <- scriptPacket{udpFrame(), t0.Add(time.Millisecond)}
	h1.pkts <- scriptPacket{tcpFrame{src: "10.0.0.3", dst: "10.0.0.4", sport: 1001, dport: 80, flags: model.FlagSYN}.bytes(), t0.Add(2 * time.Millisecond)}
	nextN(t, l, 1)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(teed) != 3 || teed[0] != 0 || teed[1] != 1 || teed[2] != 1 {
		t.Errorf("got Tee interfaces %v, want [0 1 1]", teed)
	}
	if len(frames) != 2 || frames[0] != 1 || frames[1] != 3 {
		t.Errorf("got Comment frames %v, want [1 3]", frames)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pkts, comments := readNg(t, wbuf.bytes())
	if len(pkts) != 3 {
		t.Fatalf("got %d packets in the pcapng, want 3", len(pkts))
	}
	wantComments := []string{OwnerComment(1, "srv"), "", OwnerComment(3, "srv")}
	for i := range pkts {
		if pkts[i].iface != teed[i] || len(pkts[i].data) != lens[i] || comments[i] != wantComments[i] {
			t.Errorf("packet %d: got iface %d, %d bytes, comment %q; want iface %d, %d bytes, comment %q",
				i, pkts[i].iface, len(pkts[i].data), comments[i], teed[i], lens[i], wantComments[i])
		}
	}
}

func TestLive_SlowConsumer_ReaderWaitsAndNothingIsLost(t *testing.T) {
	h := newScriptHandle(t)
	t0 := time.Unix(1700000000, 0)
	const n = (liveQueue + 40) * liveBatchSize
	for i := 0; i < n; i++ {
		f := tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", sport: 1000, dport: 80, seq: uint32(i), flags: model.FlagACK}
		h.pkts <- scriptPacket{f.bytes(), t0.Add(time.Duration(i) * time.Microsecond)}
	}
	// All of them wait in the handle (the kernel ring) before the reader
	// starts, so its batches are full. Nobody calls Next: the reader must
	// stop reading once the queue is full, leaving the rest in the
	// handle, not read on and drop.
	l := engine(t, LiveOptions{}, h)
	waitStats(t, l, func(s model.SourceStats) bool { return s.Packets >= liveQueue*liveBatchSize })
	time.Sleep(50 * time.Millisecond)
	if st := l.Stats(); st.Packets > (liveQueue+2)*liveBatchSize || st.QueueDrops != 0 {
		t.Fatalf("with nobody reading: read %d packets and dropped %d, want at most %d read and none dropped",
			st.Packets, st.QueueDrops, (liveQueue+2)*liveBatchSize)
	}
	got := nextN(t, l, n)
	for i, s := range got {
		if s.Frame != uint64(i+1) || s.Seq != uint32(i) {
			t.Fatalf("segment %d: got frame %d seq %d, want frame %d seq %d", i, s.Frame, s.Seq, i+1, i)
		}
	}
	if st := l.Stats(); st.Packets != n || st.QueueDrops != 0 {
		t.Errorf("got %d packets read, %d dropped; want %d and none", st.Packets, st.QueueDrops, n)
	}
}

func TestLive_Close_StopsReadersBeforeClosingHandles(t *testing.T) {
	h := newScriptHandle(t)
	l := engine(t, LiveOptions{ReadTimeout: 10 * time.Millisecond}, h)
	var s model.Segment
	if err := l.Next(&s); err != ErrIdle {
		t.Fatalf("got %v from an idle source, want ErrIdle", err)
	}
	// The scripted handle reports a close during a read.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !h.closed.Load() {
		t.Errorf("handle not closed by Close")
	}
	if err := l.Next(&s); err != io.EOF {
		t.Errorf("got %v after Close, want io.EOF", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestLive_LostInterface_IsReportedAndStaysListed(t *testing.T) {
	h := &failingHandle{}
	var events []LiveEvent
	var mu sync.Mutex
	l := newLive(LiveOptions{OnEvent: func(e LiveEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }})
	t.Cleanup(func() { l.Close() })
	t0 := time.Now()
	l.start("eth9", 9, 1, LinkEthernet, MethodRing, []packetHandle{h}, nil)
	deadline := time.Now().Add(5 * time.Second)
	for l.active("eth9") {
		if time.Now().After(deadline) {
			t.Fatal("interface still active after its read failed")
		}
		time.Sleep(time.Millisecond)
	}
	ifs := l.Interfaces()
	if len(ifs) != 1 || ifs[0].Name != "eth9" || ifs[0].Active || ifs[0].State != IfaceLost || ifs[0].Err != "interface gone" || ifs[0].Losses != 1 {
		t.Errorf("got interfaces %+v, want eth9 lost once, with its error", ifs)
	}
	if st := l.Stats(); st.IfaceLosses != 1 || st.IfaceLostNS != 0 {
		t.Errorf("got %d losses, %d ns lost; want 1 loss, no gap until it is back", st.IfaceLosses, st.IfaceLostNS)
	}
	mu.Lock()
	if len(events) != 1 || events[0].Kind != EventIfaceLost || events[0].String() != "lost eth9: interface gone" {
		t.Errorf("got events %v, want one EventIfaceLost for eth9", events)
	}
	mu.Unlock()

	// Back (as a rescan would start it): the time away is the gap, as no
	// rescan found it down in between.
	time.Sleep(20 * time.Millisecond)
	l.start("eth9", 9, 1, LinkEthernet, MethodRing, []packetHandle{newScriptHandle(t)}, nil)
	ifs = l.Interfaces()
	st := l.Stats()
	if len(ifs) != 1 || ifs[0].State != IfaceCapturing || !ifs[0].Active || ifs[0].Err != "" {
		t.Errorf("got interfaces %+v, want eth9 capturing again", ifs)
	}
	if st.IfaceLosses != 1 || st.IfaceLostNS < int64(20*time.Millisecond) || st.IfaceLostNS > int64(time.Since(t0)) {
		t.Errorf("got %d losses, %v lost; want 1 loss and at least the 20 ms it was away", st.IfaceLosses, time.Duration(st.IfaceLostNS))
	}
}

// TestLive_FanoutGroupLost_IsReportedOnce: when the interface of a fanout
// group goes away, every member's socket fails; the interface is lost
// once, after the last member ended, and the members still reading stop.
func TestLive_FanoutGroupLost_IsReportedOnce(t *testing.T) {
	var events []LiveEvent
	var mu sync.Mutex
	l := newLive(LiveOptions{OnEvent: func(e LiveEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }})
	t.Cleanup(func() { l.Close() })
	still := newScriptHandle(t) // a member that would read on
	l.start("eth9", 9, 1, LinkEthernet, MethodRing, []packetHandle{&failingHandle{}, still, &failingHandle{}}, nil)
	deadline := time.Now().Add(5 * time.Second)
	for l.active("eth9") {
		if time.Now().After(deadline) {
			t.Fatal("interface still active after its members failed")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // a second report would come now
	ifs := l.Interfaces()
	if len(ifs) != 1 || ifs[0].State != IfaceLost || ifs[0].Losses != 1 || ifs[0].Readers != 3 {
		t.Errorf("got interfaces %+v, want eth9 lost once, with 3 readers", ifs)
	}
	if !still.closed.Load() {
		t.Error("the member that did not fail was not stopped and closed")
	}
	l.rmu.Lock()
	for _, r := range l.readers {
		if !r.ended.Load() {
			t.Error("a reader of the lost group still runs")
		}
	}
	l.rmu.Unlock()
	mu.Lock()
	if len(events) != 1 || events[0].Kind != EventIfaceLost {
		t.Errorf("got events %v, want one EventIfaceLost", events)
	}
	mu.Unlock()
}

type failingHandle struct{ closed atomic.Bool }

func (h *failingHandle) read() ([]byte, int64, int, error) {
	return nil, 0, 0, errors.New("interface gone")
}
func (h *failingHandle) ready() bool                    { return false }
func (h *failingHandle) stats() (uint64, uint64, error) { return 0, 0, nil }
func (h *failingHandle) close()                         { h.closed.Store(true) }
func (h *failingHandle) setWait(time.Duration)          {}
func (h *failingHandle) wake()                          {}

func TestSegmentKey_IgnoresOnlyWhatARouterChanges(t *testing.T) {
	var d Decoder
	decode := func(f tcpFrame) model.Segment {
		var s model.Segment
		if r, err := d.Decode(f.bytes(), 0, LinkEthernet, &s); r != ResultSegment {
			t.Fatalf("decode: %v %v", r, err)
		}
		return s
	}
	base := tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", sport: 1, dport: 2, seq: 3, ack: 4, flags: model.FlagACK, ipid: 5, payload: 6}
	k0 := segmentKey(ptr(decode(base)))
	same := []func(*tcpFrame){func(f *tcpFrame) { f.ttl = 1 }}
	differ := []func(*tcpFrame){
		func(f *tcpFrame) { f.src = "10.0.0.9" }, func(f *tcpFrame) { f.dst = "10.0.0.9" },
		func(f *tcpFrame) { f.sport = 9 }, func(f *tcpFrame) { f.dport = 9 },
		func(f *tcpFrame) { f.seq = 9 }, func(f *tcpFrame) { f.ack = 9 },
		func(f *tcpFrame) { f.flags = model.FlagACK | model.FlagPSH }, func(f *tcpFrame) { f.ipid = 9 },
		func(f *tcpFrame) { f.payload = 9 },
	}
	for i, m := range same {
		f := base
		m(&f)
		if k := segmentKey(ptr(decode(f))); k != k0 {
			t.Errorf("same-packet change %d: got a different key, want the same", i)
		}
	}
	for i, m := range differ {
		f := base
		m(&f)
		if k := segmentKey(ptr(decode(f))); k == k0 {
			t.Errorf("change %d: got the same key, want a different one", i)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// syncBuffer is a bytes buffer safe for the Writer's timer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b...)
}

// TestLive_IdleInterfaces_NextStillTimesOut: idle interfaces keep sending
// progress marks (every read timeout of their handles); Next must still
// end on its own timeout with ErrIdle rather than spin on the marks, or a
// --duration run never sees its deadline.
func TestLive_IdleInterfaces_NextStillTimesOut(t *testing.T) {
	l := newLive(LiveOptions{ReadTimeout: 30 * time.Millisecond})
	for i := 0; i < 2; i++ {
		// A ring whose poll returns at once with nothing: a flood of
		// progress marks, as a real idle interface can produce.
		if !l.start("idle"+string(rune('0'+i)), 20+i, 1, LinkEthernet, MethodRing, []packetHandle{&idleHandle{}}, nil) {
			t.Fatal("start refused on a fresh Live")
		}
	}
	t.Cleanup(func() { l.Close() })
	for i := 0; i < 5; i++ {
		done := make(chan error, 1)
		go func() {
			var s model.Segment
			done <- l.Next(&s)
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrIdle) {
				t.Fatalf("Next on idle interfaces: got %v, want ErrIdle", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Next on idle interfaces did not return within 2 s (read timeout 30 ms)")
		}
	}
}

// idleHandle times out at once on every read: an idle interface polled
// without pause.
type idleHandle struct{ closed atomic.Bool }

func (h *idleHandle) read() ([]byte, int64, int, error) {
	if h.closed.Load() {
		return nil, 0, 0, errors.New("read on a closed handle")
	}
	return nil, 0, 0, errReadTimeout
}
func (h *idleHandle) ready() bool                    { return false }
func (h *idleHandle) stats() (uint64, uint64, error) { return 0, 0, nil }
func (h *idleHandle) close()                         { h.closed.Store(true) }
func (h *idleHandle) setWait(time.Duration)          {}
func (h *idleHandle) wake()                          {}

func TestLive_FloodOfOtherTraffic_NextReturnsErrIdleWithinIdleAfter(t *testing.T) {
	h := newScriptHandle(t)
	// A read timeout far beyond the test: ErrIdle can only come from the
	// bound on packets without a segment.
	l := engine(t, LiveOptions{ReadTimeout: time.Minute}, h)
	t0 := time.Unix(1700000000, 0)
	for i := range IdleAfter + 10 {
		h.pkts <- scriptPacket{udpFrame(), t0.Add(time.Duration(i) * time.Microsecond)}
	}
	h.pkts <- scriptPacket{tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 80, seq: 1, flags: model.FlagSYN}.bytes(), t0.Add(time.Second)}
	var s model.Segment
	start := time.Now()
	if err := l.Next(&s); err != ErrIdle {
		t.Fatalf("got %v, want ErrIdle after %d packets without a segment", err, IdleAfter)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("ErrIdle took %v", d)
	}
	if err := l.Next(&s); err != nil || s.Frame != IdleAfter+11 {
		t.Fatalf("got frame %d, %v; want the SYN as frame %d", s.Frame, err, IdleAfter+11)
	}
}

// TestMerger_RandomBatches_CaptureTimeOrder feeds the merger batches of
// three readers whose packets interleave in time, in random sizes and a
// random order of arrival, each batch with its reader's mark: every
// packet must come out once, in capture-time order, each reader's in its
// own order (equal times included).
func TestMerger_RandomBatches_CaptureTimeOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		l := newLive(LiveOptions{})
		readers := make([]*ifaceReader, 3)
		for i := range readers {
			readers[i] = &ifaceReader{l: l, idx: uint16(i), start: 0}
		}
		l.readers = readers
		l.readerGen.Add(1)
		// Each reader's packets: increasing times (some equal), numbered
		// within the reader.
		type pkt struct {
			ts  int64
			seq uint32
		}
		var per [3][]pkt
		for i := range per {
			ts := int64(0)
			for n := range 200 + rng.IntN(300) {
				ts += int64(rng.IntN(3)) // steps of 0, 1 or 2
				per[i] = append(per[i], pkt{ts, uint32(n)})
			}
		}
		// Batches per reader, handed over in a random interleaving; the
		// last batch of each reader marks the end of time.
		var batches [3][]*liveBatch
		for i := range per {
			for p := per[i]; len(p) > 0; {
				n := min(len(p), 1+rng.IntN(40))
				b := &liveBatch{r: readers[i], mark: p[n-1].ts}
				for _, x := range p[:n] {
					e := liveEntry{ts: x.ts, res: ResultSegment}
					e.seg.Seq, e.seg.Iface, e.seg.TS = x.seq, uint16(i), x.ts
					b.ents = append(b.ents, e)
				}
				batches[i] = append(batches[i], b)
				p = p[n:]
			}
			batches[i][len(batches[i])-1].mark = 1 << 62
		}
		var m merger
		m.sync(l)
		var out []model.Segment
		drain := func() {
			for {
				e, _ := m.pop(l)
				if e == nil {
					return
				}
				out = append(out, e.seg)
			}
		}
		for len(batches[0])+len(batches[1])+len(batches[2]) > 0 {
			i := rng.IntN(3)
			if len(batches[i]) == 0 {
				continue
			}
			m.add(l, batches[i][0])
			batches[i] = batches[i][1:]
			if rng.IntN(3) == 0 {
				drain()
			}
		}
		drain()
		if want := len(per[0]) + len(per[1]) + len(per[2]); len(out) != want {
			t.Fatalf("round %d: got %d packets, want %d", round, len(out), want)
		}
		next := [3]uint32{}
		for k, s := range out {
			if k > 0 && s.TS < out[k-1].TS {
				t.Fatalf("round %d: packet %d at %d after one at %d", round, k, s.TS, out[k-1].TS)
			}
			if s.Seq != next[s.Iface] {
				t.Fatalf("round %d: reader %d's packet %d came where its %d was due", round, s.Iface, s.Seq, next[s.Iface])
			}
			next[s.Iface]++
		}
	}
}
