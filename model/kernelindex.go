package model

import "net/netip"

// KernelIndex joins a KernelView's sockets to flows by their endpoints.
// The pipeline builds one per kernel view it receives and publishes it
// with the snapshot it joined, so every view looks sockets up the same way
// without scanning the table.
type KernelIndex struct {
	// View is the kernel view indexed; never nil in a published index.
	View *KernelView
	// byEnds maps (local, remote) to an index into View.Sockets; the host
	// namespace wins over others (it comes first in View.Sockets).
	byEnds map[endsKey]int
}

// endsKey is a socket's (local, remote) endpoints as a map key: plain
// bytes, hashed and compared as memory (a netip.AddrPort carries its zone
// as a handle, a slower key). IPv4 addresses take their mapped IPv6 form,
// so a mapped and an unmapped spelling are the same key.
type endsKey struct {
	l, r   [16]byte
	lp, rp uint16
}

// endsOf returns the key of (local, remote).
func endsOf(local, remote netip.AddrPort) endsKey {
	return endsKey{l: local.Addr().As16(), r: remote.Addr().As16(), lp: local.Port(), rp: remote.Port()}
}

// NewKernelIndex indexes the non-listening sockets of v.
func NewKernelIndex(v *KernelView) *KernelIndex {
	x := &KernelIndex{View: v, byEnds: make(map[endsKey]int, len(v.Sockets))}
	for i := range v.Sockets {
		s := &v.Sockets[i]
		if s.State == StateListen {
			continue
		}
		k := endsOf(s.Local, s.Remote)
		if _, dup := x.byEnds[k]; !dup {
			x.byEnds[k] = i
		}
	}
	return x
}

// Lookup returns the flow's socket on this host and the side it is on:
// the socket whose local end is that side's endpoint. When both ends are
// local (loopback) the client's socket is returned.
func (x *KernelIndex) Lookup(f *Flow) (*Socket, Side, bool) {
	i, side := x.LookupIndex(f)
	if i < 0 {
		return nil, SideNone, false
	}
	return &x.View.Sockets[i], side, true
}

// LookupIndex is Lookup returning the socket's index in View.Sockets, -1
// when there is none, so a caller can tell which sockets no flow claimed.
func (x *KernelIndex) LookupIndex(f *Flow) (int, Side) {
	if x == nil {
		return -1, SideNone
	}
	a := netip.AddrPortFrom(f.A.Addr().Unmap(), f.A.Port())
	b := netip.AddrPortFrom(f.B.Addr().Unmap(), f.B.Port())
	first := SideA
	if f.Client == SideB {
		first = SideB
	}
	for _, side := range [2]Side{first, first.Other()} {
		local, remote := a, b
		if side == SideB {
			local, remote = b, a
		}
		if i, ok := x.byEnds[endsOf(local, remote)]; ok {
			return i, side
		}
	}
	return -1, SideNone
}

// LookupSide returns the index in View.Sockets of the socket whose local
// end is side s of f, or -1. Both ends of a connection between two local
// processes (loopback) are sockets of this host: Lookup finds one, and
// LookupSide(f, side.Other()) finds its peer.
func (x *KernelIndex) LookupSide(f *Flow, s Side) int {
	if x == nil || s > SideB {
		return -1
	}
	local, remote := f.Endpoint(s), f.Endpoint(s.Other())
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	if i, ok := x.byEnds[endsOf(local, remote)]; ok {
		return i
	}
	return -1
}

// Process returns the process owning a socket, nil when unknown.
func (x *KernelIndex) Process(s *Socket) *Process {
	if x == nil || s == nil || s.Owner != OwnerKnown {
		return nil
	}
	return x.View.Process(s.PID)
}
