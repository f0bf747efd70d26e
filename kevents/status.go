package kevents

import (
	"errors"
	"strings"
	"time"

	"github.com/connscope/connscope/model"
)

// Options configure a Source. The zero value is usable.
type Options struct {
	// Prefix names the source's tracefs instance, PREFIX-PID-START-SEQ;
	// instances of this prefix whose process has exited are removed at
	// Open. Default "connscope".
	Prefix string
	// BufferKB is the size of the instance's ring buffer per CPU, in KiB.
	// When the reader falls further behind than this, the kernel
	// overwrites the oldest events and counts them (Stats.KernelLost).
	// Default 2048.
	BufferKB int
	// Interval is how often Run drains the buffers. Default 50 ms.
	Interval time.Duration
	// MaxPages bounds the ring-buffer pages one Read takes (the rest waits
	// for the next), and with it the reader's memory. Default 512 (2 MiB
	// of 4 KiB pages).
	MaxPages int
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "connscope"
	}
	if o.BufferKB <= 0 {
		o.BufferKB = 2048
	}
	if o.Interval <= 0 {
		o.Interval = 50 * time.Millisecond
	}
	if o.MaxPages <= 0 {
		o.MaxPages = 512
	}
	return o
}

// Cause classifies why a source cannot open.
type Cause uint8

// Causes of an unavailable source.
const (
	// CauseUnsupported: not Linux.
	CauseUnsupported Cause = iota
	// CauseNoTracefs: no tracefs is mounted and none can be (a container
	// without it, a kernel without tracing).
	CauseNoTracefs
	// CausePermission: tracefs exists but this process may not mount it,
	// create an instance or enable events (needs root).
	CausePermission
	// CauseNoEvents: the kernel has none of the tracepoints (too old).
	CauseNoEvents
	// CauseSetup: the instance could not be set up for another reason.
	CauseSetup
)

// Error says in one line which kernel evidence is unavailable and why.
type Error struct {
	Cause  Cause
	Detail string
	Err    error
}

// Error returns "kernel events unavailable: DETAIL".
func (e *Error) Error() string { return "kernel events unavailable: " + e.Detail }

// Unwrap returns the underlying system error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Part is one kind of kernel evidence a source may or may not deliver.
type Part uint8

// Parts of the evidence.
const (
	PartStates Part = iota
	PartResetsSent
	PartResetReasons
	PartResetsReceived
	PartRetransmits
	PartSynAckRetransmits
	PartDrops
	PartDropReasons
	PartDropEndpoints
	PartTaskNames
	PartCookies
	PartNetNS
	numParts
)

var partNames = [numParts]string{
	"state changes", "resets sent", "reset reasons", "resets received", "retransmissions",
	"SYN/ACK retransmissions", "drops", "drop reasons", "drop endpoints", "task names",
	"socket cookies", "network namespaces",
}

// String returns the part's name in a few words ("reset reasons").
func (p Part) String() string {
	if p < numParts {
		return partNames[p]
	}
	return "unknown"
}

// PartStatus says whether one part is delivered; Why explains a missing or
// partial one in a few words.
type PartStatus struct {
	Part      Part
	Available bool
	// Partial: delivered for some events only (Why says which).
	Partial bool
	Why     string
}

// Status is what a source delivers and what it cannot, and why.
type Status struct {
	// Mechanism names how events are read ("tracefs instance NAME").
	Mechanism string
	// Clock is the trace clock the instance stamps events with.
	Clock string
	Parts []PartStatus
}

// Missing returns the parts not delivered, or delivered only in part.
func (s Status) Missing() []PartStatus {
	var out []PartStatus
	for _, p := range s.Parts {
		if !p.Available || p.Partial {
			out = append(out, p)
		}
	}
	return out
}

// Has reports whether part p is delivered (perhaps partially).
func (s Status) Has(p Part) bool {
	for _, ps := range s.Parts {
		if ps.Part == p {
			return ps.Available
		}
	}
	return false
}

// String returns one line: the mechanism, then each missing or partial
// part with its reason.
func (s Status) String() string {
	var b strings.Builder
	b.WriteString("kernel events: ")
	b.WriteString(s.Mechanism)
	for i, p := range s.Missing() {
		if i == 0 {
			b.WriteString("; ")
		} else {
			b.WriteString(", ")
		}
		if p.Partial {
			b.WriteString("partial ")
		} else {
			b.WriteString("no ")
		}
		b.WriteString(p.Part.String())
		if p.Why != "" {
			b.WriteString(" (" + p.Why + ")")
		}
	}
	return b.String()
}

// Stats are a source's counters since Open.
type Stats struct {
	// Events delivered, in total and per kind.
	Events  uint64
	PerKind [model.NumKernelEventKinds]uint64
	// KernelLost counts events the kernel's ring buffer overwrote or
	// dropped before they were read (a reader too slow for the buffer).
	KernelLost uint64
	// QueueDropped counts events Run dropped because the consumer's
	// channel was full.
	QueueDropped uint64
	// Pages counts ring-buffer pages read; DecodeErrors the pages or
	// records that could not be decoded.
	Pages        uint64
	DecodeErrors uint64
}

// ErrClosed is returned by Read and Run after Close.
var ErrClosed = errors.New("kernel event source closed")
