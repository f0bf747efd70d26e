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
// (a file to its end; a live capture until --duration, --count or Ctrl-C)
// and the final snapshot is printed. --json streams the flows the table
// drops before the end (--max-flows, --retention) as they go, so they
// cost no memory.
func runHeadless(ctx context.Context, o options, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg := pipelineConfig(o, stdin)
	var jw *jsonWriter
	var werr error
	if o.json {
		jw = newJSONWriter(stdout)
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
	if o.duration > 0 && cfg.Live != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	runErr := p.Run(ctx)
	snap := p.Latest()
	source := p.Name()
	if cfg.Live == nil && cfg.Demo == nil && o.read != "-" {
		source = o.read
	}
	readErr := runErr
	if errors.Is(runErr, context.DeadlineExceeded) && o.duration > 0 {
		readErr = nil // --duration ran out: the normal end
	}
	for _, pr := range snap.Problems {
		fmt.Fprintln(stderr, "connscope: "+tui.Sanitize(pr.String()))
	}
	sum := makeSummary(source, snap, readErr)
	if o.json {
		err = writeJSON(jw, p, snap, sum)
	} else {
		err = writeReport(stdout, p, snap, sum)
	}
	if err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if readErr != nil && !errors.Is(readErr, context.Canceled) {
		return readErr
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
