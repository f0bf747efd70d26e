package model

import (
	"net/netip"
	"testing"
)

func kev(kind KernelEventKind, t int64, local, remote string) KernelEvent {
	return KernelEvent{Kind: kind, Time: t, Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote)}
}

func TestKernelEvents_HistoryOwnerAndResets(t *testing.T) {
	k := NewKernelEvents(KernelEventsConfig{})
	conn := kev(KernelStateChange, 1e9, "127.0.0.1:40000", "127.0.0.1:80")
	conn.OldState, conn.NewState, conn.RawOld, conn.RawNew = StateClosed, StateSynSent, LinuxTCPClose, LinuxTCPSynSent
	conn.PID, conn.Comm, conn.InProcess = 42, "curl", true
	k.Add(&conn)
	soft := kev(KernelStateChange, 2e9, "127.0.0.1:40000", "127.0.0.1:80")
	soft.OldState, soft.NewState, soft.RawOld, soft.RawNew = StateSynSent, StateEstablished, LinuxTCPSynSent, LinuxTCPEstablished
	soft.PID, soft.Comm = 99, "other" // softirq: names no owner
	k.Add(&soft)
	rst := kev(KernelResetSent, 3e9, "127.0.0.1:40000", "127.0.0.1:80")
	rst.Reason = "TCP_ABORT_ON_CLOSE"
	k.Add(&rst)
	h := k.Lookup(netip.MustParseAddrPort("[::ffff:127.0.0.1]:40000"), netip.MustParseAddrPort("127.0.0.1:80"))
	if h == nil || h.Owner.PID != 42 || h.Owner.Name != "curl" || len(h.States) != 2 {
		t.Fatalf("history: got %+v, want owner curl/42 and two states", h)
	}
	if r, ok := h.ResetSent(3e9+10e6, 50e6); !ok || r.Reason != "TCP_ABORT_ON_CLOSE" {
		t.Errorf("ResetSent near the RST: got %+v, %v", r, ok)
	}
	if _, ok := h.ResetSent(4e9, 50e6); ok {
		t.Error("ResetSent 1 s away: got a match")
	}
	// A shared history never changes: the store copies it first.
	shared := k.Share(netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:80"))
	more := kev(KernelRetransmit, 5e9, "127.0.0.1:40000", "127.0.0.1:80")
	k.Add(&more)
	if shared.Retransmits != 0 || k.Lookup(shared.Local, shared.Remote).Retransmits != 1 {
		t.Errorf("after a change: shared history %d retransmits, store %d; want 0 and 1", shared.Retransmits, k.Lookup(shared.Local, shared.Remote).Retransmits)
	}
	if !k.IsLocal(netip.MustParseAddr("127.0.0.1")) || k.IsLocal(netip.MustParseAddr("10.0.0.1")) {
		t.Error("IsLocal: wrong answer")
	}
}

func TestKernelEvents_BoundedAndCovering(t *testing.T) {
	k := NewKernelEvents(KernelEventsConfig{MaxSockets: 100})
	for i := range 1000 {
		e := kev(KernelStateChange, int64(i+1)*1e6, "10.0.0.1:1", "10.0.0.2:2")
		e.Local = netip.AddrPortFrom(e.Local.Addr(), uint16(1000+i))
		k.Add(&e)
	}
	if k.Len() > 100 || k.Evicted < 900 {
		t.Errorf("after 1000 sockets at a cap of 100: got %d held, %d evicted", k.Len(), k.Evicted)
	}
	if !k.Covers(900e6) || k.Covers(0) || k.Covers(2e9) {
		t.Error("Covers: tracing covers what it saw, not before its start nor after its last event")
	}
	k.NoteLost(5, 900e6)
	if k.Covers(900e6) {
		t.Error("Covers: a loss around the time proves nothing")
	}
	// The same events as a file recorded them: only some of what the
	// kernel did, so no time is covered.
	p := NewKernelEvents(KernelEventsConfig{})
	p.Partial = true
	for i := range 1000 {
		e := kev(KernelResetSent, int64(i+1)*1e6, "10.0.0.1:1", "10.0.0.2:2")
		p.Add(&e)
	}
	if p.Covers(900e6) {
		t.Error("Covers: a partial store proves nothing by an event's absence")
	}
}

func BenchmarkKernelEventsAdd(b *testing.B) {
	k := NewKernelEvents(KernelEventsConfig{})
	evs := make([]KernelEvent, 4096)
	for i := range evs {
		evs[i] = kev(KernelStateChange, int64(i)*1e3, "127.0.0.1:1", "127.0.0.1:80")
		evs[i].Local = netip.AddrPortFrom(evs[i].Local.Addr(), uint16(10000+i/8))
		evs[i].OldState, evs[i].NewState = StateEstablished, StateFinWait1
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e := &evs[i%len(evs)]
		e.Time += 1e9
		k.Add(e)
		i++
	}
}
