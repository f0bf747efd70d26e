package model

import "strconv"

// The process rules: a process's file descriptors climbing toward its limit
// (fd_leak) and a process at its limit (fd_exhaustion). They are about a
// process, not a connection: a process's flows do not carry them.

// ProcessFinding is a finding about a process: which one, and the finding
// (its Side is SideNone).
type ProcessFinding struct {
	PID     int32
	Command string
	// StartTicks tells the process from a later one with the same PID.
	StartTicks uint64
	Finding
}

// DiagnoseProcesses returns the findings of the processes of a kernel
// view, most severe first within a process, processes in PID order. The
// zero Thresholds means DefaultThresholds.
func DiagnoseProcesses(v *KernelView, th Thresholds) []ProcessFinding {
	if v == nil || v.OwnersOnly {
		return nil
	}
	if th == (Thresholds{}) {
		th = DefaultThresholds()
	}
	var out []ProcessFinding
	for i := range v.Processes {
		p := &v.Processes[i]
		add := func(l FindingLabel, sev Severity, summary string) {
			out = append(out, ProcessFinding{PID: p.PID, Command: p.Command, StartTicks: p.StartTicks,
				Finding: Finding{Label: l, Severity: sev, Evidence: EvidenceKernel, Side: SideNone, Summary: summary}})
		}
		atLimit := p.FDSoftLimit > 0 && p.FDSoftLimit != FDUnlimited && uint64(p.FDs) >= p.FDSoftLimit
		if atLimit {
			add(FindingFDExhaustion, SeverityCritical, processName(p)+" holds "+strconv.Itoa(p.FDs)+" fds of its limit "+
				limitText(p.FDSoftLimit)+": at its limit, every new socket, accept() and open() fails with EMFILE"+
				queuedText(p))
		}
		if LeakingFDs(p, th) {
			sev := SeverityWarning
			left := "at this rate it runs out in " + dur(int64(p.SecondsToLimit*1e9))
			switch {
			case atLimit || p.SecondsToLimit == 0:
				left, sev = "it has reached it", SeverityCritical
			case p.SecondsToLimit < 600:
				sev = SeverityCritical
			}
			add(FindingFDLeak, sev, processName(p)+" holds "+strconv.Itoa(p.FDs)+" fds of its limit "+limitText(p.FDSoftLimit)+
				", growing "+strconv.FormatFloat(p.FDGrowthPerMin, 'f', 0, 64)+" per minute: "+left+
				" (it opens sockets or files and does not close them)")
		}
	}
	return out
}

// LeakingFDs reports a process whose fd count climbs fast enough to reach
// its soft limit within the horizon of the thresholds.
func LeakingFDs(p *Process, th Thresholds) bool {
	return p.FDGrowthPerMin >= th.FDLeakMinPerMin && p.SecondsToLimit >= 0 && p.SecondsToLimit <= th.FDLeakHorizon
}

// processName is "process nginx (pid 12)".
func processName(p *Process) string {
	return "process " + p.Command + " (pid " + strconv.Itoa(int(p.PID)) + ")"
}

// queuedText is "; 12 connections wait in its listener 10.0.0.2:8080
// (backlog 11), unaccepted" when its listeners hold queued connections.
func queuedText(p *Process) string {
	out := ""
	for _, l := range p.Listeners {
		if l.AcceptQueue == 0 {
			continue
		}
		out += "; " + plural(int(l.AcceptQueue), "connection") + " wait in its listener " + l.Local.String() +
			" (backlog " + strconv.FormatUint(uint64(l.Backlog), 10) + "), unaccepted"
	}
	return out
}
