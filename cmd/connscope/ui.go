package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/model"
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
	demo, short := "", ""
	if o.demo {
		demo, short = "an embedded capture of typical failures (--demo)", "--demo"
	}
	p, err := pipeline.Open(cfg)
	if errors.Is(err, capture.ErrPrivilege) && cfg.Live != nil && len(o.ifaces) == 0 && o.write == "" {
		// No privilege and no interface asked for: show the demo rather
		// than nothing, and say why, on screen as well as here.
		fmt.Fprintf(stderr, "connscope: %s; showing the embedded demo capture (-r FILE replays a capture)\n", model.Sanitize(err.Error()))
		demo, short = "no privilege for live capture (run as root or see connscope --man)", "no privilege"
		cfg.Live, cfg.Demo, cfg.SocketFilter = nil, demoCapture, nil
		p, err = pipeline.Open(cfg)
	}
	if err != nil {
		return err
	}
	opts := tui.Options{Source: p.Name(), Demo: demo, DemoShort: short}
	if p.IsLive() {
		_, opts.NetNSNames = netnsNames()
		opts.Interfaces = ifaceNotes(p)
	}
	if err := runPipelineUI(uctx, cancel, p, opts); err != nil {
		return err
	}
	if se, ok := interruption(ctx); ok {
		return se
	}
	return nil
}

// ifaceNotes reports the live interfaces not being captured, for the
// status bar: read at most once a second, since the UI asks every tick.
func ifaceNotes(p *pipeline.Pipeline) func() []tui.IfaceNote {
	var mu sync.Mutex
	var at time.Time
	var last []tui.IfaceNote
	return func() []tui.IfaceNote {
		mu.Lock()
		defer mu.Unlock()
		if now := time.Now(); now.Sub(at) >= time.Second {
			at, last = now, nil
			for _, i := range p.Interfaces() {
				if i.State != capture.IfaceCapturing {
					last = append(last, tui.IfaceNote{Name: i.Name, State: i.State.String()})
				}
			}
		}
		return last
	}
}

// runPipelineUI runs the pipeline and the UI over it: the pipeline owns
// the table and publishes snapshots, and the UI pulls the latest one on
// its own tick. Both end when the person quits or ctx ends; cancel ends
// ctx (and with it a read of stdin left blocked).
func runPipelineUI(ctx context.Context, cancel context.CancelFunc, p *pipeline.Pipeline, opts tui.Options) error {
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	opts.Feed, opts.Live, opts.Filter = p, p.IsLive(), p.Selection()
	opts.Save, opts.SaveName = saver(p), saveName
	uiErr := tui.Run(ctx, opts)
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
// and writes every packet of the flow to req.Path. An existing file is
// replaced only when the person said yes (req.Overwrite); the packets go
// to a temporary file beside it first, renamed over it once complete, so
// a failed save never leaves half a file.
func saver(p *pipeline.Pipeline) func(context.Context, tui.SaveRequest) (string, error) {
	return func(_ context.Context, req tui.SaveRequest) (string, error) {
		dst := req.Path
		if _, err := os.Lstat(dst); err == nil && !req.Overwrite {
			return "", fmt.Errorf("%s: %w", dst, fs.ErrExist)
		}
		tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".part"+strconv.Itoa(os.Getpid()))
		_ = os.Remove(tmp)
		if _, err := p.SaveFlow(&req.Flow, tmp); err != nil {
			_ = os.Remove(tmp)
			return "", err
		}
		if err := os.Rename(tmp, dst); err != nil {
			_ = os.Remove(tmp)
			return "", err
		}
		if abs, err := filepath.Abs(dst); err == nil {
			dst = abs
		}
		return dst, nil
	}
}

// saveName proposes a file name for a flow's packets in the current
// directory that does not exist yet: connscope-flow-N.pcapng, then
// connscope-flow-N-2.pcapng and so on.
func saveName(f *model.Flow) string {
	base := fmt.Sprintf("connscope-flow-%d", f.ID)
	name := base + ".pcapng"
	for i := 2; i < 1000; i++ {
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s-%d.pcapng", base, i)
	}
	return name
}
