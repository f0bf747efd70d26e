package procinfo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/connscope/connscope/model"
)

// Parsers of /proc text. They take readers or bytes, not paths, so they
// are tested with inline text on any platform.

// netstatCounters are the TcpExt counters of /proc/net/netstat we use.
type netstatCounters struct {
	ListenOverflows uint64
	ListenDrops     uint64
	// The abort counters: RSTs the stack sent instead of a FIN, by cause.
	AbortOnClose   uint64 // close() with unread input
	AbortOnData    uint64 // SO_LINGER 0, or data after a close
	AbortOnTimeout uint64 // retransmissions or keep-alive probes ran out
	AbortOnMemory  uint64
	AbortOnLinger  uint64 // FIN-WAIT-2 linger timeout
}

// parseNetstat reads /proc/net/netstat (or /proc/PID/net/netstat): pairs
// of lines, a "Prefix: Name Name ..." header then "Prefix: value value ...".
// It returns the TcpExt listen and abort counters.
func parseNetstat(r io.Reader) (netstatCounters, error) {
	var c netstatCounters
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 8192), 1<<20)
	var header []string
	found := 0
	for line := 1; sc.Scan(); line++ {
		prefix, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			return c, fmt.Errorf("netstat line %d: no \"Prefix:\"", line)
		}
		fields := strings.Fields(rest)
		if header == nil {
			header = fields
			continue
		}
		names := header
		header = nil
		if prefix != "TcpExt" {
			continue
		}
		if len(fields) != len(names) {
			return c, fmt.Errorf("netstat line %d: %d TcpExt values for %d names", line, len(fields), len(names))
		}
		for i, name := range names {
			var dst *uint64
			switch name {
			case "ListenOverflows":
				dst = &c.ListenOverflows
				found++
			case "ListenDrops":
				dst = &c.ListenDrops
				found++
			case "TCPAbortOnClose":
				dst = &c.AbortOnClose
			case "TCPAbortOnData":
				dst = &c.AbortOnData
			case "TCPAbortOnTimeout":
				dst = &c.AbortOnTimeout
			case "TCPAbortOnMemory":
				dst = &c.AbortOnMemory
			case "TCPAbortOnLinger":
				dst = &c.AbortOnLinger
			default:
				continue
			}
			v, err := strconv.ParseUint(fields[i], 10, 64)
			if err != nil {
				return c, fmt.Errorf("netstat line %d: TcpExt %s: %w", line, name, err)
			}
			*dst = v
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("netstat: %w", err)
	}
	if found != 2 { // the abort counters are optional, the listen ones not
		return c, errors.New("netstat: no TcpExt ListenOverflows and ListenDrops")
	}
	return c, nil
}

// pfKthread is PF_KTHREAD in the flags of /proc/PID/stat.
const pfKthread = 0x00200000

// parseStat returns the start time (field 22, clock ticks since boot) of
// a /proc/PID/stat line, and whether the task is a kernel thread (flags,
// field 9). The command (field 2) is in parentheses and may itself hold
// spaces and parentheses, so fields are counted from the last ')'.
func parseStat(b []byte) (start uint64, kthread bool, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false, errors.New("stat: no ')' after the command")
	}
	// Field 3 (state) is the first after ')'.
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 20 {
		return 0, false, fmt.Errorf("stat: %d fields after the command, want at least 20", len(fields))
	}
	flags, err := strconv.ParseUint(string(fields[6]), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("stat: flags: %w", err)
	}
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("stat: starttime: %w", err)
	}
	return start, flags&pfKthread != 0, nil
}

// parseLimits returns the "Max open files" soft and hard limits of a
// /proc/PID/limits table (world-readable, unlike prlimit on another user's
// process); "unlimited" is model.FDUnlimited.
func parseLimits(r io.Reader) (soft, hard uint64, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Max open files")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			return 0, 0, fmt.Errorf("limits: %q: want soft and hard values", sc.Text())
		}
		if soft, err = parseLimit(f[0]); err != nil {
			return 0, 0, err
		}
		if hard, err = parseLimit(f[1]); err != nil {
			return 0, 0, err
		}
		return soft, hard, nil
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("limits: %w", err)
	}
	return 0, 0, errors.New("limits: no \"Max open files\" line")
}

func parseLimit(s string) (uint64, error) {
	if s == "unlimited" {
		return model.FDUnlimited, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("limits: open files %q: %w", s, err)
	}
	return v, nil
}

// parsePortRange reads net.ipv4.ip_local_port_range ("32768\t60999\n").
func parsePortRange(b []byte) (model.PortRange, error) {
	f := bytes.Fields(b)
	if len(f) != 2 {
		return model.PortRange{}, fmt.Errorf("ip_local_port_range %q: want two ports", b)
	}
	lo, err1 := strconv.ParseUint(string(f[0]), 10, 16)
	hi, err2 := strconv.ParseUint(string(f[1]), 10, 16)
	if err := errors.Join(err1, err2); err != nil {
		return model.PortRange{}, fmt.Errorf("ip_local_port_range %q: %w", b, err)
	}
	return model.PortRange{First: uint16(lo), Last: uint16(hi)}, nil
}

// Capability bits of linux/capability.h that procinfo needs.
const (
	capDACReadSearch = 2
	capSysPtrace     = 19
	capSysAdmin      = 21
)

// parseCapEff returns the effective capability set of a /proc/PID/status.
func parseCapEff(r io.Reader) (uint64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			c, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("status: CapEff: %w", err)
			}
			return c, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("status: %w", err)
	}
	return 0, errors.New("status: no CapEff line")
}

// socketInode returns the inode of an fd link target "socket:[12345]".
func socketInode(link []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(link, []byte("socket:["))
	if !ok || len(rest) < 2 || rest[len(rest)-1] != ']' {
		return 0, false
	}
	var v uint64
	for _, c := range rest[:len(rest)-1] {
		if c < '0' || c > '9' || v > (1<<63)/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}
