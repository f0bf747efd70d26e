package pipeline

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connscope/connscope/model"
)

// DefaultPublishEvery is the default time between published snapshots.
const DefaultPublishEvery = 200 * time.Millisecond

// paceEvery is how often a replay playing at a finite speed checks which
// packets are due: fine enough for x1, cheap when idle.
const paceEvery = 10 * time.Millisecond

// liveIdleEvery is how often a live tracker publishes when nothing
// changed: the ages and idle times shown move with the wall clock, but a
// second is fine enough for them, and an idle capture of hundreds of
// sockets then costs next to nothing between kernel polls.
const liveIdleEvery = time.Second

// publishShare bounds the tracker's time spent copying snapshots: after a
// snapshot that took d, the next waits at least d*publishShare, so at most
// one part in publishShare+1 goes to snapshots (it matters beyond about a
// hundred thousand flows).
const publishShare = 4

// tracker is the interactive driver: one goroutine (run) applies segment
// batches, paces file replays, takes in the latest kernel view and
// publishes a snapshot a few times a second. Readers on other goroutines
// (the UI) use latest, replayStatus, control and packets, none of which
// waits for more than one batch; control never blocks.
type tracker struct {
	c     *core
	every time.Duration
	live  bool
	now   func() int64
	src   func() model.SourceStats
	// release, when set, gets every batch back once all of it is applied.
	release func([]model.Segment)

	// mu guards the packet log, which the UI copies from; run holds it
	// while applying a batch, not per segment.
	mu sync.Mutex

	latest atomic.Pointer[model.Snapshot]
	status atomic.Pointer[model.ReplayStatus]
	ctl    chan model.ReplayOp
	// inputs hands the tracker each reading of the source: the first, and
	// a new one after every restart; restart asks the capture side for a
	// new reading (nil: the source cannot be read again).
	inputs  chan (<-chan []model.Segment)
	restart chan struct{}

	// Owned by run.
	pending []model.Segment // the batch being applied
	pos     int             // next segment of pending
	srcDone bool
	applied uint64
	first   int64 // first packet's time
	lastTS  int64 // last applied packet's time
	pace    model.Pacer
	steps   int // packets still to apply for step commands
	toEnd   bool
	ended   bool
	// autoplay plays from the first packet applied (a restart).
	autoplay bool
	// dirty is set when the table or the kernel view changed since the
	// last publish: a paused replay then publishes nothing new, so the UI
	// rebuilds nothing.
	dirty bool
	// notBefore is the wall time before which the ticker does not publish
	// again (see publishShare); lastPublish when it last did.
	notBefore   int64
	lastPublish int64
}

func newTracker(c *core, cfg *Config, src func() model.SourceStats, live bool) *tracker {
	tr := &tracker{c: c, every: cfg.PublishEvery, live: live, src: src, ctl: make(chan model.ReplayOp, 64),
		inputs: make(chan (<-chan []model.Segment))}
	if tr.every <= 0 {
		tr.every = DefaultPublishEvery
	}
	tr.now = func() int64 { return cfg.clock().UnixNano() }
	c.log = model.NewPacketLog(model.PacketLogConfig{})
	switch {
	case live:
	case cfg.StartAtEnd:
		tr.toEnd = true
	default:
		tr.steps = 1 // paused on the first packet
	}
	tr.storeStatus()
	return tr
}

// run applies the segments of each reading of the source it is handed on
// inputs, publishing snapshots, until ctx ends. At the end of a reading it
// publishes the final state and waits for a restart or ctx.
func (tr *tracker) run(ctx context.Context, kernel, owners *Mailbox[*model.KernelView], events <-chan []model.KernelEvent) error {
	var segs <-chan []model.Segment
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
		if tr.srcDone && tr.pos >= len(tr.pending) && !tr.ended {
			tr.ended, tr.toEnd = true, false
			tr.pace.Pause(tr.now())
			tr.publish()
		}
		// A replay at a finite speed wakes up to apply what fell due.
		var paceC <-chan time.Time
		if !tr.live && tr.pace.Playing() && tr.pace.Speed() != model.SpeedMax && !tr.toEnd && !tr.ended {
			if pace == nil {
				pace = time.NewTicker(paceEvery)
			}
			paceC = pace.C
		} else if pace != nil {
			pace.Stop()
			pace = nil
		}
		var in <-chan []model.Segment
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
		case s := <-tr.inputs:
			if segs != nil {
				tr.restarted()
			}
			segs = s
		case op := <-tr.ctl:
			tr.handle(op)
		case <-paceC:
			tr.applyDue()
			tr.storeStatus() // the clock moves between packets too
		case <-publish.C:
			tr.expire()
			switch {
			case tr.latest.Load() == nil:
				tr.publish()
			case tr.dirty && tr.now() >= tr.notBefore, tr.live && tr.now() >= tr.lastPublish+int64(liveIdleEvery):
				tr.publish()
			default:
				tr.storeStatus()
			}
		case v := <-kernel.C():
			tr.c.setKernel(v)
			tr.dirty = true
		case v := <-owners.C():
			tr.c.setKernel(v)
			tr.dirty = true
		case b := <-events:
			tr.c.addEvents(b)
			tr.dirty = true
		}
	}
}

// restarted forgets the previous reading: an empty table, the replay back
// before the first packet, playing it as soon as it comes.
func (tr *tracker) restarted() {
	tr.mu.Lock()
	tr.c.reset()
	tr.mu.Unlock()
	if tr.release != nil && tr.pending != nil {
		tr.release(tr.pending)
	}
	tr.pending, tr.pos = nil, 0
	tr.srcDone, tr.ended, tr.toEnd = false, false, false
	tr.applied, tr.first, tr.lastTS, tr.steps = 0, 0, 0, 1
	tr.pace.Pause(tr.now())
	tr.autoplay, tr.dirty = true, true
	tr.storeStatus()
}

// wantInput reports whether run should take the next batch: always when
// live, and in a replay only when the current batch is used up and
// something (play, step, jump) will consume more.
func (tr *tracker) wantInput() bool {
	if tr.pos < len(tr.pending) || tr.srcDone {
		return false
	}
	return tr.live || tr.pace.Playing() || tr.steps > 0 || tr.toEnd
}

// applyDue applies the segments of the current batch that are due: all of
// them when live, jumping to the end or playing at SpeedMax; those up to
// the replay clock when playing; one per pending step.
func (tr *tracker) applyDue() {
	if tr.pos >= len(tr.pending) {
		return
	}
	due := int64(math.MinInt64)
	if !tr.live && tr.pace.Playing() {
		due = tr.pace.Due(tr.now())
	}
	moved := false
	tr.mu.Lock()
	for tr.pos < len(tr.pending) {
		s := &tr.pending[tr.pos]
		switch {
		case tr.live || tr.toEnd:
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
	if tr.release != nil {
		tr.release(tr.pending)
	}
	tr.pending, tr.pos = nil, 0
	tr.afterApply(moved)
}

// afterApply moves the replay clock to the last packet when it is not
// running on its own, and shows a stepped packet at once.
func (tr *tracker) afterApply(moved bool) {
	if !moved {
		return
	}
	tr.storeStatus()
	if tr.live {
		return
	}
	if !tr.pace.Playing() || tr.pace.Speed() == model.SpeedMax || tr.toEnd {
		tr.pace.MoveTo(tr.now(), tr.lastTS)
	}
	if tr.autoplay {
		tr.autoplay = false
		tr.pace.Play(tr.now(), tr.lastTS)
		return
	}
	if !tr.pace.Playing() && !tr.toEnd {
		tr.publish() // a step: the person is waiting for this packet
	}
}

// apply runs one segment through the table and logs it; mu is held.
func (tr *tracker) apply(s *model.Segment) {
	tr.c.now = s.TS
	v := tr.c.table.Apply(s)
	if tr.applied == 0 {
		tr.first = s.TS
	}
	tr.applied++
	tr.lastTS = s.TS
	tr.dirty = true
	if v.Dir == model.SideNone {
		return
	}
	tr.c.log.Add(v.Flow, model.PacketRecord{
		TS: s.TS, Frame: s.Frame, Dir: v.Dir, Flags: s.Flags, RelSeq: v.RelSeq, RelAck: v.RelAck,
		Len: s.PayloadLen, Window: s.Window, Analysis: v.Flags,
	})
}

// handle applies a replay command.
func (tr *tracker) handle(op model.ReplayOp) {
	if op == model.ReplayRestart && !tr.live && tr.restart != nil {
		select { // one restart at a time
		case tr.restart <- struct{}{}:
		default:
		}
		return
	}
	if tr.live || tr.ended {
		return
	}
	wall := tr.now()
	at := max(tr.pace.Clock(wall), tr.lastTS)
	switch op {
	case model.ReplayToggle:
		if tr.pace.Playing() || tr.toEnd {
			tr.toEnd = false
			tr.pace.Pause(wall)
		} else {
			tr.pace.Play(wall, at)
		}
	case model.ReplayPlay:
		if !tr.pace.Playing() {
			tr.pace.Play(wall, at)
		}
	case model.ReplayPause:
		tr.toEnd = false
		tr.pace.Pause(wall)
	case model.ReplayFaster:
		if tr.pace.Speed() < model.SpeedMax {
			tr.pace.SetSpeed(wall, tr.pace.Speed()+1, tr.lastTS)
		}
	case model.ReplaySlower:
		if tr.pace.Speed() > model.SpeedX1 {
			tr.pace.SetSpeed(wall, tr.pace.Speed()-1, tr.lastTS)
		}
	case model.ReplayStep:
		tr.toEnd = false
		tr.pace.Pause(wall)
		tr.steps++
	case model.ReplayToEnd:
		tr.toEnd = true
	}
	tr.storeStatus()
}

// expire lets the table drop flows past their retention.
func (tr *tracker) expire() {
	tr.mu.Lock()
	if tr.c.table.Expire(tr.snapNow()) > 0 {
		tr.dirty = true
	}
	tr.mu.Unlock()
}

// snapNow is the time snapshots describe: wall time live, the last
// packet's time in a replay.
func (tr *tracker) snapNow() int64 {
	if tr.live {
		return tr.now()
	}
	return tr.lastTS
}

// publish stores a new snapshot and status.
func (tr *tracker) publish() {
	start := tr.now()
	if tr.live {
		tr.c.now = start
	}
	s := tr.c.snapshot(tr.snapNow(), tr.src())
	tr.latest.Store(s)
	tr.dirty = false
	end := tr.now()
	tr.notBefore = end + (end-start)*publishShare
	tr.lastPublish = start
	tr.storeStatus()
}

func (tr *tracker) storeStatus() {
	st := model.ReplayStatus{
		Live: tr.live, Playing: tr.pace.Playing(), Speed: tr.pace.Speed(), ToEnd: tr.toEnd, Ended: tr.ended,
		Start: tr.first, Applied: tr.applied, Clock: tr.lastTS, CanRestart: tr.restart != nil,
	}
	if !tr.live && tr.pace.Playing() && tr.pace.Speed() != model.SpeedMax {
		st.Clock = max(tr.pace.Clock(tr.now()), tr.lastTS)
	}
	tr.status.Store(&st)
}

// control sends a replay command without blocking: if 64 commands are
// already waiting (the tracker is stuck in a batch), the command is
// dropped, as a key pressed too often would be.
func (tr *tracker) control(op model.ReplayOp) {
	select {
	case tr.ctl <- op:
	default:
	}
}

// packets copies one flow's packet log. It waits at most for the batch
// being applied.
func (tr *tracker) packets(id model.FlowID) (model.FlowPackets, bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.c.log.Flow(id)
}
