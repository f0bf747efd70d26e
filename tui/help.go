package tui

import (
	"strings"

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

// helpLines builds the overlay: every key binding, grouped, then the
// filter language. Two columns when the terminal is wide enough.
func (m *Model) helpLines() []string {
	var keys []string
	for _, g := range m.keys.helpGroups() {
		keys = append(keys, m.st.title.Render(g.title))
		for _, b := range g.keys {
			h := b.Help()
			keys = append(keys, "  "+m.st.key.Render(fit(h.Key, 12, false))+" "+h.Desc)
		}
		keys = append(keys, "")
	}
	lang := []string{m.st.title.Render("Display filter (/)")}
	for _, l := range filterHelp {
		lang = append(lang, "  "+l)
	}
	names := sortNames()
	lang = append(lang, "", m.st.title.Render("Sort keys (s cycles)"),
		"  "+strings.Join(names[:8], " "), "  "+strings.Join(names[8:], " "),
		"", m.st.dim.Render("esc, ? or q closes this help; j/k scroll"))

	colW := 0
	for _, l := range keys {
		colW = max(colW, ansi.StringWidth(l))
	}
	// Two columns when the language reference keeps most of its width.
	if m.width-colW-3 >= 60 {
		out := make([]string, max(len(keys), len(lang)))
		for i := range out {
			var l, r string
			if i < len(keys) {
				l = keys[i]
			}
			if i < len(lang) {
				r = lang[i]
			}
			out[i] = fitStyled(l, colW) + "   " + truncate(r, m.width-colW-3)
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
