package tui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/connscope/connscope/model"
)

// kernelTab shows what the kernel says of the flow: its socket, TCP_INFO
// and owning process, or why they are missing.
type kernelTab struct{}

// lines shows the flow's socket, TCP_INFO and owning process, or says why
// they are missing, then what the kernel's events said of each of the
// flow's sockets on this host, and the other end's socket on loopback.
func (kernelTab) lines(t *tabCtx) []string {
	out := socketLines(t)
	if s := t.e.PeerSocket; s != nil && t.kernel != nil && !t.kernel.View.OwnersOnly {
		out = append(out, "", t.st.title.Render("Other end's socket")+
			fmt.Sprintf("  %s end, %s → %s", roleName(t.f, t.e.Local.Other()), s.Local, s.Remote),
			fmt.Sprintf("  state %s  recv-q %d  send-q %d  uid %d  inode %d", s.State, s.RecvQ, s.SendQ, s.UID, s.Inode))
		if p := t.kernel.Process(s); p != nil {
			out = append(out, fmt.Sprintf("  %s  pid %d  fds %s", model.Sanitize(p.Command), p.PID, fdsText(p)))
		}
	}
	return append(out, historyLines(t)...)
}

// historyLines shows the kernel's events of each side's socket: its
// states with the task that changed them, the resets it sent or took with
// the kernel's reason, the packets it dropped and why.
func historyLines(t *tabCtx) []string {
	st, f := t.st, t.f
	var out []string
	for _, side := range []model.Side{model.SideA, model.SideB} {
		h := t.e.History[side]
		if h == nil {
			continue
		}
		head := st.title.Render("Kernel events") + fmt.Sprintf("  %s %s", roleName(f, side), f.Endpoint(side))
		if h.Owner.PID > 0 {
			head += fmt.Sprintf("  (%s/%d)", model.Sanitize(h.Owner.Name), h.Owner.PID)
		}
		out = append(out, "", head)
		for _, x := range h.States {
			line := fmt.Sprintf("  +%-12s %s → %s", fmtRel(x.Time-f.FirstTS), x.From, x.To)
			if x.InProcess && x.PID > 0 {
				line += fmt.Sprintf("  by %s/%d", model.Sanitize(x.Comm), x.PID)
			}
			out = append(out, line)
		}
		for _, x := range h.Resets {
			what := "RST received"
			if x.Sent {
				what = "RST sent"
			}
			if x.Reason != "" {
				what += ", reason " + model.Sanitize(x.Reason)
			}
			out = append(out, fmt.Sprintf("  +%-12s %s", fmtRel(x.Time-f.FirstTS), what))
		}
		for _, x := range h.Drops {
			out = append(out, fmt.Sprintf("  +%-12s packet dropped, reason %s", fmtRel(x.Time-f.FirstTS), model.Sanitize(x.Reason)))
		}
		if h.Retransmits > 0 {
			out = append(out, fmt.Sprintf("  %s by the kernel", model.Plural(int(h.Retransmits), "retransmission")))
		}
	}
	return out
}

// socketLines shows the flow's socket, TCP_INFO and owning process, or
// says why they are missing.
func socketLines(t *tabCtx) []string {
	st, f := t.st, t.f
	if t.kernel == nil {
		return []string{st.dim.Render(t.kernelNote())}
	}
	v := t.kernel.View
	s, side := t.e.Socket, t.e.Local
	if s == nil {
		out := []string{st.dim.Render(fmt.Sprintf("no socket on this host matches this flow (the kernel lists %d sockets):", len(v.Sockets))),
			st.dim.Render("it closed before the last poll, or neither end is on this host")}
		return append(out, limitationLines(st, v)...)
	}
	out := []string{st.title.Render("Socket") + fmt.Sprintf("  %s end, %s → %s", roleName(f, side), s.Local, s.Remote),
		fmt.Sprintf("  state %s  recv-q %d  send-q %d  uid %d  inode %d", s.State, s.RecvQ, s.SendQ, s.UID, s.Inode)}
	if s.Timer != model.TimerNone {
		out = append(out, fmt.Sprintf("  timer %s in %s (%d retries)", s.Timer, model.Duration(int64(s.TimerExpires)), s.TimerRetrans))
	}
	if len(v.Namespaces) > 1 {
		out = append(out, "  namespace "+t.nsName(s.NetNS))
	}
	out = append(out, "", st.title.Render("TCP_INFO"))
	if !s.HasInfo {
		out = append(out, st.dim.Render("  none: TIME-WAIT and request sockets carry no TCP_INFO"))
	} else {
		i := s.Info
		out = append(out,
			fmt.Sprintf("  rtt %s ± %s  min %s  rto %s", model.RTT(int64(i.RTT)), model.RTT(int64(i.RTTVar)), model.RTT(int64(i.MinRTT)), model.RTT(int64(i.RTO))),
			fmt.Sprintf("  cwnd %d  ssthresh %s  mss %d  unacked %d  lost %d", i.Cwnd, ssthresh(i.SndSSThresh), i.SndMSS, i.Unacked, i.Lost),
			fmt.Sprintf("  retransmits %d (total %d, %s bytes)  probes %d  backoff %d", i.Retransmits, i.TotalRetrans, fmtBytes(i.BytesRetrans), i.Probes, i.Backoff),
			fmt.Sprintf("  bytes acked %s  received %s  sent %s  not sent %s", fmtBytes(i.BytesAcked), fmtBytes(i.BytesReceived), fmtBytes(i.BytesSent), fmtBytes(uint64(i.NotSentBytes))),
			fmt.Sprintf("  last send %s ago  last recv %s ago  last ack %s ago", model.Duration(int64(i.LastDataSent)), model.Duration(int64(i.LastDataRecv)), model.Duration(int64(i.LastAckRecv))))
	}
	out = append(out, "", st.title.Render("Process"))
	p := t.kernel.Process(s)
	if p == nil {
		out = append(out, st.dim.Render("  "+model.Sanitize(s.OwnerNote())))
		return append(out, limitationLines(st, v)...)
	}
	out = append(out, fmt.Sprintf("  %s  pid %d  user %s", model.Sanitize(p.Command), p.PID, model.Sanitize(p.User)))
	if len(p.Cmdline) > 0 {
		args := make([]string, len(p.Cmdline))
		for i, a := range p.Cmdline {
			args[i] = model.Sanitize(a)
		}
		out = append(out, "  "+strings.Join(args, " "))
	}
	out = append(out, "  fds "+fdsText(p))
	if len(s.SharedWith) > 0 {
		var pids []string
		for _, x := range s.SharedWith {
			pids = append(pids, strconv.Itoa(int(x)))
		}
		out = append(out, "  socket shared with pids "+strings.Join(pids, ","))
	}
	if p.Note != "" {
		out = append(out, st.dim.Render("  "+model.Sanitize(p.Note)))
	}
	return out
}

// fdsText is "123 / 1024 soft (4096 hard), +2.0/min, full in 7 min 0 s",
// or "..., AT LIMIT" once the soft limit is reached.
func fdsText(p *model.Process) string {
	s := fmt.Sprintf("%d / %s soft (%s hard)", p.FDs, model.Limit(p.FDSoftLimit), model.Limit(p.FDHardLimit))
	if p.FDGrowthPerMin >= 0.1 {
		s += fmt.Sprintf(", +%.1f/min", p.FDGrowthPerMin)
	}
	switch left := model.TimeToFDLimit(p, false); {
	case left == model.AtLimitText:
		s += ", " + left
	case left != "-" && p.FDGrowthPerMin >= 0.1:
		s += ", full in " + left
	}
	return s
}

// ssthresh renders the slow-start threshold: "-" while it is the kernel's
// infinity (TCP_INFINITE_SSTHRESH: slow start never ended).
func ssthresh(v uint32) string {
	if v >= 0x7fffffff {
		return "-"
	}
	return strconv.FormatUint(uint64(v), 10)
}

// limitationLines says, calmly, what the poll could not see: a note, not
// an error, since it holds for the whole run.
func limitationLines(st *styles, v *model.KernelView) []string {
	var out []string
	for _, l := range model.LimitationNotes(v.Limitations) {
		out = append(out, st.dim.Render("  note: "+model.Sanitize(l)))
	}
	return out
}
