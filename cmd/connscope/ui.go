package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/tui"
)

// demoCapture is a small capture of typical failures recorded from real
// kernel traffic in network namespaces (see testdata/scenarios): a refused
// connection, a reset with unread data, an idle keep-alive race,
// retransmissions and a zero window. --demo replays it so that a newcomer
// sees the tool working with no root and no traffic.
//
//go:embed demo/demo.pcap
var demoCapture []byte

// replayEndThreshold: files larger than this open at their end by default
// (--replay=auto), since playing them from the start is rarely wanted.
const replayEndThreshold = 64 << 20

// uiSource is an opened packet source for the UI.
type uiSource struct {
	src   capture.Source
	name  string
	live  bool
	atEnd bool
	note  string // why there is no kernel view
	close func() error
	// reopen opens the source again from its start, for saving a flow's
	// packets; nil when the source cannot be read twice (stdin, live).
	reopen func() (*capture.File, error)
	// kernel carries owners rebuilt from a file's packet comments.
	kernel chan *model.KernelView
}

// ownerSource reads a capture file and collects the owners its packet
// comments name (a -w capture), publishing them as a kernel view so that a
// replay shows which process owned each connection.
type ownerSource struct {
	f      *capture.File
	owners *commentOwners
	out    chan *model.KernelView
	n      int
}

func (s *ownerSource) Next(seg *model.Segment) error {
	err := s.f.Next(seg)
	if err != nil {
		s.publish()
		return err
	}
	s.owners.observe(seg, s.f.Comment())
	if s.n++; s.n%(1<<16) == 0 {
		s.publish()
	}
	return nil
}

func (s *ownerSource) Stats() model.SourceStats { return s.f.Stats() }

// AddQueueDrops keeps queue drops in the file's counters.
func (s *ownerSource) AddQueueDrops(n uint64) { s.f.AddQueueDrops(n) }

// publish hands over the owners seen so far, latest wins.
func (s *ownerSource) publish() {
	v := s.owners.view()
	if v == nil {
		return
	}
	select {
	case s.out <- v:
	default:
		select {
		case <-s.out:
		default:
		}
		s.out <- v
	}
}

func openFileSource(o options, stdin io.Reader) (*uiSource, error) {
	if o.demo {
		f, err := capture.NewReader("demo", bytes.NewReader(demoCapture))
		if err != nil {
			return nil, fmt.Errorf("demo capture: %w", err)
		}
		return &uiSource{src: f, name: "demo (embedded capture)", note: "no process data: replaying the demo capture", close: f.Close,
			atEnd:  o.replay == "end",
			reopen: func() (*capture.File, error) { return capture.NewReader("demo", bytes.NewReader(demoCapture)) }}, nil
	}
	f, err := openCapture(o.read, stdin)
	if err != nil {
		return nil, err
	}
	if o.capFilter != "" {
		fn, err := fileFilter(o.capFilter)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.SetFilter(fn)
	}
	atEnd := o.replay == "end"
	if o.replay == "auto" && o.read != "-" {
		if st, err := os.Stat(o.read); err == nil && st.Size() > replayEndThreshold {
			atEnd = true
		}
	}
	name := o.read
	if name == "-" {
		name = "stdin"
	}
	kernel := make(chan *model.KernelView, 1)
	src := &ownerSource{f: f, owners: newCommentOwners(), out: kernel}
	s := &uiSource{src: src, name: name, atEnd: atEnd, note: "no process data: replaying a file (a capture written with -w carries its owners)",
		close: f.Close, kernel: kernel}
	if o.read != "-" {
		s.reopen = func() (*capture.File, error) { return capture.Open(o.read) }
	}
	return s, nil
}

func runUI(ctx context.Context, o options, stdin io.Reader, stdout, stderr io.Writer) error {
	if o.read == "" && !o.demo {
		ls, err := openLive(o)
		switch {
		case err == nil:
			defer ls.close()
			s := &uiSource{src: ls.live, name: ls.name(), live: true, note: ls.pollErr, close: func() error { return nil }}
			return runPipeline(ctx, o, s, ls)
		case errors.Is(err, capture.ErrPrivilege) && len(o.ifaces) == 0:
			// No privilege and no interface asked for: show the demo
			// rather than nothing, and say why.
			fmt.Fprintf(stderr, "connscope: %v; showing the embedded demo capture (-r FILE replays a capture)\n", err)
			o.demo = true
			s, derr := openFileSource(o, stdin)
			if derr != nil {
				return derr
			}
			defer s.close()
			s.name = "demo: " + err.Error()
			return runPipeline(ctx, o, s, nil)
		default:
			return err
		}
	}
	s, err := openFileSource(o, stdin)
	if err != nil {
		return err
	}
	defer s.close()
	return runPipeline(ctx, o, s, nil)
}

// runPipeline wires source -> tracker -> UI: capture.Run batches segments
// on its own goroutine, the tracker owns the table and publishes
// snapshots, and the UI pulls the latest one on its own tick.
func runPipeline(ctx context.Context, o options, s *uiSource, ls *liveSetup) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kernel := s.kernel
	if ls != nil {
		kernel = make(chan *model.KernelView, 1)
		ls.runPoller(ctx, o.poll, kernel)
	}
	tr := model.NewTracker(model.TrackerConfig{
		Table:      model.Config{MaxFlows: o.maxFlows, Retention: int64(o.retention)},
		Live:       s.live,
		Now:        func() int64 { return time.Now().UnixNano() },
		Source:     s.src.Stats,
		StartAtEnd: s.atEnd,
		Diagnose:   true,
	})
	segs := make(chan []model.Segment, 64)
	srcErr := make(chan error, 1)
	go func() {
		srcErr <- capture.Run(ctx, s.src, segs, capture.RunOptions{Live: s.live})
		close(segs)
	}()
	trDone := make(chan struct{})
	go func() {
		defer close(trDone)
		_ = tr.Run(ctx, segs, kernel)
	}()
	uiErr := tui.Run(ctx, tui.Options{
		Feed:       tr,
		Source:     s.name,
		Live:       s.live,
		KernelNote: s.note,
		Filter:     focusFilter(o),
		Findings:   func(f *model.Flow) []model.Finding { return f.Findings },
		Save:       s.saver(),
	})
	cancel()
	<-trDone
	if uiErr != nil {
		return uiErr
	}
	// A source that ended in error (a truncated file) was shown up to the
	// cut; say why it ended once the screen is restored.
	select {
	case err := <-srcErr:
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
			return err
		}
	default:
	}
	return nil
}

// saver returns the UI's `w` action: it reads the source again and writes
// every packet of the flow (by its endpoints, between its first and last
// frame) to a pcapng file in the current directory.
func (s *uiSource) saver() func(context.Context, tui.SaveRequest) (string, error) {
	return func(_ context.Context, req tui.SaveRequest) (string, error) {
		if s.live {
			return "", errors.New("saving a flow needs a capture file: capture with -w FILE, then open it with -r FILE")
		}
		if s.reopen == nil {
			return "", errors.New("saving needs a capture file that can be read again (not stdin)")
		}
		src, err := s.reopen()
		if err != nil {
			return "", err
		}
		defer src.Close()
		f := req.Flow
		dst := fmt.Sprintf("connscope-flow-%d.pcapng", f.ID)
		keep := func(seg *model.Segment) bool {
			return (seg.Src == f.A && seg.Dst == f.B) || (seg.Src == f.B && seg.Dst == f.A)
		}
		if _, err := capture.Extract(src, dst, f.FirstFrame, f.LastFrame, keep); err != nil {
			return "", err
		}
		if abs, err := filepath.Abs(dst); err == nil {
			dst = abs
		}
		return dst, nil
	}
}
