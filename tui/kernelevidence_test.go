package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
)

// kernelEvidenceSnapshot is the fixtures with what the kernel said: the
// keep-alive race's RST with the kernel's reason and its server socket's
// history, a finding about a process, and a note of the events missing.
func kernelEvidenceSnapshot() *model.Snapshot {
	s := fixtureSnapshot(5)
	s.Seq = 7
	s.Flows[0].Resets[0].KernelReason = "TCP_ABORT_ON_CLOSE"
	pipeline.Join(s, pipeline.JoinOptions{})
	s.Rows[0].History[model.SideB] = &model.SocketHistory{
		Owner: model.OwnerRef{PID: 42, Name: "nginx"},
		States: []model.KernelStateRecord{{Time: base + ms(60_000), From: model.StateEstablished, To: model.StateFinWait1,
			PID: 42, Comm: "nginx\x1b[2J", InProcess: true}},
		Resets: []model.KernelResetRecord{{Time: base + ms(60_020), Sent: true, Reason: "TCP_ABORT_ON_CLOSE"}},
		Drops:  []model.KernelDropRecord{{Time: base + ms(60_010), Reason: "TCP_CLOSE"}},
	}
	s.ProcessFindings = []model.ProcessFinding{{PID: 42, Command: "nginx", Finding: model.Finding{
		Label: model.FindingFDLeak, Severity: model.SeverityWarning, Evidence: model.EvidenceKernel,
		Summary: "nginx's fds climb 120/min toward its limit"}}}
	s.EventsNote = "no drop reasons: this kernel has no skb:kfree_skb reason"
	return s
}

// TestView_KernelEvidenceReachesTheScreen: what --json and --report print
// of the kernel's word is on the screen too: the reset's reason, each
// socket's kernel history in the drill-down, the findings about
// processes in the findings pane, and the missing events in the status
// bar.
func TestView_KernelEvidenceReachesTheScreen(t *testing.T) {
	m, feed := newTestModelFindings(t, 200, 50, Options{}, nil)
	feed.snap = kernelEvidenceSnapshot()
	feed.findings = nil
	m.Update(pollFeed(feed, time.Unix(1001, 0)))

	if s := statusLine(m); !strings.Contains(s, "no drop reasons") {
		t.Errorf("status bar without the events note:\n%s", s)
	}
	press(m, "F")
	scr := m.View()
	for _, want := range []string{"Processes: 1 finding", "fd_leak", "nginx/42", "climb 120/min"} {
		if !strings.Contains(scr, want) {
			t.Errorf("findings pane without %q:\n%s", want, scr)
		}
	}
	press(m, "esc", "home", "enter")
	scr = m.View()
	if !strings.Contains(scr, "the kernel's reason: TCP_ABORT_ON_CLOSE") {
		t.Errorf("drill-down without the reset's kernel reason:\n%s", scr)
	}
	press(m, "shift+tab")
	scr = m.View()
	for _, want := range []string{"Kernel events", "(nginx/42)", "ESTABLISHED → FIN-WAIT-1  by nginx/42", "RST sent, reason TCP_ABORT_ON_CLOSE", "packet dropped, reason TCP_CLOSE"} {
		if !strings.Contains(scr, want) {
			t.Errorf("kernel tab without %q:\n%s", want, scr)
		}
	}
	if strings.Contains(scr, "\x1b[2J") {
		t.Error("a command name from the kernel reached the screen raw")
	}
}
