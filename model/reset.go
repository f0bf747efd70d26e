package model

import "strings"

// This file attributes each RST (docs/tcp-analysis.md §4.4 and §5): the
// sender's state, the wire form that tells which code path of the sender's
// stack produced it, whether the receiver accepted it, and the signals that
// it may not come from the endpoint whose address it carries.

// rstSignal is one piece of evidence that a RST was not sent by the
// endpoint whose address it carries (§5.3 E). No single signal is proof.
type rstSignal uint8

const (
	rsigTTL       rstSignal = 1 << iota // TTL class or hop count unlike the sender's other packets
	rsigIPID                            // socket-path RST whose IP ID does not continue the sender's
	rsigOptions                         // timestamps negotiated, yet neither Linux form (no TS, not stateless)
	rsigSeq                             // seq far from the sender's highest sequence sent
	rsigRace                            // the claimed sender kept talking after it (counts double)
	rsigFast                            // came sooner after the receiver's last segment than the path allows
	numRSTSignals = iota
)

var rstSignalNames = [numRSTSignals]string{"ttl", "ip-id", "options", "seq", "race", "too-fast"}

// resetRec bits.
const (
	rrEffective uint8 = 1 << iota
	rrTTL
	rrIPID
	rrMiddlebox
	rrLocal    // sent by the capturing host (hop count 0 like its other packets)
	rrHopKnown // the sender's hop count was known: hopDelta, senderHops valid
	rrHopClass // the RST's initial TTL class differs from the sender's
)

// resetRec is the compact form of a Reset kept in a flow's ring.
type resetRec struct {
	ts          int64
	frame       uint64
	from        Side
	senderState State
	form        ResetForm
	bits        uint8
	signals     rstSignal
	hopDelta    int8  // ResetHop.Delta
	senderHops  uint8 // ResetHop.SenderHops
}

// rstPending follows the flow's latest RST, so that later segments can
// prove it forged (its claimed sender keeps talking) or ineffective (its
// receiver keeps sending new data). Its zero value (not active) is a flow
// without one.
type rstPending struct {
	abs, evAbs uint64 // ring indexes of its record and its event
	ts         int64
	seq        uint32 // the RST's seq
	yNext      uint32 // the receiver's highest sequence sent at the RST
	from       Side
	active     bool
	raced      bool
	yClosed    bool // it closed the receiver
	xClosed    bool // it closed its sender
	yPrev      State
	xPrev      State
	yDisproved bool
}

// rstForm classifies a RST's wire form (§5.2): Linux's stateless path sends
// window 0, no options and (IPv4) ID 0; its socket path sends RST|ACK with
// the current window and the negotiated options.
func rstForm(s *Segment, tsNegotiated bool) ResetForm {
	if s.Window == 0 && s.Opts.Len == 0 && (s.IPv6 || s.IPID == 0) {
		return ResetStateless
	}
	if s.Flags&FlagACK != 0 && s.Window != 0 && (!tsNegotiated || s.Opts.Timestamps) {
		return ResetSocket
	}
	return ResetOther
}

// ttlClass normalises a TTL to the initial TTL it most likely started from.
func ttlClass(ttl uint8) uint8 {
	switch {
	case ttl <= 64:
		return 64
	case ttl <= 128:
		return 128
	}
	return 255
}

// learnPath records the TTL and IP ID of a non-RST segment sent by e.
func (e *endpoint) learnPath(s *Segment) {
	class := ttlClass(s.TTL)
	hops := class - s.TTL
	switch {
	case !e.has(epTTL):
		e.ttlClass, e.hopMin, e.hopMax = class, hops, hops
		e.bits |= epTTL
	case class != e.ttlClass:
		// Mixed initial TTLs: nothing to compare a RST with.
		e.hopMin, e.hopMax = 0, 255
	default:
		e.hopMin = min(e.hopMin, hops)
		e.hopMax = max(e.hopMax, hops)
	}
	if s.IPv6 {
		return
	}
	if e.has(epIPID) {
		if step := s.IPID - e.lastID; step >= 1 && step <= 256 {
			if e.idSteps < 255 {
				e.idSteps++
			}
		} else {
			e.idSteps = 0
		}
	}
	e.lastID = s.IPID
	e.bits |= epIPID
}

// rstAccepted applies the receiver's acceptance rules (§4.4) and the
// observer rule for a RST s sent by side d.
func (f *flowState) rstAccepted(s *Segment, d Side) bool {
	y := &f.ep[d.Other()]
	switch y.state {
	case StateListen, StateClosed:
		return false
	case StateUnknown:
		return true // nothing seen contradicts it
	case StateSynSent:
		return s.Flags&FlagACK != 0 && s.Ack == y.iss+1
	}
	if !y.has(epHasAck) {
		return true
	}
	if s.Seq == y.rcvNxt {
		return true
	}
	switch y.state {
	case StateSynReceived:
		// Any seq inside the receive window.
		an := &f.an[d.Other()]
		wnd := uint32(0)
		if an.window != anWindowUnset {
			wnd = an.window
			if an.winScale > 0 {
				wnd <<= uint(an.winScale)
			}
		}
		return !tcpSeqLT(s.Seq, y.rcvNxt) && tcpSeqLT(s.Seq, y.rcvNxt+wnd)
	case StateCloseWait, StateLastAck, StateClosing:
		// Linux also takes rcv_nxt-1 from a peer that resets right after
		// its FIN.
		return s.Seq == y.rcvNxt-1
	}
	return false
}

// onRST records a RST s sent by side d and applies it to both endpoints.
func (t *Table) onRST(f *flowState, s *Segment, d Side) {
	x, y := &f.ep[d], &f.ep[d.Other()]
	rec := resetRec{ts: s.TS, frame: s.Frame, from: d, senderState: x.state}
	if x.state == StateUnknown && y.state == StateSynSent && s.Flags&FlagACK != 0 && s.Ack == y.iss+1 {
		// A SYN answered by RST/ACK: the answering side had no socket for
		// it (no listener), i.e. CLOSED (spec §4.2), not merely unknown.
		rec.senderState = StateClosed
	}
	rec.form = rstForm(s, x.has(epSynTS) && y.has(epSynTS))
	hops := ttlClass(s.TTL) - s.TTL
	if x.has(epTTL) && (ttlClass(s.TTL) != x.ttlClass || int(hops)+2 < int(x.hopMin) || int(hops) > int(x.hopMax)+2) {
		rec.bits |= rrTTL
		rec.signals |= rsigTTL
	}
	if x.has(epTTL) && hops == 0 && x.hopMax == 0 {
		rec.bits |= rrLocal
	}
	rec.hopCompare(s.TTL, x)
	if !s.IPv6 && rec.form == ResetSocket && x.has(epIPID) && x.idSteps >= 2 {
		if step := s.IPID - x.lastID; step < 1 || step > 256 {
			rec.bits |= rrIPID
			rec.signals |= rsigIPID
		}
	}
	if rec.form == ResetOther && x.has(epSynTS) && y.has(epSynTS) && !s.Opts.Timestamps {
		rec.signals |= rsigOptions
	}
	if nx := f.an[d].nextseq; nx != 0 && !(s.Seq == 0 && s.Flags&FlagACK != 0) {
		limit := int64(65535)
		if w := f.an[d.Other()].window; w != anWindowUnset {
			if sc := f.an[d.Other()].winScale; sc > 0 {
				w <<= uint(sc)
			}
			limit = max(limit, int64(w))
		}
		if dist := int64(int32(s.Seq - nx)); dist > limit || dist < -limit {
			rec.signals |= rsigSeq
		}
	}
	// Too fast: the receiver is the capturing host, the sender is not,
	// and the answer came in under half the initial RTT.
	if f.irtt > 0 && y.has(epTTL) && y.hopMax == 0 && x.has(epTTL) && x.hopMin > 0 &&
		s.TS-y.lastTS < f.irtt/2 {
		rec.signals |= rsigFast
	}

	effective := f.rstAccepted(s, d)
	r := f.rstPart()
	pend := rstPending{ts: s.TS, seq: s.Seq, yNext: f.an[d.Other()].nextseq, from: d, active: true}
	// The sender is closed by its RST, except a SYN-SENT client answering
	// an unacceptable ACK (RST seq = that ACK, no ACK bit): it keeps its
	// SYN pending (§4.2, half-open discovery).
	answersBadACK := x.state == StateSynSent && s.Flags&FlagACK == 0 &&
		y.has(epHasAck) && y.rcvNxt == s.Seq
	if !answersBadACK {
		if x.state != StateClosed {
			pend.xClosed, pend.xPrev = true, x.state
			x.preRST = x.state
			t.transition(f, d, StateClosed, s, d)
		}
		x.bits |= epDead
	}
	if effective {
		rec.bits |= rrEffective
		f.effRST++
		to := StateClosed
		if y.state == StateSynReceived && y.has(epPassiveOpen) && !y.has(epSimOpen) {
			to = StateListen // only the embryonic connection dies
		}
		pend.yClosed, pend.yPrev = true, y.state
		y.preRST = y.state
		t.transition(f, d.Other(), to, s, d)
		y.bits |= epDead
	}
	if rstSuspect(rec.signals, rec.bits&rrLocal != 0) {
		rec.bits |= rrMiddlebox
	}
	pend.abs = r.resets.push(rec, resetFirstCap, t.cfg.ResetRing)
	pend.evAbs = t.event(f, EventRST, d, s, rstEventCode(&rec))
	r.pend = pend
}

// hopCompare records how the RST's hop count compares with those of its
// sender's other packets, for the diagnosis (FlowFacts.ResetHops).
// Unlike the TTL signal it has no tolerance: the rules weigh the figures.
func (rec *resetRec) hopCompare(ttl uint8, x *endpoint) {
	// learnPath marks a sender with mixed initial TTLs by hopMax 255,
	// which no single class can produce.
	if !x.has(epTTL) || x.hopMax == 255 {
		return
	}
	rec.bits |= rrHopKnown
	rec.senderHops = x.hopMin
	cls := ttlClass(ttl)
	h := int(cls - ttl)
	switch {
	case cls != x.ttlClass:
		rec.bits |= rrHopClass
	case h < int(x.hopMin):
		rec.hopDelta = int8(max(h-int(x.hopMin), -128))
	case h > int(x.hopMax):
		rec.hopDelta = int8(min(h-int(x.hopMax), 127))
	}
}

// rstSuspect decides MiddleboxSuspected: at least two signals, a race
// counting as two, and never for a RST the capturing host sent itself.
func rstSuspect(sig rstSignal, local bool) bool {
	if local {
		return false
	}
	n := 0
	for b := sig; b != 0; b &= b - 1 {
		n++
	}
	if sig&rsigRace != 0 {
		n++
	}
	return n >= 2
}

// checkPendingRST looks at a non-RST segment s from side d after the
// flow's latest RST.
func (t *Table) checkPendingRST(f *flowState, s *Segment, d Side) {
	if f.cold == nil || f.cold.rst == nil || !f.cold.rst.pend.active || s.Flags&FlagSYN != 0 {
		return
	}
	r := f.cold.rst
	p := &r.pend
	rec := r.resets.at(p.abs)
	if d == p.from {
		// The claimed sender keeps talking: it never sent that RST.
		if p.raced || tcpSeqLT(s.Seq, p.seq) {
			return
		}
		p.raced = true
		if rec != nil {
			rec.signals |= rsigRace
			if rstSuspect(rec.signals, rec.bits&rrLocal != 0) {
				rec.bits |= rrMiddlebox
			}
		}
		if p.xClosed {
			x := &f.ep[d]
			x.bits &^= epDead
			t.transition(f, d, p.xPrev, s, d)
		}
		t.refreshRSTEvent(f, p, rec)
		return
	}
	// The receiver sends new data well after the RST: it did not take it.
	if !p.yClosed || p.yDisproved || s.PayloadLen == 0 {
		return
	}
	thr := int64(anOOODefault)
	if f.irtt > 0 {
		thr = f.irtt
	}
	if s.TS-p.ts <= thr || !tcpSeqGT(s.Seq+s.PayloadLen, p.yNext) {
		return
	}
	p.yDisproved = true
	if rec != nil && rec.bits&rrEffective != 0 {
		rec.bits &^= rrEffective
		if f.effRST > 0 {
			f.effRST--
		}
	}
	y := &f.ep[d]
	y.bits &^= epDead
	t.transition(f, d, p.yPrev, s, d)
	t.refreshRSTEvent(f, p, rec)
}

// refreshRSTEvent rewrites the RST's event detail after its record changed.
func (t *Table) refreshRSTEvent(f *flowState, p *rstPending, rec *resetRec) {
	if rec == nil {
		return
	}
	if ev := f.coldPart().events.at(p.evAbs); ev != nil && ev.kind == EventRST {
		ev.code = rstEventCode(rec)
	}
}

// rstEventCode packs what the RST event's detail says.
func rstEventCode(rec *resetRec) uint16 {
	c := uint16(rec.form) | uint16(rec.signals)<<2
	if rec.bits&rrEffective != 0 {
		c |= 1 << 10
	}
	if rec.bits&rrMiddlebox != 0 {
		c |= 1 << 11
	}
	return c
}

// rstEventDetail renders a RST event code.
func rstEventDetail(code uint16) string {
	form := ResetForm(code & 3)
	sig := rstSignal(code >> 2 & (1<<numRSTSignals - 1))
	eff := code&(1<<10) != 0
	mb := code&(1<<11) != 0
	if sig == 0 && form <= ResetOther {
		return rstPlainDetail[form][rstBool2Int(eff)]
	}
	var b strings.Builder
	b.WriteString(rstPlainDetail[min(form, ResetOther)][rstBool2Int(eff)])
	if sig != 0 {
		b.WriteString("; signals: ")
		first := true
		for i, name := range rstSignalNames {
			if sig&(1<<i) == 0 {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(name)
		}
	}
	if mb {
		b.WriteString("; middlebox suspected")
	}
	return b.String()
}

var rstPlainDetail = [3][2]string{
	{"socket RST, ignored", "socket RST, effective"},
	{"stateless RST, ignored", "stateless RST, effective"},
	{"other RST, ignored", "other RST, effective"},
}

func rstBool2Int(b bool) int {
	if b {
		return 1
	}
	return 0
}

// reset expands a compact record into the published Reset.
func (rec *resetRec) reset() Reset {
	return Reset{
		Frame: rec.frame, TS: rec.ts, From: rec.from, SenderState: rec.senderState,
		Form: rec.form, Stateless: rec.form == ResetStateless,
		TTLMismatch: rec.bits&rrTTL != 0, IPIDMismatch: rec.bits&rrIPID != 0,
		Effective: rec.bits&rrEffective != 0, MiddleboxSuspected: rec.bits&rrMiddlebox != 0,
	}
}

// hop returns the record's hop comparison, if its sender's hop count was
// known.
func (rec *resetRec) hop() (ResetHop, bool) {
	if rec.bits&rrHopKnown == 0 {
		return ResetHop{}, false
	}
	return ResetHop{Frame: rec.frame, Delta: rec.hopDelta, ClassDiffers: rec.bits&rrHopClass != 0, SenderHops: rec.senderHops}, true
}
