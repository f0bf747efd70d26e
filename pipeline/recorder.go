package pipeline

import (
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/model"
)

// Defaults of RecorderConfig.
const (
	// DefaultRecorderBudget is the memory the flight recorder may hold
	// for the packets of every flow together: with header-only packets
	// (160 bytes kept) a short connection costs about 2 KiB and one with
	// a full ring about 28 KiB, so it holds some 15,000 short flows or
	// 1,100 long ones (LRU: the flows quiet the longest go first).
	DefaultRecorderBudget = 32 << 20
	// DefaultFlowPackets is how many packets of one flow are kept: its
	// first recorderHead (the handshake, which tells who the client is)
	// and the last ones. 128 hold every flow of the demo capture whole
	// (its zero-window stall and lossy transfer of 100 KB take about 125).
	DefaultFlowPackets = 128
	// DefaultEvidenceMaxBytes caps the evidence files together.
	DefaultEvidenceMaxBytes = 256 << 20
	// DefaultEvidenceBurst and DefaultEvidenceEvery rate-limit the files:
	// up to DefaultEvidenceBurst at once, then one per
	// DefaultEvidenceEvery (a port scan raises a finding per port).
	DefaultEvidenceBurst = 10
	DefaultEvidenceEvery = time.Second
	// recorderHead is how many of a flow's first packets stay whatever
	// follows: the handshake and the first data.
	recorderHead = 4
	// recorderSlot is the most bytes kept of a packet: the headers (the
	// default snaplen keeps 160) and never much payload. Each packet
	// takes min(snaplen, recorderSlot) bytes.
	recorderSlot = 256
	// recFlowOverhead approximates what a flow costs besides its packet
	// slots: its struct and its map entry.
	recFlowOverhead = int64(unsafe.Sizeof(recFlow{})) + 64
)

// RecorderConfig configures NewRecorder. Zero values take the defaults.
type RecorderConfig struct {
	// Dir is where evidence files are written; it is created (mode 0700)
	// if missing.
	Dir string
	// Budget is the most bytes the packets of all flows may hold,
	// bookkeeping included; beyond it the flow that has been quiet the
	// longest is forgotten (counted in RecorderStats.EvictedFlows).
	Budget int64
	// FlowPackets is the most packets kept of one flow (at least
	// recorderHead+1): the first ones and the newest.
	FlowPackets int
	// MaxBytes caps the evidence files in Dir together: the oldest are
	// removed first, the newest file is always kept.
	MaxBytes int64
	// Burst and Every rate-limit the files written: Burst at once, then
	// one per Every.
	Burst int
	Every time.Duration
	// Clock returns the wall time (default time.Now); tests replace it.
	Clock func() time.Time
}

// RecorderStats are the flight recorder's counters.
type RecorderStats struct {
	// Packets counts the packets recorded; HeldBytes and HeldFlows are
	// what is held now; EvictedFlows counts the flows forgotten to stay
	// within the budget.
	Packets      uint64
	HeldBytes    int64
	HeldFlows    int
	EvictedFlows uint64
	// Written counts the evidence files written; RateLimited the
	// findings that got none because of the rate limit; NoPackets those
	// whose flow had no packet held (a socket without traffic, or a flow
	// forgotten); Failed the files that could not be written.
	Written, RateLimited, NoPackets, Failed uint64
	// Removed counts the files removed to stay within MaxBytes; Files
	// and DirBytes are the evidence files in Dir now and their size.
	Removed  uint64
	Files    int
	DirBytes int64
}

// recKey is a flow's endpoints, lower first, so both directions meet.
type recKey struct {
	lo, hi netip.AddrPort
}

func keyOf(a, b netip.AddrPort) (recKey, bool) {
	if a.Compare(b) <= 0 {
		return recKey{a, b}, true
	}
	return recKey{b, a}, false
}

// recPkt is one packet held: where its bytes are in the flow's buffer and
// what a pcapng file needs to write it back.
type recPkt struct {
	ts      int64
	frame   uint64
	wire    int32
	n       int32
	iface   int32
	snaplen int32
	link    capture.LinkType
	fromLo  bool // sent by the key's lower endpoint
	name    string
}

// recFlow is one flow's packets: pkts[:recorderHead] stay, the rest is a
// ring whose oldest entry is at head+next once full. Packet i's bytes are
// buf[i*slot:][:n] (see Recorder.slot).
type recFlow struct {
	key        recKey
	pkts       []recPkt
	next       int
	buf        []byte
	cost       int64
	prev, newr *recFlow // LRU list: prev is older, newr newer
}

// Recorder is the flight recorder of watch mode: it keeps the last packets
// of every flow in bounded memory (Add, on the capture's goroutine) and,
// when a finding is raised, writes that flow's packets to an evidence file
// (Save). It is safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	cfg   RecorderConfig
	flows map[recKey]*recFlow
	// oldest and newest end the LRU list.
	oldest, newest *recFlow
	held           int64
	// slot is the bytes each packet takes in a flow's buffer, set by the
	// first packet from the capture's snaplen.
	slot int
	st   RecorderStats
	ev   evidenceDir
}

// NewRecorder returns a recorder writing evidence into cfg.Dir, which it
// creates if missing; evidence files already there count towards
// MaxBytes, and temporary files a killed run left are removed.
func NewRecorder(cfg RecorderConfig) (*Recorder, error) {
	if cfg.Budget <= 0 {
		cfg.Budget = DefaultRecorderBudget
	}
	if cfg.FlowPackets <= recorderHead {
		cfg.FlowPackets = DefaultFlowPackets
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultEvidenceMaxBytes
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultEvidenceBurst
	}
	if cfg.Every <= 0 {
		cfg.Every = DefaultEvidenceEvery
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	r := &Recorder{cfg: cfg, flows: map[recKey]*recFlow{}}
	if err := r.ev.open(cfg.Dir, float64(cfg.Burst)); err != nil {
		return nil, err
	}
	r.st.Files, r.st.DirBytes = len(r.ev.files), r.ev.total
	return r, nil
}

// Add records one segment and its packet (capture.LiveOptions.OnSegment).
// It allocates only for a new flow, or while a flow's first packets grow
// its buffers.
func (r *Recorder) Add(seg *model.Segment, pkt capture.SegmentPacket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.slot == 0 {
		r.slot = recorderSlot
		if pkt.Snaplen > 0 {
			r.slot = min(pkt.Snaplen, recorderSlot)
		}
	}
	k, fromLo := keyOf(seg.Src, seg.Dst)
	f := r.flows[k]
	if f == nil {
		f = &recFlow{key: k, pkts: make([]recPkt, 0, 8), buf: make([]byte, 0, 8*r.slot)}
		f.cost = recFlowOverhead + int64(cap(f.pkts))*int64(unsafe.Sizeof(recPkt{})) + int64(cap(f.buf))
		r.held += f.cost
		r.flows[k] = f
		r.link(f)
	} else if f != r.newest {
		r.unlink(f)
		r.link(f)
	}
	var i int
	if len(f.pkts) < r.cfg.FlowPackets {
		i = len(f.pkts)
		f.pkts = append(f.pkts, recPkt{})
		if need := (i + 1) * r.slot; need > len(f.buf) {
			f.buf = append(f.buf, make([]byte, need-len(f.buf))...)
		}
		r.recost(f)
	} else {
		ring := r.cfg.FlowPackets - recorderHead
		i = recorderHead + f.next
		f.next = (f.next + 1) % ring
	}
	data := pkt.Data
	if len(data) > r.slot {
		data = data[:r.slot]
	}
	copy(f.buf[i*r.slot:], data)
	f.pkts[i] = recPkt{ts: seg.TS, frame: seg.Frame, wire: int32(pkt.Length), n: int32(len(data)),
		iface: int32(pkt.Iface), snaplen: int32(r.slot), link: pkt.Link, fromLo: fromLo, name: pkt.IfaceName}
	r.st.Packets++
	for r.held > r.cfg.Budget && r.oldest != nil && r.oldest != f {
		r.forget(r.oldest)
		r.st.EvictedFlows++
	}
}

// recost recounts a flow's cost after its buffers grew.
func (r *Recorder) recost(f *recFlow) {
	c := recFlowOverhead + int64(cap(f.pkts))*int64(unsafe.Sizeof(recPkt{})) + int64(cap(f.buf))
	r.held += c - f.cost
	f.cost = c
}

func (r *Recorder) link(f *recFlow) {
	f.prev, f.newr = r.newest, nil
	if r.newest != nil {
		r.newest.newr = f
	} else {
		r.oldest = f
	}
	r.newest = f
}

func (r *Recorder) unlink(f *recFlow) {
	if f.prev != nil {
		f.prev.newr = f.newr
	} else {
		r.oldest = f.newr
	}
	if f.newr != nil {
		f.newr.prev = f.prev
	} else {
		r.newest = f.prev
	}
	f.prev, f.newr = nil, nil
}

func (r *Recorder) forget(f *recFlow) {
	r.unlink(f)
	delete(r.flows, f.key)
	r.held -= f.cost
}

// heldPacket is a copy of one packet held, for writing.
type heldPacket struct {
	recPkt
	data []byte
}

// packets copies the packets held of the flow between a and b whose
// frames lie in [first, last], in capture order; fromA marks those a
// sent. r.mu must be held.
func (r *Recorder) packets(a, b netip.AddrPort, first, last uint64) (out []heldPacket, fromA []bool) {
	k, aIsLo := keyOf(a, b)
	f := r.flows[k]
	if f == nil {
		return nil, nil
	}
	take := func(i int) {
		p := f.pkts[i]
		if p.frame < first || p.frame > last {
			return
		}
		out = append(out, heldPacket{recPkt: p, data: append([]byte(nil), f.buf[i*r.slot:][:p.n]...)})
		fromA = append(fromA, p.fromLo == aIsLo)
	}
	n := len(f.pkts)
	for i := 0; i < min(n, recorderHead); i++ {
		take(i)
	}
	if n > recorderHead {
		ring := n - recorderHead
		start := 0
		if n == r.cfg.FlowPackets {
			start = f.next // full: the oldest is next to be overwritten
		}
		for j := 0; j < ring; j++ {
			take(recorderHead + (start+j)%ring)
		}
	}
	return out, fromA
}

// Stats returns the recorder's counters.
func (r *Recorder) Stats() RecorderStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.st
	s.HeldBytes, s.HeldFlows = r.held, len(r.flows)
	return s
}
