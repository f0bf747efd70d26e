package tui

import "strings"

// View renders the screen: the body (the help overlay, else the focused
// pane: table, drill-down, processes or findings), the info lines and the
// status bar, exactly width x height. A frame that no message changed
// since it was drawn (a tick that brought nothing new) is returned as it
// is: an idle screen costs no rendering.
func (m *Model) View() string {
	if !m.frameOK {
		m.frame, m.frameOK = m.render(), true
	}
	return m.frame
}

// render draws the screen.
func (m *Model) render() string {
	bh := m.bodyHeight()
	c := m.ctx()
	var body string
	switch {
	case bh == 0:
	case m.help:
		body = m.overlay.view(&c)
	case m.filter.editing && m.langHelp:
		body = padLines(m.overlay.language(&c), m.width, bh)
	case m.mode == viewDetail:
		body = m.detail.view(&c)
	case m.mode == viewProcs:
		body = m.procs.view(&c)
	case m.mode == viewFindings:
		body = m.finds.view(&c)
	default:
		body = m.table.view(&c)
	}
	var parts []string
	if bh > 0 {
		parts = append(parts, body)
	}
	if n := m.infoHeight(); n > 0 {
		parts = append(parts, padLines(m.infoLines(&c), m.width, n))
	}
	parts = append(parts, m.status.view(&c))
	return strings.Join(parts, "\n")
}

// infoLines are the lines between the body and the status bar: the filter
// being edited (with its error), a message, or the table's summary of the
// selected flow.
func (m *Model) infoLines(c *paneCtx) []string {
	switch {
	case m.save.active:
		return []string{m.save.view(&m.st)}
	case m.filter.editing:
		return m.filter.view(&m.st, m.width)
	case m.flash != "":
		if m.flashErr {
			return []string{m.st.err.Render(truncate(m.flash, m.width))}
		}
		return []string{m.st.info.Render(truncate(m.flash, m.width))}
	}
	if m.mode != viewTable || m.help {
		return nil
	}
	return []string{m.table.summary(c)}
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
	case m.filter.editing, m.save.active, m.flash != "", m.mode == viewTable && !m.help:
		n = 1
	}
	return min(n, max(m.height-1, 0))
}
