package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
)

// zeroFilledPcap writes a pcap header and then size bytes of zeros, a
// file of empty records (caplen 0) that decode to nothing. The zeros are
// a hole (a sparse file), so a large size costs no disk.
func zeroFilledPcap(t *testing.T, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "zeros.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(pcapBytes(1)); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(24 + size); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNext_FileOfEmptyRecords_ReturnsErrIdleEveryIdleAfterPackets(t *testing.T) {
	const records = 3*IdleAfter + 100
	f, err := Open(zeroFilledPcap(t, records*16))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seg model.Segment
	for i := 1; i <= 3; i++ {
		if err := f.Next(&seg); err != ErrIdle {
			t.Fatalf("call %d: got %v, want ErrIdle", i, err)
		}
		if st := f.Stats(); st.Packets != uint64(i*IdleAfter) || st.DecodeErrors != st.Packets {
			t.Fatalf("after ErrIdle %d: got %d packets (%d undecodable), want %d", i, st.Packets, st.DecodeErrors, i*IdleAfter)
		}
	}
	if err := f.Next(&seg); err != io.EOF {
		t.Fatalf("got %v at the end, want io.EOF", err)
	}
	if st := f.Stats(); st.Packets != records {
		t.Errorf("got %d packets, want %d", st.Packets, records)
	}
	if err := f.Next(&seg); err != io.EOF {
		t.Errorf("got %v after the end, want io.EOF again", err)
	}
}

func TestNext_ASegmentRestartsTheIdleCount(t *testing.T) {
	syn := ethIPv4TCP(tcpHeader{flags: 0x02}, 0)
	var recs []rec
	for range IdleAfter - 1 {
		recs = append(recs, rec{data: udpFrame()})
	}
	recs = append(recs, rec{data: syn})
	for range IdleAfter - 1 {
		recs = append(recs, rec{data: []byte{1, 2, 3}}) // undecodable
	}
	recs = append(recs, rec{data: syn}, rec{data: udpFrame()})
	segs, f, err := readBytes(t, "mixed.pcap", pcapBytes(1, recs...))
	if err != nil || len(segs) != 2 {
		t.Fatalf("got %d segments, %v; want 2, nil", len(segs), err)
	}
	// Each segment came after IdleAfter-1 packets without one: no ErrIdle.
	f2, _ := NewReader("mixed.pcap", bytes.NewReader(pcapBytes(1, recs...)))
	var seg model.Segment
	for i := range 2 {
		if err := f2.Next(&seg); err != nil {
			t.Fatalf("call %d: got %v, want a segment", i+1, err)
		}
	}
	if st := f.Stats(); st.Packets != uint64(len(recs)) || st.NonTCP != IdleAfter || st.DecodeErrors != IdleAfter-1 {
		t.Errorf("got %+v, want %d packets, %d not TCP, %d undecodable", st, len(recs), IdleAfter, IdleAfter-1)
	}
}

func TestNext_FilteredPackets_CountTowardsErrIdle(t *testing.T) {
	syn := ethIPv4TCP(tcpHeader{flags: 0x02}, 0)
	var recs []rec
	for range IdleAfter + 1 {
		recs = append(recs, rec{data: syn})
	}
	f, err := NewReader("f.pcap", bytes.NewReader(pcapBytes(1, recs...)))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	f.SetFilter(func([]byte, uint16) bool { n++; return n > IdleAfter })
	var seg model.Segment
	if err := f.Next(&seg); err != ErrIdle {
		t.Fatalf("got %v, want ErrIdle after %d filtered packets", err, IdleAfter)
	}
	if err := f.Next(&seg); err != nil {
		t.Fatalf("got %v, want the last packet's segment", err)
	}
	if st := f.Stats(); st.FilteredOut != IdleAfter || st.TCPFrames != 1 {
		t.Errorf("got %+v, want %d filtered out and 1 TCP frame", st, IdleAfter)
	}
}

func TestNext_PcapngOfOtherBlocks_ReturnsErrIdle(t *testing.T) {
	n := &ngBuilder{order: binary.LittleEndian}
	n.shb()
	n.idb(1, 0)
	// Open reads blocks up to the first packet, but at most IdleAfter.
	for range 2*IdleAfter + IdleAfter/2 {
		n.block(0x0BAD, nil)
	}
	pkt := ethIPv4TCP(tcpHeader{flags: 0x02}, 0)
	n.epb(0, 1, pkt, len(pkt))
	f, err := NewReader("blocks.pcapng", bytes.NewReader(n.b))
	if err != nil {
		t.Fatal(err)
	}
	var seg model.Segment
	if err := f.Next(&seg); err != ErrIdle {
		t.Fatalf("got %v, want ErrIdle", err)
	}
	if err := f.Next(&seg); err != nil {
		t.Fatalf("got %v, want the packet's segment (half a bound of blocks is left)", err)
	}
	if err := f.Next(&seg); err != io.EOF {
		t.Fatalf("got %v, want io.EOF", err)
	}
	// ReadPacket does not yield: it reads on to the packet.
	r, err := NewReader("blocks.pcapng", bytes.NewReader(n.b))
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	if err := r.ReadPacket(&p); err != nil || p.Frame != 1 {
		t.Fatalf("ReadPacket: got frame %d, %v; want frame 1", p.Frame, err)
	}
}

// TestRun_Cancel_StopsReadingAZeroFilledFile reads a pcap header followed
// by 4 GiB of zeros (268 million empty records, about 10 s of reading)
// through Run, as the UI does, and cancels: Run must return at once, and
// its reading goroutine must stop within IdleAfter records of the
// cancellation instead of reading the rest of the file.
func TestRun_Cancel_StopsReadingAZeroFilledFile(t *testing.T) {
	f, err := Open(zeroFilledPcap(t, 4<<30))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan []model.Segment, 1)
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, f, out, RunOptions{}) }()
	deadline := time.Now().Add(10 * time.Second)
	for f.Stats().Packets < 10*IdleAfter {
		if time.Now().After(deadline) {
			t.Fatalf("Run read only %d packets in 10 s", f.Stats().Packets)
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	cancel()
	atCancel := f.Stats().Packets
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v from Run, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2 s of the cancellation")
	}
	// The reader publishes its counters when Next returns: once they stay
	// put, it has stopped.
	last := f.Stats().Packets
	for settled := 0; settled < 5; {
		time.Sleep(10 * time.Millisecond)
		if now := f.Stats().Packets; now == last {
			settled++
		} else {
			last, settled = now, 0
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("the reading goroutine still reads 5 s after the cancellation (%d packets)", last)
		}
	}
	// At the cancellation, the call of Next in progress had read up to
	// IdleAfter records it had not published yet; the next return ends it.
	if after := last - atCancel; after > 2*IdleAfter {
		t.Errorf("got %d records read after the cancellation, want at most %d", after, 2*IdleAfter)
	}
	t.Logf("stopped %d records after the cancellation, %v after it; %d of 268 million records read", last-atCancel, time.Since(start), last)
}

// TestNext_CancelLoop_ZeroFilledFile is the headless loop: check the
// context on every return of Next, ErrIdle included.
func TestNext_CancelLoop_ZeroFilledFile(t *testing.T) {
	f, err := Open(zeroFilledPcap(t, 4<<30))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var atCancel uint64
	time.AfterFunc(20*time.Millisecond, func() {
		atCancel = f.Stats().Packets
		cancel()
	})
	var seg model.Segment
	calls := 0
	for ctx.Err() == nil {
		calls++
		if err := f.Next(&seg); err != ErrIdle {
			t.Fatalf("got %v, want ErrIdle", err)
		}
	}
	got := f.Stats().Packets
	if got != uint64(calls)*IdleAfter {
		t.Errorf("got %d packets in %d calls, want %d a call", got, calls, IdleAfter)
	}
	if got-atCancel > 2*IdleAfter {
		t.Errorf("got %d records read after the cancellation, want at most %d", got-atCancel, 2*IdleAfter)
	}
}
