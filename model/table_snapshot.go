package model

// Snapshots: immutable copies of the table's flows, their histories carved
// from one backing array per kind, and the rendering of event details.

// Lookup returns a copy of one flow.
func (t *Table) Lookup(id FlowID) (Flow, bool) {
	i, ok := t.findID(id)
	if !ok {
		return Flow{}, false
	}
	var fl Flow
	t.fillFlow(t.slot(t.byID[i].slot), &fl, nil)
	return fl, true
}

// Snapshot returns an immutable copy of every flow, sorted by ID, with the
// table's counters and Now set to now. Source is left for the caller; Seq
// counts this table's snapshots.
func (t *Table) Snapshot(now int64) Snapshot {
	t.snapSeq++
	snap := Snapshot{Seq: t.snapSeq, Now: now, Table: t.stats}
	n := int(t.stats.Flows)
	if n == 0 {
		return snap
	}
	// One backing array per history kind for the whole snapshot.
	var nt, nr, ne int
	for _, e := range t.byID {
		if e.slot < 0 {
			continue
		}
		if c := t.slot(e.slot).cold; c != nil {
			nt += c.trans.size()
			if c.rst != nil {
				nr += c.rst.resets.size()
			}
			ne += min(c.trans.size()+c.events.size(), t.cfg.EventRing)
		}
	}
	b := &flowBufs{
		trans:  make([]Transition, 0, nt),
		resets: make([]Reset, 0, nr),
		hops:   make([]ResetHop, 0, nr),
		events: make([]Event, 0, ne),
	}
	snap.Flows = make([]Flow, n)
	i := 0
	for _, e := range t.byID {
		if e.slot < 0 || i == n {
			continue
		}
		t.fillFlow(t.slot(e.slot), &snap.Flows[i], b)
		i++
	}
	snap.Flows = snap.Flows[:i]
	return snap
}

// Each calls visit with every flow, in ID order (the order of Snapshot's
// Flows), until visit returns false: the end of a run streams its rows
// from the table itself instead of copying it. The Flow and every slice
// in it are reused for the next flow: visit must not keep them, nor
// change the table.
func (t *Table) Each(visit func(*Flow) bool) { t.each(visit, false) }

// EachBrief is Each without each flow's resets and events (nil): a
// cheaper walk for what reads only the rest, such as
// DiagContext.Learn.
func (t *Table) EachBrief(visit func(*Flow) bool) { t.each(visit, true) }

func (t *Table) each(visit func(*Flow) bool, brief bool) {
	var fl Flow
	b := flowBufs{brief: brief}
	for _, e := range t.byID {
		if e.slot < 0 {
			continue
		}
		f := t.slot(e.slot)
		b.reset(f.cold, t.cfg.EventRing)
		t.fillFlow(f, &fl, &b)
		if !visit(&fl) {
			return
		}
	}
}

// FlowBatch is a batch of flows filled from a table by Fill, with the
// backing arrays of their histories; its flows stay valid until it is
// filled again, so batches can be handed between goroutines.
type FlowBatch struct {
	Flows []Flow
	bufs  flowBufs
}

// Fill fills b with up to n flows in ID order, starting at position pos
// of the table's ID order (0 for the first), and returns the position to
// continue from: a return equal to pos means there are no more. The
// table must not change between the calls of one walk.
func (t *Table) Fill(b *FlowBatch, pos, n int) int {
	b.Flows = b.Flows[:0]
	bf := &b.bufs
	bf.trans, bf.resets, bf.hops, bf.events = bf.trans[:0], bf.resets[:0], bf.hops[:0], bf.events[:0]
	// Size the backing arrays for the whole batch first: a carve never
	// reallocates one that earlier flows of the batch point into.
	var nt, nr, ne, k int
	end := pos
	for ; end < len(t.byID) && k < n; end++ {
		e := t.byID[end]
		if e.slot < 0 {
			continue
		}
		k++
		if c := t.slot(e.slot).cold; c != nil {
			nt += c.trans.size()
			if c.rst != nil {
				nr += c.rst.resets.size()
			}
			ne += min(c.trans.size()+c.events.size(), t.cfg.EventRing)
		}
	}
	bf.trans, bf.resets, bf.hops, bf.events = grown(bf.trans, nt), grown(bf.resets, nr), grown(bf.hops, nr), grown(bf.events, ne)
	if cap(b.Flows) < k {
		b.Flows = make([]Flow, 0, k)
	}
	for i := pos; i < end; i++ {
		e := t.byID[i]
		if e.slot < 0 {
			continue
		}
		b.Flows = b.Flows[:len(b.Flows)+1]
		t.fillFlow(t.slot(e.slot), &b.Flows[len(b.Flows)-1], bf)
	}
	return end
}

// reset empties the buffers and makes room for one flow's histories, so
// that fillFlow carves them all without allocating.
func (b *flowBufs) reset(c *flowCold, eventRing int) {
	b.trans, b.resets, b.hops, b.events = b.trans[:0], b.resets[:0], b.hops[:0], b.events[:0]
	if c == nil {
		return
	}
	b.trans = grown(b.trans, c.trans.size())
	if c.rst != nil {
		b.resets = grown(b.resets, c.rst.resets.size())
		b.hops = grown(b.hops, c.rst.resets.size())
	}
	b.events = grown(b.events, min(c.trans.size()+c.events.size(), eventRing))
}

// grown returns s (empty) with room for n elements.
func grown[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, 0, max(n, 2*cap(s)))
	}
	return s
}

// flowBufs are shared backing arrays that fillFlow carves histories from;
// nil means allocate per flow.
type flowBufs struct {
	// brief skips the resets and events (EachBrief).
	brief  bool
	trans  []Transition
	resets []Reset
	hops   []ResetHop
	events []Event
}

// carve appends k zero elements to *buf and returns them as their own
// slice (capped, so an append by a reader cannot reach a neighbour).
func carve[T any](buf *[]T, k int) []T {
	if k == 0 {
		return nil
	}
	if buf == nil {
		return make([]T, k)
	}
	start := len(*buf)
	if cap(*buf)-start < k {
		return make([]T, k)
	}
	*buf = (*buf)[:start+k]
	return (*buf)[start : start+k : start+k]
}

// fillFlow publishes f into out.
func (t *Table) fillFlow(f *flowState, out *Flow, b *flowBufs) {
	*out = Flow{
		ID:           f.id,
		A:            f.key.addrPort(f.aIdx),
		B:            f.key.addrPort(1 - f.aIdx),
		Client:       f.client,
		RoleInferred: f.roleInferred,
		FirstFrame:   f.firstFrame,
		LastFrame:    f.lastFrame,
		FirstTS:      f.firstTS,
		LastTS:       f.lastTS,
		Dir:          f.ctr,
		IRTT:         f.irtt,
		State:        [2]State{f.ep[0].state, f.ep[1].state},
		ZeroWindowNow: [2]bool{
			f.ep[0].has(epZeroWin), f.ep[1].has(epZeroWin),
		},
		Facts: FlowFacts{
			Known:           true,
			LastTS:          [2]int64{f.ep[0].lastTS, f.ep[1].lastTS},
			FINQuiet:        [2]int64{-1, -1},
			FINCrossed:      [2]bool{f.ep[0].has(epFINCrossed), f.ep[1].has(epFINCrossed)},
			FINAfterOwnData: [2]bool{f.ep[0].has(epFINOwnData), f.ep[1].has(epFINOwnData)},
		},
	}
	c := f.cold
	if c == nil {
		return
	}
	out.AckRTT = c.rtt
	ff := &out.Facts
	ff.LastDataTS, ff.LastDataFrame = c.lastDataTS, c.lastDataFrame
	ff.FINQuiet, ff.Turns, ff.MaxRTO = c.finQuiet, c.turns, c.maxRTO
	if c.pause != nil {
		ff.Pause = *c.pause
	}

	var tb *[]Transition
	var rb *[]Reset
	var hb *[]ResetHop
	var eb *[]Event
	if b != nil {
		tb, rb, hb, eb = &b.trans, &b.resets, &b.hops, &b.events
	}
	base := f.firstFrame
	out.Transitions = carve(tb, c.trans.size())
	for i := range out.Transitions {
		tr := c.trans.nth(i, base)
		out.Transitions[i] = Transition{TS: tr.ts, Frame: tr.frame, Side: tr.side, From: tr.from, To: tr.to}
	}
	out.TransitionsDropped = c.trans.dropped()
	if b != nil && b.brief {
		return
	}
	if r := c.rst; r != nil {
		out.Resets = carve(rb, r.resets.size())
		for i := range out.Resets {
			out.Resets[i] = r.resets.nth(i).reset()
		}
		out.ResetsDropped = r.resets.dropped()
		nh := 0
		for i := range r.resets.size() {
			if _, ok := r.resets.nth(i).hop(); ok {
				nh++
			}
		}
		out.Facts.ResetHops = carve(hb, nh)[:0]
		for i := range r.resets.size() {
			if h, ok := r.resets.nth(i).hop(); ok {
				out.Facts.ResetHops = append(out.Facts.ResetHops, h)
			}
		}
	}

	// Events: the event ring merged with the transitions (state events),
	// by frame, other events first within a frame; the newest EventRing
	// kept. Filled from the back.
	nt, ne := c.trans.size(), c.events.size()
	k := min(nt+ne, t.cfg.EventRing)
	out.Events = carve(eb, k)
	it, ie := nt-1, ne-1
	for j := k - 1; j >= 0; j-- {
		var tr transWide
		takeState := ie < 0
		if it >= 0 {
			tr = c.trans.nth(it, base)
			if ie >= 0 {
				takeState = tr.frame >= c.events.nth(ie).frame
			}
		}
		if takeState {
			out.Events[j] = Event{
				Kind: EventState, TS: tr.ts, Frame: tr.frame, Side: tr.cause, Count: 1,
				Detail: stateEventDetail[tr.side&1][tr.from%numStates][tr.to%numStates],
			}
			it--
		} else {
			ev := c.events.nth(ie)
			out.Events[j] = Event{
				Kind: ev.kind, TS: ev.ts, Frame: ev.frame, Side: ev.side, Count: ev.count,
				Detail: eventDetail(ev),
			}
			ie--
		}
	}
	out.EventsDropped = c.events.dropped() + c.trans.dropped() + uint32(it+1+ie+1)
}

// eventDetail renders the detail text of a compact event.
func eventDetail(ev *eventRec) string {
	switch ev.kind {
	case EventRST:
		return rstEventDetail(ev.code)
	case EventRetransmission:
		return [...]string{"retransmission", "fast retransmission", "spurious retransmission"}[ev.code%3]
	case EventZeroWindowStart:
		return "window 0"
	case EventZeroWindowEnd:
		return "window reopened"
	case EventKeepAlive:
		return "keep-alive"
	case EventReusedPorts:
		if ev.code == 1 {
			return "SYN/ACK with a new ISN"
		}
		return "new SYN reused the ports"
	case EventLostSegment:
		return "previous segment not captured"
	}
	return ""
}

// stateEventDetail[side][from][to] is "a: ESTABLISHED -> FIN-WAIT-1".
var stateEventDetail = func() (d [2][numStates][numStates]string) {
	for s := range 2 {
		for from := range numStates {
			for to := range numStates {
				d[s][from][to] = Side(s).String() + ": " + State(from).String() + " -> " + State(to).String()
			}
		}
	}
	return d
}()
