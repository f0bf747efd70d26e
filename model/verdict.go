package model

import "strings"

// AnalysisFlag is a bit set of the tshark analysis flags one segment got
// (the tcp.analysis.* fields of Wireshark 4.0). The retransmission family is
// kept apart: a fast or spurious retransmission carries only its own bit,
// while tshark also attaches the plain "retransmission" item to it.
type AnalysisFlag uint32

// Analysis flags, one per tshark tcp.analysis.* field.
const (
	AnRetransmission AnalysisFlag = 1 << iota // plain retransmission only
	AnFastRetransmission
	AnSpuriousRetransmission
	AnOutOfOrder
	AnLostSegment    // "previous segment(s) not captured"
	AnAckLostSegment // "ACKed segment that wasn't captured"
	AnDuplicateAck
	AnZeroWindow
	AnZeroWindowProbe
	AnZeroWindowProbeAck
	AnKeepAlive
	AnKeepAliveAck
	AnWindowUpdate
	AnWindowFull
	AnReusedPorts
	numAnalysisFlags = iota
)

// anFlagNames are the short names String uses, in bit order.
var anFlagNames = [numAnalysisFlags]string{
	"retrans", "fast-retrans", "spurious-retrans", "out-of-order", "lost-segment",
	"ack-lost-segment", "dup-ack", "zero-window", "zero-window-probe",
	"zero-window-probe-ack", "keep-alive", "keep-alive-ack", "window-update",
	"window-full", "reused-ports",
}

// AnRetransmissionFamily is every flag that tshark's tcp.analysis.retransmission
// field covers.
const AnRetransmissionFamily = AnRetransmission | AnFastRetransmission | AnSpuriousRetransmission

// Has reports whether every bit of g is set in f.
func (f AnalysisFlag) Has(g AnalysisFlag) bool { return f&g == g }

// String lists the set flags by short name in bit order, comma separated
// ("retrans,dup-ack"), or "" when none is set.
func (f AnalysisFlag) String() string {
	if f == 0 {
		return ""
	}
	var b strings.Builder
	for i, name := range anFlagNames {
		if f&(1<<i) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
	}
	return b.String()
}

// Verdict is what Table.Apply learned about one segment: the UI's packet
// ladder and the event log use it.
type Verdict struct {
	// Flow is the flow the segment was counted in.
	Flow FlowID
	// Dir is the sending side (SideA or SideB).
	Dir Side
	// Flags are the analysis flags of the segment.
	Flags AnalysisFlag
	// RelSeq is seq relative to the sending direction's base (tshark's
	// relative numbering), 0 if unknown.
	RelSeq uint32
	// RelAck is ack relative to the other direction's base, 0 if unknown or
	// the ACK bit is clear.
	RelAck uint32
	// Created is set when this segment created the flow (its first packet,
	// or a SYN that reused the ports of an older flow).
	Created bool
	// Ignored is set when the segment was counted but its analysis flags
	// are not reported: its header was cut short (Segment.HeaderCut) or
	// has a bogus length. tshark shows no flags for such a frame; when
	// the fixed 20-byte header is there it still moves the analysis
	// state, and so does Apply.
	Ignored bool
}
