package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/model"
)

// analysis is the outcome of reading a whole source into a table.
type analysis struct {
	snap    model.Snapshot
	removed []removedFlow // flows evicted before the end, in eviction order
	readErr error         // a read error after which the source ended (e.g. truncation)
}

type removedFlow struct {
	flow    model.Flow
	evicted bool
}

// analyzeFile reads every packet of path through the full analysis. A read
// error that ends the file early (truncation) is returned in readErr with
// everything read before it; an error opening the file is returned as err.
func analyzeFile(ctx context.Context, path string, stdin io.Reader, cfg model.Config) (*analysis, error) {
	f, err := openCapture(path, stdin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a := &analysis{}
	cfg.OnRemove = func(fl model.Flow, evicted bool) {
		if evicted {
			a.removed = append(a.removed, removedFlow{fl, evicted})
		}
	}
	tbl := model.NewTable(cfg)
	var seg model.Segment
	var last int64
	for n := 0; ; n++ {
		if n&0xffff == 0 && ctx.Err() != nil {
			a.readErr = ctx.Err()
			break
		}
		err := f.Next(&seg)
		if err == io.EOF {
			break
		}
		if err != nil {
			a.readErr = err
			break
		}
		tbl.Apply(&seg)
		last = seg.TS
	}
	a.snap = tbl.Snapshot(last)
	a.snap.Source = f.Stats()
	return a, nil
}

func openCapture(path string, stdin io.Reader) (*capture.File, error) {
	if path == "-" {
		return capture.NewReader("stdin", stdin)
	}
	return capture.Open(path)
}

func runHeadless(ctx context.Context, o options, stdin io.Reader, stdout, stderr io.Writer) error {
	if o.read == "" && !o.demo {
		return fmt.Errorf("%w: --report and --json need -r FILE (or --demo)", errUsage)
	}
	var a *analysis
	var err error
	if o.demo {
		a, err = analyzeFile(ctx, "-", bytes.NewReader(demoCapture), model.Config{MaxFlows: o.maxFlows})
	} else {
		a, err = analyzeFile(ctx, o.read, stdin, model.Config{MaxFlows: o.maxFlows})
	}
	if err != nil {
		return err
	}
	source := o.read
	switch source {
	case "":
		source = "demo"
	case "-":
		source = "stdin"
	}
	sum := makeSummary(source, &a.snap, a.readErr)
	if o.json {
		jw := newJSONWriter(stdout)
		for i := range a.removed {
			if err := jw.flow(&a.removed[i].flow, true); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
		for i := range a.snap.Flows {
			if err := jw.flow(&a.snap.Flows[i], false); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
		if err := jw.line(sum); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if err := jw.flush(); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	} else if err := writeReport(stdout, &a.snap, sum); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if a.readErr != nil && !errors.Is(a.readErr, context.Canceled) {
		return a.readErr
	}
	return nil
}
