// Package model is connscope's pure core: the flow table, the TCP analysis
// (Wireshark-compatible segment classification), the per-endpoint state
// machines inferred from the wire, events, reset attribution, diagnosis,
// display filtering and sorting, and immutable snapshots.
//
// # Contract
//
// model is pure. It imports the standard library only, and none of the
// packages that reach the system (os, net, syscall, unsafe, io/fs). It does
// no I/O, starts no goroutine and never reads the clock: every time it uses
// comes from a Segment (capture time) or is passed in by the caller. The
// same sequence of segments therefore always yields the same snapshot.
// Running a Table on a goroutine of its own, pacing replays and publishing
// snapshots on a timer is the pipeline package's job; model gives it the
// pure arithmetic (Pacer) and vocabulary (ReplayOp, ReplayStatus).
//
// Imports point one way: cmd -> {tui, pipeline} -> {capture, procinfo,
// kevents} -> model. model imports no other connscope package, and tui
// reaches only model.
// TestImportRule enforces the imports with `go list`, and
// TestModelReadsNoClock scans model's source for goroutines and clock reads.
//
// # Order of calls
//
// A source (capture) produces Segments in capture order. Table.Apply
// consumes them one at a time; Table.Snapshot copies the current state into
// an immutable Snapshot that other goroutines may read freely. Memory is
// bounded: Config.MaxFlows caps the tracked flows (oldest idle first is
// evicted, and counted), and every per-flow history (transitions, events,
// resets) is a fixed-size ring.
//
// # Counters
//
// Each direction of a flow keeps Counters. CounterFields describes them,
// one row per field (its --json key, a short title, the analysis flag
// counted into it), so that counting, Totals and every table or JSON
// object of counters follow one list.
package model
