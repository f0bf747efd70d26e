package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/connscope/connscope/internal/corpus"
	"github.com/connscope/connscope/pipeline"
	"github.com/connscope/connscope/tui"
	"github.com/muesli/termenv"
)

// The same capture must give the same answer whichever way a person looks
// at it: the parity test runs each capture through --json, --report and
// the UI (after its replay ends, reading the table and the findings
// screen as a person would) and requires the same flows per finding label
// in all three.

// labelRows maps a finding label to the rows that carry it: "#ID" for a
// flow, "socket LOCAL REMOTE" for a kernel-only row, sorted.
type labelRows map[string][]string

func (l labelRows) add(label, row string) { l[label] = append(l[label], row) }

func (l labelRows) sort() labelRows {
	for k := range l {
		slices.Sort(l[k])
		l[k] = slices.Compact(l[k])
	}
	return l
}

func (l labelRows) String() string {
	var keys []string
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %d %v\n", k, len(l[k]), l[k])
	}
	return b.String()
}

// jsonLabels runs --json on a file.
func jsonLabels(t *testing.T, path string) labelRows {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"-r", path, "--json"}, nil, &out, &errb); err != nil && !isReadErr(err) {
		t.Fatalf("--json: %v (%s)", err, errb.String())
	}
	got := labelRows{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var line struct {
			Type     string `json:"type"`
			Stream   uint64 `json:"stream"`
			Local    string `json:"local"`
			Remote   string `json:"remote"`
			Findings []struct {
				Label string `json:"label"`
			} `json:"findings"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("--json line %q: %v", sc.Text(), err)
		}
		row := "#" + strconv.FormatUint(line.Stream, 10)
		if line.Type == "socket" {
			row = "socket " + line.Local + " " + line.Remote
		}
		for _, f := range line.Findings {
			got.add(f.Label, row)
		}
	}
	return got.sort()
}

// isReadErr reports an error a truncated capture ends with: the views
// still show what came before it.
func isReadErr(err error) bool { return err != nil && strings.Contains(err.Error(), "frame") }

var (
	reportRow     = regexp.MustCompile(`^(\d+|-)\s+(\S+) (?:→|⇢|↔) (\S+)`)
	reportFinding = regexp.MustCompile(`^ {6}(?:!!|! |i ) ([a-z_]+): `)
)

// reportLabels runs --report on a file.
func reportLabels(t *testing.T, path string) labelRows {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"-r", path, "--report"}, nil, &out, &errb); err != nil && !isReadErr(err) {
		t.Fatalf("--report: %v (%s)", err, errb.String())
	}
	got := labelRows{}
	row := ""
	for _, l := range strings.Split(out.String(), "\n") {
		if m := reportRow.FindStringSubmatch(l); m != nil {
			row = "#" + m[1]
			if m[1] == "-" {
				row = "socket " + m[2] + " " + m[3]
			}
			continue
		}
		if m := reportFinding.FindStringSubmatch(l); m != nil {
			if row == "" {
				t.Fatalf("--report: a finding before any row: %q", l)
			}
			got.add(m[1], row)
		}
	}
	return got.sort()
}

// uiDriver drives the real UI model over an interactive pipeline, as the
// terminal would, and reads its screens.
type uiDriver struct {
	t *testing.T
	m *tui.Model
	p *pipeline.Pipeline
}

func newUIDriver(t *testing.T, path string) *uiDriver {
	t.Helper()
	p, err := pipeline.Open(pipeline.Config{File: path, Interactive: true, StartAtEnd: true, PublishEvery: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	r := lipgloss.NewRenderer(os.Stdout)
	r.SetColorProfile(termenv.Ascii)
	d := &uiDriver{t: t, p: p, m: tui.New(tui.Options{Feed: p, Source: path, Renderer: r, Location: time.UTC})}
	d.m.Update(tea.WindowSizeMsg{Width: 220, Height: 14})
	// Poll the feed as the UI's tick does until the replay ended and the
	// last snapshot is shown.
	deadline := time.Now().Add(60 * time.Second)
	for quiet := 0; quiet < 20; {
		if time.Now().After(deadline) {
			t.Fatal("the replay did not end")
		}
		d.m.Update(d.m.Init()())
		if p.Replay().Ended {
			quiet++
		}
		time.Sleep(3 * time.Millisecond)
	}
	return d
}

func (d *uiDriver) keys(ks ...string) {
	for _, k := range ks {
		var msg tea.KeyMsg
		switch k {
		case "enter":
			msg = tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			msg = tea.KeyMsg{Type: tea.KeyEsc}
		default:
			msg = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		}
		d.m.Update(msg)
	}
}

// lines is the screen, the cursor row's reverse video (kept under the
// ASCII profile, as under NO_COLOR) taken off.
func (d *uiDriver) lines() []string {
	v := strings.NewReplacer("\x1b[7m", "", "\x1b[27m", "").Replace(d.m.View())
	return strings.Split(v, "\n")
}

var (
	fRow      = regexp.MustCompile(`^[> ] (info|warning|critical)\s+(\d+)  ([a-z_]+)`)
	infoRowID = regexp.MustCompile(`^(#\d+|socket) `)
	shownRows = regexp.MustCompile(`(\d+)/\d+ shown`)
)

// uiLabels reads the findings screen's count per cause, then filters the
// table to each cause and walks its rows, reading each one's identity from
// the line under the table.
func uiLabels(t *testing.T, path string) (labelRows, map[string]int) {
	t.Helper()
	d := newUIDriver(t, path)
	d.keys("F")
	counts := map[string]int{}
	for _, l := range d.lines() {
		if m := fRow.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[2])
			counts[m[3]] = n
		}
	}
	d.keys("esc")
	got := labelRows{}
	for label := range counts {
		d.keys("/", "finding "+label, "enter", "g")
		lines := d.lines()
		m := shownRows.FindStringSubmatch(lines[len(lines)-1])
		if m == nil {
			t.Fatalf("UI: no row count in the status bar %q", lines[len(lines)-1])
		}
		n, _ := strconv.Atoi(m[1])
		for i := 0; i < n; i++ {
			lines := d.lines()
			info := strings.TrimSpace(lines[len(lines)-2])
			id := infoRowID.FindString(info)
			if id == "" {
				t.Fatalf("UI, %s row %d: the line under the table names no row: %q", label, i, info)
			}
			id = strings.TrimSpace(id)
			if id == "socket" {
				f := strings.Fields(info)
				id = "socket " + f[2] + " " + f[5]
			}
			got.add(label, id)
			d.keys("j")
		}
		d.keys("esc")
	}
	return got.sort(), counts
}

// checkParity requires the three views of one capture to agree.
func checkParity(t *testing.T, path string) labelRows {
	t.Helper()
	js := jsonLabels(t, path)
	rep := reportLabels(t, path)
	ui, counts := uiLabels(t, path)
	if js.String() != rep.String() {
		t.Errorf("--json and --report disagree:\n--json:\n%s--report:\n%s", js, rep)
	}
	if js.String() != ui.String() {
		t.Errorf("--json and the UI disagree:\n--json:\n%sUI:\n%s", js, ui)
	}
	for label, rows := range js {
		if counts[label] != len(rows) {
			t.Errorf("%s: the findings screen counts %d flows, --json %d", label, counts[label], len(rows))
		}
	}
	for label := range counts {
		if _, ok := js[label]; !ok {
			t.Errorf("%s: on the findings screen, not in --json", label)
		}
	}
	return js
}

func TestParity_SharedAndScenarioCaptures(t *testing.T) {
	if testing.Short() {
		t.Skip("replays every shared and scenario capture three ways")
	}
	var paths []string
	for _, c := range corpus.WithOracles(t) {
		paths = append(paths, c.Path)
	}
	for _, ext := range []string{"*.pcap", "*.pcap.gz", "*.pcapng"} {
		sc, _ := filepath.Glob(filepath.Join(scenarioDir(t), ext))
		paths = append(paths, sc...)
	}
	if len(paths) < 55 {
		t.Fatalf("found %d captures, want the shared corpus and the scenario suite", len(paths))
	}
	labels := map[string]int{}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			for l, rows := range checkParity(t, p) {
				labels[l] += len(rows)
			}
		})
	}
	t.Logf("%d captures: %v", len(paths), labels)
}

// TestParity_LiveWCapture is the case that started it: a server leaking
// CLOSE-WAIT, captured live with -w (owners in the packet comments), then
// replayed three ways.
func TestParity_LiveWCapture(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace and live capture (CI runs as root)")
	}
	bin := connscopeBinary(t)
	ns := fmt.Sprintf("cs-parity-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	file := filepath.Join(t.TempDir(), "leak.pcapng")
	capture := exec.Command("ip", "netns", "exec", ns, bin, "-i", "lo", "-w", file, "--json", "--duration", "9s", "--poll", "200ms")
	var liveOut, liveErr bytes.Buffer
	capture.Stdout, capture.Stderr = &liveOut, &liveErr
	if err := capture.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the capture and the first poll are up
	// The server answers each request and never closes: the clients
	// close, the server's sockets stay in CLOSE-WAIT. A busy connection
	// carries the capture's clock past the leak threshold.
	const script = `
import socket, threading, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 18080)); srv.listen(64)
held = []
def answer(c):
    # Answers each line until EOF, then returns without close(): the leak.
    while c.recv(100):
        c.sendall(b"OK\n")
def serve():
    while True:
        c, _ = srv.accept(); held.append(c)
        threading.Thread(target=answer, args=(c,), daemon=True).start()
threading.Thread(target=serve, daemon=True).start()
for i in range(20):
    c = socket.create_connection(("127.0.0.1", 18080)); c.sendall(b"GET\n"); c.recv(10); c.close()
beat = socket.create_connection(("127.0.0.1", 18080))
for i in range(12):
    beat.sendall(b"ping\n"); beat.recv(10); time.sleep(0.5)
time.sleep(4)  # alive, the leak held, until the capture has ended
`
	py := exec.Command("ip", "netns", "exec", ns, "timeout", "30", "python3", "-c", script)
	if out, err := py.CombinedOutput(); err != nil {
		t.Fatalf("the leaking server: %v: %s", err, out)
	}
	if err := capture.Wait(); err != nil {
		t.Fatalf("live capture: %v: %s", err, liveErr.String())
	}
	got := checkParity(t, file)
	if n := len(got["close_wait_leak"]); n < 20 {
		t.Errorf("close_wait_leak on %d flows of the -w capture in every view, want the 20 leaked:\n%s", n, got)
	}
}
