package model

import (
	"encoding/binary"
	"net/netip"
)

// Config bounds the table. Zero (or negative) values mean defaults.
type Config struct {
	// MaxFlows is the hard cap on tracked flows (default 1<<20). At the cap
	// the oldest-idle flow is evicted, counted in TableStats.Evicted and
	// handed to OnRemove.
	MaxFlows int
	// Retention is how long (ns) a closed flow is kept after its last
	// packet before Expire removes it (default 0: keep until evicted).
	Retention int64
	// IdleTimeout is the silence (ns) after which Expire removes any flow
	// (default 0: never).
	IdleTimeout int64
	// EventRing, TransitionRing and ResetRing are how many events,
	// transitions and resets each flow keeps (defaults 32, 16, 8).
	EventRing      int
	TransitionRing int
	ResetRing      int
	// PauseMin is the shortest quiet (ns) kept as a flow's
	// FlowFacts.Pause (default DefaultPauseMin): keep it no longer than
	// the diagnosis's shortest idle threshold.
	PauseMin int64
	// OnRemove, when set, is called synchronously from Apply or Expire with
	// a copy of every flow the table drops: evicted is true for the
	// MaxFlows cap, false for Expire. It lets a report still print a flow
	// the table no longer holds.
	OnRemove func(f Flow, evicted bool)
}

// Defaults of Config.
const (
	DefaultMaxFlows       = 1 << 20
	DefaultEventRing      = 32
	DefaultTransitionRing = 16
	DefaultResetRing      = 8
	// DefaultPauseMin is the diagnosis's shortest default idle
	// threshold (Thresholds.Idle).
	DefaultPauseMin = 1e9
)

// Table is the flow table: it splits segments into flows (connections),
// analyses each one as tshark 4.0 does, infers both endpoints' states,
// attributes resets and records events. It is not safe for concurrent use:
// one goroutine owns it and publishes Snapshots for the others.
//
// Memory is bounded by Config.MaxFlows; a flow costs about 1 KiB (its
// histories are rings allocated on first use). Apply does not allocate for
// a segment of an existing flow, except the first time a flow's history
// rings fill up to their caps.
type Table struct {
	cfg   Config
	index map[flowKey]int32 // 4-tuple -> slot of its newest flow
	// Flow states live in fixed-size chunks, so pointers into them stay
	// valid and growth never copies them.
	chunks [][]flowState
	nslots int32
	free   []int32
	// byID lists live flows in ID (creation) order; removed flows leave a
	// tombstone (slot -1) until the next compaction.
	byID     []tblIDSlot
	byIDDead int
	// lru holds two lists ordered by last packet: open flows and closed
	// ones (for Retention). The links live apart from the flow states, in
	// one dense array, so moving a flow to the tail on every packet touches
	// its neighbours' 8 bytes rather than their whole states.
	lru     [2]tblList
	links   []tblLink // by slot
	stats   TableStats
	nextID  FlowID
	snapSeq uint64
}

type tblIDSlot struct {
	id   FlowID
	slot int32
}

type tblList struct{ head, tail int32 }

type tblLink struct{ prev, next int32 }

// LRU list indexes.
const (
	tblOpen   = 0
	tblClosed = 1
)

const tblChunk = 256

// NewTable returns an empty table bounded by cfg.
func NewTable(cfg Config) *Table {
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultMaxFlows
	}
	if cfg.EventRing <= 0 {
		cfg.EventRing = DefaultEventRing
	}
	if cfg.TransitionRing <= 0 {
		cfg.TransitionRing = DefaultTransitionRing
	}
	if cfg.ResetRing <= 0 {
		cfg.ResetRing = DefaultResetRing
	}
	if cfg.PauseMin <= 0 {
		cfg.PauseMin = DefaultPauseMin
	}
	cfg.Retention = max(cfg.Retention, 0)
	cfg.IdleTimeout = max(cfg.IdleTimeout, 0)
	return &Table{
		cfg:   cfg,
		index: make(map[flowKey]int32),
		lru:   [2]tblList{{-1, -1}, {-1, -1}},
	}
}

// flowKey is the conversation key: the unordered pair of (address, port)
// endpoints, lower one first. It holds no pointer, so the map costs the
// garbage collector nothing to scan. VLANs and interfaces are not part of
// it: tshark 4.0 merges copies of a connection seen on several.
type flowKey struct {
	addr [2][16]byte
	port [2]uint16
	v6   bool
}

// makeFlowKey returns the key of a segment and the key index (0 or 1) of
// its source.
func makeFlowKey(src, dst netip.AddrPort) (flowKey, uint8) {
	var k flowKey
	sa, da := src.Addr().As16(), dst.Addr().As16()
	sp, dp := src.Port(), dst.Port()
	k.v6 = !src.Addr().Is4()
	if tblEndpointLess(da, dp, sa, sp) {
		k.addr[0], k.addr[1] = da, sa
		k.port[0], k.port[1] = dp, sp
		return k, 1
	}
	k.addr[0], k.addr[1] = sa, da
	k.port[0], k.port[1] = sp, dp
	return k, 0
}

func tblEndpointLess(a [16]byte, ap uint16, b [16]byte, bp uint16) bool {
	ah, bh := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if ah != bh {
		return ah < bh
	}
	al, bl := binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:])
	if al != bl {
		return al < bl
	}
	return ap < bp
}

// addrPort rebuilds endpoint i of the key.
func (k *flowKey) addrPort(i uint8) netip.AddrPort {
	var a netip.Addr
	if k.v6 {
		a = netip.AddrFrom16(k.addr[i])
	} else {
		a = netip.AddrFrom4([4]byte(k.addr[i][12:]))
	}
	return netip.AddrPortFrom(a, k.port[i])
}

// flowState is one flow's live state.
type flowState struct {
	key          flowKey
	aIdx         uint8 // key index of side A
	client       Side
	roleInferred bool
	list         uint8  // LRU list holding it
	actSeen      bool   // lastAct is set
	effRST       uint16 // effective resets not disproved
	id           FlowID
	firstFrame   uint64
	lastFrame    uint64
	firstTS      int64
	lastTS       int64
	tsMruSyn     int64 // time of the latest pure SYN, 0 = none (tshark's quirk)
	irtt         int64 // 0 = not measured
	ctr          [2]Counters
	rtt          [2]RTTStats
	an           [2]anDir
	ep           [2]endpoint
	rg           *flowRings
	// lastAct is the latest activity (data, SYN, FIN or RST, not resent)
	// and pause the latest long quiet before one: FlowFacts.Pause.
	lastAct int64
	pause   Pause
}

// flowRings are a flow's bounded histories, allocated on first use.
type flowRings struct {
	trans  boundedRing[transRec]
	events boundedRing[eventRec]
	resets boundedRing[resetRec]
	pend   *rstPending // the latest RST, allocated with the first one
}

// transRec is the compact form of a Transition.
type transRec struct {
	ts       int64
	frame    uint64
	side     Side // the endpoint that changed
	cause    Side // the sender of the segment that caused it
	from, to State
}

// eventRec is the compact form of an Event; the detail text is rendered
// from code when a snapshot is taken.
type eventRec struct {
	ts    int64
	frame uint64
	count uint32
	kind  EventKind
	side  Side
	code  uint16
}

func (f *flowState) rings() *flowRings {
	if f.rg == nil {
		f.rg = new(flowRings)
	}
	return f.rg
}

func (f *flowState) ringsOrNil() *flowRings { return f.rg }

// sideOf maps a key index to the flow side.
func (f *flowState) sideOf(idx uint8) Side {
	if idx == f.aIdx {
		return SideA
	}
	return SideB
}

func (f *flowState) port(s Side) uint16 {
	if s == SideA {
		return f.key.port[f.aIdx]
	}
	return f.key.port[1-f.aIdx]
}

// isClosed: both endpoints closed or in TIME-WAIT, or an effective reset.
func (f *flowState) isClosed() bool {
	done := func(s State) bool { return s == StateClosed || s == StateTimeWait }
	return f.effRST > 0 || done(f.ep[0].state) && done(f.ep[1].state)
}

func (t *Table) slot(i int32) *flowState {
	return &t.chunks[i/tblChunk][i%tblChunk]
}

// Apply analyses one segment, in capture order, and returns what it
// learned. It never panics, and it does not allocate for a segment of an
// existing flow (beyond a flow's history rings growing to their caps).
func (t *Table) Apply(s *Segment) Verdict {
	if s == nil {
		return Verdict{Dir: SideNone, Ignored: true}
	}
	var v Verdict
	// What tshark can do with the header: with the fixed 20 bytes it
	// analyses the segment, but a cut in the options (or a bogus header
	// length) aborts the dissection before the flags are shown, so such a
	// segment moves the analysis state without being counted as flagged.
	fixed := !s.HeaderCut || s.TCPHdrLen >= 20
	bogus := !s.HeaderCut && s.TCPHdrLen > 0 && s.TCPHdrLen < 20
	report := !s.HeaderCut && !bogus
	key, srcIdx := makeFlowKey(s.Src, s.Dst)
	slot, found := t.index[key]
	var f *flowState
	d := SideA
	if found {
		f = t.slot(slot)
		d = f.sideOf(srcIdx)
		// A pure SYN with an ISN other than its direction's base starts a
		// new conversation on the same ports (§2.3); a resent SYN (same
		// ISN) stays.
		if fixed && s.Flags&(FlagSYN|FlagACK) == FlagSYN {
			if a := &f.an[d]; a.bits&anBaseSet != 0 && s.Seq != a.baseSeq {
				f = nil
			}
		}
	}
	var fl AnalysisFlag
	if f == nil {
		slot = t.newFlow(key, srcIdx, s, fixed)
		f = t.slot(slot)
		d = SideA
		v.Created = true
		if found {
			fl |= AnReusedPorts
		}
	}
	v.Flow, v.Dir = f.id, d
	fwd, rev := &f.an[d], &f.an[d.Other()]
	syn, ack := s.Flags&FlagSYN != 0, s.Flags&FlagACK != 0

	c := &f.ctr[d]
	c.Packets++
	c.PayloadBytes += uint64(s.PayloadLen)
	c.FrameBytes += uint64(s.FrameLen)
	switch {
	case syn && ack:
		c.SYNACK++
	case syn:
		c.SYN++
	}
	if s.Flags&FlagFIN != 0 {
		c.FIN++
	}
	if s.Flags&FlagRST != 0 {
		c.RST++
	}
	f.lastFrame, f.lastTS = s.Frame, s.TS

	if !fixed {
		// Only the ports are known: counted, not analysed. The flags
		// were still read, so a SYN still dates the iRTT.
		v.Ignored = true
		if syn && !ack {
			f.tsMruSyn = s.TS
		}
		t.relist(slot, f)
		return v
	}

	// A SYN/ACK with a new ISN stays in the conversation and re-bases it.
	if !v.Created && syn && ack && fwd.bits&anBaseSet != 0 && s.Seq != fwd.baseSeq {
		fl |= AnReusedPorts
		fwd.baseSeq = s.Seq
	}
	res := fwd.analyse(rev, s, f.irtt)
	fl |= res.flags
	if res.rttOK {
		rttAdd(&f.rtt[d.Other()], res.rtt)
	}
	// The rest of dissect_tcp: the SYN time and iRTT (from the latest pure
	// SYN to the first segment with ACK and no SYN, either direction),
	// is_first_ack and window scaling. A bogus header length returns
	// before all of it.
	if !bogus {
		if syn && !ack {
			f.tsMruSyn = s.TS
		}
		if ack && !syn && f.tsMruSyn != 0 && f.irtt == 0 {
			f.irtt = s.TS - f.tsMruSyn
		}
		fwd.afterSegment(rev, s, s.HeaderCut)
	}
	v.RelSeq = s.Seq - fwd.baseSeq
	if ack && rev.bits&anBaseSet != 0 {
		v.RelAck = s.Ack - rev.baseSeq
	}
	if report {
		v.Flags = fl
		anCount(c, fl)
	} else {
		v.Ignored = true
	}
	if !s.HeaderCut {
		t.timing(f, s, d, v.Flags)
	}
	t.wire(f, s, d, v.Flags)
	t.relist(slot, f)
	return v
}

// timing keeps the diagnosis's FlowFacts for a segment s sent by d with
// analysis flags fl. It runs before wire, so the endpoints' lastTS still
// date their previous segments.
func (t *Table) timing(f *flowState, s *Segment, d Side, fl AnalysisFlag) {
	e := &f.ep[d]
	probe := fl&(AnKeepAlive|AnZeroWindowProbe) != 0
	if s.PayloadLen > 0 && !probe {
		e.lastDataTS, e.lastDataFrame = s.TS, s.Frame
	}
	// A timeout retransmission comes one RTO after the sender last heard
	// from its peer (each ACK re-arms the timer).
	if heard := f.ep[d.Other()].lastTS; fl&AnRetransmission != 0 && heard != 0 && s.TS-heard > e.maxRTO {
		e.maxRTO = s.TS - heard
	}
	if s.Flags&FlagFIN != 0 && e.finQuiet < 0 {
		e.finQuiet = 0
		if f.actSeen {
			e.finQuiet = max(s.TS-f.lastAct, 0)
		}
	}
	if fl&AnRetransmissionFamily != 0 || probe || s.PayloadLen == 0 && s.Flags&(FlagSYN|FlagFIN|FlagRST) == 0 {
		return // no activity: it neither ends nor breaks a pause
	}
	if f.actSeen && s.TS-f.lastAct >= t.cfg.PauseMin {
		f.pause = Pause{From: f.lastAct, To: s.TS, Frame: s.Frame, Side: d, Flags: s.Flags, Data: s.PayloadLen > 0}
	}
	f.lastAct, f.actSeen = s.TS, true
}

// wire runs the endpoint state machines, reset attribution and events for
// an analysed segment s sent by d with flags fl.
func (t *Table) wire(f *flowState, s *Segment, d Side, fl AnalysisFlag) {
	e := &f.ep[d]
	if fl&AnReusedPorts != 0 {
		code := uint16(0)
		if s.Flags&FlagACK != 0 {
			code = 1
		}
		t.event(f, EventReusedPorts, d, s, code)
	}
	// Mergeable events: consecutive ones of a kind from one side count
	// into the first.
	var mk EventKind
	var code uint16
	switch {
	case fl&AnRetransmissionFamily != 0:
		mk = EventRetransmission
		switch {
		case fl&AnFastRetransmission != 0:
			code = 1
		case fl&AnSpuriousRetransmission != 0:
			code = 2
		}
	case fl&AnKeepAlive != 0:
		mk = EventKeepAlive
	case fl&AnLostSegment != 0:
		mk = EventLostSegment
	default:
		e.evKind = 0
	}
	if mk != 0 {
		merged := false
		if e.evKind == uint8(mk)+1 {
			if ev := f.rings().events.at(e.evAbs); ev != nil && ev.kind == mk {
				if ev.count < 1<<32-1 {
					ev.count++
				}
				merged = true
			}
		}
		if !merged {
			e.evAbs = t.event(f, mk, d, s, code)
			e.evKind = uint8(mk) + 1
		}
	}
	if s.Flags&FlagRST != 0 {
		t.onRST(f, s, d)
	} else {
		t.checkPendingRST(f, s, d)
		t.stepState(f, s, d)
		e.learnPath(s)
		// Zero window: the raw window, as tshark's zero_window flag sees it.
		switch {
		case s.Window == 0 && s.Flags&(FlagSYN|FlagFIN) == 0:
			if !e.has(epZeroWin) {
				e.bits |= epZeroWin
				t.event(f, EventZeroWindowStart, d, s, 0)
			}
		case s.Window != 0 && e.has(epZeroWin):
			e.bits &^= epZeroWin
			t.event(f, EventZeroWindowEnd, d, s, 0)
		}
	}
	e.lastTS = s.TS
}

// event pushes an event and returns its ring index.
func (t *Table) event(f *flowState, kind EventKind, side Side, s *Segment, code uint16) uint64 {
	return f.rings().events.push(eventRec{
		ts: s.TS, frame: s.Frame, count: 1, kind: kind, side: side, code: code,
	}, t.cfg.EventRing)
}

// anCount adds a segment's analysis flags to its direction's counters.
func anCount(c *Counters, fl AnalysisFlag) {
	if fl == 0 {
		return
	}
	inc := func(bit AnalysisFlag, n *uint32) {
		if fl&bit != 0 {
			*n++
		}
	}
	inc(AnRetransmission, &c.Retransmission)
	inc(AnFastRetransmission, &c.FastRetransmission)
	inc(AnSpuriousRetransmission, &c.SpuriousRetransmission)
	inc(AnOutOfOrder, &c.OutOfOrder)
	inc(AnLostSegment, &c.LostSegment)
	inc(AnAckLostSegment, &c.AckLostSegment)
	inc(AnDuplicateAck, &c.DuplicateAck)
	inc(AnZeroWindow, &c.ZeroWindow)
	inc(AnZeroWindowProbe, &c.ZeroWindowProbe)
	inc(AnZeroWindowProbeAck, &c.ZeroWindowProbeAck)
	inc(AnKeepAlive, &c.KeepAlive)
	inc(AnKeepAliveAck, &c.KeepAliveAck)
	inc(AnWindowUpdate, &c.WindowUpdate)
	inc(AnWindowFull, &c.WindowFull)
	inc(AnReusedPorts, &c.ReusedPorts)
}

func rttAdd(r *RTTStats, v int64) {
	if r.Samples == 0 || v < r.Min {
		r.Min = v
	}
	if r.Samples == 0 || v > r.Max {
		r.Max = v
	}
	r.Samples++
	r.Sum += v
}

// newFlow creates the flow that segment s opens, evicting the oldest idle
// flow at the cap, and returns its slot.
func (t *Table) newFlow(key flowKey, srcIdx uint8, s *Segment, fixed bool) int32 {
	for int(t.stats.Flows) >= t.cfg.MaxFlows {
		if !t.evictOldest() {
			break
		}
	}
	var slot int32
	if n := len(t.free); n > 0 {
		slot = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		if int(t.nslots) == len(t.chunks)*tblChunk {
			t.chunks = append(t.chunks, make([]flowState, tblChunk))
		}
		slot = t.nslots
		t.nslots++
		t.links = append(t.links, tblLink{prev: -1, next: -1})
	}
	f := t.slot(slot)
	*f = flowState{
		key: key, aIdx: srcIdx, id: t.nextID, client: SideNone,
		firstFrame: s.Frame, firstTS: s.TS, list: tblOpen,
		an: [2]anDir{newAnDir(), newAnDir()},
	}
	f.ep[0].finQuiet, f.ep[1].finQuiet = -1, -1
	f.initStates(s, fixed)
	t.nextID++
	t.index[key] = slot
	t.byID = append(t.byID, tblIDSlot{id: f.id, slot: slot})
	t.stats.Flows++
	t.stats.FlowsCreated++
	t.linkTail(tblOpen, slot, f)
	return slot
}

// relist moves a flow to the tail of the LRU list its closed state calls
// for.
func (t *Table) relist(slot int32, f *flowState) {
	want := uint8(tblOpen)
	if f.isClosed() {
		want = tblClosed
	}
	if f.list == want && t.links[slot].next == -1 {
		return // already the newest of its list
	}
	t.unlink(slot, f)
	t.linkTail(want, slot, f)
}

func (t *Table) linkTail(l uint8, slot int32, f *flowState) {
	f.list = l
	t.links[slot] = tblLink{prev: t.lru[l].tail, next: -1}
	if t.lru[l].tail >= 0 {
		t.links[t.lru[l].tail].next = slot
	} else {
		t.lru[l].head = slot
	}
	t.lru[l].tail = slot
}

func (t *Table) unlink(slot int32, f *flowState) {
	l := &t.lru[f.list]
	k := t.links[slot]
	if k.prev >= 0 {
		t.links[k.prev].next = k.next
	} else {
		l.head = k.next
	}
	if k.next >= 0 {
		t.links[k.next].prev = k.prev
	} else {
		l.tail = k.prev
	}
	t.links[slot] = tblLink{prev: -1, next: -1}
}

// evictOldest drops the flow idle the longest (closed first on a tie).
func (t *Table) evictOldest() bool {
	o, c := t.lru[tblOpen].head, t.lru[tblClosed].head
	victim := o
	switch {
	case o < 0 && c < 0:
		return false
	case o < 0:
		victim = c
	case c >= 0 && t.slot(c).lastTS <= t.slot(o).lastTS:
		victim = c
	}
	t.remove(victim, true)
	return true
}

// remove drops the flow in slot, telling OnRemove.
func (t *Table) remove(slot int32, evicted bool) {
	f := t.slot(slot)
	if t.cfg.OnRemove != nil {
		var fl Flow
		t.fillFlow(f, &fl, nil)
		defer t.cfg.OnRemove(fl, evicted)
	}
	if cur, ok := t.index[f.key]; ok && cur == slot {
		delete(t.index, f.key)
	}
	if i, ok := t.findID(f.id); ok {
		t.byID[i].slot = -1
		t.byIDDead++
		t.compactIDs()
	}
	t.unlink(slot, f)
	*f = flowState{}
	t.free = append(t.free, slot)
	t.stats.Flows--
	if evicted {
		t.stats.Evicted++
	} else {
		t.stats.Expired++
	}
}

// findID returns the byID position of a live flow.
func (t *Table) findID(id FlowID) (int, bool) {
	lo, hi := 0, len(t.byID)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.byID[m].id < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(t.byID) && t.byID[lo].id == id && t.byID[lo].slot >= 0 {
		return lo, true
	}
	return 0, false
}

// compactIDs drops tombstones once they are half of byID.
func (t *Table) compactIDs() {
	if t.byIDDead < 64 || t.byIDDead*2 < len(t.byID) {
		return
	}
	j := 0
	for _, e := range t.byID {
		if e.slot >= 0 {
			t.byID[j] = e
			j++
		}
	}
	clear(t.byID[j:])
	t.byID = t.byID[:j]
	t.byIDDead = 0
}

// Expire removes the closed flows whose last packet is at least
// Config.Retention old and any flow silent for Config.IdleTimeout, as of
// now (ns), and returns how many it removed. Flows are examined oldest
// first, so the cost is proportional to what is removed.
func (t *Table) Expire(now int64) int {
	n := 0
	walk := func(l uint8, age int64) {
		for h := t.lru[l].head; h >= 0; h = t.lru[l].head {
			if now-t.slot(h).lastTS < age {
				return
			}
			t.remove(h, false)
			n++
		}
	}
	if t.cfg.Retention > 0 {
		walk(tblClosed, t.cfg.Retention)
	}
	if t.cfg.IdleTimeout > 0 {
		walk(tblClosed, t.cfg.IdleTimeout)
		walk(tblOpen, t.cfg.IdleTimeout)
	}
	return n
}

// Stats returns the table's counters.
func (t *Table) Stats() TableStats { return t.stats }

// Len is the number of flows tracked.
func (t *Table) Len() int { return int(t.stats.Flows) }

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
		if r := t.slot(e.slot).rg; r != nil {
			nt += r.trans.size()
			nr += r.resets.size()
			ne += min(r.trans.size()+r.events.size(), t.cfg.EventRing)
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

// flowBufs are shared backing arrays that fillFlow carves histories from;
// nil means allocate per flow.
type flowBufs struct {
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
		AckRTT:       f.rtt,
		State:        [2]State{f.ep[0].state, f.ep[1].state},
		ZeroWindowNow: [2]bool{
			f.ep[0].has(epZeroWin), f.ep[1].has(epZeroWin),
		},
		Facts: FlowFacts{
			Known:         true,
			LastTS:        [2]int64{f.ep[0].lastTS, f.ep[1].lastTS},
			LastDataTS:    [2]int64{f.ep[0].lastDataTS, f.ep[1].lastDataTS},
			LastDataFrame: [2]uint64{f.ep[0].lastDataFrame, f.ep[1].lastDataFrame},
			FINQuiet:      [2]int64{f.ep[0].finQuiet, f.ep[1].finQuiet},
			MaxRTO:        [2]int64{f.ep[0].maxRTO, f.ep[1].maxRTO},
			Pause:         f.pause,
		},
	}
	r := f.rg
	if r == nil {
		return
	}
	var tb *[]Transition
	var rb *[]Reset
	var hb *[]ResetHop
	var eb *[]Event
	if b != nil {
		tb, rb, hb, eb = &b.trans, &b.resets, &b.hops, &b.events
	}
	out.Transitions = carve(tb, r.trans.size())
	for i := range out.Transitions {
		tr := r.trans.nth(i)
		out.Transitions[i] = Transition{TS: tr.ts, Frame: tr.frame, Side: tr.side, From: tr.from, To: tr.to}
	}
	out.TransitionsDropped = r.trans.dropped()
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

	// Events: the event ring merged with the transitions (state events),
	// by frame, other events first within a frame; the newest EventRing
	// kept. Filled from the back.
	nt, ne := r.trans.size(), r.events.size()
	k := min(nt+ne, t.cfg.EventRing)
	out.Events = carve(eb, k)
	it, ie := nt-1, ne-1
	for j := k - 1; j >= 0; j-- {
		takeState := ie < 0
		if it >= 0 && ie >= 0 {
			takeState = r.trans.nth(it).frame >= r.events.nth(ie).frame
		}
		if takeState {
			tr := r.trans.nth(it)
			out.Events[j] = Event{
				Kind: EventState, TS: tr.ts, Frame: tr.frame, Side: tr.cause, Count: 1,
				Detail: stateEventDetail[tr.side&1][tr.from%numStates][tr.to%numStates],
			}
			it--
		} else {
			ev := r.events.nth(ie)
			out.Events[j] = Event{
				Kind: ev.kind, TS: ev.ts, Frame: ev.frame, Side: ev.side, Count: ev.count,
				Detail: eventDetail(ev),
			}
			ie--
		}
	}
	out.EventsDropped = r.events.dropped() + r.trans.dropped() + uint32(it+1+ie+1)
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
