package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// stopSignals are the signals that end a run cleanly in every mode: the
// UI restores the terminal, a -w file is flushed whole, a headless run
// prints what it has read. Main is their only handler (the UI's Bubble Tea
// program installs none), so no two handlers race for one signal.
var stopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// signalExit is how a run that a signal ended finishes: exit status 128
// plus the signal's number, as shells report a process a signal ended and
// as tcpdump-style tools do: 129 for SIGHUP, 130 for SIGINT, 143 for
// SIGTERM.
type signalExit struct{ sig syscall.Signal }

func (e signalExit) Error() string { return "interrupted by " + signalName(e.sig) }

// code is the exit status.
func (e signalExit) code() int { return 128 + int(e.sig) }

// signalName names the signals connscope stops on as kill -l does.
func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// catchSignals returns a context that the first stop signal cancels, with
// a signalExit as its cause (see interruption), and a function that stops
// catching. A second stop signal before that ends the process at once with
// the second signal's status: a run that does not stop (a report still
// printing millions of rows) can always be ended.
func catchSignals(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, stopSignals...)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			cancel(signalExit{sig: s.(syscall.Signal)})
		case <-done:
			return
		}
		select {
		case s := <-ch:
			os.Exit(signalExit{sig: s.(syscall.Signal)}.code())
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// interruption returns the signal that ended ctx, if a signal did.
func interruption(ctx context.Context) (signalExit, bool) {
	var se signalExit
	if ctx.Err() == nil {
		return se, false
	}
	ok := errors.As(context.Cause(ctx), &se)
	return se, ok
}

// ctxReader reads r on a goroutine of its own, so that a Read blocked on
// a pipe whose writer has stalled (-r - fed by a program that sends
// nothing) returns ctx's error as soon as ctx ends: a signal, or the UI's
// end, stops a run reading stdin as quickly as any other. The goroutine
// stays blocked in the abandoned read until the process exits.
type ctxReader struct {
	ctx  context.Context
	req  chan int
	res  chan readResult
	buf  []byte
	busy bool // a read was requested and not collected
	err  error
}

type readResult struct {
	n   int
	err error
}

// ctxReadMax caps one read of the goroutine.
const ctxReadMax = 256 << 10

func newCtxReader(ctx context.Context, r io.Reader) *ctxReader {
	c := &ctxReader{ctx: ctx, req: make(chan int), res: make(chan readResult, 1)}
	go func() {
		for n := range c.req {
			if len(c.buf) < n {
				c.buf = make([]byte, n)
			}
			k, err := r.Read(c.buf[:n])
			c.res <- readResult{k, err}
		}
	}()
	return c
}

// Read reads what the goroutine read into p, or returns ctx's error once
// ctx has ended.
func (c *ctxReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return 0, err
	}
	if !c.busy {
		c.busy = true
		c.req <- min(len(p), ctxReadMax)
	}
	select {
	case r := <-c.res:
		c.busy = false
		n := copy(p, c.buf[:r.n])
		if r.err != nil {
			c.err = r.err
			close(c.req)
		}
		return n, r.err
	case <-c.ctx.Done():
		c.err = c.ctx.Err()
		return 0, c.err
	}
}
