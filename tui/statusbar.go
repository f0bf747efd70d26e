package tui

import (
	"fmt"
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

// statusPart is one segment of the status bar; lower prio stays longest.
type statusPart struct {
	text string
	prio int
}

// statusBar is the bottom line: what is shown, from where, how fast,
// what was lost, and how it is filtered and sorted.
type statusBar struct {
	width int
}

// setSize adopts the terminal's width.
func (b *statusBar) setSize(w int) { b.width = w }

// playState renders the replay or live state and the clock.
func (b *statusBar) playState(c *paneCtx) string {
	r := c.replay
	var clock int64
	if c.snap != nil {
		clock = c.snap.Now
	}
	switch {
	case c.opts.Live && c.frozen:
		return "❚❚ FROZEN " + fmtClock(clock, c.loc(), false)
	case c.opts.Live:
		return "● LIVE " + fmtClock(clock, c.loc(), false)
	}
	if r.Clock != 0 {
		clock = r.Clock
	}
	state := "❚❚ paused"
	switch {
	case r.Ended:
		state = "■ end"
	case r.ToEnd:
		state = "⏭ to end"
	case r.Playing:
		state = "▶ " + r.Speed.String()
	}
	return state + " " + fmtClock(clock, c.loc(), b.width >= 120)
}

// dropsText lists every drop counter, then the packets the capture filter
// rejected and the forwarded copies dropped as duplicates when there are
// any: long when there is room.
func dropsText(s *model.Snapshot, long bool) string {
	if s == nil {
		s = &model.Snapshot{}
	}
	src, tab := s.Source, s.Table
	var b strings.Builder
	if long {
		fmt.Fprintf(&b, "drops: kernel %s queue %s decode %s evicted %s",
			fmtCount(src.KernelDrops), fmtCount(src.QueueDrops), fmtCount(src.DecodeErrors), fmtCount(tab.Evicted))
		if src.FilteredOut > 0 {
			b.WriteString(", filtered " + fmtCount(src.FilteredOut))
		}
		if src.Duplicates > 0 {
			b.WriteString(", dup " + fmtCount(src.Duplicates))
		}
		return b.String()
	}
	fmt.Fprintf(&b, "drop k%s q%s d%s e%s",
		fmtCount(src.KernelDrops), fmtCount(src.QueueDrops), fmtCount(src.DecodeErrors), fmtCount(tab.Evicted))
	if src.FilteredOut > 0 {
		b.WriteString(" filt" + fmtCount(src.FilteredOut))
	}
	if src.Duplicates > 0 {
		b.WriteString(" dup" + fmtCount(src.Duplicates))
	}
	return b.String()
}

// view renders the bottom bar: play state and clock, source,
// packets/s, flows shown/total, every drop counter (and the capture
// filter's rejects and duplicates when non-zero), filter, sort, and why
// process data is missing. Parts that do not fit are left out, least
// important first.
func (b *statusBar) view(c *paneCtx) string {
	total := 0
	if c.snap != nil {
		total = len(c.snap.Flows)
	}
	drops := dropsText(c.snap, true)
	parts := []statusPart{
		{b.playState(c), 0},
		{fmt.Sprintf("flows %d/%d", len(c.rows.view), total), 1},
		{drops, 2},
		{"? help", 3},
		{packetsText(c), 5},
		{model.Sanitize(c.opts.Source), 6},
	}
	if f := c.filter; f != "" {
		parts = append(parts, statusPart{"filter: " + model.Sanitize(f), 2})
	}
	parts = append(parts, statusPart{"sort: " + c.sortKey.String() + arrow(c.desc), 7})
	if c.kernel == nil {
		parts = append(parts, statusPart{c.kernelNote(), 4})
	}
	line := fitParts(parts, b.width)
	hasFilter := func(l string) bool { return c.filter == "" || strings.Contains(l, "filter: ") }
	// No room for the long form, or it crowds out the filter in force: try
	// the short one, and keep it when it does better.
	if !strings.Contains(line, drops) || !hasFilter(line) {
		for i := range parts {
			if parts[i].text == drops {
				parts[i].text = dropsText(c.snap, false)
			}
		}
		short := fitParts(parts, b.width)
		if !strings.Contains(line, drops) || hasFilter(short) {
			line = short
		}
	}
	return c.st.status.Render(fitStyled(line, b.width))
}

func arrow(desc bool) string {
	if desc {
		return "▼"
	}
	return "▲"
}

const partSep = " │ "

// fitParts joins the parts that fit in width, keeping their order and
// dropping the least important first.
func fitParts(parts []statusPart, width int) string {
	keep := make([]bool, len(parts))
	used := 1 // leading space
	for p := 0; p < 10; p++ {
		for i, x := range parts {
			if x.prio != p {
				continue
			}
			w := ansi.StringWidth(x.text)
			if used > 1 {
				w += ansi.StringWidth(partSep)
			}
			if used+w <= width {
				keep[i] = true
				used += w
			}
		}
	}
	var b strings.Builder
	b.WriteByte(' ')
	first := true
	for i, x := range parts {
		if !keep[i] {
			continue
		}
		if !first {
			b.WriteString(partSep)
		}
		first = false
		b.WriteString(x.text)
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
