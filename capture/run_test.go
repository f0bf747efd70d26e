package capture

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
)

// fakeSource produces segments numbered 1..n (Frame), then end (io.EOF if
// nil). Before segment gateAt it waits for gate to be closed, standing in
// for a read that blocks (a pipe, a quiet link). idle makes every other
// call return ErrIdle first, as a live source with a read timeout does.
type fakeSource struct {
	n      uint64
	next   uint64
	end    error
	gateAt uint64
	gate   chan struct{}
	idle   bool
	idled  bool
	drops  atomic.Uint64
}

func (s *fakeSource) Next(seg *model.Segment) error {
	if s.idle && !s.idled {
		s.idled = true
		return ErrIdle
	}
	s.idled = false
	if s.next >= s.n {
		if s.end != nil {
			return s.end
		}
		return io.EOF
	}
	if s.gate != nil && s.next+1 == s.gateAt {
		<-s.gate
	}
	s.next++
	*seg = model.Segment{Frame: s.next}
	return nil
}

func (s *fakeSource) Stats() model.SourceStats {
	return model.SourceStats{QueueDrops: s.drops.Load()}
}

func (s *fakeSource) AddQueueDrops(n uint64) { s.drops.Add(n) }

// collect receives batches until out is closed, checking that frames
// follow on from after; frames is the last frame received.
func collect(t *testing.T, out <-chan []model.Segment, after uint64) (frames uint64, batches int, maxBatch int) {
	t.Helper()
	frames = after
	for b := range out {
		batches++
		if len(b) > maxBatch {
			maxBatch = len(b)
		}
		for _, s := range b {
			if s.Frame != frames+1 {
				t.Fatalf("got frame %d after %d: order lost", s.Frame, frames)
			}
			frames = s.Frame
		}
	}
	return frames, batches, maxBatch
}

func runAsync(ctx context.Context, src Source, out chan []model.Segment, opts RunOptions) <-chan error {
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, src, out, opts)
		close(out)
	}()
	return errc
}

func TestRun_File_DeliversEverySegmentInOrder(t *testing.T) {
	src := &fakeSource{n: 5000}
	out := make(chan []model.Segment) // unbuffered: the slowest consumer
	errc := runAsync(context.Background(), src, out, RunOptions{BatchSize: 100})
	frames, batches, maxBatch := collect(t, out, 0)
	if err := <-errc; err != nil {
		t.Errorf("got %v, want nil at the end of the source", err)
	}
	if frames != 5000 || maxBatch > 100 || batches < 50 {
		t.Errorf("got %d frames in %d batches (largest %d), want 5000 in at least 50 of at most 100", frames, batches, maxBatch)
	}
	if src.drops.Load() != 0 {
		t.Errorf("got %d queue drops in file mode, want 0", src.drops.Load())
	}
}

func TestRun_SourceErrorComesAfterItsSegments(t *testing.T) {
	cut := errors.New("x.pcap: frame 301 at byte 9 is cut short (file truncated)")
	src := &fakeSource{n: 300, end: cut}
	out := make(chan []model.Segment, 1)
	errc := runAsync(context.Background(), src, out, RunOptions{})
	frames, _, _ := collect(t, out, 0)
	if err := <-errc; err != cut {
		t.Errorf("got %v, want the source's error", err)
	}
	if frames != 300 {
		t.Errorf("got %d frames, want all 300 before the error", frames)
	}
}

// TestRun_FlushesWhileReadBlocks: segments decoded before a read that
// blocks arrive after FlushEvery, not when the batch fills.
func TestRun_FlushesWhileReadBlocks(t *testing.T) {
	src := &fakeSource{n: 10, gateAt: 4, gate: make(chan struct{})}
	out := make(chan []model.Segment, 4)
	errc := runAsync(context.Background(), src, out, RunOptions{FlushEvery: 5 * time.Millisecond})
	// Frames 1-3 arrive (in one or more batches, as the timer decides)
	// while the source is still blocked before frame 4.
	var last uint64
	deadline := time.After(10 * time.Second)
	for last < 3 {
		select {
		case b := <-out:
			for _, s := range b {
				if s.Frame != last+1 {
					t.Fatalf("got frame %d after %d", s.Frame, last)
				}
				last = s.Frame
			}
		case <-deadline:
			t.Fatalf("got frames up to %d while the source blocked, want 1-3: the partial batch was not flushed", last)
		}
	}
	close(src.gate)
	frames, _, _ := collect(t, out, 3)
	if err := <-errc; err != nil || frames != 10 {
		t.Errorf("got frames up to %d, %v; want 10, nil", frames, err)
	}
}

func TestRun_Live_DropsWhatTheConsumerCannotTake(t *testing.T) {
	src := &fakeSource{n: 100}
	out := make(chan []model.Segment) // nobody receives
	err := Run(context.Background(), src, out, RunOptions{Live: true, BatchSize: 10})
	if err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	if got := src.drops.Load(); got != 100 {
		t.Errorf("got %d queue drops, want all 100 segments", got)
	}
}

func TestRun_Live_DeliveredPlusDroppedIsEverything(t *testing.T) {
	src := &fakeSource{n: 1000}
	out := make(chan []model.Segment, 3) // read only after Run ends
	if err := Run(context.Background(), src, out, RunOptions{Live: true, BatchSize: 10}); err != nil {
		t.Fatal(err)
	}
	close(out)
	var delivered uint64
	for b := range out {
		delivered += uint64(len(b))
	}
	if dropped := src.drops.Load(); delivered+dropped != 1000 || dropped == 0 || delivered == 0 {
		t.Errorf("got %d delivered + %d dropped, want 1000 with some of each", delivered, dropped)
	}
}

func TestRun_SkipsIdleTimeouts(t *testing.T) {
	src := &fakeSource{n: 50, idle: true}
	out := make(chan []model.Segment, 100)
	errc := runAsync(context.Background(), src, out, RunOptions{BatchSize: 7})
	frames, _, _ := collect(t, out, 0)
	if err := <-errc; err != nil || frames != 50 {
		t.Errorf("got frames up to %d, %v; want 50, nil", frames, err)
	}
}

func TestRun_CancelReturnsWhileReadBlocks(t *testing.T) {
	src := &fakeSource{n: 10, gateAt: 1, gate: make(chan struct{})}
	defer close(src.gate)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan []model.Segment)
	errc := runAsync(ctx, src, out, RunOptions{})
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestRun_CancelReleasesABlockedSend(t *testing.T) {
	src := &fakeSource{n: 1 << 40} // endless
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan []model.Segment)
	errc := runAsync(ctx, src, out, RunOptions{BatchSize: 16})
	<-out // one batch, then nobody reads
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestRun_PoolRecyclesBatches(t *testing.T) {
	pool := NewBatchPool(4, 8)
	src := &fakeSource{n: 400}
	out := make(chan []model.Segment)
	errc := runAsync(context.Background(), src, out, RunOptions{BatchSize: 8, Pool: pool})
	var n uint64
	for b := range out {
		if cap(b) != 8 {
			t.Errorf("got a batch of capacity %d, want the pool's 8", cap(b))
		}
		n += uint64(len(b))
		pool.Put(b)
	}
	if err := <-errc; err != nil || n != 400 {
		t.Errorf("got %d segments, %v; want 400, nil", n, err)
	}
	if got := len(pool.free); got == 0 {
		t.Errorf("got %d free batches after returning them all, want some kept", got)
	}
}

func TestBatchPool_GetPut(t *testing.T) {
	p := NewBatchPool(1, 4)
	b := p.Get()
	if len(b) != 0 || cap(b) != 4 {
		t.Fatalf("got len %d cap %d, want 0 4", len(b), cap(b))
	}
	b = append(b, model.Segment{Frame: 1})
	p.Put(b)
	p.Put(make([]model.Segment, 0, 4)) // beyond keep: dropped
	p.Put(make([]model.Segment, 0, 2)) // too small: dropped
	if got := p.Get(); len(got) != 0 || cap(got) != 4 || &got[:1][0] != &b[0] {
		t.Errorf("got a batch of len %d cap %d, want the returned one, emptied", len(got), cap(got))
	}
}

// TestRun_FileMatchesNext: Run over a real file gives exactly what the pull
// loop gives.
func TestRun_FileMatchesNext(t *testing.T) {
	want, wantStats, err := readAll(t, fixture(t, "vxlan.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(fixture(t, "vxlan.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := make(chan []model.Segment, 2)
	errc := runAsync(context.Background(), f, out, RunOptions{BatchSize: 5})
	var got []model.Segment
	for b := range out {
		got = append(got, b...)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d segments, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("segment %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if st := f.Stats(); st != wantStats {
		t.Errorf("got stats %+v, want %+v", st, wantStats)
	}
}

// batchSource is a BatchSource fed through a channel: segments numbered
// from 1 (Frame), the end when the channel is closed (io.EOF, or end).
type batchSource struct {
	segs  chan model.Segment
	end   error
	calls atomic.Int64
	drops atomic.Uint64
}

func newBatchSource(n int) *batchSource {
	s := &batchSource{segs: make(chan model.Segment, max(n, 1))}
	for i := range n {
		s.segs <- model.Segment{Frame: uint64(i + 1)}
	}
	return s
}

func (s *batchSource) Next(seg *model.Segment) error {
	out, err := s.NextBatch(make([]model.Segment, 0, 1), time.Time{}, nil)
	if err == nil {
		*seg = out[0]
	}
	return err
}

func (s *batchSource) NextBatch(dst []model.Segment, deadline time.Time, cancel <-chan struct{}) ([]model.Segment, error) {
	s.calls.Add(1)
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		timeout = time.After(time.Until(deadline))
	}
	select {
	case seg, ok := <-s.segs:
		if !ok {
			if s.end != nil {
				return dst, s.end
			}
			return dst, io.EOF
		}
		dst = append(dst, seg)
	case <-timeout:
		return dst, ErrIdle
	case <-cancel:
		return dst, ErrIdle
	}
	for len(dst) < cap(dst) {
		select {
		case seg, ok := <-s.segs:
			if !ok {
				return dst, nil
			}
			dst = append(dst, seg)
		default:
			return dst, nil
		}
	}
	return dst, nil
}

func (s *batchSource) Stats() model.SourceStats {
	return model.SourceStats{QueueDrops: s.drops.Load()}
}

func (s *batchSource) AddQueueDrops(n uint64) { s.drops.Add(n) }

func TestRun_BatchSource_DeliversEverySegmentInOrder(t *testing.T) {
	for _, live := range []bool{false, true} {
		src := newBatchSource(10000)
		close(src.segs)
		out := make(chan []model.Segment, 4)
		errc := runAsync(context.Background(), src, out, RunOptions{Live: live, BatchSize: 100})
		frames, _, maxBatch := collect(t, out, 0)
		if err := <-errc; err != nil || frames != 10000 || maxBatch > 100 {
			t.Errorf("live %v: got frames up to %d, largest batch %d, %v; want 10000, at most 100, nil", live, frames, maxBatch, err)
		}
		if src.drops.Load() != 0 {
			t.Errorf("live %v: got %d queue drops, want none", live, src.drops.Load())
		}
	}
}

func TestRun_BatchSource_ErrorComesAfterItsSegments(t *testing.T) {
	src := newBatchSource(50)
	src.end = errors.New("capture failed")
	close(src.segs)
	out := make(chan []model.Segment, 100)
	errc := runAsync(context.Background(), src, out, RunOptions{BatchSize: 7})
	frames, _, _ := collect(t, out, 0)
	if err := <-errc; err != src.end || frames != 50 {
		t.Errorf("got frames up to %d, %v; want 50, %v", frames, err, src.end)
	}
}

func TestRun_BatchSource_FlushesAPartialBatchOnTime(t *testing.T) {
	src := newBatchSource(3) // and then nothing, the source still open
	out := make(chan []model.Segment, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	errc := runAsync(ctx, src, out, RunOptions{BatchSize: 100, FlushEvery: 20 * time.Millisecond})
	select {
	case b := <-out:
		if len(b) != 3 || b[0].Frame != 1 || b[2].Frame != 3 {
			t.Errorf("got %d segments, want frames 1-3", len(b))
		}
		if d := time.Since(start); d < 20*time.Millisecond {
			t.Errorf("partial batch sent after %v, before FlushEvery (20 ms)", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no partial batch 5 s after the last segment (FlushEvery 20 ms)")
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestRun_BatchSource_CancelEndsAWait(t *testing.T) {
	src := newBatchSource(0) // nothing, ever
	ctx, cancel := context.WithCancel(context.Background())
	errc := runAsync(ctx, src, make(chan []model.Segment), RunOptions{Live: true, FlushEvery: time.Hour})
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel while the source waited")
	}
}

// A live BatchSource keeps its backlog while the consumer is behind: Run
// waits for the consumer instead of reading on and dropping.
func TestRun_BatchSource_Live_WaitsForTheConsumer(t *testing.T) {
	const n = 5000
	src := newBatchSource(n)
	out := make(chan []model.Segment) // nobody receives for now
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := runAsync(ctx, src, out, RunOptions{Live: true, BatchSize: 100})
	time.Sleep(50 * time.Millisecond)
	if left := len(src.segs); left < n-2*100 {
		t.Errorf("with nobody receiving, Run took %d segments from the source, want at most 2 batches", n-left)
	}
	close(src.segs)
	frames, _, _ := collect(t, out, 0)
	if err := <-errc; err != nil || frames != n {
		t.Errorf("got frames up to %d, %v; want %d, nil", frames, err, n)
	}
	if d := src.drops.Load(); d != 0 {
		t.Errorf("got %d queue drops, want none", d)
	}
}
