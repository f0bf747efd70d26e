package model

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// OwnerRef names a process that owns a socket of a flow, as procinfo found
// it. Name comes from /proc and is not sanitised: renderers must clean it.
type OwnerRef struct {
	PID  int
	Name string
	// Side is the flow side whose socket the process holds.
	Side Side
}

// FlowEntry is one row of the connection list: a published Flow plus what
// procinfo and the diagnosis add to it. Filtering (Filter.Match) and
// ordering (SortEntries) work on entries, so both see process names and
// findings, not just wire data.
type FlowEntry struct {
	Flow *Flow
	// Local is the side whose address belongs to this host, or SideNone
	// when unknown (a replayed file): then the client plays the local role,
	// so that the server's port reads as the remote service.
	Local Side
	// Owners are the processes owning the flow's sockets on this host,
	// when known: the local side's first; on loopback, where both ends
	// are local, the other side's second.
	Owners []OwnerRef
	// KernelState is the local socket's state as the kernel reports it,
	// StateUnknown when there is no kernel view.
	KernelState State
	// Socket is the local socket in the snapshot's kernel view, nil when
	// none (it carries owners only when the view is OwnersOnly).
	Socket *Socket
	// PeerSocket is, when both ends are on this host (loopback), the
	// other end's socket; nil otherwise.
	PeerSocket *Socket
	// History is, per side, what the kernel's events said of that side's
	// socket on this host (nil: nothing, or not local); it never changes.
	History [2]*SocketHistory
	// Findings are the flow's diagnosis findings, most severe first.
	Findings []Finding
	// Rate is the recent throughput in payload bytes per second, both
	// directions, computed by the caller from two snapshots.
	Rate float64
}

// Key returns the row's key.
func (e *FlowEntry) Key() Key { return e.Flow.Key() }

// Owner returns the process owning side s's socket, if known.
func (e *FlowEntry) Owner(s Side) (OwnerRef, bool) {
	for _, o := range e.Owners {
		if o.Side == s {
			return o, true
		}
	}
	return OwnerRef{}, false
}

// LocalSide returns the side shown as local: Local when known, else the
// client, else A.
func (e *FlowEntry) LocalSide() Side {
	switch {
	case e.Local != SideNone:
		return e.Local
	case e.Flow.Client != SideNone:
		return e.Flow.Client
	}
	return SideA
}

// RemoteSide is the other side of LocalSide.
func (e *FlowEntry) RemoteSide() Side { return e.LocalSide().Other() }

// State is the local endpoint's state: the kernel's when known, else the
// one inferred from the wire.
func (e *FlowEntry) State() State {
	if e.KernelState != StateUnknown {
		return e.KernelState
	}
	return e.Flow.State[e.LocalSide()]
}

// BytesIn is the payload the local side received (sent by the remote).
func (e *FlowEntry) BytesIn() uint64 { return e.Flow.Dir[e.RemoteSide()].PayloadBytes }

// BytesOut is the payload the local side sent.
func (e *FlowEntry) BytesOut() uint64 { return e.Flow.Dir[e.LocalSide()].PayloadBytes }

// Retrans counts retransmissions of any kind (plain, fast, spurious) in
// both directions, as tshark's tcp.analysis.retransmission does.
func (e *FlowEntry) Retrans() uint32 {
	return e.Flow.Dir[0].RetransmissionField() + e.Flow.Dir[1].RetransmissionField()
}

// RSTs counts RST segments in both directions.
func (e *FlowEntry) RSTs() uint32 { return e.Flow.Dir[0].RST + e.Flow.Dir[1].RST }

// ZeroWindows counts zero-window segments in both directions.
func (e *FlowEntry) ZeroWindows() uint32 { return e.Flow.Dir[0].ZeroWindow + e.Flow.Dir[1].ZeroWindow }

// RTT is the initial RTT when measured, else the mean of the ACK RTT
// samples of both directions, else 0.
func (e *FlowEntry) RTT() int64 {
	if e.Flow.IRTT > 0 {
		return e.Flow.IRTT
	}
	a, b := e.Flow.AckRTT[0], e.Flow.AckRTT[1]
	if n := int64(a.Samples) + int64(b.Samples); n > 0 {
		return (a.Sum + b.Sum) / n
	}
	return 0
}

// Age is how long the flow has existed at now (never negative).
func (e *FlowEntry) Age(now int64) int64 { return max(now-e.Flow.FirstTS, 0) }

// Idle is how long the flow has been silent at now (never negative).
func (e *FlowEntry) Idle(now int64) int64 { return max(now-e.Flow.LastTS, 0) }

// Severity is the highest severity among the findings (SeverityInfo
// without any: check Findings).
func (e *FlowEntry) Severity() Severity {
	var s Severity
	for _, f := range e.Findings {
		s = max(s, f.Severity)
	}
	return s
}

// SortKey selects the column the connection list is ordered by.
type SortKey uint8

// Sort keys, one per column of the connection list.
const (
	SortID SortKey = iota // stream index (order of first packet)
	SortLocal
	SortRemote
	SortState
	SortProc
	SortAge
	SortIdle
	SortBytesIn
	SortBytesOut
	SortRate
	SortRetrans
	SortRST
	SortZeroWin
	SortRTT
	SortFinding
	// NumSortKeys is the number of sort keys, for cycling through them.
	NumSortKeys
)

var sortKeyNames = [NumSortKeys]string{
	"id", "local", "remote", "state", "proc", "age", "idle", "in", "out", "rate",
	"retrans", "rst", "zerowin", "rtt", "finding",
}

// String returns the key's short name ("retrans", "idle", ...).
func (k SortKey) String() string {
	if k < NumSortKeys {
		return sortKeyNames[k]
	}
	return "unknown"
}

// ParseSortKey accepts the names String returns.
func ParseSortKey(s string) (SortKey, bool) {
	i := slices.Index(sortKeyNames[:], strings.ToLower(s))
	if i < 0 {
		return SortID, false
	}
	return SortKey(i), true
}

// DefaultDesc reports whether the key is most useful largest first: the
// numeric columns, where a person looks for the worst flows, and age (the
// oldest first) but not idle, where the busiest flows come first.
func (k SortKey) DefaultDesc() bool {
	switch k {
	case SortBytesIn, SortBytesOut, SortRate, SortRetrans, SortRST, SortZeroWin, SortRTT, SortFinding, SortAge:
		return true
	}
	return false
}

// compareKey orders a and b by key, ascending. Age and idle compare the
// timestamps they derive from, so the comparison needs no clock: a larger
// age is an earlier first packet.
func compareKey(a, b *FlowEntry, key SortKey) int {
	fa, fb := a.Flow, b.Flow
	switch key {
	case SortID:
		return cmp.Compare(fa.ID, fb.ID)
	case SortLocal:
		return fa.Endpoint(a.LocalSide()).Compare(fb.Endpoint(b.LocalSide()))
	case SortRemote:
		return fa.Endpoint(a.RemoteSide()).Compare(fb.Endpoint(b.RemoteSide()))
	case SortState:
		return cmp.Compare(a.State(), b.State())
	case SortProc:
		return compareOwners(a.Owners, b.Owners)
	case SortAge:
		return cmp.Compare(fb.FirstTS, fa.FirstTS)
	case SortIdle:
		return cmp.Compare(fb.LastTS, fa.LastTS)
	case SortBytesIn:
		return cmp.Compare(a.BytesIn(), b.BytesIn())
	case SortBytesOut:
		return cmp.Compare(a.BytesOut(), b.BytesOut())
	case SortRate:
		return cmp.Compare(a.Rate, b.Rate)
	case SortRetrans:
		return cmp.Compare(a.Retrans(), b.Retrans())
	case SortRST:
		return cmp.Compare(a.RSTs(), b.RSTs())
	case SortZeroWin:
		return cmp.Compare(a.ZeroWindows(), b.ZeroWindows())
	case SortRTT:
		return cmp.Compare(a.RTT(), b.RTT())
	case SortFinding:
		if c := cmp.Compare(a.Severity(), b.Severity()); c != 0 {
			return c
		}
		return cmp.Compare(len(a.Findings), len(b.Findings))
	}
	return 0
}

// compareOwners orders by the first owner's name, then PID; flows without
// an owner sort first.
func compareOwners(a, b []OwnerRef) int {
	switch {
	case len(a) == 0 || len(b) == 0:
		return cmp.Compare(len(a), len(b))
	}
	if c := strings.Compare(a[0].Name, b[0].Name); c != 0 {
		return c
	}
	return cmp.Compare(a[0].PID, b[0].PID)
}

// SortEntries orders es by key, ascending or descending. Ties always fall
// back to ascending flow ID, also when descending, so equal rows keep a
// fixed order whichever way the list is flipped. It allocates a scratch
// buffer; an EntrySorter reuses one.
func SortEntries(es []*FlowEntry, key SortKey, desc bool) {
	var s EntrySorter
	s.Sort(es, key, desc)
}

// EntrySorter sorts entries like SortEntries, keeping its scratch buffer
// between calls: the UI sorts a list of every flow a few times a second.
type EntrySorter struct {
	buf []keyedEntry
}

// keyedEntry carries an entry's sort key, extracted once, so the sort
// compares two words instead of chasing two Flow pointers per comparison
// (ten times faster at a million flows).
type keyedEntry struct {
	k  uint64
	id FlowID
	e  *FlowEntry
}

// Sort orders es by key as SortEntries does.
func (s *EntrySorter) Sort(es []*FlowEntry, key SortKey, desc bool) {
	if !numericKey(key) {
		slices.SortFunc(es, func(a, b *FlowEntry) int {
			c := compareKey(a, b, key)
			if desc {
				c = -c
			}
			if c != 0 {
				return c
			}
			return cmp.Compare(a.Flow.ID, b.Flow.ID)
		})
		return
	}
	items := s.buf[:0]
	for _, e := range es {
		items = append(items, keyedEntry{k: sortWord(e, key), id: e.Flow.ID, e: e})
	}
	slices.SortFunc(items, func(a, b keyedEntry) int {
		c := cmp.Compare(a.k, b.k)
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	for i := range items {
		es[i] = items[i].e
		items[i].e = nil // let the snapshot go when the next one replaces it
	}
	s.buf = items[:0]
}

// numericKey reports the keys sortWord can express as one word.
func numericKey(k SortKey) bool {
	switch k {
	case SortLocal, SortRemote, SortProc:
		return false
	}
	return k < NumSortKeys
}

// sortWord maps an entry to a word whose unsigned order is compareKey's
// order for key.
func sortWord(e *FlowEntry, key SortKey) uint64 {
	const flip = 1 << 63 // signed to unsigned, keeping the order
	f := e.Flow
	switch key {
	case SortID:
		return uint64(f.ID)
	case SortState:
		return uint64(e.State())
	case SortAge: // older first: a smaller first time is a larger age
		return uint64(-f.FirstTS) ^ flip
	case SortIdle:
		return uint64(-f.LastTS) ^ flip
	case SortBytesIn:
		return e.BytesIn()
	case SortBytesOut:
		return e.BytesOut()
	case SortRate: // non-negative floats order as their bits do
		return math.Float64bits(max(e.Rate, 0))
	case SortRetrans:
		return uint64(e.Retrans())
	case SortRST:
		return uint64(e.RSTs())
	case SortZeroWin:
		return uint64(e.ZeroWindows())
	case SortRTT:
		return uint64(e.RTT()) ^ flip
	case SortFinding:
		return uint64(e.Severity())<<32 | uint64(min(len(e.Findings), math.MaxUint32))
	}
	return 0
}
