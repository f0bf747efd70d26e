package tui

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
)

// The pipeline is the production feed.
var _ Feed = (*pipeline.Pipeline)(nil)

// fixtureKernel is a kernel view where flow 0's client socket belongs to
// a process called name.
func fixtureKernel(name string) *model.KernelIndex {
	return model.NewKernelIndex(&model.KernelView{
		Sockets: []model.Socket{{
			Local: ap("10.0.0.1:51000"), Remote: ap("10.0.0.2:8080"), State: model.StateCloseWait,
			Owner: model.OwnerKnown, PID: 4242, HasInfo: true, Inode: 99,
			Info: model.TCPInfo{RTT: 300 * time.Microsecond, Cwnd: 10, TotalRetrans: 1},
		}},
		Processes: []model.Process{{PID: 4242, Command: name, User: "alice", FDs: 900, FDSoftLimit: 1024, FDHardLimit: 4096,
			FDGrowthPerMin: 12, SecondsToLimit: 620, Cmdline: []string{name, "-v"},
			Listeners: []model.Listener{{Local: ap("0.0.0.0:8080"), AcceptQueue: 128, Backlog: 128}}}},
		Limitations: []string{"other users' processes need CAP_SYS_PTRACE"},
	})
}

// visibleIDs lists the flow IDs in table order.
func visibleIDs(m *Model) []model.FlowID {
	out := make([]model.FlowID, len(m.rows.view))
	for i, e := range m.rows.view {
		out[i] = e.Flow.ID
	}
	return out
}

func selected(m *Model) model.FlowID {
	k, _ := m.selectedKey()
	return k.ID
}

func TestUpdate_MovementKeys(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, Options{}) // 43 flows, 21 rows on screen
	page := m.table.height - 1
	steps := []struct {
		key        string
		wantCursor int
	}{
		{"j", 1}, {"down", 2}, {"k", 1}, {"up", 0}, {"up", 0},
		{"G", 42}, {"j", 42}, {"g", 0}, {"end", 42}, {"home", 0},
		{"pgdown", page}, {"ctrl+f", 2 * page}, {"pgup", page}, {"ctrl+b", 0},
	}
	for _, s := range steps {
		press(m, s.key)
		if m.table.cursor != s.wantCursor {
			t.Errorf("after %q: got cursor %d, want %d", s.key, m.table.cursor, s.wantCursor)
		}
		if c, o, h := m.table.cursor, m.table.offset, m.table.height; c < o || c >= o+h {
			t.Errorf("after %q: cursor %d off screen (offset %d, height %d)", s.key, c, o, h)
		}
	}
}

func TestUpdate_SelectionSurvivesRefreshAndResort(t *testing.T) {
	m, feed := newTestModel(t, 80, 24, Options{})
	press(m, "j", "j")
	if got := selected(m); got != 2 {
		t.Fatalf("after j j: got flow %d selected, want 2", got)
	}
	// Re-sort by retransmissions, most first: flow 2 moves to the top.
	m.setSort(model.SortRetrans, false)
	if got, cur := selected(m), m.table.cursor; got != 2 || cur != 0 {
		t.Errorf("after sorting by retrans: got flow %d at row %d, want flow 2 at row 0", got, cur)
	}
	// A new snapshot where flow 2 is gone would move the selection; one
	// where it has company at the top keeps it.
	snap := fixtureSnapshot(40)
	snap.Seq = 2
	snap.Flows[5].Dir[0].Retransmission = 100 // flow 5 now sorts first
	feed.snap = snap
	m.Update(pollFeed(feed, time.Unix(1001, 0)))
	if got, cur := selected(m), m.table.cursor; got != 2 || cur != 1 {
		t.Errorf("after a refresh: got flow %d at row %d, want flow 2 at row 1", got, cur)
	}
	// The selected flow disappears: the cursor stays on its row.
	snap = fixtureSnapshot(40)
	snap.Seq = 3
	snap.Flows = append(snap.Flows[:2], snap.Flows[3:]...)
	feed.snap = snap
	m.Update(pollFeed(feed, time.Unix(1002, 0)))
	if got, cur := selected(m), m.table.cursor; got == 2 || cur != 1 {
		t.Errorf("after flow 2 left: got flow %d at row %d, want another flow at row 1", got, cur)
	}
}

func TestUpdate_SortKeys(t *testing.T) {
	m, _ := newTestModel(t, 140, 40, Options{})
	if m.sortKey != model.SortID || m.desc {
		t.Fatalf("initial sort: got %v desc=%v, want id ascending", m.sortKey, m.desc)
	}
	press(m, "s")
	if m.sortKey != model.SortLocal || m.desc {
		t.Errorf("after s: got %v desc=%v, want local ascending", m.sortKey, m.desc)
	}
	press(m, "S")
	if !m.desc || visibleIDs(m)[0] == 0 {
		t.Errorf("after S: got desc=%v first %d, want descending", m.desc, visibleIDs(m)[0])
	}
	// Digits pick the Nth visible column; the same digit again reverses.
	if m.lay.cols[3] != colState {
		t.Fatalf("4th column at 140 cells: got %v, want STATE", columns[m.lay.cols[3]].title)
	}
	press(m, "4")
	if m.sortKey != model.SortState || m.desc || visibleIDs(m)[0] != 0 {
		t.Errorf("after 4: got %v desc=%v first %d, want state ascending (CLOSED first)", m.sortKey, m.desc, visibleIDs(m)[0])
	}
	press(m, "4")
	if m.sortKey != model.SortState || !m.desc || visibleIDs(m)[0] != 2 {
		t.Errorf("after 4 again: got %v desc=%v first %d, want state descending (ESTAB first)", m.sortKey, m.desc, visibleIDs(m)[0])
	}
	m.setSort(model.SortRetrans, false)
	if !m.desc || visibleIDs(m)[0] != 2 {
		t.Errorf("sort by retrans: got desc=%v first %d, want its natural descending order with flow 2 first", m.desc, visibleIDs(m)[0])
	}
	press(m, "9")
	if want := columns[m.lay.cols[8]].key; m.sortKey != want {
		t.Errorf("after 9: got %v, want the 9th column's %v", m.sortKey, want)
	}
	before := m.sortKey
	for i := 0; i < int(model.NumSortKeys); i++ {
		press(m, "s")
	}
	if m.sortKey != before {
		t.Errorf("after a full cycle of s: got %v, want back at %v", m.sortKey, before)
	}
}

func TestUpdate_FilterLiveWithInlineErrors(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, Options{})
	press(m, "/")
	if !m.filter.editing {
		t.Fatal("after /: not editing the filter")
	}
	typeText(m, "port 9090")
	if got := visibleIDs(m); len(got) != 1 || got[0] != 1 {
		t.Errorf("while typing port 9090: got flows %v, want [1] (live filtering)", got)
	}
	typeText(m, " (") // invalid: the last valid filter stays in force
	if m.filter.err == nil {
		t.Fatalf("after ' (': got no error, want one")
	}
	if got := visibleIDs(m); len(got) != 1 {
		t.Errorf("with an invalid filter: got %d flows, want the last valid filter's 1", len(got))
	}
	view := m.View()
	if !strings.Contains(view, "            ^ expression expected") {
		t.Errorf("view with a filter error: got no caret and message:\n%s", view)
	}
	press(m, "enter") // refused while invalid
	if !m.filter.editing {
		t.Errorf("enter on an invalid filter: got editing closed, want it kept open")
	}
	for i := 0; i < len(" ("); i++ {
		press(m, "backspace")
	}
	press(m, "enter")
	if m.filter.editing || m.filter.text != "port 9090" {
		t.Errorf("after enter: got editing=%v text %q, want closed with 'port 9090'", m.filter.editing, m.filter.text)
	}
	// Esc while editing restores what was in force before.
	press(m, "/")
	typeText(m, " or port 8080")
	if len(visibleIDs(m)) != 2 {
		t.Errorf("while typing 'or port 8080': got %v, want 2 flows", visibleIDs(m))
	}
	press(m, "esc")
	if m.filter.editing || m.filter.text != "port 9090" || len(visibleIDs(m)) != 1 {
		t.Errorf("after esc: got editing=%v text %q flows %v, want the earlier filter back", m.filter.editing, m.filter.text, visibleIDs(m))
	}
	// Esc in the table clears the filter.
	press(m, "esc")
	if m.filter.text != "" || len(visibleIDs(m)) != 43 {
		t.Errorf("esc in the table: got filter %q and %d flows, want none and 43", m.filter.text, len(visibleIDs(m)))
	}
	// q while editing is text, not quit.
	press(m, "/")
	if cmd := press(m, "q"); cmd != nil && isQuit(cmd) {
		t.Errorf("q while editing: got quit, want the letter typed")
	}
}

func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

func TestNew_BadInitialFilterIsReported(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, Options{Filter: "port"})
	if m.filter.text != "" || !strings.Contains(m.View(), "filter port: col 5") {
		t.Errorf("bad initial filter: got text %q, view:\n%s", m.filter.text, m.View())
	}
	m, _ = newTestModel(t, 80, 24, Options{Filter: "rst"})
	if got := visibleIDs(m); len(got) != 2 {
		t.Errorf("initial filter rst: got flows %v, want the two reset flows", got)
	}
}

func TestUpdate_DrillDownPanes(t *testing.T) {
	m, feed := newTestModel(t, 40, 12, Options{})
	runCmd(m, press(m, "enter"))
	if m.mode != viewDetail || m.detail.key != (model.Key{}) {
		t.Fatalf("after enter: got mode %d row %v, want the drill-down of flow 0", m.mode, m.detail.key)
	}
	if !m.detail.loaded || len(m.detail.pkts.Records) != 9 {
		t.Fatalf("after enter: got %d packets (loaded %v), want the 9 of the log", len(m.detail.pkts.Records), m.detail.loaded)
	}
	// Scrolling the ladder, which is longer than the screen.
	press(m, "j", "j")
	if got := m.detail.scroll[tabLadder]; got != 2 {
		t.Errorf("after j j: got ladder scroll %d, want 2", got)
	}
	press(m, "G")
	bottom := m.detail.scroll[tabLadder]
	press(m, "j")
	if got := m.detail.scroll[tabLadder]; got != bottom || bottom == 0 {
		t.Errorf("j at the bottom: got scroll %d, want it to stay at %d (> 0)", got, bottom)
	}
	press(m, "g")
	if got := m.detail.scroll[tabLadder]; got != 0 {
		t.Errorf("after g: got scroll %d, want 0", got)
	}
	for want := tabEvents; want < numTabs; want++ {
		press(m, "tab")
		if m.detail.tab != want {
			t.Errorf("tab: got pane %d, want %d", m.detail.tab, want)
		}
	}
	press(m, "tab")
	if m.detail.tab != tabLadder {
		t.Errorf("tab after the last pane: got %d, want the ladder", m.detail.tab)
	}
	press(m, "shift+tab")
	if m.detail.tab != tabKernel {
		t.Errorf("shift+tab from the ladder: got %d, want the kernel pane", m.detail.tab)
	}
	// Packets of another flow arriving late are dropped.
	m.Update(packetsMsg{id: 7, ok: true})
	if len(m.detail.pkts.Records) != 9 {
		t.Errorf("a stale packets answer: got %d records, want the 9 of flow 0 kept", len(m.detail.pkts.Records))
	}
	// The log is fetched again only when the flow moves on.
	if cmd := m.maybeFetch(); cmd != nil {
		t.Errorf("unchanged flow: got a fetch, want none")
	}
	snap := fixtureSnapshot(40)
	snap.Seq = 2
	snap.Flows[0].LastFrame = 10
	feed.snap = snap
	m.Update(pollFeed(feed, time.Unix(1001, 0)))
	if m.detail.askedAt != 10 {
		t.Errorf("flow moved to frame 10: got log asked at %d, want 10", m.detail.askedAt)
	}
	press(m, "esc")
	if m.mode != viewTable {
		t.Errorf("esc: got mode %d, want the table", m.mode)
	}
	runCmd(m, press(m, "enter"))
	press(m, "backspace")
	if m.mode != viewTable {
		t.Errorf("backspace: got mode %d, want the table", m.mode)
	}
}

func TestUpdate_DrillDownShowsWhoReset(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, Options{})
	runCmd(m, press(m, "j", "enter")) // flow 1, refused
	v := m.View()
	for _, want := range []string{"Flow #1", "RST by server 10.0.0.3:9090 at frame 11", "from LISTEN, stateless form", "refused"} {
		if !strings.Contains(v, want) {
			t.Errorf("drill-down of the refused flow: missing %q in\n%s", want, v)
		}
	}
}

func TestUpdate_HelpOverlay(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, Options{})
	press(m, "?")
	if !m.help || !strings.Contains(m.View(), "drill down; in processes") {
		t.Fatalf("after ?: got help=%v, view:\n%s", m.help, m.View())
	}
	press(m, "j", "j")
	if m.overlay.scroll != 2 {
		t.Errorf("j j in help: got scroll %d, want 2", m.overlay.scroll)
	}
	press(m, "esc")
	for _, k := range []string{"esc", "?", "q"} {
		press(m, "?")
		if !m.help {
			t.Fatalf("? should reopen help")
		}
		if cmd := press(m, k); isQuit(cmd) {
			t.Errorf("%q in help: got quit, want help closed", k)
		}
		if m.help {
			t.Errorf("%q in help: got help still open", k)
		}
	}
	// Every binding is documented in the overlay.
	press(m, "?")
	m.setSize(200, 80)
	v := m.View()
	for _, g := range m.keys.helpGroups() {
		for _, b := range g.keys {
			if !strings.Contains(v, b.Help().Desc) {
				t.Errorf("help overlay: missing %q", b.Help().Desc)
			}
		}
	}
}

func TestUpdate_Quit(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, Options{})
	if !isQuit(press(m, "q")) {
		t.Errorf("q: got no quit")
	}
	press(m, "/")
	if !isQuit(press(m, "ctrl+c")) {
		t.Errorf("ctrl+c while editing the filter: got no quit")
	}
}

func TestUpdate_ReplayKeysSendCommands(t *testing.T) {
	m, feed := newTestModel(t, 100, 24, Options{})
	feed.replay = model.ReplayStatus{Start: base, Clock: base}
	m.Update(pollFeed(feed, time.Unix(1001, 0)))
	press(m, " ", "+", "=", "-", "_", ".", ">")
	want := []model.ReplayOp{model.ReplayToggle, model.ReplayFaster, model.ReplayFaster, model.ReplaySlower,
		model.ReplaySlower, model.ReplayStep, model.ReplayToEnd}
	if len(feed.ops) != len(want) {
		t.Fatalf("replay keys: got ops %v, want %v", feed.ops, want)
	}
	for i := range want {
		if feed.ops[i] != want[i] {
			t.Errorf("op %d: got %v, want %v", i, feed.ops[i], want[i])
		}
	}
	// The status bar shows the state the feed reports.
	for _, tc := range []struct {
		st   model.ReplayStatus
		want string
	}{
		{model.ReplayStatus{Playing: true, Speed: model.SpeedX10, Clock: base + ms(1500)}, "▶ x10 22:13:21.500000"},
		{model.ReplayStatus{Clock: base}, "❚❚ paused 22:13:20.000000"},
		{model.ReplayStatus{ToEnd: true, CanRestart: true, Clock: base}, "⏭ reading"},
		{model.ReplayStatus{ToEnd: true, Clock: base}, "▶ following"}, // stdin: follows the stream
		{model.ReplayStatus{Ended: true, Clock: base}, "■ end"},
		{model.ReplayStatus{Ended: true, CanRestart: true, Clock: base}, "space: replay from the start"},
	} {
		feed.replay = tc.st
		m.Update(pollFeed(feed, time.Unix(1002, 0)))
		if v := m.View(); !strings.Contains(v, tc.want) {
			t.Errorf("status %+v: missing %q in status line %q", tc.st, tc.want, lastLine(v))
		}
	}
}

func lastLine(s string) string { return s[strings.LastIndexByte(s, '\n')+1:] }

func TestUpdate_LiveSpaceFreezes(t *testing.T) {
	m, feed := newTestModel(t, 80, 24, Options{Live: true})
	if !strings.Contains(lastLine(m.View()), "● LIVE") {
		t.Errorf("live status: got %q, want ● LIVE", lastLine(m.View()))
	}
	press(m, " ")
	next := fixtureSnapshot(1)
	next.Seq = 2
	feed.snap = next
	m.Update(pollFeed(feed, time.Unix(1001, 0)))
	if got := len(m.rows.view); got != 43 || !strings.Contains(lastLine(m.View()), "FROZEN") {
		t.Errorf("frozen: got %d rows, status %q; want the old 43 rows and FROZEN", got, lastLine(m.View()))
	}
	press(m, " ")
	m.Update(pollFeed(feed, time.Unix(1002, 0)))
	if got := len(m.rows.view); got != 4 {
		t.Errorf("unfrozen: got %d rows, want the new snapshot's 4", got)
	}
	press(m, "+")
	if len(feed.ops) != 0 || !strings.Contains(m.View(), "replay controls work on files") {
		t.Errorf("+ live: got ops %v, want none and an explanation", feed.ops)
	}
}

func TestUpdate_SaveWritesSelectedFlow(t *testing.T) {
	var got SaveRequest
	save := func(_ context.Context, req SaveRequest) (string, error) {
		got = req
		return "/srv/captures/" + req.Path, nil
	}
	m, _ := newTestModel(t, 100, 24, Options{Save: save})
	// w asks for the name, proposing one; enter writes there.
	runCmd(m, press(m, "w"))
	if v := m.View(); !strings.Contains(v, "save flow #0 to: connscope-flow-0.pcapng") {
		t.Fatalf("w: no prompt with the proposed name in\n%s", v)
	}
	runCmd(m, press(m, "enter"))
	if got.Flow.ID != 0 || len(got.Frames) != 9 || got.Frames[8] != 9 || got.Path != "connscope-flow-0.pcapng" || got.Overwrite {
		t.Errorf("save request: got flow %d frames %v path %q overwrite %v, want flow 0 frames 1..9 to connscope-flow-0.pcapng", got.Flow.ID, got.Frames, got.Path, got.Overwrite)
	}
	if v := m.View(); !strings.Contains(v, "flow #0 written to /srv/captures/connscope-flow-0.pcapng") {
		t.Errorf("after save: missing the path in\n%s", v)
	}
	// The message goes away after a while.
	m.Update(tickMsg{at: m.lastAt.Add(flashFor + time.Second), snap: m.snap})
	if strings.Contains(m.View(), "written to") {
		t.Errorf("message still shown after %v", flashFor)
	}
	// A name that exists is not replaced without a yes; the command's
	// proposal is used when it has one.
	var reqs []SaveRequest
	exists := func(_ context.Context, req SaveRequest) (string, error) {
		reqs = append(reqs, req)
		if !req.Overwrite {
			return "", fmt.Errorf("%s: %w", req.Path, fs.ErrExist)
		}
		return "/data/" + req.Path, nil
	}
	m, _ = newTestModel(t, 100, 24, Options{Save: exists, SaveName: func(f *model.Flow) string { return "free.pcapng" }})
	runCmd(m, press(m, "w"))
	runCmd(m, press(m, "ctrl+u"))
	typeText(m, "mine.pcapng")
	runCmd(m, press(m, "enter"))
	if v := m.View(); len(reqs) != 1 || !strings.Contains(v, "mine.pcapng exists: replace it? y: yes") {
		t.Fatalf("existing file: got requests %+v, want one and a question in\n%s", reqs, v)
	}
	runCmd(m, press(m, "n"))
	if v := m.View(); !strings.Contains(v, "save flow #0 to: mine.pcapng") || len(reqs) != 1 {
		t.Errorf("n: want the name to edit again, got requests %d in\n%s", len(reqs), v)
	}
	runCmd(m, press(m, "enter"))
	runCmd(m, press(m, "y"))
	if len(reqs) != 3 || !reqs[2].Overwrite || !strings.Contains(m.View(), "flow #0 written to /data/mine.pcapng") {
		t.Errorf("y: got requests %+v, want the third to overwrite, and where it wrote", reqs)
	}
	runCmd(m, press(m, "w"))
	if v := m.View(); !strings.Contains(v, "save flow #0 to: free.pcapng") {
		t.Errorf("w: the command's proposed name is missing in\n%s", v)
	}
	runCmd(m, press(m, "esc"))
	if m.save.active {
		t.Errorf("esc: the dialogue is still open")
	}
	failing := func(context.Context, SaveRequest) (string, error) { return "", errors.New("disk full") }
	m, _ = newTestModel(t, 100, 24, Options{Save: failing})
	runCmd(m, press(m, "j", "enter", "w"))
	runCmd(m, press(m, "enter"))
	if v := m.View(); !strings.Contains(v, "save flow #1: disk full") {
		t.Errorf("failed save in the drill-down: missing error in\n%s", v)
	}
	m, _ = newTestModel(t, 100, 24, Options{})
	runCmd(m, press(m, "w"))
	if v := m.View(); !strings.Contains(v, "saving packets is not available") {
		t.Errorf("save without a saver: missing explanation in\n%s", v)
	}
}

func TestUpdate_ProcessesPane(t *testing.T) {
	m, _ := newTestModel(t, 140, 40, Options{})
	press(m, "p")
	if m.mode != viewProcs || !strings.Contains(m.View(), "no process data: replaying a file") {
		t.Errorf("p without kernel data: got mode %d, view:\n%s", m.mode, m.View())
	}
	press(m, "esc")
	if m.mode != viewTable {
		t.Errorf("esc in processes: got mode %d, want the table", m.mode)
	}
	m, feed := newTestModel(t, 140, 40, Options{Live: true, KernelNote: "run as root to see owners"})
	if !strings.Contains(m.View(), "run as root to see owners") {
		t.Errorf("live without kernel data: the status bar does not say why:\n%s", lastLine(m.View()))
	}
	feed.kernel = fixtureKernel("curl")
	m.Update(pollFeed(feed, time.Unix(1001, 0)))
	press(m, "p")
	v := m.View()
	for _, want := range []string{"Processes (1)", "4242 curl", "900/1024", "88%", "+12.0/min", "10min", "accept queue 128/128  FULL", "note: other users' processes need CAP_SYS_PTRACE"} {
		if !strings.Contains(v, want) {
			t.Errorf("processes pane: missing %q in\n%s", want, v)
		}
	}
	// Enter shows the process's connections; esc comes back.
	press(m, "enter")
	if m.mode != viewTable || m.filter.text != "pid 4242" || len(m.rows.view) != 1 {
		t.Errorf("enter on curl: got mode %d, filter %q, %d rows; want the table of pid 4242's one flow", m.mode, m.filter.text, len(m.rows.view))
	}
	press(m, "esc")
	if m.mode != viewProcs || m.filter.text != "" {
		t.Errorf("esc after enter: got mode %d filter %q, want the processes pane, unfiltered", m.mode, m.filter.text)
	}
	press(m, "p")
	if m.mode != viewTable {
		t.Errorf("p in processes: got mode %d, want the table", m.mode)
	}
	// The owner shows in the table and the drill-down's kernel pane.
	if v := m.View(); !strings.Contains(v, "curl/4242") {
		t.Errorf("table with kernel data: missing the PROC column value in\n%s", v)
	}
	runCmd(m, press(m, "enter", "shift+tab"))
	v = m.View()
	for _, want := range []string{"client end", "CLOSE-WAIT", "TCP_INFO", "cwnd 10", "curl  pid 4242  user alice", "900 / 1024 soft (4096 hard)"} {
		if !strings.Contains(v, want) {
			t.Errorf("kernel pane: missing %q in\n%s", want, v)
		}
	}
}

func TestUpdate_MouseWheelAndClick(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, Options{})
	m.Update(tea.MouseMsg{Action: tea.MouseActionPress, Button: tea.MouseButtonWheelDown})
	if m.table.cursor != 3 {
		t.Errorf("wheel down: got cursor %d, want 3", m.table.cursor)
	}
	m.Update(tea.MouseMsg{Action: tea.MouseActionPress, Button: tea.MouseButtonWheelUp})
	if m.table.cursor != 0 {
		t.Errorf("wheel up: got cursor %d, want 0", m.table.cursor)
	}
	m.Update(tea.MouseMsg{Action: tea.MouseActionPress, Button: tea.MouseButtonLeft, Y: 5}) // header is row 0
	if m.table.cursor != 4 {
		t.Errorf("click on screen row 5: got cursor %d, want 4", m.table.cursor)
	}
	runCmd(m, press(m, "enter"))
	m.Update(tea.MouseMsg{Action: tea.MouseActionPress, Button: tea.MouseButtonWheelDown})
	press(m, "esc", "?")
	m.Update(tea.MouseMsg{Action: tea.MouseActionPress, Button: tea.MouseButtonWheelDown})
	if m.overlay.scroll != 3 {
		t.Errorf("wheel in help: got scroll %d, want 3", m.overlay.scroll)
	}
}

func TestUpdate_ResizeRefitsColumns(t *testing.T) {
	m, _ := newTestModel(t, 140, 40, Options{})
	wide := len(m.lay.cols)
	m.Update(tea.WindowSizeMsg{Width: 40, Height: 12})
	if n := len(m.lay.cols); n >= wide || n < 3 {
		t.Errorf("40 columns: got %d table columns (was %d at 140), want fewer but at least 3", n, wide)
	}
	assertFrame(t, m, 40, 12)
}

// assertFrame checks the view is exactly w x h cells.
func assertFrame(t *testing.T, m *Model, w, h int) {
	t.Helper()
	lines := strings.Split(m.View(), "\n")
	if len(lines) != h {
		t.Errorf("%dx%d: got %d lines, want %d", w, h, len(lines), h)
	}
	for i, l := range lines {
		if got := ansi.StringWidth(l); got != w {
			t.Errorf("%dx%d: line %d is %d cells, want %d: %q", w, h, i, got, w, l)
		}
	}
}

func TestView_EverySizeAndPaneKeepsItsFrame(t *testing.T) {
	sizes := [][2]int{{1, 1}, {10, 3}, {20, 5}, {40, 12}, {60, 15}, {80, 24}, {100, 30}, {140, 40}, {250, 70}}
	panes := [][]string{{}, {"enter"}, {"enter", "tab"}, {"enter", "tab", "tab"}, {"enter", "tab", "tab", "tab"},
		{"enter", "shift+tab"}, {"p"}, {"?"}, {"/", "x", ">"}, {"F", "G"}}
	for _, sz := range sizes {
		for _, keys := range panes {
			m, feed := newTestModel(t, sz[0], sz[1], Options{})
			feed.kernel = fixtureKernel("nginx")
			m.Update(pollFeed(feed, time.Unix(1001, 0)))
			runCmd(m, press(m, keys...))
			assertFrame(t, m, sz[0], sz[1])
		}
	}
}

func TestView_EmptyStates(t *testing.T) {
	m := New(Options{Feed: &fakeFeed{}, Renderer: asciiRenderer(), Location: time.UTC})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if v := m.View(); !strings.Contains(v, "waiting for data") {
		t.Errorf("before any snapshot: missing 'waiting for data' in\n%s", v)
	}
	feed := &fakeFeed{snap: &model.Snapshot{Seq: 1}}
	m = New(Options{Feed: feed, Renderer: asciiRenderer(), Location: time.UTC})
	m.Update(pollFeed(feed, time.Unix(1, 0)))
	if v := m.View(); !strings.Contains(v, "paused before the first packet") {
		t.Errorf("empty paused replay: missing the hint in\n%s", v)
	}
	press(m, "enter", "w") // nothing selected: no panic, an explanation
	if v := m.View(); !strings.Contains(v, "no flow selected") {
		t.Errorf("w without flows: missing explanation in\n%s", v)
	}
}

func TestView_HostileStringsAreSanitised(t *testing.T) {
	evil := "\x1b]0;owned\x07\x1b[2J\x1b[31mevil\x1b[0m\u202e"
	findings := func(f *model.Flow) []model.Finding {
		return []model.Finding{{Label: model.FindingRefused, Severity: model.SeverityCritical, Summary: evil}}
	}
	m, feed := newTestModelFindings(t, 140, 40, Options{Source: evil, KernelNote: evil}, findings)
	snap := fixtureSnapshot(2)
	snap.Seq = 2
	snap.Flows[0].Events[0].Detail = evil
	snap.Flows[0].Resets[0].Cause = evil
	feed.snap = snap
	feed.kernel = fixtureKernel(evil)
	m.Update(pollFeed(feed, time.Unix(1001, 0)))
	views := []string{m.View()}
	runCmd(m, press(m, "enter"))
	for range numTabs {
		views = append(views, m.View())
		press(m, "tab")
	}
	press(m, "esc", "p")
	views = append(views, m.View())
	for i, v := range views {
		// The ascii profile adds no escape sequence but the cursor row's
		// reverse video: any other would come from data.
		v = strings.NewReplacer("\x1b[7m", "", "\x1b[27m", "").Replace(v)
		if strings.ContainsAny(v, "\x1b\x07\u202e") {
			t.Errorf("view %d: got a control character from data: %q", i, v)
		}
		if !strings.Contains(v, "evil") {
			t.Errorf("view %d: the sanitised text is missing", i)
		}
	}
}

func TestUpdate_TickRebuildsOnlyOnNewData(t *testing.T) {
	m, feed := newTestModel(t, 80, 24, Options{})
	before := &m.rows.entries[0]
	m.Update(pollFeed(feed, time.Unix(1001, 0))) // same snapshot pointer
	if &m.rows.entries[0] != before {
		t.Errorf("same snapshot: rows were rebuilt")
	}
	feed.snap = fixtureSnapshot(40)
	_, cmd := m.Update(pollFeed(feed, time.Unix(1002, 0)))
	if &m.rows.entries[0] == before {
		t.Errorf("new snapshot: rows were not rebuilt")
	}
	if cmd == nil {
		t.Errorf("tick: got no command, want the next tick")
	}
	// Packets per second: applied by a replay between ticks.
	feed.replay.Applied += 1000
	m.Update(pollFeed(feed, time.Unix(1004, 0)))
	if m.pps.pps != 500 {
		t.Errorf("replay pkt/s: got %v, want 1000 packets / 2 s = 500", m.pps.pps)
	}
	// Live: read from the source.
	m, feed = newTestModel(t, 80, 24, Options{Live: true})
	next := fixtureSnapshot(40)
	next.Source.Packets += 3000
	feed.snap = next
	m.Update(pollFeed(feed, time.Unix(1003, 0)))
	if m.pps.pps != 1000 {
		t.Errorf("live pkt/s: got %v, want 3000 packets / 3 s = 1000", m.pps.pps)
	}
}

func TestUpdate_PagingInPanes(t *testing.T) {
	m, _ := newTestModel(t, 40, 12, Options{})
	runCmd(m, press(m, "enter"))
	press(m, "pgdown")
	page := m.detail.scroll[tabLadder]
	if page == 0 {
		t.Fatalf("pgdown in the ladder: got no scroll")
	}
	press(m, "pgup")
	if got := m.detail.scroll[tabLadder]; got != 0 {
		t.Errorf("pgup after pgdown: got scroll %d, want 0", got)
	}
	// The processes pane moves its cursor and scrolls to keep it on
	// screen when it has more processes than the screen.
	m, feed := newTestModel(t, 80, 12, Options{Live: true})
	v := &model.KernelView{}
	for pid := int32(1); pid <= 30; pid++ {
		v.Processes = append(v.Processes, model.Process{PID: pid, Command: "worker", FDs: int(pid)})
	}
	feed.kernel = model.NewKernelIndex(v)
	m.Update(pollFeed(feed, time.Unix(1001, 0)))
	press(m, "p", "j", "j")
	if m.procs.cursor != 2 || m.procs.sel != 28 { // fullest first: pid 30, 29, 28
		t.Errorf("j j in processes: got cursor %d on pid %d, want 2 on pid 28", m.procs.cursor, m.procs.sel)
	}
	press(m, "G")
	if m.procs.cursor != 29 || m.procs.offset == 0 {
		t.Errorf("G: got cursor %d offset %d, want the last process scrolled into view", m.procs.cursor, m.procs.offset)
	}
	if !strings.Contains(m.View(), "> ") || !strings.Contains(m.View(), "      1 worker") {
		t.Errorf("G: the last process is not on screen under the cursor:\n%s", m.View())
	}
	bottom := m.procs.offset
	press(m, "ctrl+b")
	if m.procs.offset > bottom || m.procs.cursor > 29-5 {
		t.Errorf("G then ctrl+b: got offset %d then %d, cursor %d, want the cursor a page up", bottom, m.procs.offset, m.procs.cursor)
	}
	if !strings.Contains(m.View(), "worker") {
		t.Errorf("processes pane: missing the workers in\n%s", m.View())
	}
}

func TestRun_QuitsOnQAndOnCancel(t *testing.T) {
	feed := &fakeFeed{snap: fixtureSnapshot(3)}
	var out strings.Builder
	opts := Options{Feed: feed, Input: strings.NewReader("q"), Output: &out, Renderer: asciiRenderer(), NoMouse: true}
	if err := Run(t.Context(), opts); err != nil {
		t.Errorf("Run with q typed: got %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	opts.Input = strings.NewReader("")
	if err := Run(ctx, opts); err != nil {
		t.Errorf("Run with a cancelled context: got %v, want nil", err)
	}
	if err := Run(t.Context(), Options{}); err == nil {
		t.Errorf("Run without a feed: got nil, want an error")
	}
}

func TestUpdate_KeysArrivingTogetherAreSplit(t *testing.T) {
	m, _ := newTestModel(t, 80, 24, Options{})
	// As tmux send-keys or a fast typist delivers them: one message.
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("/port 9090")})
	if !m.filter.editing || m.filter.text != "port 9090" || len(visibleIDs(m)) != 1 {
		t.Errorf("'/port 9090' in one message: got editing=%v filter %q flows %v, want the filter applied", m.filter.editing, m.filter.text, visibleIDs(m))
	}
	press(m, "enter")
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jk"), Paste: true})
	if m.table.cursor != 0 || m.mode != viewTable {
		t.Errorf("a paste outside the filter: got cursor %d mode %d, want it ignored", m.table.cursor, m.mode)
	}
}

func TestUpdate_LargeSnapshotsBuildOffTheUIGoroutine(t *testing.T) {
	m, feed := newTestModel(t, 80, 24, Options{})
	press(m, "j", "j") // flow 2 selected
	feed.snap = fixtureSnapshot(asyncRowsAbove + 10)
	feed.snap.Seq = 2
	big := feed.Latest() // the fixtures joined as the pipeline joins them
	_, cmd := m.Update(pollFeed(feed, time.Unix(1001, 0)))
	if m.snap == big || !m.building {
		t.Fatalf("large snapshot: got rows built in Update (building=%v), want a background build", m.building)
	}
	// Keys work meanwhile, on the rows shown; a sort change during the
	// build is applied to its result.
	press(m, "S")
	if got := len(m.rows.view); got != 43 {
		t.Errorf("during the build: got %d rows, want the old 43", got)
	}
	// A second tick does not start a second build.
	m.Update(pollFeed(feed, time.Unix(1002, 0)))
	if c := m.refresh(); c != nil || !m.building {
		t.Errorf("second tick during a build: got another build")
	}
	runCmd(m, cmd)
	if m.snap != big || m.building {
		t.Fatalf("after the build: got snap %p building %v, want the big snapshot installed", m.snap, m.building)
	}
	if got, want := len(m.rows.view), len(big.Flows); got != want {
		t.Errorf("after the build: got %d rows, want %d", got, want)
	}
	if !m.desc || m.rows.view[0].Flow.ID != model.FlowID(len(big.Flows)-1) {
		t.Errorf("after the build: got first row %d desc=%v, want the sort change made during the build (descending IDs)",
			m.rows.view[0].Flow.ID, m.desc)
	}
	if got, want := selected(m), model.FlowID(len(big.Flows)-1); got != want || m.table.cursor != 0 {
		t.Errorf("after the build: got flow %d selected at row %d, want the new order's first row, flow %d", got, m.table.cursor, want)
	}
}

func TestRows_SocketsWithoutPacketsAreRows(t *testing.T) {
	m, feed := newTestModel(t, 140, 40, Options{Live: true})
	feed.kernel = model.NewKernelIndex(&model.KernelView{
		At: base + ms(60_000),
		Sockets: []model.Socket{
			{Local: ap("10.0.0.2:8080"), Remote: ap("10.0.0.7:5555"), State: model.StateCloseWait, Cookie: 77,
				Owner: model.OwnerKnown, PID: 4242, HasInfo: true, Info: model.TCPInfo{LastDataRecv: 30 * time.Second, LastDataSent: 40 * time.Second}},
			{Local: ap("10.0.0.2:8080"), Remote: ap("10.0.0.8:6666"), State: model.StateTimeWait, Owner: model.OwnerKernel},
			{Local: ap("0.0.0.0:8080"), State: model.StateListen, Owner: model.OwnerKnown, PID: 4242},
			{Local: ap("10.0.0.1:51000"), Remote: ap("10.0.0.2:8080"), State: model.StateCloseWait, Owner: model.OwnerKnown, PID: 4242},
		},
		Processes: []model.Process{{PID: 4242, Command: "leaky"}},
	})
	m.Update(pollFeed(feed, time.Unix(1001, 0)))
	if got := len(m.rows.view); got != 44 {
		t.Fatalf("rows: got %d, want the 43 flows and one socket without packets (not TIME-WAIT, not LISTEN)", got)
	}
	press(m, "/")
	typeText(m, "state close_wait")
	press(m, "enter")
	if got := visibleIDs(m); len(got) != 2 || got[0] != 0 || !isKernelOnly(m.rows.view[1].Flow) {
		t.Fatalf("state close_wait: got rows %v, want flow 0 (its socket is in CLOSE-WAIT) and the socket row", got)
	}
	press(m, "G")
	e := m.rows.view[m.table.cursor]
	if !isKernelOnly(e.Flow) || e.State() != model.StateCloseWait || len(e.Owners) != 1 || e.Owners[0].Name != "leaky" {
		t.Fatalf("last row: got %+v, want the CLOSE-WAIT socket owned by leaky", e)
	}
	// Last data 30 s before the poll, which was 20 ms before the snapshot.
	if got, want := e.Idle(m.now()), int64(30*time.Second)+ms(20); got != want {
		t.Errorf("socket row idle: got %v, want %v", time.Duration(got), time.Duration(want))
	}
	v := m.View()
	for _, want := range []string{"socket local 10.0.0.2:8080 ↔ remote 10.0.0.7:5555", "leaky/4242"} {
		if !strings.Contains(v, want) {
			t.Errorf("table: missing %q in\n%s", want, v)
		}
	}
	runCmd(m, press(m, "enter"))
	v = m.View()
	for _, want := range []string{"Socket  local 10.0.0.2:8080 ↔ remote 10.0.0.7:5555", "no packet of it was seen", "no packet log"} {
		if !strings.Contains(v, want) {
			t.Errorf("drill-down of the socket: missing %q in\n%s", want, v)
		}
	}
}

func TestUpdate_SaveRefusesSocketRows(t *testing.T) {
	saved := false
	save := func(context.Context, SaveRequest) (string, error) { saved = true; return "x", nil }
	m, feed := newTestModel(t, 140, 40, Options{Live: true, Save: save})
	feed.kernel = model.NewKernelIndex(&model.KernelView{Sockets: []model.Socket{
		{Local: ap("10.0.0.2:8080"), Remote: ap("10.0.0.7:5555"), State: model.StateCloseWait, Cookie: 5}}})
	m.Update(pollFeed(feed, time.Unix(1001, 0)))
	runCmd(m, press(m, "G", "w"))
	if saved || !strings.Contains(m.View(), "no packet of this socket was captured") {
		t.Errorf("w on a socket row: got saved=%v, want a refusal that says why", saved)
	}
}

func TestUpdate_SpaceAtTheEndReplaysFromTheStart(t *testing.T) {
	m, feed := newTestModel(t, 80, 24, Options{})
	press(m, " ")
	if len(feed.ops) != 0 || !strings.Contains(m.View(), "needs a file that can be read again") {
		t.Errorf("space at the end of an unrestartable source: got ops %v, want none and a message", feed.ops)
	}
	feed.replay.CanRestart = true
	m.Update(pollFeed(feed, time.Unix(1001, 0)))
	press(m, " ")
	if len(feed.ops) != 1 || feed.ops[0] != model.ReplayRestart {
		t.Errorf("space at the end of a file: got ops %v, want a restart", feed.ops)
	}
}

// TestUpdate_QuestionMarkInFilterShowsTheLanguage: `?` in the filter
// line shows the language instead of becoming the filter `?`.
func TestUpdate_QuestionMarkInFilterShowsTheLanguage(t *testing.T) {
	m, _ := newTestModel(t, 100, 30, Options{})
	press(m, "/")
	typeText(m, "port 80?")
	if m.filter.ti.Value() != "port 80" || !m.langHelp {
		t.Fatalf("/ port 80 ?: got filter %q, language shown %v; want port 80 and the language", m.filter.ti.Value(), m.langHelp)
	}
	v := m.View()
	for _, want := range []string{"Display filter language", "finding idle", "proc nginx", "/ port 80"} {
		if !strings.Contains(v, want) {
			t.Errorf("the language view lacks %q:\n%s", want, v)
		}
	}
	press(m, "?")
	if m.langHelp || !strings.Contains(m.View(), "LOCAL") {
		t.Errorf("? again: the language is still shown")
	}
	press(m, "?", "enter")
	if m.langHelp || m.filter.editing || m.filter.text != "port 80" {
		t.Errorf("enter: got language %v editing %v filter %q, want the table filtered by port 80", m.langHelp, m.filter.editing, m.filter.text)
	}
}

// TestUpdate_SortGoesToTheTop: a new order shows its first row, wherever
// the cursor was.
func TestUpdate_SortGoesToTheTop(t *testing.T) {
	m, _ := newTestModel(t, 120, 24, Options{})
	press(m, "G")
	for _, keys := range [][]string{{"s"}, {"S"}, {"9"}, {"9"}} {
		press(m, "G")
		press(m, keys...)
		if m.table.cursor != 0 || m.table.offset != 0 {
			t.Errorf("after %v: got cursor %d offset %d, want the first row", keys, m.table.cursor, m.table.offset)
		}
	}
}

// TestUpdate_QuestionMarkAmongFastKeys: a ? that arrives with the keys
// typed after it still shows the language rather than joining the filter.
func TestUpdate_QuestionMarkAmongFastKeys(t *testing.T) {
	m, _ := newTestModel(t, 100, 30, Options{})
	press(m, "/")
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("?port 80?")})
	if m.filter.ti.Value() != "port 80" || m.langHelp {
		t.Errorf("?port 80? in one message: got filter %q, language %v; want port 80 and the language toggled twice", m.filter.ti.Value(), m.langHelp)
	}
}

// TestUpdate_IdleScreenIsNotRedrawn: ticks that bring nothing new keep
// the frame drawn last, and after a second of them the UI polls once a
// second; new data brings the fast pace back.
func TestUpdate_IdleScreenIsNotRedrawn(t *testing.T) {
	m, feed := newTestModel(t, 120, 30, Options{Live: true})
	first := m.View()
	at := time.Unix(2000, 0)
	for i := range 10 {
		m.Update(pollFeed(feed, at.Add(time.Duration(i)*200*time.Millisecond)))
		if !m.frameOK {
			t.Fatalf("tick %d with nothing new: the frame was dropped", i)
		}
	}
	if got := m.View(); got != first {
		t.Errorf("an idle tick changed the screen")
	}
	if got := m.nextTick(); got != idleRefresh {
		t.Errorf("after a second of idle ticks: got the next tick in %v, want %v", got, idleRefresh)
	}
	next := fixtureSnapshot(1)
	next.Seq = 9
	feed.snap = next
	m.Update(pollFeed(feed, at.Add(3*time.Second)))
	if m.frameOK || m.nextTick() != m.opts.Refresh {
		t.Errorf("new data: got frame kept %v, next tick %v; want a redraw at the fast pace", m.frameOK, m.nextTick())
	}
}

// TestUpdate_FilterThatHidesTheSelectionShowsTheTop: typing a filter that
// hides the selected row puts the cursor on the first row it keeps.
func TestUpdate_FilterThatHidesTheSelectionShowsTheTop(t *testing.T) {
	m, _ := newTestModel(t, 120, 30, Options{})
	press(m, "G")
	press(m, "/")
	typeText(m, "rst")
	if m.table.cursor != 0 || selected(m) != 0 {
		t.Errorf("a filter hiding the selection: got cursor %d on flow %d, want the first row, flow 0", m.table.cursor, selected(m))
	}
}

// TestEventDetail_StateChangeIsAboutTheSideThatChanged: a state event's
// sender is the packet's; the pane names the side whose state changed,
// by its role, with the one arrow style.
func TestEventDetail_StateChangeIsAboutTheSideThatChanged(t *testing.T) {
	f := &model.Flow{Client: model.SideA}
	side, detail := eventDetail(f, model.Event{Kind: model.EventState, Side: model.SideB, Detail: "a: ESTABLISHED -> FIN-WAIT-1"})
	if side != "client" || detail != "ESTABLISHED → FIN-WAIT-1" {
		t.Errorf("got %q %q, want client and ESTABLISHED → FIN-WAIT-1", side, detail)
	}
	side, detail = eventDetail(f, model.Event{Kind: model.EventKeepAlive, Side: model.SideB, Detail: "keep-alive"})
	if side != "server" || detail != "keep-alive" {
		t.Errorf("another event: got %q %q, want server and keep-alive", side, detail)
	}
}
