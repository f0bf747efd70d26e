package tui

import (
	"fmt"

	"github.com/connscope/connscope/model"
)

// statesTab shows both ends' TCP states, their transitions and the
// round-trip times.
type statesTab struct{}

// lines shows both ends' states now and their transitions.
func (statesTab) lines(t *tabCtx) []string {
	st, f := t.st, t.f
	l := leftSide(f)
	out := []string{
		fmt.Sprintf("%s now %s · %s now %s", roleName(f, l), st.stateStyle(f.State[l]).Render(f.State[l].String()),
			roleName(f, l.Other()), st.stateStyle(f.State[l.Other()]).Render(f.State[l.Other()].String())),
		"",
		st.title.Render(fmt.Sprintf("Transitions (%d)", len(f.Transitions))),
	}
	if f.TransitionsDropped > 0 {
		out = append(out, st.dim.Render(fmt.Sprintf("  %d older transitions not kept", f.TransitionsDropped)))
	}
	if len(f.Transitions) == 0 {
		out = append(out, st.dim.Render("  none"))
	}
	for _, t := range f.Transitions {
		out = append(out, fmt.Sprintf("  +%-12s frame %-7d %-6s %s → %s", fmtRel(t.TS-f.FirstTS), t.Frame,
			roleName(f, t.Side), t.From, st.stateStyle(t.To).Render(t.To.String())))
	}
	out = append(out, "", st.title.Render("Round trips"), "  initial RTT "+model.RTT(f.IRTT))
	for _, s := range []model.Side{l, l.Other()} {
		a := f.AckRTT[s]
		out = append(out, fmt.Sprintf("  %s's data acked: %d samples, min %s avg %s max %s", roleName(f, s),
			a.Samples, model.RTT(a.Min), model.RTT(a.Avg()), model.RTT(a.Max)))
	}
	return out
}
