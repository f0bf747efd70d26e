package capture

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
)

// waitHandle waits as a ring does: read blocks for the wait set last (or
// until a packet comes, or wake), then reports a timeout. It records the
// waits it was given.
type waitHandle struct {
	mu       sync.Mutex
	wait     time.Duration
	waits    []time.Duration
	pkts     chan scriptPacket
	woken    chan struct{}
	wakeOnce sync.Once
	reads    atomic.Int64 // reads that ended in a timeout
}

func newWaitHandle() *waitHandle {
	return &waitHandle{wait: time.Hour, pkts: make(chan scriptPacket, 16), woken: make(chan struct{})}
}

func (h *waitHandle) read() ([]byte, int64, int, error) {
	h.mu.Lock()
	d := h.wait
	h.mu.Unlock()
	select {
	case p := <-h.pkts:
		return p.data, p.ts.UnixNano(), len(p.data), nil
	case <-time.After(d):
	case <-h.woken:
	}
	h.reads.Add(1)
	return nil, 0, 0, errReadTimeout
}
func (h *waitHandle) ready() bool                    { return len(h.pkts) > 0 }
func (h *waitHandle) stats() (uint64, uint64, error) { return 0, 0, nil }
func (h *waitHandle) close()                         {}
func (h *waitHandle) wake()                          { h.wakeOnce.Do(func() { close(h.woken) }) }
func (h *waitHandle) setWait(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.wait = d
	h.waits = append(h.waits, d)
}

func (h *waitHandle) lastWait() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.wait
}

// TestLive_IdleReadersWaitLongerAndWakeForTraffic: a capture with nothing
// to read lengthens its readers' waits up to liveIdleWait (a few wake-ups
// a second instead of twenty), a packet brings them back to the ring's
// poll timeout, and Close ends a long wait at once.
func TestLive_IdleReadersWaitLongerAndWakeForTraffic(t *testing.T) {
	h := newWaitHandle()
	l := newLive(LiveOptions{})
	if !l.start("if0", 10, 1, LinkEthernet, MethodRing, []packetHandle{h}, nil) {
		t.Fatal("start refused on a fresh Live")
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			l.Close()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for h.lastWait() != liveIdleWait {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s of nothing the reader waits %v at a time, want %v", h.lastWait(), liveIdleWait)
		}
		var s model.Segment
		_ = l.Next(&s) // Next keeps taking the progress marks
	}
	before := h.reads.Load()
	time.Sleep(time.Second)
	if n := h.reads.Load() - before; n > 4 {
		t.Errorf("%d timeouts in a second of idleness, want at most 4 (a wait of %v)", n, liveIdleWait)
	}

	h.pkts <- scriptPacket{tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 80, seq: 1, flags: model.FlagSYN}.bytes(), time.Now()}
	nextN(t, l, 1)
	if w := h.lastWait(); w != ringPollTimeout {
		t.Errorf("after a packet the reader waits %v, want the poll timeout %v", w, ringPollTimeout)
	}

	// Back to idle, then Close in the middle of a long wait.
	for h.lastWait() != liveIdleWait && time.Now().Before(deadline.Add(10*time.Second)) {
		var s model.Segment
		_ = l.Next(&s)
	}
	start := time.Now()
	l.Close()
	closed = true
	if d := time.Since(start); d > liveIdleWait/2 {
		t.Errorf("Close took %v during an idle wait of %v: the wait was not woken", d, liveIdleWait)
	}
}
