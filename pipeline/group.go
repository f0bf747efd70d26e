package pipeline

import (
	"context"
	"errors"
	"sync"

	"github.com/connscope/connscope/model"
)

// group runs the pipeline's goroutines under one context and joins them
// all: Wait returns only when every goroutine started with Go has
// returned. The first fatal error cancels the others.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

func newGroup(parent context.Context) *group {
	ctx, cancel := context.WithCancel(parent)
	return &group{ctx: ctx, cancel: cancel}
}

// Go runs fn on its own goroutine. A fatal goroutine's error (other than
// the context's own end) ends the group; a non-fatal one's is reported
// to problems (when not nil) and the others carry on.
func (g *group) Go(stage string, fatal bool, probs *problems, fn func(ctx context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := fn(g.ctx)
		if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return
		}
		if !fatal {
			if probs != nil {
				probs.add(stage, err.Error())
			}
			return
		}
		g.mu.Lock()
		if g.err == nil {
			g.err = err
		}
		g.mu.Unlock()
		g.cancel()
	}()
}

// Stop cancels every goroutine.
func (g *group) Stop() { g.cancel() }

// Wait joins every goroutine and returns the first fatal error.
func (g *group) Wait() error {
	g.wg.Wait()
	g.cancel()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// maxProblems bounds the problems kept: the oldest are dropped first, and
// a problem repeated is kept once.
const maxProblems = 16

// problems collects what went wrong in the stages without stopping them,
// for the status bar, the report's stderr and the JSON summary. Safe for
// concurrent use.
type problems struct {
	mu   sync.Mutex
	list []model.Problem
}

func (p *problems) add(stage, text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, q := range p.list {
		if q.Stage == stage && q.Text == text {
			return
		}
	}
	if len(p.list) == maxProblems {
		copy(p.list, p.list[1:])
		p.list = p.list[:maxProblems-1]
	}
	p.list = append(p.list, model.Problem{Stage: stage, Text: text})
}

// snapshot returns a copy, oldest first; nil when there is none.
func (p *problems) snapshot() []model.Problem {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.list) == 0 {
		return nil
	}
	return append([]model.Problem(nil), p.list...)
}
