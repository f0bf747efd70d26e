package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/pipeline"
	"github.com/connscope/connscope/tui"
)

// runUI runs the pipeline and the UI over it. It ends when the person
// quits or ctx ends (a signal); then the terminal is restored, -w is
// flushed and closed, and an error met meanwhile (a -w write error, a
// file cut short) is returned for main to print below the restored
// screen.
func runUI(ctx context.Context, o options, stdin io.Reader, stdout, stderr io.Writer) error {
	// uctx ends with the UI: a read of a stalled stdin must end with it.
	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg := pipelineConfig(o, stdin)
	if cfg.Stdin != nil {
		cfg.Stdin = newCtxReader(uctx, cfg.Stdin)
	}
	cfg.Interactive = true
	cfg.StartAtEnd = startAtEnd(o)
	name := ""
	p, err := pipeline.Open(cfg)
	if errors.Is(err, capture.ErrPrivilege) && cfg.Live != nil && len(o.ifaces) == 0 && o.write == "" {
		// No privilege and no interface asked for: show the demo rather
		// than nothing, and say why.
		fmt.Fprintf(stderr, "connscope: %s; showing the embedded demo capture (-r FILE replays a capture)\n", tui.Sanitize(err.Error()))
		name = "demo: " + err.Error()
		cfg.Live, cfg.Demo = nil, demoCapture
		cfg.StartAtEnd = o.replay == "end"
		p, err = pipeline.Open(cfg)
	}
	if err != nil {
		return err
	}
	if name == "" {
		name = p.Name()
	}
	if err := runPipelineUI(uctx, cancel, p, name); err != nil {
		return err
	}
	if se, ok := interruption(ctx); ok {
		return se
	}
	return nil
}

// runPipelineUI runs the pipeline and the UI over it: the pipeline owns
// the table and publishes snapshots, and the UI pulls the latest one on
// its own tick. Both end when the person quits or ctx ends; cancel ends
// ctx.
func runPipelineUI(ctx context.Context, cancel context.CancelFunc, p *pipeline.Pipeline, name string) error {
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	uiErr := tui.Run(ctx, tui.Options{
		Feed:   p,
		Source: name,
		Live:   p.IsLive(),
		Filter: p.Selection(),
		Save:   saver(p),
	})
	cancel()
	err := <-runErr
	if uiErr != nil {
		return uiErr
	}
	// A source that ended in error (a truncated file) was shown up to the
	// cut, and a -w file that could not be written was in the status bar:
	// say why once the screen is restored.
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// saver returns the UI's `w` action: the pipeline reads its input again
// and writes every packet of the flow to a pcapng file in the current
// directory, never over an existing file.
func saver(p *pipeline.Pipeline) func(context.Context, tui.SaveRequest) (string, error) {
	return func(_ context.Context, req tui.SaveRequest) (string, error) {
		return p.SaveFlow(&req.Flow, fmt.Sprintf("connscope-flow-%d.pcapng", req.Flow.ID))
	}
}
