package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connscope/connscope/internal/corpus"
	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
)

// reflected is the flow line as jsonWriter.line writes rowJSON's value:
// encoding/json, then the further escapes.
func reflected(t *testing.T, e *model.FlowEntry, evicted, expired bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rowJSON(e, evicted, expired)); err != nil {
		t.Fatal(err)
	}
	return appendJSONSafe(nil, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// TestFlowJSON_SameBytesAsEncodingJSON: the flow line written by hand is
// byte for byte what encoding/json writes for the schema's types, on
// every row of every shared capture, the demo and the scenario captures
// (owners from comments included).
func TestFlowJSON_SameBytesAsEncodingJSON(t *testing.T) {
	files := []string{"demo/demo.pcap"}
	for _, e := range corpus.Captures(t) {
		files = append(files, e.Path)
	}
	scen, _ := filepath.Glob("../../testdata/scenarios/captures/*.pcap*")
	files = append(files, scen...)
	rows := 0
	for _, path := range files {
		p, err := pipeline.Open(pipeline.Config{File: path, EndRows: func(e *model.FlowEntry) error {
			if e.Flow.Kind != model.FlowWire {
				return nil
			}
			rows++
			for _, x := range [][2]bool{{false, false}, {true, false}, {false, true}} {
				got := appendFlowJSON(nil, e, x[0], x[1])
				if want := reflected(t, e, x[0], x[1]); !bytes.Equal(got, want) {
					t.Errorf("%s flow %d:\n got %s\nwant %s", filepath.Base(path), e.Flow.ID, got, want)
					return nil
				}
			}
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		_ = p.Run(context.Background()) // a cut capture still has rows
	}
	if rows < 200 {
		t.Fatalf("compared %d rows, want the corpus's hundreds", rows)
	}
}

// TestFlowJSON_CraftedRows covers what captures rarely hold: owners on
// both sides, a kernel socket with TCP_INFO, kernel histories, and names
// and texts with every kind of character JSON must escape.
func TestFlowJSON_CraftedRows(t *testing.T) {
	weird := []string{"", "plain", "quote\" back\\slash", "ctl\x00\x01\x1f\x7f", "\b\f\n\r\t", "bad\xff\xfeutf8",
		"line\u2028sep\u2029", "µs → ⇢ 日本", "c1\u0085\u009b[2J del\x7f", "bidi\u061c\u200e\u202a\u2066x", "<html>&amp;", "\x1b[31mred\x1b[0m", "\u202eevil", strings.Repeat("x", 300)}
	a := netip.MustParseAddrPort("[2001:db8::1]:443")
	b := netip.MustParseAddrPort("10.0.0.2:40000")
	for i, w := range weird {
		f := model.Flow{ID: model.FlowID(i), A: a, B: b, Client: model.SideB, FirstFrame: 1, LastFrame: 9,
			IRTT: int64([]int{1, 999, 1e6, 1234567, 1e15}[i%5]), RoleInferred: i%2 == 0,
			State: [2]model.State{model.StateCloseWait, model.StateFinWait2},
			Transitions: []model.Transition{{TS: -1500000000, Frame: 3, Side: model.SideA, From: model.StateEstablished, To: model.StateCloseWait},
				{TS: 1700000000000000001, Frame: 4, Side: model.SideB, From: model.StateSynSent, To: model.StateEstablished}},
			Resets:   []model.Reset{{Frame: 5, From: model.SideA, SenderState: model.StateEstablished, Cause: w, KernelReason: w, Effective: true}},
			Findings: []model.Finding{{Label: model.FindingAbortiveClose, Severity: model.SeverityWarning, Summary: w, Frames: []uint64{4, 5}}, {Label: model.FindingRefused, Summary: w}},
		}
		f.Dir[0].Packets, f.Dir[1].PayloadBytes = uint64(i)+1, 1<<40
		if i%3 == 0 {
			f.Client, f.IRTT = model.SideNone, 0
		}
		e := model.FlowEntry{Flow: &f, Local: model.SideA,
			Owners: []model.OwnerRef{{PID: 1 << 20, Name: w, Side: model.SideA}, {PID: 7, Name: w + "2", Side: model.SideB}}}
		if i%2 == 1 {
			e.Owners = e.Owners[1:] // one owner, not the local side's
		}
		if i%4 != 3 {
			e.Socket = &model.Socket{State: model.StateCloseWait, RecvQ: 17, SendQ: 3, HasInfo: i%2 == 0,
				Info: model.TCPInfo{RTT: 1234567 * time.Nanosecond, RTTVar: 99 * time.Microsecond, Retransmits: 2, TotalRetrans: 9, Lost: 1,
					Unacked: 4, Cwnd: 10, BytesAcked: 1 << 33, BytesReceived: 5, LastDataSent: 1500 * time.Millisecond, LastDataRecv: 3 * time.Millisecond}}
		}
		if i%3 == 1 {
			e.PeerSocket = &model.Socket{State: model.StateFinWait2, RecvQ: 1}
		}
		h := &model.SocketHistory{Owner: model.OwnerRef{PID: i, Name: w}, Retransmits: uint32(i),
			States: []model.KernelStateRecord{{Time: 5, From: model.StateClosed, To: model.StateSynSent, PID: 42, Comm: w, InProcess: true},
				{Time: 6, From: model.StateSynSent, To: model.StateEstablished, PID: 43, Comm: w}},
			Resets: []model.KernelResetRecord{{Time: 7, Sent: true, Reason: w}, {Time: 8}},
			Drops:  []model.KernelDropRecord{{Time: 9, Reason: w}}}
		e.History[i%2] = h
		if i%5 == 0 {
			e.History[1-i%2] = &model.SocketHistory{}
		}
		for _, x := range [][2]bool{{false, false}, {true, true}} {
			got := appendFlowJSON(nil, &e, x[0], x[1])
			if want := reflected(t, &e, x[0], x[1]); !bytes.Equal(got, want) {
				t.Errorf("row %d (%q):\n got %s\nwant %s", i, w, got, want)
			}
		}
	}
}

func TestAppendFloat_AsEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1e-7, 1e-6, 0.000123, 1, 1.5, 123456.789, 1e20, 1e21, 1.234e25, -3e-9, 5e-324} {
		want, _ := json.Marshal(f)
		if got := appendFloat(nil, f); !bytes.Equal(got, want) {
			t.Errorf("%g: got %s, want %s", f, got, want)
		}
	}
}

// FuzzAppendString: a string written by hand is the bytes jsonWriter.line
// writes for it, for any string.
func FuzzAppendString(f *testing.F) {
	f.Add("plain")
	f.Add("\x1b]0;x\x07\u202e\u0085\x7f\u2028")
	f.Add("\xff\xfe invalid \"q\" \\")
	f.Fuzz(func(t *testing.T, s string) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := appendJSONSafe(nil, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}
