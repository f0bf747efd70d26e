package tui

import (
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/connscope/connscope/model"
)

// findingLabels lists the pane's rows in order.
func findingLabels(m *Model) []string {
	out := make([]string, len(m.finds.rows))
	for i, r := range m.finds.rows {
		out[i] = r.label.String()
	}
	return out
}

func TestSummarizeFindings(t *testing.T) {
	fd := func(l model.FindingLabel, s model.Severity, sum string) model.Finding {
		return model.Finding{Label: l, Severity: s, Summary: sum}
	}
	entry := func(id model.FlowID, last int64, fs ...model.Finding) model.FlowEntry {
		return model.FlowEntry{Flow: &model.Flow{ID: id, LastTS: last}, Findings: fs}
	}
	tests := []struct {
		name      string
		entries   []model.FlowEntry
		want      []findingRow // lastTS and lastID are not compared
		wantFlows int
	}{
		{name: "none", entries: []model.FlowEntry{entry(1, 5)}},
		{
			name: "severity then count then label",
			entries: []model.FlowEntry{
				entry(1, 10, fd(model.FindingLossRetransmit, model.SeverityInfo, "loss 1")),
				entry(2, 20, fd(model.FindingLossRetransmit, model.SeverityInfo, "loss 2")),
				entry(3, 30, fd(model.FindingRefused, model.SeverityCritical, "refused 3")),
				entry(4, 40, fd(model.FindingZeroWindowStall, model.SeverityWarning, "zw 4"),
					fd(model.FindingLossRetransmit, model.SeverityInfo, "loss 4")),
				entry(5, 5, fd(model.FindingAbortiveClose, model.SeverityCritical, "abort 5")),
			},
			want: []findingRow{
				{label: model.FindingAbortiveClose, severity: model.SeverityCritical, flows: 1, example: "abort 5"},
				{label: model.FindingRefused, severity: model.SeverityCritical, flows: 1, example: "refused 3"},
				{label: model.FindingZeroWindowStall, severity: model.SeverityWarning, flows: 1, example: "zw 4"},
				{label: model.FindingLossRetransmit, severity: model.SeverityInfo, flows: 3, example: "loss 4"},
			},
			wantFlows: 5,
		},
		{
			name: "a label twice in one flow counts once; worst severity wins",
			entries: []model.FlowEntry{
				entry(1, 10, fd(model.FindingCloseWaitLeak, model.SeverityWarning, "first"),
					fd(model.FindingCloseWaitLeak, model.SeverityCritical, "second")),
				entry(2, 5, fd(model.FindingCloseWaitLeak, model.SeverityCritical, "older")),
			},
			want: []findingRow{
				{label: model.FindingCloseWaitLeak, severity: model.SeverityCritical, flows: 2, example: "first"},
			},
			wantFlows: 2,
		},
		{
			name: "most recent flow's summary, newest ID on a tie, sanitised",
			entries: []model.FlowEntry{
				entry(7, 50, fd(model.FindingSYNTimeout, model.SeverityCritical, "seven")),
				entry(9, 50, fd(model.FindingSYNTimeout, model.SeverityCritical, "nine\x1b[2J")),
				entry(8, 10, fd(model.FindingSYNTimeout, model.SeverityCritical, "eight")),
			},
			want: []findingRow{
				{label: model.FindingSYNTimeout, severity: model.SeverityCritical, flows: 3, example: model.Sanitize("nine\x1b[2J")},
			},
			wantFlows: 3,
		},
		{
			name: "unknown labels are skipped",
			entries: []model.FlowEntry{
				entry(1, 1, fd(model.FindingNone, model.SeverityCritical, "none"), fd(model.FindingLabel(200), model.SeverityCritical, "bad")),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, flows := summarizeFindings(tc.entries)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got rows %+v, want %+v", got, tc.want)
			}
			if flows != tc.wantFlows {
				t.Errorf("got %d flows with findings, want %d", flows, tc.wantFlows)
			}
		})
	}
}

func TestUpdate_FindingsPaneKeys(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, Options{})
	press(m, "F")
	if m.mode != viewFindings {
		t.Fatalf("after F: got mode %d, want the findings pane", m.mode)
	}
	want := []string{"idle_timeout_race", "refused", "zero_window_stall", "loss_retransmit"}
	if got := findingLabels(m); !slices.Equal(got, want) {
		t.Fatalf("findings order: got %v, want %v", got, want)
	}
	steps := []struct {
		key  string
		want int
	}{{"j", 1}, {"down", 2}, {"j", 3}, {"j", 3}, {"k", 2}, {"g", 0}, {"G", 3}, {"up", 2}, {"k", 1}}
	for _, s := range steps {
		press(m, s.key)
		if m.finds.cursor != s.want {
			t.Errorf("after %q: got cursor %d, want %d", s.key, m.finds.cursor, s.want)
		}
	}
	if v := m.View(); !strings.Contains(v, "> critical     1  refused") {
		t.Errorf("view: got no cursor mark on refused in\n%s", v)
	}

	// Enter: back to the table showing only the flows with that cause.
	press(m, "enter")
	if m.mode != viewTable || m.filter.text != "finding refused" {
		t.Fatalf("after enter: got mode %d filter %q, want the table with 'finding refused'", m.mode, m.filter.text)
	}
	if got := visibleIDs(m); !slices.Equal(got, []model.FlowID{1}) {
		t.Errorf("after enter on refused: got flows %v, want [1]", got)
	}
	if m.table.cursor != 0 || selected(m) != 1 {
		t.Errorf("after enter: got cursor %d on flow %d, want row 0 on flow 1", m.table.cursor, selected(m))
	}
	if v := m.View(); !strings.Contains(v, "filter: finding refused") {
		t.Errorf("status bar: got no 'filter: finding refused' in\n%s", v)
	}

	// Reopening keeps the selected cause; esc goes back without touching
	// the filter; F closes the pane too.
	press(m, "F")
	if m.mode != viewFindings || m.finds.cursor != 1 {
		t.Errorf("reopened: got mode %d cursor %d, want the pane on refused (row 1)", m.mode, m.finds.cursor)
	}
	press(m, "j", "esc")
	if m.mode != viewTable || m.filter.text != "finding refused" {
		t.Errorf("after esc: got mode %d filter %q, want the table with the filter unchanged", m.mode, m.filter.text)
	}
	press(m, "F", "F")
	if m.mode != viewTable {
		t.Errorf("F twice: got mode %d, want the table", m.mode)
	}
	// From the drill-down too.
	press(m, "esc", "enter", "F")
	if m.mode != viewFindings {
		t.Errorf("F in the drill-down: got mode %d, want the findings pane", m.mode)
	}
	// The wheel moves the selection.
	press(m, "g")
	m.Update(tea.MouseMsg{Action: tea.MouseActionPress, Button: tea.MouseButtonWheelDown})
	if m.finds.cursor != 3 {
		t.Errorf("wheel down in the pane: got cursor %d, want 3 (the last row)", m.finds.cursor)
	}
}

// Every label the pane can offer must filter the table to exactly its
// flows: no label may be read as another's substring.
func TestUpdate_FindingsEnterFiltersEveryLabel(t *testing.T) {
	labels := model.FindingLabels()
	findings := func(f *model.Flow) []model.Finding {
		if int(f.ID) < len(labels) { // one label per flow, the fillers none
			return []model.Finding{{Label: labels[f.ID], Severity: model.SeverityWarning, Summary: "flow " + labels[f.ID].String()}}
		}
		return nil
	}
	for _, l := range labels {
		t.Run(l.String(), func(t *testing.T) {
			m, _ := newTestModelFindings(t, 140, 40, Options{}, findings)
			press(m, "F")
			i := slices.IndexFunc(m.finds.rows, func(r findingRow) bool { return r.label == l })
			if i < 0 {
				t.Fatalf("got rows %v, want %v among them", findingLabels(m), l)
			}
			press(m, "g")
			for j := 0; j < i; j++ {
				press(m, "j")
			}
			press(m, "enter")
			want := []model.FlowID{model.FlowID(slices.Index(labels, l))}
			if got := visibleIDs(m); m.mode != viewTable || !slices.Equal(got, want) {
				t.Errorf("enter on %v: got mode %d flows %v, want the table with %v", l, m.mode, got, want)
			}
		})
	}
}

func TestUpdate_FindingsPaneFollowsNewSnapshots(t *testing.T) {
	m, feed := newTestModel(t, 80, 24, Options{})
	press(m, "F", "j") // refused, row 1
	// Three more refused flows: refused now outnumbers the race and leads.
	snap := fixtureSnapshot(40)
	snap.Seq = 2
	findings := func(f *model.Flow) []model.Finding {
		if f.ID >= 3 && f.ID < 6 {
			return []model.Finding{{Label: model.FindingRefused, Severity: model.SeverityCritical, Summary: "later refusal"}}
		}
		return fixtureFindings(f)
	}
	feed.mu.Lock()
	feed.findings = findings
	feed.mu.Unlock()
	for i := 3; i < 6; i++ {
		snap.Flows[i].LastTS = snap.Now
	}
	feed.snap = snap
	m.Update(pollFeed(feed, time.Unix(1001, 0)))
	if got := findingLabels(m); len(got) == 0 || got[0] != "refused" {
		t.Fatalf("after the new snapshot: got %v, want refused first", got)
	}
	r := m.finds.rows[0]
	if m.finds.cursor != 0 || r.flows != 4 || r.example != "later refusal" {
		t.Errorf("after the new snapshot: got cursor %d, refused in %d flows saying %q; want cursor 0, 4 flows, 'later refusal'",
			m.finds.cursor, r.flows, r.example)
	}
}

func TestView_FindingsPaneEmptyStates(t *testing.T) {
	none := func(*model.Flow) []model.Finding { return nil }
	m, _ := newTestModelFindings(t, 80, 24, Options{}, none)
	press(m, "F")
	if v := m.View(); !strings.Contains(v, "no findings in this capture") {
		t.Errorf("no findings: missing the empty state in\n%s", v)
	}
	press(m, "enter", "j") // nothing to select: no filter, no panic
	if m.filter.text != "" || m.mode != viewFindings {
		t.Errorf("enter on an empty pane: got mode %d filter %q, want the pane and no filter", m.mode, m.filter.text)
	}
}

func TestView_FindingsPaneSmallTerminal(t *testing.T) {
	m, _ := newTestModel(t, 40, 12, Options{})
	press(m, "F")
	v := m.View()
	// Too narrow for the example beside the label: it goes under it.
	if !strings.Contains(v, "> critical     1  idle_timeout_race") || !strings.Contains(v, "    server 10.0.0.2:8080") {
		t.Errorf("40x12: want the cursor row and its example under it, got\n%s", v)
	}
	press(m, "G")
	assertFrame(t, m, 40, 12)
	if v := m.View(); !strings.Contains(v, "loss_retransmit") {
		t.Errorf("40x12 after G: the last row is off screen in\n%s", v)
	}
}

func TestStatusLine_FilteredAndDuplicateCounters(t *testing.T) {
	tests := []struct {
		name        string
		width       int
		filtered    uint64
		dups        uint64
		want, never []string
	}{
		{name: "zero: not shown", width: 140, never: []string{"filtered", "dup", "filt"}},
		{name: "long form", width: 140, filtered: 12345, dups: 3, want: []string{"evicted 2, filtered 12K, dup 3"}},
		{name: "filtered only", width: 140, filtered: 7, want: []string{"evicted 2, filtered 7 "}, never: []string{"dup"}},
		{name: "short form when narrow", width: 80, filtered: 12345, dups: 3, want: []string{"drops"}, never: []string{"drop k0"}},
		{name: "named when it fits", width: 120, filtered: 12345, dups: 3, want: []string{"drops: decode 1 evicted 2, filtered 12K, dup 3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, feed := newTestModel(t, tc.width, 24, Options{})
			snap := fixtureSnapshot(40)
			snap.Seq = 2
			snap.Source.FilteredOut, snap.Source.Duplicates = tc.filtered, tc.dups
			feed.snap = snap
			m.Update(pollFeed(feed, time.Unix(1001, 0)))
			got := statusLine(m)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("got status %q, want it to contain %q", got, w)
				}
			}
			for _, w := range tc.never {
				if strings.Contains(got, w) {
					t.Errorf("got status %q, want no %q", got, w)
				}
			}
		})
	}
}
