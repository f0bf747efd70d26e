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
		kr, said := d.kernelReset(x, r)
		if said {
			r.KernelReason = kr.Reason
		}
		l := FindingNone
		if said {
			l = d.resetByReason(r, kr)
		}
		if l == FindingNone {
			l = d.reset(r, said)
			if said {
				d.confirm(l, kr.Reason)
			}
		}
		if l != FindingNone {
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

// reset classifies the first RST of its sender from the wire and reports
// its finding; sent says this host's kernel recorded sending it (so no
// middlebox forged it).
func (d *diag) reset(r *Reset, sent bool) FindingLabel {
	f, x := d.f, r.From
	y := x.Other()
	cx, cy := &f.Dir[x], &f.Dir[y]
	if cx.Packets+cy.Packets <= uint64(cx.RST)+uint64(cy.RST) {
		return FindingNone // a lone RST: nothing says what it ended
	}
	if !sent && d.unsentLocalReset(x, r) {
		d.addEv(FindingMiddleboxInjected, SeverityCritical, EvidenceBoth, SideNone, "a RST claiming to come from "+d.role(x)+
			", on this host, was not sent by this host's TCP stack (its kernel traced every RST and recorded none for this "+
			"connection then): a middlebox on the path, or this host's own firewall, forged it", r.Frame)
		return FindingMiddleboxInjected
	}
	hop, hopKnown := d.facts.ResetHop(r.Frame)
	pathHop := hopKnown && hop.SenderHops > 0 && (hop.Delta != 0 || hop.ClassDiffers)
	if !sent && (r.MiddleboxSuspected || pathHop) {
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
		ev, kernelSaid := EvidenceWire, ""
		if d.listenOverflowAt(r.TS) {
			ev, kernelSaid = EvidenceBoth, "; the kernel dropped the handshake's ACK with TCP_LISTEN_OVERFLOW"
		}
		d.addEv(FindingAcceptQueueOverflow, SeverityCritical, ev, x, d.role(x)+" answered the handshake, then reset it from SYN-RECEIVED "+
			"when the client's ACK arrived: its listener's accept queue was full"+d.listenerText()+kernelSaid+
			" (the client saw connect() succeed, then a reset)", r.Frame)
		return FindingAcceptQueueOverflow
	case d.keepaliveBefore(x, r):
		return FindingKeepaliveTimeout
	}
	if fin := d.finOf(x); fin != nil && fin.Frame < r.Frame && d.facts == nil && r.Form == ResetStateless {
		// Without the timings, a stateless RST after its sender's FIN
		// answered the peer's writing: all the wire can say.
		d.add(FindingRSTAfterClose, SeverityWarning, x, d.role(x)+" had closed the connection, but the "+d.roleWord(y)+
			" kept writing; "+d.roleWord(x)+"'s stack answered with a RST (data lost)", fin.Frame, r.Frame)
		return FindingRSTAfterClose
	}
	if fin := d.finOf(x); fin != nil && fin.Frame < r.Frame && d.facts != nil && d.peerDataAfterFIN(x, fin) {
		switch {
		case d.raced(x, fin):
			d.add(FindingIdleTimeoutRace, SeverityWarning, x, d.role(x)+" closed the connection after "+dur(d.facts.FINQuiet[x])+
				" idle"+d.idleTimeoutText(x)+"; the "+d.nextData(y)+" "+d.crossText(x, y, fin)+" and drew a RST: the keep-alive race. "+
				raceConsequence(false), fin.Frame, d.facts.LastDataFrame[y], r.Frame)
			return FindingIdleTimeoutRace
		case d.requestLimit(x):
			d.add(FindingRequestLimitRace, SeverityWarning, x, d.role(x)+" closed the connection right after its answer to request "+
				strconv.Itoa(int(d.facts.Turns[x]))+d.limitText(x)+"; the "+d.nextData(y)+" "+d.crossText(x, y, fin)+
				" and drew a RST: the client read EOF instead of an answer (fix: the server announces the close with "+
				"Connection: close, or the client sends fewer requests per connection; retry idempotent requests)",
				fin.Frame, d.facts.LastDataFrame[y], r.Frame)
			return FindingRequestLimitRace
		case d.gaveUp(x):
			d.add(FindingClientTimeout, SeverityWarning, x, d.role(x)+" gave up "+dur(d.facts.FINQuiet[x])+" after its request "+
				"and closed; the "+d.roleWord(y)+"'s answer came "+dur(d.facts.LastDataTS[y]-fin.TS)+" later and drew a RST "+
				"(the "+d.roleWord(y)+" read EPIPE or ECONNRESET): it is slower than the "+d.roleWord(x)+"'s timeout",
				fin.Frame, d.facts.LastDataFrame[y], r.Frame)
			return FindingClientTimeout
		}
		d.add(FindingRSTAfterClose, SeverityWarning, x, d.role(x)+" had closed the connection, but the "+d.roleWord(y)+
			" kept writing"+d.dataAfterFIN(y, fin.TS)+"; "+d.roleWord(x)+"'s stack answered with a RST (data lost)",
			fin.Frame, d.factsFrame(y), r.Frame)
		return FindingRSTAfterClose
	}
	if fin := d.finOf(x); fin != nil && fin.Frame < r.Frame && r.Form == ResetStateless {
		// No data after the FIN: the peer's ACK or FIN met a socket x's
		// stack had already dropped.
		d.add(FindingRSTAfterClose, SeverityInfo, x, d.role(x)+" had closed the connection and dropped its socket "+
			dur(r.TS-fin.TS)+" after its FIN; the "+d.roleWord(y)+"'s later segment drew a RST from its stack (no data lost: "+
			"the "+d.roleWord(y)+" may read ECONNRESET instead of EOF)", fin.Frame, r.Frame)
		return FindingRSTAfterClose
	}
	if d.limitUnread(x, r) {
		ff := d.facts
		d.add(FindingRequestLimitRace, SeverityWarning, x, d.role(x)+" closed the connection right after its answer to request "+
			strconv.Itoa(int(ff.Turns[x]))+d.limitText(x)+"; the "+d.nextData(y)+" came "+dur(ff.LastDataTS[y]-ff.LastDataTS[x])+
			" after that answer, before the close, which found it unread and sent a RST: the client read ECONNRESET "+
			"instead of an answer (fix: the server announces the close with Connection: close, or the client sends fewer "+
			"requests per connection; retry idempotent requests)", ff.LastDataFrame[x], ff.LastDataFrame[y], r.Frame)
		return FindingRequestLimitRace
	}
	if d.raceUnread(x, r) {
		p := d.facts.Pause
		d.add(FindingIdleTimeoutRace, SeverityWarning, x, d.role(x)+" reset the connection "+dur(r.TS-p.To)+" after the "+
			d.nextData(y)+", which came after "+dur(p.To-p.From)+" idle"+d.idleTimeoutText(x)+": it was closing the idle "+
			"connection as the request arrived, unread: the keep-alive race. "+raceConsequence(true), p.Frame, r.Frame)
		return FindingIdleTimeoutRace
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

// abort tells a close with unread data from an abortive close when a fact
// decides: the kernel's receive queue, or its abort counters. The wire
// alone cannot: a close() with input unread and an SO_LINGER 0 abort send
// the same RST, so without a fact the finding is abortive_close and names
// both causes, with the timing that makes one likelier.
func (d *diag) abort(r *Reset) FindingLabel {
	x := r.From
	y := x.Other()
	if s := d.sock[x]; s != nil && s.RecvQ > 0 {
		d.addEv(FindingCloseWithUnreadData, SeverityWarning, EvidenceBoth, x, d.role(x)+" reset the connection instead of closing it with "+
			strconv.FormatUint(uint64(s.RecvQ), 10)+" bytes of the "+d.roleWord(y)+"'s data unread (the kernel's Recv-Q): "+
			"its application closed with unread input", r.Frame)
		return FindingCloseWithUnreadData
	}
	switch d.abortCounter(x, r) {
	case abortUnread:
		d.addEv(FindingCloseWithUnreadData, SeverityWarning, EvidenceBoth, x, d.role(x)+" reset the connection instead of closing it"+
			d.afterPeerData(y, r)+": its application closed with unread input (the kernel counted a close with unread data, "+
			"TCPAbortOnClose, and no other abort between the polls around it)", d.factsFrame(y), r.Frame)
		return FindingCloseWithUnreadData
	case abortLinger:
		d.addEv(FindingAbortiveClose, SeverityInfo, EvidenceBoth, x, d.role(x)+" aborted the connection with a RST instead of a FIN"+
			d.afterQuiet(r)+": SO_LINGER 0 (the kernel counted a linger-0 abort, TCPAbortOnData, and no other abort between the polls around it)", r.Frame)
		return FindingAbortiveClose
	}
	timing := d.afterQuiet(r)
	sev := SeverityInfo
	likelier := "a linger-0 abort or a killed process is likelier after a quiet"
	if ff := d.facts; ff != nil && ff.LastDataTS[y] != 0 && r.TS >= ff.LastDataTS[y] && r.TS-ff.LastDataTS[y] < d.th.Idle &&
		!(ff.Pause.Frame == r.Frame && ff.Pause.To-ff.Pause.From >= d.th.Idle) {
		timing = d.afterPeerData(y, r)
		likelier = "unread input is likelier this soon after the " + d.roleWord(y) + "'s data"
		sev = SeverityWarning // mid-exchange: the peer read a reset
	}
	d.add(FindingAbortiveClose, sev, x, d.role(x)+" aborted the connection with a RST instead of a FIN"+timing+
		": either its application closed with the "+d.roleWord(y)+"'s data unread, or it set SO_LINGER 0 (or was killed, or ss -K); "+
		"the wire cannot tell them apart ("+likelier+"); the kernel's reason for the RST, or its Recv-Q before the close, does",
		d.factsFrame(y), r.Frame)
	return FindingAbortiveClose
}

// afterPeerData is " 100 ms after the client's last data", or "".
func (d *diag) afterPeerData(y Side, r *Reset) string {
	if d.facts == nil || d.facts.LastDataTS[y] == 0 || r.TS < d.facts.LastDataTS[y] {
		return ""
	}
	return ", " + dur(r.TS-d.facts.LastDataTS[y]) + " after the " + d.roleWord(y) + "'s last data"
}

// afterQuiet is " after 1.5 s idle" when a long quiet ended with the RST,
// or "".
func (d *diag) afterQuiet(r *Reset) string {
	if d.facts == nil {
		return ""
	}
	if p := d.facts.Pause; p.Frame == r.Frame && p.To-p.From >= d.th.Idle {
		return " after " + dur(p.To-p.From) + " idle"
	}
	return ""
}

// abortKind is what the kernel's abort counters say of a RST.
type abortKind uint8

const (
	abortUnknown abortKind = iota
	abortUnread            // TCPAbortOnClose alone moved: closed with unread input
	abortLinger            // TCPAbortOnData alone moved: SO_LINGER 0
)

// abortCounter reads the abort counters of the namespace of x's socket
// over the poll interval that holds the RST: exactly one kind of abort
// counted there tells which it was; none, or several kinds, tells nothing.
func (d *diag) abortCounter(x Side, r *Reset) abortKind {
	ns := d.nsOf(x)
	if ns == nil {
		return abortUnknown
	}
	iv, ok := ns.Aborts.At(r.TS)
	if !ok {
		return abortUnknown
	}
	switch {
	case iv.OnClose > 0 && iv.OnData == 0:
		return abortUnread
	case iv.OnData > 0 && iv.OnClose == 0:
		return abortLinger
	}
	return abortUnknown
}

// nsOf returns the namespace of side s in the kernel view: its socket's,
// or, when the socket is gone (a RST closed it), the namespace of another
// socket on s's address (its listener); nil when none is there.
func (d *diag) nsOf(s Side) *NetNS {
	x := d.c.opt.Kernel
	if x == nil || x.View == nil || x.View.OwnersOnly {
		return nil
	}
	sock := d.sock[s]
	if sock == nil {
		addr := d.f.Endpoint(s).Addr().Unmap()
		for i := range x.View.Sockets {
			if x.View.Sockets[i].Local.Addr().Unmap() == addr {
				sock = &x.View.Sockets[i]
				break
			}
		}
	}
	if sock == nil {
		return nil
	}
	for i := range x.View.Namespaces {
		if x.View.Namespaces[i].Inode == sock.NetNS {
			return &x.View.Namespaces[i]
		}
	}
	return nil
}

// peerDataAfterFIN reports whether y sent data after x's FIN or crossed
// it (sent before the FIN arrived, unacknowledged by it).
func (d *diag) peerDataAfterFIN(x Side, fin *Transition) bool {
	y := x.Other()
	return d.facts.LastDataTS[y] > fin.TS || d.facts.FINCrossed[x] && d.facts.LastDataTS[y] != 0
}

// crossText says how the peer's data met x's FIN: "came 48 ms after the
// FIN", "crossed the FIN on the wire".
func (d *diag) crossText(x, y Side, fin *Transition) string {
	if d.facts.LastDataTS[y] > fin.TS && !d.facts.FINCrossed[x] {
		return "came " + dur(d.facts.LastDataTS[y]-fin.TS) + " after the FIN"
	}
	return "crossed the FIN on the wire"
}

// raceConsequence says what the client's code saw and the fix.
func raceConsequence(unread bool) string {
	saw := "the client read EOF before any answer (Go: EOF or \"server closed idle connection\"; Python: RemoteDisconnected or an empty read)"
	if unread {
		saw = "the client read \"connection reset by peer\" (Go: read: connection reset by peer; Python: ConnectionResetError)"
	}
	return "The " + saw[len("the "):] + ". Fix: keep the client's idle timeout below the server's, and retry idempotent requests"
}

// idleTimeoutText is " (its idle timeout: it closed 3 connections after
// at least 2.0 s idle)" when the capture shows the endpoint closing others
// that way, else " (its idle timeout)".
func (d *diag) idleTimeoutText(x Side) string {
	e := d.endOf(x)
	if e == nil || e.idleN < 2 {
		return " (its idle timeout)"
	}
	return " (its idle timeout: it closed " + plural(e.idleN, "connection") + " after at least " + dur(e.idleMin) + " idle)"
}

// raceUnread reports the first ordering of the keep-alive race: the peer's
// request came after an idle gap of the order of x's idle timeout, x sent
// nothing after it, and x's RST followed within Idle: x was closing the
// idle connection when the request arrived, and reset it unread.
func (d *diag) raceUnread(x Side, r *Reset) bool {
	ff := d.facts
	if ff == nil || !synchronized(r.SenderState) {
		return false
	}
	y := x.Other()
	p := ff.Pause
	if p.Side != y || !p.Data || p.Frame != ff.LastDataFrame[y] || r.TS < p.To || r.TS-p.To >= d.th.Idle {
		return false
	}
	if ff.LastDataTS[x] > p.To || d.f.Client != y {
		return false // x answered, or x is the client: no idle server closing
	}
	return p.To-p.From >= d.idleGapMin(x)
}

// limitUnread reports the other ordering of the request-limit race: x
// (the server) answered as many requests on this keep-alive connection as
// it answers on others before it closes them (its learned limit), the
// client's next request arrived before x's close, and the close reset the
// connection with that request unread, no FIN first. Without the limit
// seen on other connections the wire cannot tell this from any close with
// unread data.
func (d *diag) limitUnread(x Side, r *Reset) bool {
	ff := d.facts
	if ff == nil || x == d.f.Client || d.f.Client > SideB || !synchronized(r.SenderState) || d.finOf(x) != nil {
		return false
	}
	y := x.Other()
	if ff.Turns[x] < 2 || ff.LastDataTS[x] == 0 || ff.LastDataTS[y] <= ff.LastDataTS[x] || r.TS < ff.LastDataTS[y] ||
		r.TS-ff.LastDataTS[x] >= d.th.Idle {
		return false
	}
	e := d.endOf(x)
	return e != nil && e.limitN > 0 && ff.Turns[x] >= e.limitTurns
}

// idleGapMin is the quiet that makes a race of a request: most of x's
// learned idle timeout, or Idle when the capture shows none.
func (d *diag) idleGapMin(x Side) int64 {
	if e := d.endOf(x); e != nil && e.idleN > 0 {
		return max(e.idleMin*4/5, d.th.Idle)
	}
	return d.th.Idle
}

// requestLimit reports x (the server) closing right after its own answer
// to a keep-alive connection that had carried several requests: a
// per-connection request limit.
func (d *diag) requestLimit(x Side) bool {
	ff := d.facts
	return x != d.f.Client && d.f.Client <= SideB && ff.FINAfterOwnData[x] && ff.Turns[x] >= 2 &&
		ff.FINQuiet[x] >= 0 && ff.FINQuiet[x] < d.th.Idle && !d.closedToo(x.Other())
}

// closedToo reports y closing on its own, its FIN no answer to its peer's
// (both sides closing at once, as in a TLS close_notify exchange): its
// last data was a goodbye, not a request waiting for an answer.
func (d *diag) closedToo(y Side) bool {
	t := d.finOf(y)
	return t != nil && t.To != StateLastAck
}

// limitText is " (it closes every connection after 5 answers: 2 seen)"
// when other connections show the same count.
func (d *diag) limitText(x Side) string {
	e := d.endOf(x)
	if e == nil || e.limitN < 2 {
		return ""
	}
	return " (it closed " + plural(e.limitN, "connection") + " after " + strconv.Itoa(int(e.limitTurns)) + " or more answers: a request limit per connection)"
}

// gaveUp reports x (the client) closing while its own request was
// unanswered, after waiting for it.
func (d *diag) gaveUp(x Side) bool {
	ff := d.facts
	const minWait = 100e6 // a timeout, not a close right after writing
	return x == d.f.Client && ff.FINAfterOwnData[x] && ff.FINQuiet[x] >= minWait && !ff.FINCrossed[x]
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

// raced reports the keep-alive race: x sent its FIN after an idle quiet
// (at least Idle, of the order of its learned idle timeout), and the
// peer's data crossed the FIN or followed it within Idle (already on its
// way, or sent before the peer's application saw the FIN).
func (d *diag) raced(x Side, fin *Transition) bool {
	ff := d.facts
	y := x.Other()
	// FINQuiet below Idle first: idleGapMin is never less, and costs a
	// lookup of the endpoint.
	if ff == nil || ff.FINQuiet[x] < d.th.Idle || ff.FINQuiet[x] < d.idleGapMin(x) || x == d.f.Client && !d.f.RoleInferred {
		return false // no idle spell, or the client closed: no server's idle timeout
	}
	if ff.FINCrossed[x] && ff.LastDataTS[y] != 0 {
		return true
	}
	return ff.LastDataTS[y] > fin.TS && ff.LastDataTS[y]-fin.TS <= d.th.Idle
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
