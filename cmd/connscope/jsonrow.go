package main

import (
	"math"
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/connscope/connscope/model"
)

// The flow line of --json written by hand: at the end of a run over a
// large capture it is most of the output, and encoding/json's reflection
// cost more than everything else the end does. appendFlowJSON writes the
// same bytes jsonWriter.line writes for rowJSON's jsonFlow (the types in
// report.go stay the schema's definition; a test compares the two on
// every shared capture and on crafted rows).

// appendFlowJSON appends the JSON of a wire flow's row, without the
// newline.
func appendFlowJSON(b []byte, e *model.FlowEntry, evicted, expired bool) []byte {
	f := e.Flow
	b = append(b, `{"type":"flow","stream":`...)
	b = strconv.AppendUint(b, uint64(f.ID), 10)
	b = append(b, `,"a":`...)
	b = appendAddrPort(b, f.A)
	b = append(b, `,"b":`...)
	b = appendAddrPort(b, f.B)
	b = append(b, `,"first_frame":`...)
	b = strconv.AppendUint(b, f.FirstFrame, 10)
	b = append(b, `,"last_frame":`...)
	b = strconv.AppendUint(b, f.LastFrame, 10)
	b = append(b, `,"a_to_b":`...)
	b = appendCounters(b, &f.Dir[model.DirAB])
	b = append(b, `,"b_to_a":`...)
	b = appendCounters(b, &f.Dir[model.DirBA])
	b = append(b, `,"client":`...)
	if f.Client != model.SideNone {
		b = appendString(b, f.Client.String())
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"role_inferred":`...)
	b = strconv.AppendBool(b, f.RoleInferred)
	b = append(b, `,"irtt_ms":`...)
	if f.IRTT > 0 {
		b = appendFloat(b, float64(f.IRTT)/1e6)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"state":{"a":`...)
	b = appendString(b, f.State[model.SideA].String())
	b = append(b, `,"b":`...)
	b = appendString(b, f.State[model.SideB].String())
	b = append(b, `},"transitions":[`...)
	for i := range f.Transitions {
		t := &f.Transitions[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"frame":`...)
		b = strconv.AppendUint(b, t.Frame, 10)
		b = append(b, `,"time":`...)
		b = appendTime(b, t.TS)
		b = append(b, `,"side":`...)
		b = appendString(b, t.Side.String())
		b = append(b, `,"from":`...)
		b = appendString(b, t.From.String())
		b = append(b, `,"to":`...)
		b = appendString(b, t.To.String())
		b = append(b, '}')
	}
	b = append(b, `],"resets":[`...)
	for i := range f.Resets {
		r := &f.Resets[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"frame":`...)
		b = strconv.AppendUint(b, r.Frame, 10)
		b = append(b, `,"from":`...)
		b = appendString(b, r.From.String())
		b = append(b, `,"sender_state":`...)
		b = appendString(b, r.SenderState.String())
		b = append(b, `,"form":`...)
		b = appendString(b, r.Form.String())
		b = append(b, `,"stateless":`...)
		b = strconv.AppendBool(b, r.Stateless)
		b = append(b, `,"ttl_mismatch":`...)
		b = strconv.AppendBool(b, r.TTLMismatch)
		b = append(b, `,"ipid_mismatch":`...)
		b = strconv.AppendBool(b, r.IPIDMismatch)
		b = append(b, `,"effective":`...)
		b = strconv.AppendBool(b, r.Effective)
		b = append(b, `,"middlebox_suspected":`...)
		b = strconv.AppendBool(b, r.MiddleboxSuspected)
		if r.Cause != "" {
			b = append(b, `,"cause":`...)
			b = appendString(b, r.Cause)
		}
		if r.KernelReason != "" {
			b = append(b, `,"kernel_reason":`...)
			b = appendString(b, r.KernelReason)
		}
		b = append(b, '}')
	}
	b = append(b, `],"findings":`...)
	b = appendFindings(b, f.Findings)

	// The owners and the socket, as addKernel joins them.
	var owner *model.OwnerRef
	var sides [2]*model.OwnerRef
	for i := range e.Owners {
		o := &e.Owners[i]
		if o.Side == e.Local && owner == nil {
			owner = o
		}
		if len(e.Owners) > 1 {
			if o.Side == model.SideA {
				sides[0] = o
			} else {
				sides[1] = o
			}
		}
	}
	b = append(b, `,"owner":`...)
	if owner != nil {
		b = appendOwner(b, owner.PID, owner.Name)
	} else {
		b = append(b, "null"...)
	}
	if len(e.Owners) > 1 {
		b = append(b, `,"owners":{`...)
		if sides[0] != nil {
			b = append(b, `"a":`...)
			b = appendOwner(b, sides[0].PID, sides[0].Name)
		}
		if sides[1] != nil {
			if sides[0] != nil {
				b = append(b, ',')
			}
			b = append(b, `"b":`...)
			b = appendOwner(b, sides[1].PID, sides[1].Name)
		}
		b = append(b, '}')
	}
	b = append(b, `,"kernel":`...)
	if e.Socket != nil {
		b = appendKernel(b, e.Socket)
	} else {
		b = append(b, "null"...)
	}
	if e.PeerSocket != nil {
		b = append(b, `,"peer_kernel":`...)
		b = appendKernel(b, e.PeerSocket)
	}
	if e.History[0] != nil || e.History[1] != nil {
		b = append(b, `,"kernel_events":{`...)
		if e.History[0] != nil {
			b = append(b, `"a":`...)
			b = appendHistory(b, e.History[0])
		}
		if e.History[1] != nil {
			if e.History[0] != nil {
				b = append(b, ',')
			}
			b = append(b, `"b":`...)
			b = appendHistory(b, e.History[1])
		}
		b = append(b, '}')
	}
	if evicted {
		b = append(b, `,"evicted":true`...)
	}
	if expired {
		b = append(b, `,"expired":true`...)
	}
	return append(b, '}')
}

// appendCounters is jsonCounters.MarshalJSON, appended.
func appendCounters(b []byte, c *model.Counters) []byte {
	b = append(b, '{')
	first := true
	for _, f := range counterFields {
		if f.JSONKey == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, f.JSONKey...)
		b = append(b, '"', ':')
		b = strconv.AppendUint(b, f.Value(c), 10)
	}
	return append(b, '}')
}

func appendFindings(b []byte, fs []model.Finding) []byte {
	b = append(b, '[')
	for i := range fs {
		fd := &fs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"label":`...)
		b = appendString(b, fd.Label.String())
		b = append(b, `,"severity":`...)
		b = appendString(b, fd.Severity.String())
		b = append(b, `,"evidence":`...)
		b = appendString(b, fd.Evidence.String())
		b = append(b, `,"side":`...)
		b = appendString(b, fd.Side.String())
		b = append(b, `,"summary":`...)
		b = appendString(b, fd.Summary)
		b = append(b, `,"frames":[`...)
		for j, fr := range fd.Frames {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, fr, 10)
		}
		b = append(b, "]}"...)
	}
	return append(b, ']')
}

// appendOwner is a jsonOwner without a kernel index: user and netns are
// empty, as rowJSON leaves them.
func appendOwner(b []byte, pid int, name string) []byte {
	b = append(b, `{"pid":`...)
	b = strconv.AppendInt(b, int64(int32(pid)), 10)
	b = append(b, `,"command":`...)
	b = appendString(b, name)
	return append(b, `,"user":"","netns":""}`...)
}

// appendKernel is kernelJSON's object.
func appendKernel(b []byte, s *model.Socket) []byte {
	k := kernelJSON(s)
	b = append(b, `{"state":`...)
	b = appendString(b, k.State)
	b = append(b, `,"rtt_us":`...)
	b = strconv.AppendInt(b, k.RTTus, 10)
	b = append(b, `,"rttvar_us":`...)
	b = strconv.AppendInt(b, k.RTTVarUs, 10)
	b = append(b, `,"retransmits":`...)
	b = strconv.AppendUint(b, uint64(k.Retransmits), 10)
	b = append(b, `,"total_retrans":`...)
	b = strconv.AppendUint(b, uint64(k.TotalRetrans), 10)
	b = append(b, `,"lost":`...)
	b = strconv.AppendUint(b, uint64(k.Lost), 10)
	b = append(b, `,"unacked":`...)
	b = strconv.AppendUint(b, uint64(k.Unacked), 10)
	b = append(b, `,"cwnd":`...)
	b = strconv.AppendUint(b, uint64(k.Cwnd), 10)
	b = append(b, `,"bytes_acked":`...)
	b = strconv.AppendUint(b, k.BytesAcked, 10)
	b = append(b, `,"bytes_received":`...)
	b = strconv.AppendUint(b, k.BytesReceived, 10)
	b = append(b, `,"last_send_ms":`...)
	b = strconv.AppendInt(b, k.LastSendMs, 10)
	b = append(b, `,"last_recv_ms":`...)
	b = strconv.AppendInt(b, k.LastRecvMs, 10)
	b = append(b, `,"recv_q":`...)
	b = strconv.AppendUint(b, uint64(k.RecvQ), 10)
	b = append(b, `,"send_q":`...)
	b = strconv.AppendUint(b, uint64(k.SendQ), 10)
	return append(b, '}')
}

// appendHistory is historyJSON's object.
func appendHistory(b []byte, h *model.SocketHistory) []byte {
	b = append(b, '{')
	if h.Owner.PID > 0 {
		b = append(b, `"owner":`...)
		b = appendOwner(b, h.Owner.PID, h.Owner.Name)
		b = append(b, ',')
	}
	b = append(b, `"states":[`...)
	for i, s := range h.States {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"time":`...)
		b = appendTime(b, s.Time)
		b = append(b, `,"from":`...)
		b = appendString(b, s.From.String())
		b = append(b, `,"to":`...)
		b = appendString(b, s.To.String())
		if s.InProcess && s.PID != 0 {
			b = append(b, `,"pid":`...)
			b = strconv.AppendInt(b, int64(s.PID), 10)
		}
		if s.InProcess && s.Comm != "" {
			b = append(b, `,"command":`...)
			b = appendString(b, s.Comm)
		}
		b = append(b, `,"in_process":`...)
		b = strconv.AppendBool(b, s.InProcess)
		b = append(b, '}')
	}
	b = append(b, `],"resets":[`...)
	for i, r := range h.Resets {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"time":`...)
		b = appendTime(b, r.Time)
		b = append(b, `,"sent":`...)
		b = strconv.AppendBool(b, r.Sent)
		if r.Reason != "" {
			b = append(b, `,"reason":`...)
			b = appendString(b, r.Reason)
		}
		b = append(b, '}')
	}
	b = append(b, `],"drops":[`...)
	for i, d := range h.Drops {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"time":`...)
		b = appendTime(b, d.Time)
		b = append(b, `,"reason":`...)
		b = appendString(b, d.Reason)
		b = append(b, '}')
	}
	b = append(b, `],"retransmits":`...)
	b = strconv.AppendUint(b, uint64(h.Retransmits), 10)
	return append(b, '}')
}

// appendAddrPort appends an endpoint as a JSON string (endpointString).
func appendAddrPort(b []byte, ap netip.AddrPort) []byte {
	b = append(b, '"')
	b = ap.AppendTo(b)
	return append(b, '"')
}

// appendTime appends timeString(ns) as a JSON string.
func appendTime(b []byte, ns int64) []byte {
	b = append(b, '"')
	if ns < 0 {
		b = append(b, '-')
		ns = -ns
	}
	b = strconv.AppendInt(b, ns/1e9, 10)
	b = append(b, '.')
	frac := ns % 1e9
	for d := int64(1e8); d > 1 && frac < d; d /= 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, frac, 10)
	return append(b, '"')
}

// appendFloat appends f as encoding/json writes a float64.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString appends s as jsonWriter.line writes a string:
// encoding/json's escapes with HTML escaping off (quotes, backslashes and
// C0 controls escaped, invalid UTF-8 as U+FFFD, U+2028 and U+2029
// escaped), then appendJSONSafe's (DEL, C1 and bidirectional controls).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if unsafeInJSON(r) {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', hexDigit(r>>12), hexDigit(r>>8), hexDigit(r>>4), hexDigit(r))
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
