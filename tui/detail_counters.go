package tui

import "fmt"

// countersTab is the per-direction table of analysis counters.
type countersTab struct{}

// lines is the per-direction table of analysis counters.
func (countersTab) lines(t *tabCtx) []string {
	f := t.f
	l := leftSide(f)
	a, b := f.Dir[l], f.Dir[l.Other()]
	rows := []struct {
		name string
		x, y uint64
	}{
		{"packets", a.Packets, b.Packets},
		{"payload bytes", a.PayloadBytes, b.PayloadBytes},
		{"frame bytes", a.FrameBytes, b.FrameBytes},
		{"SYN", uint64(a.SYN), uint64(b.SYN)},
		{"SYN/ACK", uint64(a.SYNACK), uint64(b.SYNACK)},
		{"FIN", uint64(a.FIN), uint64(b.FIN)},
		{"RST", uint64(a.RST), uint64(b.RST)},
		{"retransmission", uint64(a.Retransmission), uint64(b.Retransmission)},
		{"fast retransmission", uint64(a.FastRetransmission), uint64(b.FastRetransmission)},
		{"spurious retransmission", uint64(a.SpuriousRetransmission), uint64(b.SpuriousRetransmission)},
		{"out of order", uint64(a.OutOfOrder), uint64(b.OutOfOrder)},
		{"lost segment", uint64(a.LostSegment), uint64(b.LostSegment)},
		{"ACKed lost segment", uint64(a.AckLostSegment), uint64(b.AckLostSegment)},
		{"duplicate ACK", uint64(a.DuplicateAck), uint64(b.DuplicateAck)},
		{"zero window", uint64(a.ZeroWindow), uint64(b.ZeroWindow)},
		{"zero window probe", uint64(a.ZeroWindowProbe), uint64(b.ZeroWindowProbe)},
		{"zero window probe ACK", uint64(a.ZeroWindowProbeAck), uint64(b.ZeroWindowProbeAck)},
		{"keep-alive", uint64(a.KeepAlive), uint64(b.KeepAlive)},
		{"keep-alive ACK", uint64(a.KeepAliveAck), uint64(b.KeepAliveAck)},
		{"window update", uint64(a.WindowUpdate), uint64(b.WindowUpdate)},
		{"window full", uint64(a.WindowFull), uint64(b.WindowFull)},
		{"reused ports", uint64(a.ReusedPorts), uint64(b.ReusedPorts)},
	}
	out := []string{fmt.Sprintf("%-24s %12s %12s", "sent by", roleName(f, l), roleName(f, l.Other()))}
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%-24s %12d %12d", r.name, r.x, r.y))
	}
	return out
}
