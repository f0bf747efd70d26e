package tui

import (
	"slices"

	"github.com/connscope/connscope/model"
)

// rowSet is the connection list of one snapshot: its rows as the pipeline
// joined and diagnosed them (every flow, then every socket no packet
// showed, in key order, so one is found by binary search), and the
// filtered, sorted view the table shows. It is built once per snapshot
// and never per frame; the rows belong to the snapshot and are never
// written.
type rowSet struct {
	snap    *model.Snapshot
	entries []model.FlowEntry
	view    []*model.FlowEntry
	// widths is the widest content of the measured columns in the rows
	// shown (endpoints, process, finding), for column widths.
	widths colWidths
	owners bool // some entry has an owning process
	netns  bool // the entries' sockets are in more than one namespace
}

// rowInput is everything a build depends on.
type rowInput struct {
	snap   *model.Snapshot
	filter *model.Filter
	key    model.SortKey
	desc   bool
	sorter *model.EntrySorter
}

// buildRows builds a rowSet over the snapshot's rows, reusing spare's
// view storage (a build older than the current one: the caller alternates
// two).
func buildRows(in rowInput, spare rowSet) rowSet {
	rs := rowSet{snap: in.snap, view: spare.view[:0]}
	if in.snap == nil {
		return rs
	}
	rs.entries = in.snap.Rows
	var ns uint64
	for i := range rs.entries {
		e := &rs.entries[i]
		rs.owners = rs.owners || len(e.Owners) > 0
		if e.Socket != nil {
			if ns != 0 && e.Socket.NetNS != ns {
				rs.netns = true
			}
			ns = e.Socket.NetNS
		}
	}
	rs.resort(in.filter, in.key, in.desc, in.sorter)
	return rs
}

// isKernelOnly reports a row made from a socket alone.
func isKernelOnly(f *model.Flow) bool { return f.Kind == model.FlowKernelOnly }

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
	rs.widths = colWidths{}
	for i := range rs.entries {
		e := &rs.entries[i]
		if !filter.Match(e, now) {
			continue
		}
		rs.view = append(rs.view, e)
		// Column widths follow the rows shown, not the whole table.
		w := &rs.widths
		w[colLocal] = max(w[colLocal], addrWidth(e.Flow.Endpoint(e.LocalSide())))
		w[colRemote] = max(w[colRemote], addrWidth(e.Flow.Endpoint(e.RemoteSide())))
		if len(e.Owners) > 0 {
			o := &e.Owners[0]
			w[colProc] = max(w[colProc], len(o.Name)+1+digits(o.PID))
		}
		if len(e.Findings) > 0 {
			n := len(e.Findings[0].Label.String())
			if len(e.Findings) > 1 {
				n += 3 // " +N"
			}
			w[colFinding] = max(w[colFinding], n)
		}
	}
	order(rs.view, key, desc, sorter)
}

// index returns the position of row k in the view, -1 when absent.
func (rs *rowSet) index(k model.Key) int {
	return slices.IndexFunc(rs.view, func(e *model.FlowEntry) bool { return e.Key() == k })
}

// entry returns the row k whether or not the filter shows it.
func (rs *rowSet) entry(k model.Key) *model.FlowEntry {
	if rs.snap == nil {
		return nil
	}
	return rs.snap.Row(k)
}

// digits is the number of decimal digits of n >= 0.
func digits(n int) int {
	d := 1
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}
