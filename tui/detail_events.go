package tui

import (
	"fmt"

	"github.com/connscope/connscope/model"
)

// eventsTab lists the flow's findings, resets and events with their
// frames.
type eventsTab struct{}

// lines lists findings, resets and events with their frames.
func (eventsTab) lines(t *tabCtx) []string {
	st, f, finds := t.st, t.f, t.finds
	var out []string
	if len(finds) > 0 {
		out = append(out, st.title.Render("Findings"))
		for _, x := range finds {
			out = append(out, "  "+st.severityStyle(x.Severity).Render(model.SeverityMark(x.Severity)+" "+x.Label.String())+"  "+model.Sanitize(x.Summary))
			if len(x.Frames) > 0 {
				out = append(out, "    evidence frames "+model.FrameList(x.Frames, 20))
			}
		}
		out = append(out, "")
	}
	out = append(out, st.title.Render(fmt.Sprintf("Resets (%d)", len(f.Resets))))
	if f.ResetsDropped > 0 {
		out = append(out, st.dim.Render(fmt.Sprintf("  %d older resets not kept", f.ResetsDropped)))
	}
	if len(f.Resets) == 0 {
		out = append(out, st.dim.Render("  none"))
	}
	for _, x := range f.Resets {
		out = append(out, "  "+resetText(st, f, x))
	}
	out = append(out, "", st.title.Render(fmt.Sprintf("Events (%d)", len(f.Events))))
	if f.EventsDropped > 0 {
		out = append(out, st.dim.Render(fmt.Sprintf("  %d older events not kept", f.EventsDropped)))
	}
	if len(f.Events) == 0 {
		out = append(out, st.dim.Render("  none"))
	}
	for _, x := range f.Events {
		line := fmt.Sprintf("  frame %-7d +%-12s %-7s %-14s", x.Frame, fmtRel(x.TS-f.FirstTS), roleName(f, x.Side), x.Kind)
		if x.Count > 1 {
			line += fmt.Sprintf(" x%d", x.Count)
		}
		if x.Detail != "" {
			line += " " + model.Sanitize(x.Detail)
		}
		out = append(out, line)
	}
	return out
}
