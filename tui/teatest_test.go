package tui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/connscope/connscope/internal/corpus"
	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
)

// TestTeatest_FilterDrillDownShowsResetSender runs the whole program over a
// tracker replaying a shared capture: the person waits for the replay to
// end, filters to one port, opens the flow and reads who reset it.
func TestTeatest_FilterDrillDownShowsResetSender(t *testing.T) {
	segs := readPcap(t, corpus.Capture(t, "ndpi-avast.pcap"))
	tr, ended := replayPipeline(t, segs, pipeline.Config{StartAtEnd: true, PublishEvery: 20 * time.Millisecond})
	m := New(Options{Feed: tr, Source: "ndpi-avast.pcap", Renderer: asciiRenderer(), Location: time.UTC,
		Refresh: 20 * time.Millisecond})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 40))
	// wait reads the output until every text appeared (each wait consumes
	// what it read, so texts of one frame are awaited together).
	wait := func(texts ...string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
			for _, x := range texts {
				if !bytes.Contains(b, []byte(x)) {
					return false
				}
			}
			return true
		}, teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	}

	wait("10/10 shown")
	ended()
	tm.Type("/port 58412")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	wait("1/10 shown")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	// The reset's sender, and the ladder with the RST frame drawn.
	wait("RST by server 5.62.54.29:80", "RST,ACK")
	tm.Type("q")

	final := tm.FinalModel(t, teatest.WithFinalTimeout(15*time.Second)).(*Model)
	if final.mode != viewDetail || final.detail.key != (model.Key{ID: 6}) {
		t.Errorf("final state: got mode %d row %v, want the drill-down of flow 6", final.mode, final.detail.key)
	}
	v := final.View()
	for _, want := range []string{
		"client 192.168.2.100:58412 → server 5.62.54.29:80",
		"RST by server 5.62.54.29:80 at frame 102",
		"filter: port 58412",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("final screen: missing %q in\n%s", want, v)
		}
	}
}
