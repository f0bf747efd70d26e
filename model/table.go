package model

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
// Memory is bounded by Config.MaxFlows; a short complete flow costs about
// 0.9 KiB with its histories (its cold part and rings allocated on first
// use), as TestTable_MemoryPerFlow measures. Apply does not allocate for
// a segment of an existing flow, except the first time a flow's history
// rings fill up to their caps, and when more directions than ever before
// have data unacknowledged at once (a chunk of 256 lists).
type Table struct {
	cfg   Config
	index flowIndex // 4-tuple -> slot of its newest flow
	// Flow states live in fixed-size chunks, so pointers into them stay
	// valid and growth never copies them.
	chunks [][]flowState
	nslots int32
	free   []int32
	// unack holds the unacknowledged segments of the directions that
	// have some (for ACK RTT samples).
	unack unackPool
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
		index: newFlowIndex(),
		lru:   [2]tblList{{-1, -1}, {-1, -1}},
	}
}

// flowState is one flow's live state: what every segment reads or
// writes, kept together in the table's chunks (under 500 bytes). What a
// segment touches only on rare events, or what only a snapshot reads,
// lives in flowCold, allocated on first use.
type flowState struct {
	key          flowKey
	aIdx         uint8 // key index of side A
	client       Side
	roleInferred bool
	list         uint8  // LRU list holding it
	actSeen      bool   // lastAct is set
	lastData     uint8  // 1 + the side that sent the latest new data, 0 before any
	effRST       uint16 // effective resets not disproved
	id           FlowID
	lastTS       int64
	lastFrame    uint64
	firstFrame   uint64
	firstTS      int64
	tsMruSyn     int64 // time of the latest pure SYN, 0 = none (tshark's quirk)
	irtt         int64 // 0 = not measured
	// lastAct is the latest activity (data, SYN, FIN or RST, not resent);
	// flowCold.pause the latest long quiet before one (FlowFacts.Pause).
	lastAct int64
	ctr     [2]Counters
	an      [2]anDir
	ep      [2]endpoint
	cold    *flowCold
}

// flowCold is the part of a flow that segments touch rarely (RTT samples,
// the diagnosis's timings, the pause) or that only snapshots read (the
// bounded histories). A flow allocates it with its first such fact; its
// zero value, apart from finQuiet, is a flow that has none yet.
type flowCold struct {
	rtt [2]RTTStats
	// The diagnosis's timings of each side (FlowFacts): its last data
	// segment, the quiet before its first FIN (-1: none yet) and the
	// longest silence of its peer before one of its plain
	// retransmissions.
	lastDataTS    [2]int64
	lastDataFrame [2]uint64
	finQuiet      [2]int64
	maxRTO        [2]int64
	// evAbs is the ring index of each side's latest mergeable event
	// (endpoint.evKind says whether it may still count into it).
	evAbs [2]uint64
	// pause is the latest long quiet, allocated with the first: most
	// flows have none.
	pause *Pause
	// turns counts each side's data segments that took the turn: new
	// data (not resent, not a probe) after the peer's data or as the
	// flow's first.
	turns  [2]uint16
	trans  transRing
	events boundedRing[eventRec]
	rst    *flowRST // allocated with the first RST
}

// flowRST is the reset attribution's part of a flow: its resets and the
// latest one, which later segments may still prove forged or ignored.
type flowRST struct {
	resets boundedRing[resetRec]
	pend   rstPending
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

// coldPart returns the flow's cold part, allocating it.
func (f *flowState) coldPart() *flowCold {
	if f.cold == nil {
		f.cold = &flowCold{finQuiet: [2]int64{-1, -1}}
	}
	return f.cold
}

// rstPart returns the flow's reset attribution state, allocating it.
func (f *flowState) rstPart() *flowRST {
	c := f.coldPart()
	if c.rst == nil {
		c.rst = new(flowRST)
	}
	return c.rst
}

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

// Stats returns the table's counters.
func (t *Table) Stats() TableStats { return t.stats }

// Len is the number of flows tracked.
func (t *Table) Len() int { return int(t.stats.Flows) }
