package tui

import (
	"fmt"
	"strconv"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/connscope/connscope/model"
)

// findingRow is one cause in the findings summary: how bad, how many
// flows carry it, and what the most recent of them says.
type findingRow struct {
	label    model.FindingLabel
	severity model.Severity // the worst any flow reported for the label
	flows    int
	example  string // the most recent flow's summary, sanitised
}

// findingsView is the findings summary pane: the causes present in the
// rows, most severe first. It is rebuilt with the rows (when opened and on
// each new snapshot while open), never per frame; the selection is a
// label, so it survives rebuilds.
type findingsView struct {
	rows  []findingRow
	flows int // flows with at least one finding
	// procs are the findings about processes (an fd leak, fds near the
	// limit), listed under the causes.
	procs          []model.ProcessFinding
	cursor, offset int
	sel            model.FindingLabel
	width, height  int
}

// setSize adopts the body's size.
func (v *findingsView) setSize(w, h int) { v.width, v.height = w, h }

// clampPage keeps the cursor's row on the page the pane's size shows.
func (v *findingsView) clampPage() { v.clamp(v.perPage(v.width, v.height)) }

// summarizeFindings groups the entries' findings by label (the model's
// rule, the report's too) into the pane's rows, examples sanitised.
func summarizeFindings(entries []model.FlowEntry) (rows []findingRow, flows int) {
	sum := model.SummarizeFindings(entries)
	rows = make([]findingRow, 0, len(sum.Causes))
	for _, c := range sum.Causes {
		rows = append(rows, findingRow{label: c.Label, severity: c.Severity, flows: c.Rows, example: model.Sanitize(c.Example)})
	}
	return rows, sum.Rows
}

// build regroups the findings of rs, keeping the selected label when it
// is still present and the cursor's position otherwise.
func (v *findingsView) build(rs *rowSet) {
	v.rows, v.flows = summarizeFindings(rs.entries)
	v.procs = nil
	if rs.snap != nil {
		v.procs = rs.snap.ProcessFindings
	}
	for i, r := range v.rows {
		if r.label == v.sel {
			v.cursor = i
			break
		}
	}
	v.move(0)
}

// move moves the cursor by delta rows and records the selected label.
func (v *findingsView) move(delta int) {
	v.cursor = max(min(v.cursor+delta, len(v.rows)-1), 0)
	if v.cursor < len(v.rows) {
		v.sel = v.rows[v.cursor].label
	}
}

// findingsHead is the pane's title and column header lines.
const findingsHead = 2

// findingsLayout sizes the pane for width: the label column as wide as
// the widest label shown, and the example beside the row when at least
// minExample cells remain, else on a line of its own under it.
func (v *findingsView) findingsLayout(width int) (labelW int, stacked bool) {
	const minExample = 24
	for _, r := range v.rows {
		labelW = max(labelW, len(r.label.String()))
	}
	labelW = max(labelW, len("FINDING"))
	return labelW, width-findingsPrefix(labelW) < minExample
}

// findingsPrefix is the width of a row before its example:
// cursor, severity, flow count, label.
func findingsPrefix(labelW int) int { return 2 + 8 + 1 + 5 + 2 + labelW + 1 }

// procLines is how many lines the process findings take under the causes
// (a blank line and a title, then one per finding, at most 6).
func (v *findingsView) procLines() int {
	if len(v.procs) == 0 {
		return 0
	}
	return 2 + min(len(v.procs), 6)
}

// perPage is how many causes fit in a body of height lines.
func (v *findingsView) perPage(width, height int) int {
	_, stacked := v.findingsLayout(width)
	n := max(height-findingsHead-v.procLines(), 1)
	if stacked {
		n = max(n/2, 1)
	}
	return n
}

// clamp keeps the cursor's row on a page of n rows.
func (v *findingsView) clamp(n int) {
	n = max(n, 1)
	if v.cursor < v.offset {
		v.offset = v.cursor
	}
	if v.cursor >= v.offset+n {
		v.offset = v.cursor - n + 1
	}
	v.offset = max(min(v.offset, len(v.rows)-n), 0)
}

// update handles a key in the pane: move, Enter to filter the table to
// the selected cause, Esc (or the pane's key) to go back.
func (v *findingsView) update(msg tea.KeyMsg, c *paneCtx) intent {
	k := c.keys
	if d, ok := moveKey(k, msg, v.perPage(v.width, v.height)); ok {
		v.move(d)
		return intent{}
	}
	switch {
	case key.Matches(msg, k.Enter):
		if v.cursor < len(v.rows) {
			return intent{do: doFilterTo, text: "finding " + v.rows[v.cursor].label.String()}
		}
	case key.Matches(msg, k.Back, k.Findings):
		return intent{do: doShowTable}
	case key.Matches(msg, k.Procs):
		return intent{do: doShowProcs}
	}
	return intent{}
}

// lines renders the pane: title, header, then the causes on the
// cursor's page.
func (v *findingsView) lines(c *paneCtx) []string {
	st := c.st
	width := v.width
	title := st.title.Render("Findings") + st.dim.Render("  esc: back")
	if len(v.rows) == 0 && len(v.procs) == 0 {
		return []string{title, "", st.dim.Render("  no findings in this capture")}
	}
	if len(v.rows) == 0 {
		return append([]string{title, "", st.dim.Render("  no finding about a connection")}, v.procFindingLines(c)...)
	}
	title = st.title.Render(fmt.Sprintf("Findings: %s in %s", model.Plural(len(v.rows), "cause"), model.Plural(v.flows, "flow"))) +
		st.dim.Render("  enter: show these flows · esc: back")
	labelW, stacked := v.findingsLayout(width)
	head := fmt.Sprintf("  %-8s %5s  %-*s", "SEVERITY", "FLOWS", labelW, "FINDING")
	if !stacked {
		head += " EXAMPLE (most recent flow)"
	}
	out := []string{title, st.header.Render(head)}
	per := v.perPage(width, v.height)
	// Update keeps the offset in step; clamp a copy in case the body is
	// smaller than the page Update assumed (a terminal being resized).
	off := max(min(v.offset, v.cursor, len(v.rows)-1), v.cursor-per+1, 0)
	end := min(off+per, len(v.rows))
	for i := off; i < end; i++ {
		r := v.rows[i]
		mark := "  "
		if i == v.cursor {
			mark = "> "
		}
		line := mark + fit(r.severity.String(), 8, false) + " " + fit(strconv.Itoa(r.flows), 5, true) + "  " +
			fit(r.label.String(), labelW, false) + " "
		ex := "    " + r.example
		if !stacked {
			line += r.example
			ex = ""
		}
		line = fit(line, width, false)
		switch {
		case i == v.cursor:
			line = st.selectedLine(line)
		case !st.mono:
			line = st.severityStyle(r.severity).Render(line)
		}
		out = append(out, line)
		if stacked {
			out = append(out, st.dim.Render(truncate(ex, width)))
		}
	}
	return append(out, v.procFindingLines(c)...)
}

// procFindingLines lists the findings about processes: severity, label,
// the process, and what the finding says.
func (v *findingsView) procFindingLines(c *paneCtx) []string {
	if len(v.procs) == 0 {
		return nil
	}
	st := c.st
	out := []string{"", st.title.Render("Processes: "+model.Plural(len(v.procs), "finding")) + st.dim.Render("  p: the processes pane")}
	for i, pf := range v.procs {
		if i == 6 {
			out[len(out)-1] = st.dim.Render(truncate(fmt.Sprintf("  … and %d more (p: the processes pane)", len(v.procs)-5), v.width))
			break
		}
		line := "  " + fit(pf.Severity.String(), 8, false) + " " + pf.Label.String() + "  " +
			model.Sanitize(pf.Command) + "/" + strconv.Itoa(int(pf.PID)) + ": " + model.Sanitize(pf.Summary)
		line = truncate(line, v.width)
		if !st.mono {
			line = st.severityStyle(pf.Severity).Render(line)
		}
		out = append(out, line)
	}
	return out
}

// view renders the pane in its height.
func (v *findingsView) view(c *paneCtx) string {
	return padLines(v.lines(c), v.width, v.height)
}
