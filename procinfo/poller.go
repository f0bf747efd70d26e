package procinfo

import (
	"context"
	"errors"
	"time"

	"github.com/connscope/connscope/model"
)

// ErrUnsupported is returned by New on platforms other than Linux.
var ErrUnsupported = errors.New("live process data needs Linux")

// Config tunes a Poller. The zero value gives the defaults.
type Config struct {
	// HistoryLen is how many fd samples each process keeps (default 300:
	// five minutes at the default 1 s poll).
	HistoryLen int
	// TrendWindow is the span of fd history the growth rate is fitted
	// over (default 60 s): long enough to smooth request bursts, short
	// enough to follow a leak that just started.
	TrendWindow time.Duration
	// WatchFraction also lists a process without TCP sockets once its fd
	// count reaches this fraction of its soft limit (default 0.8; negative
	// turns it off): a leak of pipes or files is a leak all the same.
	WatchFraction float64
	// TimeWaitWidth is the width of the local port ranges TIME-WAIT
	// sockets are counted in (default 1024).
	TimeWaitWidth uint16
}

func (c Config) withDefaults() Config {
	if c.HistoryLen <= 0 {
		c.HistoryLen = 300
	}
	if c.TrendWindow <= 0 {
		c.TrendWindow = time.Minute
	}
	if c.WatchFraction == 0 {
		c.WatchFraction = 0.8
	}
	if c.TimeWaitWidth == 0 {
		c.TimeWaitWidth = 1024
	}
	return c
}

// Poller reads the kernel's view: the TCP socket table of every network
// namespace, the processes owning the sockets, their fds and limits. It
// keeps caches and fd histories between polls, so one Poller is used
// from one goroutine at a time.
type Poller struct {
	sys *sysPoller
}

// New returns a Poller; on platforms other than Linux it returns
// ErrUnsupported.
func New(cfg Config) (*Poller, error) {
	sys, err := newSysPoller(cfg.withDefaults())
	if err != nil {
		return nil, err
	}
	return &Poller{sys: sys}, nil
}

// Poll takes one synchronous snapshot of the kernel's view, stamped with
// now (which also timestamps the fd samples). It fails only when the host
// namespace's socket table cannot be read at all; anything it could not
// see besides is listed in the view's Limitations.
func (p *Poller) Poll(now time.Time) (model.KernelView, error) {
	return p.sys.poll(now)
}

// Run polls at once and then every interval (1 s when every <= 0) until
// ctx ends, and hands each view to out, latest wins: a view the reader has
// not taken yet is replaced by the newer one, so a slow reader never
// delays polling and never reads stale data. out should have capacity 1
// (an unbuffered channel makes each send wait for the reader); it is the
// channel model.Tracker.Run reads, and each view sent is never touched
// again. Run returns the first poll's error, if any; later failures are
// reported in the view's Limitations. It returns ctx.Err() when ctx ends.
func (p *Poller) Run(ctx context.Context, every time.Duration, out chan *model.KernelView) error {
	if every <= 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for first := true; ; first = false {
		v, err := p.Poll(time.Now())
		if err != nil {
			if first {
				return err
			}
			v.Limitations = append(v.Limitations, "poll failed: "+err.Error())
		}
		if !publish(ctx, out, &v) {
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// publish hands v to out, replacing a pending stale value. It reports
// false when ctx ended first.
func publish(ctx context.Context, out chan *model.KernelView, v *model.KernelView) bool {
	if cap(out) == 0 {
		select {
		case out <- v:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		select {
		case out <- v:
			return true
		case <-ctx.Done():
			return false
		default:
		}
		// Full: take the stale value out (unless the reader just did).
		select {
		case <-out:
		default:
		}
	}
}
