package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/capture/filter"
	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/procinfo"
)

// liveSetup is an opened live capture with its optional -w file and the
// kernel poller that names owners.
type liveSetup struct {
	live   *capture.Live
	writer *capture.Writer
	poller *procinfo.Poller
	// owners is the latest kernel view indexed for -w comments (read on
	// the capture goroutine).
	owners atomic.Pointer[ownerIndex]
	// pollErr says why there is no kernel view, if there is none.
	pollErr string
}

// openLive opens every requested interface (all that are up by default),
// the -w file and the procinfo poller.
func openLive(o options) (*liveSetup, error) {
	ls := &liveSetup{}
	if !o.noProcinfo {
		p, err := procinfo.New(procinfo.Config{})
		if err != nil {
			ls.pollErr = "no process data: " + err.Error()
		} else {
			ls.poller = p
		}
	} else {
		ls.pollErr = "no process data: --no-procinfo"
	}
	lo := capture.LiveOptions{Interfaces: o.ifaces, Snaplen: o.snaplen, Filter: o.capFilter}
	if o.write != "" {
		w, err := capture.CreateWriter(o.write, capture.WriterOptions{})
		if err != nil {
			return nil, err
		}
		ls.writer = w
		lo.Writer = w
		lo.Comment = ls.ownerComment
	}
	l, err := capture.OpenLive(lo)
	if err != nil {
		if ls.writer != nil {
			ls.writer.Close()
		}
		return nil, err
	}
	ls.live = l
	return ls, nil
}

// ownerIndex is a kernel view indexed for naming packet owners: by
// connection, and by listening port for connections newer than the last
// poll (their first packets come before any poll can see them).
type ownerIndex struct {
	kx     *model.KernelIndex
	listen map[uint16]*model.Process
}

func newOwnerIndex(v *model.KernelView) *ownerIndex {
	x := &ownerIndex{kx: model.NewKernelIndex(v), listen: map[uint16]*model.Process{}}
	for i := range v.Sockets {
		s := &v.Sockets[i]
		if s.State == model.StateListen {
			if p := x.kx.Process(s); p != nil {
				x.listen[s.Local.Port()] = p
			}
		}
	}
	return x
}

// ownerComment names the process owning the sender's socket of a segment,
// for -w: the connection's own socket when the last poll saw it, else the
// listener on the sender's port (a server's accepted connection).
func (ls *liveSetup) ownerComment(seg *model.Segment) string {
	x := ls.owners.Load()
	if x == nil {
		return ""
	}
	f := model.Flow{A: seg.Src, B: seg.Dst}
	if s, _, ok := x.kx.Lookup(&f); ok {
		if p := x.kx.Process(s); p != nil {
			return capture.OwnerComment(int(p.PID), p.Command)
		}
	}
	if p := x.listen[seg.Src.Port()]; p != nil {
		return capture.OwnerComment(int(p.PID), p.Command)
	}
	return ""
}

// close stops the capture, then finishes the -w file (valid up to its last
// packet whatever happened before).
func (ls *liveSetup) close() error {
	err := ls.live.Close()
	if ls.writer != nil {
		if werr := ls.writer.Close(); werr != nil && err == nil {
			err = fmt.Errorf("write %s: %w", "capture file", werr)
		}
	}
	return err
}

func (ls *liveSetup) name() string {
	var names []string
	for _, i := range ls.live.Interfaces() {
		names = append(names, i.Name)
	}
	return "live: " + strings.Join(names, ", ")
}

// runPoller polls the kernel every period into out (latest wins) and keeps
// the newest index for -w comments.
func (ls *liveSetup) runPoller(ctx context.Context, every time.Duration, out chan *model.KernelView) {
	if ls.poller == nil {
		return
	}
	in := make(chan *model.KernelView, 1)
	go func() { _ = ls.poller.Run(ctx, every, in) }()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case v := <-in:
				if ls.writer != nil {
					ls.owners.Store(newOwnerIndex(v))
				}
				select {
				case out <- v:
				default:
					select { // replace the stale pending view
					case <-out:
					default:
					}
					out <- v
				}
			}
		}
	}()
}

// fileFilter compiles -f for a file: one program per link type met, run
// in the BPF VM before decoding.
func fileFilter(expr string) (capture.FilterFunc, error) {
	if _, err := filter.Compile(expr, uint16(capture.LinkEthernet), 0); err != nil {
		return nil, err // report syntax errors before reading anything
	}
	var mu sync.Mutex
	progs := map[uint16]*filter.Program{}
	bad := map[uint16]bool{}
	return func(data []byte, link uint16) bool {
		mu.Lock()
		p, ok := progs[link]
		if !ok && !bad[link] {
			var err error
			if p, err = filter.Compile(expr, link, 0); err != nil {
				bad[link] = true
			} else {
				progs[link] = p
			}
		}
		mu.Unlock()
		if p == nil {
			return false // a link type the filter cannot express: filtered out, counted
		}
		return p.Match(data)
	}, nil
}

// focusFilter turns --pid and --proc into display-filter terms, and'ed with
// --display.
func focusFilter(o options) string {
	var terms []string
	if o.filter != "" {
		terms = append(terms, "("+o.filter+")")
	}
	if o.pid != 0 {
		terms = append(terms, fmt.Sprintf("pid %d", o.pid))
	}
	if o.proc != "" {
		terms = append(terms, "proc "+o.proc)
	}
	return strings.Join(terms, " and ")
}

// liveReport is the headless live mode: capture until --duration,
// --count or Ctrl-C, then print the same report as for a file, with owners.
func liveReport(ctx context.Context, o options, stdout io.Writer) error {
	ls, err := openLive(o)
	if err != nil {
		return err
	}
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	// While capturing, the poller only serves -w's packet comments; the
	// report itself joins the kernel's view polled once at the end.
	pctx, stopPoll := context.WithCancel(ctx)
	if ls.writer != nil {
		ls.runPoller(pctx, o.poll, make(chan *model.KernelView, 1))
	}
	tbl := model.NewTable(model.Config{MaxFlows: o.maxFlows, Retention: int64(o.retention)})
	var (
		seg   model.Segment
		n     uint64
		last  int64
		ioErr error
	)
	for ctx.Err() == nil && (o.count == 0 || n < o.count) {
		err := ls.live.Next(&seg)
		if errors.Is(err, capture.ErrIdle) {
			continue
		}
		if err != nil {
			ioErr = err
			break
		}
		tbl.Apply(&seg)
		last = seg.TS
		n++
	}
	stopPoll()
	if last == 0 {
		last = time.Now().UnixNano()
	}
	snap := tbl.Snapshot(last)
	snap.Source = ls.live.Stats()
	name := ls.name()
	cerr := ls.close()
	var kx *model.KernelIndex
	if ls.poller != nil {
		if v, err := ls.poller.Poll(time.Now()); err == nil {
			kx = model.NewKernelIndex(&v)
		}
	}
	model.DiagnoseSnapshot(&snap, model.DiagOptions{Kernel: kx})
	if err := printResult(o, stdout, name, &snap, nil, kx, ioErr); err != nil {
		return err
	}
	if ioErr != nil {
		return ioErr
	}
	return cerr
}
