package pipeline

import (
	"bytes"
	"cmp"
	"net/netip"
	"slices"
	"strconv"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/model"
)

// ownersLimitation is the KernelView note of a replay whose owners come
// from packet comments: the processes are as -w saw them, not live.
const ownersLimitation = "owners from the capture file's packet comments (recorded live with -w or --evidence)"

// resetsLimitation is the note of a replay whose packet comments name the
// kernel's reasons for resets but no owner.
const resetsLimitation = "the kernel's reasons for resets from the capture file's packet comments (recorded live with --evidence); no owner recorded"

// maxCommentOwners bounds the collector: at most one entry per directed
// 4-tuple, and no more than this many tuples (about 100 MiB at worst).
// Tuples beyond it stay without an owner and the view says so.
const maxCommentOwners = 1 << 20

// maxCommentResets bounds the kernel reset reasons kept from comments
// (about 10 MiB at worst); the ones beyond are counted and the view says
// so.
const maxCommentResets = 1 << 16

// ownerEnds is a segment's directed 4-tuple: sender, then receiver.
type ownerEnds [2]netip.AddrPort

// commentOwner is what the comments of one directed 4-tuple said.
type commentOwner struct {
	// raw is the comment last parsed for this tuple: the same comment on
	// the next segment costs a comparison, not a parse.
	raw string
	// ok is false when raw is not an owner comment (someone else's
	// annotation); pid and comm are then unset.
	ok   bool
	pid  int32
	comm string
	// seq orders the tuples by first sighting, so the view is the same
	// on every run.
	seq uint64
}

// commentOwners rebuilds the owning processes of a -w capture from its
// packet comments (capture.OwnerComment) while the file is replayed, so a
// replay shows owners as the live run did. Feed it every segment with
// observe, then build the synthetic kernel view with view. Not safe for
// concurrent use.
type commentOwners struct {
	byEnds  map[ownerEnds]*commentOwner
	seq     uint64
	dropped uint64 // tuples not recorded: the collector was full
	lastTS  int64
	limit   int
	// resets are the RSTs whose comments recorded the kernel's reason
	// for sending them (capture.ResetComment), in file order.
	resets        []model.KernelEvent
	resetsDropped uint64
}

// newCommentOwners returns an empty collector.
func newCommentOwners() *commentOwners {
	return &commentOwners{byEnds: map[ownerEnds]*commentOwner{}, limit: maxCommentOwners}
}

// observe records the owner that comment (the pcapng comment of the
// packet that carried seg, as capture.File.Comment returns it) names for
// seg's socket. It does not keep comment, and allocates only the first
// time a tuple carries a given comment.
func (o *commentOwners) observe(seg *model.Segment, comment []byte) {
	if len(comment) == 0 {
		return
	}
	if seg.TS > o.lastTS {
		o.lastTS = seg.TS
	}
	k := ownerEnds{ownerUnmap(seg.Src), ownerUnmap(seg.Dst)}
	if seg.Flags&model.FlagRST != 0 {
		o.observeReset(seg, k, comment)
	}
	e := o.byEnds[k]
	if e != nil && e.raw == string(comment) { // compared without a copy
		return
	}
	if e == nil {
		if len(o.byEnds) >= o.limit {
			o.dropped++
			return
		}
		o.seq++
		e = &commentOwner{seq: o.seq}
		o.byEnds[k] = e
	}
	// A tuple whose comment changes (a port reused by another process,
	// a socket passed on) keeps the newest owner.
	e.raw = string(comment)
	pid, comm, ok := capture.ParseOwnerComment(e.raw)
	e.ok = ok && pid <= 1<<31-1
	e.pid, e.comm = 0, ""
	if e.ok {
		e.pid, e.comm = int32(pid), comm
	}
}

// observeReset records the kernel's reason for a RST that its comment
// names (written by the recorder of a live run, which knew it).
func (o *commentOwners) observeReset(seg *model.Segment, k ownerEnds, comment []byte) {
	if !bytes.HasPrefix(comment, []byte("connscope: rst=")) {
		return
	}
	reason, ok := capture.ParseResetComment(string(comment))
	if !ok {
		return
	}
	if len(o.resets) >= maxCommentResets {
		o.resetsDropped++
		return
	}
	o.resets = append(o.resets, model.KernelEvent{
		Kind:   model.KernelResetSent,
		Time:   seg.TS,
		Family: ownerFamily(k[0]),
		Local:  k[0],
		Remote: k[1],
		Reason: reason,
	})
}

// ownerUnmap spells an endpoint as the kernel index does, so a socket built
// from it matches the flow.
func ownerUnmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// view builds the kernel view the comments describe, nil when no packet
// carried an owner comment (a capture not written by -w): one socket per
// owned 4-tuple and one process per pid, in the host namespace.
//
// Which end is local follows the rule -w wrote the comments by: it looks
// the segment up as Flow{A: Src, B: Dst}, which finds the sender's socket
// first, so a comment names the socket whose local end is the segment's
// source. On loopback both ends are local, and each direction names its
// own process (client and server). Elsewhere only one socket exists and
// both directions name the same owner: that connection gets one socket,
// with the end that sent its first commented segment as local.
func (o *commentOwners) view() *model.KernelView {
	type tuple struct {
		ends ownerEnds
		e    *commentOwner
	}
	var owned []tuple
	for k, e := range o.byEnds {
		if e.ok {
			owned = append(owned, tuple{k, e})
		}
	}
	if len(owned) == 0 && len(o.resets) == 0 {
		return nil
	}
	slices.SortFunc(owned, func(a, b tuple) int { return cmp.Compare(a.e.seq, b.e.seq) })

	note := ownersLimitation
	if len(owned) == 0 {
		note = resetsLimitation
	}
	v := &model.KernelView{At: o.lastTS, Limitations: []string{note}, OwnersOnly: true,
		Recorded: o.resets[:len(o.resets):len(o.resets)]}
	procs := map[int32]*model.Process{}
	for _, t := range owned {
		local, remote := t.ends[0], t.ends[1]
		if r := o.byEnds[ownerEnds{remote, local}]; r != nil && r.ok && r.seq < t.e.seq &&
			r.pid == t.e.pid && r.comm == t.e.comm && !ownersBothLocal(local, remote) {
			continue // the same socket, already added from the other direction
		}
		v.Sockets = append(v.Sockets, model.Socket{
			Family: ownerFamily(local),
			Local:  local,
			Remote: remote,
			// The comments say who owned the socket, not its state.
			State: model.StateUnknown,
			Owner: model.OwnerKnown,
			PID:   t.e.pid,
			FD:    -1,
		})
		p := procs[t.e.pid]
		if p == nil {
			p = &model.Process{
				PID:            t.e.pid,
				Command:        t.e.comm,
				SecondsToLimit: -1,
				Note:           "fd figures not recorded in the capture file",
			}
			procs[t.e.pid] = p
		} else if p.Command != t.e.comm {
			// A pid reused by another command during the capture: the
			// latest name stands, as a live poll would show.
			p.Command = t.e.comm
		}
		p.SocketsByState[model.StateUnknown]++
	}
	v.Processes = make([]model.Process, 0, len(procs))
	for _, p := range procs {
		v.Processes = append(v.Processes, *p)
	}
	slices.SortFunc(v.Processes, func(a, b model.Process) int { return int(a.PID) - int(b.PID) })
	v.Namespaces = []model.NetNS{{Host: true, Sockets: len(v.Sockets)}}
	if o.dropped > 0 {
		v.Limitations = append(v.Limitations, "owners of some connections not recorded: over "+strconv.Itoa(o.limit)+" connections carried owner comments")
	}
	if o.resetsDropped > 0 {
		v.Limitations = append(v.Limitations, "the kernel's reasons of some resets not read: over "+strconv.Itoa(maxCommentResets)+" resets carried them")
	}
	v.Stats = model.PollStats{Sockets: len(v.Sockets), Processes: len(v.Processes), Namespaces: 1}
	return v
}

// ownersBothLocal reports whether both ends of a connection were on the
// recording host: then each end has its own socket.
func ownersBothLocal(a, b netip.AddrPort) bool {
	return a.Addr() == b.Addr() || (a.Addr().IsLoopback() && b.Addr().IsLoopback())
}

// ownerFamily is the socket family of an (unmapped) endpoint.
func ownerFamily(a netip.AddrPort) model.Family {
	if a.Addr().Is4() {
		return model.FamilyIPv4
	}
	return model.FamilyIPv6
}
