package tui

import (
	"slices"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/connscope/connscope/model"
)

// onKey routes a key: the filter line owns every key while editing; then
// the help overlay; then the global keys; then the focused pane.
func (m *Model) onKey(msg tea.KeyMsg) tea.Cmd {
	if msg.Type == tea.KeyCtrlC {
		return tea.Quit
	}
	// Keys typed faster than the terminal is read arrive as one message
	// ("/port 80" from tmux send-keys or a quick typist): take them one by
	// one, so "/" opens the filter and the rest lands in it. A paste only
	// ever goes into the filter line.
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !m.filter.editing && !m.save.active {
		if msg.Paste {
			return nil
		}
		cmds := make([]tea.Cmd, 0, len(msg.Runes))
		for _, r := range msg.Runes {
			cmds = append(cmds, m.onKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt}))
		}
		return tea.Batch(cmds...)
	}
	if m.save.active {
		cmd, _ := m.save.update(msg, m.opts.Feed, m.opts.Save)
		return cmd
	}
	if m.filter.editing {
		return m.filterKey(msg)
	}
	// A key before this one in the same message may have changed the
	// info area, and with it the body the panes scroll in.
	m.sizePanes()
	c := m.ctx()
	if m.help {
		return m.apply(m.overlay.update(msg, &c))
	}
	if cmd, ok := m.globalKey(msg); ok {
		return cmd
	}
	switch m.mode {
	case viewDetail:
		return m.apply(m.detail.update(msg, &c))
	case viewProcs:
		return m.apply(m.procs.update(msg, &c))
	case viewFindings:
		return m.apply(m.finds.update(msg, &c))
	}
	return m.apply(m.table.update(msg, &c))
}

// filterKey gives a key to the filter line and re-filters the rows when
// the filter in force changed. `?` shows (and hides) the filter language
// above the line instead of typing itself.
func (m *Model) filterKey(msg tea.KeyMsg) tea.Cmd {
	if msg.Type == tea.KeyRunes && string(msg.Runes) == "?" {
		m.langHelp = !m.langHelp
		return nil
	}
	// Keys typed faster than the terminal is read arrive together: a ?
	// among them still shows the language (a paste is typed as it is).
	if msg.Type == tea.KeyRunes && !msg.Paste && len(msg.Runes) > 1 && slices.Contains(msg.Runes, '?') {
		var cmds []tea.Cmd
		start := 0
		for i, r := range append(msg.Runes, '?') {
			if r != '?' {
				continue
			}
			if i > start {
				cmds = append(cmds, m.filterKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: msg.Runes[start:i], Alt: msg.Alt}))
			}
			if i < len(msg.Runes) {
				m.langHelp = !m.langHelp
			}
			start = i + 1
		}
		return tea.Batch(cmds...)
	}
	changed, cmd := m.filter.update(msg)
	if !m.filter.editing {
		m.langHelp = false
	}
	if changed {
		sel, had := m.table.selected(&m.rows)
		m.resort()
		if had && m.rows.index(sel) < 0 { // the selected row is filtered out: show the top
			m.table.moveTo(0, &m.rows)
		}
	}
	return cmd
}

// globalKey handles the keys that mean the same on every screen: quit,
// help, the replay controls and save.
func (m *Model) globalKey(msg tea.KeyMsg) (tea.Cmd, bool) {
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit, true
	case key.Matches(msg, k.Help):
		m.help, m.overlay.scroll = true, 0
	case key.Matches(msg, k.Pause):
		m.togglePause()
	case key.Matches(msg, k.Faster):
		m.replayOp(model.ReplayFaster)
	case key.Matches(msg, k.Slower):
		m.replayOp(model.ReplaySlower)
	case key.Matches(msg, k.Step):
		m.replayOp(model.ReplayStep)
	case key.Matches(msg, k.End):
		m.replayOp(model.ReplayToEnd)
	case key.Matches(msg, k.Save):
		return m.startSave(), true
	default:
		return nil, false
	}
	return nil, true
}

// apply carries out what a pane asked for.
func (m *Model) apply(in intent) tea.Cmd {
	switch in.do {
	case doShowTable:
		m.mode = viewTable
	case doShowProcs:
		m.mode = viewProcs
	case doShowFindings:
		m.openFindings()
	case doOpenFlow:
		m.mode = viewDetail
		m.detail.open(in.key)
		return m.maybeFetch()
	case doClearFilter:
		if m.filter.text != "" {
			_ = m.filter.set("")
			m.resort()
		}
		if m.hasBack { // back to the pane that filtered the table
			m.mode, m.hasBack = m.back, false
			if m.mode == viewFindings {
				m.finds.build(&m.rows)
			}
		}
	case doEditFilter:
		return m.filter.start()
	case doSortNext:
		m.setSort((m.sortKey+1)%model.NumSortKeys, false)
	case doSortBy:
		m.setSort(in.sort, true)
	case doReverse:
		m.desc = !m.desc
		m.resort()
		m.table.moveTo(0, &m.rows)
	case doFilterTo:
		m.filterTo(in.text, in.back)
	case doCloseHelp:
		m.help = false
	}
	return nil
}

// setSort sorts by key; choosing the current key again reverses when
// toggle is set, a new key takes its natural direction. A new order shows
// its first row: the top of a sort is what the person asked to see.
func (m *Model) setSort(k model.SortKey, toggle bool) {
	if k == m.sortKey && toggle {
		m.desc = !m.desc
	} else {
		m.sortKey, m.desc = k, k.DefaultDesc()
	}
	m.resort()
	m.table.moveTo(0, &m.rows)
}

// openFindings shows the findings summary of the rows shown.
func (m *Model) openFindings() {
	m.mode = viewFindings
	m.finds.build(&m.rows)
}

// filterTo applies text as the filter and shows the table from its first
// row, Esc going back to the screen back (viewTable: none); a filter that
// does not parse is reported and changes nothing.
func (m *Model) filterTo(text string, back viewMode) {
	if err := m.filter.set(text); err != nil {
		m.setFlash("filter "+text+": "+err.Error(), true)
		m.filter.err = nil
		return
	}
	m.back, m.hasBack = back, back != viewTable
	m.mode = viewTable
	m.resort()
	m.table.moveTo(0, &m.rows)
}

// togglePause plays or pauses a replay (at its end: replays the file from
// its first packet); live, it freezes the display.
func (m *Model) togglePause() {
	if m.opts.Live {
		m.frozen = !m.frozen
		if !m.frozen {
			m.setFlash("display live again", false)
		}
		return
	}
	if m.replay.Ended || (m.replay.ToEnd && !m.replay.CanRestart) {
		if !m.replay.CanRestart {
			m.setFlash("the whole capture is shown; replaying it needs a file that can be read again (not stdin)", true)
			return
		}
		m.opts.Feed.Control(model.ReplayRestart)
		m.setFlash("replaying from the first packet", false)
		return
	}
	m.opts.Feed.Control(model.ReplayToggle)
	// Show the new state at once; the next tick confirms it.
	m.replay.Playing = !m.replay.Playing
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

// startSave asks where to write the selected (or drilled-into) flow's
// packets: the dialogue opens with a proposed name.
func (m *Model) startSave() tea.Cmd {
	k, ok := m.selectedKey()
	switch {
	case !ok:
		m.setFlash("no flow selected", true)
		return nil
	case m.opts.Save == nil:
		m.setFlash("saving packets is not available for this source", true)
		return nil
	}
	e := m.rows.entry(k)
	switch {
	case e == nil:
		m.setFlash("the flow is no longer in the table", true)
		return nil
	case isKernelOnly(e.Flow):
		m.setFlash("no packet of this socket was captured: nothing to write", true)
		return nil
	}
	return proposeName(m.opts.SaveName, *e.Flow)
}

// selectedKey is the drilled-into row, else the table's selection.
func (m *Model) selectedKey() (model.Key, bool) {
	if m.mode == viewDetail {
		return m.detail.key, true
	}
	return m.table.selected(&m.rows)
}

// onMouse scrolls the focused pane with the wheel and selects a table row
// with a click.
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
	c := m.ctx()
	switch {
	case m.help:
		m.overlay.scrollBy(delta, &c)
	case m.mode == viewDetail:
		m.detail.scrollBy(delta, &c)
	case m.mode == viewProcs:
		m.procs.scrollBy(delta, &c)
	case m.mode == viewFindings:
		m.finds.move(delta)
	default:
		m.table.move(delta, &m.rows)
	}
}
