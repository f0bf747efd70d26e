package main

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
)

// The metrics of watch mode (--metrics), exactly as deploy/README.md and
// deploy/prometheus describe them: the rules, the dashboard and the
// deploy tests name them.
//
// Every value comes from the pipeline's snapshots and finding events, the
// same ones the UI, --report and --json render, never from a side path:
//
//   - gauges (connections by state, processes, listeners) are read from
//     the newest snapshot when Prometheus scrapes;
//   - source counters (packets, drops, evictions) are the snapshot's own
//     cumulative counters;
//   - connection counters (opened, closed, retransmissions, zero windows,
//     resets) advance by each flow's growth between two snapshots, and by
//     what a flow the table drops (OnRemove) had not counted yet, so a
//     flow counts once however it leaves;
//   - findings count each finding once, when it is raised (OnFinding).
//
// Cardinality is bounded by design: no label names a connection. Per box,
// connscope_connections has one series per state (12 at most),
// connscope_resets_total one per sender (4) and cause (the finding labels,
// after_reset, half_open_recovery and unknown: 20), connscope_findings_total
// one per label and severity (the 16 labels, each with one or two
// severities), the process metrics 3 series plus one per socket state for
// each of the --metrics-top processes with the most fds and each process a
// finding is about, and the listener metrics 2 per listening address.

// resetSettle is how long after a RST its flow must go on being seen
// before the reset is counted (unless the flow leaves the table first):
// the diagnosis may name its cause better once the next kernel poll has
// arrived or the peer has reacted (a middlebox's forgery shows when
// traffic goes on after it), and a counter cannot take a count back.
const resetSettle = 3 * time.Second

// resetKey labels connscope_resets_total.
type resetKey struct{ sender, cause string }

// findingKey labels connscope_findings_total.
type findingKey struct{ label, severity string }

// flowMark is what the counters have taken of one flow so far.
type flowMark struct {
	gen     uint64 // the last snapshot the flow was in
	retrans uint64
	zeroWin uint64
	resets  uint64 // resets counted, from the first the flow had
	closed  bool
}

// exporter is the prometheus.Collector of watch mode.
type exporter struct {
	top      int
	selected bool // --pid or --proc: listeners come from the selected processes
	keep     func(*model.FlowEntry, int64) bool
	rec      *pipeline.Recorder
	version  string
	commit   string

	mu   sync.Mutex
	snap *model.Snapshot
	gen  uint64
	// marks holds a mark for each flow of the latest snapshot (and is
	// swept of the others), so it is bounded by the table.
	marks                            map[model.FlowID]flowMark
	opened, closed, retrans, zeroWin uint64
	resets                           map[resetKey]uint64
	findings                         map[findingKey]uint64
	// overflows sums the growth of each namespace's ListenOverflows
	// since connscope started watching it; lastOverflow is each one's
	// last value, view the kernel view they came from.
	overflows    uint64
	lastOverflow map[uint64]uint64
	view         *model.KernelView
}

func newExporter(top int, selected bool, rec *pipeline.Recorder) *exporter {
	e := &exporter{top: top, selected: selected, rec: rec, marks: map[model.FlowID]flowMark{},
		resets: map[resetKey]uint64{}, findings: map[findingKey]uint64{}, lastOverflow: map[uint64]uint64{}}
	e.version, e.commit = buildInfo()
	return e
}

// buildInfo splits versionString's "connscope VERSION (commit COMMIT)".
func buildInfo() (version, commit string) {
	rest := strings.TrimPrefix(versionString(), "connscope ")
	version, commit, _ = strings.Cut(rest, " (commit ")
	return version, strings.TrimSuffix(commit, ")")
}

// kept reports whether the selection keeps a row (everything before the
// pipeline is open).
func (e *exporter) kept(r *model.FlowEntry, now int64) bool {
	return e.keep == nil || e.keep(r, now)
}

// observeSnapshot takes in a snapshot the pipeline published
// (Config.OnSnapshot): it becomes the one scrapes read, and the counters
// advance by each flow's growth since the previous one.
func (e *exporter) observeSnapshot(s *model.Snapshot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.snap = s
	e.gen++
	for i := range s.Rows {
		r := &s.Rows[i]
		if r.Flow.Kind == model.FlowWire && e.kept(r, s.Now) {
			e.account(r.Flow, s.Now, false)
		}
	}
	for id, m := range e.marks {
		if m.gen != e.gen {
			delete(e.marks, id)
		}
	}
	if s.Kernel != nil && !s.Kernel.View.OwnersOnly && s.Kernel.View != e.view {
		e.view = s.Kernel.View
		seen := make(map[uint64]uint64, len(e.view.Namespaces))
		for _, ns := range e.view.Namespaces {
			cur := ns.Listen.Overflows
			if last, ok := e.lastOverflow[ns.Inode]; !ok {
				// A namespace new to connscope: from the host's, all of
				// its count so far is news; one that appeared later
				// started from zero.
				e.overflows += cur
			} else if cur > last {
				e.overflows += cur - last
			}
			seen[ns.Inode] = cur
		}
		e.lastOverflow = seen
	}
}

// observeRemoved takes in a flow the table drops (Config.OnRemove): what
// it had not counted yet is counted now, whatever its age.
func (e *exporter) observeRemoved(r *model.FlowEntry) {
	if r.Flow.Kind != model.FlowWire {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.account(r.Flow, 0, true)
	delete(e.marks, r.Flow.ID)
}

// observeFinding counts a finding raised (Config.OnFinding).
func (e *exporter) observeFinding(ev pipeline.FindingEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.findings[findingKey{ev.Finding.Label.String(), ev.Finding.Severity.String()}]++
}

// account advances the counters by what f has that its mark has not
// counted; final counts every reset, settled or not. e.mu is held.
func (e *exporter) account(f *model.Flow, now int64, final bool) {
	m, ok := e.marks[f.ID]
	if !ok {
		e.opened++
	}
	t := f.Totals()
	if n := uint64(t.RetransmissionField()); n > m.retrans {
		e.retrans += n - m.retrans
		m.retrans = n
	}
	if n := uint64(t.ZeroWindow); n > m.zeroWin {
		e.zeroWin += n - m.zeroWin
		m.zeroWin = n
	}
	if !m.closed && f.Closed() {
		e.closed++
		m.closed = true
	}
	dropped := uint64(f.ResetsDropped)
	for i := m.resets; i < dropped+uint64(len(f.Resets)); i++ {
		if i < dropped {
			// Fell out of the flow's ring before it was counted.
			e.resets[resetKey{"unknown", "unknown"}]++
			m.resets = i + 1
			continue
		}
		r := &f.Resets[i-dropped]
		if !final && now-r.TS < int64(resetSettle) {
			break
		}
		e.resets[resetKey{resetSender(f, r), resetCause(r)}]++
		m.resets = i + 1
	}
	m.gen = e.gen
	e.marks[f.ID] = m
}

// resetSender names who sent a RST: the middlebox when the diagnosis says
// the endpoint it names did not, else the client or the server, unknown
// when the roles are.
func resetSender(f *model.Flow, r *model.Reset) string {
	switch {
	case r.MiddleboxSuspected || r.Cause == model.FindingMiddleboxInjected.String() || r.Cause == model.FindingMiddleboxIdleDrop.String():
		return "middlebox"
	case f.Client > model.SideB || r.From > model.SideB:
		return "unknown"
	case r.From == f.Client:
		return "client"
	}
	return "server"
}

// resetCause is the reset's cause as the diagnosis gave it (a finding
// label, after_reset or half_open_recovery), or unknown.
func resetCause(r *model.Reset) string {
	if r.Cause == "" {
		return "unknown"
	}
	return r.Cause
}

// rowState is the state a row counts under in connscope_connections: its
// socket's as the kernel reports it, else its local side's on the wire.
func rowState(r *model.FlowEntry) model.State {
	if r.KernelState != model.StateUnknown {
		return r.KernelState
	}
	return r.Flow.State[r.LocalSide()]
}

// Descriptions of the metrics.
var (
	descConnections  = prometheus.NewDesc("connscope_connections", "Connections now (rows of the table, sockets without packets included), by the local socket's state as the kernel reports it, else as the wire shows it; a connection between two sockets of this host (loopback) counts once per socket.", []string{"state"}, nil)
	descOpened       = prometheus.NewDesc("connscope_connections_opened_total", "Connections seen for the first time (on the wire).", nil, nil)
	descClosed       = prometheus.NewDesc("connscope_connections_closed_total", "Connections seen closed on both sides (FIN or RST).", nil, nil)
	descResets       = prometheus.NewDesc("connscope_resets_total", "RST segments, by sender (client, server, middlebox, unknown) and cause (the diagnosis's finding label, after_reset, half_open_recovery, or unknown); counted once the cause has settled.", []string{"sender", "cause"}, nil)
	descRetrans      = prometheus.NewDesc("connscope_retransmissions_total", "Retransmitted segments (plain, fast and spurious, as tshark counts tcp.analysis.retransmission).", nil, nil)
	descZeroWin      = prometheus.NewDesc("connscope_zero_windows_total", "Segments advertising a zero window (tshark's tcp.analysis.zero_window).", nil, nil)
	descFindings     = prometheus.NewDesc("connscope_findings_total", "Findings of the diagnosis, each counted once when it is raised.", []string{"label", "severity"}, nil)
	descProcFDs      = prometheus.NewDesc("connscope_process_fds", "Open file descriptors of a process that owns sockets (the --metrics-top with the most fds, and those with a finding).", []string{"pid", "command"}, nil)
	descProcLimit    = prometheus.NewDesc("connscope_process_fd_limit", "The process's soft RLIMIT_NOFILE (+Inf when unlimited).", []string{"pid", "command"}, nil)
	descProcLeft     = prometheus.NewDesc("connscope_process_seconds_to_fd_limit", "Seconds until the process reaches its fd limit at its recent growth rate (+Inf when not growing or unlimited, 0 at the limit).", []string{"pid", "command"}, nil)
	descProcSockets  = prometheus.NewDesc("connscope_process_sockets", "TCP sockets of the process, by state.", []string{"pid", "command", "state"}, nil)
	descAcceptQueue  = prometheus.NewDesc("connscope_listener_accept_queue", "Connections waiting in a listener's accept queue (local is ip:port, prefixed with NETNS/name/ outside the host's namespace).", []string{"local"}, nil)
	descBacklog      = prometheus.NewDesc("connscope_listener_backlog", "A listener's backlog: the most connections its accept queue holds.", []string{"local"}, nil)
	descOverflows    = prometheus.NewDesc("connscope_listen_overflows_total", "The kernel's TcpExt ListenOverflows, of every network namespace, since connscope started watching it.", nil, nil)
	descPackets      = prometheus.NewDesc("connscope_packets_total", "Packets captured.", nil, nil)
	descKernelDrops  = prometheus.NewDesc("connscope_kernel_drops_total", "Packets the kernel dropped for want of room in the capture ring.", nil, nil)
	descQueueDrops   = prometheus.NewDesc("connscope_queue_drops_total", "Segments dropped because the analysis was behind the capture.", nil, nil)
	descEvicted      = prometheus.NewDesc("connscope_evicted_flows_total", "Connections evicted from the flow table by --max-flows.", nil, nil)
	descBuildInfo    = prometheus.NewDesc("connscope_build_info", "connscope's version and commit; always 1.", []string{"version", "commit"}, nil)
	descEvidence     = prometheus.NewDesc("connscope_evidence_files_total", "Warning and critical findings by what became of their evidence file: written, rate_limited, no_packets (none held for the flow) or failed.", []string{"result"}, nil)
	descEvRemoved    = prometheus.NewDesc("connscope_evidence_removed_files_total", "Evidence files removed, oldest first, to keep the directory within its size cap.", nil, nil)
	descRecHeld      = prometheus.NewDesc("connscope_recorder_held_bytes", "Memory the flight recorder holds for the last packets of every flow.", nil, nil)
	descRecEvicted   = prometheus.NewDesc("connscope_recorder_evicted_flows_total", "Flows whose packets the flight recorder forgot to stay within its memory budget (the quietest first).", nil, nil)
	allDescs         = []*prometheus.Desc{descConnections, descOpened, descClosed, descResets, descRetrans, descZeroWin, descFindings, descProcFDs, descProcLimit, descProcLeft, descProcSockets, descAcceptQueue, descBacklog, descOverflows, descPackets, descKernelDrops, descQueueDrops, descEvicted, descBuildInfo}
	recorderDescs    = []*prometheus.Desc{descEvidence, descEvRemoved, descRecHeld, descRecEvicted}
	connectionStates = []model.State{model.StateClosed, model.StateListen, model.StateSynSent, model.StateSynReceived, model.StateEstablished,
		model.StateFinWait1, model.StateFinWait2, model.StateCloseWait, model.StateClosing, model.StateLastAck, model.StateTimeWait}
)

// Describe sends every metric's description.
func (e *exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
	if e.rec != nil {
		for _, d := range recorderDescs {
			ch <- d
		}
	}
}

// Collect sends the metrics: counters as taken so far, gauges from the
// newest snapshot.
func (e *exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	s := e.snap
	opened, closed, retrans, zeroWin, overflows := e.opened, e.closed, e.retrans, e.zeroWin, e.overflows
	resets := make([]resetKey, 0, len(e.resets))
	for k := range e.resets {
		resets = append(resets, k)
	}
	resetN := make([]uint64, len(resets))
	for i, k := range resets {
		resetN[i] = e.resets[k]
	}
	findings := make([]findingKey, 0, len(e.findings))
	for k := range e.findings {
		findings = append(findings, k)
	}
	findingN := make([]uint64, len(findings))
	for i, k := range findings {
		findingN[i] = e.findings[k]
	}
	e.mu.Unlock()

	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descBuildInfo, 1, e.version, e.commit)
	counter(descOpened, opened)
	counter(descClosed, closed)
	counter(descRetrans, retrans)
	counter(descZeroWin, zeroWin)
	counter(descOverflows, overflows)
	for i, k := range resets {
		counter(descResets, resetN[i], k.sender, k.cause)
	}
	for i, k := range findings {
		counter(descFindings, findingN[i], k.label, k.severity)
	}
	if e.rec != nil {
		st := e.rec.Stats()
		counter(descEvidence, st.Written, "written")
		counter(descEvidence, st.RateLimited, "rate_limited")
		counter(descEvidence, st.NoPackets, "no_packets")
		counter(descEvidence, st.Failed, "failed")
		counter(descEvRemoved, st.Removed)
		gauge(descRecHeld, float64(st.HeldBytes))
		counter(descRecEvicted, st.EvictedFlows)
	}
	if s == nil {
		// No snapshot yet: the series that need one start with it,
		// except the capture's counters, which start at zero.
		for _, d := range []*prometheus.Desc{descPackets, descKernelDrops, descQueueDrops, descEvicted} {
			counter(d, 0)
		}
		return
	}
	counter(descPackets, s.Source.Packets)
	counter(descKernelDrops, s.Source.KernelDrops)
	counter(descQueueDrops, s.Source.QueueDrops)
	counter(descEvicted, s.Table.Evicted)
	e.collectConnections(ch, s)
	e.collectProcesses(ch, s)
	e.collectListeners(ch, s)
}

func (e *exporter) collectConnections(ch chan<- prometheus.Metric, s *model.Snapshot) {
	var by [16]int
	for i := range s.Rows {
		r := &s.Rows[i]
		if e.kept(r, s.Now) {
			if st := rowState(r); int(st) < len(by) {
				by[st]++
			}
			// Both ends on this host: the other end is a connection of
			// this host too (a server leaking CLOSE-WAIT to a local
			// proxy shows here).
			if r.PeerSocket != nil && r.KernelState != model.StateUnknown {
				if st := r.PeerSocket.State; int(st) < len(by) {
					by[st]++
				}
			}
		}
	}
	for _, st := range connectionStates {
		ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(by[st]), st.String())
	}
	if n := by[model.StateUnknown]; n > 0 {
		ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(n), model.StateUnknown.String())
	}
}

// findingPIDs returns the processes the findings of the snapshot's rows
// are about: the owner of the side a finding names, else of the row's
// local side.
func (e *exporter) findingPIDs(s *model.Snapshot) map[int32]bool {
	pids := map[int32]bool{}
	for i := range s.Rows {
		r := &s.Rows[i]
		if len(r.Findings) == 0 || !e.kept(r, s.Now) {
			continue
		}
		for _, f := range r.Findings {
			o, ok := r.Owner(f.Side)
			if !ok {
				o, ok = r.Owner(r.LocalSide())
			}
			if ok {
				pids[int32(o.PID)] = true
			}
		}
	}
	return pids
}

func (e *exporter) collectProcesses(ch chan<- prometheus.Metric, s *model.Snapshot) {
	if len(s.Processes) == 0 {
		return
	}
	byFDs := make([]*model.Process, len(s.Processes))
	for i := range s.Processes {
		byFDs[i] = &s.Processes[i]
	}
	slices.SortFunc(byFDs, func(a, b *model.Process) int {
		if c := cmp.Compare(b.FDs, a.FDs); c != 0 {
			return c
		}
		return cmp.Compare(a.PID, b.PID)
	})
	withFinding := e.findingPIDs(s)
	for i, p := range byFDs {
		if i >= e.top && !withFinding[p.PID] {
			continue
		}
		pid, comm := strconv.Itoa(int(p.PID)), labelText(p.Command)
		ch <- prometheus.MustNewConstMetric(descProcFDs, prometheus.GaugeValue, float64(p.FDs), pid, comm)
		if p.FDSoftLimit != 0 { // 0: unknown (owners from packet comments)
			limit, left := float64(p.FDSoftLimit), p.SecondsToLimit
			if p.FDSoftLimit == model.FDUnlimited {
				limit = math.Inf(1)
			}
			if left < 0 {
				left = math.Inf(1)
			}
			ch <- prometheus.MustNewConstMetric(descProcLimit, prometheus.GaugeValue, limit, pid, comm)
			ch <- prometheus.MustNewConstMetric(descProcLeft, prometheus.GaugeValue, left, pid, comm)
		}
		for st, n := range p.SocketsByState {
			if n > 0 {
				ch <- prometheus.MustNewConstMetric(descProcSockets, prometheus.GaugeValue, float64(n), pid, comm, model.State(st).String())
			}
		}
	}
}

// collectListeners sends each listening address's accept queue and
// backlog; sockets sharing an address (SO_REUSEPORT) add up.
func (e *exporter) collectListeners(ch chan<- prometheus.Metric, s *model.Snapshot) {
	if s.Kernel == nil || s.Kernel.View.OwnersOnly {
		return
	}
	v := s.Kernel.View
	var host uint64
	if h := v.Host(); h != nil {
		host = h.Inode
	}
	type qb struct{ queue, backlog uint64 }
	sums := map[string]qb{}
	var order []string
	add := func(ns uint64, local string, queue, backlog uint32) {
		if ns != host {
			local = "NETNS/" + labelText(v.NetNSLabel(ns)) + "/" + local
		}
		q, ok := sums[local]
		if !ok {
			order = append(order, local)
		}
		sums[local] = qb{q.queue + uint64(queue), q.backlog + uint64(backlog)}
	}
	if e.selected {
		seen := map[model.SocketKey]bool{}
		for i := range s.Processes {
			for _, l := range s.Processes[i].Listeners {
				k := model.SocketKey{NetNS: l.NetNS, Local: l.Local}
				if !seen[k] {
					seen[k] = true
					add(l.NetNS, l.Local.String(), l.AcceptQueue, l.Backlog)
				}
			}
		}
	} else {
		for i := range v.Sockets {
			if q, b, ok := v.Sockets[i].AcceptQueue(); ok {
				add(v.Sockets[i].NetNS, v.Sockets[i].Local.String(), q, b)
			}
		}
	}
	for _, local := range order {
		ch <- prometheus.MustNewConstMetric(descAcceptQueue, prometheus.GaugeValue, float64(sums[local].queue), local)
		ch <- prometheus.MustNewConstMetric(descBacklog, prometheus.GaugeValue, float64(sums[local].backlog), local)
	}
}

// labelText makes a name from the system a label value: valid UTF-8 (the
// exposition format escapes the rest).
func labelText(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
