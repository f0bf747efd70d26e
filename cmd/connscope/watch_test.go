package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
)

func TestParseArgs_WatchFlags(t *testing.T) {
	o, err := parseArgs([]string{"--metrics", ":9723", "--metrics-top", "5", "--evidence", "ev", "-i", "lo"})
	if err != nil {
		t.Fatal(err)
	}
	if o.metrics != ":9723" || o.metricsTop != 5 || o.evidence != "ev" || !o.headless() {
		t.Errorf("got %+v: want watch mode on :9723, top 5, evidence in ev, headless", o)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--metrics", ":9723", "-r", "x.pcap"}, "exclude -r and --demo"},
		{[]string{"--evidence", "ev", "--demo", "--json"}, "exclude -r and --demo"},
		{[]string{"--metrics-top", "5"}, "--metrics-top needs --metrics"},
		{[]string{"--metrics", ":1", "--metrics-top", "-1"}, "0 or more"},
		{[]string{"--evidence", "ev"}, "--evidence needs --metrics, --json or --report"},
	} {
		_, err := parseArgs(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseArgs(%q): got %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}

// The finding line carries the finding and its flow as the flow line
// does, from a real diagnosis (the demo capture).
func TestFindingLine_CarriesTheFindingAndItsFlow(t *testing.T) {
	var lines []map[string]any
	p, err := pipeline.Open(pipeline.Config{Demo: demoCapture, OnFinding: func(ev pipeline.FindingEvent) {
		b, err := json.Marshal(findingEventJSON(ev, "x.pcapng"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	snap := p.Latest()
	n := 0
	for i := range snap.Rows {
		n += len(snap.Rows[i].Findings)
	}
	if len(lines) != n || n == 0 {
		t.Fatalf("%d finding lines, want one per finding of the demo (%d)", len(lines), n)
	}
	for _, m := range lines {
		if m["type"] != "finding" || m["evidence"] != "x.pcapng" || m["time"] == "" {
			t.Errorf("line %v: want type finding, the evidence and a time", m)
		}
		id := model.FlowID(m["stream"].(float64))
		f := snap.Find(id)
		if f == nil || m["a"] != f.A.String() || m["b"] != f.B.String() || m["client"] != f.Client.String() {
			t.Errorf("line %v: does not name flow %d's endpoints and client", m, id)
			continue
		}
		found := false
		for _, fd := range f.Findings {
			if fd.Label.String() == m["label"] && fd.Severity.String() == m["severity"] && fd.Summary == m["summary"] &&
				fd.Side.String() == m["side"] && len(fd.Frames) == len(m["frames"].([]any)) {
				found = true
			}
		}
		if !found {
			t.Errorf("line %v: not a finding of flow %d (%+v)", m, id, f.Findings)
		}
	}
}
