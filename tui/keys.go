package tui

import "github.com/charmbracelet/bubbles/key"

// keyMap holds every binding, built once in New. The help overlay is
// generated from helpGroups, and TestKeys_EveryBindingIsInTheHelp fails
// when a binding is left out of it.
type keyMap struct {
	Up, Down, Top, Bottom, PageUp, PageDown key.Binding
	Enter, Back                             key.Binding
	Filter, SortNext, SortReverse, SortCol  key.Binding
	Procs, Findings                         key.Binding
	Pause, Faster, Slower, Step, End        key.Binding
	Save, NextTab, PrevTab, Help, Quit      key.Binding
}

func newKeyMap() keyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return keyMap{
		Up:          b("k/↑", "move up (scroll in panes)", "k", "up"),
		Down:        b("j/↓", "move down", "j", "down"),
		Top:         b("g/home", "first row", "g", "home"),
		Bottom:      b("G/end", "last row", "G", "end"),
		PageUp:      b("pgup/ctrl+b", "page up", "pgup", "ctrl+b"),
		PageDown:    b("pgdn/ctrl+f", "page down", "pgdown", "ctrl+f"),
		Enter:       b("enter", "drill down; in processes: that process's connections", "enter"),
		Back:        b("esc/bksp", "back; in the table: clear the filter", "esc", "backspace"),
		Filter:      b("/", "display filter (? shows the language)", "/"),
		SortNext:    b("s", "sort by the next column (cursor to the top)", "s"),
		SortReverse: b("S", "reverse the sort order", "S"),
		SortCol:     b("1-9", "sort by the Nth visible column (again: reverse)", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
		Procs:       b("p", "processes pane (fds vs limits, sockets)", "p"),
		Findings:    b("F", "findings by cause (enter shows that cause's flows)", "F"),
		Pause:       b("space", "replay: play/pause, at the end from the start; live: freeze", " "),
		Faster:      b("+", "replay faster (x1, x10, x100, max)", "+", "="),
		Slower:      b("-", "replay slower", "-", "_"),
		Step:        b(".", "replay: step one packet (pauses)", "."),
		End:         b(">", "replay: jump to the end of the capture", ">"),
		Save:        b("w", "save the selected flow's packets as pcapng (asks the name)", "w"),
		NextTab:     b("tab", "next drill-down pane (ladder, events, states ...)", "tab"),
		PrevTab:     b("shift+tab", "previous drill-down pane", "shift+tab"),
		Help:        b("?", "this help", "?"),
		Quit:        b("q/ctrl+c", "quit", "q", "ctrl+c"),
	}
}

// helpGroups orders the bindings for the help overlay.
func (k keyMap) helpGroups() []helpGroup {
	return []helpGroup{
		{"Move", []key.Binding{k.Up, k.Down, k.Top, k.Bottom, k.PageUp, k.PageDown}},
		{"Table", []key.Binding{k.Enter, k.Back, k.Filter, k.SortNext, k.SortReverse, k.SortCol, k.Procs, k.Findings, k.Save}},
		{"Drill-down", []key.Binding{k.NextTab, k.PrevTab}},
		{"Replay and live", []key.Binding{k.Pause, k.Faster, k.Slower, k.Step, k.End}},
		{"General", []key.Binding{k.Help, k.Quit}},
	}
}

type helpGroup struct {
	title string
	keys  []key.Binding
}

// KeyGroup is one group of the help screen's keys: its title and each
// key with what it does.
type KeyGroup struct {
	Title string
	Keys  [][2]string
}

// KeyHelp lists every key binding as the help screen groups them, for the
// man page and the README: they are generated from the same table.
func KeyHelp() []KeyGroup {
	var out []KeyGroup
	for _, g := range newKeyMap().helpGroups() {
		kg := KeyGroup{Title: g.title}
		for _, b := range g.keys {
			h := b.Help()
			kg.Keys = append(kg.Keys, [2]string{h.Key, h.Desc})
		}
		out = append(out, kg)
	}
	return out
}
