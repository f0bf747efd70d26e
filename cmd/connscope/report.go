package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
	"github.com/connscope/connscope/tui"
)

// jsonCounters is the per-direction object of the --json schema. Field
// names are part of the documented interface: change them only with the
// README.
type jsonCounters struct {
	Packets                uint64 `json:"packets"`
	PayloadBytes           uint64 `json:"payload_bytes"`
	SYN                    uint32 `json:"syn"`
	SYNACK                 uint32 `json:"syn_ack"`
	FIN                    uint32 `json:"fin"`
	RST                    uint32 `json:"rst"`
	Retransmission         uint32 `json:"retransmission"`
	FastRetransmission     uint32 `json:"fast_retransmission"`
	SpuriousRetransmission uint32 `json:"spurious_retransmission"`
	OutOfOrder             uint32 `json:"out_of_order"`
	LostSegment            uint32 `json:"lost_segment"`
	AckLostSegment         uint32 `json:"ack_lost_segment"`
	DuplicateAck           uint32 `json:"duplicate_ack"`
	ZeroWindow             uint32 `json:"zero_window"`
	ZeroWindowProbe        uint32 `json:"zero_window_probe"`
	ZeroWindowProbeAck     uint32 `json:"zero_window_probe_ack"`
	KeepAlive              uint32 `json:"keep_alive"`
	KeepAliveAck           uint32 `json:"keep_alive_ack"`
	WindowUpdate           uint32 `json:"window_update"`
	WindowFull             uint32 `json:"window_full"`
	ReusedPorts            uint32 `json:"reused_ports"`
}

func toJSONCounters(c model.Counters) jsonCounters {
	return jsonCounters{
		Packets: c.Packets, PayloadBytes: c.PayloadBytes,
		// syn counts every segment with SYN set, SYN/ACKs included, as the
		// oracle does; syn_ack counts those that also carry ACK.
		SYN: c.SYN + c.SYNACK, SYNACK: c.SYNACK, FIN: c.FIN, RST: c.RST,
		// tshark's retransmission field includes fast and spurious ones.
		Retransmission:         c.RetransmissionField(),
		FastRetransmission:     c.FastRetransmission,
		SpuriousRetransmission: c.SpuriousRetransmission,
		OutOfOrder:             c.OutOfOrder, LostSegment: c.LostSegment, AckLostSegment: c.AckLostSegment,
		DuplicateAck: c.DuplicateAck, ZeroWindow: c.ZeroWindow, ZeroWindowProbe: c.ZeroWindowProbe,
		ZeroWindowProbeAck: c.ZeroWindowProbeAck, KeepAlive: c.KeepAlive, KeepAliveAck: c.KeepAliveAck,
		WindowUpdate: c.WindowUpdate, WindowFull: c.WindowFull, ReusedPorts: c.ReusedPorts,
	}
}

type jsonTransition struct {
	Frame uint64 `json:"frame"`
	Time  string `json:"time"`
	Side  string `json:"side"`
	From  string `json:"from"`
	To    string `json:"to"`
}

type jsonReset struct {
	Frame        uint64 `json:"frame"`
	From         string `json:"from"`
	SenderState  string `json:"sender_state"`
	Form         string `json:"form"`
	Stateless    bool   `json:"stateless"`
	TTLMismatch  bool   `json:"ttl_mismatch"`
	IPIDMismatch bool   `json:"ipid_mismatch"`
	Effective    bool   `json:"effective"`
	Middlebox    bool   `json:"middlebox_suspected"`
	Cause        string `json:"cause,omitempty"`
}

type jsonFlow struct {
	Type         string            `json:"type"`
	Stream       uint64            `json:"stream"`
	A            string            `json:"a"`
	B            string            `json:"b"`
	FirstFrame   uint64            `json:"first_frame"`
	LastFrame    uint64            `json:"last_frame"`
	AToB         jsonCounters      `json:"a_to_b"`
	BToA         jsonCounters      `json:"b_to_a"`
	Client       *string           `json:"client"`
	RoleInferred bool              `json:"role_inferred"`
	IRTTms       *float64          `json:"irtt_ms"`
	State        map[string]string `json:"state"`
	Transitions  []jsonTransition  `json:"transitions"`
	Resets       []jsonReset       `json:"resets"`
	Findings     []jsonFinding     `json:"findings"`
	Owner        *jsonOwner        `json:"owner"`
	Owners       *jsonOwners       `json:"owners,omitempty"`
	Kernel       *jsonKernel       `json:"kernel"`
	Evicted      bool              `json:"evicted,omitempty"`
	Expired      bool              `json:"expired,omitempty"`
}

// jsonOwners names the owner of each side's socket when both ends are on
// this host (loopback): "a" and "b" as in the flow.
type jsonOwners struct {
	A *jsonOwner `json:"a,omitempty"`
	B *jsonOwner `json:"b,omitempty"`
}

// jsonSocket is a kernel-only row: a socket of the kernel's table no
// captured packet showed (opened before the capture, idle since, or on an
// interface not captured), with its findings.
type jsonSocket struct {
	Type     string        `json:"type"`
	Local    string        `json:"local"`
	Remote   string        `json:"remote"`
	State    string        `json:"state"`
	Since    string        `json:"first_seen"`
	Findings []jsonFinding `json:"findings"`
	Owner    *jsonOwner    `json:"owner"`
	Kernel   *jsonKernel   `json:"kernel"`
}

// jsonFinding is one diagnosis finding: its label, severity, one-line
// explanation and the frames that prove it.
type jsonFinding struct {
	Label    string   `json:"label"`
	Severity string   `json:"severity"`
	Side     string   `json:"side"`
	Summary  string   `json:"summary"`
	Frames   []uint64 `json:"frames"`
}

// jsonOwner is the process owning the flow's local socket (live only).
type jsonOwner struct {
	PID     int32  `json:"pid"`
	Command string `json:"command"`
	User    string `json:"user"`
	NetNS   string `json:"netns"`
}

// jsonKernel is the kernel's socket state and TCP_INFO (live only).
type jsonKernel struct {
	State         string `json:"state"`
	RTTus         int64  `json:"rtt_us"`
	RTTVarUs      int64  `json:"rttvar_us"`
	Retransmits   uint8  `json:"retransmits"`
	TotalRetrans  uint32 `json:"total_retrans"`
	Lost          uint32 `json:"lost"`
	Unacked       uint32 `json:"unacked"`
	Cwnd          uint32 `json:"cwnd"`
	BytesAcked    uint64 `json:"bytes_acked"`
	BytesReceived uint64 `json:"bytes_received"`
	LastSendMs    int64  `json:"last_send_ms"`
	LastRecvMs    int64  `json:"last_recv_ms"`
	RecvQ         uint32 `json:"recv_q"`
	SendQ         uint32 `json:"send_q"`
}

// addKernel joins the row's socket and owners to a flow's JSON.
func addKernel(j *jsonFlow, e *model.FlowEntry, kx *model.KernelIndex) {
	if e.Socket != nil {
		j.Kernel = kernelJSON(e.Socket)
	}
	for _, o := range e.Owners {
		jo := ownerJSON(o, kx)
		if o.Side == e.Local && j.Owner == nil {
			j.Owner = jo
		}
		if len(e.Owners) > 1 {
			if j.Owners == nil {
				j.Owners = &jsonOwners{}
			}
			if o.Side == model.SideA {
				j.Owners.A = jo
			} else {
				j.Owners.B = jo
			}
		}
	}
}

func ownerJSON(o model.OwnerRef, kx *model.KernelIndex) *jsonOwner {
	j := &jsonOwner{PID: int32(o.PID), Command: o.Name}
	if kx != nil {
		if p := kx.View.Process(int32(o.PID)); p != nil {
			j.User, j.NetNS = p.User, kx.View.NetNSLabel(p.NetNS)
		}
	}
	return j
}

func kernelJSON(s *model.Socket) *jsonKernel {
	k := &jsonKernel{State: s.State.String(), RecvQ: s.RecvQ, SendQ: s.SendQ}
	if s.HasInfo {
		i := s.Info
		k.RTTus, k.RTTVarUs = i.RTT.Microseconds(), i.RTTVar.Microseconds()
		k.Retransmits, k.TotalRetrans, k.Lost, k.Unacked, k.Cwnd = i.Retransmits, i.TotalRetrans, i.Lost, i.Unacked, i.Cwnd
		k.BytesAcked, k.BytesReceived = i.BytesAcked, i.BytesReceived
		k.LastSendMs, k.LastRecvMs = i.LastDataSent.Milliseconds(), i.LastDataRecv.Milliseconds()
	}
	return k
}

// rowJSON is the JSON line of a row: a flow, or a kernel-only socket.
func rowJSON(e *model.FlowEntry, evicted, expired bool) any {
	f := e.Flow
	if f.Kind == model.FlowKernelOnly {
		j := jsonSocket{Type: "socket", Local: endpointString(f.A), Remote: endpointString(f.B),
			State: f.State[model.SideA].String(), Since: timeString(f.FirstTS), Findings: findingsJSON(f.Findings)}
		if e.Socket != nil {
			j.Kernel = kernelJSON(e.Socket)
		}
		if o, ok := e.Owner(model.SideA); ok {
			j.Owner = &jsonOwner{PID: int32(o.PID), Command: o.Name}
		}
		return j
	}
	j := flowJSON(f, evicted)
	j.Expired = expired
	addKernel(&j, e, nil)
	return j
}

type jsonListener struct {
	Local       string `json:"local"`
	AcceptQueue uint32 `json:"accept_queue"`
	Backlog     uint32 `json:"backlog"`
}

type jsonProcess struct {
	Type           string         `json:"type"`
	PID            int32          `json:"pid"`
	Command        string         `json:"command"`
	NetNS          string         `json:"netns"`
	FDs            int            `json:"fds"`
	FDSoftLimit    uint64         `json:"fd_soft_limit"`
	FDHardLimit    uint64         `json:"fd_hard_limit"`
	FDGrowthPerMin float64        `json:"fd_growth_per_min"`
	SecondsToLimit float64        `json:"seconds_to_limit"`
	SocketsByState map[string]int `json:"sockets_by_state"`
	Listeners      []jsonListener `json:"listeners"`
}

func processJSON(v *model.KernelView, p *model.Process) jsonProcess {
	j := jsonProcess{
		Type: "process", PID: p.PID, Command: p.Command, NetNS: v.NetNSLabel(p.NetNS),
		FDs: p.FDs, FDSoftLimit: p.FDSoftLimit, FDHardLimit: p.FDHardLimit,
		FDGrowthPerMin: p.FDGrowthPerMin, SecondsToLimit: p.SecondsToLimit,
		SocketsByState: map[string]int{}, Listeners: []jsonListener{},
	}
	for st, n := range p.SocketsByState {
		if n > 0 {
			j.SocketsByState[model.State(st).String()] = n
		}
	}
	for _, l := range p.Listeners {
		j.Listeners = append(j.Listeners, jsonListener{Local: l.Local.String(), AcceptQueue: l.AcceptQueue, Backlog: l.Backlog})
	}
	return j
}

func findingsJSON(fs []model.Finding) []jsonFinding {
	out := []jsonFinding{}
	for _, fd := range fs {
		frames := fd.Frames
		if frames == nil {
			frames = []uint64{}
		}
		out = append(out, jsonFinding{
			Label: fd.Label.String(), Severity: fd.Severity.String(), Side: fd.Side.String(),
			Summary: fd.Summary, Frames: frames,
		})
	}
	return out
}

// endpointString formats ip:port, IPv6 as [addr]:port, like the oracle.
func endpointString(ap netip.AddrPort) string {
	return ap.String()
}

// timeString renders a capture timestamp as seconds.nanoseconds since the
// epoch, exact and locale-free.
func timeString(ns int64) string {
	neg := ""
	if ns < 0 {
		neg, ns = "-", -ns
	}
	return fmt.Sprintf("%s%d.%09d", neg, ns/1e9, ns%1e9)
}

func flowJSON(f *model.Flow, evicted bool) jsonFlow {
	j := jsonFlow{
		Type: "flow", Stream: uint64(f.ID),
		A: endpointString(f.A), B: endpointString(f.B),
		FirstFrame: f.FirstFrame, LastFrame: f.LastFrame,
		AToB: toJSONCounters(f.Dir[model.DirAB]), BToA: toJSONCounters(f.Dir[model.DirBA]),
		RoleInferred: f.RoleInferred,
		State:        map[string]string{"a": f.State[model.SideA].String(), "b": f.State[model.SideB].String()},
		Transitions:  []jsonTransition{},
		Resets:       []jsonReset{},
		Findings:     findingsJSON(f.Findings),
		Evicted:      evicted,
	}
	if f.Client != model.SideNone {
		c := f.Client.String()
		j.Client = &c
	}
	if f.IRTT > 0 {
		ms := float64(f.IRTT) / 1e6
		j.IRTTms = &ms
	}
	for _, t := range f.Transitions {
		j.Transitions = append(j.Transitions, jsonTransition{
			Frame: t.Frame, Time: timeString(t.TS), Side: t.Side.String(), From: t.From.String(), To: t.To.String(),
		})
	}
	for _, r := range f.Resets {
		j.Resets = append(j.Resets, jsonReset{
			Frame: r.Frame, From: r.From.String(), SenderState: r.SenderState.String(), Form: r.Form.String(),
			Stateless: r.Stateless, TTLMismatch: r.TTLMismatch, IPIDMismatch: r.IPIDMismatch,
			Effective: r.Effective, Middlebox: r.MiddleboxSuspected, Cause: r.Cause,
		})
	}
	return j
}

// summary is the file-level last line of --json and the footer of --report.
type summary struct {
	Type         string   `json:"type"`
	Source       string   `json:"source"`
	Packets      uint64   `json:"packets"`
	TCPFrames    uint64   `json:"tcp_frames"`
	NonTCP       uint64   `json:"non_tcp"`
	DecodeErrors uint64   `json:"decode_errors"`
	FilteredOut  uint64   `json:"filtered_out"`
	KernelDrops  uint64   `json:"kernel_drops"`
	QueueDrops   uint64   `json:"queue_drops"`
	Duplicates   uint64   `json:"duplicates"`
	Flows        uint64   `json:"flows"`
	EvictedFlows uint64   `json:"evicted_flows"`
	ExpiredFlows uint64   `json:"expired_flows"`
	Problems     []string `json:"problems,omitempty"`
	Error        string   `json:"error,omitempty"`
	// Interrupted is set when a signal ended the reading early: the
	// output covers the input up to there.
	Interrupted bool `json:"interrupted,omitempty"`
}

func makeSummary(source string, snap *model.Snapshot, readErr error) summary {
	s := summary{
		Type: "summary", Source: source,
		Packets: snap.Source.Packets, TCPFrames: snap.Source.TCPFrames, NonTCP: snap.Source.NonTCP,
		DecodeErrors: snap.Source.DecodeErrors, FilteredOut: snap.Source.FilteredOut,
		KernelDrops: snap.Source.KernelDrops, QueueDrops: snap.Source.QueueDrops, Duplicates: snap.Source.Duplicates,
		Flows: snap.Table.FlowsCreated, EvictedFlows: snap.Table.Evicted, ExpiredFlows: snap.Table.Expired,
	}
	for _, p := range snap.Problems {
		s.Problems = append(s.Problems, p.String())
	}
	if readErr != nil {
		s.Error = readErr.Error()
	}
	return s
}

// jsonWriter streams JSON Lines. Strings from outside (file and
// interface names, process names, packet comments) may hold any
// character: encoding/json escapes C0 controls, but writes DEL, the C1
// controls and the bidirectional controls as they are, which a terminal
// or a viewer then acts on. Each line is escaped further (see
// appendJSONSafe), so the output holds no control character at all.
type jsonWriter struct {
	w       *bufio.Writer
	enc     *json.Encoder // into buf
	buf     bytes.Buffer
	escaped []byte
}

func newJSONWriter(w io.Writer) *jsonWriter {
	j := &jsonWriter{w: bufio.NewWriterSize(w, 64<<10)}
	j.enc = json.NewEncoder(&j.buf)
	j.enc.SetEscapeHTML(false)
	return j
}

// line writes v as one line of JSON.
func (j *jsonWriter) line(v any) error {
	j.buf.Reset()
	if err := j.enc.Encode(v); err != nil {
		return err
	}
	b := j.buf.Bytes()
	if !plainASCII(b) {
		j.escaped = appendJSONSafe(j.escaped[:0], b)
		b = j.escaped
	}
	_, err := j.w.Write(b)
	return err
}

func (j *jsonWriter) flush() error { return j.w.Flush() }

// plainASCII reports whether b holds no byte at or above DEL: nothing to
// escape, the common case.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x7f {
			return false
		}
	}
	return true
}

// appendJSONSafe appends the encoded JSON b to dst with DEL, the C1
// controls (U+0080-U+009F) and the bidirectional controls (U+061C,
// U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) written as \uXXXX
// escapes. Outside strings JSON is printable ASCII, so every such
// character is inside a string, where the escape means the same
// character.
func appendJSONSafe(dst, b []byte) []byte {
	done := 0 // b[:done] is in dst
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x7f {
			i++
			continue
		}
		r, size := rune(c), 1
		if c > 0x7f {
			r, size = utf8.DecodeRune(b[i:])
		}
		if r == 0x7f || (r >= 0x80 && r <= 0x9f) || isBidiControl(r) {
			dst = append(dst, b[done:i]...)
			dst = append(dst, '\\', 'u', hexDigit(r>>12), hexDigit(r>>8), hexDigit(r>>4), hexDigit(r))
			done = i + size
		}
		i += size
	}
	return append(dst, b[done:]...)
}

func hexDigit(r rune) byte { return "0123456789abcdef"[r&0xf] }

// isBidiControl reports the embedding, override, isolate and mark
// characters that can reorder the text around them (the set tui.Sanitize
// drops).
func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}

// roleName names side s of f for people: client/server when known.
func roleName(f *model.Flow, s model.Side) string {
	switch {
	case f.Client == model.SideNone:
		return s.String()
	case f.Client == s:
		return "client"
	default:
		return "server"
	}
}

// writeReport prints the human-readable table of the kept connections
// and a summary.
func writeReport(w io.Writer, p *pipeline.Pipeline, snap *model.Snapshot, sum summary) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%-5s %-46s %-25s %-13s %-15s %5s %5s %9s  %s\n",
		"#", "CONNECTION (client -> server)", "STATE client/server", "PKTS c>s/s>c", "BYTES c>s/s>c", "RETR", "ZWIN", "IRTT", "RST (sender@state)")
	var nRST, nRetr, nZW, nFind, nKernel int
	for i := range snap.Rows {
		e := &snap.Rows[i]
		if !p.Keep(e, snap.Now) {
			continue
		}
		f := e.Flow
		if f.Kind == model.FlowKernelOnly {
			nKernel++
			conn := fmt.Sprintf("%s -- %s", endpointString(f.A), endpointString(f.B))
			if o, ok := e.Owner(model.SideA); ok {
				conn += fmt.Sprintf(" [%s/%d]", tui.Sanitize(o.Name), o.PID)
			}
			fmt.Fprintf(bw, "%-5s %-46s %-25s %s\n", "-", conn, f.State[model.SideA].String(), "kernel only: no packet seen since connscope started")
			nFind += writeFindings(bw, f.Findings)
			continue
		}
		c, s := model.SideA, model.SideB
		if f.Client == model.SideB {
			c, s = model.SideB, model.SideA
		}
		arrow := "->"
		if f.Client == model.SideNone || f.RoleInferred {
			arrow = "?>"
		}
		conn := fmt.Sprintf("%s %s %s", endpointString(f.Endpoint(c)), arrow, endpointString(f.Endpoint(s)))
		state := f.State[c].String() + "/" + f.State[s].String()
		dc, ds := f.Dir[c], f.Dir[s]
		retr := dc.RetransmissionField() + ds.RetransmissionField()
		var rst []string
		for _, r := range f.Resets {
			who := roleName(f, r.From)
			if r.MiddleboxSuspected {
				who += "(middlebox?)"
			}
			rst = append(rst, who+"@"+r.SenderState.String())
		}
		if len(e.Owners) > 0 {
			o := e.Owners[0]
			conn += fmt.Sprintf(" [%s/%d]", tui.Sanitize(o.Name), o.PID)
		}
		rstCol := "-"
		if len(rst) > 0 {
			rstCol = strings.Join(rst, ",")
			nRST++
		}
		if retr > 0 {
			nRetr++
		}
		zw := dc.ZeroWindow + ds.ZeroWindow
		if zw > 0 {
			nZW++
		}
		irtt := "-"
		if f.IRTT > 0 {
			irtt = fmt.Sprintf("%.3fms", float64(f.IRTT)/1e6)
		}
		// The reset list has no bound, so it goes last.
		fmt.Fprintf(bw, "%-5d %-46s %-25s %-13s %-15s %5d %5d %9s  %s\n", f.ID, conn, state,
			fmt.Sprintf("%d/%d", dc.Packets, ds.Packets), fmt.Sprintf("%d/%d", dc.PayloadBytes, ds.PayloadBytes),
			retr, zw, irtt, rstCol)
		nFind += writeFindings(bw, f.Findings)
	}
	kernelRows := ""
	if nKernel > 0 {
		kernelRows = fmt.Sprintf(", %d sockets seen only in the kernel's table", nKernel)
	}
	fmt.Fprintf(bw, "\n%s: %d packets (%d TCP, %d other, %d undecodable), %d flows (%d reset, %d with retransmissions, %d with zero windows)%s, %d findings, %d evicted\n",
		tui.Sanitize(sum.Source), sum.Packets, sum.TCPFrames, sum.NonTCP, sum.DecodeErrors, sum.Flows, nRST, nRetr, nZW, kernelRows, nFind, sum.EvictedFlows)
	if sum.Interrupted {
		fmt.Fprintln(bw, "interrupted: the report covers the input read until the signal")
	}
	if sum.FilteredOut > 0 || sum.KernelDrops > 0 || sum.QueueDrops > 0 || sum.Duplicates > 0 {
		fmt.Fprintf(bw, "filtered out %d, kernel drops %d, queue drops %d, forwarded copies %d\n", sum.FilteredOut, sum.KernelDrops, sum.QueueDrops, sum.Duplicates)
	}
	if snap.Kernel != nil {
		writeProcesses(bw, snap.Processes, snap.Kernel.View.Limitations)
	}
	return bw.Flush()
}

// writeFindings prints a row's findings under it and returns how many.
func writeFindings(w io.Writer, fs []model.Finding) int {
	for _, fd := range fs {
		fmt.Fprintf(w, "      %s %s: %s (frames %s)\n", severityMark(fd.Severity), fd.Label, tui.Sanitize(fd.Summary), frameList(fd.Frames))
	}
	return len(fs)
}

// severityMark is a short, colour-free severity marker for the report.
func severityMark(s model.Severity) string {
	switch s {
	case model.SeverityCritical:
		return "!!"
	case model.SeverityWarning:
		return "! "
	}
	return "i "
}

// frameList renders evidence frames compactly ("3,4,9" or "3,4,...,90 (12)").
func frameList(fr []uint64) string {
	if len(fr) == 0 {
		return "-"
	}
	var parts []string
	for i, f := range fr {
		if i == 6 && len(fr) > 8 {
			parts = append(parts, "...", fmt.Sprint(fr[len(fr)-1]))
			return strings.Join(parts, ",") + fmt.Sprintf(" (%d)", len(fr))
		}
		parts = append(parts, fmt.Sprint(f))
	}
	return strings.Join(parts, ",")
}

// writeProcesses prints the processes owning TCP sockets: fds against the
// soft limit, the growth rate and the time left.
func writeProcesses(w io.Writer, procs []model.Process, limitations []string) {
	if len(procs) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%-8s %-20s %-17s %9s %12s  %s\n", "PID", "COMMAND", "FDS/SOFT LIMIT", "FDS/MIN", "TIME LEFT", "SOCKETS")
	for i := range procs {
		p := &procs[i]
		left := "-"
		if p.SecondsToLimit >= 0 {
			left = fmt.Sprintf("%.0fs", p.SecondsToLimit)
		}
		var socks []string
		for st, n := range p.SocketsByState {
			if n > 0 {
				socks = append(socks, fmt.Sprintf("%s %d", model.State(st), n))
			}
		}
		for _, l := range p.Listeners {
			socks = append(socks, fmt.Sprintf("listen %s queue %d/%d", l.Local, l.AcceptQueue, l.Backlog))
		}
		fds, rate := fmt.Sprintf("%d/%d", p.FDs, p.FDSoftLimit), fmt.Sprintf("%.1f", p.FDGrowthPerMin)
		if p.FDSoftLimit == 0 { // owners from packet comments: no fd figures
			fds, rate = "-", "-"
		}
		fmt.Fprintf(w, "%-8d %-20s %-17s %9s %12s  %s\n", p.PID, tui.Sanitize(p.Command), fds, rate, left, strings.Join(socks, ", "))
	}
	for _, l := range limitations {
		fmt.Fprintf(w, "note: %s\n", tui.Sanitize(l))
	}
}
