package model

// Counters are the per-direction packet counts and tshark analysis flags.
// Retransmission counts plain retransmissions only; RetransmissionField adds
// fast and spurious ones, as tshark's tcp.analysis.retransmission does.
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

// Totals sums both directions.
func (f *Flow) Totals() Counters {
	a, b := f.Dir[0], f.Dir[1]
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
