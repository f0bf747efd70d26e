package model

import "net/netip"

// FlowID identifies a flow for the life of a Table. It equals the flow's
// stream index: 0-based, in order of each flow's first packet, like tshark's
// tcp.stream (without the indexes tshark spends on ICMP-quoted headers).
type FlowID uint64

// FlowKind says where a row of the connection list comes from.
type FlowKind uint8

// Flow kinds.
const (
	// FlowWire is a connection seen on the wire: its ID is its stream
	// index.
	FlowWire FlowKind = iota
	// FlowKernelOnly is a socket of the kernel's table that no captured
	// packet showed (opened before the capture started, idle since, or on
	// an interface not captured). Its ID is the socket's cookie; side A is
	// the local end.
	FlowKernelOnly
)

// String returns "wire" or "kernel-only".
func (k FlowKind) String() string {
	if k == FlowKernelOnly {
		return "kernel-only"
	}
	return "wire"
}

// Key identifies a row of the connection list across snapshots: its kind
// and its ID within that kind (a stream index, or a socket cookie).
type Key struct {
	Kind FlowKind
	ID   FlowID
}

// Compare orders keys: wire flows by ID, then kernel-only rows by ID.
func (k Key) Compare(o Key) int {
	switch {
	case k.Kind != o.Kind:
		return int(k.Kind) - int(o.Kind)
	case k.ID < o.ID:
		return -1
	case k.ID > o.ID:
		return 1
	}
	return 0
}

// Side names one endpoint of a flow: A is the source of the flow's first
// packet, B the other.
type Side uint8

// Sides of a flow. SideNone means "unknown" where a Side is optional.
const (
	SideA Side = iota
	SideB
	SideNone
)

// Other returns the opposite side (SideNone stays SideNone).
func (s Side) Other() Side {
	switch s {
	case SideA:
		return SideB
	case SideB:
		return SideA
	}
	return SideNone
}

// String returns "a", "b" or "none".
func (s Side) String() string {
	switch s {
	case SideA:
		return "a"
	case SideB:
		return "b"
	}
	return "none"
}

// Dir is a direction inside a flow, indexed by its sending Side: DirAB is
// sent by A, DirBA by B.
type Dir = Side

// Directions, as array indexes into Flow.Dir.
const (
	DirAB Dir = SideA
	DirBA Dir = SideB
)

// State is an endpoint's TCP state as inferred from the wire or reported by
// the kernel, named as in RFC 9293.
type State uint8

// TCP states. StateUnknown means nothing seen yet allows a guess (for
// example a mid-stream start before either side spoke).
const (
	StateUnknown State = iota
	StateClosed
	StateListen
	StateSynSent
	StateSynReceived
	StateEstablished
	StateFinWait1
	StateFinWait2
	StateCloseWait
	StateClosing
	StateLastAck
	StateTimeWait
	numStates
)

var stateNames = [numStates]string{
	"UNKNOWN", "CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED",
	"FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT",
}

// String returns the RFC 9293 name ("ESTABLISHED", "CLOSE-WAIT", ...).
func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "UNKNOWN"
}

// ParseState accepts RFC names and ss/netstat spellings ("close_wait",
// "CLOSE-WAIT", "closewait", "syn_recv", "estab").
func ParseState(s string) (State, bool) {
	norm := func(x string) string {
		b := make([]byte, 0, len(x))
		for i := 0; i < len(x); i++ {
			c := x[i]
			switch {
			case c >= 'A' && c <= 'Z':
				b = append(b, c+'a'-'A')
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
				b = append(b, c)
			}
		}
		return string(b)
	}
	n := norm(s)
	switch n {
	case "synrecv":
		return StateSynReceived, true
	case "estab":
		return StateEstablished, true
	}
	for i, name := range stateNames {
		if norm(name) == n {
			return State(i), true
		}
	}
	return StateUnknown, false
}

// Transition is one change of an endpoint's inferred state.
type Transition struct {
	TS       int64
	Frame    uint64
	Side     Side
	From, To State
}

// ResetForm is the wire form of a RST, which tells which code path of the
// sender's stack produced it.
type ResetForm uint8

// Reset forms (see the analysis spec §5.2).
const (
	// ResetSocket: RST|ACK from the connection's own socket (seq = SND.NXT,
	// non-zero window, options as negotiated, IP ID continuing the socket's
	// sequence): an application abort.
	ResetSocket ResetForm = iota
	// ResetStateless: IPv4 ID 0, window 0, no options: sent by a stack that
	// had no socket for the segment it answers.
	ResetStateless
	// ResetOther fits neither Linux form.
	ResetOther
)

// String returns "socket", "stateless" or "other".
func (f ResetForm) String() string {
	switch f {
	case ResetSocket:
		return "socket"
	case ResetStateless:
		return "stateless"
	}
	return "other"
}

// Reset describes one RST segment of a flow and who sent it.
type Reset struct {
	Frame uint64
	TS    int64
	// From is the side whose address the RST carries as its source.
	From Side
	// SenderState is the sender's inferred state just before the RST.
	SenderState State
	Form        ResetForm
	// Stateless is Form == ResetStateless (kept for the JSON schema).
	Stateless bool
	// TTLMismatch: the RST's TTL (normalised to its initial-TTL class)
	// differs from that of the sender's other packets in the flow.
	TTLMismatch bool
	// IPIDMismatch: an IPv4 RST claiming the socket path whose ID does not
	// continue the sender's ID sequence.
	IPIDMismatch bool
	// Effective reports whether the receiver's reaction (or its seq) shows
	// the RST was accepted.
	Effective bool
	// MiddleboxSuspected: several signals say the RST did not come from
	// the endpoint whose address it carries.
	MiddleboxSuspected bool
	// Cause is a short label for why it was sent, filled by the diagnosis.
	Cause string
	// KernelReason is the local kernel's own reason for sending it
	// ("TCP_ABORT_ON_CLOSE"), from its tracepoint, filled by the
	// diagnosis; "" when this host's kernel did not send it or did not
	// say.
	KernelReason string
}

// EventKind classifies an Event.
type EventKind uint8

// Event kinds.
const (
	EventState EventKind = iota // an endpoint changed state
	EventRST
	EventRetransmission // a retransmission (any kind) starting or continuing a burst
	EventZeroWindowStart
	EventZeroWindowEnd
	EventKeepAlive
	EventReusedPorts
	EventLostSegment
	numEventKinds
)

var eventNames = [numEventKinds]string{
	"state", "rst", "retransmission", "zero-window", "window-open", "keep-alive", "port-reuse", "lost-segment",
}

// String names the kind.
func (k EventKind) String() string {
	if k < numEventKinds {
		return eventNames[k]
	}
	return "unknown"
}

// Event is one notable moment in a flow, kept in a bounded per-flow ring so
// that a diagnosis can cite its evidence frames.
type Event struct {
	Kind  EventKind
	TS    int64
	Frame uint64
	Side  Side // the sender of the segment that caused it
	// Count is how many consecutive frames merged into this event (a
	// retransmission burst), at least 1.
	Count uint32
	// Detail is a short, already-safe text ("FIN-WAIT-1 -> TIME-WAIT").
	Detail string
}

// RTTStats summarises round-trip samples in nanoseconds.
type RTTStats struct {
	Samples       uint32
	Min, Max, Sum int64
}

// Avg returns the mean sample, 0 without samples.
func (r RTTStats) Avg() int64 {
	if r.Samples == 0 {
		return 0
	}
	return r.Sum / int64(r.Samples)
}

// Flow is an immutable copy of one connection's analysis, as published in a
// Snapshot.
type Flow struct {
	// Kind is FlowWire for a connection seen on the wire, FlowKernelOnly
	// for a socket no packet showed; ID is unique within its kind.
	Kind FlowKind
	ID   FlowID
	A, B netip.AddrPort
	// Client is the side that sent the first pure SYN; when no SYN was
	// seen, the inferred client (RoleInferred set), or SideNone.
	Client       Side
	RoleInferred bool
	FirstFrame   uint64
	LastFrame    uint64
	FirstTS      int64
	LastTS       int64
	// Dir holds the counters per direction: Dir[DirAB] is sent by A.
	Dir [2]Counters
	// IRTT is the initial RTT in ns (0: not measured), as tshark computes it.
	IRTT int64
	// AckRTT summarises ACK round-trip samples per direction of the data
	// they acknowledge (AckRTT[DirAB]: A's data acknowledged by B).
	AckRTT [2]RTTStats
	// State is each side's inferred state now.
	State [2]State
	// Transitions, Resets and Events are the newest entries of bounded
	// rings, oldest first; the *Dropped counts say how many fell out.
	Transitions        []Transition
	TransitionsDropped uint32
	Resets             []Reset
	ResetsDropped      uint32
	Events             []Event
	EventsDropped      uint32
	// ZeroWindowNow is set per direction while that side advertises a zero
	// window.
	ZeroWindowNow [2]bool
	// Facts are the per-side timings the diagnosis needs.
	Facts FlowFacts
	// Findings are the diagnosis of the flow, most severe first, filled by
	// DiagnoseSnapshot (nil when the snapshot was not diagnosed).
	Findings []Finding
}

// Pause is a quiet spell of a flow: no data, SYN, FIN or RST either way
// (pure ACKs, keep-alives, window probes and retransmissions do not break
// it), ended by the segment at Frame.
type Pause struct {
	From, To int64
	Frame    uint64
	// Side sent the segment that ended it; Flags and Data describe it.
	Side  Side
	Flags TCPFlags
	Data  bool
}

// FlowFacts are the per-side timings of a flow that some diagnosis rules
// need: when each side last sent anything and last sent data, how quiet
// the flow was before each side's first FIN, its latest long pause, and
// the longest wait before a retransmission. The Table keeps them as it
// applies segments (segments with a cut TCP header are not timed).
type FlowFacts struct {
	// Known is set on flows a Table publishes. A Flow built elsewhere
	// leaves it false, and the rules that need these timings then stay
	// silent rather than read zeros as times.
	Known bool
	// LastTS is, per side, the time of its last segment (0: none).
	LastTS [2]int64
	// LastDataTS and LastDataFrame are, per side, its last segment that
	// carried data (keep-alive and window probes do not count; 0: none).
	LastDataTS    [2]int64
	LastDataFrame [2]uint64
	// FINQuiet is, per side, the quiet before its first FIN (-1: no FIN):
	// for a FIN that crossed the peer's data, the quiet before that data.
	FINQuiet [2]int64
	// FINCrossed is set for a side whose first FIN did not acknowledge
	// the peer's data that had just ended a quiet (a request after an idle
	// spell): the two crossed on the wire.
	FINCrossed [2]bool
	// FINAfterOwnData is set for a side whose first FIN came when the
	// flow's latest data was its own (its request unanswered, or right
	// after its own answer).
	FINAfterOwnData [2]bool
	// Turns counts, per side, its data segments that took the turn (new
	// data after the peer's, or the flow's first): requests and answers.
	Turns [2]uint16
	// MaxRTO is, per side, the longest silence of its peer before one of
	// its plain retransmissions: the retransmission timeout seen.
	MaxRTO [2]int64
	// Pause is the latest pause of at least Config.PauseMin (zero when
	// none).
	Pause Pause
	// ResetHops compare the hop count of each RST of Flow.Resets with its
	// sender's other packets, oldest first; a RST whose sender gave no
	// hop count to compare with (none seen, or mixed initial TTLs) has
	// no entry.
	ResetHops []ResetHop
}

// ResetHop compares a RST's hop count (initial TTL class minus TTL) with
// the other packets of its claimed sender.
type ResetHop struct {
	Frame uint64
	// Delta is the RST's hop count minus the nearest of the sender's
	// others: negative means it came from closer to the capture point.
	Delta int8
	// ClassDiffers: the RST started from another initial TTL (64, 128,
	// 255) than the sender's other packets.
	ClassDiffers bool
	// SenderHops is the sender's usual (smallest) hop count; 0 is the
	// capturing host.
	SenderHops uint8
}

// ResetHop returns the hop comparison of the RST at frame, if known.
func (ff *FlowFacts) ResetHop(frame uint64) (ResetHop, bool) {
	if ff == nil {
		return ResetHop{}, false
	}
	for _, h := range ff.ResetHops {
		if h.Frame == frame {
			return h, true
		}
	}
	return ResetHop{}, false
}

// Key returns the flow's row key.
func (f *Flow) Key() Key { return Key{Kind: f.Kind, ID: f.ID} }

// Closed reports whether both sides are closed or in TIME-WAIT (an
// effective reset closes both).
func (f *Flow) Closed() bool {
	done := func(s State) bool { return s == StateClosed || s == StateTimeWait }
	return done(f.State[SideA]) && done(f.State[SideB])
}

// Endpoint returns the address of side s.
func (f *Flow) Endpoint(s Side) netip.AddrPort {
	if s == SideB {
		return f.B
	}
	return f.A
}

// SourceStats are the counters of the packet source, carried into snapshots
// so every drop is visible.
type SourceStats struct {
	Packets      uint64 // packets read from the source
	TCPFrames    uint64 // packets that carried a TCP header (analysed or not)
	NonTCP       uint64 // packets with no TCP segment (other protocols, ICMP-quoted TCP)
	DecodeErrors uint64 // packets that could not be decoded
	KernelDrops  uint64 // live: dropped by the kernel ring
	QueueDrops   uint64 // live: segments dropped because the tracker was behind
	FilteredOut  uint64 // rejected by the capture filter
	// Duplicates are live copies of a packet already seen on another
	// interface (forwarded by this host, or a VLAN device and its
	// parent): counted in TCPFrames, not analysed a second time.
	Duplicates uint64
	// IfaceLosses counts the times live capture on an interface stopped
	// because it went down or was removed; it is captured again when it
	// comes back.
	IfaceLosses uint64
	// IfaceLostNS is how long, in nanoseconds, interfaces that came back
	// after a loss may have carried packets that were not captured: for
	// each loss, from the loss (or from the last time the interface was
	// seen down or gone) until capture resumed. Connections in that gap
	// are missing or seen in part.
	IfaceLostNS int64
}

// TableStats are the flow table's own counters.
type TableStats struct {
	Flows        uint64 // flows currently tracked
	FlowsCreated uint64 // flows ever created (next FlowID)
	Evicted      uint64 // flows dropped by the MaxFlows cap
	Expired      uint64 // closed or idle flows folded away after retention
}

// Problem is something that went wrong in one stage of the pipeline
// without ending it: a poll that failed, a capture interface lost, a write
// error. Every view shows the problems of the snapshot it renders.
type Problem struct {
	// Stage names the part that failed: "capture", "kernel view",
	// "kernel events", "write".
	Stage string
	// Text says what happened, in one line; it may quote names from
	// outside (files, interfaces): sanitise it for a terminal.
	Text string
}

// String returns "stage: text".
func (p Problem) String() string { return p.Stage + ": " + p.Text }

// Snapshot is an immutable view of the connections at one moment, safe
// to share between goroutines: the flow table's copy, joined to the
// kernel's view and diagnosed. Every view of connscope (UI, report, JSON,
// metrics) renders a Snapshot, so they all give the same answer.
type Snapshot struct {
	// Seq increases with every published snapshot.
	Seq uint64
	// Now is the time the snapshot describes (last packet time for files).
	Now int64
	// Flows are the wire flows, ordered by ID.
	Flows []Flow
	// KernelOnly are the sockets of the kernel view that no flow claimed
	// (Kind FlowKernelOnly), ordered by ID; listeners and TIME-WAIT
	// sockets are not rows (the processes pane counts them).
	KernelOnly []Flow
	// Rows are every flow and kernel-only socket joined to its socket,
	// owners and findings, in Key order (wire flows first). They are
	// filled by the pipeline; a Snapshot taken from a Table alone has
	// none.
	Rows []FlowEntry
	// Kernel is the kernel view the rows were joined with and diagnosed
	// against; nil without one (a file, no privilege, first poll pending).
	Kernel *KernelIndex
	// KernelNote says why Kernel is nil or partial, when known.
	KernelNote string
	// Processes are the processes of the kernel view that the selection
	// (--pid, --proc) keeps, ordered by PID; all of them without one.
	Processes []Process
	// ProcessFindings are the findings about processes (fd_leak,
	// fd_exhaustion) of the processes the selection keeps.
	ProcessFindings []ProcessFinding
	Table           TableStats
	Source          SourceStats
	// Problems are the errors of the pipeline's stages that did not stop
	// it, oldest first (bounded).
	Problems []Problem
	// EventsNote says which of the kernel's events are missing and why
	// ("kernel events unavailable: ..."), "" when they all come.
	EventsNote string
	// EventsHeld counts the socket histories the kernel's events keep;
	// EventsLost the events lost before they were read.
	EventsHeld int
	EventsLost uint64
}

// Find returns the wire flow with the given ID, or nil.
func (s *Snapshot) Find(id FlowID) *Flow {
	// Flows are sorted by ID: binary search.
	lo, hi := 0, len(s.Flows)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.Flows[m].ID < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(s.Flows) && s.Flows[lo].ID == id {
		return &s.Flows[lo]
	}
	return nil
}

// Row returns the row with the given key, or nil.
func (s *Snapshot) Row(k Key) *FlowEntry {
	lo, hi := 0, len(s.Rows)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.Rows[m].Flow.Key().Compare(k) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(s.Rows) && s.Rows[lo].Flow.Key() == k {
		return &s.Rows[lo]
	}
	return nil
}
