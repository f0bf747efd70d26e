package model

import "strconv"

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
			d.add(FindingAcceptQueueOverflow, SeverityCritical, sv, d.role(sv)+" never answered "+n+" SYNs over "+span+
				": its listener's accept queue is full"+listenerNumbers(l, d.listenStats(l)), f.FirstFrame, f.LastFrame)
			return
		}
		d.add(FindingSYNTimeout, SeverityCritical, sv, d.role(sv)+" never answered: "+n+" SYNs over "+span+
			" (filtered or blackholed)", f.FirstFrame, f.LastFrame)
		return
	}
	if s := d.sock[sv]; full && s != nil && s.Owner == OwnerKernel && f.Dir[sv].PayloadBytes == 0 &&
		(s.State == StateEstablished || s.State == StateCloseWait) {
		d.add(FindingAcceptQueueOverflow, SeverityCritical, sv, "the connection waits in the accept queue of "+d.role(sv)+
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
