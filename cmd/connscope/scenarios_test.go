package main

import (
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/connscope/connscope/pipeline"
)

// The diagnosis is tested on real kernel traffic: the scenario suite of
// testdata/scenarios records, for each failure of the catalogue, a capture
// and its ground truth (who reset, what the applications saw, the kernel's
// socket table and counters, and the findings each flow must get). CI can
// point CONNSCOPE_SCENARIOS at the output directory of a live run of the
// suite instead of the committed captures.

type scTruth struct {
	Scenario        string      `json:"scenario"`
	Status          string      `json:"status"`
	Captures        []scCapture `json:"captures"`
	Flows           []scFlow    `json:"flows"`
	FlowSets        []scSet     `json:"flow_sets"`
	ExpectProcesses []scProcExp `json:"expect_processes"`
	KernelView      struct {
		MIBDelta  map[string]map[string]uint64 `json:"mib_delta"`
		Snapshots []scSnapshot                 `json:"snapshots"`
		Processes []scProcess                  `json:"processes"`
	} `json:"kernel_view"`
}

type scCapture struct {
	File    string  `json:"file"`
	Vantage string  `json:"vantage"`
	T0      float64 `json:"t0_epoch"`
}

type scExpect struct {
	Label        string   `json:"label"`
	By           string   `json:"by"`
	Severity     string   `json:"severity"`
	NotInSummary []string `json:"not_in_summary"`
}

// scProcExp is a finding expected about a process (with the kernel's
// view).
type scProcExp struct {
	PID      int32  `json:"pid"`
	Comm     string `json:"comm"`
	Label    string `json:"label"`
	Severity string `json:"severity"`
}

type scFlow struct {
	Name        string     `json:"name"`
	Client      string     `json:"client"`
	Server      string     `json:"server"`
	Set         string     `json:"set"`
	Expect      []scExpect `json:"expect"`
	PacketsOnly []scExpect `json:"expect_packets_only"`
	KernelOnly  bool       `json:"kernel_only"`
}

type scSet struct {
	Name        string     `json:"name"`
	Server      string     `json:"server"`
	Flows       int        `json:"flows"`
	Expect      []scExpect `json:"expect"`
	PacketsOnly []scExpect `json:"expect_packets_only"`
	Listed      bool       `json:"listed_in_flows"`
}

type scSnapshot struct {
	T        float64    `json:"t"`
	NS       string     `json:"ns"`
	Cmd      string     `json:"cmd"`
	Sockets  []scSocket `json:"sockets"`
	TimeWait *struct {
		Count int   `json:"count"`
		Range []int `json:"local_port_range"`
	} `json:"time_wait"`
}

type scSocket struct {
	State   string `json:"state"`
	RecvQ   uint32 `json:"recv_q"`
	SendQ   uint32 `json:"send_q"`
	Local   string `json:"local"`
	Peer    string `json:"peer"`
	LastSnd *int64 `json:"lastsnd_ms"`
	LastRcv *int64 `json:"lastrcv_ms"`
	Users   []struct {
		Comm string `json:"comm"`
		PID  int32  `json:"pid"`
		FD   int32  `json:"fd"`
	} `json:"users"`
}

type scProcess struct {
	PID     int32  `json:"pid"`
	Comm    string `json:"comm"`
	Soft    uint64 `json:"nofile_soft"`
	Hard    uint64 `json:"nofile_hard"`
	Samples []struct {
		T   float64 `json:"t"`
		FDs int     `json:"fds"`
	} `json:"samples"`
}

// scenarioDir is the committed suite, or a live run's output directory.
func scenarioDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("CONNSCOPE_SCENARIOS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "testdata", "scenarios", "captures")
}

// TestScenarios checks, for every scenario, that each flow gets exactly the
// findings its truth expects (label and side): from the packets alone, and
// with the kernel's view the scenario recorded. Clean flows expect none.
func TestScenarios(t *testing.T) {
	dir := scenarioDir(t)
	paths, err := filepath.Glob(filepath.Join(dir, "*.truth.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scenario truth files in %s (%v)", dir, err)
	}
	seen := map[model.FindingLabel]bool{}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".truth.json")
		t.Run(name, func(t *testing.T) {
			tr := loadTruth(t, p)
			if tr.Status != "ok" {
				t.Fatalf("truth status got %q, want ok (the run's own checks failed)", tr.Status)
			}
			if len(tr.Captures) == 0 {
				t.Fatal("truth lists no capture")
			}
			// The truth's flows hold at every vantage point it captured.
			for _, c := range tr.Captures {
				snap := analyzeScenario(t, filepath.Join(dir, c.File))
				for _, l := range checkScenario(t, c.Vantage+" capture, packets only", &tr, &snap, nil) {
					seen[l] = true
				}
				kx := model.NewKernelIndex(scKernelView(t, &tr, c.T0))
				for _, l := range checkScenario(t, c.Vantage+" capture, with kernel view", &tr, &snap, kx) {
					seen[l] = true
				}
			}
		})
	}
	if os.Getenv("CONNSCOPE_SCENARIOS") == "" {
		for _, l := range model.FindingLabels() {
			if !seen[l] {
				t.Errorf("label %s: no scenario expects it, want every label covered", l)
			}
		}
	}
}

func loadTruth(t *testing.T, path string) scTruth {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tr scTruth
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tr
}

// analyzeScenario runs the analysis over a capture.
func analyzeScenario(t *testing.T, path string) model.Snapshot {
	t.Helper()
	f, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl := model.NewTable(model.Config{})
	var seg model.Segment
	var last int64
	for {
		err := f.Next(&seg)
		if errors.Is(err, capture.ErrIdle) {
			continue // packets without a segment: call again
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		tbl.Apply(&seg)
		last = seg.TS
	}
	return tbl.Snapshot(last)
}

// checkScenario joins and diagnoses the snapshot as the pipeline does
// (its Join: wire flows, kernel-only rows, processes) and compares every
// row and process with the truth; it returns the labels the truth expects
// in this mode.
func checkScenario(t *testing.T, mode string, tr *scTruth, base *model.Snapshot, kx *model.KernelIndex) []model.FindingLabel {
	t.Helper()
	kernel := kx != nil
	snap := *base
	snap.Flows = slices.Clone(base.Flows)
	for i := range snap.Flows {
		snap.Flows[i].Resets = slices.Clone(snap.Flows[i].Resets)
	}
	pipeline.Join(&snap, pipeline.JoinOptions{Kernel: kx})
	want := func(e, p []scExpect) []scExpect {
		if kernel {
			return e
		}
		return p
	}
	listed := map[[2]string]*scFlow{}
	for i := range tr.Flows {
		listed[[2]string{tr.Flows[i].Client, tr.Flows[i].Server}] = &tr.Flows[i]
	}
	var labels []model.FindingLabel
	expectLabels := func(exp []scExpect) {
		for _, e := range exp {
			if l, ok := model.ParseFindingLabel(e.Label); ok {
				labels = append(labels, l)
			} else {
				t.Errorf("truth label %q is not a model.FindingLabel", e.Label)
			}
		}
	}
	setCount := map[string]int{}
	kernelOnlySeen := map[string]bool{}
	for i := range snap.Rows {
		e := &snap.Rows[i]
		f := e.Flow
		var exp []scExpect
		name := ""
		var client, server netip.AddrPort
		if f.Kind == model.FlowKernelOnly {
			// A socket no packet showed: the truth names it by its
			// connection; the expectations are about this side only.
			tf := listed[[2]string{f.B.String(), f.A.String()}]
			by := "server"
			if tf == nil {
				tf, by = listed[[2]string{f.A.String(), f.B.String()}], "client"
			}
			if tf == nil || !tf.KernelOnly {
				if len(e.Findings) == 0 {
					continue // a socket of the lab beside the scenario, clean
				}
				t.Errorf("%s: kernel-only socket %s -- %s is not a kernel-only flow of the truth, yet has findings%s", mode, f.A, f.B, scSummaries(e.Findings))
				continue
			}
			kernelOnlySeen[tf.Client+" "+tf.Server] = true
			name = tf.Name
			for _, x := range want(tf.Expect, tf.PacketsOnly) {
				if x.By == by {
					exp = append(exp, x)
				}
			}
			expectLabels(exp)
			if tf.Set != "" {
				setCount[tf.Set]++
			}
			checkRow(t, mode, name, f.A.String()+" -- "+f.B.String(), e.Findings, exp, func(model.Side) string { return by })
			continue
		}
		client, server = f.Endpoint(f.Client), f.Endpoint(f.Client.Other())
		if tf := listed[[2]string{client.String(), server.String()}]; tf != nil {
			exp, name = want(tf.Expect, tf.PacketsOnly), tf.Name
		} else if j := slices.IndexFunc(tr.FlowSets, func(s scSet) bool { return !s.Listed && s.Server == server.String() }); j >= 0 {
			s := &tr.FlowSets[j]
			exp, name = want(s.Expect, s.PacketsOnly), s.Name
			setCount[s.Name]++
		} else {
			t.Errorf("%s: flow %s -> %s is not in the truth", mode, client, server)
			continue
		}
		expectLabels(exp)
		checkRow(t, mode, name, client.String()+" -> "+server.String(), e.Findings, exp, func(s model.Side) string { return scBy(f, s) })
	}
	for _, s := range tr.FlowSets {
		if !s.Listed && setCount[s.Name] != s.Flows {
			t.Errorf("%s: set %s got %d flows, want %d", mode, s.Name, setCount[s.Name], s.Flows)
		}
	}
	if kernel {
		for _, tf := range tr.Flows {
			if tf.KernelOnly && len(tf.Expect) > 0 && !kernelOnlySeen[tf.Client+" "+tf.Server] {
				t.Errorf("%s: kernel-only flow %s (%s -> %s) has no row", mode, tf.Name, tf.Client, tf.Server)
			}
		}
		var got, wantP []string
		for _, pf := range snap.ProcessFindings {
			got = append(got, fmt.Sprintf("%s/%d/%s/%s", pf.Command, pf.PID, pf.Label, pf.Severity))
		}
		for _, x := range tr.ExpectProcesses {
			sev := x.Severity
			if sev == "" {
				sev = "*"
			}
			wantP = append(wantP, fmt.Sprintf("%s/%d/%s/%s", x.Comm, x.PID, x.Label, sev))
			if l, ok := model.ParseFindingLabel(x.Label); ok {
				labels = append(labels, l)
			}
		}
		slices.Sort(got)
		slices.Sort(wantP)
		ok := len(got) == len(wantP)
		for i := 0; ok && i < len(got); i++ {
			ok = got[i] == wantP[i] || strings.HasSuffix(wantP[i], "/*") && strings.HasPrefix(got[i], strings.TrimSuffix(wantP[i], "*"))
		}
		if !ok {
			var sums strings.Builder
			for _, pf := range snap.ProcessFindings {
				fmt.Fprintf(&sums, "\n\t%s [%s] %s", pf.Label, pf.Severity, pf.Summary)
			}
			t.Errorf("%s: process findings got %v, want %v%s", mode, got, wantP, sums.String())
		}
	}
	return labels
}

// checkRow compares one row's findings with the expectations: label, side,
// severity where the truth gives it, and claims the summary must not make.
func checkRow(t *testing.T, mode, name, conn string, got []model.Finding, exp []scExpect, by func(model.Side) string) {
	t.Helper()
	var g, w []string
	for _, fd := range got {
		g = append(g, fd.Label.String()+"/"+by(fd.Side))
	}
	for _, e := range exp {
		w = append(w, e.Label+"/"+e.By)
	}
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s: flow %s (%s): findings got %v, want %v%s", mode, name, conn, g, w, scSummaries(got))
		return
	}
	for _, e := range exp {
		i := slices.IndexFunc(got, func(fd model.Finding) bool { return fd.Label.String() == e.Label })
		fd := got[i]
		if e.Severity != "" && fd.Severity.String() != e.Severity {
			t.Errorf("%s: flow %s: %s severity got %s, want %s", mode, name, e.Label, fd.Severity, e.Severity)
		}
		for _, no := range e.NotInSummary {
			if strings.Contains(fd.Summary, no) {
				t.Errorf("%s: flow %s: %s summary says %q, which is false: %s", mode, name, e.Label, no, fd.Summary)
			}
		}
	}
	for _, fd := range got {
		if fd.Summary == "" || strings.ContainsAny(fd.Summary, "\n\x1b") {
			t.Errorf("%s: flow %s: summary %q, want one plain line", mode, name, fd.Summary)
		}
	}
}

func scBy(f *model.Flow, s model.Side) string {
	switch {
	case s > model.SideB:
		return "path"
	case s == f.Client:
		return "client"
	}
	return "server"
}

func scSummaries(fs []model.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n\t%s [%s] %s (frames %v)", f.Label, f.Severity, f.Summary, f.Frames)
	}
	return b.String()
}

// scKernelView rebuilds the kernel's view a poll would have given from the
// scenario's recorded ss snapshots, fd samples and counters: per namespace
// the newest socket table, with listeners' queues from the newest ss -ltn.
func scKernelView(t *testing.T, tr *scTruth, t0 float64) *model.KernelView {
	t.Helper()
	nsInode := map[string]uint64{"client": 1, "server": 2}
	at := func(rel float64) int64 { return int64((t0 + rel) * 1e9) }
	v := &model.KernelView{}
	for ns, inode := range nsInode {
		var full, listen *scSnapshot
		for i := range tr.KernelView.Snapshots {
			s := &tr.KernelView.Snapshots[i]
			if s.NS != ns {
				continue
			}
			if strings.Contains(s.Cmd, "-ltn") {
				if listen == nil || s.T >= listen.T {
					listen = s
				}
			} else if full == nil || s.T >= full.T {
				full = s
			}
		}
		mib := tr.KernelView.MIBDelta[ns]
		v.Namespaces = append(v.Namespaces, model.NetNS{Inode: inode, Label: ns, Listen: model.ListenStats{
			OverflowsDelta: mib["TcpExt.ListenOverflows"], DropsDelta: mib["TcpExt.ListenDrops"]},
			// The lab counted the whole run: one interval around the capture.
			Aborts: model.AbortStats{History: []model.AbortInterval{{From: at(-60), To: at(3600), AbortCounts: model.AbortCounts{
				OnClose: mib["TcpExt.TCPAbortOnClose"], OnData: mib["TcpExt.TCPAbortOnData"],
				OnTimeout: mib["TcpExt.TCPAbortOnTimeout"], OnLinger: mib["TcpExt.TCPAbortOnLinger"]}}}}})
		if full == nil && listen == nil && ns == "server" {
			// No socket table was recorded; a poll would have listed the
			// server's listeners, which put the server's addresses in
			// this namespace.
			for _, ep := range scServers(tr) {
				v.Sockets = append(v.Sockets, model.Socket{NetNS: inode, State: model.StateListen, Local: ep, Owner: model.OwnerKernel})
			}
		}
		for _, snap := range []*scSnapshot{full, listen} {
			if snap == nil {
				continue
			}
			v.At = max(v.At, at(snap.T))
			for _, s := range snap.Sockets {
				sock := scSocketOf(t, s, inode)
				if k := slices.IndexFunc(v.Sockets, func(o model.Socket) bool { return o.Key() == sock.Key() }); k >= 0 {
					v.Sockets[k].RecvQ, v.Sockets[k].SendQ = sock.RecvQ, sock.SendQ
					continue
				}
				v.Sockets = append(v.Sockets, sock)
			}
			if tw := snap.TimeWait; tw != nil && len(tw.Range) == 2 {
				v.TimeWait = append(v.TimeWait, model.PortRangeCount{NetNS: inode,
					PortRange: model.PortRange{First: uint16(tw.Range[0]), Last: uint16(tw.Range[1])}, Count: tw.Count})
			}
		}
	}
	for _, p := range tr.KernelView.Processes {
		mp := model.Process{PID: p.PID, Command: p.Comm, FDSoftLimit: p.Soft, FDHardLimit: p.Hard}
		for _, s := range v.Sockets {
			if s.State == model.StateListen && s.Owner == model.OwnerKnown && s.PID == p.PID {
				mp.Listeners = append(mp.Listeners, model.Listener{NetNS: s.NetNS, Local: s.Local, AcceptQueue: s.RecvQ, Backlog: s.SendQ})
			}
		}
		for _, s := range p.Samples {
			mp.FDHistory = append(mp.FDHistory, model.FDSample{At: at(s.T), FDs: s.FDs})
			mp.FDs = s.FDs
		}
		mp.FDGrowthPerMin, mp.SecondsToLimit = model.FDTrend(mp.FDHistory, 5*time.Minute, p.Soft)
		v.Processes = append(v.Processes, mp)
	}
	slices.SortFunc(v.Processes, func(a, b model.Process) int { return int(a.PID) - int(b.PID) })
	return v
}

// scServers lists the server endpoints of the truth's flows.
func scServers(tr *scTruth) []netip.AddrPort {
	var out []netip.AddrPort
	for _, f := range tr.Flows {
		if ep, err := netip.ParseAddrPort(f.Server); err == nil && !slices.Contains(out, ep) {
			out = append(out, ep)
		}
	}
	return out
}

func scSocketOf(t *testing.T, s scSocket, inode uint64) model.Socket {
	t.Helper()
	st, ok := model.ParseState(s.State)
	if !ok {
		t.Fatalf("ss state %q not understood", s.State)
	}
	sock := model.Socket{NetNS: inode, State: st, Local: scAddrPort(t, s.Local), Remote: scAddrPort(t, s.Peer),
		RecvQ: s.RecvQ, SendQ: s.SendQ, Owner: model.OwnerKernel}
	if len(s.Users) > 0 {
		sock.Owner, sock.PID, sock.FD = model.OwnerKnown, s.Users[0].PID, s.Users[0].FD
	}
	if s.LastSnd != nil && s.LastRcv != nil {
		sock.HasInfo = true
		sock.Info.LastDataSent = time.Duration(*s.LastSnd) * time.Millisecond
		sock.Info.LastDataRecv = time.Duration(*s.LastRcv) * time.Millisecond
	}
	return sock
}

// scAddrPort parses ss's "10.0.0.1:80" and "0.0.0.0:*".
func scAddrPort(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	if rest, ok := strings.CutSuffix(s, ":*"); ok {
		s = rest + ":0"
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatalf("ss address %q: %v", s, err)
	}
	return ap
}
