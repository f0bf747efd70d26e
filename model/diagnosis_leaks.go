package model

import "strconv"

// The leak rules: sockets left in CLOSE-WAIT, TIME-WAIT churn and
// processes running out of file descriptors.

// closeWait reports a side left in CLOSE-WAIT: on the wire since the
// peer's FIN for at least CloseWait, or sooner when the same endpoint
// leaves every connection there (the pattern is the evidence); in the
// kernel with an owner and no traffic, also for sockets older than the
// capture (kernel-only rows).
func (d *diag) closeWait() {
	if d.f.Kind == FlowKernelOnly {
		d.closeWaitKernelOnly()
		return
	}
	for _, w := range [2]Side{SideA, SideB} {
		s := d.sock[w]
		if s != nil && s.State != StateCloseWait {
			continue // the kernel knows better: it moved on
		}
		if s != nil && s.Owner == OwnerKernel {
			continue // waiting in an accept queue: no process holds it
		}
		var since int64 = -1
		var frame uint64
		if d.f.State[w] == StateCloseWait {
			t := d.transitionTo(w, StateCloseWait)
			// A side that still sends data is half-closed by design (the
			// peer shut down its writing and waits for the answer).
			if t != nil && (d.facts == nil || d.facts.LastDataTS[w] < t.TS) {
				since, frame = d.end()-t.TS, t.Frame
			}
		}
		ev := EvidenceWire
		if s != nil && s.HasInfo {
			if idle := int64(min(s.Info.LastDataRecv, s.Info.LastDataSent)); idle > since {
				since, ev = idle, EvidenceBoth
			}
		}
		pattern := ""
		if since >= 0 && since < d.th.CloseWait {
			e := d.endOf(w)
			if e == nil || !e.leavesCloseWait(d.c.now, d.th) {
				continue
			}
			pattern = "; it leaves every connection there (" + plural(e.cwLeft, "connection") + " in CLOSE-WAIT, none closed, " +
				"the oldest for " + dur(d.c.now-e.cwOldest) + ")"
		}
		if since < 0 || since < d.th.CloseWait && pattern == "" {
			continue
		}
		d.addEv(FindingCloseWaitLeak, SeverityWarning, ev, w, d.role(w)+" has been in CLOSE-WAIT for "+dur(since)+
			" since the "+d.roleWord(w.Other())+"'s FIN, silent and not closing"+d.ownerText(s)+pattern+
			": its application never calls close()", frame)
	}
}

// leavesCloseWait reports an endpoint that left at least three
// connections in CLOSE-WAIT, closed none after its peer's FIN, and has
// held the oldest for at least Idle: a server that never calls close().
func (e *endpointFacts) leavesCloseWait(now int64, th *Thresholds) bool {
	return e.cwLeft >= 3 && e.cwClosed == 0 && now-e.cwOldest >= th.Idle
}

// closeWaitKernelOnly reports a socket no packet showed, in CLOSE-WAIT in
// the kernel for at least CloseWait: how long it has been silent (the
// kernel's last send or receive) or, at least, how long connscope has
// seen it.
func (d *diag) closeWaitKernelOnly() {
	s := d.sock[SideA]
	if s == nil || s.State != StateCloseWait || s.Owner == OwnerKernel {
		return
	}
	seen := d.end() - d.f.FirstTS
	since, how := seen, "seen by connscope in CLOSE-WAIT for "+dur(seen)
	if s.HasInfo {
		if idle := int64(min(s.Info.LastDataRecv, s.Info.LastDataSent)); idle > since {
			since, how = idle, "silent in CLOSE-WAIT for "+dur(idle)+" (the kernel's last send or receive)"
		}
	}
	pattern := ""
	if n := d.c.kernelCW[s.Local]; since < d.th.CloseWait && n >= 3 {
		pattern = ", one of " + strconv.Itoa(n) + " sockets of " + s.Local.String() + " the kernel lists in CLOSE-WAIT"
	}
	if since < d.th.CloseWait && pattern == "" {
		return
	}
	d.addEv(FindingCloseWaitLeak, SeverityWarning, EvidenceKernel, SideA, "socket "+d.f.A.String()+" (connected to "+d.f.B.String()+
		") has been "+how+pattern+d.ownerText(s)+"; no packet of it was seen since connscope started: its application never calls close()")
}

// ownerText is " (process nginx pid 12)" for a socket with a known owner.
func (d *diag) ownerText(s *Socket) string {
	if s == nil {
		return ""
	}
	if p := d.c.opt.Kernel.Process(s); p != nil {
		return " (process " + p.Command + " pid " + strconv.Itoa(int(p.PID)) + ")"
	}
	return ""
}

// churn reports a short connection among many from one address to one
// server endpoint, each leaving a TIME-WAIT on the active closer.
func (d *diag) churn() {
	k, ok := d.c.churnKey(d.f)
	if !ok {
		return
	}
	n := d.c.churn[k]
	if n < d.th.ChurnMinFlows {
		return
	}
	closer := SideA
	if d.f.State[SideB] == StateTimeWait {
		closer = SideB
	}
	if closer == d.f.Client {
		d.add(FindingTimeWaitChurn, SeverityInfo, closer, "client "+k.closer.String()+" opened "+strconv.Itoa(n)+
			" short connections to "+k.server.String()+" and closed each first: every one holds a TIME-WAIT socket "+
			"for 60 s on the client (reuse connections instead)", d.f.FirstFrame)
		return
	}
	d.add(FindingTimeWaitChurn, SeverityInfo, closer, "server "+k.server.String()+" closed "+strconv.Itoa(n)+
		" short connections first: every one holds a TIME-WAIT socket for 60 s on the server (let clients close first, "+
		"or keep connections alive)", d.f.FirstFrame)
}

func limitText(l uint64) string {
	if l == FDUnlimited {
		return "unlimited"
	}
	return strconv.FormatUint(l, 10)
}
