package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/connscope/connscope/model"
)

// procsView is the processes pane: its scroll position and size.
type procsView struct {
	scroll        int
	width, height int
}

// setSize adopts the body's size.
func (v *procsView) setSize(w, h int) { v.width, v.height = w, h }

// update handles a key: scrolling, or back to the table.
func (v *procsView) update(msg tea.KeyMsg, c *paneCtx) intent {
	if d, ok := moveKey(c.keys, msg, v.height); ok {
		v.scrollBy(d, c)
		return intent{}
	}
	if key.Matches(msg, c.keys.Back, c.keys.Procs) {
		return intent{do: doShowTable}
	}
	return intent{}
}

// scrollBy moves the pane by delta lines (clamped).
func (v *procsView) scrollBy(delta int, c *paneCtx) {
	v.scroll = clampScroll(v.scroll+delta, len(v.lines(c)), v.height)
}

// view renders the pane in its height.
func (v *procsView) view(c *paneCtx) string {
	lines := v.lines(c)
	off := clampScroll(v.scroll, len(lines), v.height)
	return padLines(lines[off:], v.width, v.height)
}

// fdRatio is how full a process's fd table is, 0 when the limit is
// unknown or unlimited.
func fdRatio(p *model.Process) float64 {
	if p.FDSoftLimit == 0 || p.FDSoftLimit == model.FDUnlimited {
		return 0
	}
	return float64(p.FDs) / float64(p.FDSoftLimit)
}

// sparkline draws the fd history in at most w cells.
func sparkline(h []model.FDSample, w int) string {
	if len(h) == 0 || w <= 0 {
		return ""
	}
	if len(h) > w {
		h = h[len(h)-w:]
	}
	lo, hi := h[0].FDs, h[0].FDs
	for _, s := range h {
		lo, hi = min(lo, s.FDs), max(hi, s.FDs)
	}
	const bars = "▁▂▃▄▅▆▇█"
	runes := []rune(bars)
	var b strings.Builder
	for _, s := range h {
		i := 0
		if hi > lo {
			i = (s.FDs - lo) * (len(runes) - 1) / (hi - lo)
		}
		b.WriteRune(runes[i])
	}
	return b.String()
}

// lines renders the processes pane: each process's fds against its
// limit, the trend and time left, its sockets by state and its listeners'
// accept queues. Fullest fd tables first.
func (*procsView) lines(c *paneCtx) []string {
	st := c.st
	if c.kernel == nil {
		return []string{st.title.Render("Processes"), "", st.dim.Render(c.kernelNote())}
	}
	v := c.kernel.View
	// The snapshot's processes: those the selection (--pid, --proc) keeps.
	procs := make([]*model.Process, len(c.snap.Processes))
	for i := range c.snap.Processes {
		procs[i] = &c.snap.Processes[i]
	}
	slices.SortStableFunc(procs, func(a, b *model.Process) int {
		if c := cmp.Compare(fdRatio(b), fdRatio(a)); c != 0 {
			return c
		}
		return cmp.Compare(b.FDs, a.FDs)
	})
	out := []string{st.title.Render(fmt.Sprintf("Processes (%d)", len(procs))) +
		st.dim.Render("  fds vs RLIMIT_NOFILE, fullest first · esc: back")}
	out = append(out, limitationLines(st, v)...)
	out = append(out, st.header.Render(fmt.Sprintf("%7s %-16s %-10s %13s %5s %9s %8s %-12s %s",
		"PID", "COMMAND", "USER", "FDS/LIMIT", "USE", "GROWTH", "FULL IN", "TREND", "SOCKETS")))
	for _, p := range procs {
		lim := "?"
		switch p.FDSoftLimit {
		case 0:
		case model.FDUnlimited:
			lim = "inf"
		default:
			lim = strconv.FormatUint(p.FDSoftLimit, 10)
		}
		use := "-"
		if r := fdRatio(p); r > 0 {
			use = strconv.Itoa(int(r*100+0.5)) + "%"
		}
		growth, left := "-", "-"
		if p.FDGrowthPerMin >= 0.1 {
			growth = fmt.Sprintf("+%.1f/m", p.FDGrowthPerMin)
			if p.SecondsToLimit >= 0 {
				left = fmtDur(int64(p.SecondsToLimit * 1e9))
			}
		}
		line := fmt.Sprintf("%7d %-16s %-10s %13s %5s %9s %8s %-12s %s", p.PID, truncate(model.Sanitize(p.Command), 16),
			truncate(model.Sanitize(p.User), 10), strconv.Itoa(p.FDs)+"/"+lim, use, growth, left,
			sparkline(p.FDHistory, 12), socketCounts(p))
		if r := fdRatio(p); r >= 0.9 {
			line = st.err.Render(line)
		} else if r >= 0.7 || p.FDGrowthPerMin >= 1 {
			line = st.warn.Render(line)
		}
		out = append(out, line)
		for _, l := range p.Listeners {
			q := fmt.Sprintf("          listen %s  accept queue %d/%d", l.Local, l.AcceptQueue, l.Backlog)
			if l.Backlog > 0 && l.AcceptQueue >= l.Backlog {
				q = st.err.Render(q + "  FULL")
			}
			out = append(out, q)
		}
	}
	if len(v.TimeWait) > 0 {
		out = append(out, "", st.title.Render("TIME-WAIT by local port (no owner: the kernel holds them)"))
		for _, t := range v.TimeWait {
			r := strconv.Itoa(int(t.First))
			if t.Last != t.First {
				r += "-" + strconv.Itoa(int(t.Last))
			}
			what := "client side"
			if t.Listening {
				what = "server port: this side closed first"
			}
			ns := v.NetNSLabel(t.NetNS)
			if ns != "" {
				ns = " in " + model.Sanitize(ns)
			}
			out = append(out, fmt.Sprintf("  %-13s %6d  %s%s", r, t.Count, what, ns))
		}
	}
	return out
}

// socketCounts is "ESTAB 3 CLOSE-WAIT 1 LISTEN 1" for the states in use.
func socketCounts(p *model.Process) string {
	var parts []string
	for s, n := range p.SocketsByState {
		if n > 0 {
			parts = append(parts, stateShort(model.State(s))+" "+strconv.Itoa(n))
		}
	}
	return strings.Join(parts, " ")
}
