package pipeline

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/model"
)

const demoPcap = "../cmd/connscope/demo/demo.pcap"

// recordFile feeds every TCP packet of a capture file to r, as the live
// capture's OnSegment does.
func recordFile(t *testing.T, r *Recorder, path string) {
	t.Helper()
	f, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var p capture.Packet
	var dec capture.Decoder
	var seg model.Segment
	for {
		err := f.ReadPacket(&p)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if res, _ := dec.Decode(p.Data, p.WireLen, p.Link, &seg); res != capture.ResultSegment {
			continue
		}
		seg.TS, seg.Frame = p.TS, p.Frame
		r.Add(&seg, capture.SegmentPacket{Data: p.Data, Length: p.WireLen, Iface: int(p.Iface), IfaceName: "lo", Link: p.Link, Snaplen: 262144})
	}
}

// findings runs a headless pipeline over a file and returns its final
// rows' labels by endpoints ("a b").
func findingsOf(t *testing.T, path string) map[string][]string {
	t.Helper()
	p, err := Open(Config{File: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, e := range p.Latest().Rows {
		k := endpoints(e.Flow.A, e.Flow.B)
		for _, f := range e.Findings {
			out[k] = append(out[k], f.Label.String())
		}
	}
	return out
}

func endpoints(a, b netip.AddrPort) string {
	if a.Compare(b) > 0 {
		a, b = b, a
	}
	return a.String() + " " + b.String()
}

// TestRecorder_EvidenceOfEachFindingExplainsItAgain records the demo
// capture's packets, saves the evidence of every warning or critical
// finding a pipeline raises on it, and reads each file back: the same
// finding must come out of it, from its packets alone.
func TestRecorder_EvidenceOfEachFindingExplainsItAgain(t *testing.T) {
	dir := t.TempDir()
	r, err := NewRecorder(RecorderConfig{Dir: dir, Burst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	recordFile(t, r, demoPcap)
	type saved struct{ path, label, flow string }
	var files []saved
	var infos int
	p, err := Open(Config{File: demoPcap, OnFinding: func(ev FindingEvent) {
		path, err := r.Save(ev)
		if err != nil {
			t.Errorf("Save: %v", err)
		}
		if ev.Finding.Severity == model.SeverityInfo {
			infos++
			if path != "" {
				t.Errorf("an info finding (%s) got a file", ev.Finding.Label)
			}
			return
		}
		files = append(files, saved{path, ev.Finding.Label.String(), endpoints(ev.Row.Flow.A, ev.Row.Flow.B)})
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("%d evidence files from the demo capture, want one per warning or critical finding (at least 3)", len(files))
	}
	for _, f := range files {
		if f.path == "" {
			t.Errorf("%s on %s: no file", f.label, f.flow)
			continue
		}
		name := filepath.Base(f.path)
		if !strings.Contains(name, "_"+f.label+"_") || strings.ContainsAny(name, ":[]/ ") {
			t.Errorf("file name %q: want the label %s and only filesystem-safe characters", name, f.label)
		}
		got := findingsOf(t, f.path)
		if len(got) != 1 {
			t.Errorf("%s: %d flows, want only the flow of the finding (%s): %v", name, len(got), f.flow, got)
		}
		if !slices.Contains(got[f.flow], f.label) {
			t.Errorf("%s: findings %v, want %s on %s again", name, got, f.label, f.flow)
		}
	}
	st := r.Stats()
	if st.Written != uint64(len(files)) || st.Files != len(files) || st.Failed != 0 {
		t.Errorf("stats %+v: want %d written and listed, none failed", st, len(files))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, tmpPrefix+"*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// recSeg returns a segment of flow n (client port 1000+n) with frame fr.
func recSeg(n int, fr uint64) (*model.Segment, capture.SegmentPacket) {
	s := &model.Segment{
		Src: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(1000+n)),
		Dst: netip.MustParseAddrPort("10.0.0.2:80"), TS: int64(fr) * 1e6, Frame: fr,
	}
	return s, capture.SegmentPacket{Data: make([]byte, 100), Length: 100, Link: capture.LinkEthernet, IfaceName: "lo", Snaplen: 160}
}

func TestRecorder_KeepsTheFirstAndLastPacketsOfAFlow(t *testing.T) {
	r, err := NewRecorder(RecorderConfig{Dir: t.TempDir(), FlowPackets: 10})
	if err != nil {
		t.Fatal(err)
	}
	for fr := uint64(1); fr <= 100; fr++ {
		r.Add(recSeg(0, fr))
	}
	s, _ := recSeg(0, 0)
	pkts, _ := r.packets(s.Src, s.Dst, 0, 1000)
	var frames []uint64
	for _, p := range pkts {
		frames = append(frames, p.frame)
	}
	want := []uint64{1, 2, 3, 4, 95, 96, 97, 98, 99, 100}
	if !slices.Equal(frames, want) {
		t.Errorf("frames kept %v, want the first 4 and the last 6: %v", frames, want)
	}
	if pkts, _ = r.packets(s.Dst, s.Src, 96, 98); len(pkts) != 3 {
		t.Errorf("frames 96-98 seen from the other side: %d packets, want 3", len(pkts))
	}
	if st := r.Stats(); st.Packets != 100 || st.HeldFlows != 1 {
		t.Errorf("stats %+v: want 100 packets recorded, 1 flow held", st)
	}
}

func TestRecorder_StaysWithinItsBudgetForgettingTheQuietestFlows(t *testing.T) {
	const budget = 64 << 10
	r, err := NewRecorder(RecorderConfig{Dir: t.TempDir(), Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	for n := range 200 {
		for fr := range 3 {
			r.Add(recSeg(n, uint64(n*3+fr+1)))
		}
		if st := r.Stats(); st.HeldBytes > budget {
			t.Fatalf("after flow %d: %d bytes held, budget %d", n, st.HeldBytes, budget)
		}
	}
	st := r.Stats()
	if st.EvictedFlows == 0 || st.HeldFlows+int(st.EvictedFlows) != 200 {
		t.Errorf("stats %+v: want flows evicted, and held + evicted = 200", st)
	}
	// Touching the oldest flow held makes it the newest: the next flow
	// evicts another one.
	oldest := 200 - st.HeldFlows
	r.Add(recSeg(oldest, 10000))
	r.Add(recSeg(500, 10001))
	s, _ := recSeg(oldest, 0)
	if pkts, _ := r.packets(s.Src, s.Dst, 0, 1<<62); len(pkts) == 0 {
		t.Errorf("flow %d, touched just before, was evicted: not LRU", oldest)
	}
	s, _ = recSeg(0, 0)
	if pkts, _ := r.packets(s.Src, s.Dst, 0, 1<<62); len(pkts) != 0 {
		t.Errorf("flow 0, the quietest, is still held")
	}
}

// recFinding is a FindingEvent on flow n for the file tests.
func recFinding(n int, sev model.Severity) FindingEvent {
	s, _ := recSeg(n, 0)
	f := &model.Flow{A: s.Src, B: s.Dst, Client: model.SideA, FirstFrame: 0, LastFrame: 1 << 62}
	return FindingEvent{Now: 1e18, Row: &model.FlowEntry{Flow: f, Owners: []model.OwnerRef{{PID: 42, Name: "srv", Side: model.SideB}}},
		Finding: &model.Finding{Label: model.FindingRefused, Severity: sev, Summary: "test"}}
}

func TestRecorder_RateLimitAndSizeCap(t *testing.T) {
	dir := t.TempDir()
	// A file a killed run left half-written, and an older evidence file.
	if err := os.WriteFile(filepath.Join(dir, tmpPrefix+"x.pcapng"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "20000101T000000.000Z_old.pcapng"), make([]byte, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1e9, 0)
	r, err := NewRecorder(RecorderConfig{Dir: dir, Burst: 2, Every: time.Minute, MaxBytes: 2500, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, tmpPrefix+"x.pcapng")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary file is still there: %v", err)
	}
	for n := range 4 {
		for fr := range 5 {
			r.Add(recSeg(n, uint64(n*5+fr+1)))
		}
	}
	back, pkt := recSeg(2, 100) // the server's answer on flow 2
	back.Src, back.Dst = back.Dst, back.Src
	r.Add(back, pkt)
	var written []string
	for n := range 3 {
		path, err := r.Save(recFinding(n, model.SeverityWarning))
		if err != nil {
			t.Fatal(err)
		}
		if path != "" {
			written = append(written, path)
		}
	}
	if path, _ := r.Save(recFinding(3, model.SeverityInfo)); path != "" {
		t.Errorf("an info finding got a file")
	}
	if len(written) != 2 {
		t.Fatalf("wrote %d files in a burst of 3 with Burst 2, want 2", len(written))
	}
	now = now.Add(time.Minute)
	path, err := r.Save(recFinding(2, model.SeverityCritical))
	if err != nil || path == "" {
		t.Fatalf("a minute later: %q, %v; want a file", path, err)
	}
	written = append(written, path)
	if path, _ := r.Save(recFinding(9, model.SeverityWarning)); path != "" {
		t.Errorf("a flow with no packet held got a file")
	}
	st := r.Stats()
	if st.Written != 3 || st.RateLimited != 1 || st.NoPackets != 1 {
		t.Errorf("stats %+v: want 3 written, 1 rate-limited, 1 without packets", st)
	}
	// Each file is some 700 bytes: with the old one, 2500 bytes hold
	// only the newest few, oldest removed first.
	if _, err := os.Stat(filepath.Join(dir, "20000101T000000.000Z_old.pcapng")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the oldest file was not removed")
	}
	if _, err := os.Stat(written[2]); err != nil {
		t.Errorf("the newest file is gone: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	var total int64
	for _, e := range ents {
		info, _ := e.Info()
		total += info.Size()
	}
	if total > 2500 || st.DirBytes != total || st.Files != len(ents) || st.Removed == 0 {
		t.Errorf("%d files of %d bytes in the directory, stats %+v: want at most 2500 bytes, counted", len(ents), total, st)
	}
	// The owner of each packet's sender is in its comment: the server's
	// answer names srv, the client (owner unknown) nothing.
	f, err := capture.Open(written[2])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var p capture.Packet
	var comments []string
	for f.ReadPacket(&p) == nil {
		comments = append(comments, string(p.Comment))
	}
	want := []string{"", "", "", "", "", capture.OwnerComment(42, "srv")}
	if !slices.Equal(comments, want) {
		t.Errorf("comments %q, want %q", comments, want)
	}
}

// TestRecorder_EvidenceKeepsTheKernelsReasonForAReset saves the evidence
// of an abortive close whose RST the kernel said it sent because the
// application closed with data unread: the file's replay, which has no
// kernel to ask, must give the kernel's cause again (from the reason the
// RST's comment recorded), not the wire's two possibilities.
func TestRecorder_EvidenceKeepsTheKernelsReasonForAReset(t *testing.T) {
	dir := t.TempDir()
	r, err := NewRecorder(RecorderConfig{Dir: dir, Burst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	recordFile(t, r, demoPcap)
	var path, flow string
	p, err := Open(Config{File: demoPcap, OnFinding: func(ev FindingEvent) {
		if path != "" || ev.Finding.Label != model.FindingAbortiveClose || len(ev.Row.Flow.Resets) == 0 {
			return
		}
		// The row as a live run with kernel events would have it.
		f := *ev.Row.Flow
		f.Resets = slices.Clone(f.Resets)
		f.Resets[0].KernelReason = "TCP_ABORT_ON_CLOSE"
		row := *ev.Row
		row.Flow = &f
		ev.Row = &row
		if path, err = r.Save(ev); err != nil {
			t.Errorf("Save: %v", err)
		}
		flow = endpoints(f.A, f.B)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if path == "" {
		t.Fatal("the demo capture raised no abortive_close with a reset to save")
	}
	q, err := Open(Config{File: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	snap := q.Latest()
	if len(snap.Rows) != 1 || endpoints(snap.Rows[0].Flow.A, snap.Rows[0].Flow.B) != flow {
		t.Fatalf("the evidence file has %d rows, want the one flow %s", len(snap.Rows), flow)
	}
	e := &snap.Rows[0]
	if got := e.Flow.Resets[0].KernelReason; got != "TCP_ABORT_ON_CLOSE" {
		t.Errorf("replayed reset's kernel reason %q, want TCP_ABORT_ON_CLOSE from the file", got)
	}
	var found *model.Finding
	for i := range e.Findings {
		if e.Findings[i].Label == model.FindingCloseWithUnreadData {
			found = &e.Findings[i]
		}
		if e.Findings[i].Label == model.FindingAbortiveClose {
			t.Errorf("the replay still names both causes (abortive_close): %s", e.Findings[i].Summary)
		}
	}
	if found == nil {
		t.Fatalf("replay findings %v, want close_with_unread_data", e.Findings)
	}
	if found.Evidence == model.EvidenceWire {
		t.Errorf("close_with_unread_data rests on %v, want the kernel's word", found.Evidence)
	}
	if e.History[e.Flow.Resets[0].From] == nil {
		t.Error("the replayed row has no kernel history for the RST's sender: the drill-down cannot show the recorded reason")
	}
}
