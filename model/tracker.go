package model

import (
	"context"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// TrackerConfig configures a Tracker. Zero values take defaults.
type TrackerConfig struct {
	// Table bounds the flow table. Its OnRemove, if set, is still called.
	Table Config
	// Packets bounds the per-flow packet log of the drill-down.
	Packets PacketLogConfig
	// PublishEvery is the wall time between snapshots (default 200 ms).
	PublishEvery time.Duration
	// Live is set for a live source: every segment is applied as it
	// arrives, snapshots carry wall time, and replay commands are ignored.
	// Otherwise the source is a file replayed under the UI's control.
	Live bool
	// Now returns the wall clock in Unix nanoseconds. model never reads
	// the clock itself: without Now, the tracker uses the times its own
	// tickers deliver (accurate to a tick).
	Now func() int64
	// Source returns the packet source's counters for the snapshots
	// (capture's Stats); nil counts the applied segments instead.
	Source func() SourceStats
	// Diagnose runs the diagnosis on every published snapshot (filling
	// Flow.Findings and Reset.Cause).
	Diagnose bool
	// StartAtEnd makes a replay jump to the end at once (--replay=end);
	// otherwise it starts paused after the first packet.
	StartAtEnd bool
	// Release, when set, gets every batch back once all of it is applied,
	// so the source can reuse it (capture's BatchPool.Put).
	Release func([]Segment)
}

// DefaultPublishEvery is the default time between published snapshots.
const DefaultPublishEvery = 200 * time.Millisecond

// paceEvery is how often a replay playing at a finite speed checks which
// packets are due: fine enough for x1, cheap when idle.
const paceEvery = 10 * time.Millisecond

// Tracker owns the flow table and the packet log: one goroutine (Run)
// applies segment batches, paces file replays, merges the latest kernel
// view and publishes an immutable Snapshot a few times a second. Readers
// on other goroutines (the UI) use Latest, Kernel, Replay and Packets,
// none of which waits for more than one batch; Control never blocks.
type Tracker struct {
	cfg   TrackerConfig
	every time.Duration
	table *Table

	// mu guards the packet log, which the UI copies from; Run holds it
	// while applying a batch, not per segment.
	mu  sync.Mutex
	log *PacketLog

	latest atomic.Pointer[Snapshot]
	kernel atomic.Pointer[KernelIndex]
	status atomic.Pointer[ReplayStatus]
	ctl    chan ReplayOp

	// Owned by Run.
	seq      uint64
	pending  []Segment // the batch being applied
	pos      int       // next segment of pending
	srcDone  bool
	applied  uint64
	first    int64 // first packet's time
	lastTS   int64 // last applied packet's time
	pace     pacer
	steps    int // packets still to apply for step commands
	toEnd    bool
	ended    bool
	lastTick int64 // wall time of the latest ticker fire, when Now is nil
	// dirty is set when the table changed since the last publish: a paused
	// replay then publishes nothing new, so the UI rebuilds nothing.
	dirty bool
	// notBefore is the wall time before which the ticker does not publish
	// again: copying a huge table must not eat the tracker's time (see
	// publishShare).
	notBefore int64
}

// publishShare bounds the tracker's time spent copying snapshots: after a
// snapshot that took d, the next waits at least d*publishShare, so at most
// one part in publishShare+1 goes to snapshots (it matters beyond about a
// hundred thousand flows).
const publishShare = 4

// NewTracker returns a tracker; call Run to start it.
func NewTracker(cfg TrackerConfig) *Tracker {
	tr := &Tracker{cfg: cfg, every: cfg.PublishEvery, ctl: make(chan ReplayOp, 64)}
	if tr.every <= 0 {
		tr.every = DefaultPublishEvery
	}
	tr.log = NewPacketLog(cfg.Packets)
	tcfg := cfg.Table
	user := tcfg.OnRemove
	tcfg.OnRemove = func(f Flow, evicted bool) {
		tr.log.Forget(f.ID) // called from Apply or Expire, under mu
		if user != nil {
			user(f, evicted)
		}
	}
	tr.table = NewTable(tcfg)
	if cfg.StartAtEnd {
		tr.toEnd = true
	} else {
		tr.steps = 1 // paused on the first packet
	}
	tr.storeStatus()
	return tr
}

// Latest returns the newest published snapshot (nil before the first). It
// never blocks; the snapshot must not be modified.
func (tr *Tracker) Latest() *Snapshot { return tr.latest.Load() }

// Kernel returns the newest kernel view, indexed for joining to flows, or
// nil when none arrived.
func (tr *Tracker) Kernel() *KernelIndex { return tr.kernel.Load() }

// Replay returns where the replay stands.
func (tr *Tracker) Replay() ReplayStatus { return *tr.status.Load() }

// Control sends a replay command. It never blocks: if 64 commands are
// already waiting (the tracker is stuck in a batch), the command is
// dropped, as a key pressed too often would be.
func (tr *Tracker) Control(op ReplayOp) {
	select {
	case tr.ctl <- op:
	default:
	}
}

// Packets copies flow id's packet log. It waits at most for the batch
// being applied.
func (tr *Tracker) Packets(id FlowID) (FlowPackets, bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.log.Flow(id)
}

// PacketLogStats returns the packet log's counters.
func (tr *Tracker) PacketLogStats() PacketLogStats {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.log.Stats()
}

// Run applies segments from segs until it is closed (then publishes the
// final state and returns nil) or ctx ends (ctx.Err()). kernel may be nil;
// the poller behind it should keep only its latest view queued. Run must
// be called once.
func (tr *Tracker) Run(ctx context.Context, segs <-chan []Segment, kernel <-chan *KernelView) error {
	publish := time.NewTicker(tr.every)
	defer publish.Stop()
	var pace *time.Ticker
	defer func() {
		if pace != nil {
			pace.Stop()
		}
	}()
	for {
		tr.applyDue()
		if tr.srcDone && tr.pos >= len(tr.pending) {
			tr.ended, tr.toEnd = true, false
			tr.pace.pause(tr.wall())
			tr.publish()
			return nil
		}
		// A replay at a finite speed wakes up to apply what fell due.
		var paceC <-chan time.Time
		if !tr.cfg.Live && tr.pace.playing && tr.pace.speed != SpeedMax && !tr.toEnd {
			if pace == nil {
				pace = time.NewTicker(paceEvery)
			}
			paceC = pace.C
		} else if pace != nil {
			pace.Stop()
			pace = nil
		}
		var in <-chan []Segment
		if tr.wantInput() {
			in = segs
		}
		select {
		case <-ctx.Done():
			tr.publish()
			return ctx.Err()
		case b, ok := <-in:
			if !ok {
				tr.srcDone = true
				continue
			}
			tr.pending, tr.pos = b, 0
		case op := <-tr.ctl:
			tr.handle(op)
		case t := <-paceC:
			tr.lastTick = t.UnixNano()
			tr.applyDue()
			tr.storeStatus() // the clock moves between packets too
		case t := <-publish.C:
			tr.lastTick = t.UnixNano()
			tr.expire()
			switch {
			case tr.latest.Load() == nil:
				tr.publish()
			case (tr.dirty || tr.cfg.Live) && tr.wall() >= tr.notBefore:
				tr.publish()
			default:
				tr.storeStatus()
			}
		case v := <-kernel:
			if v != nil {
				tr.kernel.Store(NewKernelIndex(v))
			}
		}
	}
}

// wall is the wall clock: Now when configured, else the last tick.
func (tr *Tracker) wall() int64 {
	if tr.cfg.Now != nil {
		return tr.cfg.Now()
	}
	return tr.lastTick
}

// wantInput reports whether Run should take the next batch: always when
// live, and in a replay only when the current batch is used up and
// something (play, step, jump) will consume more.
func (tr *Tracker) wantInput() bool {
	if tr.pos < len(tr.pending) || tr.srcDone {
		return false
	}
	return tr.cfg.Live || tr.pace.playing || tr.steps > 0 || tr.toEnd
}

// applyDue applies the segments of the current batch that are due: all of
// them when live, jumping to the end or playing at SpeedMax; those up to
// the replay clock when playing; one per pending step.
func (tr *Tracker) applyDue() {
	if tr.pos >= len(tr.pending) {
		return
	}
	due := int64(math.MinInt64)
	if !tr.cfg.Live && tr.pace.playing {
		due = tr.pace.due(tr.wall())
	}
	moved := false
	tr.mu.Lock()
	for tr.pos < len(tr.pending) {
		s := &tr.pending[tr.pos]
		switch {
		case tr.cfg.Live || tr.toEnd:
		case tr.steps > 0:
			tr.steps--
		case s.TS <= due:
		default:
			tr.mu.Unlock()
			tr.afterApply(moved)
			return
		}
		tr.apply(s)
		tr.pos++
		moved = true
	}
	tr.mu.Unlock()
	if tr.cfg.Release != nil {
		tr.cfg.Release(tr.pending)
	}
	tr.pending, tr.pos = nil, 0
	tr.afterApply(moved)
}

// afterApply moves the replay clock to the last packet when it is not
// running on its own, and shows a stepped packet at once.
func (tr *Tracker) afterApply(moved bool) {
	if !moved {
		return
	}
	tr.storeStatus()
	if tr.cfg.Live {
		return
	}
	if !tr.pace.playing || tr.pace.speed == SpeedMax || tr.toEnd {
		tr.pace.moveTo(tr.wall(), tr.lastTS)
	}
	if !tr.pace.playing && !tr.toEnd {
		tr.publish() // a step: the person is waiting for this packet
	}
}

// apply runs one segment through the table and logs it; mu is held.
func (tr *Tracker) apply(s *Segment) {
	v := tr.table.Apply(s)
	if tr.applied == 0 {
		tr.first = s.TS
	}
	tr.applied++
	tr.lastTS = s.TS
	tr.dirty = true
	if v.Dir == SideNone {
		return
	}
	tr.log.Add(v.Flow, PacketRecord{
		TS: s.TS, Frame: s.Frame, Dir: v.Dir, Flags: s.Flags, RelSeq: v.RelSeq, RelAck: v.RelAck,
		Len: s.PayloadLen, Window: s.Window, Analysis: v.Flags,
	})
}

// handle applies a replay command.
func (tr *Tracker) handle(op ReplayOp) {
	if tr.cfg.Live || tr.ended {
		return
	}
	wall := tr.wall()
	at := max(tr.pace.clock(wall), tr.lastTS)
	switch op {
	case ReplayToggle:
		if tr.pace.playing || tr.toEnd {
			tr.toEnd = false
			tr.pace.pause(wall)
		} else {
			tr.pace.play(wall, at)
		}
	case ReplayPlay:
		if !tr.pace.playing {
			tr.pace.play(wall, at)
		}
	case ReplayPause:
		tr.toEnd = false
		tr.pace.pause(wall)
	case ReplayFaster:
		if tr.pace.speed < SpeedMax {
			tr.pace.setSpeed(wall, tr.pace.speed+1, tr.lastTS)
		}
	case ReplaySlower:
		if tr.pace.speed > SpeedX1 {
			tr.pace.setSpeed(wall, tr.pace.speed-1, tr.lastTS)
		}
	case ReplayStep:
		tr.toEnd = false
		tr.pace.pause(wall)
		tr.steps++
	case ReplayToEnd:
		tr.toEnd = true
	}
	tr.storeStatus()
}

// expire lets the table drop flows past their retention.
func (tr *Tracker) expire() {
	tr.mu.Lock()
	if tr.table.Expire(tr.now()) > 0 {
		tr.dirty = true
	}
	tr.mu.Unlock()
}

// now is the time snapshots describe: wall time live, the last packet's
// time in a replay.
func (tr *Tracker) now() int64 {
	if tr.cfg.Live {
		return tr.wall()
	}
	return tr.lastTS
}

// publish stores a new snapshot and status.
func (tr *Tracker) publish() {
	start := tr.wall()
	defer func() {
		end := tr.wall()
		tr.notBefore = end + (end-start)*publishShare
	}()
	s := tr.table.Snapshot(tr.now())
	tr.seq++
	s.Seq = tr.seq
	if tr.cfg.Source != nil {
		s.Source = tr.cfg.Source()
	} else {
		s.Source = SourceStats{Packets: tr.applied, TCPFrames: tr.applied}
	}
	if tr.cfg.Diagnose {
		DiagnoseSnapshot(&s, DiagOptions{Kernel: tr.kernel.Load()})
	}
	tr.latest.Store(&s)
	tr.dirty = false
	tr.storeStatus()
}

func (tr *Tracker) storeStatus() {
	st := ReplayStatus{
		Live: tr.cfg.Live, Playing: tr.pace.playing, Speed: tr.pace.speed, ToEnd: tr.toEnd, Ended: tr.ended,
		Start: tr.first, Applied: tr.applied, Clock: tr.lastTS,
	}
	if !tr.cfg.Live && tr.pace.playing && tr.pace.speed != SpeedMax {
		st.Clock = max(tr.pace.clock(tr.wall()), tr.lastTS)
	}
	tr.status.Store(&st)
}

// ReplaySpeed is how fast a file replay runs: a multiple of the recorded
// speed, or as fast as possible.
type ReplaySpeed uint8

// Replay speeds, slowest first.
const (
	SpeedX1 ReplaySpeed = iota
	SpeedX10
	SpeedX100
	SpeedMax
)

// String returns "x1", "x10", "x100" or "max".
func (s ReplaySpeed) String() string {
	switch s {
	case SpeedX1:
		return "x1"
	case SpeedX10:
		return "x10"
	case SpeedX100:
		return "x100"
	}
	return "max"
}

// factor is the multiple of recorded speed, 0 for SpeedMax.
func (s ReplaySpeed) factor() int64 {
	switch s {
	case SpeedX1:
		return 1
	case SpeedX10:
		return 10
	case SpeedX100:
		return 100
	}
	return 0
}

// ReplayOp is a command from the UI to a file replay. Live sources ignore
// them.
type ReplayOp uint8

// Replay commands.
const (
	ReplayToggle ReplayOp = iota // play if paused, pause if playing
	ReplayPlay
	ReplayPause
	ReplayFaster
	ReplaySlower
	ReplayStep  // apply exactly one more packet, then stay paused
	ReplayToEnd // apply everything as fast as possible, then pause
)

// ReplayStatus is where a replay stands, published with each snapshot
// and after each command.
type ReplayStatus struct {
	// Live is set for a live source: the other fields are then unused
	// except Applied.
	Live    bool
	Playing bool
	Speed   ReplaySpeed
	// ToEnd is set while jumping to the end of the capture.
	ToEnd bool
	// Ended is set once the source is exhausted and every packet applied.
	Ended bool
	// Start is the first packet's capture time; Clock the capture time the
	// replay has reached (it runs between packets while playing).
	Start, Clock int64
	// Applied counts the segments applied so far.
	Applied uint64
}

// pacer maps wall time to the capture time a replay has reached. It is
// pure: wall times are passed in, so it is tested without a clock.
//
// While playing at a finite speed the replay clock runs from an anchor:
// clock = anchorCap + (wall - anchorWall) * factor. Every change of speed
// or play state re-anchors, so the clock never jumps.
type pacer struct {
	playing    bool
	speed      ReplaySpeed
	anchorWall int64
	anchorCap  int64
}

// clock returns the capture time reached at wall time wall.
func (p *pacer) clock(wall int64) int64 {
	f := p.speed.factor()
	if !p.playing || f == 0 {
		return p.anchorCap
	}
	d := wall - p.anchorWall
	if d < 0 {
		d = 0
	}
	if d > (math.MaxInt64-p.anchorCap)/f {
		return math.MaxInt64
	}
	return p.anchorCap + d*f
}

// due returns the latest capture time whose packets should be applied by
// wall time wall: the clock while playing (everything at SpeedMax), and
// nothing new while paused.
func (p *pacer) due(wall int64) int64 {
	if p.playing && p.speed == SpeedMax {
		return math.MaxInt64
	}
	return p.clock(wall)
}

// play starts the clock at capture time at.
func (p *pacer) play(wall, at int64) {
	p.playing = true
	p.anchorWall, p.anchorCap = wall, at
}

// pause stops the clock where it is.
func (p *pacer) pause(wall int64) {
	p.anchorCap = p.clock(wall)
	p.playing = false
}

// setSpeed changes speed without moving the clock; from SpeedMax the clock
// restarts at capture time at (the last packet applied).
func (p *pacer) setSpeed(wall int64, s ReplaySpeed, at int64) {
	if p.speed == SpeedMax || !p.playing {
		p.anchorCap = max(p.anchorCap, at)
	} else {
		p.anchorCap = p.clock(wall)
	}
	p.anchorWall = wall
	p.speed = s
}

// moveTo sets the clock to capture time at (after a step or a burst at
// SpeedMax), keeping the play state.
func (p *pacer) moveTo(wall, at int64) {
	p.anchorWall, p.anchorCap = wall, at
}

// KernelIndex joins a KernelView's sockets to flows by their endpoints.
// The Tracker builds one per kernel view it receives, so the UI looks
// sockets up without scanning the table.
type KernelIndex struct {
	// View is the kernel view indexed; never nil in a published index.
	View *KernelView
	// byEnds maps (local, remote) to an index into View.Sockets; the host
	// namespace wins over others (it comes first in View.Sockets).
	byEnds map[[2]netip.AddrPort]int
}

// NewKernelIndex indexes the non-listening sockets of v.
func NewKernelIndex(v *KernelView) *KernelIndex {
	x := &KernelIndex{View: v, byEnds: make(map[[2]netip.AddrPort]int, len(v.Sockets))}
	for i := range v.Sockets {
		s := &v.Sockets[i]
		if s.State == StateListen {
			continue
		}
		k := [2]netip.AddrPort{s.Local, s.Remote}
		if _, dup := x.byEnds[k]; !dup {
			x.byEnds[k] = i
		}
	}
	return x
}

// Lookup returns the flow's socket on this host and the side it is on:
// the socket whose local end is that side's endpoint. When both ends are
// local (loopback) the client's socket is returned.
func (x *KernelIndex) Lookup(f *Flow) (*Socket, Side, bool) {
	i, side := x.LookupIndex(f)
	if i < 0 {
		return nil, SideNone, false
	}
	return &x.View.Sockets[i], side, true
}

// LookupIndex is Lookup returning the socket's index in View.Sockets, -1
// when there is none, so a caller can tell which sockets no flow claimed.
func (x *KernelIndex) LookupIndex(f *Flow) (int, Side) {
	if x == nil {
		return -1, SideNone
	}
	a := netip.AddrPortFrom(f.A.Addr().Unmap(), f.A.Port())
	b := netip.AddrPortFrom(f.B.Addr().Unmap(), f.B.Port())
	first := SideA
	if f.Client == SideB {
		first = SideB
	}
	for _, side := range [2]Side{first, first.Other()} {
		local, remote := a, b
		if side == SideB {
			local, remote = b, a
		}
		if i, ok := x.byEnds[[2]netip.AddrPort{local, remote}]; ok {
			return i, side
		}
	}
	return -1, SideNone
}

// LookupSide returns the index in View.Sockets of the socket whose local
// end is side s of f, or -1. Both ends of a connection between two local
// processes (loopback) are sockets of this host: Lookup finds one, and
// LookupSide(f, side.Other()) finds its peer.
func (x *KernelIndex) LookupSide(f *Flow, s Side) int {
	if x == nil || s > SideB {
		return -1
	}
	local, remote := f.Endpoint(s), f.Endpoint(s.Other())
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	if i, ok := x.byEnds[[2]netip.AddrPort{local, remote}]; ok {
		return i
	}
	return -1
}

// Process returns the process owning a socket, nil when unknown.
func (x *KernelIndex) Process(s *Socket) *Process {
	if x == nil || s == nil || s.Owner != OwnerKnown {
		return nil
	}
	return x.View.Process(s.PID)
}
