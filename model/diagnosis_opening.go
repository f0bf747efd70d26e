package model

import (
	"slices"
	"strconv"
)

// The opening rules: SYNs never answered and connections stuck in a full
// accept queue.

// openingRules: SYNs never answered (syn_timeout, or accept_queue_overflow
// when the kernel shows the listener full), and connections waiting in a
// full accept queue.
func (d *diag) openingRules() {
	f, cl, sv := d.f, d.cl, d.sv
	if f.Client > SideB {
		return
	}
	l, full := d.fullListener()
	if f.Dir[cl].SYN >= 2 && f.Dir[sv].Packets == 0 && d.end()-f.FirstTS >= d.th.Idle {
		span := dur(f.LastTS - f.FirstTS)
		n := strconv.Itoa(int(f.Dir[cl].SYN))
		if full {
			d.addEv(FindingAcceptQueueOverflow, SeverityCritical, EvidenceBoth, sv, d.role(sv)+" never answered "+n+" SYNs over "+span+
				": its listener's accept queue is full"+listenerNumbers(l, d.listenStats(l)), f.FirstFrame, f.LastFrame)
			return
		}
		if d.firewallDropped() {
			d.addEv(FindingSYNTimeout, SeverityCritical, EvidenceBoth, sv, d.role(sv)+" never answered: "+n+" SYNs over "+span+
				", each dropped by this host's own firewall (the kernel's drop reason: NETFILTER_DROP), not by the path",
				f.FirstFrame, f.LastFrame)
			return
		}
		if others, near := d.answeredOthers(); others > 0 {
			d.add(FindingAcceptQueueOverflow, SeverityCritical, sv, d.role(sv)+" never answered "+n+" SYNs over "+span+
				", while it answered "+plural(others, "other connection")+" "+near+": SYN dropped: its accept queue "+
				"is full, or its SYN backlog (a blackhole would answer no one)", f.FirstFrame, f.LastFrame)
			return
		}
		// Critical needs a failure someone felt: a connect() that gave
		// up, or was still retrying when the capture ended after three
		// tries; two SYNs are a connect() slowed down, not yet failed.
		sev := SeverityCritical
		if f.Dir[cl].SYN < 3 {
			sev = SeverityWarning
		}
		d.add(FindingSYNTimeout, sev, sv, d.role(sv)+" never answered: "+n+" SYNs over "+span+
			" (filtered or blackholed)", f.FirstFrame, f.LastFrame)
		return
	}
	if retry := d.synRetry(); retry != nil {
		d.add(FindingSYNRetry, SeverityInfo, sv, d.role(sv)+" answered only the client's retransmitted SYN, "+dur(retry.TS-f.FirstTS)+
			" after the first: the first SYN was lost on the path or dropped by the listener, and connect() took that much longer",
			f.FirstFrame, retry.Frame)
	}
	if s := d.sock[sv]; full && s != nil && s.Owner == OwnerKernel && f.Dir[sv].PayloadBytes == 0 &&
		(s.State == StateEstablished || s.State == StateCloseWait) {
		d.addEv(FindingAcceptQueueOverflow, SeverityCritical, EvidenceBoth, sv, "the connection waits in the accept queue of "+d.role(sv)+
			", which is full"+listenerNumbers(l, d.listenStats(l))+": the server process does not call accept() fast enough",
			f.FirstFrame)
	}
}

// fullListener finds the listener of the server endpoint in the kernel's
// view and reports whether its accept queue is full (beyond its backlog)
// or its namespace counted overflows since the previous poll.
func (d *diag) fullListener() (*Socket, bool) {
	x := d.c.opt.Kernel
	if x == nil || x.View == nil || d.f.Client > SideB {
		return nil, false
	}
	ep := d.f.Endpoint(d.sv)
	addr := ep.Addr().Unmap()
	var best *Socket
	for i := range x.View.Sockets {
		s := &x.View.Sockets[i]
		if s.State != StateListen || s.Local.Port() != ep.Port() {
			continue
		}
		if a := s.Local.Addr().Unmap(); a == addr || a.IsUnspecified() {
			best = s
			if a == addr {
				break
			}
		}
	}
	if best == nil {
		return nil, false
	}
	if best.RecvQ > best.SendQ {
		return best, true
	}
	st := d.listenStats(best)
	return best, st != nil && st.OverflowsDelta > 0 && best.RecvQ >= best.SendQ
}

func (d *diag) listenStats(l *Socket) *ListenStats {
	x := d.c.opt.Kernel
	if l == nil || x == nil || x.View == nil {
		return nil
	}
	for i := range x.View.Namespaces {
		if x.View.Namespaces[i].Inode == l.NetNS {
			return &x.View.Namespaces[i].Listen
		}
	}
	return nil
}

// listenerText adds the kernel's queue figures to a wire-only finding.
func (d *diag) listenerText() string {
	l, _ := d.fullListener()
	return listenerNumbers(l, d.listenStats(l))
}

func listenerNumbers(l *Socket, st *ListenStats) string {
	if l == nil {
		return ""
	}
	s := " (" + strconv.FormatUint(uint64(l.RecvQ), 10) + " queued, backlog " + strconv.FormatUint(uint64(l.SendQ), 10)
	if st != nil && st.OverflowsDelta > 0 {
		s += "; " + strconv.FormatUint(st.OverflowsDelta, 10) + " overflows since the last poll"
	}
	return s + ")"
}

// answerWindow is how near in time another connection's answered SYN
// must be to call a listener alive while it ignored this one.
const answerWindow = 2e9

// answeredOthers counts the connections to the same server endpoint whose
// SYN was answered while this flow's SYNs went unanswered (from 2 s before
// the first to 2 s after the last), and says when.
func (d *diag) answeredOthers() (int, string) {
	e := d.endOf(d.sv)
	if e == nil {
		return 0, ""
	}
	from, to := d.f.FirstTS-answerWindow, d.f.LastTS+answerWindow
	lo, _ := slices.BinarySearch(e.answered, from)
	n, nearest := 0, int64(-1)
	for _, t := range e.answered[lo:] {
		if t > to {
			break
		}
		n++
		gap := t - d.f.FirstTS
		if gap < 0 {
			gap = -gap
		}
		if nearest < 0 || gap < nearest {
			nearest = gap
		}
	}
	if n == 0 {
		return 0, ""
	}
	return n, "within " + dur(nearest) + " of its first SYN"
}

// synRetry returns the retransmission of the client's SYN that the server
// answered, when the first SYN went unanswered (the SYN/ACK came after a
// retransmission at least 200 ms later); nil otherwise.
func (d *diag) synRetry() *Event {
	f, cl, sv := d.f, d.cl, d.sv
	if f.Dir[cl].SYN < 2 || f.Dir[sv].SYNACK == 0 || f.Dir[cl].Retransmission == 0 {
		return nil
	}
	for i := range f.Events {
		e := &f.Events[i]
		if e.Kind == EventRetransmission && e.Side == cl && e.TS-f.FirstTS >= 200e6 {
			// The SYN/ACK came after it: the handshake's first state
			// change of the server is later than the retransmission.
			if t := d.transitionTo(sv, StateSynReceived, StateEstablished); t == nil || t.TS >= e.TS {
				return e
			}
			return nil
		}
	}
	return nil
}
