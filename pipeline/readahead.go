package pipeline

import (
	"sync"

	"github.com/connscope/connscope/model"
)

// readAheadSize is how many segments the reading goroutine hands over at
// once.
const readAheadSize = 1024

// readAhead reads a file's segments on a goroutine of its own, batches
// ahead of the table: on two cores, decoding the next packets costs the
// headless pass no time while the table applies the previous ones. Next
// returns the segments in the file's order, then the reading's error
// (io.EOF at the end). It is used by one goroutine; stop ends the reading
// and waits for its goroutine.
type readAhead struct {
	ch   chan readAheadBatch
	free chan []model.Segment
	done chan struct{}
	wg   sync.WaitGroup
	cur  []model.Segment
	pos  int
	err  error
}

// readAheadBatch is a batch of segments, and the error that ended the
// reading after them (nil: more follow).
type readAheadBatch struct {
	segs []model.Segment
	err  error
}

// newReadAhead starts reading next until it returns an error.
func newReadAhead(next func(*model.Segment) error) *readAhead {
	const depth = 4
	r := &readAhead{ch: make(chan readAheadBatch, depth), free: make(chan []model.Segment, depth+2), done: make(chan struct{})}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			var segs []model.Segment
			select {
			case segs = <-r.free:
			default:
				segs = make([]model.Segment, 0, readAheadSize)
			}
			var err error
			for len(segs) < cap(segs) {
				segs = segs[:len(segs)+1]
				if err = next(&segs[len(segs)-1]); err != nil {
					segs = segs[:len(segs)-1]
					break
				}
			}
			select {
			case r.ch <- readAheadBatch{segs, err}:
			case <-r.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return r
}

// Next returns the next segment, or the error that ended the reading.
func (r *readAhead) Next(seg *model.Segment) error {
	for r.pos == len(r.cur) {
		if r.err != nil {
			return r.err
		}
		if r.cur != nil {
			select {
			case r.free <- r.cur[:0]:
			default:
			}
		}
		b := <-r.ch
		r.cur, r.pos, r.err = b.segs, 0, b.err
	}
	*seg = r.cur[r.pos]
	r.pos++
	return nil
}

// stop ends the reading (if it has not ended) and waits for it.
func (r *readAhead) stop() {
	close(r.done)
	r.wg.Wait()
}
