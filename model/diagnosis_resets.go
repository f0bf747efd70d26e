package model

import (
	"strconv"
	"strings"
)

// The reset rules: each RST's cause, from its wire form, the sender's
// state and the timing around it (middlebox forgeries and idle drops,
// refusals, accept-queue overflows, keep-alive timeouts, writes after
// close, lost peers and aborts).

// resets explains each RST and reports the finding it supports.
func (d *diag) resets() {
	var sent [2]bool
	for i := range d.f.Resets {
		r := &d.f.Resets[i]
		x := r.From
		if x > SideB {
			continue
		}
		if sent[x] || sent[x.Other()] {
			// The stack answering after an earlier RST of the flow.
			r.Cause = CauseAfterReset
			sent[x] = true
			continue
		}
		sent[x] = true
		if x == d.cl && d.f.Client <= SideB && r.SenderState == StateSynSent {
			r.Cause = CauseHalfOpenRecovery
			continue
		}
		if l := d.reset(r); l != FindingNone {
			r.Cause = l.String()
		}
	}
}

// synchronized reports a state in which an abort sends a socket RST.
func synchronized(s State) bool {
	switch s {
	case StateEstablished, StateCloseWait, StateFinWait1, StateFinWait2, StateClosing, StateLastAck:
		return true
	}
	return false
}

// reset classifies the first RST of its sender and reports its finding.
func (d *diag) reset(r *Reset) FindingLabel {
	f, x := d.f, r.From
	y := x.Other()
	cx, cy := &f.Dir[x], &f.Dir[y]
	if cx.Packets+cy.Packets <= uint64(cx.RST)+uint64(cy.RST) {
		return FindingNone // a lone RST: nothing says what it ended
	}
	hop, hopKnown := d.facts.ResetHop(r.Frame)
	pathHop := hopKnown && hop.SenderHops > 0 && (hop.Delta != 0 || hop.ClassDiffers)
	if r.MiddleboxSuspected || pathHop {
		if p, ok := d.idleBefore(y, r.TS); ok {
			d.add(FindingMiddleboxIdleDrop, SeverityCritical, SideNone, d.role(y)+" sent data after "+dur(p.To-p.From)+
				" idle and a RST in the name of "+d.role(x)+" answered it from "+hopText(hop, hopKnown)+
				": a NAT or firewall on the path had dropped the idle connection", p.Frame, r.Frame)
			return FindingMiddleboxIdleDrop
		}
		d.add(FindingMiddleboxInjected, SeverityCritical, SideNone, "a RST claiming to come from "+d.role(x)+
			" was not sent by it ("+d.forgeryText(r, hop, hopKnown)+"): a middlebox on the path forged it", r.Frame)
		return FindingMiddleboxInjected
	}
	switch {
	case x == d.sv && cx.SYNACK == 0 && cy.SYN > 0 && cx.PayloadBytes == 0 && cy.PayloadBytes == 0 && cx.Packets == uint64(cx.RST):
		after := ""
		if g := r.TS - f.FirstTS; g >= 0 {
			after = " (RST " + dur(g) + " after the SYN)"
		}
		d.add(FindingRefused, SeverityWarning, x, d.role(x)+" refused the connection: nothing listens on port "+
			strconv.Itoa(int(f.Endpoint(x).Port()))+", or a firewall rejects it"+after, f.FirstFrame, r.Frame)
		return FindingRefused
	case x == d.sv && cx.SYNACK > 0 && cx.PayloadBytes == 0 && r.Form == ResetStateless &&
		cx.Packets == uint64(cx.SYNACK)+uint64(cx.RST) && cy.Packets > uint64(cy.SYN):
		d.add(FindingAcceptQueueOverflow, SeverityCritical, x, d.role(x)+" answered the handshake, then reset it from SYN-RECEIVED "+
			"when the client's ACK arrived: its listener's accept queue was full"+d.listenerText()+
			" (the client saw connect() succeed, then a reset)", r.Frame)
		return FindingAcceptQueueOverflow
	case d.keepaliveBefore(x, r):
		return FindingKeepaliveTimeout
	}
	if fin := d.finOf(x); fin != nil && fin.Frame < r.Frame && r.Form == ResetStateless {
		if d.raced(x, fin) {
			d.add(FindingIdleTimeoutRace, SeverityWarning, x, d.role(x)+" closed the connection after "+dur(d.facts.FINQuiet[x])+
				" idle (its idle timeout); the "+d.nextData(y)+" came "+dur(d.facts.LastDataTS[y]-fin.TS)+
				" after the FIN and drew a RST: the keep-alive race", fin.Frame, d.facts.LastDataFrame[y], r.Frame)
			return FindingIdleTimeoutRace
		}
		d.add(FindingRSTAfterClose, SeverityWarning, x, d.role(x)+" had closed the connection, but the "+d.roleWord(y)+
			" kept writing"+d.dataAfterFIN(y, fin.TS)+"; "+d.roleWord(x)+"'s stack answered with a RST (data lost)",
			fin.Frame, d.factsFrame(y), r.Frame)
		return FindingRSTAfterClose
	}
	if r.Form == ResetStateless && (synchronized(r.SenderState) || cx.SYN+cx.SYNACK > 0) {
		d.add(FindingHalfOpenPeerLost, SeverityWarning, x, d.role(x)+" had no socket for the connection any more: "+
			"its stack answered the "+d.roleWord(y)+"'s data with a stateless RST (it lost the connection without a FIN: "+
			"restart, crash, or a reset that never arrived)", d.factsFrame(y), r.Frame)
		return FindingHalfOpenPeerLost
	}
	if !synchronized(r.SenderState) {
		return FindingNone
	}
	return d.abort(r)
}

// abort tells a close with unread data from an abortive close: the kernel's
// receive queue when known, else the timing (a RST within Idle of the
// peer's data, or after at least Idle of quiet).
func (d *diag) abort(r *Reset) FindingLabel {
	x := r.From
	y := x.Other()
	if s := d.sock[x]; s != nil && s.RecvQ > 0 {
		d.add(FindingCloseWithUnreadData, SeverityWarning, x, d.role(x)+" reset the connection instead of closing it with "+
			strconv.FormatUint(uint64(s.RecvQ), 10)+" bytes of the "+d.roleWord(y)+"'s data unread (Recv-Q): its application closed with unread input",
			r.Frame)
		return FindingCloseWithUnreadData
	}
	if ff := d.facts; ff != nil {
		p := ff.Pause
		idle := p.Frame == r.Frame && p.To-p.From >= d.th.Idle
		if !idle && ff.LastDataTS[y] != 0 && r.TS-ff.LastDataTS[y] < d.th.Idle && r.TS >= ff.LastDataTS[y] {
			d.add(FindingCloseWithUnreadData, SeverityWarning, x, d.role(x)+" reset the connection instead of closing it, "+
				dur(r.TS-ff.LastDataTS[y])+" after the "+d.roleWord(y)+"'s last data: most likely its application closed with unread input "+
				"(an SO_LINGER 0 abort right after reading looks the same on the wire; the kernel's Recv-Q tells them apart)",
				ff.LastDataFrame[y], r.Frame)
			return FindingCloseWithUnreadData
		}
		if idle {
			d.add(FindingAbortiveClose, SeverityInfo, x, d.role(x)+" aborted the connection with a RST instead of a FIN after "+
				dur(p.To-p.From)+" idle (SO_LINGER 0, a killed process or ss -K)", r.Frame)
			return FindingAbortiveClose
		}
	}
	d.add(FindingAbortiveClose, SeverityInfo, x, d.role(x)+" aborted the connection with a RST instead of a FIN "+
		"(SO_LINGER 0, a killed process, or close() with unread input)", r.Frame)
	return FindingAbortiveClose
}

// keepaliveBefore reports a keep-alive timeout, and records its finding:
// x probed, the peer never answered the probes, and x then reset.
func (d *diag) keepaliveBefore(x Side, r *Reset) bool {
	y := x.Other()
	cx, cy := &d.f.Dir[x], &d.f.Dir[y]
	if cx.KeepAlive == 0 || cy.KeepAliveAck >= cx.KeepAlive || cy.ZeroWindow > 0 {
		return false
	}
	var first, last *Event
	probes := uint32(0)
	for i := range d.f.Events {
		e := &d.f.Events[i]
		if e.Kind == EventKeepAlive && e.Side == x && e.Frame < r.Frame {
			if first == nil {
				first = e
			}
			last = e
			probes += e.Count
		}
	}
	if first == nil {
		return false
	}
	d.add(FindingKeepaliveTimeout, SeverityWarning, x, d.role(x)+" reset the connection after "+strconv.Itoa(int(probes))+
		" unanswered keep-alive probes over "+dur(r.TS-first.TS)+": the "+d.roleWord(y)+" or the path went silent",
		first.Frame, last.Frame, r.Frame)
	return true
}

// idleBefore returns the pause that y's data ended just before t, when it
// lasted at least IdleDrop.
func (d *diag) idleBefore(y Side, t int64) (Pause, bool) {
	if d.facts == nil {
		return Pause{}, false
	}
	p := d.facts.Pause
	ok := p.Side == y && p.Data && p.To-p.From >= d.th.IdleDrop && t >= p.To && t-p.To <= d.th.Idle
	return p, ok
}

func (d *diag) forgeryText(r *Reset, hop ResetHop, hopKnown bool) string {
	var sig []string
	if hopKnown && (hop.Delta != 0 || hop.ClassDiffers) {
		sig = append(sig, hopText(hop, true))
	} else if r.TTLMismatch {
		sig = append(sig, "TTL unlike its other packets")
	}
	if r.IPIDMismatch {
		sig = append(sig, "IP ID out of its sequence")
	}
	if r.MiddleboxSuspected {
		sig = append(sig, "its traffic or signals contradict it")
	}
	return strings.Join(sig, "; ")
}

func hopText(h ResetHop, known bool) string {
	switch {
	case !known:
		return "the path"
	case h.ClassDiffers:
		return "another initial TTL than the sender's"
	case h.Delta < 0:
		return plural(-int(h.Delta), "hop") + " closer than the sender"
	case h.Delta > 0:
		return plural(int(h.Delta), "hop") + " farther than the sender"
	}
	return "the sender's distance"
}

// raced reports the keep-alive race: x sent its FIN after at least Idle of
// quiet, and the peer's data followed the FIN within Idle (it was already
// on its way, or sent before the peer's application saw the FIN).
func (d *diag) raced(x Side, fin *Transition) bool {
	ff := d.facts
	y := x.Other()
	return ff != nil && ff.FINQuiet[x] >= d.th.Idle && ff.LastDataTS[y] > fin.TS && ff.LastDataTS[y]-fin.TS <= d.th.Idle
}

// nextData names what the peer sent next: a client's request, a server's
// data.
func (d *diag) nextData(y Side) string {
	if d.f.Client <= SideB && y == d.f.Client {
		return "client's next request"
	}
	return d.roleWord(y) + "'s next data"
}

func (d *diag) dataAfterFIN(y Side, t int64) string {
	if d.facts == nil || d.facts.LastDataTS[y] < t {
		return ""
	}
	return " (" + dur(d.facts.LastDataTS[y]-t) + " after the FIN)"
}

func (d *diag) factsFrame(s Side) uint64 {
	if d.facts == nil {
		return 0
	}
	return d.facts.LastDataFrame[s]
}
