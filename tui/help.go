package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/connscope/connscope/model"
)

// filterHelp documents the display filter language beside the keys.
var filterHelp = []string{
	"port 8080          either endpoint's port (port>1024 works too)",
	"host 10.0.0.2      either endpoint's address; net 10.0.0.0/8",
	"state close_wait   local state, or either side's wire state",
	"proc nginx         owning process name contains the word",
	"pid 1234           owning process ID",
	"finding idle       a finding label contains the word (bare: any)",
	"rst retrans zerowin keepalive dupack ooo lost syn fin",
	"                   bare counter: above zero",
	"retrans>0 rtt>=50ms idle>30s bytes>1m age<5s rate>10k",
	"                   compare with = != < <= > >=",
	"closed open inferred v4 v6",
	"and or not && || ! ( )   adjacent terms are and-ed",
	"anything else      free text: address, process or finding",
}

// helpView is the help overlay: every key binding, grouped, then the
// filter language, scrolled. The root decides when it covers the screen.
type helpView struct {
	scroll        int
	width, height int
}

// setSize adopts the body's size.
func (v *helpView) setSize(w, h int) { v.width, v.height = w, h }

// update handles a key while the overlay is open: scrolling, or closing.
func (v *helpView) update(msg tea.KeyMsg, c *paneCtx) intent {
	if d, ok := moveKey(c.keys, msg, v.height); ok {
		v.scrollBy(d, c)
		return intent{}
	}
	if key.Matches(msg, c.keys.Back, c.keys.Help, c.keys.Quit) {
		return intent{do: doCloseHelp}
	}
	return intent{}
}

// scrollBy moves the overlay by delta lines (clamped).
func (v *helpView) scrollBy(delta int, c *paneCtx) {
	v.scroll = clampScroll(v.scroll+delta, len(v.lines(c)), v.height)
}

// view renders the overlay in its height.
func (v *helpView) view(c *paneCtx) string {
	lines := v.lines(c)
	off := clampScroll(v.scroll, len(lines), v.height)
	return padLines(lines[off:], v.width, v.height)
}

// lines builds the overlay: every key binding, grouped, then the filter
// language. Two columns when the terminal is wide enough.
func (v *helpView) lines(c *paneCtx) []string {
	st := c.st
	var keys []string
	for _, g := range c.keys.helpGroups() {
		keys = append(keys, st.title.Render(g.title))
		for _, b := range g.keys {
			h := b.Help()
			keys = append(keys, "  "+st.key.Render(fit(h.Key, 12, false))+" "+h.Desc)
		}
		keys = append(keys, "")
	}
	lang := []string{st.title.Render("Display filter (/)")}
	for _, l := range filterHelp {
		lang = append(lang, "  "+l)
	}
	names := sortNames()
	lang = append(lang, "", st.title.Render("Sort keys (s cycles)"),
		"  "+strings.Join(names[:8], " "), "  "+strings.Join(names[8:], " "),
		"", st.dim.Render("esc, ? or q closes this help; j/k scroll"))

	colW := 0
	for _, l := range keys {
		colW = max(colW, ansi.StringWidth(l))
	}
	// Two columns when the language reference keeps most of its width.
	if v.width-colW-3 >= 60 {
		out := make([]string, max(len(keys), len(lang)))
		for i := range out {
			var l, r string
			if i < len(keys) {
				l = keys[i]
			}
			if i < len(lang) {
				r = lang[i]
			}
			out[i] = fitStyled(l, colW) + "   " + truncate(r, v.width-colW-3)
		}
		return out
	}
	return append(keys, lang...)
}

func sortNames() []string {
	out := make([]string, model.NumSortKeys)
	for k := model.SortKey(0); k < model.NumSortKeys; k++ {
		out[k] = k.String()
	}
	return out
}
