package tui

import (
	"context"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/connscope/connscope/model"
)

// Feed is where the UI gets its data. pipeline.Pipeline implements it;
// every method must be safe to call from another goroutine and must not
// block for long (Packets may wait for the pipeline to finish one batch).
type Feed interface {
	// Latest returns the newest published snapshot, nil before the first.
	// It carries the kernel view it was joined with (nil when there is
	// none: file replay, no permission, first poll pending).
	Latest() *model.Snapshot
	// Replay returns the replay position and play state.
	Replay() model.ReplayStatus
	// Control sends a replay command without blocking.
	Control(op model.ReplayOp)
	// Packets copies one flow's packet log for the ladder.
	Packets(id model.FlowID) (model.FlowPackets, bool)
}

// IfaceNote is a live interface that is not being captured: its name (raw:
// sanitise it) and state ("down", "lost", "failed").
type IfaceNote struct {
	Name, State string
}

// SaveRequest asks to write one flow's packets to a pcapng file.
type SaveRequest struct {
	Flow model.Flow
	// Path is the file to write, as the person typed it; Overwrite allows
	// replacing an existing file (the person said yes).
	Path      string
	Overwrite bool
	// Frames are the frame numbers the packet log still holds, in order;
	// a saver that can re-read the source may write every packet of the
	// flow instead (Flow.FirstFrame to Flow.LastFrame, by 4-tuple).
	Frames []uint64
}

// tickMsg carries what the feed held when the tick fired: one message per
// tick, whatever the packet rate.
type tickMsg struct {
	at     time.Time
	snap   *model.Snapshot
	replay model.ReplayStatus
	// ifaces are the live interfaces not captured (hasIfaces: the
	// command reports them).
	ifaces    []IfaceNote
	hasIfaces bool
}

// packetsMsg delivers a flow's packet log, addressed by flow ID so a late
// answer for a flow no longer shown is dropped.
type packetsMsg struct {
	id  model.FlowID
	pkt model.FlowPackets
	ok  bool
}

// savedMsg reports the end of a save.
type savedMsg struct {
	id   model.FlowID
	path string
	err  error
}

// tick asks for the feed's state after d. Reading the feed happens in the
// command, so Update only ever sees data that arrived as a message.
func tick(f Feed, ifaces func() []IfaceNote, d time.Duration) tea.Cmd {
	return tea.Tick(d, func(t time.Time) tea.Msg { return pollIfaces(pollFeed(f, t), ifaces) })
}

func pollFeed(f Feed, t time.Time) tickMsg {
	return tickMsg{at: t, snap: f.Latest(), replay: f.Replay()}
}

// pollIfaces adds the interfaces not captured to a tick, when the
// command reports them.
func pollIfaces(m tickMsg, ifaces func() []IfaceNote) tickMsg {
	if ifaces != nil {
		m.ifaces, m.hasIfaces = ifaces(), true
	}
	return m
}

// fetchPackets copies one flow's log off the UI goroutine.
func fetchPackets(f Feed, id model.FlowID) tea.Cmd {
	return func() tea.Msg {
		p, ok := f.Packets(id)
		return packetsMsg{id: id, pkt: p, ok: ok}
	}
}

// saveFlow copies the flow's packet log and runs the saver, both off the
// UI goroutine; req holds a copy of the flow.
func saveFlow(f Feed, save func(context.Context, SaveRequest) (string, error), req SaveRequest) tea.Cmd {
	return func() tea.Msg {
		if p, ok := f.Packets(req.Flow.ID); ok {
			req.Frames = make([]uint64, len(p.Records))
			for i, r := range p.Records {
				req.Frames[i] = r.Frame
			}
		}
		path, err := save(context.Background(), req)
		return savedMsg{id: req.Flow.ID, path: path, err: err}
	}
}
