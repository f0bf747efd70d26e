package tui

import (
	"errors"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/connscope/connscope/model"
)

// filterInput is the display filter: the one in force and, while the
// person types, the line being edited. Every keystroke re-parses; a valid
// text applies at once (the table narrows live), an invalid one leaves
// the last valid filter in force and shows where the error is.
type filterInput struct {
	ti      textinput.Model
	editing bool
	applied *model.Filter
	text    string // the text of applied
	before  string // the text when editing began, restored by esc
	err     *model.FilterError
}

func newFilterInput() filterInput {
	ti := textinput.New()
	ti.Prompt = "/ "
	ti.Placeholder = "port 8080 and not state time_wait  (? for the language)"
	ti.CharLimit = 512
	ti.Cursor.SetMode(cursor.CursorStatic)
	return filterInput{ti: ti}
}

// setSize fits the input line to the terminal's width.
func (f *filterInput) setSize(w int) { f.ti.Width = max(w-4, 1) }

// set applies text as the filter, reporting a parse error.
func (f *filterInput) set(text string) error {
	flt, err := model.ParseFilter(text)
	if err != nil {
		var fe *model.FilterError
		if errors.As(err, &fe) {
			f.err = fe
		}
		return err
	}
	f.applied, f.text, f.err = flt, strings.TrimSpace(text), nil
	return nil
}

// start begins editing with the current text.
func (f *filterInput) start() tea.Cmd {
	f.editing = true
	f.before = f.text
	f.ti.SetValue(f.text)
	f.ti.CursorEnd()
	return f.ti.Focus()
}

// update handles a key while editing. changed reports that the filter in
// force changed, so the rows must be re-filtered.
func (f *filterInput) update(msg tea.KeyMsg) (changed bool, cmd tea.Cmd) {
	switch msg.Type {
	case tea.KeyEnter:
		if f.err != nil {
			return false, nil // stay: the error is on screen
		}
		f.editing = false
		f.ti.Blur()
		return false, nil
	case tea.KeyEsc:
		f.editing = false
		f.ti.Blur()
		old := f.text
		f.err = nil
		_ = f.set(f.before) // it parsed before
		return f.text != old, nil
	}
	f.ti, cmd = f.ti.Update(msg)
	old := f.text
	if err := f.set(f.ti.Value()); err != nil {
		return false, cmd
	}
	return f.text != old, cmd
}

// view renders the input and, under it, a caret at the error.
func (f *filterInput) view(st *styles, width int) []string {
	in := f.ti.View()
	if f.err == nil {
		return []string{in}
	}
	// The caret sits under the offending character: prompt plus the
	// display width of the text before it.
	v := f.ti.Value()
	pos := min(max(f.err.Pos, 0), len(v))
	col := ansi.StringWidth(f.ti.Prompt) + ansi.StringWidth(model.Sanitize(v[:pos]))
	msg := strings.Repeat(" ", col) + "^ " + model.Sanitize(f.err.Msg)
	if ansi.StringWidth(msg) > width { // no room under it: say it on the left
		msg = "^ col " + strconv.Itoa(f.err.Pos+1) + ": " + model.Sanitize(f.err.Msg)
	}
	return []string{in, st.err.Render(truncate(msg, width))}
}
