// Command connscope shows every TCP connection on a Linux box, live or from
// a capture file, and explains what went wrong with each one.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/connscope/connscope/model"
)

// Set by the release build (-ldflags "-X main.version=... -X main.commit=...").
var (
	version = "dev"
	commit  = "none"
)

// versionString is what --version prints: the release build's -ldflags
// values, or else what the Go toolchain recorded, so that a binary from
// "go install ...@v1.2.3" or a build in a git checkout still says which
// code it is.
func versionString() string {
	v, c := version, commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if c == "none" && s.Key == "vcs.revision" && len(s.Value) >= 7 {
				c = s.Value[:7]
			}
		}
	}
	return fmt.Sprintf("connscope %s (commit %s)", v, c)
}

// errUsage marks errors caused by bad flags: main prints them on one line
// with a pointer to --help and exits 2, like other Unix tools.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := catchSignals(context.Background())
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitStatus(err, os.Stderr))
}

// exitStatus prints err on one line (sanitised: it may quote a file name,
// an interface name or a flag from the command line) and returns the exit
// status: 0 done, 1 an error, 2 bad usage, 128+N a run that signal N
// ended (129 SIGHUP, 130 SIGINT, 143 SIGTERM) with nothing else wrong. An
// error besides the interruption (a -w file that could not be written)
// wins over it: the output is incomplete. Each mode returns the
// signalExit itself when a signal cut its run short, so that watch mode,
// whose stop signal is its normal end, can exit 0.
func exitStatus(err error, stderr io.Writer) int {
	var ee exitError
	var se signalExit
	switch {
	case err == nil:
		return 0
	case errors.As(err, &se):
		return se.code()
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(stderr, "connscope: "+model.Sanitize(ee.msg))
		}
		return ee.code
	case errors.Is(err, errUsage):
		// One line, as tcpdump does: what is wrong, then where to look.
		msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
		fmt.Fprintf(stderr, "connscope: %s; see connscope --help\n", model.Sanitize(msg))
		return 2
	}
	fmt.Fprintln(stderr, "connscope: "+model.Sanitize(err.Error()))
	return 1
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
		fmt.Fprintln(stdout, versionString())
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
