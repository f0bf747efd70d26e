package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/connscope/connscope/model"
)

// Options configure the inspector. Only Feed is required.
type Options struct {
	// Feed provides snapshots, the kernel view, replay state and packet
	// logs (a *model.Tracker).
	Feed Feed
	// Source names what is shown, for the status bar ("capture.pcap",
	// "live: eth0, lo"). It is sanitised before display.
	Source string
	// Live is set for live capture: Space freezes the display instead of
	// pausing a replay, and the clock is wall time.
	Live bool
	// Refresh is how often the UI polls the feed (default 200 ms).
	Refresh time.Duration
	// Findings returns a flow's diagnosis findings, most severe first;
	// nil hides the findings column. It is called for every flow of each
	// snapshot, possibly off the UI goroutine, so it must be safe for
	// concurrent use and quick.
	Findings func(f *model.Flow) []model.Finding
	// Save writes a flow's packets to a pcapng file and returns its path;
	// nil makes `w` explain that saving is not available.
	Save func(ctx context.Context, req SaveRequest) (path string, err error)
	// KernelNote says why there is no kernel view ("run as root to see
	// owners"); empty picks a default from Live.
	KernelNote string
	// Filter is the initial display filter; Sort and SortDesc the initial
	// order.
	Filter   string
	Sort     model.SortKey
	SortDesc bool
	// Renderer carries the colour profile; nil uses lipgloss's default,
	// which honours NO_COLOR and the terminal's capabilities.
	Renderer *lipgloss.Renderer
	// Location is the time zone of clocks (default time.Local).
	Location *time.Location
	// Input and Output replace the terminal for Run (tests); NoMouse
	// leaves the mouse to the terminal (for copying text).
	Input   io.Reader
	Output  io.Writer
	NoMouse bool
}

// viewMode is the screen shown under the status bar.
type viewMode uint8

const (
	viewTable viewMode = iota
	viewDetail
	viewProcs
	viewFindings
)

// flashFor is how long a message stays in the info line.
const flashFor = 5 * time.Second

// Model is the inspector's Bubble Tea model. Create it with New.
type Model struct {
	opts Options
	keys keyMap
	st   styles

	width, height int
	mode          viewMode
	help          bool
	helpScroll    int

	snap   *model.Snapshot
	kernel *model.KernelIndex
	replay model.ReplayStatus
	frozen bool // live only: snapshots are ignored
	lastAt time.Time
	pps    rateMeter

	rows   rowSet
	spare  rowSet // the build before rows, whose storage the next reuses
	sorter model.EntrySorter
	// seen is the newest snapshot (and kernel view) from the feed; snap
	// and kernel are those the rows show. They differ while a background
	// build runs (building), which sorts with bgSorter; gen counts filter
	// and sort changes, so a build that raced one is re-sorted.
	seen       *model.Snapshot
	seenKernel *model.KernelIndex
	building   bool
	bgSorter   *model.EntrySorter
	gen        uint64

	table   tableView
	filter  filterInput
	sortKey model.SortKey
	desc    bool
	lay     layout
	layFor  layoutKey

	detail detailView
	procs  procsView
	finds  findingsView

	flash      string
	flashErr   bool
	flashUntil time.Time
}

// New returns a model over opts.Feed. A bad initial filter is reported in
// the info line and the filter starts empty.
func New(opts Options) *Model {
	if opts.Refresh <= 0 {
		opts.Refresh = 200 * time.Millisecond
	}
	if opts.Renderer == nil {
		opts.Renderer = lipgloss.DefaultRenderer()
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	m := &Model{
		opts:     opts,
		keys:     newKeyMap(),
		st:       newStyles(opts.Renderer),
		width:    80,
		height:   24,
		filter:   newFilterInput(),
		bgSorter: &model.EntrySorter{},
		sortKey:  opts.Sort,
		desc:     opts.SortDesc,
	}
	if opts.Filter != "" {
		if err := m.filter.set(opts.Filter); err != nil {
			m.setFlash("filter "+opts.Filter+": "+err.Error(), true)
			m.filter.err = nil
		}
	}
	m.fitLayout()
	m.table.height = m.tableHeight()
	return m
}

// Run shows the inspector until the person quits or ctx ends.
func Run(ctx context.Context, opts Options) error {
	if opts.Feed == nil {
		return errors.New("tui: Options.Feed is required")
	}
	popts := []tea.ProgramOption{tea.WithAltScreen(), tea.WithContext(ctx)}
	if !opts.NoMouse {
		popts = append(popts, tea.WithMouseCellMotion())
	}
	if opts.Input != nil {
		popts = append(popts, tea.WithInput(opts.Input))
	}
	if opts.Output != nil {
		popts = append(popts, tea.WithOutput(opts.Output))
	}
	_, err := tea.NewProgram(New(opts), popts...).Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // Ctrl-C or SIGTERM through ctx: a normal end
	}
	if err != nil {
		return fmt.Errorf("tui: %w", err)
	}
	return nil
}

// Init polls the feed at once, so the first frame has data.
func (m *Model) Init() tea.Cmd {
	f := m.opts.Feed
	return func() tea.Msg { return pollFeed(f, time.Now()) }
}

// Update routes a message: globals first, then the focused pane.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.setSize(msg.Width, msg.Height)
	case tickMsg:
		cmd = m.onTick(msg)
	case rowsMsg:
		cmd = m.onRows(msg)
	case packetsMsg:
		m.detail.setPackets(msg)
	case savedMsg:
		m.onSaved(msg)
	case tea.MouseMsg:
		m.onMouse(msg)
	case tea.KeyMsg:
		cmd = m.onKey(msg)
	}
	// The info area grows and shrinks (filter error, messages): keep the
	// table's page and the cursor on screen in step with it.
	m.table.height = m.tableHeight()
	m.table.clamp(len(m.rows.view))
	m.finds.clamp(m.finds.perPage(m.width, m.bodyHeight()))
	return m, cmd
}

// setSize adopts a new terminal size; every pane derives from it.
func (m *Model) setSize(w, h int) {
	m.width, m.height = max(w, 1), max(h, 1)
	m.filter.ti.Width = max(m.width-4, 1)
	m.fitLayout()
}

// onTick takes in what the feed held: a new snapshot rebuilds the rows
// (unless frozen); the drill-down refreshes its packet log when its flow
// moved on.
func (m *Model) onTick(t tickMsg) tea.Cmd {
	m.lastAt = t.at
	m.replay = t.replay
	// Packets per second: read from the source when live; applied by the
	// replay otherwise (the file reader runs ahead of a paced replay).
	switch {
	case !m.opts.Live:
		m.pps.observe(t.at, t.replay.Applied)
	case t.snap != nil:
		m.pps.observe(t.at, t.snap.Source.Packets)
	}
	if !m.frozen && t.snap != nil {
		m.seen, m.seenKernel = t.snap, t.kernel
	}
	if !m.flashUntil.IsZero() && t.at.After(m.flashUntil) {
		m.flash, m.flashUntil = "", time.Time{}
	}
	return tea.Batch(tick(m.opts.Feed, m.opts.Refresh), m.refresh(), m.maybeFetch())
}

// asyncRowsAbove is the flow count above which rows are built off the UI
// goroutine: below it a build takes a few milliseconds and running it in
// Update keeps the data and the screen in step; above it a build may take
// longer than a key press should wait.
const asyncRowsAbove = 20_000

// rowsMsg delivers rows built off the UI goroutine. gen is the filter and
// sort generation they were built with.
type rowsMsg struct {
	rows   rowSet
	kernel *model.KernelIndex
	gen    uint64
}

// refresh rebuilds the rows when the feed has newer data than they show:
// at once for a small table, in a command for a large one (one build at a
// time; a newer snapshot waits for it). Snapshots and kernel views are
// immutable, so a new pointer is new data.
func (m *Model) refresh() tea.Cmd {
	if m.building || m.seen == nil || (m.seen == m.snap && m.seenKernel == m.kernel) {
		return nil
	}
	in := rowInput{
		snap: m.seen, prev: &m.rows, kernel: m.seenKernel, findings: m.opts.Findings,
		filter: m.filter.applied, key: m.sortKey, desc: m.desc, sorter: &m.sorter,
	}
	if len(m.seen.Flows) <= asyncRowsAbove {
		m.install(buildRows(in, m.spare), in.kernel)
		return nil
	}
	// The builder reads the current rows (entries, ids, bytes: never
	// written after a build) and writes only the spare storage, which the
	// UI gives up until the result arrives. It sorts with its own sorter.
	prev := m.rows
	in.prev, in.sorter = &prev, m.bgSorter
	spare, gen := m.spare, m.gen
	m.spare, m.building = rowSet{}, true
	return func() tea.Msg { return rowsMsg{rows: buildRows(in, spare), kernel: in.kernel, gen: gen} }
}

// onRows installs rows built in the background and starts the next build
// if newer data came meanwhile.
func (m *Model) onRows(msg rowsMsg) tea.Cmd {
	m.building = false
	m.install(msg.rows, msg.kernel)
	if msg.gen != m.gen { // the filter or sort changed during the build
		m.resort()
	}
	return m.refresh()
}

// install makes rs the rows shown, keeping the selection, and keeps the
// rows they replace as storage for the next build.
func (m *Model) install(rs rowSet, kernel *model.KernelIndex) {
	old := m.rows
	m.rows, m.spare = rs, old
	m.snap, m.kernel = rs.snap, kernel
	m.fitLayout()
	m.table.restore(&m.rows)
	if m.mode == viewFindings {
		m.finds.build(&m.rows)
	}
}

// resort re-filters and re-sorts without rebuilding the entries.
func (m *Model) resort() {
	m.gen++
	m.rows.resort(m.filter.applied, m.sortKey, m.desc, &m.sorter)
	m.fitLayout()
	m.table.restore(&m.rows)
}

// fitLayout picks the table columns for the width and the data: no
// process column without process data, no findings column without a
// diagnosis, address columns as wide as the widest address.
func (m *Model) fitLayout() {
	var hidden [numCols]bool
	hidden[colProc] = !m.rows.owners
	hidden[colFinding] = m.opts.Findings == nil
	key := layoutKey{m.width, hidden, m.rows.addrW}
	if key == m.layFor && m.lay.cols != nil {
		return
	}
	m.lay, m.layFor = fitColumns(m.width, hidden, m.rows.addrW), key
}

// layoutKey is what a layout depends on, to refit only when it changes.
type layoutKey struct {
	width  int
	hidden [numCols]bool
	addrW  [2]int
}

// maybeFetch asks for the drill-down flow's packets when they are stale.
func (m *Model) maybeFetch() tea.Cmd {
	if m.mode != viewDetail {
		return nil
	}
	_, f := m.detailFlow()
	if !m.detail.needsFetch(f) {
		return nil
	}
	m.detail.asked, m.detail.askedAt = true, f.LastFrame
	return fetchPackets(m.opts.Feed, m.detail.id)
}

func (m *Model) onSaved(msg savedMsg) {
	if msg.err != nil {
		m.setFlash(fmt.Sprintf("save flow #%d: %v", msg.id, msg.err), true)
		return
	}
	m.setFlash(fmt.Sprintf("flow #%d written to %s", msg.id, msg.path), false)
}

func (m *Model) setFlash(s string, isErr bool) {
	m.flash, m.flashErr = Sanitize(s), isErr
	base := m.lastAt
	if base.IsZero() {
		base = time.Now()
	}
	m.flashUntil = base.Add(flashFor)
}

// onMouse scrolls with the wheel and selects a row with a click.
func (m *Model) onMouse(msg tea.MouseMsg) {
	if msg.Action != tea.MouseActionPress {
		return
	}
	delta := 0
	switch msg.Button {
	case tea.MouseButtonWheelUp:
		delta = -3
	case tea.MouseButtonWheelDown:
		delta = 3
	case tea.MouseButtonLeft:
		if m.mode == viewTable && !m.help {
			if i := m.table.rowAt(msg.Y-1, len(m.rows.view)); i >= 0 {
				m.table.moveTo(i, &m.rows)
			}
		}
		return
	default:
		return
	}
	m.scroll(delta)
}

// scroll moves whatever the focused pane scrolls.
func (m *Model) scroll(delta int) {
	switch {
	case m.help:
		m.helpScroll = clampScroll(m.helpScroll+delta, len(m.helpLines()), m.bodyHeight())
	case m.mode == viewDetail:
		m.scrollDetail(delta)
	case m.mode == viewProcs:
		m.procs.scroll = clampScroll(m.procs.scroll+delta, len(m.procLines()), m.bodyHeight())
	case m.mode == viewFindings:
		m.finds.move(delta)
	default:
		m.table.move(delta, &m.rows)
	}
}

// onKey handles a key: the filter line owns every key while editing;
// then the help overlay; then global keys; then the focused pane.
func (m *Model) onKey(msg tea.KeyMsg) tea.Cmd {
	if msg.Type == tea.KeyCtrlC {
		return tea.Quit
	}
	// Keys typed faster than the terminal is read arrive as one message
	// ("/port 80" from tmux send-keys or a quick typist): take them one by
	// one, so "/" opens the filter and the rest lands in it. A paste only
	// ever goes into the filter line.
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !m.filter.editing {
		if msg.Paste {
			return nil
		}
		cmds := make([]tea.Cmd, 0, len(msg.Runes))
		for _, r := range msg.Runes {
			cmds = append(cmds, m.onKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt}))
		}
		return tea.Batch(cmds...)
	}
	if m.filter.editing {
		changed, cmd := m.filter.update(msg)
		if changed {
			m.resort()
		}
		return cmd
	}
	if m.help {
		return m.helpKey(msg)
	}
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.help, m.helpScroll = true, 0
		return nil
	case key.Matches(msg, k.Pause):
		m.togglePause()
		return nil
	case key.Matches(msg, k.Faster):
		m.replayOp(model.ReplayFaster)
		return nil
	case key.Matches(msg, k.Slower):
		m.replayOp(model.ReplaySlower)
		return nil
	case key.Matches(msg, k.Step):
		m.replayOp(model.ReplayStep)
		return nil
	case key.Matches(msg, k.End):
		m.replayOp(model.ReplayToEnd)
		return nil
	case key.Matches(msg, k.Save):
		return m.save()
	}
	switch m.mode {
	case viewDetail:
		return m.detailKey(msg)
	case viewProcs:
		return m.procsKey(msg)
	case viewFindings:
		m.findingsKey(msg)
		return nil
	}
	return m.tableKey(msg)
}

// moveKey maps the movement keys to a delta for a pane of page rows;
// top and bottom are large deltas that the pane clamps.
func (m *Model) moveKey(msg tea.KeyMsg, page int) (int, bool) {
	k := m.keys
	const far = 1 << 30
	switch {
	case key.Matches(msg, k.Up):
		return -1, true
	case key.Matches(msg, k.Down):
		return 1, true
	case key.Matches(msg, k.PageUp):
		return -max(page-1, 1), true
	case key.Matches(msg, k.PageDown):
		return max(page-1, 1), true
	case key.Matches(msg, k.Top):
		return -far, true
	case key.Matches(msg, k.Bottom):
		return far, true
	}
	return 0, false
}

func (m *Model) tableKey(msg tea.KeyMsg) tea.Cmd {
	k := m.keys
	if d, ok := m.moveKey(msg, m.table.height); ok {
		m.table.move(d, &m.rows)
		return nil
	}
	switch {
	case key.Matches(msg, k.Enter):
		if m.table.cursor < len(m.rows.view) {
			m.mode = viewDetail
			m.detail.open(m.rows.view[m.table.cursor].Flow.ID)
			return m.maybeFetch()
		}
	case key.Matches(msg, k.Back):
		if m.filter.text != "" {
			_ = m.filter.set("")
			m.resort()
		}
	case key.Matches(msg, k.Filter):
		return m.filter.start()
	case key.Matches(msg, k.SortNext):
		m.setSort((m.sortKey+1)%model.NumSortKeys, false)
	case key.Matches(msg, k.SortReverse):
		m.desc = !m.desc
		m.resort()
	case key.Matches(msg, k.SortCol):
		n := int(msg.Runes[0] - '1')
		if n < len(m.lay.cols) {
			m.setSort(columns[m.lay.cols[n]].key, true)
		}
	case key.Matches(msg, k.Procs):
		m.mode = viewProcs
	case key.Matches(msg, k.Findings):
		m.openFindings()
	}
	return nil
}

// setSort sorts by key; choosing the current key again reverses when
// toggle is set, a new key takes its natural direction.
func (m *Model) setSort(k model.SortKey, toggle bool) {
	if k == m.sortKey && toggle {
		m.desc = !m.desc
	} else {
		m.sortKey, m.desc = k, k.DefaultDesc()
	}
	m.resort()
}

func (m *Model) detailKey(msg tea.KeyMsg) tea.Cmd {
	k := m.keys
	if d, ok := m.moveKey(msg, m.bodyHeight()-4); ok {
		m.scrollDetail(d)
		return nil
	}
	switch {
	case key.Matches(msg, k.Back):
		m.mode = viewTable
	case key.Matches(msg, k.NextTab):
		m.detail.tab = (m.detail.tab + 1) % numTabs
	case key.Matches(msg, k.PrevTab):
		m.detail.tab = (m.detail.tab + numTabs - 1) % numTabs
	case key.Matches(msg, k.Procs):
		m.mode = viewProcs
	case key.Matches(msg, k.Findings):
		m.openFindings()
	}
	return nil
}

func (m *Model) procsKey(msg tea.KeyMsg) tea.Cmd {
	if d, ok := m.moveKey(msg, m.bodyHeight()); ok {
		m.scroll(d)
		return nil
	}
	if key.Matches(msg, m.keys.Back, m.keys.Procs) {
		m.mode = viewTable
	}
	return nil
}

func (m *Model) helpKey(msg tea.KeyMsg) tea.Cmd {
	if d, ok := m.moveKey(msg, m.bodyHeight()); ok {
		m.scroll(d)
		return nil
	}
	if key.Matches(msg, m.keys.Back, m.keys.Help, m.keys.Quit) {
		m.help = false
	}
	return nil
}

// togglePause plays or pauses a replay; live, it freezes the display.
func (m *Model) togglePause() {
	if m.opts.Live {
		m.frozen = !m.frozen
		if !m.frozen {
			m.setFlash("display live again", false)
		}
		return
	}
	m.opts.Feed.Control(model.ReplayToggle)
	// Show the new state at once; the next tick confirms it.
	if !m.replay.Ended {
		m.replay.Playing = !m.replay.Playing
	}
}

// replayOp sends a replay command; live sources have none.
func (m *Model) replayOp(op model.ReplayOp) {
	if m.opts.Live {
		m.setFlash("replay controls work on files (-r); space freezes the live display", true)
		return
	}
	m.opts.Feed.Control(op)
	switch op {
	case model.ReplayFaster:
		if m.replay.Speed < model.SpeedMax {
			m.replay.Speed++
		}
	case model.ReplaySlower:
		if m.replay.Speed > model.SpeedX1 {
			m.replay.Speed--
		}
	case model.ReplayStep:
		m.replay.Playing = false
	case model.ReplayToEnd:
		m.replay.ToEnd = !m.replay.Ended
	}
}

// save writes the selected (or drilled-into) flow's packets.
func (m *Model) save() tea.Cmd {
	id, ok := m.selectedID()
	switch {
	case !ok:
		m.setFlash("no flow selected", true)
		return nil
	case m.opts.Save == nil:
		m.setFlash("saving packets is not available for this source", true)
		return nil
	}
	e := m.rows.entry(id)
	switch {
	case e == nil:
		m.setFlash(fmt.Sprintf("flow #%d is no longer in the table", id), true)
		return nil
	case isSocketRow(e.Flow):
		m.setFlash("no packet of this socket was captured: nothing to write", true)
		return nil
	}
	m.setFlash(fmt.Sprintf("writing flow #%d…", id), false)
	return saveFlow(m.opts.Feed, m.opts.Save, *e.Flow)
}

// selectedID is the drilled-into flow, else the table's selection.
func (m *Model) selectedID() (model.FlowID, bool) {
	if m.mode == viewDetail {
		return m.detail.id, true
	}
	if m.table.cursor < len(m.rows.view) {
		return m.rows.view[m.table.cursor].Flow.ID, true
	}
	return 0, false
}

// now is the time the snapshot describes.
func (m *Model) now() int64 {
	if m.snap == nil {
		return 0
	}
	return m.snap.Now
}

func (m *Model) loc() *time.Location { return m.opts.Location }

// infoLines are the lines between the body and the status bar: the filter
// being edited (with its error), a message, or the selected flow's
// one-line summary.
func (m *Model) infoLines() []string {
	switch {
	case m.filter.editing:
		return m.filter.lines(&m.st, m.width)
	case m.flash != "":
		if m.flashErr {
			return []string{m.st.err.Render(truncate(m.flash, m.width))}
		}
		return []string{m.st.info.Render(truncate(m.flash, m.width))}
	}
	if m.mode != viewTable || m.help {
		return nil
	}
	return []string{m.selectedSummary()}
}

// selectedSummary is the selected flow in one line: who talks to whom,
// who reset it, its worst finding.
func (m *Model) selectedSummary() string {
	if m.table.cursor >= len(m.rows.view) {
		switch {
		case m.snap == nil:
			return m.st.dim.Render("waiting for the first snapshot…")
		case len(m.snap.Flows) == 0:
			return m.st.dim.Render("no TCP flows yet")
		}
		return m.st.dim.Render("no flow matches the filter (esc clears it)")
	}
	e := m.rows.view[m.table.cursor]
	f := e.Flow
	l := leftSide(f)
	id := fmt.Sprintf("#%d", f.ID)
	if isSocketRow(f) {
		id = "socket"
	}
	parts := []string{id + " " + endpointName(f, l) + " → " + endpointName(f, l.Other())}
	if n := len(f.Resets); n > 0 {
		x := f.Resets[n-1]
		parts = append(parts, m.st.err.Render("RST by "+roleName(f, x.From))+" in "+x.SenderState.String())
	}
	if n := e.Retrans(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d retrans", n))
	}
	if len(e.Findings) > 0 {
		parts = append(parts, m.st.severityStyle(e.Severity()).Render(e.Findings[0].Label.String()))
	}
	parts = append(parts, m.st.dim.Render("enter: details"))
	return truncate(strings.Join(parts, " · "), m.width)
}

// bodyHeight is the height above the info lines and status bar.
// On a tiny terminal the status bar stays, then the info lines, then the
// body.
func (m *Model) bodyHeight() int {
	return max(m.height-1-m.infoHeight(), 0)
}

// infoHeight sizes the info area without rendering it.
func (m *Model) infoHeight() int {
	n := 0
	switch {
	case m.filter.editing && m.filter.err != nil:
		n = 2
	case m.filter.editing, m.flash != "", m.mode == viewTable && !m.help:
		n = 1
	}
	return min(n, max(m.height-1, 0))
}

// tableHeight is the number of data rows (the body less the header).
func (m *Model) tableHeight() int { return max(m.bodyHeight()-1, 1) }

// View renders the screen: the body (table, drill-down, processes,
// findings or help), the info lines and the status bar, exactly width x height.
func (m *Model) View() string {
	bh := m.bodyHeight()
	var body string
	switch {
	case bh == 0:
	case m.help:
		lines := m.helpLines()
		off := clampScroll(m.helpScroll, len(lines), bh)
		body = padLines(lines[off:], m.width, bh)
	case m.mode == viewDetail:
		body = m.renderDetail(bh)
	case m.mode == viewProcs:
		body = m.renderProcs(bh)
	case m.mode == viewFindings:
		body = m.renderFindings(bh)
	default:
		body = m.renderTable(bh)
	}
	var parts []string
	if bh > 0 {
		parts = append(parts, body)
	}
	if n := m.infoHeight(); n > 0 {
		parts = append(parts, padLines(m.infoLines(), m.width, n))
	}
	parts = append(parts, m.statusLine())
	return strings.Join(parts, "\n")
}

// renderTable draws the header and only the visible rows.
func (m *Model) renderTable(height int) string {
	lines := make([]string, 0, height)
	lines = append(lines, m.st.header.Render(headerLine(m.lay, m.sortKey, m.desc)))
	x := cellCtx{now: m.now()}
	t := &m.table
	end := min(t.offset+height-1, len(m.rows.view))
	for i := t.offset; i < end; i++ {
		lines = append(lines, rowLine(m.lay, m.rows.view[i], x, i == t.cursor, &m.st))
	}
	if len(m.rows.view) == 0 {
		lines = append(lines, "", m.st.dim.Render("  "+m.emptyText()))
	}
	return padLines(lines, m.width, height)
}

// emptyText explains an empty table.
func (m *Model) emptyText() string {
	switch {
	case m.snap == nil:
		return "waiting for data…"
	case len(m.snap.Flows) == 0 && !m.opts.Live && !m.replay.Ended && !m.replay.Playing:
		return "paused before the first packet: space plays, . steps, > jumps to the end"
	case len(m.snap.Flows) == 0:
		return "no TCP flows seen yet"
	}
	return "no flow matches the filter " + Sanitize(m.filter.text) + " (esc clears it)"
}
