package tui

import (
	"github.com/charmbracelet/lipgloss"
	"github.com/connscope/connscope/model"
	"github.com/muesli/termenv"
)

// styles is the theme, built once from the renderer: adaptive colours
// pick a light or dark variant from the terminal's background, and the
// renderer's colour profile (Ascii under NO_COLOR or a monochrome
// terminal) strips what the terminal cannot show. Meaning never rests on
// colour alone: the cursor row carries a '>' and evidence a '*'.
type styles struct {
	mono bool // Ascii profile: no colours, no attributes

	header   lipgloss.Style // column titles
	selected lipgloss.Style // the cursor row
	dim      lipgloss.Style
	title    lipgloss.Style // pane titles
	status   lipgloss.Style // the status bar
	key      lipgloss.Style // key names in help
	err      lipgloss.Style
	warn     lipgloss.Style
	good     lipgloss.Style
	info     lipgloss.Style
	evidence lipgloss.Style // a ladder line a finding cites
	tab      lipgloss.Style
	tabOn    lipgloss.Style
}

func newStyles(r *lipgloss.Renderer) styles {
	fg := func(light, dark string) lipgloss.Style {
		return r.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: light, Dark: dark})
	}
	return styles{
		mono:     r.ColorProfile() == termenv.Ascii,
		header:   r.NewStyle().Bold(true).Foreground(lipgloss.AdaptiveColor{Light: "#1a1a1a", Dark: "#e4e4e4"}),
		selected: r.NewStyle().Reverse(true),
		dim:      fg("#767676", "#8a8a8a"),
		title:    r.NewStyle().Bold(true).Foreground(lipgloss.AdaptiveColor{Light: "#005f87", Dark: "#5fafff"}),
		status: r.NewStyle().
			Foreground(lipgloss.AdaptiveColor{Light: "#1a1a1a", Dark: "#e4e4e4"}).
			Background(lipgloss.AdaptiveColor{Light: "#d0d0d0", Dark: "#303030"}),
		key:      r.NewStyle().Bold(true).Foreground(lipgloss.AdaptiveColor{Light: "#005f87", Dark: "#5fafff"}),
		err:      fg("#af0000", "#ff5f5f"),
		warn:     fg("#875f00", "#ffaf00"),
		good:     fg("#005f00", "#87d787"),
		info:     fg("#005f87", "#87afd7"),
		evidence: r.NewStyle().Bold(true).Foreground(lipgloss.AdaptiveColor{Light: "#870087", Dark: "#ff87ff"}),
		tab:      fg("#767676", "#8a8a8a"),
		tabOn:    r.NewStyle().Bold(true).Underline(true),
	}
}

// stateStyle colours a TCP state by how healthy it usually is.
func (s *styles) stateStyle(st model.State) lipgloss.Style {
	switch st {
	case model.StateEstablished, model.StateListen:
		return s.good
	case model.StateCloseWait, model.StateSynSent, model.StateSynReceived:
		return s.warn
	case model.StateClosed:
		return s.dim
	}
	return s.info
}

// severityStyle colours a finding by severity.
func (s *styles) severityStyle(sev model.Severity) lipgloss.Style {
	switch sev {
	case model.SeverityCritical:
		return s.err
	case model.SeverityWarning:
		return s.warn
	}
	return s.info
}

// selectedLine renders the cursor row. Without colour (NO_COLOR, a
// monochrome terminal) the renderer drops every attribute, so the row is
// wrapped in reverse video by hand: reverse video is not colour, and the
// selection must stay visible.
func (s *styles) selectedLine(line string) string {
	if s.mono {
		return "\x1b[7m" + line + "\x1b[27m"
	}
	return s.selected.Render(line)
}
