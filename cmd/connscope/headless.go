package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/model"
)

// analysis is the outcome of reading a whole source into a table.
type analysis struct {
	snap    model.Snapshot
	kernel  *model.KernelIndex // owners from -w packet comments, nil without
	evicted []model.Flow       // flows evicted before the end, in eviction order
	readErr error              // a read error after which the source ended (e.g. truncation)
}

// analyzeFile reads every packet of path through the full analysis. A read
// error that ends the file early (truncation) is returned in readErr with
// everything read before it; an error opening the file is returned as err.
func analyzeFile(ctx context.Context, path string, stdin io.Reader, cfg model.Config) (*analysis, error) {
	return analyzeFiltered(ctx, path, stdin, cfg, "")
}

// analyzeFiltered is analyzeFile with a capture filter (-f) run on every
// packet before decoding.
func analyzeFiltered(ctx context.Context, path string, stdin io.Reader, cfg model.Config, capFilter string) (*analysis, error) {
	f, err := openCapture(path, stdin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if capFilter != "" {
		fn, err := fileFilter(capFilter)
		if err != nil {
			return nil, err
		}
		f.SetFilter(fn)
	}
	a := &analysis{}
	cfg.OnRemove = func(fl model.Flow, evicted bool) {
		if evicted {
			a.evicted = append(a.evicted, fl)
		}
	}
	tbl := model.NewTable(cfg)
	owners := newCommentOwners()
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
		owners.observe(&seg, f.Comment())
		last = seg.TS
	}
	if v := owners.view(); v != nil {
		a.kernel = model.NewKernelIndex(v)
	}
	a.snap = tbl.Snapshot(last)
	a.snap.Source = f.Stats()
	model.DiagnoseSnapshot(&a.snap, model.DiagOptions{})
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
		return liveReport(ctx, o, stdout)
	}
	cfg := model.Config{MaxFlows: o.maxFlows, Retention: int64(o.retention)}
	var a *analysis
	var err error
	if o.demo {
		a, err = analyzeFiltered(ctx, "-", bytes.NewReader(demoCapture), cfg, o.capFilter)
	} else {
		a, err = analyzeFiltered(ctx, o.read, stdin, cfg, o.capFilter)
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
	if err := printResult(o, stdout, source, &a.snap, a.evicted, a.kernel, a.readErr); err != nil {
		return err
	}
	if a.readErr != nil && !errors.Is(a.readErr, context.Canceled) {
		return a.readErr
	}
	return nil
}

// printResult writes the --json lines or the --report table of a finished
// analysis. kx, when not nil, joins kernel sockets and owners to flows and
// adds one line per process.
func printResult(o options, stdout io.Writer, source string, snap *model.Snapshot, evicted []model.Flow, kx *model.KernelIndex, readErr error) error {
	sum := makeSummary(source, snap, readErr)
	keep := focus(o, kx)
	if !o.json {
		view := *snap
		if o.pid != 0 || o.proc != "" { // copy only what --pid/--proc keep
			view.Flows = nil
			for i := range snap.Flows {
				if keep(&snap.Flows[i]) {
					view.Flows = append(view.Flows, snap.Flows[i])
				}
			}
		}
		if err := writeReport(stdout, &view, sum, kx); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	}
	jw := newJSONWriter(stdout)
	write := func(f *model.Flow, wasEvicted bool) error {
		if !keep(f) {
			return nil
		}
		j := flowJSON(f, wasEvicted)
		addKernel(&j, f, kx)
		return jw.line(j)
	}
	for i := range evicted {
		if err := write(&evicted[i], true); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	for i := range snap.Flows {
		if err := write(&snap.Flows[i], false); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if kx != nil {
		for i := range kx.View.Processes {
			p := &kx.View.Processes[i]
			if (o.pid != 0 && int(p.PID) != o.pid) || (o.proc != "" && !strings.Contains(p.Command, o.proc)) {
				continue
			}
			if err := jw.line(processJSON(kx.View, p)); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
	}
	if err := jw.line(sum); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := jw.flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// focus returns the --pid/--proc selection (everything without them).
func focus(o options, kx *model.KernelIndex) func(*model.Flow) bool {
	if o.pid == 0 && o.proc == "" {
		return func(*model.Flow) bool { return true }
	}
	return func(f *model.Flow) bool {
		s, _, ok := kx.Lookup(f)
		if !ok {
			return false
		}
		p := kx.Process(s)
		if p == nil {
			return false
		}
		return (o.pid == 0 || int(p.PID) == o.pid) && (o.proc == "" || strings.Contains(p.Command, o.proc))
	}
}
