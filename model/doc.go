// Package model is connscope's pure core: the flow table, the TCP analysis
// (Wireshark-compatible segment classification), the per-endpoint state
// machines inferred from the wire, events, reset attribution, diagnosis,
// display filtering and sorting, and immutable snapshots.
//
// # Contract
//
// model imports the standard library only. It does no I/O, starts no
// goroutine except the Tracker's own loop, and never reads the clock: every
// time it uses comes from a Segment (capture time) or is passed in by the
// caller. The same sequence of segments therefore always yields the same
// snapshot.
//
// Imports point one way: cmd -> {tui, capture, procinfo} -> model. Nothing
// in model imports another connscope package, and tui never imports capture
// or procinfo; TestImportRule enforces this with `go list -deps`.
//
// # Order of calls
//
// A source (capture) produces Segments in capture order. Table.Apply
// consumes them one at a time; Table.Snapshot copies the current state into
// an immutable Snapshot that other goroutines may read freely. Memory is
// bounded: Config.MaxFlows caps the tracked flows (oldest idle first is
// evicted, and counted), and every per-flow history (transitions, events,
// resets) is a fixed-size ring.
package model
