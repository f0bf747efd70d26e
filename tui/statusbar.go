package tui

import (
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/connscope/connscope/model"
)

// rateMeter turns the source's packet counter into packets per second of
// wall time, measured between ticks.
type rateMeter struct {
	at      time.Time
	packets uint64
	pps     float64
}

func (r *rateMeter) observe(at time.Time, packets uint64) {
	if !r.at.IsZero() && at.After(r.at) && packets >= r.packets {
		r.pps = float64(packets-r.packets) / at.Sub(r.at).Seconds()
	}
	r.at, r.packets = at, packets
}

// statusPart is one segment of the status bar in its forms, longest
// first; lower prio stays longest. A part falls back to a shorter form
// before it is left out.
type statusPart struct {
	forms []string
	prio  int
	// grow, when set, is the priority at which a part already placed in
	// a short form takes a longer one (a badge whose reason is less
	// important than the parts after it).
	grow int
}

func part(prio int, forms ...string) statusPart { return statusPart{forms: forms, prio: prio} }

// statusBar is the bottom line: what is shown, from where, how fast,
// what was lost, and how it is filtered and sorted.
type statusBar struct {
	width int
}

// setSize adopts the terminal's width.
func (b *statusBar) setSize(w int) { b.width = w }

// playState renders the replay or live state with the clock (with the
// date when wide, without microseconds when narrow), then the state alone
// for a bar too narrow for the clock.
func (b *statusBar) playState(c *paneCtx, wide bool) []string {
	state, clock := b.play(c)
	clk := fmtClock(clock, c.loc(), wide)
	if !wide && b.width < 100 && len(clk) > 8 {
		clk = clk[:8] // 15:04:05
	}
	return []string{state + " " + clk, state}
}

// play is the replay or live state and the time it stands at.
func (b *statusBar) play(c *paneCtx) (string, int64) {
	r := c.replay
	var clock int64
	if c.snap != nil {
		clock = c.snap.Now
	}
	switch {
	case c.opts.Live && c.frozen:
		return "❚❚ FROZEN", clock
	case c.opts.Live:
		return "● LIVE", clock
	}
	if r.Clock != 0 {
		clock = r.Clock
	}
	state := "❚❚ paused"
	switch {
	case r.Ended:
		state = "■ end"
	case r.ToEnd && !r.CanRestart:
		state = "▶ following"
	case r.ToEnd:
		state = "⏭ reading"
	case r.Playing:
		state = "▶ " + r.Speed.String()
	}
	return state, clock
}

// dropsForms says what the capture lost, longest first: every counter by
// name; only those that are not zero, still by name; their sum. Each
// reads without a legend.
func dropsForms(s *model.Snapshot) []string {
	long, short := dropsText(s, true), dropsText(s, false)
	if s == nil {
		s = &model.Snapshot{}
	}
	sum := s.Source.KernelDrops + s.Source.QueueDrops + s.Source.DecodeErrors + s.Table.Evicted
	tiny := "no drops"
	if sum > 0 {
		tiny = "drops " + fmtCount(sum)
	}
	return []string{long, short, tiny}
}

// dropsText says what the capture lost. Long, every counter by name;
// short, "no drops" or only the counters that are not zero, still by
// name, so that a narrow bar stays readable.
func dropsText(s *model.Snapshot, long bool) string {
	if s == nil {
		s = &model.Snapshot{}
	}
	src, tab := s.Source, s.Table
	type counter struct {
		name string
		n    uint64
	}
	drops := []counter{{"kernel", src.KernelDrops}, {"queue", src.QueueDrops}, {"decode", src.DecodeErrors}, {"evicted", tab.Evicted}}
	extra := []counter{{"filtered", src.FilteredOut}, {"dup", src.Duplicates}}
	var b strings.Builder
	b.WriteString("drops:")
	any := false
	for _, d := range drops {
		if long || d.n > 0 {
			b.WriteString(" " + d.name + " " + fmtCount(d.n))
			any = true
		}
	}
	if !any {
		b.Reset()
		b.WriteString("no drops")
	}
	for _, d := range extra {
		if d.n > 0 {
			b.WriteString(", " + d.name + " " + fmtCount(d.n))
		}
	}
	return b.String()
}

// view renders the bottom bar: the DEMO badge, play state and clock, the
// help hint, problems and interfaces not captured, rows shown of the
// total, what was dropped, the filter, why process data is missing, the
// packets, the source and the sort. Parts that do not fit take their
// short form, then are left out, least important first; the badge, the
// play state and the help hint stay at every width.
func (b *statusBar) view(c *paneCtx) string {
	total := 0
	if c.snap != nil {
		total = len(c.snap.Rows)
	}
	wide := b.width >= 120
	var parts []statusPart
	if c.opts.Demo != "" {
		short := c.opts.DemoShort
		if short == "" {
			short = c.opts.Demo
		}
		badge := part(0, "DEMO: "+model.Sanitize(c.opts.Demo), "DEMO: "+model.Sanitize(short))
		badge.grow = 2
		parts = append(parts, badge)
	}
	parts = append(parts, part(0, b.playState(c, wide)...), part(0, "? help"))
	for _, p := range problemTexts(c) {
		parts = append(parts, part(1, p, truncate(p, 24)))
	}
	parts = append(parts, part(1, itoa64(len(c.rows.view))+"/"+itoa64(total)+" shown"))
	if c.replay.Ended && c.replay.CanRestart && !c.opts.Live {
		parts = append(parts, part(1, "space: replay from the start", "space: replay"))
	}
	parts = append(parts, part(2, dropsForms(c.snap)...))
	if f := c.filter; f != "" {
		parts = append(parts, part(2, "filter: "+model.Sanitize(f), truncate("filter: "+model.Sanitize(f), 20)))
	}
	if c.kernel == nil {
		parts = append(parts, part(6, c.kernelNote()))
	}
	if c.snap != nil && c.snap.EventsNote != "" {
		// Which of the kernel's own evidence is missing, and why.
		n := model.Sanitize(c.snap.EventsNote)
		parts = append(parts, part(6, n, truncate(n, 32)))
	}
	parts = append(parts,
		part(7, packetsText(c)),
		part(8, model.Sanitize(c.opts.Source)),
		part(9, "sort: "+c.sortKey.String()+arrow(c.desc)),
	)
	return c.st.status.Render(fitStyled(fitParts(parts, b.width), b.width))
}

// problemTexts are the pipeline's errors (a -w write error, a failed
// poll), the interfaces not captured and the time interfaces were lost:
// what the person must not miss.
func problemTexts(c *paneCtx) []string {
	var out []string
	for _, n := range c.ifaces {
		out = append(out, model.Sanitize(n.Name)+" "+n.State)
	}
	if c.snap == nil {
		return out
	}
	if ns := c.snap.Source.IfaceLostNS; ns > 0 {
		out = append(out, "iface lost "+model.Duration(ns))
	}
	for _, p := range c.snap.Problems {
		out = append(out, model.Sanitize(p.String()))
	}
	return out
}

func itoa64(n int) string { return fmtCount(uint64(max(n, 0))) }

func arrow(desc bool) string {
	if desc {
		return "▼"
	}
	return "▲"
}

const partSep = " │ "

// fitParts joins the parts that fit in width, keeping their order. The
// essential parts (priority 2 and under) are placed first in their short
// forms; then, by priority, each part takes its full text when it fits,
// else its short form, else is left out. A part of priority 0 that fits in
// no form is cut to the room left.
func fitParts(parts []statusPart, width int) string {
	const essential = 2
	chosen := make([]string, len(parts))
	used := 1 // leading space
	sepW := ansi.StringWidth(partSep)
	n := 0
	place := func(i int, t string) bool {
		old := chosen[i]
		extra := ansi.StringWidth(t) - ansi.StringWidth(old)
		if old == "" && n > 0 {
			extra += sepW
		}
		if t == "" || used+extra > width {
			return false
		}
		if old == "" {
			n++
		}
		chosen[i], used = t, used+extra
		return true
	}
	for p := 0; p <= essential; p++ {
		for i, x := range parts {
			short := x.forms[len(x.forms)-1]
			if x.prio != p || place(i, short) || p > 0 {
				continue
			}
			room := width - used
			if n > 0 {
				room -= sepW
			}
			if room >= 4 {
				place(i, truncate(short, room))
			}
		}
	}
	for p := 0; p < 10; p++ {
		for i, x := range parts {
			grow := x.prio
			if x.grow > 0 {
				grow = x.grow
			}
			if (chosen[i] == "" && x.prio != p) || (chosen[i] != "" && grow != p) {
				continue
			}
			for _, f := range x.forms {
				if f == chosen[i] || place(i, f) {
					break
				}
			}
		}
	}
	var b strings.Builder
	b.WriteByte(' ')
	first := true
	for _, t := range chosen {
		if t == "" {
			continue
		}
		if !first {
			b.WriteString(partSep)
		}
		first = false
		b.WriteString(t)
	}
	return b.String()
}

// packetsText is the packets received so far (live) or replayed so far
// (a file is read ahead of the replay, so its reader's count would run
// ahead of the screen), and the current rate.
func packetsText(c *paneCtx) string {
	var n uint64
	switch {
	case !c.opts.Live:
		n = c.replay.Applied
	case c.snap != nil:
		n = c.snap.Source.Packets
	}
	return fmtCount(n) + " pkts " + fmtCount(uint64(c.pps+0.5)) + "/s"
}
