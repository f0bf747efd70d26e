// Package tui is connscope's interactive inspector: a Bubble Tea program
// that shows the connection table, one flow's drill-down (ladder diagram,
// states, events, resets, findings, kernel view), the processes pane, the
// findings summary (causes by severity, each one a filter away from its
// flows), the help overlay and replay controls.
//
// # Contract
//
// tui reads model snapshots only. It never imports capture or procinfo:
// data arrives through a Feed (model.Tracker implements it) that the UI
// polls on its own tick, one message per tick whatever the packet rate, so
// a slow terminal can never push back on capture. Update does no I/O; the
// only blocking work (copying one flow's packet log, writing a pcapng file)
// runs in tea.Cmds whose results are addressed by flow ID and dropped when
// stale.
//
// Rows are rebuilt (filter, then sort) once per new snapshot, never per
// frame, and only the visible rows are formatted. Every string that came
// from packets, files or /proc passes through Sanitize before it reaches
// the terminal.
package tui
