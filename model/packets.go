package model

// PacketRecord is one packet of a flow as the drill-down ladder shows it:
// the header fields a person reads, plus the analysis flags the Table gave
// it. It holds no payload.
type PacketRecord struct {
	TS    int64
	Frame uint64
	// Dir is the sending side.
	Dir   Side
	Flags TCPFlags
	// RelSeq and RelAck are relative to the sender's and receiver's ISN,
	// as Wireshark shows them.
	RelSeq, RelAck uint32
	// Len is the TCP payload length; Window the raw window field.
	Len    uint32
	Window uint16
	// Analysis holds the tshark analysis flags of the segment.
	Analysis AnalysisFlag
}

// PacketLogConfig bounds a PacketLog.
type PacketLogConfig struct {
	// Head is how many of each flow's first packets are kept (the
	// handshake); Tail how many of its newest.
	Head, Tail int
	// MaxRecords caps the records held over all flows; beyond it the
	// least recently active flow's log is dropped whole, and counted.
	MaxRecords int
}

// Default PacketLog bounds: about 40 bytes a record, so 20 MiB at most.
const (
	DefaultPacketLogHead       = 16
	DefaultPacketLogTail       = 256
	DefaultPacketLogMaxRecords = 512 << 10
)

// PacketLogStats count what a PacketLog holds and what it let go.
type PacketLogStats struct {
	Flows   int    // flows with a log
	Records int    // records held
	Evicted uint64 // flow logs dropped to stay under MaxRecords
	// EvictedRecords counts the records those evictions dropped.
	EvictedRecords uint64
}

// FlowPackets is a copy of one flow's log, safe to keep. Records are in
// capture order; when packets between the first and the newest were not
// kept, Skipped says how many and GapAt where they belong (Records[:GapAt]
// came before them).
type FlowPackets struct {
	ID      FlowID
	Records []PacketRecord
	GapAt   int
	Skipped uint64
	// Restarted is set when the flow's earlier log was evicted: its first
	// records are not the flow's first packets.
	Restarted bool
}

// PacketLog keeps a bounded log of packets per flow for the drill-down:
// the first Head and the newest Tail packets of each flow, with a global
// cap on records. It is not safe for concurrent use: one goroutine
// owns it.
type PacketLog struct {
	cfg     PacketLogConfig
	flows   map[FlowID]*flowLog
	lru     flowLog // sentinel: lru.next is the most recently active
	records int
	stats   PacketLogStats
	evicted map[FlowID]struct{} // flows whose log was evicted while they live
}

type flowLog struct {
	id         FlowID
	head, tail []PacketRecord
	start      int // index of the oldest tail record once the ring is full
	seen       uint64
	restarted  bool
	prev, next *flowLog
}

// NewPacketLog returns an empty log. Zero or negative bounds take the
// defaults; MaxRecords is raised to hold at least one full flow.
func NewPacketLog(cfg PacketLogConfig) *PacketLog {
	if cfg.Head < 0 {
		cfg.Head = 0
	} else if cfg.Head == 0 {
		cfg.Head = DefaultPacketLogHead
	}
	if cfg.Tail <= 0 {
		cfg.Tail = DefaultPacketLogTail
	}
	if cfg.MaxRecords <= 0 {
		cfg.MaxRecords = DefaultPacketLogMaxRecords
	}
	cfg.MaxRecords = max(cfg.MaxRecords, cfg.Head+cfg.Tail)
	l := &PacketLog{cfg: cfg, flows: map[FlowID]*flowLog{}, evicted: map[FlowID]struct{}{}}
	l.lru.next, l.lru.prev = &l.lru, &l.lru
	return l
}

// Add appends a packet to flow id's log.
func (l *PacketLog) Add(id FlowID, r PacketRecord) {
	fl := l.flows[id]
	if fl == nil {
		fl = &flowLog{id: id}
		if _, ok := l.evicted[id]; ok {
			fl.restarted = true
			delete(l.evicted, id)
		}
		l.flows[id] = fl
	} else {
		fl.unlink()
	}
	fl.linkAfter(&l.lru)
	fl.seen++
	switch {
	case len(fl.head) < l.cfg.Head:
		if fl.head == nil {
			fl.head = make([]PacketRecord, 0, l.cfg.Head)
		}
		fl.head = append(fl.head, r)
		l.records++
	case len(fl.tail) < l.cfg.Tail:
		fl.tail = append(fl.tail, r)
		l.records++
	default:
		fl.tail[fl.start] = r
		fl.start = (fl.start + 1) % len(fl.tail)
	}
	for l.records > l.cfg.MaxRecords && l.lru.prev != fl {
		l.evict(l.lru.prev)
	}
}

func (l *PacketLog) evict(fl *flowLog) {
	n := len(fl.head) + len(fl.tail)
	l.stats.Evicted++
	l.stats.EvictedRecords += uint64(n)
	l.evicted[fl.id] = struct{}{}
	l.drop(fl)
}

func (l *PacketLog) drop(fl *flowLog) {
	l.records -= len(fl.head) + len(fl.tail)
	fl.unlink()
	delete(l.flows, fl.id)
}

// Forget drops flow id's log: the Table removed the flow.
func (l *PacketLog) Forget(id FlowID) {
	if fl := l.flows[id]; fl != nil {
		l.drop(fl)
	}
	delete(l.evicted, id)
}

// Flow returns a copy of flow id's log; false when it has none.
func (l *PacketLog) Flow(id FlowID) (FlowPackets, bool) {
	fl := l.flows[id]
	if fl == nil {
		return FlowPackets{ID: id}, false
	}
	out := FlowPackets{
		ID:        id,
		Records:   make([]PacketRecord, 0, len(fl.head)+len(fl.tail)),
		GapAt:     len(fl.head),
		Skipped:   fl.seen - uint64(len(fl.head)+len(fl.tail)),
		Restarted: fl.restarted,
	}
	out.Records = append(out.Records, fl.head...)
	out.Records = append(out.Records, fl.tail[fl.start:]...)
	out.Records = append(out.Records, fl.tail[:fl.start]...)
	return out, true
}

// Stats returns the log's counters.
func (l *PacketLog) Stats() PacketLogStats {
	s := l.stats
	s.Flows = len(l.flows)
	s.Records = l.records
	return s
}

func (fl *flowLog) unlink() {
	fl.prev.next, fl.next.prev = fl.next, fl.prev
	fl.prev, fl.next = nil, nil
}

func (fl *flowLog) linkAfter(at *flowLog) {
	fl.prev, fl.next = at, at.next
	at.next.prev = fl
	at.next = fl
}
