package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/model"
)

// Config says what a pipeline reads and how its views are made. Exactly
// one input is set: Live, Demo, File or Source.
type Config struct {
	// Live captures live when set.
	Live *LiveConfig
	// Demo is a capture held in memory (the embedded demo).
	Demo []byte
	// File is a capture file's path; "-" reads Stdin.
	File  string
	Stdin io.Reader
	// Source is a source already opened (a synthetic one in a benchmark
	// or test), named SourceName; it is read like a file.
	Source     capture.Source
	SourceName string
	// Filter is the capture filter (pcap-filter syntax): attached in the
	// kernel live, run in the BPF VM on a file.
	Filter string

	// Table bounds the flow table (--max-flows, --retention).
	Table model.Config
	// Display is the display filter; PID and Proc narrow to one process
	// (--pid, --proc). Together they are the selection: the UI starts
	// with them, the report and the JSON print only what they keep, and
	// Snapshot.Processes holds only the processes they name.
	Display string
	PID     int
	Proc    string
	// SocketFilter, when set, decides which sockets of the kernel's view
	// without packets become rows (the interfaces and capture filter of a
	// live capture limit them as they limit packets).
	SocketFilter func(*model.Socket) bool

	// Interactive runs the UI's tracker: a file replay is paced by
	// Control (starting paused on its first packet, or at its end with
	// StartAtEnd) and snapshots are published a few times a second until
	// the context ends. Otherwise the source is read as fast as possible
	// and one final snapshot is made when it ends (headless).
	Interactive bool
	StartAtEnd  bool
	// PublishEvery is the time between interactive snapshots (default
	// DefaultPublishEvery).
	PublishEvery time.Duration

	// Poll is how often a live pipeline reads the kernel's view (default
	// 1 s); NoProcinfo turns it off.
	Poll       time.Duration
	NoProcinfo bool
	// NoKernelEvents keeps a live pipeline from reading the kernel's
	// events (tracepoints: reset reasons, every socket's states and
	// owner, drops).
	NoKernelEvents bool

	// Count stops a headless live capture after that many TCP segments
	// (0: no limit); a deadline on Run's context stops it after a time.
	Count uint64

	// OnRemove, when set, receives each flow the table drops before the
	// end (evicted by the flow cap, or expired after its retention),
	// diagnosed and joined, if the selection keeps it: a headless run
	// streams them instead of keeping them. It is called on the
	// pipeline's goroutine; the entry is valid only during the call.
	OnRemove func(e *model.FlowEntry, evicted bool)

	// EndRows, when set, receives the rows of a headless run's end one
	// by one, in the order a snapshot holds them (kernel-only rows last),
	// diagnosed and joined, the ones the selection keeps: the table is
	// not copied into a final snapshot, and Latest then returns that
	// snapshot without its flows and rows (its counters, kernel view,
	// processes and their findings). It is called from one goroutine of
	// the pipeline's, a row at a time, while another prepares the next
	// rows; the entry and its flow are valid only during the call. An
	// error it returns ends the rows; EndErr returns it.
	EndRows func(e *model.FlowEntry) error

	// OnFinding, when set, receives each finding once, when it is first
	// raised on a row (a flow or a kernel-only socket): live findings as
	// they happen. It is called on the pipeline's goroutine (at the end
	// of an EndRows run, on the goroutine that calls EndRows), never
	// concurrently with itself, OnRemove or EndRows; the event is valid
	// only during the call.
	OnFinding func(ev FindingEvent)
	// OnSnapshot, when set, receives every snapshot a headless live run
	// publishes (every PublishEvery, default 1 s) before its final one:
	// watch mode, where metrics are read from the newest snapshot.
	OnSnapshot func(s *model.Snapshot)

	// Clock returns the wall clock (default time.Now); tests replace it.
	Clock func() time.Time
}

// FindingEvent is a finding raised for the first time on a row or a
// process.
type FindingEvent struct {
	// Now is the time of the snapshot (or removal) that raised it.
	Now int64
	// Row is the row it is about, nil for a process finding; valid only
	// during the call.
	Row *model.FlowEntry
	// Process is the process finding, nil for a row's; valid only during
	// the call.
	Process *model.ProcessFinding
	// Finding is the finding raised; valid only during the call.
	Finding *model.Finding
}

// LiveConfig configures a live capture.
type LiveConfig struct {
	// Interfaces to capture on; empty means every interface that is up.
	Interfaces []string
	// Snaplen is the bytes kept per packet (0: headers only).
	Snaplen int
	// Write, when set, also writes the captured packets to this pcapng
	// file, with the owning process in each packet's comment.
	Write string
	// Recorder, when set, is handed each TCP segment with its packet as
	// it is read (the flight recorder of watch mode; the caller saves
	// evidence from OnFinding with Recorder.Save).
	Recorder *Recorder
}

func (c *Config) clock() time.Time {
	if c.Clock != nil {
		return c.Clock()
	}
	return time.Now()
}

// Pipeline carries packets from a source through the flow table, the
// kernel join and the diagnosis to snapshots. Open it, then Run it; the UI
// reads it as a tui.Feed while it runs, a headless run reads Latest once
// Run has returned.
type Pipeline struct {
	cfg   Config
	src   *source
	probs *problems
	c     *core
	tr    *tracker // interactive only

	kernelBox *Mailbox[*model.KernelView]
	// events carries the kernel's event batches from their reader to the
	// goroutine that owns the table; a full channel drops (counted by the
	// reader).
	events  chan []model.KernelEvent
	final   atomic.Pointer[model.Snapshot]
	srcErr  error
	endErr  error
	applied uint64
}

// ErrDisplayFilter wraps an invalid display filter; errors.As with
// *model.FilterError gives its position.
var ErrDisplayFilter = errors.New("display filter")

// Open compiles the selection and opens the input. Errors name the file,
// the interface or the filter at fault.
func Open(cfg Config) (*Pipeline, error) {
	sel, err := selection(&cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	p := &Pipeline{cfg: cfg, probs: &problems{}, kernelBox: NewMailbox[*model.KernelView]()}
	src, err := openSource(&p.cfg)
	if err != nil {
		return nil, err
	}
	p.src = src
	p.c = newCore(&p.cfg, p.probs, sel)
	p.c.note = src.note
	p.c.eventsNote = src.kevNote
	if src.kev != nil {
		p.c.events = model.NewKernelEvents(model.KernelEventsConfig{})
		p.c.kev = src.kev
		p.events = make(chan []model.KernelEvent, 64)
	}
	if src.writer != nil {
		p.c.writeErr = src.writer.Err
	}
	if src.live && src.poller != nil {
		p.c.note = "waiting for the first socket poll"
	}
	if cfg.Interactive {
		p.tr = newTracker(p.c, &p.cfg, src.Stats, src.live)
		if src.reopen != nil {
			p.tr.restart = make(chan struct{}, 1)
		}
	}
	return p, nil
}

// selection compiles the display filter and --pid/--proc into one filter.
func selection(cfg *Config) (*model.Filter, error) {
	if cfg.Display != "" {
		// Alone first, so an error's column points into what was typed.
		if _, err := model.ParseFilter(cfg.Display); err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrDisplayFilter, cfg.Display, err)
		}
	}
	text := SelectionText(cfg.Display, cfg.PID, cfg.Proc)
	if text == "" {
		return nil, nil
	}
	f, err := model.ParseFilter(text)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrDisplayFilter, text, err)
	}
	return f, nil
}

// SelectionText is the display filter of a selection: the display filter
// and the --pid and --proc terms, and'ed.
func SelectionText(display string, pid int, proc string) string {
	var terms []string
	if display != "" {
		terms = append(terms, "("+display+")")
	}
	if pid != 0 {
		terms = append(terms, fmt.Sprintf("pid %d", pid))
	}
	if proc != "" {
		terms = append(terms, "proc "+proc)
	}
	out := ""
	for i, t := range terms {
		if i > 0 {
			out += " and "
		}
		out += t
	}
	return out
}

// Name names the input for a status line: the file, "stdin", "demo", or
// "live: " and the interfaces. It is raw: sanitise it for a terminal.
func (p *Pipeline) Name() string { return p.src.name }

// IsLive reports a live capture.
func (p *Pipeline) IsLive() bool { return p.src.live }

// Run runs the pipeline until the source ends (headless) or ctx ends
// (interactive, or a headless run interrupted), joining every goroutine it
// started before it returns. It returns the error that ended the source
// early (a file cut short, a capture that failed), ctx's error when ctx
// ended a headless run, or an error writing the -w file (which wins over
// ctx's); everything read before any of them is in the final snapshot.
// An interactive run ended by ctx (the UI quit) returns nil. Run must be
// called once.
func (p *Pipeline) Run(ctx context.Context) error {
	var err error
	if p.cfg.Interactive {
		err = p.runInteractive(ctx)
	} else {
		err = p.runHeadless(ctx)
	}
	if cerr := p.src.close(); cerr != nil {
		p.probs.add("write", cerr.Error())
		// A -w file left incomplete is worth more than how the run
		// ended: it is the error returned.
		if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			err = cerr
		}
	}
	return err
}

func (p *Pipeline) runInteractive(ctx context.Context) error {
	g := newGroup(ctx)
	if p.src.poller != nil {
		g.Go("kernel view", false, p.probs, p.poll)
	}
	p.startEvents(g)
	pool := capture.NewBatchPool(64, 0)
	p.tr.release = pool.Put
	g.Go("capture", false, nil, func(ctx context.Context) error {
		return p.read(ctx, pool)
	})
	g.Go("tracker", true, nil, func(ctx context.Context) error {
		return p.tr.run(ctx, p.kernelBox, p.src.ownersBox, p.events)
	})
	if err := g.Wait(); err != nil {
		return err
	}
	return p.srcErr
}

// read runs the capture side of an interactive pipeline: it reads the
// source into a new channel for the tracker, and on a restart stops that
// reading, opens the file again and starts over.
func (p *Pipeline) read(ctx context.Context, pool *capture.BatchPool) error {
	for {
		segs := make(chan []model.Segment, 64)
		select {
		case p.tr.inputs <- segs:
		case <-ctx.Done():
			return nil
		}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- capture.Run(rctx, p.src.runSource(), segs, capture.RunOptions{Live: p.src.live, Pool: pool})
			close(segs)
		}()
		var err error
		restart := false
		select {
		case err = <-done:
			select { // the end of the source: wait for a restart or the end
			case <-p.tr.restart:
				restart = true
			case <-ctx.Done():
			}
		case <-p.tr.restart:
			restart = true
			stop()
			<-done
		case <-ctx.Done():
			stop()
			err = <-done
		}
		stop()
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, context.Canceled) {
			p.srcErr = err
			p.probs.add("capture", err.Error())
		}
		if !restart {
			return nil
		}
		if err := p.src.restart(); err != nil {
			p.probs.add("capture", err.Error())
			return nil
		}
		p.srcErr = nil
	}
}

// startEvents runs the kernel event reader, if any.
func (p *Pipeline) startEvents(g *group) {
	if p.src.kev == nil {
		return
	}
	g.Go("kernel events", false, p.probs, func(ctx context.Context) error {
		return p.src.kev.Run(ctx, p.events)
	})
}

func (p *Pipeline) runHeadless(ctx context.Context) error {
	g := newGroup(ctx)
	if p.src.poller != nil {
		g.Go("kernel view", false, p.probs, p.poll)
	}
	p.startEvents(g)
	now := p.drain(ctx)
	g.Stop()
	_ = g.Wait()
	p.takeEvents()
	if p.src.poller != nil {
		// The report shows the kernel's state at its end: poll once more
		// now that the capture is over.
		if v, err := p.src.poller.Poll(p.cfg.clock()); err == nil {
			p.c.setKernel(&v)
		} else {
			p.probs.add("kernel view", err.Error())
		}
	}
	p.takeKernel()
	p.c.now = now
	p.c.table.Expire(now)
	if p.cfg.EndRows != nil {
		snap, err := p.c.stream(now, p.src.Stats(), p.cfg.EndRows)
		p.final.Store(snap)
		p.endErr = err
		return p.srcErr
	}
	p.final.Store(p.c.snapshot(now, p.src.Stats()))
	return p.srcErr
}

// headlessShare bounds the time a headless live run spends on its
// periodic snapshots (see drain): at most one part in headlessShare+1.
const headlessShare = 20

// drain reads the source to its end (or ctx's, or Count) through the
// table, on the calling goroutine: the fastest path. It returns the time
// the final snapshot describes.
func (p *Pipeline) drain(ctx context.Context) int64 {
	c, src := p.c, p.src
	var seg model.Segment
	var last int64
	// A live run makes a snapshot every second as it goes, so that what
	// the kernel proved while it could see it (a queue, a socket, a
	// process since gone) stays in the final one; a consumer of snapshots
	// gets them.
	watch := src.live && (p.cfg.OnSnapshot != nil || p.cfg.OnFinding != nil || c.kernel != nil || p.src.poller != nil)
	every := p.cfg.PublishEvery
	if every <= 0 {
		every = time.Second
	}
	next := p.cfg.clock().Add(every)
	read := src.Next
	if !src.live && src.reopen != nil {
		// A file (not a pipe, which a signal must be able to leave
		// blocked): read it a batch ahead on another goroutine.
		ra := newReadAhead(src.Next)
		defer ra.stop()
		read = ra.Next
	}
	for n := uint64(0); ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil && p.srcErr == nil {
				p.srcErr = err
				if src.liveCap == nil {
					break
				}
				// Take in what the capture has read, which its counters
				// hold and -w must write, up to its io.EOF.
				src.liveCap.Stop()
			}
			p.takeKernel()
			p.takeEvents()
			c.table.Expire(p.expireNow(last))
			if now := p.cfg.clock(); watch && !now.Before(next) {
				c.now = now.UnixNano()
				snap := c.snapshot(c.now, src.Stats())
				p.final.Store(snap)
				if p.cfg.OnSnapshot != nil {
					p.cfg.OnSnapshot(snap)
				}
				// A snapshot of a large table is long: the next waits
				// headlessShare times as long, so they cost at most a
				// part in headlessShare+1 of the run (a host churning
				// TIME-WAIT sockets by the hundred thousand).
				next = now.Add(max(every, p.cfg.clock().Sub(now)*headlessShare))
			}
		}
		err := read(&seg)
		if errors.Is(err, capture.ErrIdle) {
			n = 1023 // check the context, the kernel view and expiry next
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if p.srcErr == nil {
				p.srcErr = err
			}
			break
		}
		c.now = seg.TS
		c.table.Apply(&seg)
		last = seg.TS
		p.applied++
		if p.cfg.Count > 0 && p.applied >= p.cfg.Count {
			break
		}
	}
	if src.live || last == 0 {
		return p.cfg.clock().UnixNano()
	}
	return last
}

// expireNow is the time retention runs to: wall time live, the last
// packet's time in a file.
func (p *Pipeline) expireNow(last int64) int64 {
	if p.src.live {
		return p.cfg.clock().UnixNano()
	}
	return last
}

// takeEvents applies the kernel event batches waiting (headless).
func (p *Pipeline) takeEvents() {
	for p.events != nil {
		select {
		case b := <-p.events:
			p.c.addEvents(b)
		default:
			return
		}
	}
}

// takeKernel adopts a kernel view or comment owners waiting in their
// mailboxes (headless).
func (p *Pipeline) takeKernel() {
	if v, ok := p.kernelBox.Take(); ok {
		p.c.setKernel(v)
	}
	if p.src.ownersBox != nil {
		if v, ok := p.src.ownersBox.Take(); ok {
			p.c.setKernel(v)
		}
	}
}

// poll reads the kernel's view every Poll until ctx ends, latest wins. A
// failed first poll says why there will be no kernel view; later
// failures are problems.
func (p *Pipeline) poll(ctx context.Context) error {
	tick := time.NewTicker(p.cfg.Poll)
	defer tick.Stop()
	for first := true; ; first = false {
		v, err := p.src.poller.Poll(p.cfg.clock())
		switch {
		case err != nil && first:
			msg := err.Error()
			p.c.pollErr.Store(&msg)
			p.probs.add("kernel view", msg)
		case err != nil:
			p.probs.add("kernel view", "poll failed: "+err.Error())
		default:
			if p.src.writer != nil {
				p.src.ownerIx.Store(newOwnerIndex(&v))
			}
			p.kernelBox.Put(&v)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// EndErr returns the error that ended EndRows' rows early, if any.
func (p *Pipeline) EndErr() error { return p.endErr }

// Latest returns the newest published snapshot: interactive, the one the
// tracker published last (nil before the first); headless, the final one
// once Run has returned (a watching live run also publishes as it goes;
// nil before the first).
func (p *Pipeline) Latest() *model.Snapshot {
	if p.tr != nil {
		return p.tr.latest.Load()
	}
	return p.final.Load()
}

// Replay returns where a file replay stands.
func (p *Pipeline) Replay() model.ReplayStatus {
	if p.tr != nil {
		return *p.tr.status.Load()
	}
	return model.ReplayStatus{Live: p.src.live, Ended: p.final.Load() != nil, Applied: p.applied}
}

// Control sends a replay command; it never blocks, and live or headless
// pipelines ignore it.
func (p *Pipeline) Control(op model.ReplayOp) {
	if p.tr != nil {
		p.tr.control(op)
	}
}

// Packets copies one flow's packet log (interactive only).
func (p *Pipeline) Packets(id model.FlowID) (model.FlowPackets, bool) {
	if p.tr == nil {
		return model.FlowPackets{}, false
	}
	return p.tr.packets(id)
}

// SaveFlow reads a file input again and writes every packet of f to the
// pcapng file dst, which must not exist. It returns the absolute path.
func (p *Pipeline) SaveFlow(f *model.Flow, dst string) (string, error) {
	return p.src.saveFlow(f, dst)
}

// Keep reports whether the selection keeps a row of a snapshot taken at
// now.
func (p *Pipeline) Keep(e *model.FlowEntry, now int64) bool { return p.c.keep(e, now) }

// Selection returns the selection's display-filter text ("" for none).
func (p *Pipeline) Selection() string {
	return SelectionText(p.cfg.Display, p.cfg.PID, p.cfg.Proc)
}
