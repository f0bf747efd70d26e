package model

import "strconv"

// The data-path rules: zero-window stalls, loss, idle drops by the path
// and the keep-alive race ending in EOF.

// zeroWindow reports a side whose window stayed at zero for ZeroWindow,
// while data could still flow to it (no FIN from either side yet: some
// stacks close their window as they close).
func (d *diag) zeroWindow() {
	closing := uint64(0)
	for _, s := range [2]Side{SideA, SideB} {
		if t := d.finOf(s); t != nil && (closing == 0 || t.Frame < closing) {
			closing = t.Frame
		}
	}
	for _, z := range [2]Side{SideA, SideB} {
		var start *Event
		var best int64
		var from, to uint64
		for i := range d.f.Events {
			e := &d.f.Events[i]
			if e.Side != z {
				continue
			}
			switch e.Kind {
			case EventZeroWindowStart:
				if closing == 0 || e.Frame < closing {
					start = e
				}
			case EventZeroWindowEnd:
				if start != nil && e.TS-start.TS > best {
					best, from, to = e.TS-start.TS, start.Frame, e.Frame
				}
				start = nil
			}
		}
		if start != nil && d.f.ZeroWindowNow[z] && d.end()-start.TS > best {
			best, from, to = d.end()-start.TS, start.Frame, 0
		}
		if best >= d.th.ZeroWindow {
			still := ""
			if to == 0 {
				still = " (still closed)"
			}
			d.add(FindingZeroWindowStall, SeverityWarning, z, d.role(z)+" advertised a zero window for "+dur(best)+still+
				": its application stopped reading", from, to)
		}
	}
}

// loss reports a direction whose retransmissions pass the thresholds.
func (d *diag) loss() {
	for _, s := range [2]Side{SideA, SideB} {
		c := &d.f.Dir[s]
		n := c.Retransmission + c.FastRetransmission
		if n < d.th.LossMinRetrans || c.Packets < d.th.LossMinPackets ||
			float64(n)*100 < d.th.LossMinPercent*float64(c.Packets) {
			continue
		}
		pct := float64(n) * 100 / float64(c.Packets)
		sev := SeverityWarning
		if pct >= 10 {
			sev = SeverityCritical
		}
		text := d.role(s) + " retransmitted " + strconv.Itoa(int(n)) + " of " + strconv.FormatUint(c.Packets, 10) +
			" segments (" + strconv.FormatFloat(pct, 'f', 1, 64) + "%; " + strconv.Itoa(int(c.FastRetransmission)) +
			" fast, " + strconv.Itoa(int(c.Retransmission)) + " plain)"
		if d.facts != nil && d.facts.MaxRTO[s] >= 1e6 {
			text += "; it waited up to " + dur(d.facts.MaxRTO[s]) + " after the " + d.roleWord(s.Other()) + "'s last packet before resending (RTO)"
		}
		d.add(FindingLossRetransmit, sev, s, text, d.eventFrames(EventRetransmission, s, 3)...)
	}
}

// eventFrames returns the frames of the first n events of a kind from s.
func (d *diag) eventFrames(k EventKind, s Side, n int) []uint64 {
	var out []uint64
	for i := range d.f.Events {
		if e := &d.f.Events[i]; e.Kind == k && e.Side == s && len(out) < n {
			out = append(out, e.Frame)
		}
	}
	return out
}

// idleDrop: after a long pause a side's data is retransmitted and the
// peer never sends anything again: the path forgot the connection.
func (d *diag) idleDrop() {
	ff := d.facts
	if ff == nil || len(d.f.Resets) > 0 {
		return
	}
	p := ff.Pause
	if !p.Data || p.Side > SideB || p.To-p.From < d.th.IdleDrop {
		return
	}
	x, y := p.Side, p.Side.Other()
	if ff.LastTS[y] >= p.To || d.f.Dir[x].Retransmission == 0 {
		return
	}
	resent := d.eventFrames(EventRetransmission, x, 1)
	d.add(FindingMiddleboxIdleDrop, SeverityCritical, SideNone, "after "+dur(p.To-p.From)+" idle, "+d.role(x)+"'s data was "+
		"retransmitted "+strconv.Itoa(int(d.f.Dir[x].Retransmission))+" times and never answered (the "+d.roleWord(y)+
		" had been silent since): a NAT or firewall on the path dropped the idle connection", append([]uint64{p.Frame}, resent...)...)
}

// idleRaceEOF: a side closed after being idle and the peer's request came
// after the FIN, without a RST (the peer read EOF).
func (d *diag) idleRaceEOF() {
	ff := d.facts
	if ff == nil || d.has(FindingIdleTimeoutRace) || d.has(FindingRSTAfterClose) {
		return
	}
	for _, x := range [2]Side{SideA, SideB} {
		y := x.Other()
		fin := d.finOf(x)
		if fin == nil || !d.raced(x, fin) {
			continue
		}
		if yf := d.finOf(y); yf != nil && yf.TS < fin.TS {
			continue // x only answered the peer's close
		}
		d.add(FindingIdleTimeoutRace, SeverityWarning, x, d.role(x)+" closed the connection after "+dur(ff.FINQuiet[x])+
			" idle (its idle timeout); the "+d.nextData(y)+" came "+dur(ff.LastDataTS[y]-fin.TS)+
			" after the FIN: the keep-alive race", fin.Frame, ff.LastDataFrame[y])
	}
}
