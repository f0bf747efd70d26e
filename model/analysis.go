package model

// This file is the per-direction sequence analysis: Wireshark 4.0's
// tcp_analyze_sequence_number, step by step as docs/tcp-analysis.md §1.4
// states it, including its documented false positives (they are what the
// tshark oracle reports, so they are what users compare against).

// Sequence-space comparisons with 32-bit wraparound, as Wireshark's GT_SEQ,
// LT_SEQ and LE_SEQ.
func tcpSeqGT(a, b uint32) bool { return int32(b-a) < 0 }
func tcpSeqLT(a, b uint32) bool { return int32(a-b) < 0 }
func tcpSeqLE(a, b uint32) bool { return a == b || tcpSeqLT(a, b) }

// Constants hard-coded in Wireshark's TCP dissector.
const (
	anFastRetransWindow = 20_000_000 // ns after the receiver's last segment
	anOOODefault        = 3_000_000  // ns out-of-order threshold without an iRTT
	anMaxUnacked        = 10_000     // TCP_MAX_UNACKED_SEGMENTS per direction
	anWindowUnset       = 0xFFFFFFFF // window before a direction sent anything
	// anDupLatch is tshark's dupacknum = -1 ("ACKed unseen segment already
	// reported"). tshark 4.0 keeps dupacknum in an unsigned field, so the
	// latch also passes the fast-retransmission test dupacknum >= 2.
	anDupLatch = 0xFFFFFFFF
)

// anUnackedKept is how many unacknowledged segments a direction remembers
// for ACK RTT samples. tshark keeps up to anMaxUnacked; no flag depends on
// the list except through its length (see unackList.ovCount), so a short
// list only costs RTT samples.
const anUnackedKept = 8

// anDir bits.
const (
	anBaseSet  uint8 = 1 << iota // baseSeq is set
	anFirstAck                   // is_first_ack: a SYN was sent, no plain ACK yet
	anLastKA                     // the direction's last segment was a keep-alive
	anLastZWP                    // ... a zero-window probe
)

// anDir is the analysis state of one direction (tshark's tcp_flow_t and
// tcp_analyze_seq_flow_info_t, reduced to what the flags need). The zero
// value is not ready: use newAnDir. Its unacknowledged segments live in
// the table's unackPool, and only while it has some.
type anDir struct {
	baseSeq         uint32
	nextseq         uint32 // 0 doubles as "unset", as in tshark
	maxSeqToBeAcked uint32 // 0 doubles as "unset"
	lastack         uint32 // ack field of the last segment, 0 = unset
	window          uint32 // raw window of the last segment, anWindowUnset before
	dupacknum       uint32 // anDupLatch is the ACKed-unseen latch
	nextseqTime     int64
	lastackTime     int64 // time of the last segment of any kind
	ul              unackRef
	winScale        int8 // -1 unknown, -2 known absent, else the shift
	bits            uint8
	nUnacked        uint8 // entries held in ul
}

// unackList is the unacknowledged segments of one direction, oldest
// first: where each ends and when it was sent.
type unackList struct {
	end [anUnackedKept]uint32
	ts  [anUnackedKept]int64
	// ovCount estimates how many entries tshark's list holds beyond the
	// kept ones (their ends lie in (ovLow, ovHigh]); it only matters when
	// the list would reach anMaxUnacked, where tshark stops counting the
	// SYN/FIN octet in nextseq.
	ovCount uint16
	ovLow   uint32
	ovHigh  uint32
}

// unackRef is 1 + the index of a list in an unackPool; 0 is none.
type unackRef int32

// unackPool holds the unacknowledged-segment lists of every direction
// that has some, in fixed-size chunks, with a free list: most flows have
// nothing in flight most of the time (a closed flow, nothing at all), so
// the lists cost memory only for data not yet acknowledged.
type unackPool struct {
	chunks [][]unackList
	n      int32
	free   []unackRef
}

const unackChunk = 256

// get returns an empty list.
func (p *unackPool) get() unackRef {
	var r unackRef
	if k := len(p.free); k > 0 {
		r = p.free[k-1]
		p.free = p.free[:k-1]
	} else {
		if int(p.n) == len(p.chunks)*unackChunk {
			p.chunks = append(p.chunks, make([]unackList, unackChunk))
		}
		p.n++
		r = unackRef(p.n)
	}
	p.at(r).ovCount = 0
	return r
}

func (p *unackPool) at(r unackRef) *unackList {
	i := int32(r) - 1
	return &p.chunks[i/unackChunk][i%unackChunk]
}

// put returns a list to the pool.
func (p *unackPool) put(r unackRef) { p.free = append(p.free, r) }

// release gives d's list back to the pool.
func (d *anDir) release(p *unackPool) {
	if d.ul != 0 {
		p.put(d.ul)
		d.ul, d.nUnacked = 0, 0
	}
}

func newAnDir() anDir {
	return anDir{window: anWindowUnset, winScale: -1}
}

// anSegment is the outcome of analysing one segment.
type anSegment struct {
	flags AnalysisFlag
	// rtt is the ack_rtt the segment yields for the reverse direction's
	// data (from the oldest transmission ending exactly at ack), valid when
	// rttOK.
	rtt   int64
	rttOK bool
}

// analyse runs §1.4 steps 0-17 for a segment s sent in this direction; rev
// is the other direction, irtt the conversation's iRTT so far (0 =
// unknown) and p the pool of both directions' unacknowledged segments. It
// allocates only when p grows to a new peak of lists in use.
func (fwd *anDir) analyse(rev *anDir, s *Segment, irtt int64, p *unackPool) anSegment {
	var out anSegment
	seq, ack, win := s.Seq, s.Ack, uint32(s.Window)
	seglen := s.PayloadLen
	flags := s.Flags
	now := s.TS
	sfr := flags&(FlagSYN|FlagFIN|FlagRST) != 0
	synfin := flags&(FlagSYN|FlagFIN) != 0
	var fl AnalysisFlag

	// 0. Base sequence numbers: a SYN gives the ISN; any other first
	// segment seq-1 (relative numbering starts at 1 mid-stream); the other
	// direction's from the first ACK seen, if still unset.
	if fwd.bits&anBaseSet == 0 {
		if flags&FlagSYN != 0 {
			fwd.baseSeq = seq
		} else {
			fwd.baseSeq = seq - 1
		}
		fwd.bits |= anBaseSet
	}
	if rev.bits&anBaseSet == 0 && flags&FlagACK != 0 {
		rev.baseSeq = ack - 1
		rev.bits |= anBaseSet
	}

	switch {
	// 1. Zero-window probe: exactly one byte at nextseq into a closed
	// window. Jumps over steps 2-8.
	case seglen == 1 && seq == fwd.nextseq && rev.window == 0:
		fl |= AnZeroWindowProbe
	default:
		// 2. Zero window.
		if win == 0 && !sfr {
			fl |= AnZeroWindow
		}
		// 3. Lost segment (never on a RST).
		if fwd.nextseq != 0 && tcpSeqGT(seq, fwd.nextseq) && flags&FlagRST == 0 {
			fl |= AnLostSegment
		}
		// 4. Keep-alive: 0 or 1 byte at nextseq-1 (no guard against an
		// unset nextseq, as in tshark).
		if seglen <= 1 && seq == fwd.nextseq-1 && !sfr {
			fl |= AnKeepAlive
		}
		same := seglen == 0 && seq == fwd.nextseq && ack == fwd.lastack && !sfr
		// 5. Window update.
		if same && win != 0 && win != fwd.window {
			fl |= AnWindowUpdate
		}
		// 6. Window full: ends exactly at the receiver's window edge, with
		// the receiver's scale known (or known to be absent).
		if seglen > 0 && rev.winScale != -1 && !sfr {
			shift := uint(0)
			if rev.bits&anFirstAck == 0 && rev.winScale != -2 {
				shift = uint(rev.winScale)
			}
			if seq+seglen == rev.lastack+(rev.window<<shift) {
				fl |= AnWindowFull
			}
		}
		switch {
		// 7. Keep-alive ACK (never also a duplicate ACK).
		case same && win != 0 && win == fwd.window && rev.bits&anLastKA != 0:
			fl |= AnKeepAliveAck
		// 8a. Zero-window-probe ACK (step 2 already flagged the zero window).
		case same && win == 0 && fwd.window == 0 && rev.bits&anLastZWP != 0:
			fl |= AnZeroWindowProbeAck
		// 8b. Duplicate ACK; the -1 latch of step 10 restarts at 1.
		case same && win != 0 && win == fwd.window:
			if fwd.dupacknum == anDupLatch {
				fwd.dupacknum = 1
			} else {
				fwd.dupacknum++
			}
			fl |= AnDuplicateAck
		}
	}

	// 9. A new ack value resets the duplicate counter.
	if ack != fwd.lastack {
		fwd.dupacknum = 0
	}

	// 10. ACKed unseen segment, with tshark's stuck-marker and "reported
	// once" latch on the data sender's dup counter.
	if rev.maxSeqToBeAcked != 0 && tcpSeqGT(ack, rev.maxSeqToBeAcked) && flags&FlagACK != 0 {
		if tcpSeqLT(rev.maxSeqToBeAcked, rev.nextseq) {
			rev.maxSeqToBeAcked = rev.nextseq
			fl |= AnAckLostSegment
		} else {
			if rev.dupacknum == 0 {
				fl |= AnAckLostSegment
			}
			rev.dupacknum = anDupLatch
		}
	}

	// 11. Retransmission family, for segments that use sequence space.
	if (seglen > 0 || synfin) && fl&AnKeepAlive == 0 {
		notAdvanced := fwd.nextseq != 0 && tcpSeqLT(seq, fwd.nextseq)
		// Data right after a (possible) 1-byte probe adds new data.
		if seglen > 1 && fwd.nextseq-1 == seq {
			notAdvanced = false
		}
		end := seq + seglen
		if synfin {
			end++
		}
		thr := uint64(anOOODefault)
		if irtt != 0 {
			thr = uint64(irtt)
		}
		switch {
		// Spurious: the receiver already ACKed all of it; not_advanced is
		// not required.
		case seglen > 0 && rev.lastack != 0 && tcpSeqLE(seq+seglen, rev.lastack):
			fl |= AnSpuriousRetransmission
		// Fast before out-of-order (tcp.fastrt_supersedes_ooo, default on).
		// dupacknum is unsigned in 4.0: the latch (-1) counts as >= 2.
		case notAdvanced && rev.dupacknum >= 2 && rev.lastack == seq &&
			uint64(now-rev.lastackTime) < anFastRetransWindow:
			fl |= AnFastRetransmission
		case notAdvanced && uint64(now-fwd.nextseqTime) < thr && fwd.nextseq != end:
			fl |= AnOutOfOrder
		case notAdvanced:
			fl |= AnRetransmission
		}
	}

	// 12. Remember the segment; at tshark's list cap the SYN/FIN octet is
	// not added to nextseq, and we follow that.
	nextseq := seq + seglen
	if (seglen > 0 || synfin) && fwd.tsListLen(p) < anMaxUnacked {
		if synfin {
			nextseq++
		}
		fwd.pushUnacked(p, seq, nextseq, now)
	}
	zwp := fl&AnZeroWindowProbe != 0
	// 13. Highest sequence sent (probes do not advance it).
	if (tcpSeqGT(nextseq, fwd.nextseq) || fwd.nextseq == 0) && !zwp {
		fwd.nextseq = nextseq
		fwd.nextseqTime = now
	}
	// 14. maxseqtobeacked only moves from a segment starting exactly at it.
	if (seq == fwd.maxSeqToBeAcked || fwd.maxSeqToBeAcked == 0) && !zwp {
		fwd.maxSeqToBeAcked = fwd.nextseq
	}
	// 15.
	fwd.window = win
	fwd.lastack = ack
	fwd.lastackTime = now
	// 16. Only the keep-alive and probe bits of lastsegmentflags matter.
	fwd.bits &^= anLastKA | anLastZWP
	if fl&AnKeepAlive != 0 {
		fwd.bits |= anLastKA
	}
	if zwp {
		fwd.bits |= anLastZWP
	}
	// 17. ACK matching against the other direction's unacked segments.
	out.rtt, out.rttOK = rev.matchAck(p, ack, now)
	out.flags = fl
	return out
}

// afterSegment applies what dissect_tcp does after the analysis: the
// is_first_ack bookkeeping and the window-scale option, then
// verify_tcp_window_scaling unless the options were cut short (tshark
// stops at the exception the cut raises).
func (fwd *anDir) afterSegment(rev *anDir, s *Segment, optionsCut bool) {
	if s.Flags&FlagSYN != 0 {
		fwd.bits |= anFirstAck
	} else if s.Flags&FlagACK != 0 {
		fwd.bits &^= anFirstAck
	}
	// tshark stores a WS option from any segment, capped at 14 (RFC 7323).
	if ws := s.Opts.WScale; ws >= 0 {
		if ws > 14 {
			ws = 14
		}
		fwd.winScale = ws
	}
	if s.Flags&FlagSYN != 0 && !optionsCut {
		if fwd.winScale == -1 {
			// A SYN or SYN/ACK without WS: no scaling either way.
			fwd.winScale = -2
			rev.winScale = -2
		} else if s.Flags&FlagACK != 0 && rev.winScale == -2 {
			// WS on the SYN/ACK only: not used.
			fwd.winScale = -2
		}
	}
}

// tsListLen is the length tshark's unacked list would have.
func (d *anDir) tsListLen(p *unackPool) int {
	if d.ul == 0 {
		return 0
	}
	return int(d.nUnacked) + int(p.at(d.ul).ovCount)
}

// pushUnacked records a segment [seq, end) sent at ts.
func (d *anDir) pushUnacked(p *unackPool, seq, end uint32, ts int64) {
	if d.ul == 0 {
		d.ul = p.get()
	}
	l := p.at(d.ul)
	if int(d.nUnacked) < anUnackedKept {
		l.end[d.nUnacked] = end
		l.ts[d.nUnacked] = ts
		d.nUnacked++
		return
	}
	if l.ovCount == 0 {
		l.ovLow, l.ovHigh = seq, end
	} else if tcpSeqGT(end, l.ovHigh) {
		l.ovHigh = end
	}
	l.ovCount++
}

// matchAck removes the entries an ack value covers, as tshark step 17 does:
// an exact match yields an RTT sample (the oldest transmission wins when
// several end at ack: no Karn's rule), an entry ending beyond ack stays,
// anything else is dropped silently. An emptied list goes back to p.
func (d *anDir) matchAck(p *unackPool, ack uint32, now int64) (rtt int64, ok bool) {
	if d.ul == 0 {
		return 0, false
	}
	l := p.at(d.ul)
	j := uint8(0)
	for i := uint8(0); i < d.nUnacked; i++ {
		end := l.end[i]
		if end == ack {
			if !ok { // entries are oldest first
				rtt, ok = now-l.ts[i], true
			}
			continue
		}
		if tcpSeqGT(end, ack) {
			l.end[j] = end
			l.ts[j] = l.ts[i]
			j++
		}
	}
	d.nUnacked = j
	if l.ovCount > 0 {
		switch {
		case !tcpSeqGT(l.ovHigh, ack):
			l.ovCount = 0
		case tcpSeqGT(ack, l.ovLow):
			// Assume evenly spread ends: keep the share beyond ack.
			span := uint64(l.ovHigh - l.ovLow)
			left := uint64(l.ovHigh - ack)
			l.ovCount = uint16((uint64(l.ovCount)*left + span - 1) / span)
			l.ovLow = ack
		}
	}
	if j == 0 && l.ovCount == 0 {
		d.release(p)
	}
	return rtt, ok
}
