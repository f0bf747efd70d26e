package model

import (
	"net/netip"
	"strings"
)

// The kernel's own word on a flow: why this host's kernel sent a RST (its
// reason, read from the tracepoint), the proof that a RST carrying a local
// address was never sent by the local kernel, and why packets were
// dropped. The wire rules ask these first where the wire cannot decide.

// resetMatchWindow is how far apart a RST on the wire and the kernel's
// record of sending it may be: both are stamped with the host's clock.
const resetMatchWindow = 50e6

// kernelReset returns the kernel's record of sending the RST r in the name
// of side x: x's socket history (or its listener's) holding a sent RST
// near r's time.
func (d *diag) kernelReset(x Side, r *Reset) (KernelResetRecord, bool) {
	k := d.c.opt.Events
	if k == nil {
		return KernelResetRecord{}, false
	}
	local, remote := d.f.Endpoint(x), d.f.Endpoint(x.Other())
	if kr, ok := k.Lookup(local, remote).ResetSent(r.TS, resetMatchWindow); ok {
		return kr, true
	}
	// A listener's RST carries the listener's endpoints, remote unknown.
	for _, h := range listenerHistories(k, local) {
		if kr, ok := h.ResetSent(r.TS, resetMatchWindow); ok {
			return kr, true
		}
	}
	return KernelResetRecord{}, false
}

// listenerHistories returns the histories of local with no remote end (a
// listener's events), however the event spelled the missing end.
func listenerHistories(k *KernelEvents, local netip.AddrPort) []*SocketHistory {
	var out []*SocketHistory
	for _, none := range []netip.AddrPort{{}, netip.AddrPortFrom(netip.IPv4Unspecified(), 0), netip.AddrPortFrom(netip.IPv6Unspecified(), 0)} {
		if h := k.Lookup(local, none); h != nil {
			out = append(out, h)
		}
	}
	return out
}

// unsentLocalReset reports a RST carrying an address of this host that
// this host's kernel did not send: tracing ran without a loss around it,
// the kernel sends every RST of its sockets through the traced path, and
// it recorded none for this connection then.
func (d *diag) unsentLocalReset(x Side, r *Reset) bool {
	k := d.c.opt.Events
	return k != nil && k.IsLocal(d.f.Endpoint(x).Addr()) && k.Covers(r.TS)
}

// resetByReason classifies a RST by the kernel's reason for it where the
// reason decides, and reports its finding; FindingNone leaves it to the
// wire rules (the reason then confirms them).
func (d *diag) resetByReason(r *Reset, kr KernelResetRecord) FindingLabel {
	x := r.From
	y := x.Other()
	why := "the kernel's reason: " + kr.Reason
	switch kr.Reason {
	case "TCP_ABORT_ON_CLOSE":
		if d.raceUnread(x, r) || d.limitUnread(x, r) {
			return FindingNone // a race, which the wire rule names
		}
		d.addEv(FindingCloseWithUnreadData, SeverityWarning, EvidenceBoth, x, d.role(x)+" reset the connection instead of closing it"+
			d.afterPeerData(y, r)+": its application closed with the "+d.roleWord(y)+"'s data unread ("+why+")", d.factsFrame(y), r.Frame)
		return FindingCloseWithUnreadData
	case "TCP_STATE", "TCP_DISCONNECT_WITH_DATA":
		if d.raceUnread(x, r) {
			return FindingNone
		}
		how := "SO_LINGER 0 on close(), or a disconnect"
		if kr.Reason == "TCP_DISCONNECT_WITH_DATA" {
			how = "a disconnect with data still queued to send"
		}
		d.addEv(FindingAbortiveClose, d.abortSeverity(x, r), EvidenceBoth, x, d.role(x)+" aborted the connection with a RST instead of a FIN"+
			d.afterQuiet(r)+": "+how+", not unread input ("+why+")", r.Frame)
		return FindingAbortiveClose
	case "TCP_ABORT_ON_LINGER":
		d.addEv(FindingAbortiveClose, SeverityInfo, EvidenceBoth, x, d.role(x)+" reset the connection when its FIN-WAIT-2 linger ran out: "+
			"the "+d.roleWord(y)+" never sent its FIN ("+why+")", r.Frame)
		return FindingAbortiveClose
	case "TCP_ABORT_ON_MEMORY":
		d.addEv(FindingAbortiveClose, SeverityWarning, EvidenceBoth, x, d.role(x)+" reset the connection because the kernel ran short "+
			"of memory for closed sockets (too many orphans or tcp_mem pressure) ("+why+")", r.Frame)
		return FindingAbortiveClose
	case "TCP_KEEPALIVE_TIMEOUT":
		if d.keepaliveBefore(x, r) {
			d.confirm(FindingKeepaliveTimeout, kr.Reason)
		} else {
			d.addEv(FindingKeepaliveTimeout, SeverityWarning, EvidenceKernel, x, d.role(x)+" reset the connection when its keep-alive "+
				"probes went unanswered: the "+d.roleWord(y)+" or the path went silent ("+why+")", r.Frame)
		}
		return FindingKeepaliveTimeout
	}
	return FindingNone
}

// abortSeverity is warning for an abort soon after the peer's data (the
// peer read a reset mid-exchange), info after a quiet.
func (d *diag) abortSeverity(x Side, r *Reset) Severity {
	y := x.Other()
	if ff := d.facts; ff != nil && ff.LastDataTS[y] != 0 && r.TS >= ff.LastDataTS[y] && r.TS-ff.LastDataTS[y] < d.th.Idle &&
		!(ff.Pause.Frame == r.Frame && ff.Pause.To-ff.Pause.From >= d.th.Idle) {
		return SeverityWarning
	}
	return SeverityInfo
}

// confirm marks the finding a RST supports as resting on the kernel's
// word too, and adds the kernel's reason to its summary when the summary
// does not give it.
func (d *diag) confirm(l FindingLabel, reason string) {
	for i := range d.out {
		f := &d.out[i]
		if f.Label != l {
			continue
		}
		if f.Evidence == EvidenceWire {
			f.Evidence = EvidenceBoth
		}
		if reason != "" && !strings.Contains(f.Summary, reason) {
			f.Summary += " (the kernel's reason: " + reason + ")"
		}
	}
}

// firewallDropped reports the SYNs of an unanswered connection to a local
// server that this host's firewall dropped: each SYN met a NETFILTER_DROP
// the kernel recorded within a few milliseconds (a firewall drop carries no
// addresses, so the times tie it to the SYNs).
func (d *diag) firewallDropped() bool {
	k := d.c.opt.Events
	f := d.f
	if k == nil || !k.IsLocal(f.Endpoint(d.sv).Addr()) || !k.Covers(f.FirstTS) {
		return false
	}
	const near = 5e6
	times := []int64{f.FirstTS}
	for i := range f.Events {
		if e := &f.Events[i]; e.Kind == EventRetransmission && e.Side == d.cl {
			times = append(times, e.TS)
		}
	}
	for _, t := range times {
		hit := false
		for _, dr := range k.UnjoinedDrops(t-near, t+near) {
			if dr.Reason == "NETFILTER_DROP" {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

// listenOverflowAt reports a TCP_LISTEN_OVERFLOW drop recorded on the
// server endpoint's listener within a second of t.
func (d *diag) listenOverflowAt(t int64) bool {
	k := d.c.opt.Events
	if k == nil {
		return false
	}
	for _, h := range listenerHistories(k, d.f.Endpoint(d.sv)) {
		for _, dr := range h.DropsBetween(t-1e9, t+1e9) {
			if dr.Reason == "TCP_LISTEN_OVERFLOW" {
				return true
			}
		}
	}
	return false
}
