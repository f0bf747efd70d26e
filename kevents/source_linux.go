package kevents

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/connscope/connscope/model"
	"golang.org/x/sys/unix"
)

// spec is one tracepoint the source subscribes to.
type spec struct {
	sys, name string
	typ       evType
	part      Part
	since     string // the kernel that introduced it, for Status
}

var specs = []spec{
	{"sock", "inet_sock_set_state", evState, PartStates, "4.16"},
	{"tcp", "tcp_send_reset", evSendReset, PartResetsSent, "4.15"},
	{"tcp", "tcp_receive_reset", evRecvReset, PartResetsReceived, "4.15"},
	{"tcp", "tcp_retransmit_skb", evRetransmit, PartRetransmits, "4.15"},
	{"tcp", "tcp_retransmit_synack", evSynAck, PartSynAckRetransmits, "4.15"},
	{"skb", "kfree_skb", evDrop, PartDrops, "2.6.32"},
	{"tcp", "tcp_bad_csum", evBadCsum, PartDropEndpoints, "5.11"},
	{"task", "task_newtask", evNewTask, PartTaskNames, "3.11"},
	{"task", "task_rename", evRenameTk, PartTaskNames, "3.11"},
}

// cpuFile is one CPU's trace_pipe_raw and stats files.
type cpuFile struct {
	fd    int
	stats *os.File
}

// Source reads TCP kernel events from a tracefs instance of its own. Its
// methods may be called from any goroutine; Read and Run must not run at
// the same time.
type Source struct {
	opts     Options
	dir      string // the instance directory
	name     string
	lay      pageLayout
	subbuf   int
	cpus     []cpuFile
	decoders map[uint16]*decoder
	status   Status
	clock    int // unix clock id of the trace clock

	mu        sync.Mutex // guards everything below and the files
	closed    bool
	tasks     *tasks
	pages     [][]byte
	recs      []record
	held      []model.KernelEvent
	skbs      map[uint64]int // skb address -> index of its drop in this Read
	rsts      map[uint64]int // skb address -> index of a socketless reset
	socks     map[uint64]endpoints
	statsLost uint64
	capped    atomic.Bool // the last Read left pages behind
	statsAt   int64

	events, kernelLost, queueDropped, pagesRead, decodeErrors atomic.Uint64
	perKind                                                   [model.NumKernelEventKinds]atomic.Uint64
}

var seq atomic.Int32

// Open creates the source's tracefs instance and enables the events. It
// mounts tracefs if none is mounted, and first removes instances of the
// same prefix left by processes that have exited. A kernel that lacks
// some events or fields opens with those parts missing (see Status); an
// *Error says why nothing at all is available.
func Open(opts Options) (*Source, error) {
	opts = opts.withDefaults()
	root, _, err := findTracefs()
	if err != nil {
		return nil, err
	}
	instances := filepath.Join(root, "instances")
	removeStale(instances, opts.Prefix)
	s := &Source{opts: opts, decoders: make(map[uint16]*decoder), tasks: newTasks(),
		skbs: make(map[uint64]int), rsts: make(map[uint64]int), socks: make(map[uint64]endpoints)}
	formats, parts := loadFormats(root)
	if _, err := os.Stat(filepath.Join(root, "events")); errors.Is(err, os.ErrPermission) {
		return nil, &Error{Cause: CausePermission, Err: err, Detail: "tracefs at " + root + " is not accessible (needs root, or CAP_DAC_OVERRIDE: tracefs is root's)"}
	}
	if len(formats) == 0 {
		return nil, &Error{Cause: CauseNoEvents, Detail: "this kernel has none of the TCP tracepoints (needs Linux >= 4.16)"}
	}
	if err := s.makeInstance(instances); err != nil {
		return nil, err
	}
	if err := s.setup(root, formats, parts); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// loadFormats reads the format file of every event in specs; parts holds
// the status of each part as far as the formats tell.
func loadFormats(root string) (map[int]*format, map[Part]PartStatus) {
	formats := make(map[int]*format)
	parts := make(map[Part]PartStatus)
	for i, sp := range specs {
		f, err := os.Open(filepath.Join(root, "events", sp.sys, sp.name, "format"))
		if err != nil {
			why := fmt.Sprintf("no tracepoint %s:%s (Linux < %s)", sp.sys, sp.name, sp.since)
			if !errors.Is(err, os.ErrNotExist) {
				why = fmt.Sprintf("%s:%s: %v", sp.sys, sp.name, err)
			}
			if _, seen := parts[sp.part]; !seen {
				parts[sp.part] = PartStatus{Part: sp.part, Why: why}
			}
			continue
		}
		ft, err := parseFormat(f)
		f.Close()
		if err != nil {
			parts[sp.part] = PartStatus{Part: sp.part, Why: err.Error()}
			continue
		}
		formats[i] = ft
	}
	return formats, parts
}

// makeInstance creates the instance directory under a fresh name.
func (s *Source) makeInstance(instances string) error {
	pid := os.Getpid()
	start, _ := selfStart(pid)
	for range 100 {
		name := instanceName(s.opts.Prefix, pid, start, int(seq.Add(1)))
		dir := filepath.Join(instances, name)
		err := unix.Mkdir(dir, 0o750)
		if err == nil {
			s.dir, s.name = dir, name
			return nil
		}
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			return &Error{Cause: CausePermission, Err: err,
				Detail: "cannot create a tracefs instance (needs root, or CAP_DAC_OVERRIDE: write access to " + instances + ")"}
		}
		return &Error{Cause: CauseSetup, Err: err, Detail: "cannot create a tracefs instance: " + err.Error()}
	}
	return &Error{Cause: CauseSetup, Detail: "no free tracefs instance name"}
}

// setup configures the instance, enables the events and opens the buffers.
func (s *Source) setup(root string, formats map[int]*format, parts map[Part]PartStatus) error {
	fail := func(err error) error {
		if errors.Is(err, os.ErrPermission) {
			return &Error{Cause: CausePermission, Err: err, Detail: "cannot configure the tracefs instance (needs root, or CAP_DAC_OVERRIDE): " + err.Error()}
		}
		return &Error{Cause: CauseSetup, Err: err, Detail: "cannot configure the tracefs instance: " + err.Error()}
	}
	if err := writeFile(filepath.Join(s.dir, "buffer_size_kb"), strconv.Itoa(s.opts.BufferKB)); err != nil {
		return fail(err)
	}
	// The boot clock (CLOCK_BOOTTIME) keeps counting across suspend, so
	// one offset to CLOCK_REALTIME converts every timestamp; mono is the
	// fallback on kernels without it.
	s.status.Clock, s.clock = "boot", unix.CLOCK_BOOTTIME
	if writeFile(filepath.Join(s.dir, "trace_clock"), "boot") != nil {
		if err := writeFile(filepath.Join(s.dir, "trace_clock"), "mono"); err != nil {
			return fail(err)
		}
		s.status.Clock, s.clock = "mono", unix.CLOCK_MONOTONIC
	}
	hp, err := os.Open(filepath.Join(root, "events", "header_page"))
	if err != nil {
		return fail(err)
	}
	s.lay, err = parseHeaderPage(hp)
	hp.Close()
	if err != nil {
		return fail(err)
	}
	s.subbuf = os.Getpagesize()
	if b, err := os.ReadFile(filepath.Join(s.dir, "buffer_subbuf_size_kb")); err == nil {
		if kb, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && kb > 0 {
			s.subbuf = kb << 10
		}
	}
	enabled := 0
	for i, sp := range specs {
		f, ok := formats[i]
		if !ok {
			continue
		}
		d := newDecoder(sp.typ, f)
		evDir := filepath.Join(s.dir, "events", sp.sys, sp.name)
		if flt := filterFor(sp.typ, f, d); flt != "" {
			if err := writeFile(filepath.Join(evDir, "filter"), flt); err != nil {
				return fail(err)
			}
		}
		if err := writeFile(filepath.Join(evDir, "enable"), "1"); err != nil {
			if errors.Is(err, os.ErrPermission) {
				return fail(err)
			}
			parts[sp.part] = PartStatus{Part: sp.part, Why: err.Error()}
			continue
		}
		s.decoders[f.ID] = d
		enabled++
		s.noteParts(sp, f, d, parts)
	}
	if enabled == 0 {
		return &Error{Cause: CauseNoEvents, Detail: "no TCP tracepoint could be enabled"}
	}
	s.finishStatus(parts)
	return s.openCPUs()
}

// filterFor returns the kernel-side filter of an event: state changes of
// TCP sockets only; drops of IP packets except NOT_SPECIFIED (which the
// kernel also uses for ordinary frees) and QUEUE_PURGE (queues emptied as
// a socket is destroyed: one per ordinary close).
func filterFor(typ evType, f *format, d *decoder) string {
	switch typ {
	case evState:
		if f.has("protocol") {
			return "protocol == " + strconv.Itoa(ipprotoTCP)
		}
	case evDrop:
		flt := fmt.Sprintf("(protocol == %d || protocol == %d)", ethIPv4, ethIPv6)
		for v, n := range d.reasons {
			if n == "NOT_SPECIFIED" || n == "QUEUE_PURGE" {
				flt += fmt.Sprintf(" && reason != %d", v)
			}
		}
		return flt
	}
	return ""
}

// noteParts records what an enabled event's fields allow.
func (s *Source) noteParts(sp spec, f *format, d *decoder, parts map[Part]PartStatus) {
	parts[sp.part] = PartStatus{Part: sp.part, Available: true}
	switch sp.typ {
	case evSendReset:
		switch {
		case !f.has("reason"):
			parts[PartResetReasons] = PartStatus{Part: PartResetReasons, Why: "tcp_send_reset has no reason field (Linux < 6.10)"}
		case d.reasons == nil:
			parts[PartResetReasons] = PartStatus{Part: PartResetReasons, Why: "tcp_send_reset's reason names are not in its format file"}
		default:
			parts[PartResetReasons] = PartStatus{Part: PartResetReasons, Available: true}
		}
	case evRecvReset:
		if f.has("sock_cookie") {
			parts[PartCookies] = PartStatus{Part: PartCookies, Available: true, Partial: true,
				Why: "only tcp_receive_reset carries the socket cookie"}
		}
	case evDrop:
		switch {
		case !f.has("reason"):
			parts[PartDropReasons] = PartStatus{Part: PartDropReasons, Why: "kfree_skb has no reason field (Linux < 5.17)"}
		case d.reasons == nil:
			parts[PartDropReasons] = PartStatus{Part: PartDropReasons, Why: "kfree_skb's reason names are not in its format file"}
		default:
			parts[PartDropReasons] = PartStatus{Part: PartDropReasons, Available: true}
		}
	}
}

// finishStatus fills the parts no event decided.
func (s *Source) finishStatus(parts map[Part]PartStatus) {
	s.status.Mechanism = "tracefs instance " + s.name
	if _, ok := parts[PartCookies]; !ok {
		parts[PartCookies] = PartStatus{Part: PartCookies, Why: "tcp_receive_reset has no sock_cookie field"}
	}
	parts[PartNetNS] = PartStatus{Part: PartNetNS, Why: "the tracepoints carry no network namespace"}
	if parts[PartDrops].Available {
		parts[PartDropEndpoints] = PartStatus{Part: PartDropEndpoints, Available: true, Partial: true,
			Why: "kfree_skb carries no addresses: only drops answered by a reset, failing the checksum, or received by a socket seen earlier have endpoints"}
	} else {
		parts[PartDropEndpoints] = PartStatus{Part: PartDropEndpoints, Why: "no drops"}
	}
	for p := range numParts {
		ps, ok := parts[p]
		if !ok {
			ps = PartStatus{Part: p, Why: "not available"}
		}
		s.status.Parts = append(s.status.Parts, ps)
	}
}

// openCPUs opens each CPU's trace_pipe_raw (non-blocking) and stats.
func (s *Source) openCPUs() error {
	ents, err := os.ReadDir(filepath.Join(s.dir, "per_cpu"))
	if err != nil {
		return &Error{Cause: CauseSetup, Err: err, Detail: "cannot list the instance's CPUs: " + err.Error()}
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "cpu") {
			continue
		}
		dir := filepath.Join(s.dir, "per_cpu", e.Name())
		fd, err := unix.Open(filepath.Join(dir, "trace_pipe_raw"), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return &Error{Cause: CauseSetup, Err: err, Detail: "cannot open " + e.Name() + "'s ring buffer: " + err.Error()}
		}
		st, _ := os.Open(filepath.Join(dir, "stats"))
		s.cpus = append(s.cpus, cpuFile{fd: fd, stats: st})
	}
	if len(s.cpus) == 0 {
		return &Error{Cause: CauseSetup, Detail: "the instance has no per-CPU buffers"}
	}
	return nil
}

// Status returns what the source delivers and what it cannot.
func (s *Source) Status() Status { return s.status }

// Name returns the tracefs instance's name.
func (s *Source) Name() string { return s.name }

// Stats returns the counters since Open.
func (s *Source) Stats() Stats {
	st := Stats{Events: s.events.Load(), KernelLost: s.kernelLost.Load(),
		QueueDropped: s.queueDropped.Load(), Pages: s.pagesRead.Load(), DecodeErrors: s.decodeErrors.Load()}
	for i := range st.PerKind {
		st.PerKind[i] = s.perKind[i].Load()
	}
	return st
}

// Close disables the events and removes the instance. It always releases
// what it can, may be called more than once, and returns the first error.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for _, c := range s.cpus {
		unix.Close(c.fd)
		if c.stats != nil {
			c.stats.Close()
		}
	}
	s.cpus = nil
	if s.dir == "" {
		return nil
	}
	// An instance goes away with its events and buffers in one rmdir; it
	// is refused (EBUSY) only while a file in it is open.
	var err error
	for range 50 {
		if err = unix.Rmdir(s.dir); err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		runtime.Gosched()
	}
	return fmt.Errorf("remove tracefs instance %s: %w", s.name, err)
}
