//go:build linux

package capture

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestLive_NewInterface_IsPickedUp(t *testing.T) {
	b := newLab(t)
	nsX, nsY := b.netns("x"), b.netns("y")
	events := make(chan LiveEvent, 16)
	live := openLive(t, b, nsX, LiveOptions{Filter: "tcp", RescanEvery: 20 * time.Millisecond, OnEvent: func(e LiveEvent) {
		select {
		case events <- e:
		default:
		}
	}}, 8199)
	if ifs := live.l.Interfaces(); len(ifs) != 1 || ifs[0].Name != "lo" {
		t.Fatalf("got interfaces %+v, want lo alone at first", ifs)
	}
	b.veth(nsX, "x0", "10.79.0.1/24", nsY, "y0", "10.79.0.2/24")
	wait := func(kind LiveEventKind, iface string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case e := <-events:
				if e.Kind == kind && e.Iface == iface {
					return
				}
				if e.Kind != EventIfaceAdded {
					t.Logf("event: %v", e)
				}
			case <-timeout:
				t.Fatalf("no %v event for %s", kind, iface)
			}
		}
	}
	wait(EventIfaceAdded, "x0")
	traffic(t, b, nsX, nsY, netip.MustParseAddr("10.79.0.2"), 8100)
	idx := -1
	for i, x := range live.l.Interfaces() {
		if x.Name == "x0" && x.Active {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatalf("x0 not listed as active: %+v", live.l.Interfaces())
	}
	got := live.finish(t, 1)
	var onX0 int
	for _, s := range got {
		if int(s.Iface) == idx {
			onX0++
		}
	}
	if onX0 == 0 {
		t.Errorf("got no segment on x0 (interface %d) among %d", idx, len(got))
	}
}

func TestLive_InterfaceRemoved_IsReported(t *testing.T) {
	b := newLab(t)
	nsX, nsY := b.netns("x"), b.netns("y")
	b.veth(nsX, "x0", "10.80.0.1/24", nsY, "y0", "10.80.0.2/24")
	events := make(chan LiveEvent, 16)
	live := openLive(t, b, nsX, LiveOptions{Interfaces: []string{"x0"}, RescanEvery: -1, OnEvent: func(e LiveEvent) { events <- e }}, 1)
	b.ip(nsX, "link", "del", "x0")
	select {
	case e := <-events:
		if e.Kind != EventIfaceLost || e.Iface != "x0" || !errors.Is(e.Err, errIfaceGone) {
			t.Errorf("got event %v, want x0 lost because it went away", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event after the interface was removed")
	}
	if ifs := live.l.Interfaces(); len(ifs) != 1 || ifs[0].Active || ifs[0].Err == "" {
		t.Errorf("got interfaces %+v, want x0 inactive with a reason", ifs)
	}
}

// TestOpenLive_InterfaceNamesWithControlBytes_AreQuoted names a missing
// interface with an escape sequence, in a namespace holding a veth named
// with one: the error lists both, quoted.
func TestOpenLive_InterfaceNamesWithControlBytes_AreQuoted(t *testing.T) {
	b := newLab(t)
	ns, peer := b.netns("names"), b.netns("peer")
	evil := "e\x1b[2J\x07"
	b.veth(ns, evil, "10.82.0.1/24", peer, "p0", "10.82.0.2/24")
	var err error
	b.in(ns, func() { _, err = OpenLive(LiveOptions{Interfaces: []string{"n\x1b]0;t\x07"}}) })
	if !errors.Is(err, ErrNoInterface) {
		t.Fatalf("got %v, want ErrNoInterface", err)
	}
	msg := err.Error()
	for _, r := range msg {
		if r < 0x20 || r == 0x7f {
			t.Fatalf("got %q, holding %U", msg, r)
		}
	}
	if !strings.Contains(msg, `"n\x1b]0;t\a"`) || !strings.Contains(msg, `"e\x1b[2J\a"`) {
		t.Errorf("got %q, want both names quoted", msg)
	}
}

// ifaceEvents collects a Live's events for waitEvent.
type ifaceEvents chan LiveEvent

func (ev ifaceEvents) on(e LiveEvent) {
	select {
	case ev <- e:
	default:
	}
}

// waitEvent waits for an event of kind on iface, returning when it came.
func (ev ifaceEvents) wait(t *testing.T, kind LiveEventKind, iface string) time.Time {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.Kind == kind && e.Iface == iface {
				return time.Now()
			}
			t.Logf("event: %v", e)
		case <-timeout:
			t.Fatalf("no %v event for %s", kind, iface)
		}
	}
}

// waitIface waits until interface name of l satisfies ok.
func waitIface(t *testing.T, l *Live, name string, ok func(LiveInterface) bool) LiveInterface {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, i := range l.Interfaces() {
			if i.Name == name && ok(i) {
				return i
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached the state wanted: %+v", name, l.Interfaces())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// knock connects from namespace ns to a closed port at to: a SYN and the
// RST that refuses it.
func knock(b *lab, ns string, to netip.AddrPort) {
	b.in(ns, func() {
		if c, err := net.DialTimeout("tcp", to.String(), time.Second); err == nil {
			c.Close()
		}
	})
}

// waitSegmentsOn waits for n segments captured on interface index idx.
func (r *liveRun) waitSegmentsOn(t *testing.T, idx, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		got := 0
		for _, s := range r.segs {
			if int(s.Iface) == idx {
				got++
			}
		}
		r.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d segments on interface %d, want %d", got, idx, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLive_NamedInterfaceDown_IsReportedAndCapturedWhenUp opens a capture
// on a veth that is down: OpenLive succeeds and lists it as down, and the
// capture starts when it comes up. Set down again, it is lost, found
// down, and captured again when up, the gap counted. The periodic rescan
// is an hour away: the kernel's link notifications do it all.
func TestLive_NamedInterfaceDown_IsReportedAndCapturedWhenUp(t *testing.T) {
	b := newLab(t)
	nsX, nsY := b.netns("x"), b.netns("y")
	b.veth(nsX, "x0", "10.85.0.1/24", nsY, "y0", "10.85.0.2/24")
	b.ip(nsX, "link", "set", "x0", "down")
	ev := make(ifaceEvents, 64)
	live := openLive(t, b, nsX, LiveOptions{Interfaces: []string{"x0"}, RescanEvery: time.Hour, OnEvent: ev.on})
	ifs := live.l.Interfaces()
	if len(ifs) != 1 || ifs[0].Name != "x0" || ifs[0].State != IfaceDown || ifs[0].Active || !strings.Contains(ifs[0].Err, "down") {
		t.Fatalf("got interfaces %+v, want x0 down, with the reason", ifs)
	}
	if st := live.l.Stats(); st.IfaceLosses != 0 {
		t.Errorf("got %d losses for an interface down from the start, want 0", st.IfaceLosses)
	}

	b.ip(nsX, "link", "set", "x0", "up")
	ev.wait(t, EventIfaceAdded, "x0")
	waitIface(t, live.l, "x0", func(i LiveInterface) bool { return i.State == IfaceCapturing && i.Active && i.Err == "" })
	dst := netip.MustParseAddrPort("10.85.0.1:9")
	knock(b, nsY, dst)
	live.waitSegmentsOn(t, 0, 2) // SYN, RST

	tDown := time.Now()
	b.ip(nsX, "link", "set", "x0", "down")
	ev.wait(t, EventIfaceLost, "x0")
	waitIface(t, live.l, "x0", func(i LiveInterface) bool { return i.State == IfaceDown && i.Losses == 1 })
	b.ip(nsX, "link", "set", "x0", "up")
	tAdded := ev.wait(t, EventIfaceAdded, "x0")
	knock(b, nsY, dst)
	live.waitSegmentsOn(t, 0, 4)

	st := live.l.Stats()
	away := tAdded.Sub(tDown)
	if st.IfaceLosses != 1 || st.IfaceLostNS <= 0 || st.IfaceLostNS >= int64(away) {
		t.Errorf("got %d losses and %v lost, want 1 loss and a gap shorter than the %v between down and capturing again (it was seen down in between)",
			st.IfaceLosses, time.Duration(st.IfaceLostNS), away)
	}
	t.Logf("down to captured again: %v; counted as lost: %v", away, time.Duration(st.IfaceLostNS))
}

// TestLive_InterfaceGoneAndBack_CountsTheGap deletes the veth a capture
// reads and creates it again: the loss is counted, with at most the time
// between the last rescan that found it gone and the new start, and the
// capture goes on on the new interface. With the default rescan period
// (2 s), the link notifications keep that gap short.
func TestLive_InterfaceGoneAndBack_CountsTheGap(t *testing.T) {
	b := newLab(t)
	nsX, nsY := b.netns("x"), b.netns("y")
	b.veth(nsX, "x0", "10.84.0.1/24", nsY, "y0", "10.84.0.2/24")
	ev := make(ifaceEvents, 64)
	live := openLive(t, b, nsX, LiveOptions{Interfaces: []string{"x0"}, OnEvent: ev.on})
	dst := netip.MustParseAddrPort("10.84.0.1:9")
	knock(b, nsY, dst)
	live.waitSegmentsOn(t, 0, 2)

	tDel := time.Now()
	b.ip(nsY, "link", "del", "y0") // takes x0 with it
	ev.wait(t, EventIfaceLost, "x0")
	waitIface(t, live.l, "x0", func(i LiveInterface) bool { return i.State == IfaceLost && strings.Contains(i.Err, "removed") })
	if st := live.l.Stats(); st.IfaceLosses != 1 || st.IfaceLostNS != 0 {
		t.Errorf("while away: got %d losses, %v lost; want 1 loss, no gap counted yet", st.IfaceLosses, time.Duration(st.IfaceLostNS))
	}
	tBack := time.Now()
	b.veth(nsX, "x0", "10.84.0.1/24", nsY, "y0", "10.84.0.2/24")
	tAdded := ev.wait(t, EventIfaceAdded, "x0")
	knock(b, nsY, dst)
	live.waitSegmentsOn(t, 0, 4)

	st := live.l.Stats()
	if st.IfaceLosses != 1 || st.IfaceLostNS <= 0 || st.IfaceLostNS >= int64(tAdded.Sub(tDel)) {
		t.Errorf("got %d losses and %v lost, want 1 loss and a gap shorter than the %v it was away",
			st.IfaceLosses, time.Duration(st.IfaceLostNS), tAdded.Sub(tDel))
	}
	if gap := tAdded.Sub(tBack); gap > time.Second {
		t.Errorf("captured again %v after it came back, want well within the 2 s rescan period", gap)
	}
	ifs := live.l.Interfaces()
	if len(ifs) != 1 || ifs[0].Losses != 1 || ifs[0].LostNS != st.IfaceLostNS || ifs[0].State != IfaceCapturing {
		t.Errorf("got interfaces %+v, want x0 capturing with the loss", ifs)
	}
	t.Logf("gone to captured again: %v (back after %v, captured %v after that); counted as lost: %v",
		tAdded.Sub(tDel), tBack.Sub(tDel), tAdded.Sub(tBack), time.Duration(st.IfaceLostNS))
}
