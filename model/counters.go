package model

import "math/bits"

// Counters are the per-direction packet counts and tshark analysis flags.
// Retransmission counts plain retransmissions only; RetransmissionField adds
// fast and spurious ones, as tshark's tcp.analysis.retransmission does.
//
// Every field has one row in the counter table (CounterFields), which
// names it for --json and for tables and says which analysis flag counts
// into it. Adding a counter is a field here, its row in counterFields and
// its term in Totals (plus, for a new analysis flag, the flag in
// verdict.go and the analysis that sets it); the counting of analysis
// flags and every consumer of the table follow, and the tests fail until
// the row and the term are there.
type Counters struct {
	Packets                uint64
	PayloadBytes           uint64
	FrameBytes             uint64
	SYN                    uint32 // SYN without ACK
	SYNACK                 uint32
	FIN                    uint32
	RST                    uint32
	Retransmission         uint32 // plain only
	FastRetransmission     uint32
	SpuriousRetransmission uint32
	OutOfOrder             uint32
	LostSegment            uint32
	AckLostSegment         uint32
	DuplicateAck           uint32
	ZeroWindow             uint32
	ZeroWindowProbe        uint32
	ZeroWindowProbeAck     uint32
	KeepAlive              uint32
	KeepAliveAck           uint32
	WindowUpdate           uint32
	WindowFull             uint32
	ReusedPorts            uint32
}

// RetransmissionField is plain + fast + spurious retransmissions: the count
// of tshark's tcp.analysis.retransmission field.
func (c Counters) RetransmissionField() uint32 {
	return c.Retransmission + c.FastRetransmission + c.SpuriousRetransmission
}

// CounterField is one row of the counter table: a field of Counters, its
// names for --json and for tables, and the analysis flag counted into it.
//
// Stored reads the field as Counters keeps it; Value reads what --json
// reports under JSONKey, which for two fields follows tshark's field
// rather than the stored count: syn counts every segment with SYN set
// (SYN/ACKs included) and retransmission adds fast and spurious ones.
type CounterField struct {
	// Name is the field's name in Counters ("SYNACK").
	Name string
	// JSONKey is the field's key in a direction object of --json
	// ("syn_ack"), or "" for a field --json leaves out (FrameBytes).
	JSONKey string
	// Title is a short row or column title for tables ("SYN/ACK").
	Title string
	// Flag is the analysis flag (a single bit) whose segments the field
	// counts, or 0 for the packet, byte and TCP-flag counts Apply keeps
	// itself.
	Flag AnalysisFlag

	// Exactly one of u64 and u32 points at the field; value, when set,
	// computes the reported value.
	u64   func(*Counters) *uint64
	u32   func(*Counters) *uint32
	value func(*Counters) uint64
}

// Stored returns the field's value as c keeps it.
func (f CounterField) Stored(c *Counters) uint64 {
	if f.u64 != nil {
		return *f.u64(c)
	}
	return uint64(*f.u32(c))
}

// Value returns the value reported under JSONKey: Stored, except that syn
// includes SYN/ACKs and retransmission includes fast and spurious ones, as
// tshark's fields do.
func (f CounterField) Value(c *Counters) uint64 {
	if f.value != nil {
		return f.value(c)
	}
	return f.Stored(c)
}

// counterFields is the counter table: one row per field of Counters, in
// the order of the struct and of --json.
var counterFields = [...]CounterField{
	{Name: "Packets", JSONKey: "packets", Title: "packets", u64: func(c *Counters) *uint64 { return &c.Packets }},
	{Name: "PayloadBytes", JSONKey: "payload_bytes", Title: "payload bytes", u64: func(c *Counters) *uint64 { return &c.PayloadBytes }},
	{Name: "FrameBytes", Title: "frame bytes", u64: func(c *Counters) *uint64 { return &c.FrameBytes }},
	{Name: "SYN", JSONKey: "syn", Title: "SYN", u32: func(c *Counters) *uint32 { return &c.SYN },
		value: func(c *Counters) uint64 { return uint64(c.SYN) + uint64(c.SYNACK) }},
	{Name: "SYNACK", JSONKey: "syn_ack", Title: "SYN/ACK", u32: func(c *Counters) *uint32 { return &c.SYNACK }},
	{Name: "FIN", JSONKey: "fin", Title: "FIN", u32: func(c *Counters) *uint32 { return &c.FIN }},
	{Name: "RST", JSONKey: "rst", Title: "RST", u32: func(c *Counters) *uint32 { return &c.RST }},
	{Name: "Retransmission", JSONKey: "retransmission", Title: "retransmission", Flag: AnRetransmission, u32: func(c *Counters) *uint32 { return &c.Retransmission },
		value: func(c *Counters) uint64 {
			return uint64(c.Retransmission) + uint64(c.FastRetransmission) + uint64(c.SpuriousRetransmission)
		}},
	{Name: "FastRetransmission", JSONKey: "fast_retransmission", Title: "fast retransmission", Flag: AnFastRetransmission, u32: func(c *Counters) *uint32 { return &c.FastRetransmission }},
	{Name: "SpuriousRetransmission", JSONKey: "spurious_retransmission", Title: "spurious retransmission", Flag: AnSpuriousRetransmission, u32: func(c *Counters) *uint32 { return &c.SpuriousRetransmission }},
	{Name: "OutOfOrder", JSONKey: "out_of_order", Title: "out of order", Flag: AnOutOfOrder, u32: func(c *Counters) *uint32 { return &c.OutOfOrder }},
	{Name: "LostSegment", JSONKey: "lost_segment", Title: "lost segment", Flag: AnLostSegment, u32: func(c *Counters) *uint32 { return &c.LostSegment }},
	{Name: "AckLostSegment", JSONKey: "ack_lost_segment", Title: "ACKed lost segment", Flag: AnAckLostSegment, u32: func(c *Counters) *uint32 { return &c.AckLostSegment }},
	{Name: "DuplicateAck", JSONKey: "duplicate_ack", Title: "duplicate ACK", Flag: AnDuplicateAck, u32: func(c *Counters) *uint32 { return &c.DuplicateAck }},
	{Name: "ZeroWindow", JSONKey: "zero_window", Title: "zero window", Flag: AnZeroWindow, u32: func(c *Counters) *uint32 { return &c.ZeroWindow }},
	{Name: "ZeroWindowProbe", JSONKey: "zero_window_probe", Title: "zero window probe", Flag: AnZeroWindowProbe, u32: func(c *Counters) *uint32 { return &c.ZeroWindowProbe }},
	{Name: "ZeroWindowProbeAck", JSONKey: "zero_window_probe_ack", Title: "zero window probe ACK", Flag: AnZeroWindowProbeAck, u32: func(c *Counters) *uint32 { return &c.ZeroWindowProbeAck }},
	{Name: "KeepAlive", JSONKey: "keep_alive", Title: "keep-alive", Flag: AnKeepAlive, u32: func(c *Counters) *uint32 { return &c.KeepAlive }},
	{Name: "KeepAliveAck", JSONKey: "keep_alive_ack", Title: "keep-alive ACK", Flag: AnKeepAliveAck, u32: func(c *Counters) *uint32 { return &c.KeepAliveAck }},
	{Name: "WindowUpdate", JSONKey: "window_update", Title: "window update", Flag: AnWindowUpdate, u32: func(c *Counters) *uint32 { return &c.WindowUpdate }},
	{Name: "WindowFull", JSONKey: "window_full", Title: "window full", Flag: AnWindowFull, u32: func(c *Counters) *uint32 { return &c.WindowFull }},
	{Name: "ReusedPorts", JSONKey: "reused_ports", Title: "reused ports", Flag: AnReusedPorts, u32: func(c *Counters) *uint32 { return &c.ReusedPorts }},
}

// NumCounterFields is the number of rows of the counter table, one per
// field of Counters.
const NumCounterFields = len(counterFields)

// CounterFields returns the counter table: one row per field of Counters,
// in the order of the struct, which is also the order of --json's keys.
// The array is the caller's copy, returned without allocating, so a
// consumer can range over it per flow:
//
//	for _, f := range model.CounterFields() {
//		if f.JSONKey != "" {
//			emit(f.JSONKey, f.Value(&c))
//		}
//	}
func CounterFields() [NumCounterFields]CounterField { return counterFields }

// anCounter maps an analysis flag's bit to the counter table row it counts
// into (-1: none).
var anCounter = func() (m [numAnalysisFlags]int8) {
	for b := range m {
		m[b] = -1
	}
	for i, f := range counterFields {
		if f.Flag != 0 {
			m[bits.TrailingZeros32(uint32(f.Flag))] = int8(i)
		}
	}
	return m
}()

// Totals sums both directions. It adds the fields one by one rather than
// through the counter table: a call per field would cost ten times as
// much. TestFlow_TotalsSumsEveryField fails on a field left out.
func (f *Flow) Totals() Counters {
	a, b := &f.Dir[0], &f.Dir[1]
	return Counters{
		Packets: a.Packets + b.Packets, PayloadBytes: a.PayloadBytes + b.PayloadBytes,
		FrameBytes: a.FrameBytes + b.FrameBytes,
		SYN:        a.SYN + b.SYN, SYNACK: a.SYNACK + b.SYNACK, FIN: a.FIN + b.FIN, RST: a.RST + b.RST,
		Retransmission: a.Retransmission + b.Retransmission, FastRetransmission: a.FastRetransmission + b.FastRetransmission,
		SpuriousRetransmission: a.SpuriousRetransmission + b.SpuriousRetransmission,
		OutOfOrder:             a.OutOfOrder + b.OutOfOrder, LostSegment: a.LostSegment + b.LostSegment,
		AckLostSegment: a.AckLostSegment + b.AckLostSegment, DuplicateAck: a.DuplicateAck + b.DuplicateAck,
		ZeroWindow: a.ZeroWindow + b.ZeroWindow, ZeroWindowProbe: a.ZeroWindowProbe + b.ZeroWindowProbe,
		ZeroWindowProbeAck: a.ZeroWindowProbeAck + b.ZeroWindowProbeAck, KeepAlive: a.KeepAlive + b.KeepAlive,
		KeepAliveAck: a.KeepAliveAck + b.KeepAliveAck, WindowUpdate: a.WindowUpdate + b.WindowUpdate,
		WindowFull: a.WindowFull + b.WindowFull, ReusedPorts: a.ReusedPorts + b.ReusedPorts,
	}
}

// anCount adds a segment's analysis flags to its direction's counters.
func anCount(c *Counters, fl AnalysisFlag) {
	for fl != 0 {
		b := bits.TrailingZeros32(uint32(fl))
		fl &= fl - 1
		if b < numAnalysisFlags {
			if i := anCounter[b]; i >= 0 {
				*counterFields[i].u32(c)++
			}
		}
	}
}
