// Package tui is connscope's interactive inspector: a Bubble Tea program
// that shows the connection table, one flow's drill-down (its resets and
// findings above tabs for the ladder diagram, events, states, counters and
// kernel view), the processes pane, the findings summary (causes by
// severity, each one a filter away from its flows), the help overlay and
// replay controls.
//
// # Contract
//
// tui reads model snapshots only. It never imports capture or procinfo:
// data arrives through a Feed (pipeline.Pipeline implements it) that the
// UI polls on its own tick, one message per tick whatever the packet rate,
// so a slow terminal can never push back on capture; once a second of
// ticks brought nothing new it polls once a second, and a frame nothing
// changed is not drawn again. Update does no I/O; the only blocking work
// (copying one flow's packet log, proposing a file name, writing a pcapng
// file, listing the interfaces not captured) runs in tea.Cmds whose
// results are addressed by flow ID and dropped when stale, and so does
// building the rows of a large table, whose result carries the filter and
// sort generation it was built for.
//
// Rows are rebuilt (filter, then sort) once per new snapshot, never per
// frame, and only the visible rows are formatted, with the words and
// units of model/text.go. Every string that came from packets, files or
// /proc passes through model.Sanitize before it reaches the terminal.
//
// # Structure
//
// The root Model (tui.go) owns the data: feed ticks, row builds, the
// filter and sort in force, packet logs and saves. It routes input
// (input.go): the save dialogue and then the filter line take every key
// while open, then the help overlay, then the global keys (quit, help,
// replay controls, save), then the focused pane only. Each pane is a small
// model of its own with setSize, update and view methods: the table, the
// drill-down, the processes, the findings summary, the help overlay, the
// filter line, the save dialogue and the status bar. The root lends a pane its state for one call (paneCtx)
// and carries out the intent the pane returns. The drill-down routes in
// turn between its tabs, one file and one small model each (detail_*.go).
package tui
