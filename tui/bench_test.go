package tui

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/connscope/connscope/internal/corpus"
	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
)

// bigSnapshots holds the snapshots bigSnapshot built, by size.
var bigSnapshots sync.Map

// bigSnapshot builds n flows with varied endpoints and counters, as a
// busy server's table would hold; built once per size.
func bigSnapshot(n int) *model.Snapshot {
	if s, ok := bigSnapshots.Load(n); ok {
		return s.(*model.Snapshot)
	}
	flows := make([]model.Flow, n)
	for i := range flows {
		f := &flows[i]
		f.ID = model.FlowID(i)
		f.A = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i%60000))
		f.B = netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 168, 0, byte(i % 7)}), uint16(80+i%3))
		f.Client = model.SideA
		f.FirstTS, f.LastTS = base+int64(i)*1e6, base+int64(i)*1e6+int64(i%5000)*1e6
		f.FirstFrame, f.LastFrame = uint64(i*10+1), uint64(i*10+10)
		f.State = [2]model.State{model.State(1 + i%11), model.State(1 + (i/11)%11)}
		f.IRTT = int64(i%997) * 1000
		f.Dir[0] = model.Counters{Packets: uint64(5 + i%50), PayloadBytes: uint64(i * 37 % 1e6), Retransmission: uint32(i % 13 / 12)}
		f.Dir[1] = model.Counters{Packets: uint64(4 + i%40), PayloadBytes: uint64(i * 91 % 5e6), RST: uint32(i % 101 / 100)}
	}
	s := &model.Snapshot{Seq: 1, Now: base + int64(n)*1e6 + 5e9, Flows: flows,
		Table: model.TableStats{Flows: uint64(n)}, Source: model.SourceStats{Packets: uint64(n) * 90}}
	pipeline.Join(s, pipeline.JoinOptions{})
	bigSnapshots.Store(n, s)
	return s
}

// benchModel returns a 140x40 model holding a snapshot of n flows.
func benchModel(b *testing.B, n int) *Model {
	feed := &fakeFeed{snap: bigSnapshot(n)}
	m := New(Options{Feed: feed, Renderer: asciiRenderer(), Location: time.UTC, Source: "bench"})
	m.Update(tea.WindowSizeMsg{Width: 140, Height: 40})
	_, cmd := m.Update(pollFeed(feed, time.Unix(1, 0)))
	runCmd(m, cmd) // large snapshots build in a command
	if m.snap == nil {
		b.Fatal("rows were not built")
	}
	return m
}

var benchSizes = []int{100_000, 1_000_000}

// BenchmarkBuildRows measures the UI's per-snapshot work over the
// pipeline's rows: the filter and the sort.
func BenchmarkBuildRows(b *testing.B) {
	for _, n := range benchSizes {
		for _, key := range []model.SortKey{model.SortID, model.SortRetrans} {
			b.Run(fmt.Sprintf("flows=%d/sort=%v", n, key), func(b *testing.B) {
				m := benchModel(b, n)
				m.setSort(key, false)
				b.ReportAllocs()
				for b.Loop() {
					rs := buildRows(rowInput{snap: m.snap, filter: m.filter.applied,
						key: m.sortKey, desc: m.desc, sorter: &m.sorter}, m.spare)
					m.spare, m.rows = m.rows, rs
				}
			})
		}
	}
}

// BenchmarkFrame measures rendering one frame of the main table: only the
// visible rows are formatted, so it must not depend on the flow count.
func BenchmarkFrame(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("flows=%d", n), func(b *testing.B) {
			m := benchModel(b, n)
			b.ReportAllocs()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

// BenchmarkKeyToFrame measures a key press (cursor down) up to the new
// frame: Update plus View, what a person waits for.
func BenchmarkKeyToFrame(b *testing.B) {
	down := keyMsg("j")
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("flows=%d/move", n), func(b *testing.B) {
			m := benchModel(b, n)
			b.ReportAllocs()
			for b.Loop() {
				m.Update(down)
				_ = m.View()
			}
		})
		b.Run(fmt.Sprintf("flows=%d/resort", n), func(b *testing.B) {
			m := benchModel(b, n)
			b.ReportAllocs()
			rev := keyMsg("S") // reverses the order: a full re-sort
			for b.Loop() {
				m.Update(rev)
				_ = m.View()
			}
		})
	}
}

// latencyProbe wraps the Model to time key presses: a probe carries the
// time it was sent; the latency ends when the frame after it is rendered.
type latencyProbe struct {
	*Model
	mu      sync.Mutex
	pending time.Time
	lat     []time.Duration
	ticks   []time.Duration // Update time of feed ticks
}

type probeMsg struct{ at time.Time }

func (p *latencyProbe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if pm, ok := msg.(probeMsg); ok {
		p.Model.Update(keyMsg("j"))
		p.mu.Lock()
		p.pending = pm.at
		p.mu.Unlock()
		return p, nil
	}
	start := time.Now()
	_, cmd := p.Model.Update(msg)
	if _, ok := msg.(tickMsg); ok {
		p.mu.Lock()
		p.ticks = append(p.ticks, time.Since(start))
		p.mu.Unlock()
	}
	return p, cmd
}

func (p *latencyProbe) View() string {
	v := p.Model.View()
	p.mu.Lock()
	if !p.pending.IsZero() {
		p.lat = append(p.lat, time.Since(p.pending))
		p.pending = time.Time{}
	}
	p.mu.Unlock()
	return v
}

// TestKeyLatency_DuringMaxSpeedReplay replays the largest shared capture
// (many times over, each copy on new ports, so the table grows to tens of
// thousands of flows) at maximum speed under the real Bubble Tea program,
// pressing a key every 2 ms. No key may wait longer than one UI tick.
func TestKeyLatency_DuringMaxSpeedReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a replay of ~1.4 M packets")
	}
	if raceEnabled {
		t.Skip("measures wall-clock latency, which the race detector inflates several times over")
	}
	one := readPcap(t, corpus.Capture(t, "ndpi-wechat.pcap"))
	const copies = 1000
	span := one[len(one)-1].TS - one[0].TS + 1e9
	// Copies are generated as the pipeline reads them, as from a file.
	src := &copiesSource{one: one, copies: copies, span: span}
	tr, _ := replayPipelineFrom(t, src, pipeline.Config{StartAtEnd: true})
	const refresh = 200 * time.Millisecond
	probe := &latencyProbe{Model: New(Options{Feed: tr, Renderer: asciiRenderer(), Location: time.UTC, Refresh: refresh})}
	p := tea.NewProgram(probe, tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithoutSignalHandler(),
		tea.WithContext(t.Context()))
	ran := make(chan error, 1)
	go func() {
		_, err := p.Run()
		ran <- err
	}()
	p.Send(tea.WindowSizeMsg{Width: 140, Height: 40})
	start := time.Now()
	replayed := false
	sends := 0
	// Keep pressing until the replay ended and a few ticks went by.
	for !replayed || time.Since(start) < 3*refresh {
		if !replayed && tr.Replay().Ended {
			replayed = true
			start = time.Now()
		}
		p.Send(probeMsg{at: time.Now()})
		sends++
		time.Sleep(2 * time.Millisecond)
	}
	p.Quit()
	if err := <-ran; err != nil {
		t.Fatalf("program: %v", err)
	}
	probe.mu.Lock()
	defer probe.mu.Unlock()
	if len(probe.lat) < sends/2 {
		t.Fatalf("measured %d of %d key presses", len(probe.lat), sends)
	}
	sort.Slice(probe.lat, func(i, j int) bool { return probe.lat[i] < probe.lat[j] })
	sort.Slice(probe.ticks, func(i, j int) bool { return probe.ticks[i] < probe.ticks[j] })
	worst := probe.lat[len(probe.lat)-1]
	t.Logf("%d packets, %d flows: %d key presses, latency median %v p99 %v max %v; tick Update median %v max %v (%d ticks)",
		len(one)*copies, len(tr.Latest().Flows), len(probe.lat), probe.lat[len(probe.lat)/2], probe.lat[len(probe.lat)*99/100], worst,
		probe.ticks[len(probe.ticks)/2], probe.ticks[len(probe.ticks)-1], len(probe.ticks))
	if worst > refresh {
		t.Errorf("a key press waited %v, more than one tick (%v)", worst, refresh)
	}
}

// copiesSource makes copies of one capture's segments as they are read: a
// new client port per copy (new flows, same analysis) and a new client
// address per 64 copies.
type copiesSource struct {
	one          []model.Segment
	copies, c, i int
	span         int64
}

func (s *copiesSource) Next(seg *model.Segment) error {
	if s.i == len(s.one) {
		s.c, s.i = s.c+1, 0
	}
	if s.c >= s.copies {
		return io.EOF
	}
	c := s.c
	x := s.one[s.i]
	s.i++
	x.TS += int64(c) * s.span
	x.Frame += uint64(c * len(s.one))
	if x.Src.Port() > x.Dst.Port() {
		x.Src = netip.AddrPortFrom(x.Src.Addr(), x.Src.Port()^uint16(c<<4))
	} else {
		x.Dst = netip.AddrPortFrom(x.Dst.Addr(), x.Dst.Port()^uint16(c<<4))
	}
	if x.Src.Addr().Is4() && x.Src.Port() > x.Dst.Port() {
		a := x.Src.Addr().As4()
		a[1] ^= byte(c >> 6)
		x.Src = netip.AddrPortFrom(netip.AddrFrom4(a), x.Src.Port())
	}
	*seg = x
	return nil
}

func (s *copiesSource) Stats() model.SourceStats {
	n := uint64(s.c*len(s.one) + s.i)
	return model.SourceStats{Packets: n, TCPFrames: n}
}
