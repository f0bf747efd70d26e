package model

import (
	"net/netip"
	"slices"
)

// This file keeps what the kernel said about each socket as it happened
// (KernelEvent values, from its tracepoints), joined by endpoints: the
// socket's owner named by the task that connected or closed it, its state
// changes, the resets it sent with the kernel's reason, and the packets the
// kernel dropped for it. The diagnosis confirms or corrects its findings
// with it; the drill-down shows it.

// KernelStateRecord is one state change of a socket as the kernel made it.
type KernelStateRecord struct {
	Time     int64
	From, To State
	// PID and Comm are the task the change ran in, meaningful as the
	// owner only when InProcess (raw Comm: sanitise before display).
	PID       int32
	Comm      string
	InProcess bool
}

// KernelResetRecord is a RST the kernel sent for, or received on, a socket.
type KernelResetRecord struct {
	Time int64
	// Sent is true for a RST this host's kernel sent, false for one a
	// socket accepted.
	Sent bool
	// Reason is the kernel's own name of why it sent it
	// ("TCP_ABORT_ON_CLOSE"), "" when the kernel gives none.
	Reason string
	// State is the socket's state after the reset (sent), or when it was
	// received.
	State State
}

// KernelDropRecord is a packet the kernel dropped, with its reason.
type KernelDropRecord struct {
	Time   int64
	Reason string
}

// Bounds of a socket's kernel history.
const (
	kernelStatesKept = 12
	kernelResetsKept = 4
	kernelDropsKept  = 4
)

// SocketHistory is what the kernel said about one socket, by its local and
// remote endpoints. Its slices keep the newest entries, oldest first.
type SocketHistory struct {
	Local, Remote netip.AddrPort
	// Owner is the process that connected, listened on or closed the
	// socket (an event in process context), PID 0 when none was seen.
	Owner OwnerRef
	// First and Last are the times of its first and last event.
	First, Last int64
	States      []KernelStateRecord
	Resets      []KernelResetRecord
	Drops       []KernelDropRecord
	// Retransmits counts its retransmitted segments (SYN/ACKs included).
	Retransmits uint32
	// shared is set once a snapshot holds this history: the store copies
	// it before the next change, so a published snapshot never moves.
	shared bool
}

// clone returns an unshared copy.
func (h *SocketHistory) clone() *SocketHistory {
	c := *h
	c.States = slices.Clone(h.States)
	c.Resets = slices.Clone(h.Resets)
	c.Drops = slices.Clone(h.Drops)
	c.shared = false
	return &c
}

// ResetSent returns the RST this host's kernel sent for the socket nearest
// to t, within window ns, if any.
func (h *SocketHistory) ResetSent(t, window int64) (KernelResetRecord, bool) {
	if h == nil {
		return KernelResetRecord{}, false
	}
	best, found := KernelResetRecord{}, false
	for _, r := range h.Resets {
		if !r.Sent {
			continue
		}
		d := r.Time - t
		if d < 0 {
			d = -d
		}
		if d <= window && (!found || d < abs64(best.Time-t)) {
			best, found = r, true
		}
	}
	return best, found
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// DropsBetween returns the drops recorded for the socket in [from, to].
func (h *SocketHistory) DropsBetween(from, to int64) []KernelDropRecord {
	if h == nil {
		return nil
	}
	var out []KernelDropRecord
	for _, d := range h.Drops {
		if d.Time >= from && d.Time <= to {
			out = append(out, d)
		}
	}
	return out
}

// KernelEventsConfig bounds a KernelEvents store.
type KernelEventsConfig struct {
	// MaxSockets is the most sockets with a history (default 1<<16): at
	// the cap, the history silent longest is dropped and counted.
	MaxSockets int
	// MaxUnjoined is the most drops kept that no socket explains
	// (default 256).
	MaxUnjoined int
}

// KernelEvents is the store of the kernel's events: a bounded history per
// socket, and the drops no socket explains (a firewall drop carries no
// addresses). It is not safe for concurrent use: the pipeline owns it, and
// what it publishes (histories handed out by Share) never changes.
type KernelEvents struct {
	cfg    KernelEventsConfig
	byEnds map[endsKey]*SocketHistory
	// locals counts the histories of each local address.
	locals map[netip.Addr]int
	// unjoined are drops without endpoints, newest last.
	unjoined []KernelDropRecord
	// Since is the time of the first event applied (0: none): tracing
	// covers what happened after it.
	Since int64
	// Lost counts events the kernel or the reader lost; a RST while
	// events were lost proves nothing by its absence.
	Lost uint64
	// LostAt is the time of the latest batch that reported losses.
	LostAt int64
	// Evicted counts histories dropped at the cap.
	Evicted uint64
	// Partial marks a store that holds only some of the kernel's events
	// (those a capture file recorded): it never Covers a time, so the
	// absence of an event in it is no evidence.
	Partial bool
	last    int64
}

// NewKernelEvents returns an empty store.
func NewKernelEvents(cfg KernelEventsConfig) *KernelEvents {
	if cfg.MaxSockets <= 0 {
		cfg.MaxSockets = 1 << 16
	}
	if cfg.MaxUnjoined <= 0 {
		cfg.MaxUnjoined = 256
	}
	return &KernelEvents{cfg: cfg, byEnds: map[endsKey]*SocketHistory{}, locals: map[netip.Addr]int{}}
}

// Len returns the number of socket histories held.
func (k *KernelEvents) Len() int {
	if k == nil {
		return 0
	}
	return len(k.byEnds)
}

// NoteLost records events lost before time t (a gap in the record).
func (k *KernelEvents) NoteLost(n uint64, t int64) {
	if n > 0 {
		k.Lost += n
		k.LostAt = max(k.LostAt, t)
	}
}

// Covers reports whether tracing ran, without a loss, around time t: the
// absence of an event then is evidence.
func (k *KernelEvents) Covers(t int64) bool {
	const margin = 100e6 // events arrive in batches; losses are per batch
	return k != nil && !k.Partial && k.Since != 0 && k.Since < t-margin && k.last >= t && (k.LostAt == 0 || k.LostAt < t-margin || k.LostAt > t+5e9)
}

// Add applies one event.
func (k *KernelEvents) Add(e *KernelEvent) {
	if k.Since == 0 {
		k.Since = e.Time
	}
	k.last = max(k.last, e.Time)
	if !e.Local.IsValid() {
		if e.Kind == KernelDrop {
			if len(k.unjoined) == k.cfg.MaxUnjoined {
				k.unjoined = slices.Delete(k.unjoined, 0, 1)
			}
			k.unjoined = append(k.unjoined, KernelDropRecord{Time: e.Time, Reason: e.Reason})
		}
		return
	}
	remote := e.Remote
	if remote.IsValid() {
		remote = unmapEnds(remote)
	}
	h := k.history(unmapEnds(e.Local), remote, e.Time)
	h.Last = max(h.Last, e.Time)
	switch e.Kind {
	case KernelStateChange:
		h.States = pushBounded(h.States, KernelStateRecord{Time: e.Time, From: e.OldState, To: e.NewState,
			PID: e.PID, Comm: e.Comm, InProcess: e.InProcess}, kernelStatesKept)
		if e.IsOwnerEvent() {
			h.Owner = OwnerRef{PID: int(e.PID), Name: e.Comm}
		}
	case KernelResetSent, KernelResetReceived:
		h.Resets = pushBounded(h.Resets, KernelResetRecord{Time: e.Time, Sent: e.Kind == KernelResetSent,
			Reason: e.Reason, State: e.NewState}, kernelResetsKept)
	case KernelRetransmit, KernelSynAckRetransmit:
		h.Retransmits++
	case KernelDrop:
		h.Drops = pushBounded(h.Drops, KernelDropRecord{Time: e.Time, Reason: e.Reason}, kernelDropsKept)
	}
}

// history returns the writable history of (local, remote), creating it and
// copying one a snapshot holds.
func (k *KernelEvents) history(local, remote netip.AddrPort, t int64) *SocketHistory {
	key := endsOf(local, remote)
	h := k.byEnds[key]
	switch {
	case h == nil:
		if len(k.byEnds) >= k.cfg.MaxSockets {
			k.evictOldest()
		}
		h = &SocketHistory{Local: local, Remote: remote, First: t, Last: t}
		k.byEnds[key] = h
		k.locals[local.Addr()]++
	case h.shared:
		h = h.clone()
		k.byEnds[key] = h
	}
	return h
}

// evictOldest drops the history silent longest, the tenth of the cap at
// once so the scan is rare.
func (k *KernelEvents) evictOldest() {
	n := max(k.cfg.MaxSockets/10, 1)
	lasts := make([]int64, 0, len(k.byEnds))
	for _, h := range k.byEnds {
		lasts = append(lasts, h.Last)
	}
	slices.Sort(lasts)
	cut := lasts[min(n, len(lasts))-1]
	for key, h := range k.byEnds {
		if h.Last <= cut && n > 0 {
			k.drop(key, h)
			k.Evicted++
			n--
		}
	}
}

// Lookup returns the history of the socket whose local end is local and
// remote end remote, nil when the kernel said nothing of it. It is for the
// store's owner; Share hands a history to a snapshot.
func (k *KernelEvents) Lookup(local, remote netip.AddrPort) *SocketHistory {
	if k == nil {
		return nil
	}
	if remote.IsValid() {
		remote = unmapEnds(remote)
	}
	return k.byEnds[endsOf(local, remote)]
}

// Share returns the history of (local, remote) for a snapshot to keep: it
// will not change, the store copies it before its next change.
func (k *KernelEvents) Share(local, remote netip.AddrPort) *SocketHistory {
	h := k.Lookup(local, remote)
	if h != nil {
		h.shared = true
	}
	return h
}

// UnjoinedDrops returns the drops without endpoints in [from, to].
func (k *KernelEvents) UnjoinedDrops(from, to int64) []KernelDropRecord {
	if k == nil {
		return nil
	}
	var out []KernelDropRecord
	for _, d := range k.unjoined {
		if d.Time >= from && d.Time <= to {
			out = append(out, d)
		}
	}
	return out
}

// IsLocal reports whether the kernel's events name addr as a local
// address.
func (k *KernelEvents) IsLocal(addr netip.Addr) bool {
	return k != nil && k.locals[addr.Unmap()] > 0
}

// drop removes one history.
func (k *KernelEvents) drop(key endsKey, h *SocketHistory) {
	delete(k.byEnds, key)
	a := h.Local.Addr()
	if k.locals[a]--; k.locals[a] <= 0 {
		delete(k.locals, a)
	}
}

// Forget drops the histories silent since before t (their connections
// are long gone).
func (k *KernelEvents) Forget(t int64) {
	if k == nil {
		return
	}
	for key, h := range k.byEnds {
		if h.Last < t {
			k.drop(key, h)
		}
	}
	i := 0
	for i < len(k.unjoined) && k.unjoined[i].Time < t {
		i++
	}
	k.unjoined = k.unjoined[i:]
}

func unmapEnds(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// pushBounded appends v, dropping the oldest beyond n.
func pushBounded[T any](s []T, v T, n int) []T {
	if len(s) == n {
		copy(s, s[1:])
		s = s[:n-1]
	}
	return append(s, v)
}
