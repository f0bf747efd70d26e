package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

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
	// Refresh is how often the UI polls the feed while data moves
	// (default 200 ms); once nothing has changed for a second it polls
	// every idleRefresh, so an idle screen costs next to nothing.
	Refresh time.Duration
	// Save writes a flow's packets to the pcapng file req.Path and
	// returns its absolute path; it returns an error wrapping
	// os.ErrExist, and writes nothing, when the file exists and
	// req.Overwrite is not set. nil makes `w` explain that saving is not
	// available.
	Save func(ctx context.Context, req SaveRequest) (path string, err error)
	// KernelNote says why there is no kernel view ("run as root to see
	// owners"); empty picks a default from Live.
	KernelNote string
	// Filter is the initial display filter; Sort and SortDesc the initial
	// order.
	Filter   string
	Sort     model.SortKey
	SortDesc bool
	// Demo, when set, says why the embedded demo plays instead of what
	// was asked (no privilege for live capture), and DemoShort in a few
	// words: the status bar carries a DEMO badge with the reason at every
	// width.
	Demo, DemoShort string
	// NetNSNames names network namespaces by inode where the kernel view
	// cannot: connscope's own when it runs inside a named one, and the
	// host's ("host") seen from there.
	NetNSNames map[uint64]string
	// Interfaces, when set, reports the live interfaces that are not
	// being captured and why (down, lost, failed); the status bar says
	// so. It is called from a command, off the UI goroutine.
	Interfaces func() []IfaceNote
	// SaveName, when set, proposes a file name for a flow's packets that
	// does not exist yet; it is called from a command.
	SaveName func(f *model.Flow) string
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
	help          bool // the help overlay covers the screen

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
	seen     *model.Snapshot
	building bool
	bgSorter *model.EntrySorter
	gen      uint64

	sortKey model.SortKey
	desc    bool
	lay     layout
	layFor  layoutKey

	// The panes, each a small model of its own; the root routes to them
	// and lends them the state above (ctx).
	table   tableView
	filter  filterInput // the filter line, and the filter in force
	detail  detailView
	procs   procsView
	finds   findingsView
	overlay helpView
	status  statusBar

	// back is the screen Esc returns to from a table that a pane
	// filtered (hasBack); langHelp shows the filter language while the
	// filter line is open; save is the `w` dialogue; ifaces are the live
	// interfaces not captured.
	back     viewMode
	hasBack  bool
	langHelp bool
	save     savePrompt
	ifaces   []IfaceNote

	flash      string
	flashErr   bool
	flashUntil time.Time

	// frame is the last screen drawn, still valid while frameOK; quiet
	// counts the ticks in a row that changed nothing on it.
	frame   string
	frameOK bool
	quiet   int
}

// tickView is what a tick can change on screen: a tick that leaves it as
// it was keeps the frame.
type tickView struct {
	snap   *model.Snapshot
	replay model.ReplayStatus
	pps    float64
	flash  string
	ifaces string
}

func (m *Model) tickView() tickView {
	v := tickView{snap: m.snap, replay: m.replay, pps: m.pps.pps, flash: m.flash}
	for _, i := range m.ifaces {
		v.ifaces += i.Name + "\x00" + i.State + "\x00"
	}
	return v
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
		save:     newSavePrompt(),
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
	m.sizePanes()
	return m
}

// maxFPS bounds the frames drawn per second.
const maxFPS = 20

// Run shows the inspector until the person quits or ctx ends, and
// restores the terminal (main screen, mouse tracking off, cursor shown)
// before it returns either way.
//
// Run installs no signal handler: the caller owns SIGINT, SIGTERM and
// SIGHUP and ends ctx on them. (Bubble Tea's own handler, beside a
// caller's, could block forever sending its quit message to an event loop
// that ctx had already ended, leaving the terminal in the alternate
// screen.) Ctrl-C typed in the UI is a key, which quits.
func Run(ctx context.Context, opts Options) error {
	if opts.Feed == nil {
		return errors.New("tui: Options.Feed is required")
	}
	// 20 frames a second at most: a key's echo within 50 ms, and a
	// third of the renderer's wake-ups of its default 60 on an idle
	// screen.
	popts := []tea.ProgramOption{tea.WithAltScreen(), tea.WithContext(ctx), tea.WithoutSignalHandler(), tea.WithFPS(maxFPS)}
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
	f, ifaces := m.opts.Feed, m.opts.Interfaces
	return func() tea.Msg { return pollIfaces(pollFeed(f, time.Now()), ifaces) }
}

// Update routes a message: the terminal's size to every pane, data to
// its owner, input to the focused pane (onKey, onMouse).
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	before := m.tickView()
	if _, tick := msg.(tickMsg); !tick {
		m.frameOK = false
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.setSize(msg.Width, msg.Height)
	case tickMsg:
		cmd = m.onTick(msg, before)
	case rowsMsg:
		cmd = m.onRows(msg)
	case packetsMsg:
		m.detail.setPackets(msg)
	case saveNameMsg:
		cmd = m.save.open(msg)
	case savedMsg:
		m.onSaved(msg)
	case tea.MouseMsg:
		m.onMouse(msg)
	case tea.KeyMsg:
		cmd = m.onKey(msg)
	}
	// The info area grows and shrinks (filter error, messages): keep the
	// panes' size, the table's page and the cursors on screen in step
	// with it.
	m.sizePanes()
	m.table.clamp(len(m.rows.view))
	m.finds.clampPage()
	if m.tickView() != before {
		m.frameOK = false
	}
	return m, cmd
}

// setSize adopts a new terminal size and passes it on to every pane.
func (m *Model) setSize(w, h int) {
	m.width, m.height = max(w, 1), max(h, 1)
	m.filter.setSize(m.width)
	m.save.setSize(m.width)
	m.fitLayout()
	m.sizePanes()
}

// sizePanes gives every pane the body's size (the screen less the info
// lines and the status bar), and the status bar the width.
func (m *Model) sizePanes() {
	w, h := m.width, m.bodyHeight()
	m.status.setSize(w)
	m.table.setSize(w, h)
	m.detail.setSize(w, h)
	m.procs.setSize(w, h)
	m.finds.setSize(w, h)
	m.overlay.setSize(w, h)
}

// onTick takes in what the feed held: a new snapshot rebuilds the rows
// (unless frozen); the drill-down refreshes its packet log when its flow
// moved on. before is the screen's state before the tick.
func (m *Model) onTick(t tickMsg, before tickView) tea.Cmd {
	m.lastAt = t.at
	m.replay = t.replay
	if t.hasIfaces {
		m.ifaces = t.ifaces
	}
	// Packets per second: read from the source when live; applied by the
	// replay otherwise (the file reader runs ahead of a paced replay).
	switch {
	case !m.opts.Live:
		m.pps.observe(t.at, t.replay.Applied)
	case t.snap != nil:
		m.pps.observe(t.at, t.snap.Source.Packets)
	}
	if !m.frozen && t.snap != nil {
		m.seen = t.snap
	}
	if !m.flashUntil.IsZero() && t.at.After(m.flashUntil) {
		m.flash, m.flashUntil = "", time.Time{}
	}
	cmds := tea.Batch(m.refresh(), m.maybeFetch())
	if m.tickView() != before {
		m.quiet = 0
	} else {
		m.quiet++
	}
	return tea.Batch(tick(m.opts.Feed, m.opts.Interfaces, m.nextTick()), cmds)
}

// idleRefresh is the UI's poll period once nothing changed for a second.
const idleRefresh = time.Second

// nextTick is when to poll the feed again: at Refresh while data moves,
// a replay plays or a message waits to expire; at idleRefresh once a
// second of ticks brought nothing new.
func (m *Model) nextTick() time.Duration {
	quietFor := time.Duration(m.quiet) * m.opts.Refresh
	if quietFor < time.Second || m.replay.Playing || m.replay.ToEnd || m.building || m.flash != "" {
		return m.opts.Refresh
	}
	return max(idleRefresh, m.opts.Refresh)
}

// asyncRowsAbove is the flow count above which rows are built off the UI
// goroutine: below it a build takes a few milliseconds and running it in
// Update keeps the data and the screen in step; above it a build may take
// longer than a key press should wait.
const asyncRowsAbove = 20_000

// rowsMsg delivers rows built off the UI goroutine. gen is the filter and
// sort generation they were built with.
type rowsMsg struct {
	rows rowSet
	gen  uint64
}

// refresh rebuilds the rows when the feed has newer data than they show:
// at once for a small table, in a command for a large one (one build at a
// time; a newer snapshot waits for it). Snapshots are immutable, so a new
// pointer is new data.
func (m *Model) refresh() tea.Cmd {
	if m.building || m.seen == nil || m.seen == m.snap {
		return nil
	}
	in := rowInput{snap: m.seen, filter: m.filter.applied, key: m.sortKey, desc: m.desc, sorter: &m.sorter}
	if len(m.seen.Rows) <= asyncRowsAbove {
		m.install(buildRows(in, m.spare))
		return nil
	}
	// The builder writes only the spare view storage, which the UI gives
	// up until the result arrives. It sorts with its own sorter.
	in.sorter = m.bgSorter
	spare, gen := m.spare, m.gen
	m.spare, m.building = rowSet{}, true
	return func() tea.Msg { return rowsMsg{rows: buildRows(in, spare), gen: gen} }
}

// onRows installs rows built in the background and starts the next build
// if newer data came meanwhile.
func (m *Model) onRows(msg rowsMsg) tea.Cmd {
	m.building = false
	m.install(msg.rows)
	if msg.gen != m.gen { // the filter or sort changed during the build: show its top
		m.resort()
		m.table.moveTo(0, &m.rows)
	}
	return m.refresh()
}

// install makes rs the rows shown, keeping the selection, and keeps the
// rows they replace as storage for the next build.
func (m *Model) install(rs rowSet) {
	old := m.rows
	m.rows, m.spare = rs, old
	m.snap, m.kernel = rs.snap, nil
	if rs.snap != nil {
		m.kernel = rs.snap.Kernel
	}
	m.fitLayout()
	m.table.restore(&m.rows)
	if m.mode == viewFindings {
		m.finds.build(&m.rows)
	}
	if m.mode == viewProcs {
		c := m.ctx()
		m.procs.restore(&c)
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
// process column without process data, address columns as wide as the
// widest address.
func (m *Model) fitLayout() {
	var hidden [numCols]bool
	hidden[colProc] = !m.rows.owners
	hidden[colNetNS] = !m.rows.netns
	key := layoutKey{m.width, hidden, m.rows.widths}
	if key == m.layFor && m.lay.cols != nil {
		return
	}
	m.lay, m.layFor = fitColumns(m.width, hidden, m.rows.widths), key
}

// layoutKey is what a layout depends on, to refit only when it changes.
type layoutKey struct {
	width  int
	hidden [numCols]bool
	widths colWidths
}

// maybeFetch asks for the drill-down flow's packets when they are stale.
func (m *Model) maybeFetch() tea.Cmd {
	if m.mode != viewDetail {
		return nil
	}
	_, f := m.detailFlow()
	if f == nil || f.Kind != model.FlowWire || !m.detail.needsFetch(f) {
		return nil
	}
	m.detail.asked, m.detail.askedAt = true, f.LastFrame
	return fetchPackets(m.opts.Feed, f.ID)
}

// detailFlow returns the flow the drill-down shows, from the current rows
// (filtered out or not), or nil when the table no longer has it.
func (m *Model) detailFlow() (*model.FlowEntry, *model.Flow) {
	return m.detail.flow(&m.rows)
}

// onSaved reports a save: where it wrote, or why not; a file that exists
// turns the dialogue into a question.
func (m *Model) onSaved(msg savedMsg) {
	switch {
	case msg.err == nil:
		m.save.close()
		m.setFlash(fmt.Sprintf("flow #%d written to %s", msg.id, msg.path), false)
	case m.save.exists(msg.err):
	default:
		m.save.close()
		m.setFlash(fmt.Sprintf("save flow #%d: %v", msg.id, msg.err), true)
	}
}

func (m *Model) setFlash(s string, isErr bool) {
	m.flash, m.flashErr = model.Sanitize(s), isErr
	base := m.lastAt
	if base.IsZero() {
		base = time.Now()
	}
	m.flashUntil = base.Add(flashFor)
}

// now is the time the snapshot describes.
func (m *Model) now() int64 {
	if m.snap == nil {
		return 0
	}
	return m.snap.Now
}
