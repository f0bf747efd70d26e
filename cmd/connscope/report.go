package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
)

// jsonCounters is the per-direction object of the --json schema: every
// row of the model's counter table that has a JSON key, in the table's
// order, with the value --json reports (model.CounterField.Value).
type jsonCounters model.Counters

// counterFields is the counter table, read once.
var counterFields = model.CounterFields()

// MarshalJSON writes the object from the counter table, without
// reflection: a new counter is a row of the table, not a field here.
func (c jsonCounters) MarshalJSON() ([]byte, error) {
	mc := model.Counters(c)
	b := make([]byte, 0, 512)
	b = append(b, '{')
	for _, f := range counterFields {
		if f.JSONKey == "" {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.JSONKey...)
		b = append(b, '"', ':')
		b = strconv.AppendUint(b, f.Value(&mc), 10)
	}
	return append(b, '}'), nil
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
	KernelReason string `json:"kernel_reason,omitempty"`
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
	PeerKernel   *jsonKernel       `json:"peer_kernel,omitempty"`
	KernelEvents *jsonKEvents      `json:"kernel_events,omitempty"`
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
	Evidence string   `json:"evidence"`
	Side     string   `json:"side"`
	Summary  string   `json:"summary"`
	Frames   []uint64 `json:"frames"`
}

// jsonKEvents is what the kernel's events said of each side's socket on
// this host ("a", "b").
type jsonKEvents struct {
	A *jsonHistory `json:"a,omitempty"`
	B *jsonHistory `json:"b,omitempty"`
}

// jsonHistory is one socket's kernel history.
type jsonHistory struct {
	Owner       *jsonOwner   `json:"owner,omitempty"`
	States      []jsonKState `json:"states"`
	Resets      []jsonKReset `json:"resets"`
	Drops       []jsonKDrop  `json:"drops"`
	Retransmits uint32       `json:"retransmits"`
}

type jsonKState struct {
	Time      string `json:"time"`
	From      string `json:"from"`
	To        string `json:"to"`
	PID       int32  `json:"pid,omitempty"`
	Command   string `json:"command,omitempty"`
	InProcess bool   `json:"in_process"`
}

type jsonKReset struct {
	Time   string `json:"time"`
	Sent   bool   `json:"sent"`
	Reason string `json:"reason,omitempty"`
}

type jsonKDrop struct {
	Time   string `json:"time"`
	Reason string `json:"reason"`
}

func historyJSON(h *model.SocketHistory) *jsonHistory {
	if h == nil {
		return nil
	}
	j := &jsonHistory{States: []jsonKState{}, Resets: []jsonKReset{}, Drops: []jsonKDrop{}, Retransmits: h.Retransmits}
	if h.Owner.PID > 0 {
		j.Owner = &jsonOwner{PID: int32(h.Owner.PID), Command: h.Owner.Name}
	}
	for _, s := range h.States {
		js := jsonKState{Time: timeString(s.Time), From: s.From.String(), To: s.To.String(), InProcess: s.InProcess}
		if s.InProcess {
			js.PID, js.Command = s.PID, s.Comm
		}
		j.States = append(j.States, js)
	}
	for _, r := range h.Resets {
		j.Resets = append(j.Resets, jsonKReset{Time: timeString(r.Time), Sent: r.Sent, Reason: r.Reason})
	}
	for _, d := range h.Drops {
		j.Drops = append(j.Drops, jsonKDrop{Time: timeString(d.Time), Reason: d.Reason})
	}
	return j
}

// jsonProcFinding is a finding about a process (fd_leak, fd_exhaustion).
type jsonProcFinding struct {
	Type     string `json:"type"`
	PID      int32  `json:"pid"`
	Command  string `json:"command"`
	Label    string `json:"label"`
	Severity string `json:"severity"`
	Evidence string `json:"evidence"`
	Summary  string `json:"summary"`
}

func procFindingJSON(pf *model.ProcessFinding) jsonProcFinding {
	return jsonProcFinding{Type: "finding", PID: pf.PID, Command: pf.Command, Label: pf.Label.String(),
		Severity: pf.Severity.String(), Evidence: pf.Evidence.String(), Summary: pf.Summary}
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
	if e.PeerSocket != nil {
		j.PeerKernel = kernelJSON(e.PeerSocket)
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
	if e.History[0] != nil || e.History[1] != nil {
		j.KernelEvents = &jsonKEvents{A: historyJSON(e.History[0]), B: historyJSON(e.History[1])}
	}
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
			Label: fd.Label.String(), Severity: fd.Severity.String(), Evidence: fd.Evidence.String(), Side: fd.Side.String(),
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
		AToB: jsonCounters(f.Dir[model.DirAB]), BToA: jsonCounters(f.Dir[model.DirBA]),
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
			Effective: r.Effective, Middlebox: r.MiddleboxSuspected, Cause: r.Cause, KernelReason: r.KernelReason,
		})
	}
	return j
}

// jsonFindingEvent is the line of a finding raised during a live run
// (printed as it happens).
type jsonFindingEvent struct {
	Type string `json:"type"`
	// Time is when the snapshot that raised it was taken.
	Time string `json:"time"`
	// Stream is the flow's stream index; absent for a socket no packet
	// showed (then A is the local end).
	Stream *uint64 `json:"stream,omitempty"`
	A      string  `json:"a"`
	B      string  `json:"b"`
	Client *string `json:"client"`
	// Owner is the process owning the socket of the side the finding is
	// about, else of the local side.
	Owner    *jsonOwner `json:"owner"`
	Label    string     `json:"label"`
	Severity string     `json:"severity"`
	Side     string     `json:"side"`
	Summary  string     `json:"summary"`
	Frames   []uint64   `json:"frames"`
	// Evidence is the pcapng file of the flow's packets (--evidence).
	Evidence string `json:"evidence,omitempty"`
}

func findingEventJSON(ev pipeline.FindingEvent, evidence string) jsonFindingEvent {
	f, fd := ev.Row.Flow, ev.Finding
	j := jsonFindingEvent{Type: "finding", Time: timeString(ev.Now), A: endpointString(f.A), B: endpointString(f.B),
		Label: fd.Label.String(), Severity: fd.Severity.String(), Side: fd.Side.String(), Summary: fd.Summary,
		Frames: fd.Frames, Evidence: evidence}
	if j.Frames == nil {
		j.Frames = []uint64{}
	}
	if f.Kind == model.FlowWire {
		id := uint64(f.ID)
		j.Stream = &id
	}
	if f.Client != model.SideNone {
		c := f.Client.String()
		j.Client = &c
	}
	o, ok := ev.Row.Owner(fd.Side)
	if !ok {
		o, ok = ev.Row.Owner(ev.Row.LocalSide())
	}
	if ok {
		j.Owner = ownerJSON(o, nil)
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
	// KernelEvents says which kernel events are missing and why; absent
	// when every kind came, or for a file.
	KernelEvents string `json:"kernel_events,omitempty"`
	EventsLost   uint64 `json:"kernel_events_lost,omitempty"`
	Error        string `json:"error,omitempty"`
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
	s.KernelEvents, s.EventsLost = snap.EventsNote, snap.EventsLost
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
// appendJSONSafe), so the output holds no control character at all; the
// flow lines written by hand (appendFlowJSON) are escaped so already.
type jsonWriter struct {
	w       *bufio.Writer
	enc     *json.Encoder // into buf
	buf     bytes.Buffer
	escaped []byte
	flow    []byte // a flow line being written
	// stream flushes every line as it is written (a run that goes on
	// until stopped, followed by a log pipeline).
	stream bool
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
	return j.write(b)
}

// write writes one whole line, and flushes it when streaming.
func (j *jsonWriter) write(b []byte) error {
	if _, err := j.w.Write(b); err != nil || !j.stream {
		return err
	}
	return j.w.Flush()
}

func (j *jsonWriter) flush() error { return j.w.Flush() }

// row writes the line of a row: a flow's by hand (appendFlowJSON), a
// kernel-only socket's through encoding/json.
func (j *jsonWriter) row(e *model.FlowEntry, evicted, expired bool) error {
	if e.Flow.Kind == model.FlowKernelOnly {
		return j.line(rowJSON(e, evicted, expired))
	}
	j.flow = append(appendFlowJSON(j.flow[:0], e, evicted, expired), '\n')
	return j.write(j.flow)
}

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
		if unsafeInJSON(r) {
			dst = append(dst, b[done:i]...)
			dst = append(dst, '\\', 'u', hexDigit(r>>12), hexDigit(r>>8), hexDigit(r>>4), hexDigit(r))
			done = i + size
		}
		i += size
	}
	return append(dst, b[done:]...)
}

// unsafeInJSON reports the characters the output escapes although JSON
// allows them raw: DEL, the C1 controls and the bidirectional controls.
func unsafeInJSON(r rune) bool {
	return r == 0x7f || (r >= 0x80 && r <= 0x9f) || isBidiControl(r)
}

func hexDigit(r rune) byte { return "0123456789abcdef"[r&0xf] }

// isBidiControl reports the embedding, override, isolate and mark
// characters that can reorder the text around them (the set
// model.Sanitize drops).
func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}

// reportWriter prints the human-readable table of the kept connections,
// a row at a time as the end of the run streams them, then the summary.
type reportWriter struct {
	bw                             *bufio.Writer
	nRST, nRetr, nZW, nFind, nKern int
	line, num                      []byte // reused by row
}

// newReportWriter starts the report with its column headings.
func newReportWriter(w io.Writer) *reportWriter {
	r := &reportWriter{bw: bufio.NewWriterSize(w, 64<<10)}
	fmt.Fprintf(r.bw, "%-5s %-46s %-25s %-13s %-15s %5s %5s %9s  %s\n",
		"#", "CONNECTION (client → server)", "STATE client/server", "PKTS c>s/s>c", "BYTES c>s/s>c", "RETR", "ZWIN", "IRTT", "RST (sender@state)")
	return r
}

// row prints one connection and its findings. The error is the output's
// (sticky: the rest is not written).
func (r *reportWriter) row(e *model.FlowEntry) error {
	bw := r.bw
	f := e.Flow
	if f.Kind == model.FlowKernelOnly {
		r.nKern++
		conn := fmt.Sprintf("%s %s %s", endpointString(f.A), model.Arrow(false, false), endpointString(f.B))
		if o, ok := e.Owner(model.SideA); ok {
			conn += fmt.Sprintf(" [%s/%d]", model.Sanitize(o.Name), o.PID)
		}
		fmt.Fprintf(bw, "%-5s %-46s %-25s %s\n", "-", conn, f.State[model.SideA].String(), "kernel only: no packet seen since connscope started")
		r.nFind += writeFindings(bw, f.Findings)
		return stickyErr(bw)
	}
	c, s := model.SideA, model.SideB
	if f.Client == model.SideB {
		c, s = model.SideB, model.SideA
	}
	// The line is built in a reused buffer: at the end of a large capture
	// this runs for every connection.
	line := r.line[:0]
	line = padRight(strconv.AppendUint(line, uint64(f.ID), 10), len(line), 5)
	line = append(line, ' ')
	mark := len(line)
	line = f.Endpoint(c).AppendTo(line)
	line = append(line, ' ')
	line = append(line, model.Arrow(f.Client != model.SideNone, f.RoleInferred)...)
	line = append(line, ' ')
	line = f.Endpoint(s).AppendTo(line)
	if len(e.Owners) > 0 {
		o := e.Owners[0]
		line = append(line, " ["...)
		line = append(line, model.Sanitize(o.Name)...)
		line = append(line, '/')
		line = strconv.AppendInt(line, int64(o.PID), 10)
		line = append(line, ']')
	}
	line = padRight(line, mark, 46)
	line = append(line, ' ')
	mark = len(line)
	line = append(line, f.State[c].String()...)
	line = append(line, '/')
	line = append(line, f.State[s].String()...)
	line = padRight(line, mark, 25)
	line = append(line, ' ')
	dc, ds := &f.Dir[c], &f.Dir[s]
	mark = len(line)
	line = strconv.AppendUint(line, dc.Packets, 10)
	line = append(line, '/')
	line = strconv.AppendUint(line, ds.Packets, 10)
	line = padRight(line, mark, 13)
	line = append(line, ' ')
	mark = len(line)
	line = strconv.AppendUint(line, dc.PayloadBytes, 10)
	line = append(line, '/')
	line = strconv.AppendUint(line, ds.PayloadBytes, 10)
	line = padRight(line, mark, 15)
	retr := dc.RetransmissionField() + ds.RetransmissionField()
	zw := dc.ZeroWindow + ds.ZeroWindow
	line = append(line, ' ')
	line = padLeft(line, strconv.AppendUint(r.num[:0], uint64(retr), 10), 5)
	line = append(line, ' ')
	line = padLeft(line, strconv.AppendUint(r.num[:0], uint64(zw), 10), 5)
	line = append(line, ' ')
	line = padLeft(line, append(r.num[:0], model.RTTCell(f.IRTT)...), 9)
	line = append(line, ' ', ' ')
	// The reset list has no bound, so it goes last.
	if len(f.Resets) == 0 {
		line = append(line, '-')
	} else {
		r.nRST++
		for i, x := range f.Resets {
			if i > 0 {
				line = append(line, ',')
			}
			line = append(line, model.RoleWord(f, x.From)...)
			if x.MiddleboxSuspected {
				line = append(line, "(middlebox?)"...)
			}
			line = append(line, '@')
			line = append(line, x.SenderState.String()...)
		}
	}
	line = append(line, '\n')
	r.line = line
	if retr > 0 {
		r.nRetr++
	}
	if zw > 0 {
		r.nZW++
	}
	bw.Write(line)
	r.nFind += writeFindings(bw, f.Findings)
	return stickyErr(bw)
}

// padRight pads b[from:] with spaces to width characters, as fmt's %-Ns.
func padRight(b []byte, from, width int) []byte {
	for n := utf8.RuneCount(b[from:]); n < width; n++ {
		b = append(b, ' ')
	}
	return b
}

// padLeft appends s right-aligned in width characters, as fmt's %Ns.
func padLeft(b, s []byte, width int) []byte {
	for n := utf8.RuneCount(s); n < width; n++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

// stickyErr returns the error a buffered writer met, if any, without
// flushing it.
func stickyErr(bw *bufio.Writer) error {
	_, err := bw.Write(nil)
	return err
}

// end prints the summary, the processes and their findings, and flushes.
func (r *reportWriter) end(snap *model.Snapshot, sum summary) error {
	bw := r.bw
	kernelRows := ""
	if r.nKern > 0 {
		kernelRows = ", " + model.Plural(r.nKern, "socket") + " seen only in the kernel's table"
	}
	fmt.Fprintf(bw, "\n%s: %s (%d TCP, %d other, %d undecodable), %s (%d reset, %d with retransmissions, %d with zero windows)%s, %s, %d evicted\n",
		model.Sanitize(sum.Source), model.Plural(int(sum.Packets), "packet"), sum.TCPFrames, sum.NonTCP, sum.DecodeErrors,
		model.Plural(int(sum.Flows), "flow"), r.nRST, r.nRetr, r.nZW, kernelRows, model.Plural(r.nFind, "finding"), sum.EvictedFlows)
	if sum.Interrupted {
		fmt.Fprintln(bw, "interrupted: the report covers the input read until the signal")
	}
	if sum.FilteredOut > 0 || sum.KernelDrops > 0 || sum.QueueDrops > 0 || sum.Duplicates > 0 {
		fmt.Fprintf(bw, "filtered out %d, kernel drops %d, queue drops %d, forwarded copies %d\n", sum.FilteredOut, sum.KernelDrops, sum.QueueDrops, sum.Duplicates)
	}
	if snap.Kernel != nil {
		writeProcesses(bw, snap.Processes, snap.Kernel.View.Limitations)
	}
	if len(snap.ProcessFindings) > 0 {
		fmt.Fprintf(bw, "\nprocess findings:\n")
		for i := range snap.ProcessFindings {
			pf := &snap.ProcessFindings[i]
			fmt.Fprintf(bw, "      %s %s: %s [%s]\n", model.SeverityMark(pf.Severity), pf.Label, model.Sanitize(pf.Summary), evidenceMark(pf.Evidence))
		}
	}
	if snap.EventsNote != "" {
		fmt.Fprintf(bw, "note: %s\n", model.Sanitize(snap.EventsNote))
	}
	return bw.Flush()
}

// writeFindings prints a row's findings under it, each after its
// severity mark, and returns how many.
func writeFindings(w io.Writer, fs []model.Finding) int {
	for _, fd := range fs {
		fmt.Fprintf(w, "      %s %s: %s (frames %s) [%s]\n", model.SeverityMark(fd.Severity), fd.Label, model.Sanitize(fd.Summary),
			model.FrameList(fd.Frames, 8), evidenceMark(fd.Evidence))
	}
	return len(fs)
}

// evidenceMark says what a finding rests on: "wire", "kernel" or
// "wire+kernel".
func evidenceMark(e model.Evidence) string {
	if e == model.EvidenceBoth {
		return "wire+kernel"
	}
	return e.String()
}

// writeProcesses prints the processes owning TCP sockets: fds against the
// soft limit, the growth rate and the time left, then once what the poll
// could not see.
func writeProcesses(w io.Writer, procs []model.Process, limitations []string) {
	if len(procs) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%-8s %-20s %-17s %9s %12s  %s\n", "PID", "COMMAND", "FDS/SOFT LIMIT", "FDS/MIN", "TIME LEFT", "SOCKETS")
	for i := range procs {
		p := &procs[i]
		left := model.TimeToFDLimit(p, false)
		var socks []string
		for st, n := range p.SocketsByState {
			if n > 0 {
				socks = append(socks, fmt.Sprintf("%s %d", model.State(st), n))
			}
		}
		for _, l := range p.Listeners {
			socks = append(socks, fmt.Sprintf("listen %s queue %d/%d", l.Local, l.AcceptQueue, l.Backlog))
		}
		fds, rate := fmt.Sprintf("%d/%s", p.FDs, model.Limit(p.FDSoftLimit)), fmt.Sprintf("%.1f", p.FDGrowthPerMin)
		if p.FDSoftLimit == 0 { // owners from packet comments: no fd figures
			fds, rate = "-", "-"
		}
		fmt.Fprintf(w, "%-8d %-20s %-17s %9s %12s  %s\n", p.PID, model.Sanitize(p.Command), fds, rate, left, strings.Join(socks, ", "))
	}
	for _, l := range model.LimitationNotes(limitations) {
		fmt.Fprintf(w, "note: %s\n", model.Sanitize(l))
	}
}
