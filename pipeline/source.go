package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/capture/filter"
	"github.com/connscope/connscope/kevents"
	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/procinfo"
)

// source is an opened input: the packet source and what comes with it
// (the -w writer and kernel poller of a live capture, the owners a file's
// packet comments name).
type source struct {
	// mu guards src, file and comments, which a restart replaces on the
	// capture goroutine while the tracker reads the counters.
	mu   sync.Mutex
	src  capture.Source
	name string
	live bool
	// file is set for file inputs (comments, reopening).
	file *capture.File
	// comments collects the owners a -w capture's packet comments name,
	// published to ownersBox every so many segments and at the end.
	comments  *commentOwners
	ownersBox *Mailbox[*model.KernelView]
	nseg      int
	// reopen opens the input again from its start (saving a flow's
	// packets, a replay from the start); nil when it cannot be read twice
	// (stdin, live).
	reopen func() (*capture.File, error)
	// filter is the capture filter of a file, set again on a reopen.
	filter capture.FilterFunc

	liveCap *capture.Live
	writer  *capture.Writer
	poller  *procinfo.Poller
	// kev reads the kernel's events (nil: none); kevNote says what of
	// them is missing and why ("" when everything is there).
	kev     *kevents.Source
	kevNote string
	// ownerIx is the latest kernel view indexed for -w comments (read on
	// the capture goroutine).
	ownerIx atomic.Pointer[ownerIndex]
	// note says why there is no kernel view, when known at open.
	note string
}

// Next reads the next segment and, for a file, records the owner its
// packet comment names.
func (s *source) Next(seg *model.Segment) error {
	err := s.src.Next(seg)
	if s.comments == nil {
		return err
	}
	if err != nil {
		if !errors.Is(err, capture.ErrIdle) {
			s.publishOwners()
		}
		return err
	}
	s.comments.observe(seg, s.file.Comment())
	if s.nseg++; s.nseg%(1<<16) == 0 {
		s.publishOwners()
	}
	return nil
}

// Stats returns the packet source's counters.
func (s *source) Stats() model.SourceStats {
	s.mu.Lock()
	src := s.src
	s.mu.Unlock()
	return src.Stats()
}

// restart opens the file again from its start, for a replay from the
// first packet; the previous reading must have ended.
func (s *source) restart() error {
	if s.reopen == nil {
		return errors.New("replay from the start needs a file that can be read again (not stdin or a live capture)")
	}
	f, err := s.reopen()
	if err != nil {
		return err
	}
	if s.filter != nil {
		f.SetFilter(s.filter)
	}
	s.mu.Lock()
	old := s.file
	s.src, s.file, s.nseg = f, f, 0
	s.comments = newCommentOwners()
	s.mu.Unlock()
	return old.Close()
}

// runSource is what capture.Run reads: the source itself, or for a live
// capture the source with the capture's NextBatch, so that Run takes it a
// batch at a time and leaves its backlog in the kernel rings.
func (s *source) runSource() capture.Source {
	if s.liveCap != nil {
		return liveBatches{s}
	}
	return s
}

// liveBatches is a live source as a capture.BatchSource.
type liveBatches struct{ *source }

// NextBatch reads the live capture's segments a batch at a time (a live
// source has no packet comments to record).
func (b liveBatches) NextBatch(dst []model.Segment, deadline time.Time, cancel <-chan struct{}) ([]model.Segment, error) {
	return b.liveCap.NextBatch(dst, deadline, cancel)
}

// AddQueueDrops keeps capture.Run's queue drops in the source's counters.
func (s *source) AddQueueDrops(n uint64) {
	if d, ok := s.src.(capture.DropCounter); ok {
		d.AddQueueDrops(n)
	}
}

// publishOwners hands over the owners seen so far, latest wins.
func (s *source) publishOwners() {
	if v := s.comments.view(); v != nil {
		s.ownersBox.Put(v)
	}
}

// close stops the capture, then finishes the -w file (valid up to its last
// packet whatever happened before).
func (s *source) close() error {
	var err error
	if s.liveCap != nil {
		err = s.liveCap.Close()
	}
	if s.kev != nil {
		s.kev.Close()
	}
	if s.file != nil {
		err = s.file.Close()
	}
	if s.writer != nil {
		// The Writer's errors name the file already.
		if werr := s.writer.Close(); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// openSource opens the input cfg names.
func openSource(cfg *Config) (*source, error) {
	if cfg.Live != nil {
		return openLive(cfg)
	}
	var f *capture.File
	var err error
	s := &source{ownersBox: NewMailbox[*model.KernelView]()}
	if cfg.Source != nil {
		s.src, s.name = cfg.Source, cfg.SourceName
		s.note = "no process data: " + cfg.SourceName
		return s, nil
	}
	switch {
	case cfg.Demo != nil:
		demo := cfg.Demo
		f, err = capture.NewReader("demo", bytes.NewReader(demo))
		if err != nil {
			return nil, fmt.Errorf("demo capture: %w", err)
		}
		s.name = "demo"
		s.note = "no process data: replaying the demo capture"
		s.reopen = func() (*capture.File, error) { return capture.NewReader("demo", bytes.NewReader(demo)) }
	case cfg.File == "-":
		f, err = capture.NewReader("stdin", cfg.Stdin)
		if err != nil {
			return nil, err
		}
		s.name = "stdin"
	case cfg.File != "":
		f, err = capture.Open(cfg.File)
		if err != nil {
			return nil, err
		}
		s.name = cfg.File
		path := cfg.File
		s.reopen = func() (*capture.File, error) { return capture.Open(path) }
	default:
		return nil, errors.New("pipeline: no input: set Live, File or Demo")
	}
	if s.note == "" {
		s.note = "no process data: replaying a file (a capture written with -w carries its owners)"
	}
	if cfg.Filter != "" {
		fn, err := fileFilter(cfg.Filter)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.SetFilter(fn)
		s.filter = fn
	}
	s.src, s.file = f, f
	s.comments = newCommentOwners()
	return s, nil
}

// openLive opens every requested interface (all that are up by default),
// the -w file and the kernel poller.
func openLive(cfg *Config) (*source, error) {
	lc := cfg.Live
	s := &source{live: true, ownersBox: NewMailbox[*model.KernelView]()}
	if !cfg.NoProcinfo {
		p, err := procinfo.New(procinfo.Config{})
		if err != nil {
			s.note = "no process data: " + err.Error()
		} else {
			s.poller = p
		}
	} else {
		s.note = "no process data: --no-procinfo"
	}
	lo := capture.LiveOptions{Interfaces: lc.Interfaces, Snaplen: lc.Snaplen, Filter: cfg.Filter}
	if lc.Recorder != nil {
		lo.OnSegment = lc.Recorder.Add
	}
	if lc.Write != "" {
		w, err := capture.CreateWriter(lc.Write, capture.WriterOptions{})
		if err != nil {
			return nil, err
		}
		s.writer = w
		lo.Writer = w
		lo.Comment = s.ownerComment
	}
	l, err := capture.OpenLive(lo)
	if err != nil {
		if s.writer != nil {
			s.writer.Close()
		}
		return nil, err
	}
	s.liveCap, s.src = l, l
	switch {
	case cfg.NoKernelEvents:
		s.kevNote = "kernel events off: --no-kernel-events"
	default:
		kev, err := kevents.Open(kevents.Options{})
		if err != nil {
			s.kevNote = err.Error()
			break
		}
		s.kev = kev
		if len(kev.Status().Missing()) > 0 {
			s.kevNote = kev.Status().String()
		}
	}
	var names []string
	for _, i := range l.Interfaces() {
		names = append(names, i.Name)
	}
	s.name = "live: " + strings.Join(names, ", ")
	return s, nil
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
func (s *source) ownerComment(seg *model.Segment) string {
	x := s.ownerIx.Load()
	if x == nil {
		return ""
	}
	f := model.Flow{A: seg.Src, B: seg.Dst}
	if sock, _, ok := x.kx.Lookup(&f); ok {
		if p := x.kx.Process(sock); p != nil {
			return capture.OwnerComment(int(p.PID), p.Command)
		}
	}
	if p := x.listen[seg.Src.Port()]; p != nil {
		return capture.OwnerComment(int(p.PID), p.Command)
	}
	return ""
}

// fileFilter compiles a capture filter for a file: one program per link
// type met, run in the BPF VM before decoding.
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

// saveFlow reads the input again and writes every packet of f (by its
// endpoints, between its first and last frame) to the pcapng file dst,
// which must not exist yet. It returns the file's absolute path.
func (s *source) saveFlow(f *model.Flow, dst string) (string, error) {
	switch {
	case s.live:
		return "", errors.New("saving a flow needs a capture file: capture with -w FILE, then open it with -r FILE")
	case s.reopen == nil:
		return "", errors.New("saving needs a capture file that can be read again (not stdin)")
	case f.Kind != model.FlowWire:
		return "", errors.New("no packet of this socket was captured: nothing to write")
	}
	if _, err := os.Lstat(dst); err == nil {
		return "", fmt.Errorf("%s exists: not overwritten", dst)
	}
	src, err := s.reopen()
	if err != nil {
		return "", err
	}
	defer src.Close()
	a, b := f.A, f.B
	keep := func(seg *model.Segment) bool {
		return (seg.Src == a && seg.Dst == b) || (seg.Src == b && seg.Dst == a)
	}
	if _, err := capture.Extract(src, dst, f.FirstFrame, f.LastFrame, keep); err != nil {
		return "", err
	}
	if abs, err := filepath.Abs(dst); err == nil {
		dst = abs
	}
	return dst, nil
}
