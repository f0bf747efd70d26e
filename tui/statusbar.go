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

// playState renders the replay or live state and the clock.
func (m *Model) playState() string {
	r := m.replay
	var clock int64
	if m.snap != nil {
		clock = m.snap.Now
	}
	switch {
	case m.opts.Live && m.frozen:
		return "❚❚ FROZEN " + fmtClock(clock, m.loc(), false)
	case m.opts.Live:
		return "● LIVE " + fmtClock(clock, m.loc(), false)
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
	return state + " " + fmtClock(clock, m.loc(), m.width >= 120)
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

// statusLine renders the bottom bar: play state and clock, source,
// packets/s, flows shown/total, every drop counter (and the capture
// filter's rejects and duplicates when non-zero), filter, sort, and why
// process data is missing. Parts that do not fit are left out, least
// important first.
func (m *Model) statusLine() string {
	total := 0
	if m.snap != nil {
		total = len(m.snap.Flows)
	}
	drops := dropsText(m.snap, true)
	parts := []statusPart{
		{m.playState(), 0},
		{fmt.Sprintf("flows %d/%d", len(m.rows.view), total), 1},
		{drops, 2},
		{"? help", 3},
		{m.packetsText(), 5},
		{Sanitize(m.opts.Source), 6},
	}
	if f := m.filter.text; f != "" {
		parts = append(parts, statusPart{"filter: " + Sanitize(f), 2})
	}
	parts = append(parts, statusPart{"sort: " + m.sortKey.String() + arrow(m.desc), 7})
	if m.kernel == nil {
		parts = append(parts, statusPart{m.kernelNote(), 4})
	}
	line := fitParts(parts, m.width)
	hasFilter := func(l string) bool { return m.filter.text == "" || strings.Contains(l, "filter: ") }
	// No room for the long form, or it crowds out the filter in force: try
	// the short one, and keep it when it does better.
	if !strings.Contains(line, drops) || !hasFilter(line) {
		for i := range parts {
			if parts[i].text == drops {
				parts[i].text = dropsText(m.snap, false)
			}
		}
		short := fitParts(parts, m.width)
		if !strings.Contains(line, drops) || hasFilter(short) {
			line = short
		}
	}
	return m.st.status.Render(fitStyled(line, m.width))
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

// kernelNote says why there is no process or socket data.
func (m *Model) kernelNote() string {
	switch {
	case m.opts.KernelNote != "":
		return Sanitize(m.opts.KernelNote)
	case !m.opts.Live:
		return "no process data: replaying a file"
	}
	return "no process data yet: waiting for the first socket poll"
}

// packetsText is the packets received so far (live) or replayed so far
// (a file is read ahead of the replay, so its reader's count would run
// ahead of the screen), and the current rate.
func (m *Model) packetsText() string {
	var n uint64
	switch {
	case !m.opts.Live:
		n = m.replay.Applied
	case m.snap != nil:
		n = m.snap.Source.Packets
	}
	return fmtCount(n) + " pkts " + fmtCount(uint64(m.pps.pps+0.5)) + "/s"
}
