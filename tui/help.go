package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/connscope/connscope/model"
)

// filterHelp is the display filter language as the help shows it, from
// the model's table of it: each term's example, then its meaning wrapped
// to width cells.
func filterHelp(width int) []string {
	const exW = 22
	var out []string
	for _, t := range model.FilterLanguage() {
		for i, part := range wrapWords(t.Meaning, width-exW-3, width-exW-3) {
			ex := ""
			if i == 0 {
				ex = t.Example
			}
			out = append(out, fmt.Sprintf("%-*s %s", exW, ex, part))
		}
	}
	return out
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
	colW := 0
	for _, l := range keys {
		colW = max(colW, ansi.StringWidth(l))
	}
	two := v.width-colW-3 >= 60 // the language keeps most of its width beside the keys
	langW := v.width
	if two {
		langW = v.width - colW - 3
	}
	lang := v.languageLines(c, "Display filter (/)", langW-2)
	names := sortNames()
	lang = append(lang, "", st.title.Render("Sort keys (s cycles)"),
		"  "+strings.Join(names[:8], " "), "  "+strings.Join(names[8:], " "),
		"", st.dim.Render("esc, ? or q closes this help; j/k scroll"))

	if two {
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

// languageLines is the filter language under a title, wrapped to width.
func (v *helpView) languageLines(c *paneCtx, title string, width int) []string {
	lines := []string{c.st.title.Render(title)}
	for _, l := range filterHelp(width) {
		lines = append(lines, "  "+l)
	}
	return lines
}

// language is what `?` shows while the filter line is open: the language
// alone, cut to the width.
func (v *helpView) language(c *paneCtx) []string {
	lines := v.languageLines(c, "Display filter language", v.width-2)
	lines = append(lines, "", c.st.dim.Render("? hides this · enter keeps the filter · esc cancels"))
	for i := range lines {
		lines[i] = truncate(lines[i], v.width)
	}
	return lines
}

func sortNames() []string {
	out := make([]string, model.NumSortKeys)
	for k := model.SortKey(0); k < model.NumSortKeys; k++ {
		out[k] = k.String()
	}
	return out
}
