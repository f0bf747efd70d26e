package tui

import (
	"cmp"
	"slices"

	"github.com/connscope/connscope/model"
)

// rowSet is the connection list built from one snapshot: an entry per
// flow, then one per socket no packet showed, in ID order (so the next
// build can merge-join them by ID for rates and find one by binary
// search), and the filtered, sorted view the table shows. It is built
// once per snapshot and never per frame.
type rowSet struct {
	snap    *model.Snapshot
	entries []model.FlowEntry
	view    []*model.FlowEntry
	// ids and bytes parallel entries (flow ID, payload bytes both ways):
	// the next build reads them for rates without touching this
	// snapshot's flows again, which at a million flows is most of the cost.
	ids      []model.FlowID
	bytes    []uint64
	ownerBuf []model.OwnerRef // backs every entry's Owners
	// addrW is the widest local and remote endpoint shown, for column
	// widths.
	addrW  [2]int
	owners bool // some entry has an owning process
}

// rowInput is everything a build depends on.
type rowInput struct {
	snap     *model.Snapshot
	prev     *rowSet // the previous build, for rates; may be nil
	kernel   *model.KernelIndex
	findings func(*model.Flow) []model.Finding
	filter   *model.Filter
	key      model.SortKey
	desc     bool
	sorter   *model.EntrySorter
}

// grow returns s resized to n, reusing its storage when it is big enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// buildRows builds a rowSet, reusing spare's storage (a build older than
// in.prev: the caller alternates two).
func buildRows(in rowInput, spare rowSet) rowSet {
	rs := rowSet{snap: in.snap}
	if in.snap == nil {
		return rs
	}
	flows := in.snap.Flows
	rs.entries = grow(spare.entries, len(flows))
	rs.ids = grow(spare.ids, len(flows))
	rs.bytes = grow(spare.bytes, len(flows))
	rs.view = spare.view[:0]
	rs.ownerBuf = spare.ownerBuf[:0]

	var prev *rowSet
	var dt int64
	if in.prev != nil && in.prev.snap != nil {
		prev = in.prev
		dt = in.snap.Now - in.prev.snap.Now
	}
	j, np := 0, 0
	if prev != nil {
		np = len(prev.ids)
	}
	var matched []bool // sockets some flow claimed
	if in.kernel != nil {
		matched = make([]bool, len(in.kernel.View.Sockets))
	}
	for i := range flows {
		f := &flows[i]
		e := &rs.entries[i]
		rs.fill(e, f, in, matched)
		// Rates: flows are sorted by ID in both snapshots.
		bytes := f.Dir[0].PayloadBytes + f.Dir[1].PayloadBytes
		rs.ids[i], rs.bytes[i] = f.ID, bytes
		for j < np && prev.ids[j] < f.ID {
			j++
		}
		switch {
		case j < np && prev.ids[j] == f.ID:
			pb := prev.bytes[j]
			switch {
			case dt <= 0: // paused or same instant: keep the last rate
				e.Rate = prev.entries[j].Rate
			case bytes > pb:
				e.Rate = float64(bytes-pb) * 1e9 / float64(dt)
			}
		case f.LastTS > f.FirstTS: // new since the last build: its mean rate
			e.Rate = float64(bytes) * 1e9 / float64(f.LastTS-f.FirstTS)
		}
	}
	// Sockets no packet showed (an idle CLOSE-WAIT leak) are rows too.
	for _, f := range socketFlows(in.kernel, matched) {
		var e model.FlowEntry
		rs.fill(&e, f, in, nil)
		rs.entries = append(rs.entries, e)
		rs.ids = append(rs.ids, f.ID)
		rs.bytes = append(rs.bytes, 0)
	}

	rs.resort(in.filter, in.key, in.desc, in.sorter)
	return rs
}

// fill makes e the entry of f: its socket and owner when the kernel view
// has them (marking the socket in matched), its findings.
func (rs *rowSet) fill(e *model.FlowEntry, f *model.Flow, in rowInput, matched []bool) {
	*e = model.FlowEntry{Flow: f, Local: model.SideNone}
	if in.kernel != nil {
		if i, side := in.kernel.LookupIndex(f); i >= 0 {
			s := &in.kernel.View.Sockets[i]
			if matched != nil {
				matched[i] = true
				// On loopback the peer's socket is this flow's too, not a
				// connection of its own.
				if j := in.kernel.LookupSide(f, side.Other()); j >= 0 {
					matched[j] = true
				}
			}
			e.Local, e.KernelState = side, s.State
			if p := in.kernel.Process(s); p != nil {
				// One backing array for every owner, not an allocation per row.
				rs.ownerBuf = append(rs.ownerBuf, model.OwnerRef{PID: int(p.PID), Name: p.Command})
				n := len(rs.ownerBuf)
				e.Owners = rs.ownerBuf[n-1 : n : n]
				rs.owners = true
			}
		}
	}
	if in.findings != nil {
		e.Findings = in.findings(f)
	}
}

// socketIDBase marks the IDs of rows made from sockets without packets:
// above any stream index, derived from the socket's cookie so that the
// selection follows the socket from one poll to the next.
const socketIDBase = model.FlowID(1) << 63

// isSocketRow reports a row made from a socket alone.
func isSocketRow(f *model.Flow) bool { return f.ID >= socketIDBase }

// socketFlows makes a flow for every socket no flow claimed, except
// listeners and TIME-WAIT (the processes pane counts those), in ID order:
// side A is the local end, its state the kernel's, its idle time the
// kernel's last send or receive.
func socketFlows(k *model.KernelIndex, matched []bool) []*model.Flow {
	if k == nil {
		return nil
	}
	var out []*model.Flow
	socks := k.View.Sockets
	for i := range socks {
		s := &socks[i]
		if matched[i] || s.State == model.StateListen || s.State == model.StateTimeWait || !s.Remote.IsValid() {
			continue
		}
		f := &model.Flow{
			ID: socketIDBase | model.FlowID(s.Cookie)&^socketIDBase,
			A:  s.Local, B: s.Remote, Client: model.SideNone,
			State:   [2]model.State{s.State, model.StateUnknown},
			FirstTS: k.View.At, LastTS: k.View.At,
		}
		if s.Cookie == 0 { // no cookie: the position, stable within a poll
			f.ID = socketIDBase | model.FlowID(i)
		}
		if s.HasInfo {
			f.LastTS -= int64(min(s.Info.LastDataSent, s.Info.LastDataRecv))
			f.FirstTS = f.LastTS
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *model.Flow) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// order sorts the view. Entries are built in flow ID order, so the
// default order needs no sort at all, and its reverse only a flip.
func order(view []*model.FlowEntry, key model.SortKey, desc bool, sorter *model.EntrySorter) {
	if key != model.SortID {
		sorter.Sort(view, key, desc)
		return
	}
	if desc {
		slices.Reverse(view)
	}
}

// resort filters and sorts the entries into the view: after a build, and
// alone after a filter or sort change.
func (rs *rowSet) resort(filter *model.Filter, key model.SortKey, desc bool, sorter *model.EntrySorter) {
	rs.view = rs.view[:0]
	var now int64
	if rs.snap != nil {
		now = rs.snap.Now
	}
	rs.addrW = [2]int{}
	for i := range rs.entries {
		e := &rs.entries[i]
		if !filter.Match(e, now) {
			continue
		}
		rs.view = append(rs.view, e)
		// Column widths follow the rows shown, not the whole table.
		rs.addrW[0] = max(rs.addrW[0], addrWidth(e.Flow.Endpoint(e.LocalSide())))
		rs.addrW[1] = max(rs.addrW[1], addrWidth(e.Flow.Endpoint(e.RemoteSide())))
	}
	order(rs.view, key, desc, sorter)
}

// index returns the position of flow id in the view, -1 when absent.
func (rs *rowSet) index(id model.FlowID) int {
	for i, e := range rs.view {
		if e.Flow.ID == id {
			return i
		}
	}
	return -1
}

// entry returns the entry of flow id whether or not the filter shows it.
func (rs *rowSet) entry(id model.FlowID) *model.FlowEntry {
	if rs.snap == nil {
		return nil
	}
	lo, hi := 0, len(rs.entries)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if rs.entries[m].Flow.ID < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(rs.entries) && rs.entries[lo].Flow.ID == id {
		return &rs.entries[lo]
	}
	return nil
}
