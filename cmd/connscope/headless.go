package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
)

// runHeadless is --report, --json and watch mode (--metrics): the
// pipeline reads the whole input (a file to its end; a live capture until
// --duration, --count or a signal) and the end is printed, its rows as the
// pipeline streams them from its table. --json streams the flows the table
// drops before the end (--max-flows, --retention) as they go, so they cost
// no memory; a live --json that runs until stopped also prints each
// finding as it is raised, a line at a time (watch.go). A signal ends the
// reading early: what was read is printed, marked as interrupted, and the
// signal's exit status returned. With -w - the capture goes to stdout and
// the report or JSON to stderr.
func runHeadless(ctx context.Context, o options, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg := pipelineConfig(o, stdin)
	if cfg.Stdin != nil {
		cfg.Stdin = newCtxReader(ctx, cfg.Stdin)
	}
	out := stdout
	if o.write == "-" {
		out = stderr
	}
	var jw *jsonWriter
	var werr error
	var onFinding func(pipeline.FindingEvent, string)
	if o.json {
		jw = newJSONWriter(out)
		// A run that goes on until stopped hands each line on at once.
		jw.stream = cfg.Live != nil && (longRunning(&o) || o.metrics != "")
		cfg.OnRemove = func(e *model.FlowEntry, evicted bool) {
			if werr == nil {
				werr = jw.row(e, evicted, !evicted)
			}
		}
		if jw.stream {
			onFinding = func(ev pipeline.FindingEvent, evidence string) {
				if werr == nil {
					werr = jw.line(findingEventJSON(ev, evidence))
				}
			}
		}
	}
	// The rows of the end are printed as the pipeline streams them from
	// the table, which is never copied.
	var rw *reportWriter
	switch {
	case o.json:
		cfg.EndRows = func(e *model.FlowEntry) error { return jw.row(e, false, false) }
	case o.report:
		rw = newReportWriter(out)
		cfg.EndRows = rw.row
	}
	w, err := startWatch(&o, &cfg, onFinding, stderr)
	if err != nil {
		return err
	}
	p, err := pipeline.Open(cfg)
	if err != nil {
		w.stop(nil)
		return err
	}
	w.serve(p)
	runCtx := ctx
	if o.duration > 0 && cfg.Live != nil {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	runErr := p.Run(runCtx)
	snap := p.Latest()
	w.stop(snap)
	source := p.Name()
	if cfg.Live == nil && cfg.Demo == nil && o.read != "-" {
		source = o.read
	}
	se, interrupted := interruption(ctx)
	if interrupted && cfg.Live != nil && longRunning(&o) && o.watchMode() {
		// Watch mode runs as a service with no end of its own: a stop
		// signal is how it ends, a clean shutdown (exit 0) and not an
		// interruption, as a service manager expects. A live --json or
		// --report that a user stops is an interruption (exit 128+N,
		// "interrupted" in the summary).
		interrupted, se = false, signalExit{}
		if errors.Is(runErr, context.Canceled) {
			runErr = nil
		}
	}
	readErr := runErr
	switch {
	case errors.Is(runErr, context.DeadlineExceeded) && o.duration > 0 && ctx.Err() == nil:
		readErr = nil // --duration ran out: the normal end
	case interrupted && errors.Is(runErr, context.Canceled):
		readErr = nil // the signal's end: reported as an interruption
	}
	// The problems go to stderr, but for the one that ended the run,
	// which main prints: one line for one error.
	for _, pr := range snap.Problems {
		if readErr != nil && pr.Text == readErr.Error() {
			continue
		}
		fmt.Fprintln(stderr, "connscope: "+model.Sanitize(pr.String()))
	}
	sum := makeSummary(source, snap, readErr)
	sum.Interrupted = interrupted
	err = p.EndErr()
	switch {
	case err != nil:
	case o.json:
		err = writeJSONEnd(jw, snap, sum)
	case o.report:
		err = rw.end(snap, sum)
	}
	if err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if readErr != nil {
		return readErr
	}
	if interrupted {
		return se
	}
	return nil
}

// writeJSONEnd prints what follows the rows: the processes, their
// findings and the summary line.
func writeJSONEnd(jw *jsonWriter, snap *model.Snapshot, sum summary) error {
	for i := range snap.Processes {
		if err := jw.line(processJSON(snap.Kernel.View, &snap.Processes[i])); err != nil {
			return err
		}
	}
	for i := range snap.ProcessFindings {
		if err := jw.line(procFindingJSON(&snap.ProcessFindings[i])); err != nil {
			return err
		}
	}
	if err := jw.line(sum); err != nil {
		return err
	}
	return jw.flush()
}
