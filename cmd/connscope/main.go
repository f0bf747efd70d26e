// Command connscope shows every TCP connection on a Linux box, live or from
// a capture file, and explains what went wrong with each one.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Set by the release build (-ldflags "-X main.version=... -X main.commit=...").
var (
	version = "dev"
	commit  = "none"
)

// errUsage marks errors caused by bad flags: main prints them with a hint
// and exits 2, like other Unix tools.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err == nil {
		return
	}
	var ee exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "connscope: "+ee.msg)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "connscope: "+err.Error())
	if errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "run 'connscope --help' for usage")
		os.Exit(2)
	}
	os.Exit(1)
}

// exitError carries an exit status and an optional message (empty when the
// message was already printed).
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }

// run is main without the exit, so tests can drive the whole command.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	opts, err := parseArgs(args)
	if err != nil {
		return err
	}
	switch {
	case opts.help:
		printHelp(stdout)
		return nil
	case opts.version:
		fmt.Fprintf(stdout, "connscope %s (commit %s)\n", version, commit)
		return nil
	case opts.man:
		return writeMan(stdout)
	case opts.completion != "":
		return writeCompletion(stdout, opts.completion)
	}
	if opts.headless() {
		return runHeadless(ctx, opts, stdin, stdout, stderr)
	}
	return runUI(ctx, opts, stdin, stdout, stderr)
}
