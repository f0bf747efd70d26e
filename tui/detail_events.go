package tui

import (
	"fmt"
	"strings"

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
			head := model.SeverityMark(x.Severity) + " " + x.Label.String()
			for i, part := range wrapWords(model.Sanitize(x.Summary), t.width-len(head)-6, t.width-6) {
				if i == 0 {
					out = append(out, "  "+st.severityStyle(x.Severity).Render(head)+"  "+part)
				} else {
					out = append(out, "      "+part)
				}
			}
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
		side, detail := eventDetail(f, x)
		line := fmt.Sprintf("  frame %-7d +%-12s %-7s %-14s", x.Frame, fmtRel(x.TS-f.FirstTS), side, x.Kind)
		if x.Count > 1 {
			line += fmt.Sprintf(" x%d", x.Count)
		}
		if detail != "" {
			line += " " + detail
		}
		out = append(out, line)
	}
	return out
}

// eventDetail names the side an event is about and words its detail: a
// state change is about the side that changed state ("a: ESTABLISHED ->
// FIN-WAIT-1"), not the packet's sender, and reads with the one arrow
// style; other events are about their sender.
func eventDetail(f *model.Flow, x model.Event) (side, detail string) {
	side, detail = roleName(f, x.Side), model.Sanitize(x.Detail)
	if x.Kind != model.EventState {
		return side, detail
	}
	for _, s := range []model.Side{model.SideA, model.SideB} {
		if rest, ok := strings.CutPrefix(detail, s.String()+": "); ok {
			side, detail = roleName(f, s), rest
			break
		}
	}
	return side, strings.ReplaceAll(detail, " -> ", " → ")
}
