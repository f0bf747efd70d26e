package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
	"github.com/connscope/connscope/tui"
)

// runHeadless is --report and --json: the pipeline reads the whole input
// (a file to its end; a live capture until --duration, --count or a
// signal) and the final snapshot is printed. --json streams the flows the
// table drops before the end (--max-flows, --retention) as they go, so they
// cost no memory. A signal ends the reading early: what was read is
// printed, marked as interrupted, and the signal's exit status returned.
// With -w - the capture goes to stdout and the report or JSON to stderr.
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
	if o.json {
		jw = newJSONWriter(out)
		cfg.OnRemove = func(e *model.FlowEntry, evicted bool) {
			if werr == nil {
				werr = jw.line(rowJSON(e, evicted, !evicted))
			}
		}
	}
	p, err := pipeline.Open(cfg)
	if err != nil {
		return err
	}
	runCtx := ctx
	if o.duration > 0 && cfg.Live != nil {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	runErr := p.Run(runCtx)
	snap := p.Latest()
	source := p.Name()
	if cfg.Live == nil && cfg.Demo == nil && o.read != "-" {
		source = o.read
	}
	se, interrupted := interruption(ctx)
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
		fmt.Fprintln(stderr, "connscope: "+tui.Sanitize(pr.String()))
	}
	sum := makeSummary(source, snap, readErr)
	sum.Interrupted = interrupted
	if o.json {
		err = writeJSON(jw, p, snap, sum)
	} else {
		err = writeReport(out, p, snap, sum)
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

// writeJSON prints the kept rows of the final snapshot, the processes and
// the summary line.
func writeJSON(jw *jsonWriter, p *pipeline.Pipeline, snap *model.Snapshot, sum summary) error {
	for i := range snap.Rows {
		e := &snap.Rows[i]
		if !p.Keep(e, snap.Now) {
			continue
		}
		if err := jw.line(rowJSON(e, false, false)); err != nil {
			return err
		}
	}
	for i := range snap.Processes {
		if err := jw.line(processJSON(snap.Kernel.View, &snap.Processes[i])); err != nil {
			return err
		}
	}
	if err := jw.line(sum); err != nil {
		return err
	}
	return jw.flush()
}
