package procinfo

import (
	"context"
	"testing"

	"github.com/connscope/connscope/model"
)

func TestPublish_LatestWins(t *testing.T) {
	ctx := context.Background()
	out := make(chan *model.KernelView, 1)
	if !publish(ctx, out, &model.KernelView{At: 1}) {
		t.Fatal("publish into an empty channel: got false")
	}
	// The reader has not taken view 1: view 2 replaces it.
	if !publish(ctx, out, &model.KernelView{At: 2}) {
		t.Fatal("publish over a stale view: got false")
	}
	if got := (<-out).At; got != 2 {
		t.Errorf("read: got view %d, want 2", got)
	}
	if n := len(out); n != 0 {
		t.Errorf("left in the channel: got %d views, want 0", n)
	}
}

func TestPublish_UnbufferedWaitsForReaderOrContext(t *testing.T) {
	out := make(chan *model.KernelView)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if publish(ctx, out, &model.KernelView{At: 1}) {
		t.Errorf("no reader, context done: got true, want false")
	}
	got := make(chan int64)
	go func() { got <- (<-out).At }()
	if !publish(context.Background(), out, &model.KernelView{At: 3}) {
		t.Errorf("with a reader: got false, want true")
	}
	if at := <-got; at != 3 {
		t.Errorf("reader: got view %d, want 3", at)
	}
}

func TestConfig_Defaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.HistoryLen != 300 || c.TrendWindow.Seconds() != 60 || c.WatchFraction != 0.8 || c.TimeWaitWidth != 1024 {
		t.Errorf("defaults: got %+v", c)
	}
	c = Config{HistoryLen: 10, WatchFraction: -1, TimeWaitWidth: 1}.withDefaults()
	if c.HistoryLen != 10 || c.WatchFraction != -1 || c.TimeWaitWidth != 1 {
		t.Errorf("explicit values: got %+v", c)
	}
}
