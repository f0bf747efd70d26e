package tui

import (
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/connscope/connscope/model"
)

// A pane is a small model the root owns by value: the table, the
// drill-down, the processes, the findings summary, the help overlay, the
// filter line and the status bar. Each keeps only its own state (cursor,
// scroll, size) and has setSize, update and view-style methods. The root
// lends it the shared state for one call as a paneCtx, and a pane that
// wants something outside itself (another screen, a new sort or filter)
// returns an intent for the root to carry out.

// paneCtx lends a pane, for one call, what the root owns: the theme, the
// keys, the options and the data shown with its order and filter. A pane
// reads it and never keeps it.
type paneCtx struct {
	st      *styles
	keys    *keyMap
	opts    *Options
	snap    *model.Snapshot // the snapshot the rows show, nil before the first
	rows    *rowSet
	kernel  *model.KernelIndex
	lay     *layout
	sortKey model.SortKey
	desc    bool
	filter  string // the text of the filter in force
	replay  model.ReplayStatus
	frozen  bool
	pps     float64
	ifaces  []IfaceNote
}

// ctx lends the panes the root's state.
func (m *Model) ctx() paneCtx {
	return paneCtx{
		st: &m.st, keys: &m.keys, opts: &m.opts,
		snap: m.snap, rows: &m.rows, kernel: m.kernel, lay: &m.lay,
		sortKey: m.sortKey, desc: m.desc, filter: m.filter.text,
		replay: m.replay, frozen: m.frozen, pps: m.pps.pps, ifaces: m.ifaces,
	}
}

// now is the time the snapshot describes.
func (c *paneCtx) now() int64 {
	if c.snap == nil {
		return 0
	}
	return c.snap.Now
}

func (c *paneCtx) loc() *time.Location { return c.opts.Location }

// kernelNote says why there is no process or socket data.
func (c *paneCtx) kernelNote() string {
	switch {
	case c.snap != nil && c.snap.KernelNote != "":
		return model.Sanitize(c.snap.KernelNote)
	case c.opts.KernelNote != "":
		return model.Sanitize(c.opts.KernelNote)
	case !c.opts.Live:
		return "no process data: replaying a file"
	}
	return "no process data yet: waiting for the first socket poll"
}

// nsName names a network namespace for people: "host" for the host's,
// the ip netns or container name when it has one, else the kernel's
// "net:[INODE]". The poller's own namespace is the host's unless the
// command said otherwise (Options.NetNSNames: connscope runs inside a
// named namespace).
func (c *paneCtx) nsName(inode uint64) string {
	if n, ok := c.opts.NetNSNames[inode]; ok {
		return model.Sanitize(n)
	}
	if c.kernel != nil {
		for _, ns := range c.kernel.View.Namespaces {
			if ns.Inode != inode {
				continue
			}
			if ns.Host || ns.Label == "" {
				return "host"
			}
			return model.Sanitize(ns.Label)
		}
	}
	if inode == 0 {
		return "host"
	}
	return model.NetNSInodeLabel(inode)
}

// intentKind is what a pane can ask of the root.
type intentKind uint8

const (
	doNothing      intentKind = iota
	doShowTable               // back to the connection table
	doShowProcs               // the processes pane
	doShowFindings            // the findings summary, rebuilt from the rows
	doOpenFlow                // drill into row key
	doClearFilter             // drop the filter in force, if any
	doEditFilter              // open the filter line
	doSortNext                // sort by the next key
	doSortBy                  // sort by key; the current key again reverses
	doReverse                 // reverse the sort order
	doFilterTo                // filter to text and show the table's first row
	doCloseHelp               // close the help overlay
)

// intent is a pane's request to the root, with what it needs.
type intent struct {
	do   intentKind
	key  model.Key     // doOpenFlow
	sort model.SortKey // doSortBy
	text string        // doFilterTo
	// back is the screen Esc returns to from the table a doFilterTo
	// shows (the findings or processes pane that asked for it).
	back viewMode
}

// moveKey maps the movement keys to a delta for a pane of page rows;
// top and bottom are large deltas that the pane clamps.
func moveKey(k *keyMap, msg tea.KeyMsg, page int) (int, bool) {
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

// clampScroll keeps a scroll offset inside a body of n lines shown h at a
// time.
func clampScroll(off, n, h int) int {
	return max(min(off, n-h), 0)
}
