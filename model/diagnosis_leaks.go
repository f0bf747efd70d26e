package model

import "strconv"

// The leak rules: sockets left in CLOSE-WAIT, TIME-WAIT churn and
// processes running out of file descriptors.

// closeWait reports a side left in CLOSE-WAIT: on the wire since the
// peer's FIN, or in the kernel with an owner and no traffic.
func (d *diag) closeWait() {
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
		if s != nil && s.HasInfo {
			idle := min(s.Info.LastDataRecv, s.Info.LastDataSent)
			since = max(since, int64(idle))
		}
		if since < d.th.CloseWait {
			continue
		}
		owner := ""
		if s != nil {
			if p := d.c.opt.Kernel.Process(s); p != nil {
				owner = " (process " + p.Command + " pid " + strconv.Itoa(int(p.PID)) + ")"
			}
		}
		d.add(FindingCloseWaitLeak, SeverityWarning, w, d.role(w)+" has been in CLOSE-WAIT for "+dur(since)+
			" since the "+d.roleWord(w.Other())+"'s FIN, silent and not closing"+owner+": its application never calls close()", frame)
	}
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
	d.add(FindingTimeWaitChurn, SeverityInfo, closer, d.roleWord(closer)+" "+k.closer.String()+" opened "+strconv.Itoa(n)+
		" short connections to "+k.server.String()+" and closed each first: every one holds a TIME-WAIT socket "+
		"for 60 s (reuse connections instead)", d.f.FirstFrame)
}

// fdLeak reports a connection whose owning process's fd count climbs to
// its limit.
func (d *diag) fdLeak() {
	x := d.c.opt.Kernel
	if x == nil {
		return
	}
	for _, s := range [2]Side{SideA, SideB} {
		p := x.Process(d.sock[s])
		if p == nil || p.FDGrowthPerMin < d.th.FDLeakMinPerMin || p.SecondsToLimit < 0 || p.SecondsToLimit > d.th.FDLeakHorizon {
			continue
		}
		left := "it has reached it (new sockets and files fail with EMFILE)"
		if p.SecondsToLimit > 0 {
			left = "at this rate it runs out in " + dur(int64(p.SecondsToLimit*1e9))
		}
		sev := SeverityWarning
		if p.SecondsToLimit < 600 {
			sev = SeverityCritical
		}
		d.add(FindingFDLeak, sev, s, "process "+p.Command+" (pid "+strconv.Itoa(int(p.PID))+"), owner of the "+d.roleWord(s)+
			" socket, holds "+strconv.Itoa(p.FDs)+" fds of its limit "+limitText(p.FDSoftLimit)+", growing "+
			strconv.FormatFloat(p.FDGrowthPerMin, 'f', 0, 64)+" per minute: "+left)
	}
}

func limitText(l uint64) string {
	if l == FDUnlimited {
		return "unlimited"
	}
	return strconv.FormatUint(l, 10)
}
