package tui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/connscope/connscope/model"
)

// ladderTab is the drill-down's ladder diagram: the flow's packets as
// arrows between the two ends. It owns the flow's packet log, which the
// root fetches off the UI goroutine and routes here.
type ladderTab struct {
	// pkts is the packet log of the drill-down's flow; loaded once an
	// answer arrived.
	pkts   model.FlowPackets
	pktsOK bool
	loaded bool
	// askedAt is the flow's LastFrame when packets were last requested:
	// the log is fetched again only when the flow saw new packets.
	askedAt uint64
	asked   bool
}

// needsFetch reports whether the packet log is older than the flow.
func (d *ladderTab) needsFetch(f *model.Flow) bool {
	return f != nil && (!d.asked || f.LastFrame != d.askedAt)
}

// setPackets stores an answer for the drill-down's flow.
func (d *ladderTab) setPackets(msg packetsMsg) {
	d.pkts, d.pktsOK, d.loaded = msg.pkt, msg.ok, true
}

// evidence collects the frames the ladder highlights: every finding's
// evidence and every reset.
func evidence(f *model.Flow, finds []model.Finding) map[uint64]bool {
	ev := map[uint64]bool{}
	for _, x := range finds {
		for _, fr := range x.Frames {
			ev[fr] = true
		}
	}
	for _, r := range f.Resets {
		ev[r.Frame] = true
	}
	return ev
}

// ladderCols sets the ladder's columns for a width.
type ladderCols struct {
	frame, time, lane, seq, ack, ln, win int
}

func ladderLayout(width int) ladderCols {
	switch {
	case width >= 110:
		return ladderCols{frame: 7, time: 11, lane: 22, seq: 10, ack: 10, ln: 6, win: 6}
	case width >= 72:
		return ladderCols{frame: 6, time: 10, lane: 16, seq: 9, ack: 9, ln: 5, win: 5}
	}
	return ladderCols{frame: 5, time: 9, lane: max(8, min(16, width-22)), ln: 5}
}

// flagWords names flags as Wireshark does, lowest bit first ("SYN,ACK",
// "FIN,PSH,ACK"), or "" for none.
func flagWords(f model.TCPFlags) string {
	names := [...]string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"}
	var parts []string
	for i, n := range names {
		if f&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, ",")
}

// lane draws one arrow with the flags on it, left to right when the
// sender is on the left. Flags are spelled out when they fit, else in
// tcpdump's letters.
func lane(fl model.TCPFlags, w int, rightward bool) string {
	body := w - 1 // one cell for the arrowhead
	flags := flagWords(fl)
	if len(flags) > body-2 {
		flags = fl.String()
	}
	if len(flags) > body-2 {
		flags = flags[:max(body-2, 0)]
	}
	left := (body - len(flags)) / 2
	right := body - len(flags) - left
	s := strings.Repeat("─", left) + flags + strings.Repeat("─", right)
	if rightward {
		return s + "▶"
	}
	return "◀" + s
}

// lines draws the flow's packets: time, direction, flags, relative
// seq/ack, length, window and analysis flags; evidence frames marked.
func (d *ladderTab) lines(t *tabCtx) []string {
	st, f := t.st, t.f
	switch {
	case isKernelOnly(f):
		return []string{st.dim.Render("no packet log: kernel only, no packet of this socket was seen since connscope started")}
	case !d.loaded:
		return []string{st.dim.Render("loading packets…")}
	case !d.pktsOK:
		return []string{st.dim.Render("no packet log for this flow: it was evicted to bound memory, or the source keeps none")}
	}
	c := ladderLayout(t.width)
	left := leftSide(f)
	ev := evidence(f, t.finds)
	hdr := " " + fit("FRAME", c.frame, true) + " " + fit("TIME", c.time, true) + " " +
		fit(roleName(f, left)+" ⇄ "+roleName(f, left.Other()), c.lane, false)
	if c.seq > 0 {
		hdr += " " + fit("SEQ", c.seq, true) + " " + fit("ACK", c.ack, true)
	}
	hdr += " " + fit("LEN", c.ln, true)
	if c.win > 0 {
		hdr += " " + fit("WIN", c.win, true)
	}
	hdr += " ANALYSIS"
	out := []string{st.header.Render(hdr)}
	p := &d.pkts
	if p.Restarted {
		out = append(out, st.dim.Render("   ··· earlier packets were dropped from the log to bound memory ···"))
	}
	for i, r := range p.Records {
		if i == p.GapAt && p.Skipped > 0 {
			out = append(out, st.dim.Render(fmt.Sprintf("   ··· %d packets not kept ···", p.Skipped)))
		}
		mark := " "
		if ev[r.Frame] {
			mark = "*"
		}
		line := mark + fit(strconv.FormatUint(r.Frame, 10), c.frame, true) + " " +
			fit(fmtRel(r.TS-f.FirstTS), c.time, true) + " " + lane(r.Flags, c.lane, r.Dir == left)
		if c.seq > 0 {
			line += " " + fit(strconv.FormatUint(uint64(r.RelSeq), 10), c.seq, true) +
				" " + fit(strconv.FormatUint(uint64(r.RelAck), 10), c.ack, true)
		}
		line += " " + fit(strconv.FormatUint(uint64(r.Len), 10), c.ln, true)
		if c.win > 0 {
			line += " " + fit(strconv.FormatUint(uint64(r.Window), 10), c.win, true)
		}
		if a := r.Analysis.String(); a != "" {
			line += " " + a
		}
		switch {
		case ev[r.Frame]:
			line = st.evidence.Render(line)
		case r.Flags.Has(model.FlagRST):
			line = st.err.Render(line)
		case r.Analysis != 0:
			line = st.warn.Render(line)
		}
		out = append(out, line)
	}
	return out
}
