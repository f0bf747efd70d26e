package main

import (
	"context"
	"io"
	"math"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
)

// scrape serves exp as watch mode does and returns the exposition text
// and its samples by series ("name{a="x",b="y"}", labels as served).
func scrape(t *testing.T, exp *exporter) (string, map[string]float64) {
	t.Helper()
	srv := httptest.NewServer(metricsHandler(exp))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), parseExposition(t, string(b))
}

func parseExposition(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, l := range strings.Split(text, "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

// replayDemo runs the demo capture through a headless pipeline with the
// exporter on its hooks, as watch mode wires them, with a flow cap of 2
// so that most flows leave the table before the end; it returns the final
// snapshot and the flows the table dropped.
func replayDemo(t *testing.T, exp *exporter) (*model.Snapshot, []model.Flow) {
	t.Helper()
	var removed []model.Flow
	p, err := pipeline.Open(pipeline.Config{
		Demo: demoCapture, Table: model.Config{MaxFlows: 2},
		OnRemove: func(e *model.FlowEntry, evicted bool) {
			removed = append(removed, *e.Flow)
			exp.observeRemoved(e)
		},
		OnFinding: exp.observeFinding,
	})
	if err != nil {
		t.Fatal(err)
	}
	exp.keep = p.Keep
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p.Latest(), removed
}

// TestMetrics_CountEachFlowOnceHoweverItLeaves replays the demo capture,
// most of its flows evicted on the way, and requires the counters to
// equal what the flows themselves say, also after the same snapshot is
// seen again and a later one.
func TestMetrics_CountEachFlowOnceHoweverItLeaves(t *testing.T) {
	exp := newExporter(20, false, nil)
	snap, removed := replayDemo(t, exp)
	exp.observeSnapshot(snap)
	exp.observeSnapshot(snap)
	later := *snap
	later.Now += int64(2 * resetSettle)
	exp.observeSnapshot(&later)
	if len(removed) < 3 {
		t.Fatalf("%d flows left the table, want most of the demo's 6", len(removed))
	}

	all := append(removed, snap.Flows...)
	var retrans, zw, closed float64
	resets := map[string]float64{}
	for i := range all {
		f := &all[i]
		tot := f.Totals()
		retrans += float64(tot.RetransmissionField())
		zw += float64(tot.ZeroWindow)
		if f.Closed() {
			closed++
		}
		for j := range f.Resets {
			resets[`connscope_resets_total{cause="`+resetCause(&f.Resets[j])+`",sender="`+resetSender(f, &f.Resets[j])+`"}`]++
		}
	}
	findings := map[string]float64{}
	for i := range all {
		for _, fd := range all[i].Findings {
			findings[`connscope_findings_total{label="`+fd.Label.String()+`",severity="`+fd.Severity.String()+`"}`]++
		}
	}
	_, got := scrape(t, exp)
	for name, want := range map[string]float64{
		"connscope_connections_opened_total": float64(snap.Table.FlowsCreated),
		"connscope_connections_closed_total": closed,
		"connscope_retransmissions_total":    retrans,
		"connscope_zero_windows_total":       zw,
		"connscope_evicted_flows_total":      float64(snap.Table.Evicted),
		"connscope_packets_total":            float64(snap.Source.Packets),
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	if retrans == 0 || zw == 0 || len(resets) < 3 {
		t.Fatalf("the demo should have retransmissions, zero windows and resets of 3 causes: %v %v %v", retrans, zw, resets)
	}
	for k, want := range resets {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	for k, want := range findings {
		if got[k] != want {
			t.Errorf("%s = %v, want %v (each finding once)", k, got[k], want)
		}
	}
	n := 0
	for k := range got {
		if strings.HasPrefix(k, "connscope_resets_total{") || strings.HasPrefix(k, "connscope_findings_total{") {
			n++
		}
	}
	if n != len(resets)+len(findings) {
		t.Errorf("%d reset and finding series, want %d: %v", n, len(resets)+len(findings), got)
	}
}

// A reset is counted only once its cause has had resetSettle to settle,
// then once.
func TestMetrics_ResetsWaitForTheirCauseToSettle(t *testing.T) {
	exp := newExporter(20, false, nil)
	p, err := pipeline.Open(pipeline.Config{Demo: demoCapture})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	snap := *p.Latest()
	var last int64
	for i := range snap.Flows {
		for _, r := range snap.Flows[i].Resets {
			last = max(last, r.TS)
		}
	}
	snap.Now = last
	exp.observeSnapshot(&snap)
	_, got := scrape(t, exp)
	for k := range got {
		if strings.HasPrefix(k, "connscope_resets_total{") && strings.Contains(k, "idle_timeout_race") {
			t.Errorf("%s counted as it happened", k)
		}
	}
	snap.Now = last + int64(resetSettle)
	exp.observeSnapshot(&snap)
	exp.observeSnapshot(&snap)
	if _, got = scrape(t, exp); got[`connscope_resets_total{cause="idle_timeout_race",sender="server"}`] != 1 {
		t.Errorf("after %v: idle_timeout_race resets %v, want 1", resetSettle, got)
	}
}

// kernelSnapshot is a snapshot of a kernel view alone: processes with
// fds, limits and sockets, and listeners in two namespaces.
func kernelSnapshot(procs int) *model.Snapshot {
	v := &model.KernelView{At: 1e18, Namespaces: []model.NetNS{{Inode: 1, Host: true}, {Inode: 2, Label: "ctr-web"}}}
	for i := range procs {
		p := model.Process{PID: int32(100 + i), Command: "p" + strconv.Itoa(i), FDs: 10 + i, FDSoftLimit: 1024, SecondsToLimit: -1}
		p.SocketsByState[model.StateEstablished] = 1
		v.Processes = append(v.Processes, p)
	}
	v.Processes[0].FDSoftLimit = model.FDUnlimited
	v.Processes[1].FDs, v.Processes[1].SecondsToLimit = 1024, 0
	v.Processes[2].SecondsToLimit = 300
	v.Processes[2].SocketsByState[model.StateCloseWait] = 7
	v.Sockets = []model.Socket{
		{NetNS: 1, Local: netip.MustParseAddrPort("0.0.0.0:80"), State: model.StateListen, RecvQ: 3, SendQ: 128, PID: 100},
		{NetNS: 2, Local: netip.MustParseAddrPort("10.88.0.2:80"), State: model.StateListen, RecvQ: 129, SendQ: 128},
		{NetNS: 1, Local: netip.MustParseAddrPort("10.0.0.1:5000"), Remote: netip.MustParseAddrPort("10.0.0.2:40000"),
			State: model.StateCloseWait, PID: 102, Owner: model.OwnerKnown, Inode: 9, HasInfo: true,
			Info: model.TCPInfo{LastDataSent: 10 * time.Second, LastDataRecv: 10 * time.Second}},
	}
	s := &model.Snapshot{Now: 1e18}
	pipeline.Join(s, pipeline.JoinOptions{Kernel: model.NewKernelIndex(v)})
	s.Processes = v.Processes
	return s
}

func TestMetrics_ProcessesAndListenersFollowTheContract(t *testing.T) {
	exp := newExporter(3, false, nil)
	s := kernelSnapshot(30)
	exp.observeSnapshot(s)
	_, got := scrape(t, exp)
	series := func(prefix string) int {
		n := 0
		for k := range got {
			if strings.HasPrefix(k, prefix+"{") {
				n++
			}
		}
		return n
	}
	// The top 3 by fds (p1 at its limit, p29, p28) and p2, whose socket
	// has been in CLOSE-WAIT for 10 s: a close_wait_leak finding.
	if len(s.Rows) != 1 || len(s.Rows[0].Findings) == 0 || s.Rows[0].Findings[0].Label != model.FindingCloseWaitLeak {
		t.Fatalf("rows %+v: want the CLOSE-WAIT socket with its finding", s.Rows)
	}
	if n := series("connscope_process_fds"); n != 4 {
		t.Errorf("%d processes exported, want 4: %v", n, got)
	}
	if _, ok := got[`connscope_process_fds{command="p2",pid="102"}`]; !ok {
		t.Errorf("p2, the owner of the CLOSE-WAIT leak, is not exported")
	}
	for k, v := range map[string]float64{
		`connscope_process_fds{command="p1",pid="101"}`:                                   1024,
		`connscope_process_seconds_to_fd_limit{command="p1",pid="101"}`:                   0,
		`connscope_process_seconds_to_fd_limit{command="p29",pid="129"}`:                  math.Inf(1),
		`connscope_connections{state="CLOSE-WAIT"}`:                                       1,
		`connscope_connections{state="TIME-WAIT"}`:                                        0,
		`connscope_listener_accept_queue{local="0.0.0.0:80"}`:                             3,
		`connscope_listener_backlog{local="NETNS/ctr-web/10.88.0.2:80"}`:                  128,
		`connscope_listener_accept_queue{local="NETNS/ctr-web/10.88.0.2:80"}`:             129,
		`connscope_process_sockets{command="p29",pid="129",state="ESTABLISHED"}`:          1,
		`connscope_build_info{commit="` + exp.commit + `",version="` + exp.version + `"}`: 1,
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	// Unlimited reads +Inf, not a huge number.
	exp2 := newExporter(40, false, nil)
	exp2.observeSnapshot(s)
	_, got2 := scrape(t, exp2)
	if v := got2[`connscope_process_fd_limit{command="p0",pid="100"}`]; !math.IsInf(v, 1) {
		t.Errorf("unlimited fd limit = %v, want +Inf", v)
	}
	if v := got2[`connscope_process_seconds_to_fd_limit{command="p2",pid="102"}`]; v != 300 {
		t.Errorf("seconds to limit = %v, want 300", v)
	}
	if v := got2[`connscope_process_sockets{command="p2",pid="102",state="CLOSE-WAIT"}`]; v != 7 {
		t.Errorf("CLOSE-WAIT sockets = %v, want 7", v)
	}
}

// TestMetrics_PromtoolCheckMetrics: the exposition, demo counters and a
// kernel view included, passes `promtool check metrics` (the Prometheus
// project's linter) without a word.
func TestMetrics_PromtoolCheckMetrics(t *testing.T) {
	promtool := requirePromTool(t, "promtool")
	rec, err := pipeline.NewRecorder(pipeline.RecorderConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	exp := newExporter(20, false, rec)
	snap, _ := replayDemo(t, exp)
	ks := kernelSnapshot(5)
	merged := *snap
	merged.Rows = append(append([]model.FlowEntry(nil), snap.Rows...), ks.Rows...)
	merged.Kernel, merged.Processes = ks.Kernel, ks.Processes
	exp.observeSnapshot(&merged)
	text, _ := scrape(t, exp)
	for _, m := range []string{"connscope_process_fds", "connscope_listener_backlog", "connscope_resets_total", "connscope_evidence_files_total", "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(text, "\n"+m) {
			t.Errorf("no %s in the exposition", m)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// requirePromTool returns the path of a tool of the prometheus package:
// the test skips without it, or fails under CI=true, where a skip would
// hide that nothing was checked.
func requirePromTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (install the prometheus package): CI must run this test", name)
	}
	t.Skipf("%s not found (install the prometheus package to run this test)", name)
	return ""
}

// BenchmarkMetrics_Scrape10k is one scrape of /metrics (collect and
// encode, Go and process collectors included) with 10,000 connections in
// the snapshot: BENCHMARKS.md's scrape figure.
func BenchmarkMetrics_Scrape10k(b *testing.B) {
	v := &model.KernelView{At: 1e18, Namespaces: []model.NetNS{{Inode: 1, Host: true}}}
	for i := range 200 {
		p := model.Process{PID: int32(100 + i), Command: "p" + strconv.Itoa(i), FDs: 60, FDSoftLimit: 1024, SecondsToLimit: -1}
		p.SocketsByState[model.StateEstablished] = 50
		v.Processes = append(v.Processes, p)
	}
	for i := range 10000 {
		v.Sockets = append(v.Sockets, model.Socket{NetNS: 1, State: model.StateEstablished, PID: int32(100 + i%200), Owner: model.OwnerKnown,
			Local:  netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(10000+i)),
			Remote: netip.AddrPortFrom(netip.MustParseAddr("10.0.1.1"), 443), Inode: uint64(i + 1), Cookie: uint64(i + 1)})
	}
	s := &model.Snapshot{Now: 1e18}
	pipeline.Join(s, pipeline.JoinOptions{Kernel: model.NewKernelIndex(v)})
	s.Processes = v.Processes
	if len(s.Rows) != 10000 {
		b.Fatalf("%d rows, want 10000", len(s.Rows))
	}
	exp := newExporter(20, false, nil)
	exp.observeSnapshot(s)
	h := metricsHandler(exp)
	req := httptest.NewRequest("GET", "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
