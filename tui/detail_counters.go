package tui

import (
	"fmt"

	"github.com/connscope/connscope/model"
)

// countersTab is the per-direction table of analysis counters, one row
// per row of the model's counter table.
type countersTab struct{}

// lines is the per-direction table of analysis counters: each field of
// model.CounterFields as the flow keeps it (the rows add up: SYN without
// its SYN/ACKs, retransmission without the fast and spurious ones), the
// client's column first. Where --json reports a field differently
// (tshark's syn and retransmission count the rows of their kind
// together), its value is given beside the row.
func (countersTab) lines(t *tabCtx) []string {
	f := t.f
	l, r := leftSide(f), leftSide(f).Other()
	a, b := &f.Dir[l], &f.Dir[r]
	head := func(s model.Side) string {
		if f.Client == model.SideNone || isKernelOnly(f) {
			return fmtAddr(f.Endpoint(s), 21) // "peer" twice would say nothing
		}
		return roleName(f, s)
	}
	hl, hr := head(l), head(r)
	w := max(10, len(hl), len(hr))
	out := []string{t.st.header.Render(fmt.Sprintf("%-24s %*s %*s", "sent by", w, hl, w, hr))}
	for _, fd := range model.CounterFields() {
		line := fmt.Sprintf("%-24s %*d %*d", fd.Title, w, fd.Stored(a), w, fd.Stored(b))
		if va, vb := fd.Value(a), fd.Value(b); fd.JSONKey != "" && (va != fd.Stored(a) || vb != fd.Stored(b)) {
			line += t.st.dim.Render(fmt.Sprintf("   --json %s: %d, %d", fd.JSONKey, va, vb))
		}
		out = append(out, line)
	}
	return out
}
