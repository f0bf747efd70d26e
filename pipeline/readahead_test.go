package pipeline

import (
	"errors"
	"io"
	"testing"

	"github.com/connscope/connscope/model"
)

// TestReadAhead_OrderThenTheErrorAndStop: every segment comes out in
// order, then the reading's error (and again on the next call); stopping
// early ends the reading goroutine even while it waits to hand a batch.
func TestReadAhead_OrderThenTheErrorAndStop(t *testing.T) {
	const n = 5*readAheadSize + 17
	cut := errors.New("cut short")
	counter := func(limit int, end error) func(*model.Segment) error {
		i := 0
		return func(s *model.Segment) error {
			if i == limit {
				return end
			}
			i++
			*s = model.Segment{Frame: uint64(i)}
			return nil
		}
	}
	r := newReadAhead(counter(n, cut))
	var seg model.Segment
	for i := 1; i <= n; i++ {
		if err := r.Next(&seg); err != nil || seg.Frame != uint64(i) {
			t.Fatalf("segment %d: got frame %d, %v", i, seg.Frame, err)
		}
	}
	for range 2 {
		if err := r.Next(&seg); !errors.Is(err, cut) {
			t.Fatalf("after the last segment: got %v, want the reading's error", err)
		}
	}
	r.stop()

	// Stopped after one segment of an endless reading: stop returns.
	r = newReadAhead(counter(-1, io.EOF))
	if err := r.Next(&seg); err != nil {
		t.Fatal(err)
	}
	r.stop()
}
