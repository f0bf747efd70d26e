package model

// This file infers each endpoint's RFC 9293 state from the segments seen in
// both directions (docs/tcp-analysis.md §4). A segment is assumed delivered
// at the frame that carries it: "on receipt" transitions of the receiver
// happen at that frame. The closing states are derived from a few wire facts
// (who sent a FIN, which FIN was acknowledged, whether a FIN acknowledged the
// peer's), so FIN retransmissions, crossing FINs and half-closes all fall
// out of one rule.

// endpoint bits.
const (
	epSynSent     uint16 = 1 << iota // sent a pure SYN (iss valid)
	epSynAckSent                     // sent a SYN/ACK (iss valid)
	epSynAcked                       // the peer acknowledged our SYN
	epFinSent                        // sent a FIN (finSeq valid)
	epFinAcked                       // the peer acknowledged our FIN
	epFinPassive                     // our FIN also acknowledged the peer's FIN
	epDead                           // closed by a RST (sent, or accepted)
	epPassiveOpen                    // answered a SYN (came from LISTEN)
	epSimOpen                        // simultaneous open: went SYN-SENT -> SYN-RECEIVED
	epHasAck                         // rcvNxt is valid
	epTTL                            // ttlClass/hopMin/hopMax are valid
	epIPID                           // lastID is valid (IPv4)
	epSynTS                          // our SYN or SYN/ACK carried timestamps
	epZeroWin                        // advertising a zero window now
	epFINCrossed                     // our first FIN left the peer's data it had already sent unacknowledged
	epFINOwnData                     // the flow's last data before our first FIN was ours
)

// endpoint is one side's wire-inferred connection state plus the facts the
// reset attribution compares a RST with; its diagnosis timings are in
// flowCold.
type endpoint struct {
	state  State
	preRST State // state before a RST closed it, to undo a disproved RST
	bits   uint16
	iss    uint32
	finSeq uint32 // sequence slot of our FIN (seq + payload of the FIN)
	rcvNxt uint32 // ack field of our last ACK-bearing segment: RCV.NXT
	lastTS int64  // time of our last segment
	// TTL normalised to its initial class (64/128/255) and hop counts seen
	// on our non-RST segments.
	ttlClass uint8
	hopMin   uint8
	hopMax   uint8
	// idSteps counts consecutive small forward IP ID steps (saturating):
	// a per-socket counter such as Linux's.
	idSteps uint8
	lastID  uint16
	// evKind is 1 + the EventKind of our last mergeable event (0: the last
	// segment opened none), flowCold.evAbs its ring index: consecutive
	// retransmissions, keep-alives or lost segments count into one event.
	evKind uint8
}

func (e *endpoint) has(b uint16) bool { return e.bits&b != 0 }

// initStates sets both endpoints from the flow's first segment, sent by A:
// a pure SYN opens normally, a SYN/ACK shows a client whose SYN was missed,
// anything else is a mid-stream start (both ESTABLISHED, roles inferred
// from the ports).
func (f *flowState) initStates(s *Segment, fixed bool) {
	a, b := &f.ep[SideA], &f.ep[SideB]
	switch {
	case !fixed:
		a.state, b.state = StateUnknown, StateUnknown
		f.inferClient()
	case s.Flags&(FlagSYN|FlagACK|FlagRST) == FlagSYN:
		a.state, b.state = StateClosed, StateUnknown
	case s.Flags&(FlagSYN|FlagACK|FlagRST) == FlagSYN|FlagACK:
		a.state = StateUnknown
		b.state = StateSynSent
		b.iss = s.Ack - 1
		b.bits |= epSynSent
		f.client, f.roleInferred = SideB, true
	default:
		a.state, b.state = StateEstablished, StateEstablished
		f.inferClient()
	}
}

// inferClient guesses the client of a flow whose opening was not seen: the
// server is the side with the lower (well-known) port.
func (f *flowState) inferClient() {
	pa, pb := f.port(SideA), f.port(SideB)
	switch {
	case pa > pb:
		f.client = SideA
	case pb > pa:
		f.client = SideB
	default:
		f.client = SideNone
	}
	f.roleInferred = f.client != SideNone
}

// stepState advances both endpoints for a non-RST segment s sent by side d.
func (t *Table) stepState(f *flowState, s *Segment, d Side) {
	e, p := &f.ep[d], &f.ep[d.Other()]
	fl := s.Flags
	syn, ack := fl&FlagSYN != 0, fl&FlagACK != 0

	if syn && !ack {
		e.iss = s.Seq
		e.bits |= epSynSent
		if s.Opts.Timestamps {
			e.bits |= epSynTS
		}
		if f.roleInferred || f.client == SideNone {
			f.client, f.roleInferred = d, false
		}
		switch e.state {
		case StateUnknown, StateClosed, StateListen:
			e.bits &^= epDead
			t.transition(f, d, StateSynSent, s, d)
			// Simultaneous open: the peer's SYN is still unanswered, so it
			// receives ours in SYN-SENT.
			if p.state == StateSynSent && !p.has(epSynAcked) {
				p.bits |= epSimOpen
				t.transition(f, d.Other(), StateSynReceived, s, d)
			}
		}
	}
	if syn && ack {
		e.iss = s.Seq
		e.bits |= epSynAckSent
		if s.Opts.Timestamps {
			e.bits |= epSynTS
		}
		switch e.state {
		case StateUnknown, StateListen, StateClosed:
			if e.state == StateUnknown {
				e.state = StateListen // it answered a SYN: it was listening
			}
			e.bits = (e.bits | epPassiveOpen) &^ epDead
			t.transition(f, d, StateSynReceived, s, d)
		case StateSynSent:
			e.bits |= epSimOpen
			t.transition(f, d, StateSynReceived, s, d)
		case StateEstablished:
			// A server resending SYN/ACK after the handshake ACK never
			// completed it (full accept queue): it is still SYN-RECEIVED.
			if e.has(epPassiveOpen) && !e.has(epFinSent) && f.ctr[d].PayloadBytes == 0 {
				t.transition(f, d, StateSynReceived, s, d)
			}
		}
	}
	if !syn && e.state == StateUnknown {
		// It speaks without a SYN: a connection that predates the capture
		// (or a stale one answering a new SYN).
		t.transition(f, d, StateEstablished, s, d)
	}
	if ack {
		e.rcvNxt = s.Ack
		e.bits |= epHasAck
		// Our ACK covers the peer's SYN (and nothing it did not send: a
		// challenge ACK from a stale connection does not).
		pn := f.an[d.Other()].nextseq
		if p.bits&(epSynSent|epSynAckSent) != 0 && !tcpSeqLT(s.Ack, p.iss+1) && (pn == 0 || !tcpSeqGT(s.Ack, pn)) {
			first := !p.has(epSynAcked)
			p.bits |= epSynAcked
			switch {
			case first && p.state == StateSynSent && syn && s.Ack == p.iss+1:
				t.transition(f, d.Other(), StateEstablished, s, d) // client gets SYN/ACK
			case p.state == StateSynReceived:
				t.transition(f, d.Other(), StateEstablished, s, d) // server gets the final ACK
			}
		}
		// SYN-SENT sends only SYNs and RSTs: an ACK from it means it got a
		// SYN/ACK (perhaps one the capture missed).
		if !syn && e.state == StateSynSent {
			t.transition(f, d, StateEstablished, s, d)
		}
	}
	if fl&FlagFIN != 0 && !e.has(epFinSent) {
		e.bits |= epFinSent
		e.finSeq = s.Seq + s.PayloadLen
		if ack && p.has(epFinSent) && !tcpSeqLT(s.Ack, p.finSeq+1) {
			e.bits |= epFinPassive
		}
	}
	if ack && p.has(epFinSent) && !p.has(epFinAcked) && !tcpSeqLT(s.Ack, p.finSeq+1) {
		p.bits |= epFinAcked
	}
	t.deriveClosing(f, d, s, d)
	t.deriveClosing(f, d.Other(), s, d)
}

// deriveClosing sets side x's state from the FIN facts once either side
// has sent a FIN (RFC 9293 §3.6, Figures 12 and 13).
func (t *Table) deriveClosing(f *flowState, x Side, s *Segment, cause Side) {
	e, p := &f.ep[x], &f.ep[x.Other()]
	if e.has(epDead) || e.state == StateListen {
		return
	}
	var want State
	switch {
	case !e.has(epFinSent) && !p.has(epFinSent):
		return
	case !e.has(epFinSent):
		// The peer's FIN arrives; SYN-SENT and unknown endpoints drop it.
		if e.state != StateEstablished && e.state != StateSynReceived {
			return
		}
		want = StateCloseWait
	case e.has(epFinPassive):
		want = StateLastAck
		if e.has(epFinAcked) {
			want = StateClosed
		}
	case !p.has(epFinSent):
		want = StateFinWait1
		if e.has(epFinAcked) {
			want = StateFinWait2
		}
	default:
		// Both FINs, ours first (or crossing): TIME-WAIT once ours is
		// acknowledged, CLOSING until then (simultaneous close).
		want = StateClosing
		if e.has(epFinAcked) {
			want = StateTimeWait
		}
	}
	if want != e.state {
		t.transition(f, x, want, s, cause)
	}
}

// transition records side x entering state to because of segment s sent by
// cause.
func (t *Table) transition(f *flowState, x Side, to State, s *Segment, cause Side) {
	e := &f.ep[x]
	from := e.state
	if from == to {
		return
	}
	e.state = to
	f.coldPart().trans.push(transWide{
		ts: s.TS, frame: s.Frame, side: x, cause: cause, from: from, to: to,
	}, f.firstFrame, t.cfg.TransitionRing)
}
