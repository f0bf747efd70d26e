package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The watch-mode test runs the real thing: the connscope binary in watch
// mode and the real Prometheus, both in a network namespace of their own
// where a scenario produces known failures; then what Prometheus stored
// must equal what --json reported for the same run.

// watchNSPrefix starts the name of the namespace the test creates.
const watchNSPrefix = "cs-h7-watch-"

// Addresses inside the namespace. The scenario's own loopback addresses
// tell its connections from the sockets of the machine's other
// namespaces, which connscope also sees (as it sees containers').
const (
	scServer     = "127.77.0.1"
	scClient     = "127.77.0.2"
	metricsPort  = 9723
	promPort     = 9090
	refusedPort  = 19001
	unreadPort   = 19002
	leakPort     = 19003
	cleanPort    = 19004
	leakedConns  = 3
	unreadLength = 4000
)

// inNetns runs fn on an OS thread that has entered the namespace ns:
// sockets fn creates live in ns, and work from any thread afterwards.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		err = fn()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			// Back in its namespace: the thread may serve others again
			// (otherwise it ends with this goroutine).
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// nsClient is an HTTP client whose connections are made inside ns.
func nsClient(ns string) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := inNetns(ns, func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}

// requireWatchLab skips without root or the Prometheus binaries, except
// under CI=true, where it fails: CI must run this test.
func requireWatchLab(t *testing.T) (prom, promtool string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the watch-mode test needs root (namespaces, live capture): CI runs as root")
		}
		t.Skip("the watch-mode test needs root (namespaces, live capture)")
	}
	return requirePromTool(t, "prometheus"), requirePromTool(t, "promtool")
}

// newNetns creates a namespace with lo up, removed when the test ends.
func newNetns(t *testing.T) string {
	t.Helper()
	ns := watchNSPrefix + strconv.Itoa(os.Getpid())
	_ = exec.Command("ip", "netns", "del", ns).Run() // a run killed outright left it
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up in %s: %v: %s", ns, err, out)
	}
	return ns
}

// nsProc is a command started in a namespace.
type nsProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startIn starts a command in ns; the test's end stops it by its pid
// (SIGTERM, then SIGKILL after 10 s) if the test has not.
func startIn(t *testing.T, ns string, stdout, stderr io.Writer, name string, args ...string) *nsProc {
	t.Helper()
	// ip netns exec execs the command: its pid is the command's.
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &nsProc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	return p
}

// stop ends the command by its pid: SIGTERM, then SIGKILL after 10 s.
func (p *nsProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitHTTP polls url until it answers 200.
func waitHTTP(t *testing.T, c *http.Client, u string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := c.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within %v: %v", u, within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// promVector is one series of an instant query's result.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// promQuery runs an instant query through Prometheus's HTTP API.
func promQuery(t *testing.T, c *http.Client, q string) []promSample {
	t.Helper()
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/query?query=%s", promPort, url.QueryEscape(q)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	if r.Status != "success" || r.Data.ResultType != "vector" {
		t.Fatalf("query %s: %s %s (%s)", q, r.Status, r.Error, r.Data.ResultType)
	}
	return r.Data.Result
}

// promValues runs q and returns each series' value keyed by the labels
// named (joined by "/").
func promValues(t *testing.T, c *http.Client, q string, labels ...string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range promQuery(t, c, q) {
		var k []string
		for _, l := range labels {
			k = append(k, s.Metric[l])
		}
		v, err := strconv.ParseFloat(s.Value[1].(string), 64)
		if err != nil {
			t.Fatalf("query %s: value %v", q, s.Value)
		}
		out[strings.Join(k, "/")] += v
	}
	return out
}

// watchScenario is the scenario's servers, listening in its namespace.
type watchScenario struct {
	ns                        string
	lnUnread, lnLeak, lnClean net.Listener
}

// newScenario starts the scenario's servers in ns.
func newScenario(t *testing.T, ns string) *watchScenario {
	t.Helper()
	var lnUnread, lnLeak, lnClean net.Listener
	err := inNetns(ns, func() error {
		var err error
		if lnUnread, err = net.Listen("tcp", net.JoinHostPort(scServer, strconv.Itoa(unreadPort))); err != nil {
			return err
		}
		if lnLeak, err = net.Listen("tcp", net.JoinHostPort(scServer, strconv.Itoa(leakPort))); err != nil {
			return err
		}
		lnClean, err = net.Listen("tcp", net.JoinHostPort(scServer, strconv.Itoa(cleanPort)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lnUnread.Close(); lnLeak.Close(); lnClean.Close() })
	return &watchScenario{ns: ns, lnUnread: lnUnread, lnLeak: lnLeak, lnClean: lnClean}
}

// run produces, inside the namespace, a refused connection, a server
// reset with unread data, a server leaking leakedConns connections in
// CLOSE-WAIT (held until release is closed) and a clean request. It
// returns when the failures have happened.
func (sc *watchScenario) run(t *testing.T, release <-chan struct{}) {
	t.Helper()
	lnUnread, lnLeak, lnClean := sc.lnUnread, sc.lnLeak, sc.lnClean
	dial := func(port int) (net.Conn, error) {
		var c net.Conn
		err := inNetns(sc.ns, func() error {
			var err error
			d := &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(scClient)}}
			c, err = d.Dial("tcp", net.JoinHostPort(scServer, strconv.Itoa(port)))
			return err
		})
		return c, err
	}

	// 1. Refused: nothing listens on refusedPort.
	if c, err := dial(refusedPort); err == nil {
		c.Close()
		t.Fatal("the refused connection was accepted")
	}

	// 2. The server closes without reading what the client sent: its
	// kernel resets the connection.
	go func() {
		c, err := lnUnread.Accept()
		if err != nil {
			return
		}
		time.Sleep(150 * time.Millisecond) // the data arrives, unread
		c.Close()
	}()
	c, err := dial(unreadPort)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(make([]byte, unreadLength)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "reset") {
		t.Fatalf("the client of the unread data got %v, want a reset", err)
	}
	c.Close()

	// 3. The server accepts and never closes: after each client's close
	// its socket sits in CLOSE-WAIT.
	held := make(chan net.Conn, leakedConns)
	go func() {
		for range leakedConns {
			c, err := lnLeak.Accept()
			if err != nil {
				return
			}
			held <- c
		}
	}()
	for range leakedConns {
		c, err := dial(leakPort)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	var leaked []net.Conn
	for range leakedConns {
		leaked = append(leaked, <-held)
	}
	go func() {
		<-release
		for _, c := range leaked {
			c.Close()
		}
	}()

	// 4. A clean request and answer, both sides closing.
	go func() {
		c, err := lnClean.Accept()
		if err != nil {
			return
		}
		b := make([]byte, 5)
		if _, err := io.ReadFull(c, b); err == nil {
			c.Write([]byte("world"))
		}
		io.Copy(io.Discard, c)
		c.Close()
	}()
	c, err = dial(cleanPort)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("hello"))
	if _, err := io.ReadFull(c, make([]byte, 5)); err != nil {
		t.Fatalf("clean request: %v", err)
	}
	c.Close()
}

// TestWatch_PrometheusStoresWhatJSONReports is the watch mode against the
// real thing: connscope --metrics --json --evidence in a namespace while a
// scenario there fails in known ways, scraped every second by the real
// Prometheus (with the deploy rules loaded). Through Prometheus's HTTP API
// the resets by sender and cause, the findings by label and severity and
// the CLOSE-WAIT counts must equal what --json reported for the same run,
// and what the scenario did; each evidence file of a reset must explain
// its finding again with -r.
func TestWatch_PrometheusStoresWhatJSONReports(t *testing.T) {
	prom, _ := requireWatchLab(t)
	bin := connscopeBinary(t)
	ns := newNetns(t)
	dir := t.TempDir()
	evidence := filepath.Join(dir, "evidence")
	me := strconv.Itoa(os.Getpid())
	start := time.Now()

	// Prometheus: a scrape a second, the deploy rules evaluated as often.
	rules, err := filepath.Abs("../../deploy/prometheus/connscope.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: connscope
    static_configs:
      - targets: ['127.0.0.1:%d']
`, rules, metricsPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	client := nsClient(ns)
	var promErr lockedWriter
	startIn(t, ns, io.Discard, &promErr, prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))
	waitHTTP(t, client, fmt.Sprintf("http://127.0.0.1:%d/-/ready", promPort), 60*time.Second)

	// The scenario's servers listen before connscope starts: the fd
	// count of this process, their owner, must not climb in connscope's
	// first seconds of history, or the fd_leak rule rightly reads the
	// climb as a leak (a few fds a second against its limit).
	sc := newScenario(t, ns)
	// connscope: the scenario's connections only (the display filter),
	// the scrapes not captured (the capture filter).
	var csOut, csErr lockedWriter
	cs := startIn(t, ns, &csOut, &csErr, bin, "-i", "lo", "--poll", "200ms",
		"--metrics", fmt.Sprintf("127.0.0.1:%d", metricsPort), "--json", "--evidence", evidence,
		"--display", "host "+scServer, "not", "port", strconv.Itoa(metricsPort), "and", "not", "port", strconv.Itoa(promPort))
	waitHTTP(t, client, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort), 15*time.Second)

	// A few seconds of flat fd history before the scenario runs.
	time.Sleep(5 * time.Second)
	release := make(chan struct{})
	defer close(release)
	sc.run(t, release)
	scenarioEnd := time.Now()

	// Settle: close_wait_leak needs 5 s of CLOSE-WAIT, a reset is counted
	// 3 s after it; then Prometheus must have scraped twice more.
	want := map[string]float64{
		"refused/warning":                1,
		"close_with_unread_data/warning": 1,
		"close_wait_leak/warning":        leakedConns,
	}
	var findings map[string]float64
	deadline := time.Now().Add(60 * time.Second)
	for {
		findings = promValues(t, client, "connscope_findings_total", "label", "severity")
		resets := promValues(t, client, "connscope_resets_total", "sender", "cause")
		if mapsEqual(findings, want) && resets["server/close_with_unread_data"] == 1 && resets["server/refused"] == 1 &&
			time.Since(scenarioEnd) > 10*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never stored the scenario's findings %v and resets: got findings %v, resets %v\nconnscope stderr:\n%s",
				want, findings, resets, csErr.String())
		}
		time.Sleep(time.Second)
	}
	time.Sleep(2500 * time.Millisecond) // two more scrapes: nothing may move
	stored := map[string]map[string]float64{
		"findings":   promValues(t, client, "connscope_findings_total", "label", "severity"),
		"resets":     promValues(t, client, "connscope_resets_total", "sender", "cause"),
		"close_wait": promValues(t, client, `connscope_connections{state="CLOSE-WAIT"}`),
		"proc_cw":    promValues(t, client, `connscope_process_sockets{state="CLOSE-WAIT",pid="`+me+`"}`),
		"rule_cw":    promValues(t, client, `process:connscope_close_wait_sockets:sum{pid="`+me+`"}`),
		"opened":     promValues(t, client, "connscope_connections_opened_total"),
		"closed":     promValues(t, client, "connscope_connections_closed_total"),
		"up":         promValues(t, client, `up{job="connscope"}`),
	}
	if stored["up"][""] != 1 {
		t.Errorf("up = %v, want 1", stored["up"])
	}

	// Stop connscope (SIGTERM) while the leak is still held: its --json
	// ends with the flows, the processes and the summary.
	cs.stop()
	if st := cs.cmd.ProcessState; st == nil || !st.Success() {
		t.Fatalf("connscope did not exit cleanly on SIGTERM: %v\n%s", st, csErr.String())
	}
	rep := readWatchJSON(t, csOut.Bytes(), me)
	for name, got := range map[string]map[string]float64{
		"findings by label/severity": stored["findings"],
		"resets by sender/cause":     stored["resets"],
	} {
		jsonSide := rep.findings
		if strings.HasPrefix(name, "resets") {
			jsonSide = rep.resets
		}
		if !mapsEqual(got, jsonSide) {
			t.Errorf("%s: Prometheus stored %v, --json reported %v", name, got, jsonSide)
		}
	}
	if !mapsEqual(stored["findings"], want) {
		t.Errorf("findings stored %v, want the scenario's %v", stored["findings"], want)
	}
	if stored["resets"]["server/refused"] != 1 || stored["resets"]["server/close_with_unread_data"] != 1 {
		t.Errorf("resets stored %v, want the server's refused and close_with_unread_data", stored["resets"])
	}
	// A connection between two local sockets is one row that counts once
	// per socket: the client's FIN-WAIT-2 and the server's CLOSE-WAIT
	// (--json's kernel and peer_kernel). The server's three leaked
	// sockets must be there.
	if got := stored["close_wait"][""]; got != float64(rep.closeWaitRows) || got < 3 {
		t.Errorf("connscope_connections{state=CLOSE-WAIT} = %v, --json has %d sockets in CLOSE-WAIT, the scenario leaks 3", got, rep.closeWaitRows)
	}
	for what, got := range map[string]float64{
		"connscope_process_sockets{CLOSE-WAIT} of the test": stored["proc_cw"][""],
		"process:connscope_close_wait_sockets:sum (rule)":   stored["rule_cw"][""],
		"--json process line's CLOSE-WAIT sockets":          float64(rep.procCloseWait),
	} {
		if got != leakedConns {
			t.Errorf("%s = %v, want %d", what, got, leakedConns)
		}
	}
	if stored["opened"][""] != float64(rep.flows) || stored["closed"][""] != float64(rep.closedFlows) {
		t.Errorf("opened/closed stored %v/%v, --json has %d flows, %d closed", stored["opened"], stored["closed"], rep.flows, rep.closedFlows)
	}
	if rep.cleanFindings != 0 || !rep.sawClean {
		t.Errorf("the clean connection: seen %v, %d findings; want seen, none", rep.sawClean, rep.cleanFindings)
	}

	// Evidence: complete files only, and each reset's file explains its
	// finding again.
	if left, _ := filepath.Glob(filepath.Join(evidence, ".tmp-*")); len(left) > 0 {
		t.Errorf("temporary evidence files left after SIGTERM: %v", left)
	}
	for _, label := range []string{"refused", "close_with_unread_data"} {
		file := rep.evidence[label]
		if file == "" {
			t.Errorf("no evidence file named in the %s finding line", label)
			continue
		}
		out, err := exec.Command(bin, "-r", file, "--json").Output()
		if err != nil {
			t.Errorf("connscope -r %s: %v", file, err)
			continue
		}
		if !strings.Contains(string(out), `"label":"`+label+`"`) {
			t.Errorf("connscope -r %s --json does not find %s again:\n%s", file, label, out)
		}
	}
	t.Logf("watch-mode test: %v in all; Prometheus stored findings %v, resets %v, CLOSE-WAIT rows %v (--json %d), the server's CLOSE-WAIT sockets %v",
		time.Since(start).Round(time.Second), stored["findings"], stored["resets"], stored["close_wait"], rep.closeWaitRows, stored["proc_cw"])
}

// watchReport is what the test reads from connscope's --json.
type watchReport struct {
	findings, resets             map[string]float64
	evidence                     map[string]string
	flows, closedFlows           int
	closeWaitRows, procCloseWait int
	sawClean                     bool
	cleanFindings                int
}

// readWatchJSON tallies connscope's --json output the way the metrics
// are defined: a finding line per finding raised, resets by sender and
// cause over every flow line (streamed or final), rows by state (the
// kernel's, else the local side's on the wire).
func readWatchJSON(t *testing.T, out []byte, me string) watchReport {
	t.Helper()
	r := watchReport{findings: map[string]float64{}, resets: map[string]float64{}, evidence: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m struct {
			Type, A, B, Label, Severity, Evidence string
			Client                                *string
			Resets                                []struct {
				From      string `json:"from"`
				Cause     string `json:"cause"`
				Middlebox bool   `json:"middlebox_suspected"`
			}
			Findings   []json.RawMessage
			Kernel     *struct{ State string }
			PeerKernel *struct{ State string } `json:"peer_kernel"`
			States     map[string]string       `json:"state"`
			PID        int
			Sockets    map[string]int `json:"sockets_by_state"`
		}
		line := sc.Bytes()
		if err := json.Unmarshal(line, &m); err != nil {
			// "state" is an object in flow lines and a string in socket
			// lines: read those apart.
			var sock struct{ Type, State string }
			if json.Unmarshal(line, &sock) == nil && sock.Type == "socket" {
				if sock.State == "CLOSE-WAIT" {
					r.closeWaitRows++
				}
				continue
			}
			t.Fatalf("--json line %s: %v", line, err)
		}
		switch m.Type {
		case "finding":
			r.findings[m.Label+"/"+m.Severity]++
			if m.Evidence != "" {
				r.evidence[m.Label] = m.Evidence
			}
		case "flow":
			r.flows++
			if (m.States["a"] == "CLOSED" || m.States["a"] == "TIME-WAIT") && (m.States["b"] == "CLOSED" || m.States["b"] == "TIME-WAIT") {
				r.closedFlows++
			}
			for _, x := range m.Resets {
				sender := "server"
				switch {
				case x.Middlebox || x.Cause == "middlebox_injected" || x.Cause == "middlebox_idle_drop":
					sender = "middlebox"
				case m.Client == nil:
					sender = "unknown"
				case x.From == *m.Client:
					sender = "client"
				}
				cause := x.Cause
				if cause == "" {
					cause = "unknown"
				}
				r.resets[sender+"/"+cause]++
			}
			state := ""
			if m.Kernel != nil {
				state = m.Kernel.State
			}
			if state == "" || state == "UNKNOWN" {
				side := "a"
				if m.Client != nil {
					side = *m.Client
				}
				state = m.States[side]
			}
			if state == "CLOSE-WAIT" {
				r.closeWaitRows++
			}
			if m.PeerKernel != nil && m.PeerKernel.State == "CLOSE-WAIT" && m.Kernel != nil && m.Kernel.State != "UNKNOWN" {
				r.closeWaitRows++
			}
			if strings.HasSuffix(m.B, fmt.Sprintf(":%d", cleanPort)) || strings.HasSuffix(m.A, fmt.Sprintf(":%d", cleanPort)) {
				r.sawClean = true
				r.cleanFindings += len(m.Findings)
			}
		case "process":
			if strconv.Itoa(m.PID) == me {
				r.procCloseWait = m.Sockets["CLOSE-WAIT"]
			}
		}
	}
	return r
}

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// lockedWriter is a buffer safe for a command's output copier and the
// test reading it.
type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) Bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.b.Bytes())
}

func (w *lockedWriter) String() string { return string(w.Bytes()) }
