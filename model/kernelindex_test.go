package model

import (
	"net/netip"
	"testing"
)

func TestKernelIndex_Lookup(t *testing.T) {
	ap := netip.MustParseAddrPort
	v := &KernelView{Sockets: []Socket{
		{Local: ap("0.0.0.0:80"), State: StateListen},
		{Local: ap("127.0.0.1:5000"), Remote: ap("127.0.0.1:80"), State: StateEstablished},
		{Local: ap("127.0.0.1:80"), Remote: ap("127.0.0.1:5000"), State: StateEstablished},
		{Local: ap("10.0.0.2:80"), Remote: ap("10.0.0.9:4000"), State: StateTimeWait, Owner: OwnerKernel},
	}}
	x := NewKernelIndex(v)
	tests := []struct {
		name     string
		f        Flow
		wantSide Side
		wantOK   bool
	}{
		{"loopback: the client's socket", Flow{A: ap("127.0.0.1:80"), B: ap("127.0.0.1:5000"), Client: SideB}, SideB, true},
		{"server end here", Flow{A: ap("10.0.0.9:4000"), B: ap("10.0.0.2:80"), Client: SideA}, SideB, true},
		{"v4-mapped addresses", Flow{A: ap("[::ffff:10.0.0.9]:4000"), B: ap("[::ffff:10.0.0.2]:80")}, SideB, true},
		{"no socket", Flow{A: ap("10.0.0.5:1"), B: ap("10.0.0.6:2")}, SideNone, false},
	}
	for _, tc := range tests {
		s, side, ok := x.Lookup(&tc.f)
		if side != tc.wantSide || ok != tc.wantOK || (ok && s == nil) {
			t.Errorf("%s: got side %v ok %v, want side %v ok %v", tc.name, side, ok, tc.wantSide, tc.wantOK)
		}
	}
	var nilIndex *KernelIndex
	if _, _, ok := nilIndex.Lookup(&tests[0].f); ok {
		t.Errorf("nil index: got a socket, want none")
	}
	if p := x.Process(&v.Sockets[3]); p != nil {
		t.Errorf("Process of a TIME-WAIT socket: got %+v, want nil", p)
	}
	// Both ends of the loopback connection are sockets here: each side
	// finds its own.
	lo := tests[0].f
	if got := x.LookupSide(&lo, SideB); got != 1 {
		t.Errorf("LookupSide(client): got socket %d, want 1", got)
	}
	if got := x.LookupSide(&lo, SideA); got != 2 {
		t.Errorf("LookupSide(server): got socket %d, want 2", got)
	}
	if got := x.LookupSide(&tests[3].f, SideA); got != -1 {
		t.Errorf("LookupSide(no socket): got %d, want -1", got)
	}
}
