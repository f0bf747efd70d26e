package model

// Apply: one segment's way through the table (flow lookup or creation,
// counters, the analysis, the diagnosis's timings, the state machines,
// resets and events).

// Apply analyses one segment, in capture order, and returns what it
// learned. It never panics, and it does not allocate for a segment of an
// existing flow (beyond a flow's history rings growing to their caps and
// the pool of unacknowledged segments growing to a new peak).
func (t *Table) Apply(s *Segment) Verdict {
	if s == nil {
		return Verdict{Dir: SideNone, Ignored: true}
	}
	var v Verdict
	// What tshark can do with the header: with the fixed 20 bytes it
	// analyses the segment, but a cut in the options (or a bogus header
	// length) aborts the dissection before the flags are shown, so such a
	// segment moves the analysis state without being counted as flagged.
	fixed := !s.HeaderCut || s.TCPHdrLen >= 20
	bogus := !s.HeaderCut && s.TCPHdrLen > 0 && s.TCPHdrLen < 20
	report := !s.HeaderCut && !bogus
	key, srcIdx := makeFlowKey(s.Src, s.Dst)
	h := t.index.hash(&key)
	slot, found := t.lookup(&key, h)
	var f *flowState
	d := SideA
	if found {
		f = t.slot(slot)
		d = f.sideOf(srcIdx)
		// A pure SYN with an ISN other than its direction's base starts a
		// new conversation on the same ports (§2.3); a resent SYN (same
		// ISN) stays.
		if fixed && s.Flags&(FlagSYN|FlagACK) == FlagSYN {
			if a := &f.an[d]; a.bits&anBaseSet != 0 && s.Seq != a.baseSeq {
				f = nil
			}
		}
	}
	var fl AnalysisFlag
	if f == nil {
		slot = t.newFlow(&key, h, srcIdx, s, fixed)
		f = t.slot(slot)
		d = SideA
		v.Created = true
		if found {
			fl |= AnReusedPorts
		}
	}
	v.Flow, v.Dir = f.id, d
	fwd, rev := &f.an[d], &f.an[d.Other()]
	syn, ack := s.Flags&FlagSYN != 0, s.Flags&FlagACK != 0

	c := &f.ctr[d]
	c.Packets++
	c.PayloadBytes += uint64(s.PayloadLen)
	c.FrameBytes += uint64(s.FrameLen)
	switch {
	case syn && ack:
		c.SYNACK++
	case syn:
		c.SYN++
	}
	if s.Flags&FlagFIN != 0 {
		c.FIN++
	}
	if s.Flags&FlagRST != 0 {
		c.RST++
	}
	f.lastFrame, f.lastTS = s.Frame, s.TS

	if !fixed {
		// Only the ports are known: counted, not analysed. The flags
		// were still read, so a SYN still dates the iRTT.
		v.Ignored = true
		if syn && !ack {
			f.tsMruSyn = s.TS
		}
		t.relist(slot, f)
		return v
	}

	// A SYN/ACK with a new ISN stays in the conversation and re-bases it.
	if !v.Created && syn && ack && fwd.bits&anBaseSet != 0 && s.Seq != fwd.baseSeq {
		fl |= AnReusedPorts
		fwd.baseSeq = s.Seq
	}
	res := fwd.analyse(rev, s, f.irtt, &t.unack)
	fl |= res.flags
	if res.rttOK {
		rttAdd(&f.coldPart().rtt[d.Other()], res.rtt)
	}
	// The rest of dissect_tcp: the SYN time and iRTT (from the latest pure
	// SYN to the first segment with ACK and no SYN, either direction),
	// is_first_ack and window scaling. A bogus header length returns
	// before all of it.
	if !bogus {
		if syn && !ack {
			f.tsMruSyn = s.TS
		}
		if ack && !syn && f.tsMruSyn != 0 && f.irtt == 0 {
			f.irtt = s.TS - f.tsMruSyn
		}
		fwd.afterSegment(rev, s, s.HeaderCut)
	}
	v.RelSeq = s.Seq - fwd.baseSeq
	if ack && rev.bits&anBaseSet != 0 {
		v.RelAck = s.Ack - rev.baseSeq
	}
	if report {
		v.Flags = fl
		anCount(c, fl)
	} else {
		v.Ignored = true
	}
	if !s.HeaderCut {
		t.timing(f, s, d, v.Flags)
	}
	t.wire(f, s, d, v.Flags)
	t.relist(slot, f)
	return v
}

// timing keeps the diagnosis's FlowFacts for a segment s sent by d with
// analysis flags fl. It runs before wire, so the endpoints' lastTS still
// date their previous segments.
func (t *Table) timing(f *flowState, s *Segment, d Side, fl AnalysisFlag) {
	probe := fl&(AnKeepAlive|AnZeroWindowProbe) != 0
	if s.PayloadLen > 0 && !probe {
		c := f.coldPart()
		c.lastDataTS[d], c.lastDataFrame[d] = s.TS, s.Frame
		if fl&AnRetransmissionFamily == 0 {
			if f.lastData != uint8(d)+1 && c.turns[d] < 1<<16-1 {
				c.turns[d]++
			}
			f.lastData = uint8(d) + 1
		}
	}
	// A timeout retransmission comes one RTO after the sender last heard
	// from its peer (each ACK re-arms the timer).
	if heard := f.ep[d.Other()].lastTS; fl&AnRetransmission != 0 && heard != 0 {
		if c := f.coldPart(); s.TS-heard > c.maxRTO[d] {
			c.maxRTO[d] = s.TS - heard
		}
	}
	if s.Flags&FlagFIN != 0 {
		t.timingFIN(f, s, d)
	}
	if fl&AnRetransmissionFamily != 0 || probe || s.PayloadLen == 0 && s.Flags&(FlagSYN|FlagFIN|FlagRST) == 0 {
		return // no activity: it neither ends nor breaks a pause
	}
	if f.actSeen && s.TS-f.lastAct >= t.cfg.PauseMin {
		c := f.coldPart()
		if c.pause == nil {
			c.pause = new(Pause)
		}
		*c.pause = Pause{From: f.lastAct, To: s.TS, Frame: s.Frame, Side: d, Flags: s.Flags, Data: s.PayloadLen > 0}
	}
	f.lastAct, f.actSeen = s.TS, true
}

// timingFIN keeps the quiet before d's first FIN, segment s.
func (t *Table) timingFIN(f *flowState, s *Segment, d Side) {
	c := f.coldPart()
	if c.finQuiet[d] >= 0 {
		return
	}
	e := &f.ep[d]
	c.finQuiet[d] = 0
	if f.actSeen {
		c.finQuiet[d] = max(s.TS-f.lastAct, 0)
	}
	if f.lastData == uint8(d)+1 {
		e.bits |= epFINOwnData
	}
	// A FIN that does not acknowledge the peer's data which ended a
	// quiet crossed that data (a request after an idle spell): the
	// closer had seen only the quiet, so that is its quiet. Data in
	// flight during a transfer is no crossing of this kind.
	rev := &f.an[d.Other()]
	if p := c.pause; p != nil && s.Flags&FlagACK != 0 && rev.nextseq != 0 && int32(rev.nextseq-s.Ack) > 0 &&
		p.Side == d.Other() && p.Data && p.To == f.lastAct {
		e.bits |= epFINCrossed
		c.finQuiet[d] = max(s.TS-p.From, 0)
		return
	}
	// A FIN right after d's own data that leaves the peer's newer data
	// unacknowledged crossed that data on the wire: d closed with its own
	// data the last it had seen (a server closing right after its answer
	// while the next request was in flight, seen from the client's side,
	// where the request leaves before the FIN arrives). A peer that had
	// sent its own FIN was closing too: that is no request crossing.
	if s.Flags&FlagACK != 0 && rev.nextseq != 0 && int32(rev.nextseq-s.Ack) > 0 && f.lastData == uint8(d.Other())+1 &&
		!f.ep[d.Other()].has(epFinSent) &&
		c.lastDataTS[d] != 0 && s.TS-c.lastDataTS[d] < t.cfg.PauseMin {
		e.bits |= epFINCrossed | epFINOwnData
		c.finQuiet[d] = max(s.TS-c.lastDataTS[d], 0)
	}
}

// wire runs the endpoint state machines, reset attribution and events for
// an analysed segment s sent by d with flags fl.
func (t *Table) wire(f *flowState, s *Segment, d Side, fl AnalysisFlag) {
	e := &f.ep[d]
	if fl&AnReusedPorts != 0 {
		code := uint16(0)
		if s.Flags&FlagACK != 0 {
			code = 1
		}
		t.event(f, EventReusedPorts, d, s, code)
	}
	// Mergeable events: consecutive ones of a kind from one side count
	// into the first.
	var mk EventKind
	var code uint16
	switch {
	case fl&AnRetransmissionFamily != 0:
		mk = EventRetransmission
		switch {
		case fl&AnFastRetransmission != 0:
			code = 1
		case fl&AnSpuriousRetransmission != 0:
			code = 2
		}
	case fl&AnKeepAlive != 0:
		mk = EventKeepAlive
	case fl&AnLostSegment != 0:
		mk = EventLostSegment
	default:
		e.evKind = 0
	}
	if mk != 0 {
		merged := false
		if e.evKind == uint8(mk)+1 {
			c := f.coldPart()
			if ev := c.events.at(c.evAbs[d]); ev != nil && ev.kind == mk {
				if ev.count < 1<<32-1 {
					ev.count++
				}
				merged = true
			}
		}
		if !merged {
			abs := t.event(f, mk, d, s, code) // allocates the cold part
			f.cold.evAbs[d] = abs
			e.evKind = uint8(mk) + 1
		}
	}
	if s.Flags&FlagRST != 0 {
		t.onRST(f, s, d)
	} else {
		t.checkPendingRST(f, s, d)
		t.stepState(f, s, d)
		e.learnPath(s)
		// Zero window: the raw window, as tshark's zero_window flag sees it.
		switch {
		case s.Window == 0 && s.Flags&(FlagSYN|FlagFIN) == 0:
			if !e.has(epZeroWin) {
				e.bits |= epZeroWin
				t.event(f, EventZeroWindowStart, d, s, 0)
			}
		case s.Window != 0 && e.has(epZeroWin):
			e.bits &^= epZeroWin
			t.event(f, EventZeroWindowEnd, d, s, 0)
		}
	}
	e.lastTS = s.TS
}

// event pushes an event and returns its ring index.
func (t *Table) event(f *flowState, kind EventKind, side Side, s *Segment, code uint16) uint64 {
	return f.coldPart().events.push(eventRec{
		ts: s.TS, frame: s.Frame, count: 1, kind: kind, side: side, code: code,
	}, eventFirstCap, t.cfg.EventRing)
}

func rttAdd(r *RTTStats, v int64) {
	if r.Samples == 0 || v < r.Min {
		r.Min = v
	}
	if r.Samples == 0 || v > r.Max {
		r.Max = v
	}
	r.Samples++
	r.Sum += v
}
