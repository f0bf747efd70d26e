package kevents

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Where tracefs lives: its own mount (Linux >= 4.1), or the tracing
// directory of debugfs on older systems.
const (
	tracefsMount = "/sys/kernel/tracing"
	debugfsMount = "/sys/kernel/debug"
)

// findTracefs returns the root of a mounted tracefs, mounting it at
// /sys/kernel/tracing (as perf does) when none is. mounted says whether
// this call mounted it.
func findTracefs() (root string, mounted bool, err error) {
	if root, ok := mountedTracefs("/proc/self/mountinfo"); ok {
		return root, false, nil
	}
	if _, err := os.Stat(filepath.Join(tracefsMount, "instances")); err == nil {
		return tracefsMount, false, nil
	}
	merr := unix.Mount("nodev", tracefsMount, "tracefs", 0, "")
	if merr == nil {
		return tracefsMount, true, nil
	}
	if _, err := os.Stat(filepath.Join(debugfsMount, "tracing", "instances")); err == nil {
		return filepath.Join(debugfsMount, "tracing"), false, nil
	}
	switch {
	case errors.Is(merr, unix.EPERM):
		return "", false, &Error{Cause: CausePermission, Err: merr,
			Detail: "tracefs not mounted and cannot be mounted (needs CAP_SYS_ADMIN)"}
	case errors.Is(merr, unix.ENODEV):
		return "", false, &Error{Cause: CauseNoTracefs, Err: merr,
			Detail: "this kernel has no tracefs (CONFIG_TRACING off)"}
	case errors.Is(merr, unix.ENOENT):
		return "", false, &Error{Cause: CauseNoTracefs, Err: merr,
			Detail: "tracefs not mounted and " + tracefsMount + " does not exist (a container?)"}
	}
	return "", false, &Error{Cause: CauseNoTracefs, Err: merr,
		Detail: "tracefs not mounted and mounting it failed: " + merr.Error()}
}

// mountedTracefs finds a tracefs mount point in a mountinfo file, or the
// tracing directory of a debugfs mount.
func mountedTracefs(mountinfo string) (string, bool) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", false
	}
	defer f.Close()
	debug := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, fs := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(fs) < 1 {
			continue
		}
		mp := unescapeMount(fields[4])
		switch fs[0] {
		case "tracefs":
			// Mounted but unreadable (not root) still counts: creating the
			// instance then says what is missing.
			if _, err := os.Stat(filepath.Join(mp, "instances")); !errors.Is(err, os.ErrNotExist) {
				return mp, true
			}
		case "debugfs":
			if _, err := os.Stat(filepath.Join(mp, "tracing", "instances")); err == nil {
				debug = filepath.Join(mp, "tracing")
			}
		}
	}
	return debug, debug != ""
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// selfStart returns a process's start time in clock ticks since boot
// (field 22 of /proc/PID/stat); ok is false when the process is gone.
func selfStart(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields after it start after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(f[19], 10, 64)
	return n, err == nil
}

// instanceName is PREFIX-PID-START-SEQ: the owner's pid and start time tell
// a later run whether the owner is gone (a pid reused by another process
// has another start time), and SEQ keeps two sources of one process apart.
func instanceName(prefix string, pid int, start uint64, seq int) string {
	return fmt.Sprintf("%s-%d-%d-%d", prefix, pid, start, seq)
}

// parseInstanceName splits a name made by instanceName; ok is false for
// names of other prefixes or shapes.
func parseInstanceName(prefix, name string) (pid int, start uint64, ok bool) {
	rest, found := strings.CutPrefix(name, prefix+"-")
	if !found {
		return 0, 0, false
	}
	parts := strings.Split(rest, "-")
	if len(parts) != 3 {
		return 0, 0, false
	}
	p, err1 := strconv.Atoi(parts[0])
	s, err2 := strconv.ParseUint(parts[1], 10, 64)
	_, err3 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || p <= 0 {
		return 0, 0, false
	}
	return p, s, true
}

// removeStale removes the instances of prefix whose owner has exited (a
// process killed before it could clean up). It returns the names removed.
func removeStale(instances, prefix string) []string {
	ents, err := os.ReadDir(instances)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		pid, start, ok := parseInstanceName(prefix, e.Name())
		if !ok {
			continue
		}
		if now, alive := selfStart(pid); alive && now == start {
			continue
		}
		if unix.Rmdir(filepath.Join(instances, e.Name())) == nil {
			removed = append(removed, e.Name())
		}
	}
	return removed
}

// writeFile writes a tracefs control file.
func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, path, err)
	}
	return nil
}
