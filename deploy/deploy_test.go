// Package deploy holds no Go code: its tests check the fleet files beside
// them with the tools that consume them. The Prometheus rules must pass
// `promtool check rules` and their own unit tests (`promtool test rules`),
// and those unit tests must fail when an alert or its `for:` is removed;
// the example prometheus.yml must pass `promtool check config`; every
// PromQL expression of the Grafana dashboard must parse (promtool, as a
// recording rule); every connscope metric named anywhere must be one the
// exporter serves, and the dashboard must show each of them; the systemd
// unit must pass `systemd-analyze verify` and stay within its security
// exposure.
//
// promtool comes with Debian's prometheus package. Without it these tests
// skip, except under CI=true, where they fail. systemd-analyze is optional.
package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const (
	rulesFile     = "prometheus/connscope.rules.yml"
	rulesTestFile = "prometheus/connscope.rules.test.yml"
	configFile    = "prometheus/prometheus.yml"
	dashboardFile = "grafana/connscope-dashboard.json"
	unitFile      = "connscope.service"
)

// contract is every metric the exporter serves under the connscope_ prefix
// (the Go and process collectors' go_* and process_* come on top).
var contract = []string{
	"connscope_connections",
	"connscope_connections_opened_total",
	"connscope_connections_closed_total",
	"connscope_resets_total",
	"connscope_retransmissions_total",
	"connscope_zero_windows_total",
	"connscope_findings_total",
	"connscope_process_fds",
	"connscope_process_fd_limit",
	"connscope_process_seconds_to_fd_limit",
	"connscope_process_sockets",
	"connscope_listener_accept_queue",
	"connscope_listener_backlog",
	"connscope_listen_overflows_total",
	"connscope_packets_total",
	"connscope_kernel_drops_total",
	"connscope_queue_drops_total",
	"connscope_evicted_flows_total",
	"connscope_build_info",
	// With --evidence: the flight recorder and its files.
	"connscope_evidence_files_total",
	"connscope_evidence_removed_files_total",
	"connscope_recorder_held_bytes",
	"connscope_recorder_evicted_flows_total",
}

// requireTool returns the path of a tool the test cannot do without: it
// skips when the tool is missing, or fails under CI=true, where a skip
// would hide that nothing was checked.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (install the %s package): CI must run this test", name, pkg)
	}
	t.Skipf("%s not found (install the %s package to run this test)", name, pkg)
	return ""
}

// run runs a command in dir and returns its combined output and error.
func run(dir, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestRules_PassPromtoolCheck(t *testing.T) {
	promtool := requireTool(t, "promtool", "prometheus")
	if out, err := run(".", promtool, "check", "rules", "--lint=all", "--lint-fatal", rulesFile); err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", rulesFile, err, out)
	}
}

func TestRules_PassTheirUnitTests(t *testing.T) {
	promtool := requireTool(t, "promtool", "prometheus")
	// rule_files in the test file are relative to it.
	if out, err := run(filepath.Dir(rulesTestFile), promtool, "test", "rules", filepath.Base(rulesTestFile)); err != nil {
		t.Fatalf("promtool test rules %s: %v\n%s", rulesTestFile, err, out)
	}
}

// alertBlocks splits the rules file into the text before the first alert
// and one block of lines per alert, each starting at its "- alert:" line.
func alertBlocks(t *testing.T, rules string) (head []string, blocks [][]string) {
	t.Helper()
	lines := strings.Split(rules, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "- alert:") {
			if blocks == nil {
				head = lines[:i]
			}
			blocks = append(blocks, []string{l})
			continue
		}
		if blocks != nil {
			blocks[len(blocks)-1] = append(blocks[len(blocks)-1], l)
		}
	}
	if len(blocks) == 0 {
		t.Fatalf("%s: no alerts found", rulesFile)
	}
	return head, blocks
}

func alertName(block []string) string {
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(block[0]), "- alert:"))
}

// TestRules_EveryAlertIsTested requires each alert to be named by an
// alert_rule_test, and the unit tests to fail when an alert is removed or
// loses its for: (which would make a one-scrape spike fire): tests that
// would pass anyway prove nothing.
func TestRules_EveryAlertIsTested(t *testing.T) {
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	head, blocks := alertBlocks(t, string(rules))
	for _, b := range blocks {
		if !strings.Contains(string(tests), "alertname: "+alertName(b)+"\n") {
			t.Errorf("%s: no alert_rule_test for %s", rulesTestFile, alertName(b))
		}
	}
	if testing.Short() {
		t.Skip("mutations: about 25 runs of promtool, skipped with -short")
	}
	promtool := requireTool(t, "promtool", "prometheus")

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(rulesTestFile)), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	// mutantFails writes the mutated rules and reports whether the unit
	// tests fail on them (as they must).
	mutantFails := func(t *testing.T, lines []string) bool {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(rulesFile)), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := run(dir, promtool, "test", "rules", filepath.Base(rulesTestFile))
		if err == nil {
			return false
		}
		if !strings.Contains(out, "FAILED") {
			t.Fatalf("promtool did not run the tests: %v\n%s", err, out)
		}
		return true
	}
	for i, b := range blocks {
		var others []string
		others = append(others, head...)
		for j, o := range blocks {
			if j != i {
				others = append(others, o...)
			}
		}
		if !mutantFails(t, others) {
			t.Errorf("the unit tests still pass without the alert %s: nothing shows it firing", alertName(b))
		}
		for k, l := range b {
			if !strings.HasPrefix(strings.TrimSpace(l), "for:") {
				continue
			}
			var lines []string
			lines = append(lines, head...)
			for j, o := range blocks {
				if j == i {
					o = slices.Concat(o[:k], o[k+1:])
				}
				lines = append(lines, o...)
			}
			if !mutantFails(t, lines) {
				t.Errorf("the unit tests still pass when %s has no %q: nothing shows a short spike staying silent", alertName(b), strings.TrimSpace(l))
			}
		}
	}
}

func TestPrometheusConfig_PassesPromtoolCheck(t *testing.T) {
	promtool := requireTool(t, "promtool", "prometheus")
	// This also checks the rule files it loads and the file_sd target
	// files its globs match.
	out, err := run(".", promtool, "check", "config", configFile)
	if err != nil {
		t.Fatalf("promtool check config %s: %v\n%s", configFile, err, out)
	}
	if !strings.Contains(out, "1 rule files found") {
		t.Errorf("promtool check config %s: the rules file is not loaded:\n%s", configFile, out)
	}
}

// dashboard is the part of a Grafana dashboard these tests look at.
type dashboard struct {
	SchemaVersion int     `json:"schemaVersion"`
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasource     `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	Panels     []panel     `json:"panels"`
	Targets    []struct {
		RefID      string      `json:"refId"`
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	GridPos *struct {
		H, W, X, Y int
	} `json:"gridPos"`
}

// dashboardExpr is one PromQL expression of the dashboard and where it is.
type dashboardExpr struct {
	where, expr string
}

func loadDashboard(t *testing.T) (dashboard, []dashboardExpr) {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	if dec.More() {
		t.Fatalf("%s: data after the dashboard object", dashboardFile)
	}
	var exprs []dashboardExpr
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			for _, tg := range p.Targets {
				exprs = append(exprs, dashboardExpr{fmt.Sprintf("panel %d %q, query %s", p.ID, p.Title, tg.RefID), tg.Expr})
			}
		}
	}
	walk(d.Panels)
	return d, exprs
}

func TestDashboard_IsAnImportableGrafanaDashboard(t *testing.T) {
	d, _ := loadDashboard(t)
	// Grafana 10.0 writes schema 38, 11.x 39 to 41; older would be migrated.
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion = %d, want a Grafana 10/11 schema (36-41)", d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: both must be set", d.UID, d.Title)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Name == "DS_PROMETHEUS" && string(v.Query) != `"prometheus"` {
			t.Errorf("variable DS_PROMETHEUS: query %s, want \"prometheus\"", v.Query)
		}
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${DS_PROMETHEUS}") {
			t.Errorf("variable %s does not query ${DS_PROMETHEUS}", v.Name)
		}
	}
	if vars["DS_PROMETHEUS"] != "datasource" || vars["instance"] != "query" {
		t.Errorf("template variables %v: want DS_PROMETHEUS (datasource) and instance (query)", vars)
	}

	ids := map[int]string{}
	var check func([]panel)
	check = func(ps []panel) {
		for _, p := range ps {
			check(p.Panels)
			if prev, dup := ids[p.ID]; dup || p.ID == 0 {
				t.Errorf("panel %q: id %d (also %q): ids must be unique and non-zero", p.Title, p.ID, prev)
			}
			ids[p.ID] = p.Title
			if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("panel %q: gridPos %+v does not fit the 24-column grid", p.Title, p.GridPos)
			}
			if p.Type == "row" {
				continue
			}
			if p.Title == "" {
				t.Errorf("panel %d has no title", p.ID)
			}
			if p.Datasource == nil || p.Datasource.UID != "${DS_PROMETHEUS}" {
				t.Errorf("panel %q: datasource %+v, want uid ${DS_PROMETHEUS}", p.Title, p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				if tg.Datasource == nil || tg.Datasource.UID != "${DS_PROMETHEUS}" {
					t.Errorf("panel %q query %s: datasource %+v, want uid ${DS_PROMETHEUS}", p.Title, tg.RefID, tg.Datasource)
				}
				if tg.RefID == "" || refs[tg.RefID] {
					t.Errorf("panel %q: refId %q missing or repeated", p.Title, tg.RefID)
				}
				refs[tg.RefID] = true
				if !strings.Contains(tg.Expr, `instance=~"$instance"`) {
					t.Errorf("panel %q query %s does not follow the instance variable: %s", p.Title, tg.RefID, tg.Expr)
				}
			}
		}
	}
	check(d.Panels)
}

// grafanaVars stand in for what Grafana substitutes before a query reaches
// Prometheus.
var grafanaVars = map[string]string{
	"instance":        ".+",
	"__rate_interval": "1m",
	"__interval":      "15s",
	"__range":         "6h",
}

var grafanaVarRE = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)`)

// substitute replaces Grafana variables in expr; an unknown variable is an
// error, since Prometheus would see it verbatim.
func substitute(expr string) (string, error) {
	var unknown []string
	out := grafanaVarRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVarRE.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		v, ok := grafanaVars[name]
		if !ok {
			unknown = append(unknown, m)
			return m
		}
		return v
	})
	if unknown != nil {
		return "", fmt.Errorf("unknown Grafana variables %v", unknown)
	}
	return out, nil
}

// checkExprs has promtool parse each expression, as the recording rule
// dashboard_expr_N of a rules file; on failure the error names each
// failing expression's place.
func checkExprs(t *testing.T, promtool string, exprs []dashboardExpr) error {
	t.Helper()
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		q, err := substitute(e.expr)
		if err != nil {
			return fmt.Errorf("%s: %w", e.where, err)
		}
		// JSON strings are valid YAML double-quoted scalars.
		js, err := json.Marshal(q)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "      - record: dashboard_expr_%d\n        expr: %s\n", i, js)
	}
	path := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return err
	}
	out, err := run(".", promtool, "check", "rules", path)
	if err == nil {
		return nil
	}
	var failed []string
	for i, e := range exprs {
		if strings.Contains(out, fmt.Sprintf("%q", fmt.Sprintf("dashboard_expr_%d", i))) {
			failed = append(failed, fmt.Sprintf("%s: %s", e.where, e.expr))
		}
	}
	return fmt.Errorf("promtool check rules: %v\n%s\n%s", err, out, strings.Join(failed, "\n"))
}

func TestDashboard_EveryExprParses(t *testing.T) {
	promtool := requireTool(t, "promtool", "prometheus")
	_, exprs := loadDashboard(t)
	if len(exprs) < 20 {
		t.Fatalf("%d expressions found in %s: the walk missed panels", len(exprs), dashboardFile)
	}
	if err := checkExprs(t, promtool, exprs); err != nil {
		t.Fatal(err)
	}
}

// TestDashboard_ExprCheckRejectsBadPromQL shows the check above can fail.
func TestDashboard_ExprCheckRejectsBadPromQL(t *testing.T) {
	promtool := requireTool(t, "promtool", "prometheus")
	good := dashboardExpr{"good", `sum(rate(connscope_packets_total{instance=~"$instance"}[$__rate_interval]))`}
	for _, bad := range []dashboardExpr{
		{"unbalanced", `sum(rate(connscope_packets_total{instance=~"$instance"}[$__rate_interval])`},
		{"range of a range", `rate(connscope_packets_total[5m][5m])`},
		{"unknown variable", `rate(connscope_packets_total[$__unknown])`},
	} {
		err := checkExprs(t, promtool, []dashboardExpr{good, bad})
		if err == nil {
			t.Errorf("%s: %s passed the check", bad.where, bad.expr)
		} else if strings.Contains(err.Error(), "good:") {
			t.Errorf("%s: the valid expression was blamed: %v", bad.where, err)
		}
	}
}

// metricRE finds connscope metric names, but not the middle of a
// recording rule's name (level:metric:operation).
var metricRE = regexp.MustCompile(`(?:^|[^:\w])(connscope_\w+)(?:[^:\w]|$)`)

func metricNames(text string) []string {
	var names []string
	// Overlapping matches (a name right after another) need a loop
	// that resumes one byte after each match's start.
	for i := 0; i < len(text); {
		loc := metricRE.FindStringSubmatchIndex(text[i:])
		if loc == nil {
			break
		}
		names = append(names, text[i+loc[2]:i+loc[3]])
		i += loc[3]
	}
	return names
}

func TestMetricNames_AreTheExportersAndAllShown(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{`rate(connscope_packets_total[5m]) / instance:connscope_packets:rate5m`, []string{"connscope_packets_total"}},
		{`connscope_process_fds>=connscope_process_fd_limit`, []string{"connscope_process_fds", "connscope_process_fd_limit"}},
		{`/var/lib/connscope/evidence, ConnscopeExporterDown`, nil},
	} {
		if got := metricNames(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}

	known := map[string]bool{}
	for _, m := range contract {
		known[m] = true
	}
	shown := map[string]bool{}
	for _, f := range []string{rulesFile, rulesTestFile, dashboardFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metricNames(string(b)) {
			if !known[m] {
				t.Errorf("%s names %s, which the exporter does not serve", f, m)
			}
			if f == dashboardFile {
				shown[m] = true
			}
		}
	}
	var missing []string
	for _, m := range contract {
		if !shown[m] {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	if missing != nil {
		t.Errorf("%s shows none of %v", dashboardFile, missing)
	}
}

// unitDirectives returns each directive's values in order.
func unitDirectives(unit string) map[string][]string {
	d := map[string][]string{}
	for _, l := range strings.Split(unit, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if ok {
			d[k] = append(d[k], v)
		}
	}
	return d
}

func TestSystemdUnit_IsConsistent(t *testing.T) {
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	d := unitDirectives(string(b))
	start := strings.Join(d["ExecStart"], " ")
	for _, want := range []string{"/usr/local/bin/connscope ", "--metrics :9723", "--evidence /var/lib/connscope/evidence"} {
		if !strings.Contains(start, want) {
			t.Errorf("ExecStart=%s: missing %q", start, want)
		}
	}
	if got := d["StateDirectory"]; !slices.Equal(got, []string{"connscope/evidence"}) {
		t.Errorf("StateDirectory=%v, want connscope/evidence (the --evidence directory)", got)
	}
	bound, ambient := d["CapabilityBoundingSet"], d["AmbientCapabilities"]
	if !slices.Equal(bound, ambient) {
		t.Errorf("CapabilityBoundingSet=%v and AmbientCapabilities=%v differ", bound, ambient)
	}
	for _, c := range []string{"CAP_NET_RAW", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"} {
		if !strings.Contains(strings.Join(ambient, " "), c) {
			t.Errorf("AmbientCapabilities=%v: missing %s", ambient, c)
		}
	}
	for k, want := range map[string]string{
		"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"PrivateTmp": "yes", "Restart": "on-failure", "KillSignal": "SIGTERM",
		"RestrictAddressFamilies": "AF_PACKET AF_NETLINK AF_INET AF_INET6 AF_UNIX",
	} {
		if got := strings.Join(d[k], " "); got != want {
			t.Errorf("%s=%s, want %s", k, got, want)
		}
	}
	if d["MemoryMax"] == nil || d["TimeoutStopSec"] == nil {
		t.Errorf("MemoryMax=%v TimeoutStopSec=%v: both must be set", d["MemoryMax"], d["TimeoutStopSec"])
	}
}

func TestSystemdUnit_PassesSystemdAnalyze(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not found (the systemd package): the unit is not verified")
	}
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	// verify requires ExecStart's binary to exist: point it at one that
	// does (this test binary), in a copy of the unit.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.ReplaceAll(string(b), "/usr/local/bin/connscope", self)
	path := filepath.Join(t.TempDir(), "connscope.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	// --man=no: the man page named by Documentation= need not be
	// installed here. Unknown keys and bad values are only warnings, so
	// any output is a failure too.
	out, err := run(".", analyze, "verify", "--man=no", path)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The overall exposure is 2.8 of 10 today ("OK"); 3.0 leaves room for
	// a new check in a later systemd, not for a dropped protection.
	out, err = run(".", analyze, "security", "--offline=true", "--threshold=30", path)
	if err != nil {
		t.Fatalf("systemd-analyze security: exposure above 3.0, or it failed: %v\n%s", err, out)
	}
}
