package tui

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
	"github.com/muesli/termenv"
)

// fakeFeed is a Feed whose contents the test sets; it records replay
// commands.
type fakeFeed struct {
	mu     sync.Mutex
	snap   *model.Snapshot
	kernel *model.KernelIndex
	// findings, when set, replaces the diagnosis of the fixtures, which
	// are built by hand without the facts the rules need.
	findings func(*model.Flow) []model.Finding
	replay   model.ReplayStatus
	ops      []model.ReplayOp
	pkts     map[model.FlowID]model.FlowPackets
	// out is what Latest returned last: snap joined to kernel as the
	// pipeline joins it, made anew only when either changed (the UI
	// rebuilds on a new pointer).
	out     *model.Snapshot
	outFrom [2]any
}

// Latest returns the snapshot the test set, joined to the kernel view
// the test set by the pipeline's own Join; a snapshot already joined
// (Rows set, same kernel, no findings override) is returned as it is.
func (f *fakeFeed) Latest() *model.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snap == nil {
		return nil
	}
	if f.snap.Rows != nil && f.kernel == f.snap.Kernel && f.findings == nil {
		return f.snap
	}
	if f.out == nil || f.outFrom != [2]any{f.snap, f.kernel} {
		s := *f.snap
		s.Flows = slices.Clone(f.snap.Flows)
		for i := range s.Flows {
			s.Flows[i].Resets = slices.Clone(s.Flows[i].Resets) // Join writes their causes
		}
		pipeline.Join(&s, pipeline.JoinOptions{Kernel: f.kernel})
		if f.findings != nil {
			// The fixtures' own findings, and their resets' causes as set.
			for i := range s.Flows {
				s.Flows[i].Resets = f.snap.Flows[i].Resets
			}
			for i := range s.Rows {
				fs := f.findings(s.Rows[i].Flow)
				s.Rows[i].Findings, s.Rows[i].Flow.Findings = fs, fs
			}
		}
		if f.kernel != nil {
			s.Processes = f.kernel.View.Processes
		}
		f.out, f.outFrom = &s, [2]any{f.snap, f.kernel}
	}
	return f.out
}

func (f *fakeFeed) Replay() model.ReplayStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.replay
}

func (f *fakeFeed) Control(op model.ReplayOp) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, op)
}

func (f *fakeFeed) Packets(id model.FlowID) (model.FlowPackets, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pkts[id]
	return p, ok
}

// base is the capture time of the fixtures: 2023-11-14 22:13:20 UTC.
const base = int64(1_700_000_000) * 1e9

func ms(n int64) int64 { return n * 1e6 }

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// fixtureSnapshot builds a snapshot with one flow of each kind the UI must
// explain, plus fillers for scrolling.
func fixtureSnapshot(fillers int) *model.Snapshot {
	var flows []model.Flow
	// 0: a keep-alive race: the server closed an idle connection, the
	// client's request crossed its FIN and drew a reset.
	race := model.Flow{
		ID: 0, A: ap("10.0.0.1:51000"), B: ap("10.0.0.2:8080"), Client: model.SideA,
		FirstFrame: 1, LastFrame: 9, FirstTS: base, LastTS: base + ms(60_020), IRTT: 310_000,
		State: [2]model.State{model.StateClosed, model.StateClosed},
		Transitions: []model.Transition{
			{TS: base, Frame: 1, Side: model.SideA, From: model.StateClosed, To: model.StateSynSent},
			{TS: base + ms(1), Frame: 2, Side: model.SideB, From: model.StateListen, To: model.StateSynReceived},
			{TS: base + ms(1), Frame: 3, Side: model.SideA, From: model.StateSynSent, To: model.StateEstablished},
			{TS: base + ms(60_000), Frame: 6, Side: model.SideB, From: model.StateEstablished, To: model.StateFinWait1},
			{TS: base + ms(60_020), Frame: 9, Side: model.SideB, From: model.StateFinWait1, To: model.StateClosed},
		},
		Resets: []model.Reset{{Frame: 9, TS: base + ms(60_020), From: model.SideB, SenderState: model.StateFinWait1,
			Form: model.ResetSocket, Effective: true}},
		Events: []model.Event{
			{Kind: model.EventState, TS: base + ms(60_000), Frame: 6, Side: model.SideB, Count: 1, Detail: "ESTABLISHED -> FIN-WAIT-1"},
			{Kind: model.EventRST, TS: base + ms(60_020), Frame: 9, Side: model.SideB, Count: 1, Detail: "reset after idle FIN"},
		},
		AckRTT: [2]model.RTTStats{{Samples: 2, Min: 280_000, Max: 400_000, Sum: 680_000}},
	}
	race.Dir[model.DirAB] = model.Counters{Packets: 5, PayloadBytes: 612, SYN: 1}
	race.Dir[model.DirBA] = model.Counters{Packets: 4, PayloadBytes: 1840, SYNACK: 1, FIN: 1, RST: 1}
	flows = append(flows, race)

	// 1: refused: SYN answered by RST/ACK.
	refused := model.Flow{
		ID: 1, A: ap("10.0.0.1:40000"), B: ap("10.0.0.3:9090"), Client: model.SideA,
		FirstFrame: 10, LastFrame: 11, FirstTS: base + ms(100), LastTS: base + ms(101),
		State:  [2]model.State{model.StateClosed, model.StateClosed},
		Resets: []model.Reset{{Frame: 11, TS: base + ms(101), From: model.SideB, SenderState: model.StateListen, Form: model.ResetStateless, Stateless: true, Effective: true}},
	}
	refused.Dir[model.DirAB] = model.Counters{Packets: 1, SYN: 1}
	refused.Dir[model.DirBA] = model.Counters{Packets: 1, RST: 1}
	flows = append(flows, refused)

	// 2: a bulk transfer with retransmissions and a zero window, still open.
	bulk := model.Flow{
		ID: 2, A: ap("[2001:db8::10]:443"), B: ap("[2001:db8::99]:55555"), Client: model.SideB,
		FirstFrame: 12, LastFrame: 4000, FirstTS: base + ms(200), LastTS: base + ms(59_000), IRTT: 12_400_000,
		State:         [2]model.State{model.StateEstablished, model.StateEstablished},
		ZeroWindowNow: [2]bool{false, true},
	}
	bulk.Dir[model.DirAB] = model.Counters{Packets: 3000, PayloadBytes: 40 << 20, SYNACK: 1, Retransmission: 12, FastRetransmission: 3}
	bulk.Dir[model.DirBA] = model.Counters{Packets: 1000, PayloadBytes: 800, SYN: 1, ZeroWindow: 7, DuplicateAck: 9}
	flows = append(flows, bulk)

	for i := 0; i < fillers; i++ {
		f := model.Flow{
			ID: model.FlowID(3 + i), A: ap(fmt.Sprintf("192.168.1.%d:%d", 10+i%200, 30000+i)), B: ap("192.168.1.1:22"),
			Client: model.SideA, FirstFrame: uint64(5000 + 3*i), LastFrame: uint64(5002 + 3*i),
			FirstTS: base + ms(int64(1000+i)), LastTS: base + ms(int64(2000+i)),
			State: [2]model.State{model.StateEstablished, model.StateEstablished},
		}
		f.Dir[model.DirAB] = model.Counters{Packets: 2, PayloadBytes: uint64(100 * i), SYN: 1}
		f.Dir[model.DirBA] = model.Counters{Packets: 1, SYNACK: 1}
		flows = append(flows, f)
	}
	return &model.Snapshot{
		Seq: 1, Now: base + ms(60_020), Flows: flows,
		Table:  model.TableStats{Flows: uint64(len(flows)), FlowsCreated: uint64(len(flows)), Evicted: 2},
		Source: model.SourceStats{Packets: 4100, TCPFrames: 4090, DecodeErrors: 1},
	}
}

// fixturePackets is flow 0's packet log.
func fixturePackets() model.FlowPackets {
	rec := func(frame uint64, t int64, dir model.Side, fl model.TCPFlags, seq, ack, ln uint32, win uint16, an model.AnalysisFlag) model.PacketRecord {
		return model.PacketRecord{TS: base + t, Frame: frame, Dir: dir, Flags: fl, RelSeq: seq, RelAck: ack, Len: ln, Window: win, Analysis: an}
	}
	A, B := model.SideA, model.SideB
	return model.FlowPackets{ID: 0, GapAt: 9, Records: []model.PacketRecord{
		rec(1, 0, A, model.FlagSYN, 0, 0, 0, 64240, 0),
		rec(2, ms(1), B, model.FlagSYN|model.FlagACK, 0, 1, 0, 65160, 0),
		rec(3, ms(1), A, model.FlagACK, 1, 1, 0, 502, 0),
		rec(4, ms(5), A, model.FlagPSH|model.FlagACK, 1, 1, 306, 502, 0),
		rec(5, ms(6), B, model.FlagPSH|model.FlagACK, 1, 307, 1840, 509, 0),
		rec(6, ms(60_000), B, model.FlagFIN|model.FlagACK, 1841, 307, 0, 509, 0),
		rec(7, ms(60_001), A, model.FlagPSH|model.FlagACK, 307, 1841, 306, 502, 0),
		rec(8, ms(60_019), A, model.FlagACK, 613, 1842, 0, 502, model.AnDuplicateAck),
		rec(9, ms(60_020), B, model.FlagRST, 1842, 0, 0, 0, 0),
	}}
}

// fixtureFindings diagnoses the fixtures.
func fixtureFindings(f *model.Flow) []model.Finding {
	switch f.ID {
	case 0:
		return []model.Finding{{Label: model.FindingIdleTimeoutRace, Severity: model.SeverityCritical, Side: model.SideB, Frames: []uint64{6, 7, 9},
			Summary: "server 10.0.0.2:8080 closed the idle connection after 60.0 s; the client's request crossed its FIN and drew a RST"}}
	case 1:
		return []model.Finding{{Label: model.FindingRefused, Severity: model.SeverityCritical, Side: model.SideB, Frames: []uint64{10, 11},
			Summary: "nothing listens on 10.0.0.3:9090: the SYN was answered by RST"}}
	case 2:
		return []model.Finding{
			{Label: model.FindingZeroWindowStall, Severity: model.SeverityWarning, Side: model.SideB, Frames: []uint64{3900}, Summary: "client's window at zero for 2.1 s"},
			{Label: model.FindingLossRetransmit, Severity: model.SeverityInfo, Side: model.SideA, Summary: "15 retransmissions (3 fast)"}}
	}
	return nil
}

// asciiRenderer pins the colour profile so views are plain text.
func asciiRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	r.SetHasDarkBackground(true)
	return r
}

// newTestModel returns a sized model over a fake feed holding the
// fixtures with fixtureFindings, with one tick applied.
func newTestModel(t testing.TB, w, h int, opts Options) (*Model, *fakeFeed) {
	t.Helper()
	return newTestModelFindings(t, w, h, opts, fixtureFindings)
}

// newTestModelFindings is newTestModel with the fixtures diagnosed by
// findings.
func newTestModelFindings(t testing.TB, w, h int, opts Options, findings func(*model.Flow) []model.Finding) (*Model, *fakeFeed) {
	t.Helper()
	feed := &fakeFeed{
		snap:     fixtureSnapshot(40),
		findings: findings,
		replay:   model.ReplayStatus{Start: base, Clock: base + ms(60_020), Applied: 4100, Ended: true, Speed: model.SpeedMax},
		pkts:     map[model.FlowID]model.FlowPackets{0: fixturePackets()},
	}
	if opts.Source == "" {
		opts.Source = "fixtures.pcapng"
	}
	opts.Feed = feed
	opts.Renderer = asciiRenderer()
	opts.Location = time.UTC
	m := New(opts)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(pollFeed(feed, time.Unix(1000, 0)))
	return m, feed
}

// press sends key presses: single characters as runes, other names
// ("enter", "esc", "down", "tab") as their key type.
func press(m *Model, keys ...string) tea.Cmd {
	var last tea.Cmd
	for _, k := range keys {
		_, last = m.Update(keyMsg(k))
	}
	return last
}

func keyMsg(k string) tea.KeyMsg {
	types := map[string]tea.KeyType{
		"enter": tea.KeyEnter, "esc": tea.KeyEsc, "backspace": tea.KeyBackspace, "up": tea.KeyUp, "down": tea.KeyDown,
		"pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown, "home": tea.KeyHome, "end": tea.KeyEnd, "tab": tea.KeyTab,
		"shift+tab": tea.KeyShiftTab, "ctrl+c": tea.KeyCtrlC, "ctrl+b": tea.KeyCtrlB, "ctrl+f": tea.KeyCtrlF, " ": tea.KeySpace,
	}
	if t, ok := types[k]; ok {
		if t == tea.KeySpace {
			return tea.KeyMsg{Type: t, Runes: []rune{' '}}
		}
		return tea.KeyMsg{Type: t}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// typeText sends each character of s as a key press.
func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

// runCmd runs a command and feeds its message(s) back, for commands whose
// result the test needs (packets, saves). Ticks are not followed.
func runCmd(m *Model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	msg := cmd()
	switch msg := msg.(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			runCmd(m, c)
		}
	case tickMsg, nil:
	default:
		m.Update(msg)
	}
}

// statusLine renders the model's status bar alone.
func statusLine(m *Model) string {
	c := m.ctx()
	return m.status.view(&c)
}
