package tui

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/connscope/connscope/model"
)

// savePrompt is the `w` dialogue in the info line: it asks for a file
// name (a name that does not exist yet is proposed), writes the flow's
// packets there, and when the file exists asks before replacing it. It
// never overwrites without a yes.
type savePrompt struct {
	ti      textinput.Model
	active  bool
	confirm bool // the file exists: y replaces it, n edits the name
	flow    model.Flow
	width   int
}

// saveNameMsg carries the proposed file name for a flow.
type saveNameMsg struct {
	flow model.Flow
	name string
}

func newSavePrompt() savePrompt {
	ti := textinput.New()
	ti.CharLimit = 4096
	ti.Cursor.SetMode(cursor.CursorStatic)
	return savePrompt{ti: ti}
}

// saveHint follows the name being typed.
const saveHint = "  enter: write · esc: cancel"

// setSize fits the input to the terminal's width, beside its prompt and
// hint.
func (p *savePrompt) setSize(w int) {
	p.width = w
	p.ti.Width = max(w-ansi.StringWidth(p.ti.Prompt)-ansi.StringWidth(saveHint)-1, 1)
}

// defaultSaveName is the name proposed when the command proposes none.
func defaultSaveName(f *model.Flow) string {
	return "connscope-flow-" + strconv.FormatUint(uint64(f.ID), 10) + ".pcapng"
}

// proposeName asks the command for a free file name, off the UI
// goroutine; f is a copy.
func proposeName(suggest func(*model.Flow) string, f model.Flow) tea.Cmd {
	return func() tea.Msg {
		name := defaultSaveName(&f)
		if suggest != nil {
			name = suggest(&f)
		}
		return saveNameMsg{flow: f, name: name}
	}
}

// open starts the dialogue for a flow with a proposed name.
func (p *savePrompt) open(msg saveNameMsg) tea.Cmd {
	p.active, p.confirm, p.flow = true, false, msg.flow
	p.ti.Prompt = fmt.Sprintf("save flow #%d to: ", msg.flow.ID)
	p.setSize(p.width)
	p.ti.SetValue(msg.name)
	p.ti.CursorEnd()
	return p.ti.Focus()
}

// close ends the dialogue.
func (p *savePrompt) close() {
	p.active, p.confirm = false, false
	p.ti.Blur()
}

// path is the name typed, trimmed.
func (p *savePrompt) path() string { return strings.TrimSpace(p.ti.Value()) }

// update handles a key while the dialogue is open. It returns the save to
// start (nil for none) and whether the dialogue was cancelled.
func (p *savePrompt) update(msg tea.KeyMsg, feed Feed, save func(context.Context, SaveRequest) (string, error)) (tea.Cmd, bool) {
	if p.confirm {
		switch {
		case msg.Type == tea.KeyRunes && strings.EqualFold(string(msg.Runes), "y"):
			p.close()
			return saveFlow(feed, save, SaveRequest{Flow: p.flow, Path: p.path(), Overwrite: true}), false
		case msg.Type == tea.KeyEsc:
			p.close()
			return nil, true
		case msg.Type == tea.KeyRunes && strings.EqualFold(string(msg.Runes), "n"), msg.Type == tea.KeyEnter:
			p.confirm = false // back to editing the name
		}
		return nil, false
	}
	switch msg.Type {
	case tea.KeyEsc:
		p.close()
		return nil, true
	case tea.KeyEnter:
		if p.path() == "" {
			return nil, false
		}
		p.ti.Blur()
		return saveFlow(feed, save, SaveRequest{Flow: p.flow, Path: p.path()}), false
	}
	var cmd tea.Cmd
	p.ti, cmd = p.ti.Update(msg)
	return cmd, false
}

// exists reports a save refused because the file exists: the dialogue
// asks before replacing it.
func (p *savePrompt) exists(err error) bool {
	if !errors.Is(err, fs.ErrExist) {
		return false
	}
	p.active, p.confirm = true, true
	return true
}

// view renders the dialogue's line.
func (p *savePrompt) view(st *styles) string {
	if p.confirm {
		return st.warn.Render(truncate(model.Sanitize(p.path())+" exists: replace it? y: yes · n: another name · esc: cancel", p.width))
	}
	return fitStyled(p.ti.View()+st.dim.Render(saveHint), p.width)
}
