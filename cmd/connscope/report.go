package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/connscope/connscope/model"
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
	Evicted      bool              `json:"evicted,omitempty"`
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
	Type         string `json:"type"`
	Source       string `json:"source"`
	Packets      uint64 `json:"packets"`
	TCPFrames    uint64 `json:"tcp_frames"`
	NonTCP       uint64 `json:"non_tcp"`
	DecodeErrors uint64 `json:"decode_errors"`
	FilteredOut  uint64 `json:"filtered_out"`
	KernelDrops  uint64 `json:"kernel_drops"`
	QueueDrops   uint64 `json:"queue_drops"`
	Flows        uint64 `json:"flows"`
	EvictedFlows uint64 `json:"evicted_flows"`
	Error        string `json:"error,omitempty"`
}

func makeSummary(source string, snap *model.Snapshot, readErr error) summary {
	s := summary{
		Type: "summary", Source: source,
		Packets: snap.Source.Packets, TCPFrames: snap.Source.TCPFrames, NonTCP: snap.Source.NonTCP,
		DecodeErrors: snap.Source.DecodeErrors, FilteredOut: snap.Source.FilteredOut,
		KernelDrops: snap.Source.KernelDrops, QueueDrops: snap.Source.QueueDrops,
		Flows: snap.Table.FlowsCreated, EvictedFlows: snap.Table.Evicted,
	}
	if readErr != nil {
		s.Error = readErr.Error()
	}
	return s
}

// jsonWriter streams JSON Lines.
type jsonWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
}

func newJSONWriter(w io.Writer) *jsonWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &jsonWriter{w: bw, enc: enc}
}

func (j *jsonWriter) flow(f *model.Flow, evicted bool) error {
	return j.enc.Encode(flowJSON(f, evicted))
}
func (j *jsonWriter) line(v any) error { return j.enc.Encode(v) }
func (j *jsonWriter) flush() error     { return j.w.Flush() }

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

// writeReport prints the human-readable table of connections and a summary.
func writeReport(w io.Writer, snap *model.Snapshot, sum summary) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%-5s %-46s %-25s %-13s %-15s %5s %5s %9s  %s\n",
		"#", "CONNECTION (client -> server)", "STATE client/server", "PKTS c>s/s>c", "BYTES c>s/s>c", "RETR", "ZWIN", "IRTT", "RST (sender@state)")
	var nRST, nRetr, nZW int
	for i := range snap.Flows {
		f := &snap.Flows[i]
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
	}
	fmt.Fprintf(bw, "\n%s: %d packets (%d TCP, %d other, %d undecodable), %d flows (%d reset, %d with retransmissions, %d with zero windows), %d evicted\n",
		sum.Source, sum.Packets, sum.TCPFrames, sum.NonTCP, sum.DecodeErrors, sum.Flows, nRST, nRetr, nZW, sum.EvictedFlows)
	if sum.FilteredOut > 0 || sum.KernelDrops > 0 || sum.QueueDrops > 0 {
		fmt.Fprintf(bw, "filtered out %d, kernel drops %d, queue drops %d\n", sum.FilteredOut, sum.KernelDrops, sum.QueueDrops)
	}
	return bw.Flush()
}
