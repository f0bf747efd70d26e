// Package pipeline owns the path from a packet source to snapshots: it
// opens the input (a file, stdin, the embedded demo, or a live capture with
// its -w file and kernel poller), runs the flow table, joins the kernel's
// sockets and owners to flows, diagnoses every row, captures the flows the
// table drops, and selects what the display filter, --pid and --proc keep.
// The UI, --report and --json are only consumers of its snapshots, so every
// view gives the same answer for the same input.
//
// # Order of calls
//
//	p, err := pipeline.Open(cfg) // one-line errors naming the file, interface or filter
//	err = p.Run(ctx)             // returns when the source ends (headless) or ctx ends
//	snap := p.Latest()           // the final snapshot (headless), or the newest (interactive)
//
// An interactive pipeline (Config.Interactive, the UI) publishes a snapshot
// a few times a second while Run goes on; the UI reads it through Latest,
// Replay, Control and Packets (the tui.Feed interface) from its own
// goroutine, and none of them blocks for more than one batch. A headless
// pipeline reads the source as fast as it can on Run's goroutine and makes
// one snapshot at the end.
//
// # Goroutines and overload
//
// Run starts its goroutines under one supervisor and joins every one of
// them before it returns: the capture reader (interactive), the tracker
// that owns the table (interactive), and the kernel poller (live). A live
// capture never blocks on a slow tracker: a batch that does not fit is
// dropped and counted. Kernel views and owners rebuilt from a file's packet
// comments are handed over in a latest-wins Mailbox, so a slow consumer
// never delays the poller. Errors that do not end the run (a poll that
// failed, a lost interface, a write error) are kept as the snapshot's
// Problems: the status bar, the report's stderr and the JSON summary show
// them.
//
// # Memory
//
// The flow table is bounded by Config.Table (MaxFlows, Retention). A flow it
// drops goes to Config.OnRemove, diagnosed, and is not kept: a headless
// --json run streams it. Kernel-only rows are bounded by the kernel view,
// the per-flow packet log of the drill-down by its own caps.
package pipeline
